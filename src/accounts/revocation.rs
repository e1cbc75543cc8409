//! Revocations: rights taken away while tokens that carry them are still unexpired — a logout
//! (the login's session, the `sid` of its access tokens), a role change, a disabled account, a
//! lost entitlement (a refund).
//!
//! Each is appended to the `revocations` log in the same transaction as the change it follows
//! ([`record`]), so no path can change access without logging it. Every node follows the log
//! through a [`Feed`] (the database today, polled by id a few times a second; a Redis transport
//! can replace it) into its [`Revocations`]: an in-memory view that HTTP authentication checks
//! on every request at no database cost, and that tells the node's open WebSockets of the user
//! at once ([`Revocations::listen`]). The node where a change happened wakes its own follower
//! right after the commit ([`Revocations::nudge`]), so it does not wait for the next poll.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use tokio::sync::Notify;

use super::domain::Role;
use super::tokens::Claims;
use crate::db::schema::{disabled_accounts, refresh_tokens, revocations};
use crate::db::{self, Db, DbConnection, DbError};

/// How often a node reads the log for revocations recorded elsewhere.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long an id skipped in the log is looked for again: on PostgreSQL a transaction that took
/// a lower id can commit after one with a higher id was read.
const GAP_WAIT: Duration = Duration::from_secs(10);
/// Most log rows read per poll, and most gaps remembered.
const BATCH: i64 = 500;

/// One change of access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// A login's session ended (logout, or refresh-token reuse): its access tokens stop working.
    Session {
        /// Whose session.
        user: String,
        /// The session id (refresh-token family) its access tokens carry as `sid`.
        sid: String,
    },
    /// The user's role changed: tokens carrying another role stop working.
    Role {
        /// Whose role.
        user: String,
        /// The new role.
        role: Role,
    },
    /// An administrator disabled the account: nothing of it works any more.
    Disabled {
        /// The account.
        user: String,
    },
    /// An administrator enabled the account again (new logins work; old sessions stay ended).
    Enabled {
        /// The account.
        user: String,
    },
    /// The user lost access to a course (refund): its rooms check their members again.
    Entitlement {
        /// Whose entitlement.
        user: String,
        /// The course.
        course: String,
    },
}

impl Revocation {
    /// The user it concerns.
    pub fn user(&self) -> &str {
        match self {
            Self::Session { user, .. }
            | Self::Role { user, .. }
            | Self::Disabled { user }
            | Self::Enabled { user }
            | Self::Entitlement { user, .. } => user,
        }
    }

    /// (kind, subject) as stored.
    fn columns(&self) -> (&'static str, &str) {
        match self {
            Self::Session { sid, .. } => ("session", sid),
            Self::Role { role, .. } => ("role", role.as_str()),
            Self::Disabled { .. } => ("disabled", ""),
            Self::Enabled { .. } => ("enabled", ""),
            Self::Entitlement { course, .. } => ("entitlement", course),
        }
    }

    /// Reads a stored row back; `None` for a row this version does not understand.
    fn from_columns(kind: &str, user: String, subject: String) -> Option<Self> {
        Some(match kind {
            "session" => Self::Session { user, sid: subject },
            "role" => Self::Role {
                user,
                role: subject.parse().ok()?,
            },
            "disabled" => Self::Disabled { user },
            "enabled" => Self::Enabled { user },
            "entitlement" => Self::Entitlement {
                user,
                course: subject,
            },
            _ => return None,
        })
    }
}

/// Why a token that verifies no longer grants access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Its session was signed out.
    SessionEnded,
    /// The user's role is no longer the token's.
    RoleChanged,
    /// The account is disabled.
    Disabled,
}

impl Denial {
    /// For the 401 or the close frame.
    pub fn message(self) -> &'static str {
        match self {
            Self::SessionEnded => "this session was signed out; sign in again",
            Self::RoleChanged => "your role changed; refresh your access token",
            Self::Disabled => "this account is disabled",
        }
    }
}

/// Appends `r` to the log; call it inside the transaction that makes the change.
pub fn record(conn: &mut DbConnection, r: &Revocation) -> QueryResult<()> {
    let (kind, subject) = r.columns();
    diesel::insert_into(revocations::table)
        .values((
            revocations::kind.eq(kind),
            revocations::user_id.eq(r.user()),
            revocations::subject.eq(subject),
            revocations::created_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// True when an administrator disabled `user_id`.
pub fn is_disabled(conn: &mut DbConnection, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        disabled_accounts::table.filter(disabled_accounts::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// The accounts among `ids` that an administrator disabled (for the admins' user list).
pub fn disabled_among(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let rows: Vec<String> = disabled_accounts::table
        .filter(disabled_accounts::user_id.eq_any(ids))
        .select(disabled_accounts::user_id)
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Disables `user_id` (by administrator `by`) and ends all its sessions; false when it was
/// disabled already. Logged, so every node closes its sockets and refuses its tokens. Runs in
/// the caller's write transaction, which decides whether the account may be disabled.
pub fn disable(conn: &mut DbConnection, by: &str, user_id: &str) -> QueryResult<bool> {
    {
        let now = db::now();
        let inserted = crate::insert_or_ignore!(
            conn,
            disabled_accounts::table,
            (
                disabled_accounts::user_id.eq(user_id),
                disabled_accounts::disabled_by.eq(by),
                disabled_accounts::disabled_at.eq(now),
            )
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_id.eq(user_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
        record(
            conn,
            &Revocation::Disabled {
                user: user_id.to_owned(),
            },
        )?;
        Ok(true)
    }
}

/// Enables `user_id` again; false when it was not disabled. Runs in the caller's write
/// transaction.
pub fn enable(conn: &mut DbConnection, user_id: &str) -> QueryResult<bool> {
    {
        let deleted =
            diesel::delete(disabled_accounts::table.filter(disabled_accounts::user_id.eq(user_id)))
                .execute(conn)?;
        if deleted == 0 {
            return Ok(false);
        }
        record(
            conn,
            &Revocation::Enabled {
                user: user_id.to_owned(),
            },
        )?;
        Ok(true)
    }
}

/// Called with each revocation of the user it listens for.
pub type Listener = Box<dyn Fn(&Revocation) + Send + Sync>;

/// What this node knows of revocations that still matter.
#[derive(Default)]
struct State {
    /// Ended sessions, with when they were learnt.
    sessions: HashMap<String, Instant>,
    /// Users whose role changed, with the new role and when it was learnt.
    roles: HashMap<String, (Role, Instant)>,
    /// Disabled accounts.
    disabled: HashSet<String>,
}

/// This node's view of the revocation log, and who to tell.
pub struct Revocations {
    state: RwLock<State>,
    listeners: Mutex<HashMap<String, HashMap<u64, Listener>>>,
    wake: Notify,
    /// How long an ended session or role change matters: until every access token issued
    /// before it has expired.
    keep: Duration,
}

impl Revocations {
    /// An empty view; session and role entries are kept for `keep` (the access-token lifetime
    /// plus its leeway).
    pub fn new(keep: Duration) -> Self {
        Self {
            state: RwLock::default(),
            listeners: Mutex::default(),
            wake: Notify::new(),
            keep,
        }
    }

    /// Whether a verified token still grants access.
    pub fn check(&self, claims: &Claims) -> Result<(), Denial> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        if state.disabled.contains(&claims.sub) {
            return Err(Denial::Disabled);
        }
        if !claims.sid.is_empty() && state.sessions.contains_key(&claims.sid) {
            return Err(Denial::SessionEnded);
        }
        match state.roles.get(&claims.sub) {
            Some((role, _)) if *role != claims.role => Err(Denial::RoleChanged),
            _ => Ok(()),
        }
    }

    /// Calls `listener` with every revocation of `user` from now on, until [`Self::unlisten`]
    /// with the same `id`. Listen before checking, so nothing falls between the two.
    pub fn listen(&self, user: &str, id: u64, listener: Listener) {
        let mut all = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(user.to_owned()).or_default().insert(id, listener);
    }

    /// Stops telling listener `id` of `user`.
    pub fn unlisten(&self, user: &str, id: u64) {
        let mut all = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mine) = all.get_mut(user) {
            mine.remove(&id);
            if mine.is_empty() {
                all.remove(user);
            }
        }
    }

    /// Reads the log now rather than at the next poll: call it after committing a revocation.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Takes `r` into the view and tells the user's listeners.
    pub fn apply(&self, r: &Revocation) {
        let now = Instant::now();
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            let keep = self.keep;
            state
                .sessions
                .retain(|_, at| now.duration_since(*at) < keep);
            state
                .roles
                .retain(|_, (_, at)| now.duration_since(*at) < keep);
            match r {
                Revocation::Session { sid, .. } => {
                    state.sessions.insert(sid.clone(), now);
                }
                Revocation::Role { user, role } => {
                    state.roles.insert(user.clone(), (*role, now));
                }
                Revocation::Disabled { user } => {
                    state.disabled.insert(user.clone());
                }
                Revocation::Enabled { user } => {
                    state.disabled.remove(user);
                }
                Revocation::Entitlement { .. } => {}
            }
        }
        let all = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        for listener in all.get(r.user()).into_iter().flat_map(|m| m.values()) {
            listener(r);
        }
    }
}

/// A boxed future, for object-safe feeds.
pub type FeedFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + 'a>>;

/// Where a node learns the revocations recorded on any node.
pub trait Feed {
    /// What is still in force when the node starts: every disabled account, and the sessions
    /// and role changes of the last `keep`.
    fn start(&mut self, keep: Duration) -> FeedFuture<'_, Vec<Revocation>>;

    /// The revocations recorded since the last call, oldest first.
    fn fetch(&mut self) -> FeedFuture<'_, Vec<Revocation>>;
}

/// The `revocations` table, read by id: rows after the last one seen, plus ids that were
/// skipped (a transaction still open when a later id was read) until they show up or
/// [`GAP_WAIT`] passes.
pub struct DbFeed {
    db: Db,
    cursor: i64,
    gaps: Vec<(i64, Instant)>,
}

type LogRow = (i64, String, String, String);

impl DbFeed {
    /// A feed over `db`'s log.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cursor: 0,
            gaps: Vec::new(),
        }
    }

    /// Moves the cursor over `rows` (ordered by id), noting skipped ids.
    fn advance(&mut self, rows: Vec<LogRow>) -> Vec<Revocation> {
        let now = Instant::now();
        let mut out = Vec::with_capacity(rows.len());
        for (id, kind, user, subject) in rows {
            if id > self.cursor {
                let skipped = (self.cursor + 1).max(id - BATCH)..id;
                if self.cursor > 0 {
                    self.gaps.extend(skipped.map(|g| (g, now)));
                }
                self.cursor = id;
            } else {
                self.gaps.retain(|(g, _)| *g != id);
            }
            out.extend(Revocation::from_columns(&kind, user, subject));
        }
        self.gaps
            .retain(|(_, at)| now.duration_since(*at) < GAP_WAIT);
        let excess = self.gaps.len().saturating_sub(BATCH as usize);
        self.gaps.drain(..excess);
        out
    }
}

impl Feed for DbFeed {
    fn start(&mut self, keep: Duration) -> FeedFuture<'_, Vec<Revocation>> {
        Box::pin(async move {
            let since = db::now() - chrono::Duration::from_std(keep).unwrap_or_default();
            let (disabled, recent, last) = self
                .db
                .run(move |c| {
                    let disabled: Vec<String> = disabled_accounts::table
                        .select(disabled_accounts::user_id)
                        .load(c)?;
                    let recent: Vec<LogRow> = revocations::table
                        .filter(revocations::created_at.ge(since))
                        .filter(revocations::kind.eq_any(["session", "role"]))
                        .order(revocations::id)
                        .select(log_columns())
                        .load(c)?;
                    let last: Option<i64> = revocations::table
                        .select(diesel::dsl::max(revocations::id))
                        .first(c)?;
                    Ok::<_, DbError>((disabled, recent, last))
                })
                .await?;
            self.cursor = last.unwrap_or(0);
            let mut all: Vec<Revocation> = disabled
                .into_iter()
                .map(|user| Revocation::Disabled { user })
                .collect();
            all.extend(
                recent
                    .into_iter()
                    .filter_map(|(_, k, u, s)| Revocation::from_columns(&k, u, s)),
            );
            Ok(all)
        })
    }

    fn fetch(&mut self) -> FeedFuture<'_, Vec<Revocation>> {
        Box::pin(async move {
            let (after, gaps): (i64, Vec<i64>) =
                (self.cursor, self.gaps.iter().map(|(g, _)| *g).collect());
            let rows = self
                .db
                .run(move |c| {
                    revocations::table
                        .filter(revocations::id.gt(after).or(revocations::id.eq_any(gaps)))
                        .order(revocations::id)
                        .limit(BATCH)
                        .select(log_columns())
                        .load::<LogRow>(c)
                        .map_err(DbError::from)
                })
                .await?;
            Ok(self.advance(rows))
        })
    }
}

#[allow(clippy::type_complexity)]
fn log_columns() -> (
    revocations::id,
    revocations::kind,
    revocations::user_id,
    revocations::subject,
) {
    (
        revocations::id,
        revocations::kind,
        revocations::user_id,
        revocations::subject,
    )
}

/// Loads what is in force, then follows `feed` into `view` for as long as the process runs:
/// every [`POLL_EVERY`], or at once when nudged.
pub async fn follow(view: std::sync::Arc<Revocations>, mut feed: impl Feed) {
    loop {
        match feed.start(view.keep).await {
            Ok(initial) => {
                initial.iter().for_each(|r| view.apply(r));
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot load revocations; retrying");
                tokio::time::sleep(POLL_EVERY * 4).await;
            }
        }
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL_EVERY) => {}
            () = view.wake.notified() => {}
        }
        match feed.fetch().await {
            Ok(batch) => batch.iter().for_each(|r| view.apply(r)),
            Err(e) => tracing::warn!(error = %e, "cannot read revocations"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn claims(user: &str, role: Role, sid: &str) -> Claims {
        Claims {
            sub: user.into(),
            role,
            sid: sid.into(),
            iat: 0,
            exp: 0,
            iss: "lyceum".into(),
        }
    }

    #[test]
    fn each_kind_denies_what_it_revokes() {
        let view = Revocations::new(Duration::from_secs(60));
        let admin = claims("u1", Role::Admin, "s1");
        assert_eq!(view.check(&admin), Ok(()));
        view.apply(&Revocation::Role {
            user: "u1".into(),
            role: Role::Learner,
        });
        assert_eq!(view.check(&admin), Err(Denial::RoleChanged));
        assert_eq!(view.check(&claims("u1", Role::Learner, "s1")), Ok(()));
        view.apply(&Revocation::Session {
            user: "u1".into(),
            sid: "s1".into(),
        });
        assert_eq!(
            view.check(&claims("u1", Role::Learner, "s1")),
            Err(Denial::SessionEnded)
        );
        assert_eq!(view.check(&claims("u1", Role::Learner, "s2")), Ok(()));
        view.apply(&Revocation::Disabled { user: "u1".into() });
        assert_eq!(
            view.check(&claims("u1", Role::Learner, "s2")),
            Err(Denial::Disabled)
        );
        view.apply(&Revocation::Enabled { user: "u1".into() });
        assert_eq!(view.check(&claims("u1", Role::Learner, "s2")), Ok(()));
        assert_eq!(view.check(&claims("u2", Role::Admin, "s9")), Ok(()));
    }

    #[test]
    fn old_entries_are_forgotten_once_their_tokens_expired() {
        let view = Revocations::new(Duration::ZERO);
        view.apply(&Revocation::Session {
            user: "u1".into(),
            sid: "s1".into(),
        });
        view.apply(&Revocation::Entitlement {
            user: "u2".into(),
            course: "c".into(),
        });
        assert_eq!(view.check(&claims("u1", Role::Learner, "s1")), Ok(()));
    }

    #[test]
    fn listeners_hear_only_their_user_until_they_stop() {
        let view = Revocations::new(Duration::from_secs(60));
        let heard = Arc::new(AtomicUsize::new(0));
        let h = heard.clone();
        view.listen(
            "u1",
            7,
            Box::new(move |_| {
                h.fetch_add(1, Ordering::Relaxed);
            }),
        );
        view.apply(&Revocation::Disabled { user: "u2".into() });
        view.apply(&Revocation::Disabled { user: "u1".into() });
        view.unlisten("u1", 7);
        view.apply(&Revocation::Enabled { user: "u1".into() });
        assert_eq!(heard.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn stored_rows_read_back() {
        for r in [
            Revocation::Session {
                user: "u".into(),
                sid: "s".into(),
            },
            Revocation::Role {
                user: "u".into(),
                role: Role::Instructor,
            },
            Revocation::Disabled { user: "u".into() },
            Revocation::Enabled { user: "u".into() },
            Revocation::Entitlement {
                user: "u".into(),
                course: "c".into(),
            },
        ] {
            let (kind, subject) = r.columns();
            let back = Revocation::from_columns(kind, "u".into(), subject.to_owned());
            assert_eq!(back.as_ref(), Some(&r));
        }
        assert_eq!(
            Revocation::from_columns("nope", "u".into(), "".into()),
            None
        );
    }
}
