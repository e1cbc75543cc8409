//! Behaviour the server cannot see for itself — lesson progress, clicks on search results,
//! wishlists, views from cached pages — reported by clients through `POST /events`.
//!
//! A batch is parsed whole ([`parse`]): one bad event refuses the batch and stores nothing, with
//! every problem named by its index. Then each course must be one the caller may see, and each
//! lesson must belong to its course ([`store`]). Each user has a token bucket
//! ([`EventThrottle`]) so a runaway client cannot flood the log the model learns from.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::AuthUser;
use crate::catalog::events::{self, EventKind, EventRow};
use crate::catalog::service::{self as catalog, CatalogError};
use crate::catalog::store;
use crate::db::{self, DbConnection};
use crate::realtime::rate::TokenBucket;

/// Most events one request may carry.
pub const MAX_BATCH: usize = 50;
/// Longest search query kept with a `search_click`.
pub const MAX_QUERY_CHARS: usize = 200;
/// How far back a client may date an event (an app that was offline for a while).
pub const MAX_AGE: chrono::Duration = chrono::Duration::hours(24);
/// How far ahead of our clock a client's clock may run.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The body of `POST /events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// 1 to 50 events.
    #[schema(min_items = 1, max_items = 50, min_items = 1, max_items = 50)]
    pub events: Vec<ClientEvent>,
}

/// One event as a client reports it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientEvent {
    /// `course_view`, `lesson_start`, `lesson_complete`, `search_click` or `wishlist_add`.
    pub kind: String,
    /// The course it is about.
    pub course_id: String,
    /// The lesson, for `lesson_start` and `lesson_complete` (and only those).
    pub lesson_id: Option<String>,
    /// The search query, for `search_click` (and only that).
    pub query: Option<String>,
    /// When it happened (RFC 3339); now when absent. At most 24 h old.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// An event that passed [`parse`]: typed, trimmed and dated.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    /// What happened.
    pub kind: EventKind,
    /// On which course.
    pub course_id: String,
    /// The lesson id or the search query.
    pub detail: Option<String>,
    /// When (never after `now`).
    pub occurred_at: NaiveDateTime,
}

/// Checks a batch against the rules that need no database, listing every problem.
pub fn parse(batch: &EventBatch, now: NaiveDateTime) -> Result<Vec<Reported>, String> {
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(format!(
            "events must hold 1 to {MAX_BATCH} events, not {}",
            batch.events.len()
        ));
    }
    let mut problems = Vec::new();
    let mut accepted = Vec::with_capacity(batch.events.len());
    for (i, event) in batch.events.iter().enumerate() {
        match parse_one(event, now) {
            Ok(r) => accepted.push(r),
            Err(p) => problems.push(format!("events[{i}]: {p}")),
        }
    }
    if problems.is_empty() {
        Ok(accepted)
    } else {
        Err(problems.join("; "))
    }
}

fn parse_one(event: &ClientEvent, now: NaiveDateTime) -> Result<Reported, String> {
    let kind = event
        .kind
        .parse::<EventKind>()
        .ok()
        .filter(|k| k.client_reportable())
        .ok_or_else(|| {
            format!(
                "kind '{}' cannot be reported; expected course_view, lesson_start, \
                 lesson_complete, search_click or wishlist_add",
                event.kind
            )
        })?;
    let course_id = event.course_id.trim();
    if course_id.is_empty() || course_id.len() > 64 {
        return Err("course_id must be a course id".into());
    }
    let wants_lesson = matches!(kind, EventKind::LessonStart | EventKind::LessonComplete);
    let detail = match (kind, &event.lesson_id, &event.query) {
        (_, Some(_), _) if !wants_lesson => {
            return Err(format!("lesson_id does not belong on {}", kind.as_str()));
        }
        (EventKind::SearchClick, _, None) => return Err("search_click needs a query".into()),
        (EventKind::SearchClick, _, Some(q)) => {
            let q = q.trim();
            if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
                return Err(format!("query must be 1 to {MAX_QUERY_CHARS} characters"));
            }
            Some(q.to_owned())
        }
        (_, _, Some(_)) => return Err(format!("query does not belong on {}", kind.as_str())),
        (_, None, None) if wants_lesson => {
            return Err(format!("{} needs a lesson_id", kind.as_str()));
        }
        (_, lesson, None) => lesson.as_ref().map(|l| l.trim().to_owned()),
    };
    let occurred_at = match event.occurred_at {
        None => now,
        Some(at) => {
            let at = at.naive_utc();
            if at < now - MAX_AGE || at > now + MAX_SKEW {
                return Err("occurred_at must be within the last 24 hours".into());
            }
            at.min(now)
        }
    };
    Ok(Reported {
        kind,
        course_id: course_id.to_owned(),
        detail,
        occurred_at,
    })
}

/// What happened to an accepted batch.
#[derive(Debug)]
pub struct Outcome {
    /// Events stored for the recommender.
    pub recorded: Vec<EventRow>,
    /// Events about courses the caller teaches, accepted but not stored: an instructor's
    /// visits to their own course say nothing about anyone's taste.
    pub ignored: usize,
}

/// Checks every event against the catalog as `user` may see it, then stores them all in one
/// transaction, or none. Courses the caller may not see are "not found", exactly as on
/// `GET /courses/{id}`; a completed lesson must be one the caller may open.
pub fn store(
    conn: &mut DbConnection,
    user: &AuthUser,
    reported: Vec<Reported>,
) -> Result<Outcome, CatalogError> {
    db::write_transaction(conn, |conn| {
        let mut recorded = Vec::with_capacity(reported.len());
        let mut ignored = 0;
        for (i, event) in reported.into_iter().enumerate() {
            let access =
                catalog::access(conn, Some(user), &event.course_id).map_err(|e| at_index(i, e))?;
            if access.teaches {
                ignored += 1;
                continue;
            }
            if let (Some(lesson_id), true) = (&event.detail, event.kind.is_lesson()) {
                let lesson = store::find_lesson(conn, lesson_id)?
                    .filter(|l| l.course_id == event.course_id)
                    .ok_or_else(|| {
                        CatalogError::Invalid(format!(
                            "events[{i}]: lesson {lesson_id} is not part of course {}",
                            event.course_id
                        ))
                    })?;
                if event.kind == EventKind::LessonComplete
                    && !(access.entitled || access.manages || lesson.free_preview)
                {
                    return Err(CatalogError::Forbidden(format!(
                        "events[{i}]: lesson {lesson_id} needs access to the course"
                    )));
                }
            }
            recorded.push(EventRow {
                id: uuid::Uuid::now_v7().to_string(),
                user_id: user.id.clone(),
                course_id: event.course_id,
                kind: event.kind.as_str().to_owned(),
                weight: event.kind.default_weight(),
                occurred_at: event.occurred_at,
                detail: event.detail,
            });
        }
        events::record_all(conn, &recorded)?;
        Ok(Outcome { recorded, ignored })
    })
}

/// Names the event a catalog refusal is about, keeping its kind (and so its status).
fn at_index(i: usize, e: CatalogError) -> CatalogError {
    match e {
        CatalogError::NotFound(_) => CatalogError::Invalid(format!("events[{i}]: no such course")),
        other => other,
    }
}

/// Users' event budgets, in this process (on several nodes each node counts on its own, which
/// still bounds a client to the limit times the number of nodes).
pub struct EventThrottle {
    burst: u32,
    per_minute: u32,
    // A std mutex: never held across an await; each critical section is a map lookup.
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

/// Buckets are pruned once the map holds this many users.
const PRUNE_ABOVE: usize = 10_000;

impl EventThrottle {
    /// `burst` events at once per user, refilled at `per_minute`.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst,
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The most events one request can ever carry under this budget.
    pub fn burst(&self) -> usize {
        self.burst as usize
    }

    /// Returns `n` events to `user`'s budget: a batch refused after [`Self::take`] stored
    /// nothing and should cost nothing.
    pub fn give_back(&self, user: &str, n: usize) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = buckets.get_mut(user) {
            bucket.give_back(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    /// Takes `n` events from `user`'s budget, or none; `Err(wait)` says when to retry.
    pub fn take(&self, user: &str, n: usize, now: Instant) -> Result<(), Duration> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            // A bucket idle for a full refill is full again: forgetting it changes nothing.
            let refill_secs = u64::from(self.burst) * 60 / u64::from(self.per_minute.max(1));
            let full_after = Duration::from_secs(refill_secs + 1);
            buckets.retain(|_, b| now.saturating_duration_since(b.last_use()) < full_after);
        }
        buckets
            .entry(user.to_owned())
            .or_insert_with(|| TokenBucket::per_minute(self.burst, self.per_minute, now))
            .take_n(n, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> ClientEvent {
        ClientEvent {
            kind: kind.into(),
            course_id: "c1".into(),
            lesson_id: None,
            query: None,
            occurred_at: None,
        }
    }

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap_or_default()
    }

    fn one(e: ClientEvent) -> Result<Reported, String> {
        parse(&EventBatch { events: vec![e] }, now()).map(|mut v| v.remove(0))
    }

    #[test]
    fn accepts_each_reportable_kind_with_its_detail() {
        assert_eq!(one(event("course_view")).unwrap().detail, None);
        let lesson = ClientEvent {
            lesson_id: Some(" l1 ".into()),
            ..event("lesson_complete")
        };
        let r = one(lesson).unwrap();
        assert_eq!(
            (r.kind, r.detail.as_deref()),
            (EventKind::LessonComplete, Some("l1"))
        );
        let search = ClientEvent {
            query: Some("  rust async ".into()),
            ..event("search_click")
        };
        assert_eq!(one(search).unwrap().detail.as_deref(), Some("rust async"));
        assert_eq!(one(event("wishlist_add")).unwrap().occurred_at, now());
    }

    #[test]
    fn refuses_server_only_and_unknown_kinds() {
        for kind in ["purchase", "enroll", "refund", "review", "live_join", "nap"] {
            let err = one(event(kind)).unwrap_err();
            assert!(err.contains("cannot be reported"), "{kind}: {err}");
        }
    }

    #[test]
    fn details_must_match_the_kind() {
        assert!(
            one(event("lesson_start"))
                .unwrap_err()
                .contains("needs a lesson_id")
        );
        assert!(
            one(event("search_click"))
                .unwrap_err()
                .contains("needs a query")
        );
        let stray = ClientEvent {
            lesson_id: Some("l1".into()),
            ..event("course_view")
        };
        assert!(
            one(stray)
                .unwrap_err()
                .contains("lesson_id does not belong")
        );
        let stray = ClientEvent {
            query: Some("q".into()),
            ..event("wishlist_add")
        };
        assert!(one(stray).unwrap_err().contains("query does not belong"));
        let long = ClientEvent {
            query: Some("x".repeat(MAX_QUERY_CHARS + 1)),
            ..event("search_click")
        };
        assert!(one(long).is_err());
    }

    #[test]
    fn dates_must_be_recent_and_never_in_the_future() {
        let at = |d: chrono::Duration| ClientEvent {
            occurred_at: Some((now() + d).and_utc()),
            ..event("course_view")
        };
        let hour_ago = now() - chrono::Duration::hours(1);
        assert_eq!(
            one(at(-chrono::Duration::hours(1))).unwrap().occurred_at,
            hour_ago
        );
        // A client clock slightly ahead is clamped to ours.
        assert_eq!(
            one(at(chrono::Duration::minutes(2))).unwrap().occurred_at,
            now()
        );
        assert!(one(at(chrono::Duration::minutes(10))).is_err());
        assert!(one(at(-chrono::Duration::hours(25))).is_err());
    }

    #[test]
    fn a_batch_lists_every_problem_and_keeps_nothing() {
        let batch = EventBatch {
            events: vec![event("course_view"), event("refund"), event("lesson_start")],
        };
        let err = parse(&batch, now()).unwrap_err();
        assert!(
            err.contains("events[1]") && err.contains("events[2]"),
            "{err}"
        );
        assert!(!err.contains("events[0]"));
        let empty = EventBatch { events: vec![] };
        assert!(parse(&empty, now()).is_err());
        let many = EventBatch {
            events: (0..=MAX_BATCH).map(|_| event("course_view")).collect(),
        };
        assert!(parse(&many, now()).unwrap_err().contains("1 to 50"));
    }

    #[test]
    fn throttle_is_per_user_and_all_or_nothing() {
        let t = EventThrottle::new(10, 60);
        let t0 = Instant::now();
        assert!(t.take("a", 10, t0).is_ok());
        assert_eq!(t.take("a", 2, t0), Err(Duration::from_secs(2)));
        assert!(t.take("b", 10, t0).is_ok());
        assert!(t.take("a", 1, t0 + Duration::from_secs(1)).is_ok());
        // A refused batch gives its tokens back.
        t.give_back("b", 4);
        assert!(t.take("b", 4, t0).is_ok());
    }

    #[test]
    fn a_per_minute_rate_is_not_rounded_to_whole_seconds() {
        let t = EventThrottle::new(1, 30);
        let t0 = Instant::now();
        assert!(t.take("a", 1, t0).is_ok());
        assert_eq!(t.take("a", 1, t0), Err(Duration::from_secs(2)));
    }
}
