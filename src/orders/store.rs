//! Order, coupon, refund, idempotency, webhook-event and audit rows and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    coupon_redemptions, coupons, idempotency_keys, orders, refunds, state_transitions,
    webhook_events,
};
use crate::db::{self, DbConnection};

/// A row of `orders`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    /// UUIDv7 text id; also the provider payment's reference.
    pub id: String,
    /// The buyer.
    pub user_id: String,
    /// What is bought.
    pub course_id: String,
    /// Who earns from it.
    pub instructor_id: String,
    /// An [`super::domain::OrderStatus`] name.
    pub status: String,
    /// The course price at checkout.
    pub list_price_minor: i64,
    /// Coupon discount.
    pub discount_minor: i64,
    /// What the learner pays: list price minus discount.
    pub amount_minor: i64,
    /// Given back so far.
    pub refunded_minor: i64,
    /// Currency of every amount.
    pub currency: String,
    /// The coupon used, if any.
    pub coupon_code: Option<String>,
    /// Platform fee in basis points, fixed at checkout.
    pub fee_bps: i32,
    /// The provider's payment id.
    pub payment_id: Option<String>,
    /// The provider payment's last known status.
    pub payment_status: String,
    /// Unpaid after this, the order expires.
    pub expires_at: NaiveDateTime,
    /// When payment was confirmed.
    pub paid_at: Option<NaiveDateTime>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// A row of `coupons`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = coupons)]
pub struct CouponRow {
    /// UUIDv7 text id.
    pub id: String,
    /// Upper-cased code learners type.
    pub code: String,
    /// Percentage in basis points, or `None` for a fixed amount.
    pub percent_bps: Option<i32>,
    /// Fixed amount in minor units, or `None` for a percentage.
    pub amount_minor: Option<i64>,
    /// Currency of the fixed amount.
    pub currency: Option<String>,
    /// Restricts the coupon to one course.
    pub course_id: Option<String>,
    /// Invalid from this time on.
    pub expires_at: Option<NaiveDateTime>,
    /// Most uses in total.
    pub max_redemptions: Option<i64>,
    /// Most uses per learner.
    pub max_per_user: Option<i64>,
    /// Uses reserved or completed so far.
    pub redemptions: i64,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

/// A row of `refunds`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refunds)]
pub struct RefundRow {
    /// UUIDv7 text id; also the provider's refund key.
    pub id: String,
    /// The refunded order.
    pub order_id: String,
    /// How much.
    pub amount_minor: i64,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// The provider's refund id.
    pub provider_refund_id: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// Inserts an order.
pub fn insert_order(conn: &mut DbConnection, row: &OrderRow) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The order with this id.
pub fn find_order(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

/// A learner's orders, newest first.
pub fn orders_of(
    conn: &mut DbConnection,
    user_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::user_id.eq(user_id))
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(OrderRow::as_select())
        .load(conn)
}

/// The learner's order for `course_id` that still awaits payment.
pub fn pending_order_for(
    conn: &mut DbConnection,
    user_id: &str,
    course_id: &str,
) -> QueryResult<Option<OrderRow>> {
    orders::table
        .filter(orders::user_id.eq(user_id))
        .filter(orders::course_id.eq(course_id))
        .filter(orders::status.eq("pending_payment"))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

/// Pending orders whose time ran out.
pub fn expired_pending(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    orders::table
        .filter(orders::status.eq("pending_payment"))
        .filter(orders::expires_at.le(now))
        .order(orders::expires_at)
        .limit(limit)
        .select(orders::id)
        .load(conn)
}

/// Moves an order from `from` to `to` only if it is still in `from`; false means someone else
/// moved it first.
pub fn set_status(conn: &mut DbConnection, id: &str, from: &str, to: &str) -> QueryResult<bool> {
    let now = db::now();
    let paid_at = (to == "paid").then_some(now);
    let target = orders::table.find(id).filter(orders::status.eq(from));
    let n = match paid_at {
        Some(at) => diesel::update(target)
            .set((
                orders::status.eq(to),
                orders::paid_at.eq(Some(at)),
                orders::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((orders::status.eq(to), orders::updated_at.eq(now)))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Records the provider payment's id and status on the order.
pub fn set_payment(
    conn: &mut DbConnection,
    id: &str,
    payment_id: Option<&str>,
    payment_status: &str,
) -> QueryResult<()> {
    let target = orders::table.find(id);
    match payment_id {
        Some(pid) => diesel::update(target)
            .set((
                orders::payment_id.eq(pid),
                orders::payment_status.eq(payment_status),
                orders::updated_at.eq(db::now()),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                orders::payment_status.eq(payment_status),
                orders::updated_at.eq(db::now()),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Adds `amount` to the refunded total if the total is still `before`, moving the status.
pub fn add_refunded(
    conn: &mut DbConnection,
    id: &str,
    before: i64,
    amount: i64,
    status: &str,
) -> QueryResult<bool> {
    diesel::update(
        orders::table
            .find(id)
            .filter(orders::refunded_minor.eq(before)),
    )
    .set((
        orders::refunded_minor.eq(before + amount),
        orders::status.eq(status),
        orders::updated_at.eq(db::now()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Appends an audit row for a state change of `entity`.
pub fn audit(
    conn: &mut DbConnection,
    entity: &str,
    entity_id: &str,
    from: Option<&str>,
    to: &str,
    cause: &str,
) -> QueryResult<()> {
    diesel::insert_into(state_transitions::table)
        .values((
            state_transitions::id.eq(uuid::Uuid::now_v7().to_string()),
            state_transitions::entity.eq(entity),
            state_transitions::entity_id.eq(entity_id),
            state_transitions::from_state.eq(from),
            state_transitions::to_state.eq(to),
            state_transitions::cause.eq(cause),
            state_transitions::created_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The audit trail of one entity, oldest first, as `(from, to, cause)`.
pub fn audit_trail(
    conn: &mut DbConnection,
    entity: &str,
    entity_id: &str,
) -> QueryResult<Vec<(Option<String>, String, String)>> {
    state_transitions::table
        .filter(state_transitions::entity.eq(entity))
        .filter(state_transitions::entity_id.eq(entity_id))
        .order((state_transitions::created_at, state_transitions::id))
        .select((
            state_transitions::from_state,
            state_transitions::to_state,
            state_transitions::cause,
        ))
        .load(conn)
}

/// A stored idempotency key: `(request hash, response status, response body)`.
pub type StoredKey = (String, Option<i32>, Option<String>);

/// The idempotency record of `(user, key)`.
pub fn find_key(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
) -> QueryResult<Option<StoredKey>> {
    idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::response_status,
            idempotency_keys::response_body,
        ))
        .first(conn)
        .optional()
}

/// Claims `(user, key)` for a request with `hash`; false when it was already claimed.
pub fn claim_key(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    hash: &str,
) -> QueryResult<bool> {
    let values = (
        idempotency_keys::user_id.eq(user_id),
        idempotency_keys::idem_key.eq(key),
        idempotency_keys::request_hash.eq(hash),
        idempotency_keys::created_at.eq(db::now()),
    );
    Ok(crate::insert_or_ignore!(conn, idempotency_keys::table, values)? == 1)
}

/// Stores the response a claimed key replays.
pub fn store_response(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    status: i32,
    body: &str,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set((
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Forgets a claimed key whose request failed, so the client may retry with it.
pub fn release_key(conn: &mut DbConnection, user_id: &str, key: &str) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((user_id, key)))
        .execute(conn)
        .map(|_| ())
}

/// Records a provider event id; false when it was processed before.
pub fn first_sighting(
    conn: &mut DbConnection,
    event_id: &str,
    event_type: &str,
) -> QueryResult<bool> {
    let values = (
        webhook_events::event_id.eq(event_id),
        webhook_events::event_type.eq(event_type),
        webhook_events::received_at.eq(db::now()),
    );
    Ok(crate::insert_or_ignore!(conn, webhook_events::table, values)? == 1)
}

/// The coupon with this (upper-cased) code.
pub fn find_coupon(conn: &mut DbConnection, code: &str) -> QueryResult<Option<CouponRow>> {
    coupons::table
        .filter(coupons::code.eq(code))
        .select(CouponRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts a coupon.
pub fn insert_coupon(conn: &mut DbConnection, row: &CouponRow) -> QueryResult<()> {
    diesel::insert_into(coupons::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Coupons, newest first; only those created by `creator` when given.
pub fn list_coupons(conn: &mut DbConnection, creator: Option<&str>) -> QueryResult<Vec<CouponRow>> {
    let mut q = coupons::table.select(CouponRow::as_select()).into_boxed();
    if let Some(c) = creator {
        q = q.filter(coupons::created_by.eq(c));
    }
    q.order(coupons::created_at.desc()).load(conn)
}

/// Reserves one use of a coupon unless its total limit is reached; false when it is.
pub fn reserve_coupon(
    conn: &mut DbConnection,
    coupon: &CouponRow,
    user_id: &str,
    order_id: &str,
) -> QueryResult<bool> {
    let target = coupons::table.find(&coupon.id);
    let n = match coupon.max_redemptions {
        Some(max) => diesel::update(target.filter(coupons::redemptions.lt(max)))
            .set(coupons::redemptions.eq(coupons::redemptions + 1))
            .execute(conn)?,
        None => diesel::update(target)
            .set(coupons::redemptions.eq(coupons::redemptions + 1))
            .execute(conn)?,
    };
    if n == 0 {
        return Ok(false);
    }
    diesel::insert_into(coupon_redemptions::table)
        .values((
            coupon_redemptions::id.eq(uuid::Uuid::now_v7().to_string()),
            coupon_redemptions::coupon_id.eq(&coupon.id),
            coupon_redemptions::user_id.eq(user_id),
            coupon_redemptions::order_id.eq(order_id),
            coupon_redemptions::created_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Uses of a coupon by one learner that still count (reserved or completed).
pub fn coupon_uses_by(conn: &mut DbConnection, coupon_id: &str, user_id: &str) -> QueryResult<i64> {
    coupon_redemptions::table
        .filter(coupon_redemptions::coupon_id.eq(coupon_id))
        .filter(coupon_redemptions::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// Gives back the coupon use an order reserved (when it is cancelled or expires unpaid).
pub fn release_coupon(conn: &mut DbConnection, order_id: &str) -> QueryResult<()> {
    let coupon_id: Option<String> = coupon_redemptions::table
        .filter(coupon_redemptions::order_id.eq(order_id))
        .select(coupon_redemptions::coupon_id)
        .first(conn)
        .optional()?;
    if let Some(id) = coupon_id {
        diesel::delete(coupon_redemptions::table.filter(coupon_redemptions::order_id.eq(order_id)))
            .execute(conn)?;
        diesel::update(coupons::table.find(id))
            .set(coupons::redemptions.eq(coupons::redemptions - 1))
            .execute(conn)?;
    }
    Ok(())
}

/// Inserts a refund.
pub fn insert_refund(conn: &mut DbConnection, row: &RefundRow) -> QueryResult<()> {
    diesel::insert_into(refunds::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Sets a refund's status (and provider id).
pub fn set_refund_status(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    provider_id: Option<&str>,
) -> QueryResult<()> {
    diesel::update(refunds::table.find(id))
        .set((
            refunds::status.eq(status),
            refunds::provider_refund_id.eq(provider_id),
            refunds::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// An order's refunds, oldest first.
pub fn refunds_of(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<RefundRow>> {
    refunds::table
        .filter(refunds::order_id.eq(order_id))
        .order(refunds::created_at)
        .select(RefundRow::as_select())
        .load(conn)
}
