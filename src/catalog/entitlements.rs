//! Entitlements: the one record of who may read a course's lessons. Free enrolment, paid orders
//! and admins all grant through [`grant`], an import of dated history through [`grant_all`];
//! refunds revoke through [`revoke_for_order`]. These are plain functions over a connection
//! that never open a transaction of their own, so the orders module can call them inside its
//! payment transaction.

use std::collections::BTreeSet;

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

/// Grants `user_id` access to `course_id` from now on; see [`grant_all`].
pub fn grant(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
    source: EntitlementSource,
    order_id: Option<&str>,
) -> Result<bool, diesel::result::Error> {
    let grant = Grant {
        user_id,
        course_id,
        order_id,
        granted_at: db::now(),
    };
    Ok(grant_all(conn, source, &[grant])? == [true])
}

/// One access to grant.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// Who may read.
    pub user_id: &'a str,
    /// What they may read.
    pub course_id: &'a str,
    /// The order that paid for it, when the source is an order.
    pub order_id: Option<&'a str>,
    /// When access started: now, or, for an import of another platform's history, when it
    /// really did.
    pub granted_at: NaiveDateTime,
}

/// Grants each of `grants` from `source`; says, in order, which were new (false: an active
/// entitlement already existed; the partial unique index decides, so two concurrent grants
/// cannot both insert). Keeps the enrolment count of every course involved exact, recounting
/// each once however many grants it got, which is what lets an import write thousands at a
/// time. The courses are locked in id order, so two batches cannot deadlock.
pub fn grant_all(
    conn: &mut DbConnection,
    source: EntitlementSource,
    grants: &[Grant<'_>],
) -> Result<Vec<bool>, diesel::result::Error> {
    let courses: BTreeSet<&str> = grants.iter().map(|g| g.course_id).collect();
    for course_id in &courses {
        store::lock_course(conn, course_id)?;
    }
    let mut newly = Vec::with_capacity(grants.len());
    let mut changed = BTreeSet::new();
    for g in grants {
        let row = EntitlementRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: g.user_id.to_owned(),
            course_id: g.course_id.to_owned(),
            source: source.as_str().to_owned(),
            order_id: g.order_id.map(str::to_owned),
            granted_at: g.granted_at,
            revoked_at: None,
        };
        let inserted = match crate::insert_or_ignore!(conn, entitlements::table, &row) {
            Ok(n) => n > 0,
            Err(e) if db::is_unique_violation(&e) => false,
            Err(e) => return Err(e),
        };
        if inserted {
            changed.insert(g.course_id);
        }
        newly.push(inserted);
    }
    for course_id in changed {
        refresh_enrollment_count(conn, course_id)?;
    }
    Ok(newly)
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
