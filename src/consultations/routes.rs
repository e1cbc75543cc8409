//! HTTP handlers for bookings: parse, run the booking rules through the order actor (so money
//! commands for one booking never overlap), shape the answer.

use actix::Addr;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::bookings::{self, Booked, BookingRow, ConsultConfig, Span};
use super::experts;
use crate::accounts::AuthUser;
use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::orders::actor::{Command, OrderActor};
use crate::orders::routes::run;
use crate::orders::service::OrderError;

/// `POST /experts/{id}/bookings` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// Start (RFC 3339), on a 5-minute boundary, inside the expert's availability.
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<Utc>,
    /// Length: a multiple of 5 between the expert's minimum and maximum.
    #[schema(minimum = 1, maximum = 240)]
    pub minutes: i64,
}

/// Books an expert. The price (minutes × rate) is held on the learner's card: confirm the
/// returned payment (sandbox: `POST /sandbox/payments/{id}/confirm`) and the booking becomes
/// `confirmed`. The same request again while unpaid returns the same booking.
#[utoipa::path(post, path = "/api/v1/experts/{id}/bookings", tag = "consultations",
    security(("bearer" = [])), request_body = BookingRequest,
    params(("id" = String, Path, description = "Expert (user) id")),
    responses(
        (status = 201, description = "Booked; confirm the payment", body = Booked),
        (status = 400, description = "Invalid length or start", body = ErrorBody),
        (status = 404, description = "No such expert", body = ErrorBody),
        (status = 409, description = "Not available or already booked", body = ErrorBody),
    ))]
pub async fn book(
    orders: web::Data<Addr<OrderActor>>,
    cfg: web::Data<ConsultConfig>,
    clock: web::Data<dyn Clock>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    let (expert_id, body) = (path.into_inner(), body.into_inner());
    let (cfg, now) = (cfg.into_inner(), clock.now());
    let span = Span {
        start: body.starts_at,
        minutes: body.minutes,
    };
    let key = format!("expert:{expert_id}");
    let booked = run(
        &orders,
        Command::new(key, move |c, p, _| {
            if let Some(again) =
                bookings::retry_of_same_booking(c, &user, &expert_id, span.start, span.minutes)
            {
                return again;
            }
            let terms = experts::bookable(c, &expert_id, span.start, span.minutes)
                .map_err(expert_refusal)?;
            bookings::book(c, p, &cfg, &user, &terms, span, now)
        }),
    )
    .await?;
    Ok(HttpResponse::Created().json(booked))
}

/// An expert-side refusal carried through the order actor with the same status.
pub fn expert_refusal(e: experts::ExpertError) -> OrderError {
    use experts::ExpertError as E;
    match e {
        E::Invalid(m) => OrderError::Invalid(m),
        E::NotFound(w) => OrderError::NotFound(w),
        E::Forbidden(m) => OrderError::Forbidden(m),
        E::Unavailable(m) => OrderError::Conflict(m),
        E::Db(e) => OrderError::Db(e),
    }
}

/// One booking, for its learner, its expert and admins.
#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "consultations",
    security(("bearer" = [])), params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, description = "Booking", body = BookingRow),
        (status = 404, description = "No such booking", body = ErrorBody)))]
pub async fn show(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = db.run(move |c| bookings::visible(c, &user, &id)).await?;
    Ok(HttpResponse::Ok().json(b))
}

/// The caller's bookings, as learner and as expert.
#[utoipa::path(get, path = "/api/v1/me/bookings", tag = "consultations",
    security(("bearer" = [])),
    responses((status = 200, description = "Bookings, soonest first, with both parties' names",
        body = Vec<bookings::NamedBooking>)))]
pub async fn mine(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let rows = db
        .run(move |c| bookings::mine_named(c, &user.id).map_err(OrderError::from))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// The expert declines: the booking ends and the learner's money is released.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/decline", tag = "consultations",
    security(("bearer" = [])), params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, description = "Declined", body = BookingRow),
        (status = 403, description = "Not the expert", body = ErrorBody),
        (status = 409, description = "Already started or ended", body = ErrorBody)))]
pub async fn decline(
    orders: web::Data<Addr<OrderActor>>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let key = format!("booking:{id}");
    let b = run(
        &orders,
        Command::new(key, move |c, p, _| bookings::decline(c, p, &user, &id)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(b))
}

/// The learner's cancellation quote: whether cancelling now is late and what it would cost
/// (`LYCEUM_CONSULT_CANCEL_NOTICE_HOURS`, `LYCEUM_CONSULT_LATE_CANCEL_FEE_BPS`). Changes nothing.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/cancellation", tag = "consultations",
    security(("bearer" = [])), params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, description = "What cancelling now costs", body = bookings::CancelQuote),
        (status = 403, description = "Not the learner", body = ErrorBody),
        (status = 404, description = "No such booking", body = ErrorBody)))]
pub async fn cancellation(
    db: web::Data<Db>,
    cfg: web::Data<ConsultConfig>,
    clock: web::Data<dyn Clock>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (cfg, now) = (cfg.into_inner(), clock.now());
    let quote = db
        .run(move |c| {
            let b = bookings::visible(c, &user, &id)?;
            bookings::cancel_quote(&cfg, &user, b, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(quote))
}

/// The learner cancels: free until the notice period before the start, then the late fee is
/// captured and the rest released.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", tag = "consultations",
    security(("bearer" = [])), params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, description = "Cancelled", body = BookingRow),
        (status = 403, description = "Not the learner", body = ErrorBody),
        (status = 409, description = "Already started or ended", body = ErrorBody)))]
pub async fn cancel(
    orders: web::Data<Addr<OrderActor>>,
    cfg: web::Data<ConsultConfig>,
    clock: web::Data<dyn Clock>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (cfg, now) = (cfg.into_inner(), clock.now());
    let key = format!("booking:{id}");
    let b = run(
        &orders,
        Command::new(key, move |c, p, _| {
            bookings::cancel(c, p, &cfg, &user, &id, now)
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(b))
}
