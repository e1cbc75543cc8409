//! What the recommender knows about one user, read fresh from the database on each request: the
//! courses they touched (most recent first), what they own or teach, and what they dismissed.
//!
//! Reading the log per request is what makes "the next request already reflects it" true on
//! every node: an event committed anywhere is in the next profile, with no cache to invalidate.
//! It costs one indexed query over at most [`MAX_TOUCHES`] rows.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalog::events::EventKind;
use crate::db::DbConnection;
use crate::db::schema::{behavior_events, courses, entitlements, recommendation_dismissals};

/// The most recent events a profile reads. With time decay, older ones weigh next to nothing.
pub const MAX_TOUCHES: i64 = 500;

/// One thing a user did with a course.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    /// The course.
    pub course_id: String,
    /// What they did.
    pub kind: EventKind,
    /// Its signal strength (negative for refunds).
    pub weight: f64,
    /// When.
    pub at: NaiveDateTime,
}

/// A user as the recommender sees them.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Most recent first.
    pub touches: Vec<Touch>,
    /// Courses they hold an active entitlement to, or teach: never recommended to them.
    pub owned: HashSet<String>,
    /// Courses they said they are not interested in.
    pub dismissed: HashSet<String>,
}

impl Profile {
    /// Whether a course may be recommended to this user.
    pub fn may_see(&self, course_id: &str) -> bool {
        !self.owned.contains(course_id) && !self.dismissed.contains(course_id)
    }
}

/// Loads `user_id`'s profile.
pub fn load(conn: &mut DbConnection, user_id: &str) -> QueryResult<Profile> {
    let rows: Vec<(String, String, f64, NaiveDateTime)> = behavior_events::table
        .filter(behavior_events::user_id.eq(user_id))
        .order((
            behavior_events::occurred_at.desc(),
            behavior_events::id.desc(),
        ))
        .limit(MAX_TOUCHES)
        .select((
            behavior_events::course_id,
            behavior_events::kind,
            behavior_events::weight,
            behavior_events::occurred_at,
        ))
        .load(conn)?;
    let touches = rows
        .into_iter()
        // A kind this build does not know (written by a newer node) is skipped, not fatal.
        .filter_map(|(course_id, kind, weight, at)| {
            Some(Touch {
                kind: kind.parse().ok()?,
                course_id,
                weight,
                at,
            })
        })
        .collect();
    let mut owned: HashSet<String> = entitlements::table
        .filter(entitlements::user_id.eq(user_id))
        .filter(entitlements::revoked_at.is_null())
        .select(entitlements::course_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    owned.extend(
        courses::table
            .filter(courses::instructor_id.eq(user_id))
            .select(courses::id)
            .load::<String>(conn)?,
    );
    let dismissed = recommendation_dismissals::table
        .filter(recommendation_dismissals::user_id.eq(user_id))
        .select(recommendation_dismissals::course_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(Profile {
        touches,
        owned,
        dismissed,
    })
}

/// Records that `user_id` is not interested in `course_id`; true when it was not already.
pub fn dismiss(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let exists = recommendation_dismissals::table
        .find((user_id, course_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    let inserted = diesel::insert_into(recommendation_dismissals::table)
        .values((
            recommendation_dismissals::user_id.eq(user_id),
            recommendation_dismissals::course_id.eq(course_id),
            recommendation_dismissals::dismissed_at.eq(at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        // A concurrent dismissal of the same course won: the outcome is the same.
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes a dismissal back; true when there was one.
pub fn undismiss(conn: &mut DbConnection, user_id: &str, course_id: &str) -> QueryResult<bool> {
    diesel::delete(recommendation_dismissals::table.find((user_id, course_id)))
        .execute(conn)
        .map(|n| n > 0)
}
