//! Order, coupon, refund, idempotency, webhook-event and audit rows and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::domain::{CouponError, RefundStatus};
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

/// Every buyer's orders (for administrators), newest first, of one status if given.
pub fn all_orders(
    conn: &mut DbConnection,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<OrderRow>> {
    let mut query = orders::table.into_boxed();
    if let Some(status) = status {
        query = query.filter(orders::status.eq(status.to_owned()));
    }
    query
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

/// Adds `amount` to the refunded total of a paid or partly refunded order, unless that would
/// exceed what was paid; false when it would (or the order is not refundable). An increment,
/// not a compare-and-set, so two refunds landing at once both count.
pub fn add_refunded(conn: &mut DbConnection, id: &str, amount: i64) -> QueryResult<bool> {
    diesel::update(
        orders::table
            .find(id)
            .filter(orders::status.eq_any(["paid", "partially_refunded"]))
            .filter((orders::refunded_minor + amount).le(orders::amount_minor)),
    )
    .set((
        orders::refunded_minor.eq(orders::refunded_minor + amount),
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

/// A stored idempotency key.
#[derive(Debug, Clone, Queryable)]
pub struct KeyRow {
    /// Fingerprint of the first request's body.
    pub request_hash: String,
    /// The stored answer's status, once there is one.
    pub response_status: Option<i32>,
    /// The stored answer's body, once there is one.
    pub response_body: Option<String>,
    /// The order the first request created.
    pub order_id: Option<String>,
    /// Until when its claimant holds it; a retry after this may take the work over.
    pub lease_until: Option<NaiveDateTime>,
}

/// The idempotency record of `(user, key)`.
pub fn find_key(conn: &mut DbConnection, user_id: &str, key: &str) -> QueryResult<Option<KeyRow>> {
    idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::response_status,
            idempotency_keys::response_body,
            idempotency_keys::order_id,
            idempotency_keys::lease_until,
        ))
        .first(conn)
        .optional()
}

/// Claims `(user, key)` for a request with `hash` that creates `order_id`, leased until
/// `lease_until`; false when it was already claimed.
pub fn claim_key(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    hash: &str,
    order_id: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    let values = (
        idempotency_keys::user_id.eq(user_id),
        idempotency_keys::idem_key.eq(key),
        idempotency_keys::request_hash.eq(hash),
        idempotency_keys::created_at.eq(db::now()),
        idempotency_keys::order_id.eq(order_id),
        idempotency_keys::lease_until.eq(lease_until),
    );
    Ok(crate::insert_or_ignore!(conn, idempotency_keys::table, values)? == 1)
}

/// Takes over an unanswered key whose lease is still `seen` (the value the caller judged
/// stale), leasing it until `until`. A conditional update: of several retries racing for the
/// same stale key, exactly one wins.
pub fn take_over_key(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    seen: Option<NaiveDateTime>,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let target = idempotency_keys::table
        .find((user_id, key))
        .filter(idempotency_keys::response_status.is_null());
    let n = match seen {
        Some(at) => diesel::update(target.filter(idempotency_keys::lease_until.eq(at)))
            .set(idempotency_keys::lease_until.eq(until))
            .execute(conn)?,
        None => diesel::update(target.filter(idempotency_keys::lease_until.is_null()))
            .set(idempotency_keys::lease_until.eq(until))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// The lease of the unanswered key that created `order_id`: `None` when no such key exists
/// (it was answered or released), `Some(lease)` otherwise.
pub fn unanswered_key_lease(
    conn: &mut DbConnection,
    order_id: &str,
) -> QueryResult<Option<Option<NaiveDateTime>>> {
    idempotency_keys::table
        .filter(idempotency_keys::order_id.eq(order_id))
        .filter(idempotency_keys::response_status.is_null())
        .select(idempotency_keys::lease_until)
        .first(conn)
        .optional()
}

/// Forgets the unanswered key that created an abandoned order, so a retry with it starts over.
pub fn release_unanswered_key_of(conn: &mut DbConnection, order_id: &str) -> QueryResult<()> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::order_id.eq(order_id))
            .filter(idempotency_keys::response_status.is_null()),
    )
    .execute(conn)
    .map(|_| ())
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

/// Reserves one use of a coupon for `user_id`, or says which limit stops it. The increment
/// comes first: on PostgreSQL it locks the coupon row, so concurrent checkouts with the coupon
/// queue here, and the per-learner count read after it sees every use committed before — the
/// limit holds under READ COMMITTED (SQLite's write transactions are serial anyway).
pub fn reserve_coupon(
    conn: &mut DbConnection,
    coupon: &CouponRow,
    user_id: &str,
    order_id: &str,
) -> QueryResult<Result<(), CouponError>> {
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
        return Ok(Err(CouponError::Exhausted));
    }
    if let Some(max) = coupon.max_per_user
        && coupon_uses_by(conn, &coupon.id, user_id)? >= max
    {
        return Ok(Err(CouponError::ExhaustedForUser));
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
    Ok(Ok(()))
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

/// Moves a refund from `from` to `to` only if it is still in `from`; false means another
/// path (request, webhook, sweep) moved it first. Landing a refund is this move, so it
/// happens once.
pub fn transition_refund(
    conn: &mut DbConnection,
    id: &str,
    from: RefundStatus,
    to: RefundStatus,
) -> QueryResult<bool> {
    diesel::update(
        refunds::table
            .find(id)
            .filter(refunds::status.eq(from.as_str())),
    )
    .set((
        refunds::status.eq(to.as_str()),
        refunds::provider_refund_id.eq((to == RefundStatus::Succeeded).then_some(id)),
        refunds::updated_at.eq(db::now()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The refund with this id.
pub fn find_refund(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RefundRow>> {
    refunds::table
        .find(id)
        .select(RefundRow::as_select())
        .first(conn)
        .optional()
}

/// The order's refund in flight, if any (at most one: a partial unique index).
pub fn pending_refund_of(
    conn: &mut DbConnection,
    order_id: &str,
) -> QueryResult<Option<RefundRow>> {
    refunds::table
        .filter(refunds::order_id.eq(order_id))
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .select(RefundRow::as_select())
        .first(conn)
        .optional()
}

/// Refunds still pending that were recorded before `before`, oldest first: intents whose
/// request may have died, for the sweep to reconcile with the provider.
pub fn stale_pending_refunds(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<RefundRow>> {
    refunds::table
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .filter(refunds::created_at.lt(before))
        .order(refunds::created_at)
        .limit(limit)
        .select(RefundRow::as_select())
        .load(conn)
}

/// Pending orders older than `before` that never got a provider payment linked: checkouts
/// whose process may have died between creating the order and linking its payment.
pub fn unlinked_pending(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    orders::table
        .filter(orders::status.eq("pending_payment"))
        .filter(orders::payment_id.is_null())
        .filter(orders::created_at.lt(before))
        .order(orders::created_at)
        .limit(limit)
        .select(orders::id)
        .load(conn)
}

/// An order's refunds, oldest first.
pub fn refunds_of(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<RefundRow>> {
    refunds::table
        .filter(refunds::order_id.eq(order_id))
        .order(refunds::created_at)
        .select(RefundRow::as_select())
        .load(conn)
}
