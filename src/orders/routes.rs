//! HTTP handlers for orders and coupons. Every purchase command is sent to the order actor.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::actor::{Command, OrderActor};
use super::coupons::{self, CouponView, NewCoupon};
use super::domain::{self, OrderStatus};
use super::service::{self, AdminOrderView, CheckoutRequest, OrderView, RefundRequest};
use crate::accounts::revocation::Revocations;
use crate::accounts::{AuthUser, Role};
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::pagination::{Page, PageQuery};
use crate::payments::events::{EventOutcome, ProviderEvent};
use crate::payments::sinks::Sinks;

/// Sends a command to the order actor and waits for its answer.
pub async fn run<T: Send + 'static>(
    orders: &Addr<OrderActor>,
    cmd: Command<T>,
) -> Result<T, ApiError> {
    orders
        .send(cmd)
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("order actor unavailable: {e}")))?
        .map_err(ApiError::from)
}

/// Buys a course. Requires an `Idempotency-Key` header: the same key and body replay the first
/// answer, the same key with another body is a 422. The answer carries the payment to confirm.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Client-chosen key, 1-255 visible ASCII characters")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "Order created (or replayed)", body = OrderView),
        (status = 400, description = "Missing key or invalid body/coupon", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Not on sale, free, own course, already owned, pending order, coupon used up", body = ErrorBody),
        (status = 422, description = "Key reused with a different body", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn checkout(
    req: HttpRequest,
    orders: web::Data<Addr<OrderActor>>,
    user: AuthUser,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let raw_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let key = domain::parse_idempotency_key(raw_key).map_err(ApiError::Validation)?;
    let body = body.into_inner();
    let uid = user.id.clone();
    let stored = run(
        &orders,
        Command::new(format!("checkout:{}:{key}", user.id), move |c, p, cfg| {
            service::checkout(c, p, cfg, &uid, &key, &body)
        }),
    )
    .await?;
    let status = actix_web::http::StatusCode::from_u16(stored.status)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(stored.body))
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "Orders", body = Vec<OrderView>)))]
pub async fn list(
    db: web::Data<Db>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(&page)?;
    let orders = db
        .run(move |c| service::my_orders(c, &user.id, page.limit, page.offset))
        .await?;
    Ok(HttpResponse::Ok().json(orders))
}

/// `GET /admin/orders` filter.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
}

/// Every buyer's orders, newest first (admins only): where refunds and disputes start.
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin",
    security(("bearer" = [])), params(OrderFilter, PageQuery),
    responses(
        (status = 200, description = "Orders", body = Vec<AdminOrderView>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_all(
    db: web::Data<Db>,
    user: AuthUser,
    filter: web::Query<OrderFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let page = Page::parse(&page)?;
    let status = filter.into_inner().status;
    let orders = db
        .run(move |c| service::all_orders(c, status, page.limit, page.offset))
        .await?;
    Ok(HttpResponse::Ok().json(orders))
}

/// One order, for its buyer or an admin.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearer" = [])), params(("id" = String, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = OrderView), (status = 404, description = "Not found", body = ErrorBody)))]
pub async fn get(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let order = db
        .run(move |c| service::get_order(c, &id, &user.id, user.role))
        .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// Cancels an order that awaits payment; its payment is released.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    security(("bearer" = [])), params(("id" = String, Path, description = "Order id")),
    responses((status = 200, description = "Cancelled", body = OrderView), (status = 409, description = "Not pending", body = ErrorBody)))]
pub async fn cancel(
    orders: web::Data<Addr<OrderActor>>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let key = format!("order:{id}");
    let order = run(
        &orders,
        Command::new(key, move |c, p, _| {
            service::cancel(c, p, &id, &user.id, user.role)
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// Refunds an order: learners in full within the refund window, admins any part of what
/// remains. A full refund revokes access.
#[utoipa::path(post, path = "/api/v1/orders/{id}/refund", tag = "orders",
    security(("bearer" = [])), params(("id" = String, Path, description = "Order id")),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded", body = OrderView),
        (status = 400, description = "Bad amount or reason", body = ErrorBody),
        (status = 403, description = "Partial refund asked by a learner", body = ErrorBody),
        (status = 409, description = "Not refundable (state or window)", body = ErrorBody),
    ))]
pub async fn refund(
    orders: web::Data<Addr<OrderActor>>,
    revocations: web::Data<Revocations>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, body) = (path.into_inner(), body.into_inner());
    let key = format!("order:{id}");
    let order = run(
        &orders,
        Command::new(key, move |c, p, cfg| {
            service::refund(c, p, cfg, &id, &user.id, user.role, &body)
        }),
    )
    .await?;
    // A full refund logged the lost entitlement: this node's sockets learn it now, not at
    // the next poll.
    revocations.nudge();
    Ok(HttpResponse::Ok().json(order))
}

/// Creates a coupon: admins site-wide or for any course, instructors for their own courses.
#[utoipa::path(post, path = "/api/v1/coupons", tag = "orders",
    security(("bearer" = [])), request_body = NewCoupon,
    responses(
        (status = 201, description = "Created", body = CouponView),
        (status = 400, description = "Invalid", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such course (`course_id`)", body = ErrorBody),
        (status = 409, description = "Code taken", body = ErrorBody),
    ))]
pub async fn create_coupon(
    db: web::Data<Db>,
    user: AuthUser,
    body: web::Json<NewCoupon>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Instructor, Role::Admin])?;
    let body = body.into_inner();
    let coupon = db
        .run(move |c| coupons::create(c, &user.id, user.role, &body))
        .await?;
    Ok(HttpResponse::Created().json(coupon))
}

/// The caller's coupons (all coupons for admins).
#[utoipa::path(get, path = "/api/v1/coupons", tag = "orders",
    security(("bearer" = [])),
    responses((status = 200, description = "Coupons", body = Vec<CouponView>)))]
pub async fn list_coupons(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Instructor, Role::Admin])?;
    let list = db
        .run(move |c| coupons::list(c, &user.id, user.role))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// What the webhook endpoint answers.
#[derive(Serialize, ToSchema)]
pub struct WebhookAck {
    /// What processing the event did.
    pub outcome: EventOutcome,
}

/// Receives provider events. The signature (`Lyceum-Signature: t=…,v1=…`, HMAC-SHA256 over
/// `"{t}.{raw body}"`) is checked before anything is parsed; the event then goes to the sink
/// that claims its reference (orders, holds), under that sink's key in the order actor, so it
/// never runs beside another money command on the same subject. Events are processed once.
#[utoipa::path(post, path = "/api/v1/payments/webhook", tag = "payments",
    params(("Lyceum-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    request_body(content = String, content_type = "application/json", description = "The provider event"),
    responses(
        (status = 200, description = "Processed, duplicate or ignored", body = WebhookAck),
        (status = 400, description = "Malformed event", body = ErrorBody),
        (status = 401, description = "Bad or stale signature", body = ErrorBody),
        (status = 422, description = "Unknown order or mismatching amount", body = ErrorBody),
    ))]
pub async fn webhook(
    req: HttpRequest,
    orders: web::Data<Addr<OrderActor>>,
    db: web::Data<Db>,
    sinks: web::Data<Sinks>,
    secret: web::Data<crate::payments::WebhookSecret>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let header = req
        .headers()
        .get(crate::payments::signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    crate::payments::signature::verify(
        secret.bytes(),
        header,
        &body,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let event: ProviderEvent = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Validation(format!("malformed event: {e}")))?;
    let sink = sinks.claiming(&event.data.payment.reference)?;
    let key = {
        let (sink, reference) = (sink.clone(), event.data.payment.reference.clone());
        db.run(move |c| sink.key(c, &reference)).await?
    };
    let outcome = run(
        &orders,
        Command::new(key, move |c, p, _| Ok(sink.apply(c, p, &event))),
    )
    .await??;
    Ok(HttpResponse::Ok().json(WebhookAck { outcome }))
}
