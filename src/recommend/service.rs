//! What each recommendation endpoint does, as plain functions over a connection and a
//! snapshot: read the caller's profile, ask the snapshot, and turn its picks into catalog
//! cards — dropping any course that is no longer published (archived since the last refit).

use std::collections::HashMap;
use std::time::Instant;

use actix::Addr;
use chrono::NaiveDateTime;

use super::actor::{CoursePublished, CourseRetired, Observed, Recommender, SnapshotCell};
use super::corpus;
use super::experts::{self, Candidate, ExpertPick};
use super::ingest::EventThrottle;
use super::profile;
use super::snapshot::{Pick, Snapshot};
use crate::accounts::AuthUser;
use crate::catalog::service::{self as catalog, CatalogError, CourseCard};
use crate::clock::SharedClock;
use crate::consultations::experts::{self as expert_profiles, ExpertCard, ExpertError};
use crate::db::DbConnection;

/// Largest `limit` a list endpoint accepts.
pub const MAX_LIMIT: usize = 50;
/// Experts considered for a learner.
const EXPERT_CANDIDATES: i64 = 1_000;

/// The recommender as request handlers reach it.
pub struct Recommendations {
    /// The current snapshot.
    pub cell: SnapshotCell,
    /// The writer.
    pub actor: Addr<Recommender>,
    /// Per-user budgets for reported events.
    pub throttle: EventThrottle,
    /// The clock decay and trending are computed by.
    pub clock: SharedClock,
}

impl Recommendations {
    /// The snapshot to answer from.
    pub fn current(&self) -> std::sync::Arc<Snapshot> {
        self.cell.load_full()
    }

    /// Now, for decay.
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    /// Tells the recommender that `events` were recorded, without waiting.
    pub fn observed(&self, events: usize) {
        self.actor.do_send(Observed { events });
    }

    /// Tells the recommender that a course was published, and waits until it is
    /// recommendable.
    pub async fn published(&self, course_id: &str) {
        let course_id = course_id.to_owned();
        self.tell(CoursePublished { course_id }).await;
    }

    /// Tells the recommender that a course was archived, and waits until it is never
    /// recommended.
    pub async fn retired(&self, course_id: &str) {
        let course_id = course_id.to_owned();
        self.tell(CourseRetired { course_id }).await;
    }

    /// Waits for a catalog change to reach the recommender; a failure is logged, not
    /// returned: the change itself is committed, and the periodic check catches up.
    async fn tell<M>(&self, change: M)
    where
        M: actix::Message<Result = ()> + Send + 'static,
        Recommender: actix::Handler<M>,
    {
        if let Err(e) = self.actor.send(change).await {
            tracing::warn!(error = %e, "the recommender did not take a catalog change");
        }
    }
}

/// Times one in-memory query for the latency histogram.
fn timed<T>(endpoint: &'static str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    metrics::histogram!("recommend_query_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    out
}

/// Pairs picks with the cards of those still published. The snapshot already leaves out
/// courses archived through this node; this also drops one archived elsewhere a moment ago.
fn with_cards(
    conn: &mut DbConnection,
    picks: Vec<Pick>,
) -> Result<Vec<(CourseCard, Pick)>, CatalogError> {
    let ids: Vec<String> = picks.iter().map(|p| p.course_id.clone()).collect();
    let mut by_id: HashMap<String, Pick> = picks
        .into_iter()
        .map(|p| (p.course_id.clone(), p))
        .collect();
    Ok(catalog::published_cards(conn, &ids)?
        .into_iter()
        .filter_map(|card| Some((by_id.remove(&card.course.id)?, card)))
        .map(|(pick, card)| (card, pick))
        .collect())
}

/// Courses for `user`.
pub fn for_user(
    conn: &mut DbConnection,
    snapshot: &Snapshot,
    user: &AuthUser,
    limit: usize,
    now: NaiveDateTime,
) -> Result<Vec<(CourseCard, Pick)>, CatalogError> {
    let profile = profile::load(conn, &user.id)?;
    let picks = timed("recommendations", || {
        snapshot.recommend(&profile, limit, now)
    });
    with_cards(conn, picks)
}

/// Courses like `course_id`, which the viewer must be allowed to see.
pub fn similar(
    conn: &mut DbConnection,
    snapshot: &Snapshot,
    viewer: Option<&AuthUser>,
    course_id: &str,
    limit: usize,
) -> Result<Vec<(CourseCard, Pick)>, CatalogError> {
    catalog::access(conn, viewer, course_id)?;
    let unindexed = if snapshot.contains(course_id) {
        None
    } else {
        corpus::any_course(conn, course_id)?
    };
    let picks = timed("similar", || {
        snapshot.similar(course_id, unindexed.as_ref(), limit)
    });
    with_cards(conn, picks)
}

/// Experts for `user`.
pub fn experts_for(
    conn: &mut DbConnection,
    snapshot: &Snapshot,
    user: &AuthUser,
    limit: usize,
    now: NaiveDateTime,
) -> Result<Vec<(ExpertCard, ExpertPick)>, ExpertError> {
    let profile = profile::load(conn, &user.id)?;
    let cards = expert_profiles::published_cards(conn, EXPERT_CANDIDATES)?;
    let ids: Vec<&str> = cards.iter().map(|c| c.profile.user_id.as_str()).collect();
    let mut taught = corpus::taught_by(conn, &ids)?;
    let candidates: Vec<Candidate> = cards
        .iter()
        .map(|card| Candidate {
            expert_id: card.profile.user_id.clone(),
            tags: card.tags.clone(),
            languages: card.languages.clone(),
            text: format!("{} {}", card.profile.headline, card.profile.bio),
            courses: taught.remove(&card.profile.user_id).unwrap_or_default(),
        })
        .collect();
    let picks = timed("experts", || {
        experts::rank(snapshot, &profile, &user.id, &candidates, limit, now)
    });
    let mut by_id: HashMap<String, ExpertCard> = cards
        .into_iter()
        .map(|c| (c.profile.user_id.clone(), c))
        .collect();
    Ok(picks
        .into_iter()
        .filter_map(|p| Some((by_id.remove(&p.expert_id)?, p)))
        .collect())
}

/// Takes a dismissal back; true when there was one.
pub fn undismiss(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
) -> Result<bool, CatalogError> {
    Ok(profile::undismiss(conn, &user.id, course_id)?)
}

/// Marks a course the user may see as "not interested"; true when it was not already.
pub fn dismiss(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    now: NaiveDateTime,
) -> Result<bool, CatalogError> {
    catalog::access(conn, Some(user), course_id)?;
    Ok(profile::dismiss(conn, &user.id, course_id, now)?)
}
