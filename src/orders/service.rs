//! The order commands as plain functions over a connection and a payment provider. Provider
//! calls always happen between our transactions, never inside one: a real provider is remote.
//! Every state change is a conditional update plus an audit row, in the same transaction as
//! its effects (entitlement, ledger, behaviour event).

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::{
    self, CouponError, CouponTerms, Discount, OrderStatus, RefundStatus, UnfinishedKey,
};
use super::failpoint::{self, Point};
use super::store::{self, CouponRow, OrderRow, RefundRow};
use crate::accounts::Role;
use crate::catalog::entitlements::{self, EntitlementSource};
use crate::catalog::events::{self, EventKind};
use crate::catalog::store as catalog_store;
use crate::db::{self, DbConnection, DbError};
use crate::error::ApiError;
use crate::ledger::{domain as posting, service as ledger};
use crate::money::{Currency, Money, MoneyView};
use crate::payments::events::{EventOutcome, ProviderEvent};
use crate::payments::sinks::EventSink;
use crate::payments::{
    CaptureMethod, PaymentProvider, ProviderError, ProviderPayment, ProviderStatus,
};

/// Commerce settings fixed at start.
#[derive(Debug, Clone)]
pub struct CommerceConfig {
    /// Platform fee in basis points (2000 = 20%).
    pub fee_bps: u32,
    /// Unpaid orders expire after this long.
    pub order_ttl: Duration,
    /// Learners may ask for a refund this long after paying; earnings become payout-ready after it.
    pub refund_window: Duration,
    /// How long a checkout or refund in progress belongs to its process; after that a retry
    /// or the sweep takes it over (a crashed process never finishes its own work).
    pub lease: Duration,
}

impl CommerceConfig {
    /// The commerce part of the server's settings.
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            fee_bps: s.platform_fee_bps,
            order_ttl: s.order_ttl,
            refund_window: s.refund_window,
            lease: s.commerce_lease,
        }
    }
}

/// Why an order command failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Input broke a rule.
    #[error("{0}")]
    Invalid(String),
    /// No such order or course (or not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not allowed for this caller.
    #[error("{0}")]
    Forbidden(String),
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The coupon does not apply.
    #[error(transparent)]
    Coupon(#[from] CouponError),
    /// The idempotency key was used with a different body.
    #[error("this Idempotency-Key was already used with a different request body")]
    KeyReused,
    /// A request with this idempotency key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    InProgress,
    /// A provider event names no order we know.
    #[error("the event refers to an unknown order")]
    UnknownOrder,
    /// A provider event disagrees with the order (payment id, amount or currency).
    #[error("the event does not match its order: {0}")]
    EventMismatch(String),
    /// The provider refused or failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Anything else unexpected.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for OrderError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<crate::ledger::service::LedgerError> for OrderError {
    fn from(e: crate::ledger::service::LedgerError) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(m) => ApiError::Validation(m),
            OrderError::NotFound(what) => ApiError::not_found(what),
            OrderError::Forbidden(m) => ApiError::Forbidden(m),
            OrderError::Conflict(_) | OrderError::Coupon(_) | OrderError::InProgress => {
                ApiError::Conflict(e.to_string())
            }
            OrderError::KeyReused | OrderError::UnknownOrder | OrderError::EventMismatch(_) => {
                ApiError::Unprocessable(e.to_string())
            }
            OrderError::Provider(ProviderError::Invalid(m)) => ApiError::Conflict(m),
            OrderError::Provider(ProviderError::UnknownPayment(_)) => {
                ApiError::not_found("payment")
            }
            OrderError::Provider(ProviderError::Unavailable(m)) => ApiError::Unavailable(m),
            OrderError::Db(e) => e.into(),
            OrderError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// `POST /orders` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The course to buy.
    pub course_id: String,
    /// Optional coupon code.
    #[serde(default)]
    pub coupon: Option<String>,
}

/// The provider payment behind an order, as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// Provider payment id; with the sandbox, confirm it at `confirm_url`.
    pub id: Option<String>,
    /// Last known provider status.
    pub status: String,
    /// Where the payer confirms the payment (the sandbox's payment page).
    pub confirm_url: Option<String>,
}

/// An order as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// Order id.
    pub id: String,
    /// The course bought.
    pub course_id: String,
    /// The course's title, so a list of orders says what was bought.
    pub course_title: String,
    /// Where the order is.
    pub status: OrderStatus,
    /// Price at checkout.
    pub list_price: MoneyView,
    /// Coupon discount.
    pub discount: MoneyView,
    /// What the learner pays.
    pub amount: MoneyView,
    /// Given back so far.
    pub refunded: MoneyView,
    /// Coupon used.
    pub coupon: Option<String>,
    /// The payment.
    pub payment: PaymentView,
    /// Unpaid after this, the order expires.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// When payment was confirmed.
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn money(minor: i64, currency: &str) -> MoneyView {
    MoneyView {
        amount_minor: minor,
        currency: currency.to_owned(),
    }
}

fn status_of(row: &OrderRow) -> Result<OrderStatus, OrderError> {
    OrderStatus::parse(&row.status).ok_or_else(|| {
        OrderError::Unexpected(anyhow::anyhow!(
            "order {} has status {}",
            row.id,
            row.status
        ))
    })
}

impl OrderView {
    /// Builds the view of a row whose course is called `course_title`.
    fn of(row: &OrderRow, course_title: String) -> Result<Self, OrderError> {
        Ok(Self {
            id: row.id.clone(),
            course_id: row.course_id.clone(),
            course_title,
            status: status_of(row)?,
            list_price: money(row.list_price_minor, &row.currency),
            discount: money(row.discount_minor, &row.currency),
            amount: money(row.amount_minor, &row.currency),
            refunded: money(row.refunded_minor, &row.currency),
            coupon: row.coupon_code.clone(),
            payment: PaymentView {
                id: row.payment_id.clone(),
                status: row.payment_status.clone(),
                confirm_url: row
                    .payment_id
                    .as_ref()
                    .map(|p| format!("/api/v1/sandbox/payments/{p}/confirm")),
            },
            expires_at: row.expires_at.and_utc(),
            paid_at: row.paid_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        })
    }
}

/// Views of `rows`, their courses' titles read in one query.
fn views(conn: &mut DbConnection, rows: &[OrderRow]) -> Result<Vec<OrderView>, OrderError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.course_id.as_str()).collect();
    let titles = catalog_store::titles_for(conn, &ids)?;
    rows.iter()
        .map(|r| OrderView::of(r, titles.get(&r.course_id).cloned().unwrap_or_default()))
        .collect()
}

/// The view of one order row.
fn view(conn: &mut DbConnection, row: &OrderRow) -> Result<OrderView, OrderError> {
    views(conn, std::slice::from_ref(row))?
        .pop()
        .ok_or(OrderError::NotFound("order"))
}

/// A checkout's answer: HTTP status and JSON body, exactly as stored for replays.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// What the first step of a checkout decided.
enum Begun {
    /// The key was answered before: replay that answer.
    Replay(StoredResponse),
    /// An order to take to its payment: a new one, or one whose claimant died (taken over).
    Work(Box<OrderRow>),
    /// An older checkout of this course died before linking a payment and blocks this one:
    /// close it, then begin again.
    Orphan(Box<OrderRow>),
}

/// `now + the lease`: until when a claimant owns the work it claims now.
fn lease_from(now: NaiveDateTime, cfg: &CommerceConfig) -> Result<NaiveDateTime, OrderError> {
    Ok(
        now + chrono::Duration::from_std(cfg.lease)
            .map_err(|e| OrderError::Unexpected(e.into()))?,
    )
}

/// Places an order. The same `(user, key)` with the same body replays the first answer; with
/// another body it is refused. The order is created, the key claimed (with a lease) and the
/// coupon reserved in one transaction; then the provider payment is created; then both are
/// linked and the answer stored. A retry after the lease ran out takes an unanswered key over
/// and finishes the same order — the provider's create is idempotent per order, so it finds
/// the payment a crashed process created but never linked.
pub fn checkout(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &CommerceConfig,
    user_id: &str,
    key: &str,
    req: &CheckoutRequest,
) -> Result<StoredResponse, OrderError> {
    let hash = domain::request_fingerprint(
        &serde_json::to_value(req).map_err(|e| OrderError::Unexpected(e.into()))?,
    );
    let begin = |conn: &mut DbConnection| {
        db::write_transaction(conn, |c| begin_checkout(c, cfg, user_id, key, &hash, req))
    };
    let order = match begin(conn)? {
        Begun::Replay(stored) => return Ok(stored),
        Begun::Work(order) => order,
        Begun::Orphan(orphan) => {
            abandon(conn, provider, cfg, &orphan.id)?;
            match begin(conn)? {
                Begun::Replay(stored) => return Ok(stored),
                Begun::Work(order) => order,
                Begun::Orphan(_) => return Err(OrderError::InProgress),
            }
        }
    };
    finish_checkout(conn, provider, user_id, key, &order)
}

/// Takes a claimed order to its payment and stores the answer. Safe to run again for the same
/// order after a crash at any point: every step is idempotent.
fn finish_checkout(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    user_id: &str,
    key: &str,
    order: &OrderRow,
) -> Result<StoredResponse, OrderError> {
    failpoint::hit(Point::CheckoutAfterOrder);
    if status_of(order)? != OrderStatus::PendingPayment {
        // Taken over after it was paid, cancelled or expired: answer it as it is.
        return db::write_transaction(conn, |c| respond(c, &order.id, user_id, key));
    }
    let currency = parse_currency(&order.currency)?;
    if order.amount_minor == 0 {
        return db::write_transaction(conn, |c| {
            complete_payment(c, order, "coupon covers the whole price")?;
            respond(c, &order.id, user_id, key)
        });
    }
    let amount =
        Money::new(order.amount_minor, currency).map_err(|e| OrderError::Invalid(e.to_string()))?;
    match provider.create_payment(&order.id, user_id, amount, CaptureMethod::Automatic) {
        Ok(payment) => {
            failpoint::hit(Point::CheckoutAfterPayment);
            let still_pending =
                db::write_transaction(conn, |c| link_payment(c, &order.id, &payment))?;
            if !still_pending {
                // Expired or cancelled while its payment was being created: nothing may be
                // charged for it.
                let status = payment.status.as_str();
                release_payment(
                    conn,
                    provider,
                    &order.id,
                    &payment.id,
                    status,
                    "order already closed",
                )?;
            }
            db::write_transaction(conn, |c| respond(c, &order.id, user_id, key))
        }
        Err(e) => {
            db::write_transaction(conn, |c| -> Result<(), OrderError> {
                if store::set_status(
                    c,
                    &order.id,
                    OrderStatus::PendingPayment.as_str(),
                    OrderStatus::Cancelled.as_str(),
                )? {
                    store::audit(
                        c,
                        "order",
                        &order.id,
                        Some("pending_payment"),
                        "cancelled",
                        "payment provider refused",
                    )?;
                    store::release_coupon(c, &order.id)?;
                }
                store::release_key(c, user_id, key)?;
                Ok(())
            })?;
            Err(e.into())
        }
    }
}

/// Links the provider payment to its order (once; a takeover finds it linked or links it) and
/// says whether the order still awaits payment.
fn link_payment(
    c: &mut DbConnection,
    order_id: &str,
    payment: &ProviderPayment,
) -> Result<bool, OrderError> {
    let now = store::find_order(c, order_id)?.ok_or(OrderError::NotFound("order"))?;
    if now.payment_id.is_none() {
        store::set_payment(c, order_id, Some(&payment.id), payment.status.as_str())?;
        store::audit(
            c,
            "payment",
            &payment.id,
            None,
            payment.status.as_str(),
            "created",
        )?;
    }
    Ok(now.status == OrderStatus::PendingPayment.as_str())
}

fn parse_currency(code: &str) -> Result<Currency, OrderError> {
    Currency::parse(code).map_err(|e| OrderError::Unexpected(anyhow::anyhow!(e)))
}

/// Stores and returns the checkout answer for the order as it is now.
fn respond(
    c: &mut DbConnection,
    order_id: &str,
    user_id: &str,
    key: &str,
) -> Result<StoredResponse, OrderError> {
    let row = store::find_order(c, order_id)?.ok_or(OrderError::NotFound("order"))?;
    let body =
        serde_json::to_string(&view(c, &row)?).map_err(|e| OrderError::Unexpected(e.into()))?;
    store::store_response(c, user_id, key, 201, &body)?;
    Ok(StoredResponse { status: 201, body })
}

/// True when a pending order is a dead checkout's: no payment linked, and no live lease on it
/// (its key's lease ran out, or it has no unanswered key and is older than a lease).
fn is_orphan(
    c: &mut DbConnection,
    cfg: &CommerceConfig,
    order: &OrderRow,
    now: NaiveDateTime,
) -> Result<bool, OrderError> {
    if order.payment_id.is_some() || order.status != OrderStatus::PendingPayment.as_str() {
        return Ok(false);
    }
    let lease = match store::unanswered_key_lease(c, &order.id)? {
        Some(lease) => lease,
        None => Some(lease_from(order.created_at, cfg)?),
    };
    Ok(domain::unfinished_key(lease, now) == UnfinishedKey::Stale)
}

fn begin_checkout(
    c: &mut DbConnection,
    cfg: &CommerceConfig,
    user_id: &str,
    key: &str,
    hash: &str,
    req: &CheckoutRequest,
) -> Result<Begun, OrderError> {
    let now = db::now();
    if let Some(stored) = store::find_key(c, user_id, key)? {
        if stored.request_hash != hash {
            return Err(OrderError::KeyReused);
        }
        if let (Some(status), Some(body)) = (stored.response_status, stored.response_body) {
            return Ok(Begun::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(201),
                body,
            }));
        }
        if domain::unfinished_key(stored.lease_until, now) == UnfinishedKey::Busy
            || !store::take_over_key(c, user_id, key, stored.lease_until, lease_from(now, cfg)?)?
        {
            return Err(OrderError::InProgress);
        }
        match stored.order_id {
            Some(id) => {
                let order = store::find_order(c, &id)?.ok_or(OrderError::NotFound("order"))?;
                return Ok(Begun::Work(Box::new(order)));
            }
            // Claimed before keys named their order: nothing to finish, start over.
            None => store::release_key(c, user_id, key)?,
        }
    }
    let course =
        catalog_store::find_course(c, &req.course_id)?.ok_or(OrderError::NotFound("course"))?;
    if course.status != "published" {
        return Err(OrderError::Conflict("this course is not on sale".into()));
    }
    if course.price_minor == 0 {
        return Err(OrderError::Conflict(
            "this course is free: enrol with POST /api/v1/courses/{id}/enroll".into(),
        ));
    }
    if course.instructor_id == user_id {
        return Err(OrderError::Conflict(
            "you cannot buy your own course".into(),
        ));
    }
    if entitlements::has_active(c, user_id, &course.id)? {
        return Err(OrderError::Conflict("you already own this course".into()));
    }
    if let Some(pending) = store::pending_order_for(c, user_id, &course.id)? {
        if is_orphan(c, cfg, &pending, now)? {
            return Ok(Begun::Orphan(Box::new(pending)));
        }
        return Err(OrderError::Conflict(format!(
            "order {} for this course is already awaiting payment; pay or cancel it",
            pending.id
        )));
    }
    let price = Money::new(course.price_minor, parse_currency(&course.currency)?)
        .map_err(|e| OrderError::Unexpected(e.into()))?;
    let coupon = match req
        .coupon
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(code) => {
            let row = store::find_coupon(c, &code.to_uppercase())?
                .ok_or_else(|| OrderError::Invalid(format!("unknown coupon {code:?}")))?;
            let used_by_user = store::coupon_uses_by(c, &row.id, user_id)?;
            let off = coupon_terms(&row)?.discount_for(
                &course.id,
                price,
                now,
                row.redemptions,
                used_by_user,
            )?;
            Some((row, off))
        }
        None => None,
    };
    let discount = coupon
        .as_ref()
        .map_or(Money::zero(price.currency()), |(_, off)| *off);
    let due =
        domain::amount_due(price, discount).map_err(|e| OrderError::Invalid(e.to_string()))?;
    let order_id = uuid::Uuid::now_v7().to_string();
    if !store::claim_key(c, user_id, key, hash, &order_id, lease_from(now, cfg)?)? {
        return Err(OrderError::InProgress);
    }
    let ttl =
        chrono::Duration::from_std(cfg.order_ttl).map_err(|e| OrderError::Unexpected(e.into()))?;
    let order = OrderRow {
        id: order_id,
        user_id: user_id.to_owned(),
        course_id: course.id.clone(),
        instructor_id: course.instructor_id.clone(),
        status: OrderStatus::PendingPayment.as_str().into(),
        list_price_minor: price.minor(),
        discount_minor: discount.minor(),
        amount_minor: due.minor(),
        refunded_minor: 0,
        currency: price.currency().to_string(),
        coupon_code: coupon.as_ref().map(|(row, _)| row.code.clone()),
        fee_bps: i32::try_from(cfg.fee_bps).unwrap_or(2000),
        payment_id: None,
        payment_status: "none".into(),
        expires_at: now + ttl,
        paid_at: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_order(c, &order)?;
    if let Some((row, _)) = &coupon {
        store::reserve_coupon(c, row, user_id, &order.id)??;
    }
    store::audit(
        c,
        "order",
        &order.id,
        None,
        order.status.as_str(),
        "checkout",
    )?;
    Ok(Begun::Work(Box::new(order)))
}

/// The rule-relevant part of a stored coupon.
pub fn coupon_terms(row: &CouponRow) -> Result<CouponTerms, OrderError> {
    let discount = match (row.percent_bps, row.amount_minor, row.currency.as_deref()) {
        (Some(bps), None, _) => Discount::Percent(u32::try_from(bps).unwrap_or(0)),
        (None, Some(minor), Some(cur)) => Discount::Fixed(
            Money::new(minor, parse_currency(cur)?)
                .map_err(|e| OrderError::Unexpected(e.into()))?,
        ),
        _ => {
            return Err(OrderError::Unexpected(anyhow::anyhow!(
                "coupon {} is malformed",
                row.code
            )));
        }
    };
    Ok(CouponTerms {
        discount,
        course_id: row.course_id.clone(),
        expires_at: row.expires_at,
        max_redemptions: row.max_redemptions,
        max_per_user: row.max_per_user,
    })
}

/// Marks an order paid with everything that goes with it: entitlement, ledger, behaviour event,
/// audit. Does nothing when the order is already paid (a repeated confirmation).
fn complete_payment(
    c: &mut DbConnection,
    order: &OrderRow,
    cause: &str,
) -> Result<bool, OrderError> {
    let current = store::find_order(c, &order.id)?.ok_or(OrderError::NotFound("order"))?;
    let from = status_of(&current)?;
    if !from.can_become(OrderStatus::Paid) {
        return Ok(false);
    }
    if !store::set_status(c, &order.id, from.as_str(), OrderStatus::Paid.as_str())? {
        return Err(OrderError::Conflict(
            "the order changed concurrently; retry".into(),
        ));
    }
    entitlements::grant(
        c,
        &order.user_id,
        &order.course_id,
        EntitlementSource::Order,
        Some(&order.id),
    )?;
    let currency = parse_currency(&order.currency)?;
    let as_money =
        |minor| Money::new(minor, currency).map_err(|e| OrderError::Unexpected(e.into()));
    let lines = posting::sale(
        as_money(order.list_price_minor)?,
        as_money(order.amount_minor)?,
        &order.instructor_id,
        u32::try_from(order.fee_bps).unwrap_or(0),
    )
    .map_err(|e| OrderError::Unexpected(e.into()))?;
    ledger::post(c, "sale", &order.id, &order.currency, &lines)?;
    events::record(
        c,
        &order.user_id,
        &order.course_id,
        EventKind::Purchase,
        EventKind::Purchase.default_weight(),
    )?;
    store::audit(
        c,
        "order",
        &order.id,
        Some(from.as_str()),
        OrderStatus::Paid.as_str(),
        cause,
    )?;
    Ok(true)
}

/// Applies a provider event. The event id is recorded in the same transaction as its effect, so
/// a redelivery (even a concurrent one) is a no-op.
pub fn apply_event(
    conn: &mut DbConnection,
    event: &ProviderEvent,
) -> Result<EventOutcome, OrderError> {
    db::write_transaction(conn, |c| {
        if !store::first_sighting(c, &event.id, &event.kind)? {
            return Ok(EventOutcome::Duplicate);
        }
        let p = &event.data.payment;
        let order = store::find_order(c, &p.reference)?.ok_or(OrderError::UnknownOrder)?;
        if order.payment_id.as_deref() != Some(p.id.as_str()) {
            return Err(OrderError::EventMismatch("payment id".into()));
        }
        if p.amount_minor != order.amount_minor || p.currency != order.currency {
            tracing::error!(order = %order.id, "provider event amount or currency differs from the order");
            return Err(OrderError::EventMismatch("amount or currency".into()));
        }
        let settled = order.payment_status == ProviderStatus::Succeeded.as_str();
        match event.kind.as_str() {
            "payment.succeeded" => {
                if !settled {
                    store::set_payment(c, &order.id, None, ProviderStatus::Succeeded.as_str())?;
                    store::audit(
                        c,
                        "payment",
                        &p.id,
                        Some(&order.payment_status),
                        "succeeded",
                        &event.kind,
                    )?;
                }
                let applied = complete_payment(c, &order, "payment succeeded")?;
                Ok(if applied || !settled {
                    EventOutcome::Applied
                } else {
                    EventOutcome::Ignored
                })
            }
            "payment.failed" | "payment.requires_action" | "payment.canceled" if !settled => {
                store::set_payment(c, &order.id, None, p.status.as_str())?;
                store::audit(
                    c,
                    "payment",
                    &p.id,
                    Some(&order.payment_status),
                    p.status.as_str(),
                    &event.kind,
                )?;
                Ok(EventOutcome::Applied)
            }
            "refund.succeeded" => {
                let Some(reported) = &event.data.refund else {
                    return Ok(EventOutcome::Ignored);
                };
                match store::find_refund(c, &reported.id)? {
                    Some(r)
                        if r.order_id != order.id || r.amount_minor != reported.amount_minor =>
                    {
                        Err(OrderError::EventMismatch("refund".into()))
                    }
                    Some(_) if land_refund(c, &reported.id, &event.kind)? => {
                        Ok(EventOutcome::Applied)
                    }
                    _ => Ok(EventOutcome::Ignored),
                }
            }
            _ => Ok(EventOutcome::Ignored),
        }
    })
}

/// Provider events for orders: their references are order ids (UUIDs), which no other sink
/// makes.
pub struct OrderSink;

impl EventSink for OrderSink {
    fn claims(&self, reference: &str) -> bool {
        uuid::Uuid::parse_str(reference).is_ok()
    }

    fn key(&self, _: &mut DbConnection, reference: &str) -> Result<String, ApiError> {
        Ok(format!("order:{reference}"))
    }

    fn apply(
        &self,
        conn: &mut DbConnection,
        _: &dyn PaymentProvider,
        event: &ProviderEvent,
    ) -> Result<EventOutcome, ApiError> {
        Ok(apply_event(conn, event)?)
    }
}

/// Loads an order visible to the caller: its buyer or an admin.
fn visible_order(
    c: &mut DbConnection,
    order_id: &str,
    user_id: &str,
    role: Role,
) -> Result<OrderRow, OrderError> {
    match store::find_order(c, order_id)? {
        Some(o) if o.user_id == user_id || role == Role::Admin => Ok(o),
        _ => Err(OrderError::NotFound("order")),
    }
}

/// The order, for its buyer or an admin.
pub fn get_order(
    conn: &mut DbConnection,
    order_id: &str,
    user_id: &str,
    role: Role,
) -> Result<OrderView, OrderError> {
    let row = visible_order(conn, order_id, user_id, role)?;
    view(conn, &row)
}

/// The caller's orders, newest first.
pub fn my_orders(
    conn: &mut DbConnection,
    user_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<OrderView>, OrderError> {
    let rows = store::orders_of(conn, user_id, limit, offset)?;
    views(conn, &rows)
}

/// An order as administrators list it: the order and who bought it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderView {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// The buyer's user id.
    pub buyer_id: String,
    /// The buyer's display name.
    pub buyer_name: String,
}

/// Every buyer's orders, newest first, of `status` if given (admins only; the route checks).
pub fn all_orders(
    conn: &mut DbConnection,
    status: Option<OrderStatus>,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminOrderView>, OrderError> {
    let rows = store::all_orders(conn, status.map(OrderStatus::as_str), limit, offset)?;
    let buyers: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    let names = catalog_store::names_for(conn, &buyers)?;
    let orders = views(conn, &rows)?;
    Ok(rows
        .iter()
        .zip(orders)
        .map(|(row, order)| AdminOrderView {
            order,
            buyer_id: row.user_id.clone(),
            buyer_name: names.get(&row.user_id).cloned().unwrap_or_default(),
        })
        .collect())
}

/// Releases the payment of a closed order and records its new status. A payment that was
/// captured meanwhile cannot be released: its success webhook makes the order paid, so access
/// follows the charge.
fn release_payment(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    order_id: &str,
    payment_id: &str,
    known_status: &str,
    cause: &str,
) -> Result<(), OrderError> {
    match provider.release(payment_id) {
        Ok(p) if p.status.as_str() != known_status => db::write_transaction(conn, |c| {
            store::set_payment(c, order_id, None, p.status.as_str())?;
            store::audit(
                c,
                "payment",
                payment_id,
                Some(known_status),
                p.status.as_str(),
                cause,
            )
            .map_err(OrderError::from)
        }),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(order = order_id, error = %e, "could not release payment");
            Ok(())
        }
    }
}

/// Releases whatever provider payment a closed order has: the linked one, or one a crashed
/// checkout created but never linked — found by asking the provider to create the order's
/// payment, which is idempotent per order (it answers the existing one).
fn release_order_payment(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    order: &OrderRow,
    cause: &str,
) -> Result<(), OrderError> {
    let (payment_id, known) = match &order.payment_id {
        Some(id) => (id.clone(), order.payment_status.clone()),
        None if order.amount_minor == 0 => return Ok(()),
        None => {
            let amount = Money::new(order.amount_minor, parse_currency(&order.currency)?)
                .map_err(|e| OrderError::Unexpected(e.into()))?;
            match provider.create_payment(
                &order.id,
                &order.user_id,
                amount,
                CaptureMethod::Automatic,
            ) {
                Ok(p) => {
                    db::write_transaction(conn, |c| link_payment(c, &order.id, &p))?;
                    (p.id, p.status.as_str().to_owned())
                }
                Err(e) => {
                    tracing::warn!(order = %order.id, error = %e, "could not look up an unlinked payment");
                    return Ok(());
                }
            }
        }
    };
    release_payment(conn, provider, &order.id, &payment_id, &known, cause)
}

/// Moves a pending order to `to` with its coupon use given back and the unanswered key that
/// created it forgotten (a retry with it starts over); false when it was no longer pending.
fn close_in(
    c: &mut DbConnection,
    order_id: &str,
    to: OrderStatus,
    cause: &str,
) -> Result<bool, OrderError> {
    if !store::set_status(
        c,
        order_id,
        OrderStatus::PendingPayment.as_str(),
        to.as_str(),
    )? {
        return Ok(false);
    }
    store::release_coupon(c, order_id)?;
    store::release_unanswered_key_of(c, order_id)?;
    store::audit(
        c,
        "order",
        order_id,
        Some("pending_payment"),
        to.as_str(),
        cause,
    )?;
    Ok(true)
}

/// Ends an unpaid order: `to` is `Cancelled` (by the buyer) or `Expired` (by the sweep). The
/// coupon use is given back and the provider payment released.
fn close_unpaid(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    order: &OrderRow,
    to: OrderStatus,
    cause: &str,
) -> Result<bool, OrderError> {
    let moved = db::write_transaction(conn, |c| close_in(c, &order.id, to, cause))?;
    if moved {
        release_order_payment(conn, provider, order, cause)?;
    }
    Ok(moved)
}

/// Cancels a dead checkout's order (see [`is_orphan`], checked again in the closing
/// transaction so a retry that just took it over keeps it) and releases any payment it
/// created but never linked; false when it was not an orphan (any more).
fn abandon(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &CommerceConfig,
    order_id: &str,
) -> Result<bool, OrderError> {
    let cause = "abandoned: its checkout stopped before linking a payment";
    let closed = db::write_transaction(conn, |c| -> Result<Option<OrderRow>, OrderError> {
        let Some(order) = store::find_order(c, order_id)? else {
            return Ok(None);
        };
        if !is_orphan(c, cfg, &order, db::now())?
            || !close_in(c, order_id, OrderStatus::Cancelled, cause)?
        {
            return Ok(None);
        }
        Ok(Some(order))
    })?;
    match closed {
        Some(order) => {
            release_order_payment(conn, provider, &order, cause)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// What one pass of the order sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Unpaid orders whose time ran out.
    pub expired: usize,
    /// Dead checkouts' orders closed (and their unlinked payments released).
    pub abandoned: usize,
    /// Refund intents left pending by a dead request and landed now.
    pub refunds_landed: usize,
}

/// The order sweep (run at start and on an interval): expires unpaid orders, closes dead
/// checkouts, and reconciles refund intents older than a lease with the provider.
pub fn sweep(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &CommerceConfig,
) -> Result<SweepReport, OrderError> {
    let mut report = SweepReport {
        expired: expire_due(conn, provider)?,
        ..SweepReport::default()
    };
    let cutoff = db::now() - chrono::Duration::from_std(cfg.lease).unwrap_or_default();
    for id in store::unlinked_pending(conn, cutoff, 100)? {
        if abandon(conn, provider, cfg, &id)? {
            report.abandoned += 1;
        }
    }
    for intent in store::stale_pending_refunds(conn, cutoff, 100)? {
        match carry_out_refund(conn, provider, &intent) {
            Ok(true) => report.refunds_landed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(refund = %intent.id, error = %e, "refund reconciliation failed")
            }
        }
    }
    Ok(report)
}

/// The buyer (or an admin) cancels an order that is still awaiting payment.
pub fn cancel(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    order_id: &str,
    user_id: &str,
    role: Role,
) -> Result<OrderView, OrderError> {
    let order = visible_order(conn, order_id, user_id, role)?;
    if status_of(&order)? != OrderStatus::PendingPayment
        || !close_unpaid(
            conn,
            provider,
            &order,
            OrderStatus::Cancelled,
            "cancelled by user",
        )?
    {
        return Err(OrderError::Conflict(format!(
            "an order that is {} cannot be cancelled",
            order.status
        )));
    }
    get_order(conn, order_id, user_id, role)
}

/// Expires unpaid orders whose time ran out; returns how many.
pub fn expire_due(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
) -> Result<usize, OrderError> {
    let mut expired = 0;
    for id in store::expired_pending(conn, db::now(), 100)? {
        if let Some(order) = store::find_order(conn, &id)?
            && close_unpaid(
                conn,
                provider,
                &order,
                OrderStatus::Expired,
                "not paid in time",
            )?
        {
            expired += 1;
        }
    }
    Ok(expired)
}

/// `POST /orders/{id}/refund` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Amount to give back; omitted means everything that remains. Learners may only ask for
    /// a full refund.
    #[serde(default)]
    #[schema(minimum = 1, minimum = 1)]
    pub amount_minor: Option<i64>,
    /// Why (1–500 characters).
    #[schema(min_length = 1, max_length = 500, min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Refunds an order: the buyer in full within the refund window, an admin any amount up to
/// what remains. A full refund revokes the entitlement and withdraws the buyer's review; the
/// ledger reverses fee and earning. The intent is recorded before the provider is called, so a
/// crash after the provider gave the money back loses nothing: a retry carries out the refund
/// in flight (and a full refund asked again of a refunded order answers it), the provider's
/// `refund.succeeded` webhook and the sweep land it too — exactly once.
pub fn refund(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &CommerceConfig,
    order_id: &str,
    user_id: &str,
    role: Role,
    req: &RefundRequest,
) -> Result<OrderView, OrderError> {
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(OrderError::Invalid(
            "reason must be 1 to 500 characters".into(),
        ));
    }
    let intent = db::write_transaction(conn, |c| -> Result<Option<RefundRow>, OrderError> {
        let order = visible_order(c, order_id, user_id, role)?;
        if let Some(in_flight) = store::pending_refund_of(c, &order.id)? {
            return Ok(Some(in_flight));
        }
        let status = status_of(&order)?;
        if status == OrderStatus::Refunded && req.amount_minor.is_none() {
            return Ok(None);
        }
        let remaining = order.amount_minor - order.refunded_minor;
        if !status.is_refundable() || remaining <= 0 {
            return Err(OrderError::Conflict(format!(
                "an order that is {} cannot be refunded",
                order.status
            )));
        }
        let amount = req.amount_minor.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            return Err(OrderError::Invalid(format!(
                "amount_minor must be between 1 and {remaining}, what remains of this payment"
            )));
        }
        if role != Role::Admin {
            if status != OrderStatus::Paid || amount != remaining {
                return Err(OrderError::Forbidden(
                    "learners may only ask for a full refund".into(),
                ));
            }
            let window = chrono::Duration::from_std(cfg.refund_window)
                .map_err(|e| OrderError::Unexpected(e.into()))?;
            if order.paid_at.is_none_or(|at| db::now() > at + window) {
                return Err(OrderError::Conflict(
                    "the refund window for this order has closed".into(),
                ));
            }
        }
        let now = db::now();
        let row = RefundRow {
            id: uuid::Uuid::now_v7().to_string(),
            order_id: order.id.clone(),
            amount_minor: amount,
            reason: reason.to_owned(),
            requested_by: user_id.to_owned(),
            provider_refund_id: None,
            status: RefundStatus::Pending.as_str().into(),
            created_at: now,
            updated_at: now,
        };
        match store::insert_refund(c, &row) {
            Err(e) if db::is_unique_violation(&e) => {
                return Err(OrderError::Conflict(
                    "a refund of this order is already in progress".into(),
                ));
            }
            other => other?,
        }
        store::audit(
            c,
            "refund",
            &row.id,
            None,
            RefundStatus::Pending.as_str(),
            reason,
        )?;
        Ok(Some(row))
    })?;
    if let Some(intent) = intent {
        carry_out_refund(conn, provider, &intent)?;
    }
    get_order(conn, order_id, user_id, role)
}

/// Asks the provider for a recorded refund (idempotent: the refund's id is the provider's
/// refund key) and lands it. A refusal marks it failed; an unreachable provider leaves it
/// pending for the next attempt. True when this call landed it.
fn carry_out_refund(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    intent: &RefundRow,
) -> Result<bool, OrderError> {
    let order = store::find_order(conn, &intent.order_id)?.ok_or(OrderError::NotFound("order"))?;
    let amount = Money::new(intent.amount_minor, parse_currency(&order.currency)?)
        .map_err(|e| OrderError::Unexpected(e.into()))?;
    let result = order
        .payment_id
        .as_deref()
        .ok_or_else(|| OrderError::Conflict("this order has no payment to refund".into()))
        .and_then(|pid| {
            provider
                .refund(pid, amount, &intent.id)
                .map_err(OrderError::from)
        });
    match result {
        Ok(_) => {
            failpoint::hit(Point::RefundAfterProvider);
            db::write_transaction(conn, |c| land_refund(c, &intent.id, "provider refunded"))
        }
        Err(e @ OrderError::Provider(ProviderError::Unavailable(_))) => Err(e),
        Err(e) => {
            db::write_transaction(conn, |c| -> Result<(), OrderError> {
                if store::transition_refund(
                    c,
                    &intent.id,
                    RefundStatus::Pending,
                    RefundStatus::Failed,
                )? {
                    store::audit(
                        c,
                        "refund",
                        &intent.id,
                        Some(RefundStatus::Pending.as_str()),
                        RefundStatus::Failed.as_str(),
                        &e.to_string(),
                    )?;
                }
                Ok(())
            })?;
            Err(e)
        }
    }
}

/// Books a refund the provider made: order total and state, ledger reversal, and on a full
/// refund the entitlement revoked, the review withdrawn and a behaviour event — with audit
/// rows. Runs in the caller's transaction; the conditional move `pending → succeeded` makes
/// it happen once whoever calls it (request, webhook, sweep). False when it had landed.
fn land_refund(c: &mut DbConnection, refund_id: &str, cause: &str) -> Result<bool, OrderError> {
    let Some(refund) = store::find_refund(c, refund_id)? else {
        return Ok(false);
    };
    if !store::transition_refund(c, refund_id, RefundStatus::Pending, RefundStatus::Succeeded)? {
        return Ok(false);
    }
    if !store::add_refunded(c, &refund.order_id, refund.amount_minor)? {
        return Err(OrderError::Unexpected(anyhow::anyhow!(
            "refund {refund_id} does not fit its order {}",
            refund.order_id
        )));
    }
    let order = store::find_order(c, &refund.order_id)?.ok_or(OrderError::NotFound("order"))?;
    let from = status_of(&order)?;
    let to = if order.refunded_minor >= order.amount_minor {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    if !from.can_become(to) || !store::set_status(c, &order.id, from.as_str(), to.as_str())? {
        return Err(OrderError::Conflict(
            "the order changed concurrently".into(),
        ));
    }
    let currency = parse_currency(&order.currency)?;
    let as_money =
        |minor| Money::new(minor, currency).map_err(|e| OrderError::Unexpected(e.into()));
    let lines = posting::refund(
        as_money(refund.amount_minor)?,
        as_money(order.refunded_minor - refund.amount_minor)?,
        &order.instructor_id,
        u32::try_from(order.fee_bps).unwrap_or(0),
    )
    .map_err(|e| OrderError::Unexpected(e.into()))?;
    ledger::post(c, "refund", &order.id, &order.currency, &lines)?;
    if to == OrderStatus::Refunded {
        entitlements::revoke_for_order(c, &order.id)?;
        crate::catalog::service::withdraw_review(c, &order.course_id, &order.user_id)?;
        events::record(
            c,
            &order.user_id,
            &order.course_id,
            EventKind::Refund,
            EventKind::Refund.default_weight(),
        )?;
    }
    store::audit(
        c,
        "refund",
        refund_id,
        Some(RefundStatus::Pending.as_str()),
        RefundStatus::Succeeded.as_str(),
        cause,
    )?;
    store::audit(
        c,
        "order",
        &order.id,
        Some(from.as_str()),
        to.as_str(),
        &refund.reason,
    )?;
    Ok(true)
}

/// Earnings from before this moment can no longer be taken back by a learner's refund, so
/// they are ready to pay out.
pub fn payout_cutoff(refund_window: Duration) -> NaiveDateTime {
    db::now() - chrono::Duration::from_std(refund_window).unwrap_or_default()
}
