//! Behaviour events: what learners do with courses (view, enrol, buy, refund, review), appended
//! as they happen for the recommender to learn from. [`record`] never opens a transaction, so it
//! lands or rolls back together with the action it describes.

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
        }
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
}

/// Appends one event.
pub fn record(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
    kind: EventKind,
    weight: f64,
) -> QueryResult<()> {
    diesel::insert_into(behavior_events::table)
        .values(&EventRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            course_id: course_id.to_owned(),
            kind: kind.as_str().to_owned(),
            weight,
            occurred_at: db::now(),
        })
        .execute(conn)
        .map(|_| ())
}

/// A user's events, oldest first; for the recommender and tests.
pub fn for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<EventRow>> {
    behavior_events::table
        .filter(behavior_events::user_id.eq(user_id))
        .order(behavior_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)
}
