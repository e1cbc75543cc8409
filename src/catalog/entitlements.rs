//! Entitlements: the one record of who may read a course's lessons. Free enrolment, paid orders
//! and admins all grant through [`grant`]; refunds revoke through [`revoke_for_order`]. These
//! are plain functions over a connection that never open a transaction of their own, so the
//! orders module can call them inside its payment transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::domain::text_enum;
use super::store;
use crate::accounts::revocation::{self, Revocation};
use crate::db::schema::{courses, entitlements};
use crate::db::{self, DbConnection};

text_enum!(
    /// Why a user holds an entitlement.
    EntitlementSource, "entitlement source" {
        /// Free enrolment in a course priced 0.
        Enroll = "enroll",
        /// A paid order.
        Order = "order",
        /// Granted by an administrator.
        Admin = "admin",
    }
);

/// A row of `entitlements`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = entitlements)]
pub struct EntitlementRow {
    /// UUIDv7 text id.
    pub id: String,
    /// Who may read.
    pub user_id: String,
    /// What they may read.
    pub course_id: String,
    /// `enroll`, `order` or `admin`.
    pub source: String,
    /// The order that paid for it, when `source` is `order`.
    pub order_id: Option<String>,
    /// When access started.
    pub granted_at: NaiveDateTime,
    /// When access ended (refund, admin action); `None` while active.
    pub revoked_at: Option<NaiveDateTime>,
}

/// Grants `user_id` access to `course_id`. Returns true when newly granted and false when an
/// active entitlement already existed (the partial unique index decides, so two concurrent
/// grants cannot both insert). Keeps the course's enrolment count exact.
pub fn grant(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
    source: EntitlementSource,
    order_id: Option<&str>,
) -> Result<bool, diesel::result::Error> {
    store::lock_course(conn, course_id)?;
    let row = EntitlementRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_owned(),
        course_id: course_id.to_owned(),
        source: source.as_str().to_owned(),
        order_id: order_id.map(str::to_owned),
        granted_at: db::now(),
        revoked_at: None,
    };
    let inserted = crate::insert_or_ignore!(conn, entitlements::table, &row);
    match inserted {
        Ok(0) => Ok(false),
        Ok(_) => {
            refresh_enrollment_count(conn, course_id)?;
            Ok(true)
        }
        Err(e) if db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Revokes every active entitlement the order granted (logging each as a revocation);
/// returns how many.
pub fn revoke_for_order(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<usize, diesel::result::Error> {
    let held: Vec<(String, String)> = entitlements::table
        .filter(entitlements::order_id.eq(order_id))
        .filter(entitlements::revoked_at.is_null())
        .select((entitlements::user_id, entitlements::course_id))
        .load(conn)?;
    // Logged with the revocation, so the learner's open sockets leave the course's rooms.
    for (user, course) in &held {
        let (user, course) = (user.clone(), course.clone());
        revocation::record(conn, &Revocation::Entitlement { user, course })?;
    }
    let course_ids: Vec<String> = held.into_iter().map(|(_, c)| c).collect();
    for course_id in &course_ids {
        store::lock_course(conn, course_id)?;
    }
    let revoked = diesel::update(
        entitlements::table
            .filter(entitlements::order_id.eq(order_id))
            .filter(entitlements::revoked_at.is_null()),
    )
    .set(entitlements::revoked_at.eq(db::now()))
    .execute(conn)?;
    for course_id in &course_ids {
        refresh_enrollment_count(conn, course_id)?;
    }
    Ok(revoked)
}

/// True when `user_id` holds an active entitlement to `course_id`.
pub fn has_active(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
) -> Result<bool, diesel::result::Error> {
    active(conn, user_id, course_id).map(|e| e.is_some())
}

/// The active entitlement of `user_id` to `course_id`, if any.
pub fn active(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
) -> QueryResult<Option<EntitlementRow>> {
    entitlements::table
        .filter(entitlements::user_id.eq(user_id))
        .filter(entitlements::course_id.eq(course_id))
        .filter(entitlements::revoked_at.is_null())
        .select(EntitlementRow::as_select())
        .first(conn)
        .optional()
}

/// Sets the course's enrolment count to its number of active entitlements: recounting instead
/// of incrementing keeps it exact whatever order grants and revocations commit in. The caller
/// holds the course lock ([`store::lock_course`]).
fn refresh_enrollment_count(conn: &mut DbConnection, course_id: &str) -> QueryResult<()> {
    let n: i64 = entitlements::table
        .filter(entitlements::course_id.eq(course_id))
        .filter(entitlements::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    diesel::update(courses::table.find(course_id))
        .set(courses::enrollment_count.eq(n))
        .execute(conn)
        .map(|_| ())
}
