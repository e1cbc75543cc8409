//! Account rules as plain functions over a connection: registration, login with throttling,
//! refresh-token rotation with reuse detection, logout, and role changes. Handlers call these
//! inside [`crate::db::Db::run`]; tests call them directly. Registration and login are async
//! because they hash on [`Hasher`], outside any connection or transaction.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDateTime;

use super::domain::{DisplayName, Email, Password, Role};
use super::hashing::{HashError, Hasher};
use super::revocation::{self, Revocation};
use super::store::{self, RefreshTokenRow, UserRow};
use super::throttle::LoginThrottle;
use super::tokens::{self, TokenKeys};
use crate::db::{self, Db, DbConnection, DbError};
use crate::error::ApiError;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input broke a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// Someone already registered this email.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Wrong email or password (deliberately not saying which).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Unknown, expired, revoked or reused refresh token.
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    /// Too many failed logins; retry after this many seconds.
    #[error("too many failed logins")]
    Throttled(u64),
    /// No such user.
    #[error("user not found")]
    UserNotFound,
    /// An administrator disabled the account.
    #[error("this account is disabled")]
    Disabled,
    /// Every password hashing thread is busy; retry shortly.
    #[error("too many sign-ins at once; retry shortly")]
    HashingBusy,
    /// The change would leave the platform without an administrator.
    #[error("cannot remove the last admin")]
    LastAdmin,
    /// Admins are demoted before they are disabled.
    #[error("an admin cannot be disabled; change the role first")]
    AdminNotDisabled,
    /// A disabled account is enabled before it is made an admin.
    #[error("a disabled account cannot be made an admin; enable it first")]
    DisabledNotPromoted,
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Anything else unexpected.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashError> for AccountError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::HashingBusy,
            HashError::Failed(e) => Self::Unexpected(e),
        }
    }
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(m) => ApiError::Validation(m),
            AccountError::EmailTaken
            | AccountError::LastAdmin
            | AccountError::AdminNotDisabled
            | AccountError::DisabledNotPromoted => ApiError::Conflict(e.to_string()),
            AccountError::InvalidCredentials | AccountError::InvalidRefreshToken => {
                ApiError::Unauthorized(e.to_string())
            }
            AccountError::Throttled(secs) => ApiError::RateLimited {
                retry_after_secs: secs,
            },
            AccountError::UserNotFound => ApiError::not_found("user"),
            AccountError::Disabled => ApiError::Forbidden(e.to_string()),
            AccountError::HashingBusy => ApiError::Unavailable(e.to_string()),
            AccountError::Db(e) => e.into(),
            AccountError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// A user as the rest of the program sees it.
#[derive(Debug, Clone)]
pub struct User {
    /// Text id.
    pub id: String,
    /// Lower-cased email.
    pub email: String,
    /// Shown to others.
    pub display_name: String,
    /// Current role.
    pub role: Role,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = AccountError;

    fn try_from(row: UserRow) -> Result<Self, AccountError> {
        let role = row.role.parse().map_err(|e: String| {
            AccountError::Unexpected(anyhow::anyhow!("user {}: {e}", row.id))
        })?;
        Ok(Self {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            role,
            created_at: row.created_at,
        })
    }
}

/// What a successful register, login or refresh hands back.
#[derive(Debug)]
pub struct IssuedTokens {
    /// The authenticated user.
    pub user: User,
    /// Short-lived bearer token.
    pub access_token: String,
    /// Opaque token for one refresh.
    pub refresh_token: String,
}

/// Validated registration input.
#[derive(Debug)]
pub struct NewAccount {
    /// Login and contact address.
    pub email: Email,
    /// Policy-checked password.
    pub password: Password,
    /// Public name.
    pub display_name: DisplayName,
}

impl NewAccount {
    /// Parses raw fields, reporting every broken rule at once.
    pub fn parse(email: &str, password: &str, display_name: &str) -> Result<Self, AccountError> {
        let email = Email::parse(email);
        let password = Password::parse(password);
        let display_name = DisplayName::parse(display_name);
        match (email, password, display_name) {
            (Ok(email), Ok(password), Ok(display_name)) => Ok(Self {
                email,
                password,
                display_name,
            }),
            (e, p, d) => {
                let problems: Vec<String> =
                    [e.err(), p.err(), d.err()].into_iter().flatten().collect();
                Err(AccountError::Invalid(problems.join("; ")))
            }
        }
    }
}

/// Creates an account with `role`, hashing the password first (on this thread: for the CLI,
/// the seed and tests; the server hashes on [`Hasher`] and calls [`insert_account`]).
pub fn create_user(
    conn: &mut DbConnection,
    new: &NewAccount,
    role: Role,
) -> Result<User, AccountError> {
    let password_hash = tokens::hash_password(&new.password)?;
    insert_account(conn, new, &password_hash, role)
}

/// Inserts an account whose password is already hashed, so callers can hash before any
/// transaction; a duplicate email changes nothing.
pub fn insert_account(
    conn: &mut DbConnection,
    new: &NewAccount,
    password_hash: &str,
    role: Role,
) -> Result<User, AccountError> {
    let (email, name) = (&new.email, &new.display_name);
    let id = uuid::Uuid::now_v7().to_string();
    insert_user(conn, id, email, name, password_hash, role, db::now())
}

/// Inserts an account nobody can sign in to with a password ([`tokens::NO_PASSWORD`]), created
/// as of `at`, with the id the caller chose: for an import of another platform's users, which
/// has no passwords to carry over, must not spend an argon2 hash on each of thousands of
/// accounts, and derives ids from the file so every run gives the same ones. A duplicate email
/// changes nothing.
pub fn insert_passwordless(
    conn: &mut DbConnection,
    id: String,
    email: &Email,
    display_name: &DisplayName,
    role: Role,
    at: NaiveDateTime,
) -> Result<User, AccountError> {
    insert_user(conn, id, email, display_name, tokens::NO_PASSWORD, role, at)
}

fn insert_user(
    conn: &mut DbConnection,
    id: String,
    email: &Email,
    display_name: &DisplayName,
    password_hash: &str,
    role: Role,
    at: NaiveDateTime,
) -> Result<User, AccountError> {
    let row = UserRow {
        id,
        email: email.as_ref().to_owned(),
        password_hash: password_hash.to_owned(),
        display_name: display_name.as_ref().to_owned(),
        role: role.as_str().to_owned(),
        created_at: at,
        updated_at: at,
    };
    match store::insert_user(conn, &row) {
        Ok(()) => User::try_from(row),
        Err(e) if db::is_unique_violation(&e) => Err(AccountError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Registers a learner and signs them in. The password is hashed on [`Hasher`] before the
/// write transaction opens: argon2 takes tens of milliseconds, and on SQLite every other
/// writer would wait for it (and time out with `database is locked`).
pub async fn register(
    db: &Db,
    hasher: &Hasher,
    keys: Arc<TokenKeys>,
    new: NewAccount,
) -> Result<IssuedTokens, AccountError> {
    let password_hash = hasher.hash(new.password.clone()).await?;
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            let user = insert_account(conn, &new, &password_hash, Role::Learner)?;
            start_session(conn, &keys, user)
        })
    })
    .await
}

/// Checks credentials, subject to throttling per account and per client address. The lookup,
/// the verification (on [`Hasher`], holding no connection) and the new session are three
/// separate steps, so no connection or transaction waits on argon2.
pub async fn login(
    db: &Db,
    hasher: &Hasher,
    keys: Arc<TokenKeys>,
    throttle: &LoginThrottle,
    email: &str,
    password: String,
    client: Option<IpAddr>,
) -> Result<IssuedTokens, AccountError> {
    let email = email.trim().to_lowercase();
    throttle
        .check(&email, client, Instant::now())
        .map_err(|wait| AccountError::Throttled(wait.as_secs().max(1)))?;
    let lookup = email.clone();
    let found = db
        .run(move |conn| store::find_user_by_email(conn, &lookup).map_err(AccountError::from))
        .await?;
    // An account without a password is verified against the decoy, like an unknown email:
    // it never matches, and takes as long as any other failed login.
    let hash = match &found {
        Some(u) if u.password_hash != tokens::NO_PASSWORD => u.password_hash.clone(),
        _ => tokens::decoy_hash().to_owned(),
    };
    let matches = hasher.verify(password, hash).await?;
    match found {
        Some(row) if matches => {
            throttle.record_success(&email, client, Instant::now());
            let user = User::try_from(row)?;
            db.run(move |conn| {
                if revocation::is_disabled(conn, &user.id)? {
                    return Err(AccountError::Disabled);
                }
                db::write_transaction(conn, |conn| start_session(conn, &keys, user))
            })
            .await
        }
        _ => {
            throttle.record_failure(&email, client, Instant::now());
            Err(AccountError::InvalidCredentials)
        }
    }
}

/// Starts a new refresh-token family for `user` and issues both tokens.
fn start_session(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    user: User,
) -> Result<IssuedTokens, AccountError> {
    let family = uuid::Uuid::now_v7().to_string();
    issue(conn, keys, user, &family)
}

fn issue(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    user: User,
    family_id: &str,
) -> Result<IssuedTokens, AccountError> {
    let now = db::now();
    let raw = tokens::new_refresh_token();
    let ttl = chrono::Duration::from_std(keys.refresh_ttl).map_err(anyhow::Error::from)?;
    store::insert_refresh_token(
        conn,
        &RefreshTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            family_id: family_id.to_owned(),
            token_hash: tokens::hash_refresh_token(&raw),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
            revoked_at: None,
        },
    )?;
    let access_token = keys.issue_access(&user.id, user.role, family_id)?;
    Ok(IssuedTokens {
        user,
        access_token,
        refresh_token: raw,
    })
}

/// What looking at a presented refresh token decided; reuse must commit its revocation even
/// though the request fails.
enum Rotation {
    Rotated(IssuedTokens),
    Refused {
        revoke_family: Option<(String, String)>,
    },
}

/// Exchanges a refresh token for a new pair. A token that was already exchanged is a sign of
/// theft: its whole family is revoked, so the thief's and the owner's sessions both end.
pub fn refresh(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    raw: &str,
) -> Result<IssuedTokens, AccountError> {
    let rotation = db::write_transaction(conn, |conn| -> Result<Rotation, AccountError> {
        let now = db::now();
        let Some(token) = store::find_refresh_token(conn, &tokens::hash_refresh_token(raw))? else {
            return Ok(Rotation::Refused {
                revoke_family: None,
            });
        };
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Ok(Rotation::Refused {
                revoke_family: None,
            });
        }
        if token.used_at.is_some() || !store::mark_used(conn, &token.id, now)? {
            return Ok(Rotation::Refused {
                revoke_family: Some((token.user_id, token.family_id)),
            });
        }
        let user =
            store::find_user(conn, &token.user_id)?.ok_or(AccountError::InvalidRefreshToken)?;
        if revocation::is_disabled(conn, &user.id)? {
            return Err(AccountError::Disabled);
        }
        Ok(Rotation::Rotated(issue(
            conn,
            keys,
            User::try_from(user)?,
            &token.family_id,
        )?))
    })?;
    match rotation {
        Rotation::Rotated(tokens) => Ok(tokens),
        Rotation::Refused { revoke_family } => {
            if let Some((user, family)) = revoke_family {
                let revoked = end_session(conn, &user, &family)?;
                tracing::warn!(family, revoked, "refresh token reused; family revoked");
            }
            Err(AccountError::InvalidRefreshToken)
        }
    }
}

/// Ends the session the refresh token belongs to by revoking its family. Logging out twice is
/// fine; an unknown token is refused.
pub fn logout(conn: &mut DbConnection, raw: &str) -> Result<(), AccountError> {
    let token = store::find_refresh_token(conn, &tokens::hash_refresh_token(raw))?
        .ok_or(AccountError::InvalidRefreshToken)?;
    end_session(conn, &token.user_id, &token.family_id)?;
    Ok(())
}

/// Revokes a refresh family and logs the end of its session, so the access tokens issued in
/// it (their `sid`) stop working on every node too. Returns how many tokens were revoked.
fn end_session(conn: &mut DbConnection, user: &str, family: &str) -> Result<usize, AccountError> {
    db::write_transaction(conn, |conn| {
        let revoked = store::revoke_family(conn, family, db::now())?;
        revocation::record(
            conn,
            &Revocation::Session {
                user: user.to_owned(),
                sid: family.to_owned(),
            },
        )?;
        Ok(revoked)
    })
}

/// The user with this id.
pub fn get_user(conn: &mut DbConnection, id: &str) -> Result<User, AccountError> {
    store::find_user(conn, id)?
        .ok_or(AccountError::UserNotFound)
        .and_then(User::try_from)
}

/// Changes a user's role; refuses to demote the last admin (the admin rows are locked while
/// counting, so two admins demoting each other at once leave one). Logged as a revocation, so
/// tokens carrying the old role stop working at once on every node.
pub fn change_role(
    conn: &mut DbConnection,
    user_id: &str,
    role: Role,
) -> Result<User, AccountError> {
    db::write_transaction(conn, |conn| {
        // Every role change and every disabling takes the admin lock first, so they run one
        // at a time and each decides on what the other committed.
        let admins = store::lock_admins(conn)?;
        let current = get_user(conn, user_id)?;
        if current.role == Role::Admin && role != Role::Admin && admins <= 1 {
            return Err(AccountError::LastAdmin);
        }
        if role == Role::Admin && revocation::is_disabled(conn, user_id)? {
            return Err(AccountError::DisabledNotPromoted);
        }
        store::set_role(conn, user_id, role.as_str(), db::now())?;
        let user = user_id.to_owned();
        revocation::record(conn, &Revocation::Role { user, role })?;
        get_user(conn, user_id)
    })
}

/// Disables (`true`) or enables an account, by administrator `by`; answers whether it is
/// disabled now. Disabling ends every session and, through the revocation log, closes the
/// account's sockets on every node. An admin must be demoted first, and a disabled account is
/// never promoted; both rules are decided under the admin lock that role changes take, so no
/// interleaving leaves a disabled admin or locks the platform out of administration.
pub fn set_disabled(
    conn: &mut DbConnection,
    by: &str,
    user_id: &str,
    disabled: bool,
) -> Result<bool, AccountError> {
    db::write_transaction(conn, |conn| {
        store::lock_admins(conn)?;
        let target = get_user(conn, user_id)?;
        if disabled {
            if target.role == Role::Admin {
                return Err(AccountError::AdminNotDisabled);
            }
            revocation::disable(conn, by, user_id)?;
        } else {
            revocation::enable(conn, user_id)?;
        }
        Ok(disabled)
    })
}

/// A page of users for administrators, each with whether it is disabled.
pub fn list_users(
    conn: &mut DbConnection,
    email_contains: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<(User, bool)>, AccountError> {
    let users = store::list_users(conn, email_contains, limit, offset)?
        .into_iter()
        .map(User::try_from)
        .collect::<Result<Vec<User>, _>>()?;
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let disabled = revocation::disabled_among(conn, &ids)?;
    Ok(users
        .into_iter()
        .map(|u| {
            let off = disabled.contains(&u.id);
            (u, off)
        })
        .collect())
}
