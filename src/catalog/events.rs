//! Behaviour events: what learners do with courses (view, enrol, buy, refund, review), appended
//! as they happen for the recommender to learn from. [`record`] never opens a transaction, so it
//! lands or rolls back together with the action it describes.
//!
//! A course view counts once per user, course and UTC day ([`VIEW_WINDOW_SECS`]), however often
//! the page is opened or the view reported: a unique key in the database drops the repeats, so
//! one account reloading a page cannot move a course up the popular and trending lists.

use diesel::prelude::*;

use super::domain::text_enum;
use crate::db::schema::behavior_events;
use crate::db::{self, DbConnection};

text_enum!(
    /// What happened.
    EventKind, "event kind" {
        /// A signed-in user opened a course's detail page.
        CourseView = "course_view",
        /// Free enrolment.
        Enroll = "enroll",
        /// A paid order completed.
        Purchase = "purchase",
        /// A purchase was refunded.
        Refund = "refund",
        /// A review was written or changed.
        Review = "review",
        /// Joined a live session's room.
        LiveJoin = "live_join",
        /// Asked a question in a live session.
        QuestionAsked = "question_asked",
        /// Upvoted someone's question in a live session.
        QuestionUpvoted = "question_upvoted",
        /// Voted in a live poll.
        PollVoted = "poll_voted",
        /// Opened a lesson (reported by the client).
        LessonStart = "lesson_start",
        /// Finished a lesson (reported by the client).
        LessonComplete = "lesson_complete",
        /// Picked a course from search results (reported by the client, with the query).
        SearchClick = "search_click",
        /// Saved a course for later (reported by the client).
        WishlistAdd = "wishlist_add",
    }
);

impl EventKind {
    /// The default signal strength of this kind for recommendations: buying says more than
    /// looking, a refund takes interest back.
    pub fn default_weight(self) -> f64 {
        match self {
            Self::CourseView => 1.0,
            Self::Enroll => 3.0,
            Self::Purchase => 5.0,
            Self::Refund => -5.0,
            Self::Review => 2.0,
            Self::LiveJoin => 2.0,
            Self::QuestionAsked => 1.5,
            Self::QuestionUpvoted | Self::PollVoted => 1.0,
            Self::LessonStart | Self::SearchClick => 1.5,
            Self::LessonComplete => 3.0,
            Self::WishlistAdd => 2.5,
        }
    }

    /// Whether the event is about a lesson (its detail is the lesson id).
    pub fn is_lesson(self) -> bool {
        matches!(self, Self::LessonStart | Self::LessonComplete)
    }

    /// Whether clients may report this kind through `POST /events`. Purchases, enrolments,
    /// reviews and live activity are recorded by the server where they happen, so a client can
    /// never forge them.
    pub fn client_reportable(self) -> bool {
        matches!(
            self,
            Self::CourseView
                | Self::LessonStart
                | Self::LessonComplete
                | Self::SearchClick
                | Self::WishlistAdd
        )
    }
}

/// A row of `behavior_events`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = behavior_events)]
pub struct EventRow {
    /// UUIDv7 text id (time-ordered).
    pub id: String,
    /// Who acted.
    pub user_id: String,
    /// On which course.
    pub course_id: String,
    /// An [`EventKind`] name.
    pub kind: String,
    /// Signal strength.
    pub weight: f64,
    /// When it happened (UTC).
    pub occurred_at: chrono::NaiveDateTime,
    /// What it was about beyond the course: a lesson id or a search query.
    pub detail: Option<String>,
}

/// Views of one course by one user within this window (aligned on UTC days) count once.
pub const VIEW_WINDOW_SECS: i64 = 86_400;

/// The key that makes an event count once in its window, for the kinds that are deduplicated
/// (course views); `None` for every other kind.
fn dedup_key(row: &EventRow) -> Option<String> {
    let window = row
        .occurred_at
        .and_utc()
        .timestamp()
        .div_euclid(VIEW_WINDOW_SECS);
    (row.kind == EventKind::CourseView.as_str())
        .then(|| format!("{}:{}:{}:{window}", row.kind, row.user_id, row.course_id))
}

/// Inserts `row` unless an event with the same deduplication key is stored already.
fn insert(conn: &mut DbConnection, row: &EventRow) -> QueryResult<()> {
    let key = behavior_events::dedup_key.eq(dedup_key(row));
    crate::insert_or_ignore!(conn, behavior_events::table, (row, key)).map(|_| ())
}

/// Appends one event that happens now (a repeated course view within its window is dropped).
pub fn record(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
    kind: EventKind,
    weight: f64,
) -> QueryResult<()> {
    record_at(conn, user_id, course_id, kind, weight, db::now())
}

/// Appends one event that happened at `occurred_at` (an import of dated history; the
/// recommender decays and splits by this time). The id stays a UUIDv7 of the moment it is
/// recorded, which is what the refit trigger counts by.
pub fn record_at(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
    kind: EventKind,
    weight: f64,
    occurred_at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let row = EventRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_owned(),
        course_id: course_id.to_owned(),
        kind: kind.as_str().to_owned(),
        weight,
        occurred_at,
        detail: None,
    };
    insert(conn, &row)
}

/// Appends events already built (by the ingestion of client reports), dropping repeated course
/// views as [`record`] does. One statement per row: multi-row inserts do not compile through the
/// multi-backend connection, and a batch is small.
pub fn record_all(conn: &mut DbConnection, rows: &[EventRow]) -> QueryResult<()> {
    for row in rows {
        insert(conn, row)?;
    }
    Ok(())
}

/// A user's events, oldest first; for the recommender and tests.
pub fn for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<EventRow>> {
    behavior_events::table
        .filter(behavior_events::user_id.eq(user_id))
        .order(behavior_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)
}
