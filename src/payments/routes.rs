//! The sandbox provider's payer-facing endpoints — what a card processor's hosted payment page
//! would do: show a payment, confirm it with a test card, complete the extra confirmation step.
//! Each payment is bound to its payer, as a real processor binds a client secret to its
//! customer: `confirm` and `authenticate` need the payer's bearer token, and for anyone else
//! (the payee included) the payment does not exist (404).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ProviderPayment;
use super::provider::ProviderError;
use super::sandbox::{PayerError, Sandbox};
use crate::accounts::AuthUser;
use crate::error::{ApiError, ErrorBody};

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::UnknownPayment(_) => ApiError::not_found("payment"),
            ProviderError::Invalid(m) => ApiError::Conflict(m),
            ProviderError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}

impl From<PayerError> for ApiError {
    fn from(e: PayerError) -> Self {
        let code = match e {
            PayerError::Card(m) => return ApiError::Validation(m),
            PayerError::Provider(p) => return p.into(),
            PayerError::AlreadyConfirmed => "payment_already_confirmed",
            PayerError::Canceled => "payment_canceled",
            PayerError::RequiresAction => "payment_requires_action",
            PayerError::NoActionRequired => "payment_no_action_required",
        };
        ApiError::StateConflict {
            code,
            message: e.to_string(),
        }
    }
}

/// Runs a blocking sandbox call off the async threads.
async fn call<F, E>(sandbox: &web::Data<Sandbox>, f: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&Sandbox) -> Result<ProviderPayment, E> + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let sandbox = sandbox.clone().into_inner();
    let payment = tokio::task::spawn_blocking(move || f(&sandbox))
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?
        .map_err(Into::into)?;
    Ok(HttpResponse::Ok().json(payment))
}

/// A sandbox payment.
#[utoipa::path(get, path = "/api/v1/sandbox/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "Provider payment id")),
    responses((status = 200, description = "The payment"), (status = 404, description = "Unknown", body = ErrorBody)))]
pub async fn show(
    sandbox: web::Data<Sandbox>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    call(&sandbox, move |s| s.get(&id)).await
}

/// `confirm` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// A test card number, e.g. `4242 4242 4242 4242` (see the sandbox's card table).
    pub card_number: String,
}

/// Pays with a test card, as the payment's payer (their bearer token). The outcome reaches the
/// order or booking through a signed webhook.
#[utoipa::path(post, path = "/api/v1/sandbox/payments/{id}/confirm", tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Provider payment id")),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "Processed; see status"),
        (status = 400, description = "Malformed card number (`validation_failed`)", body = ErrorBody),
        (status = 401, description = "No or invalid bearer token", body = ErrorBody),
        (status = 404, description = "Unknown payment, or not the caller's", body = ErrorBody),
        (status = 409, description = "Not confirmable: `payment_already_confirmed`, \
            `payment_canceled` or `payment_requires_action` (authenticate instead)", body = ErrorBody),
    ))]
pub async fn confirm(
    sandbox: web::Data<Sandbox>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, card) = (path.into_inner(), body.into_inner().card_number);
    call(&sandbox, move |s| s.confirm(&id, &user.id, &card)).await
}

/// `authenticate` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// Whether the payer passed the extra step.
    pub approve: bool,
}

/// Completes (or fails) the 3-D Secure step a card asked for, as the payment's payer.
#[utoipa::path(post, path = "/api/v1/sandbox/payments/{id}/authenticate", tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Provider payment id")),
    request_body = AuthenticateRequest,
    responses(
        (status = 200, description = "Processed; see status"),
        (status = 401, description = "No or invalid bearer token", body = ErrorBody),
        (status = 404, description = "Unknown payment, or not the caller's", body = ErrorBody),
        (status = 409, description = "No action required: `payment_already_confirmed`, \
            `payment_canceled` or `payment_no_action_required`", body = ErrorBody),
    ))]
pub async fn authenticate(
    sandbox: web::Data<Sandbox>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<AuthenticateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, approve) = (path.into_inner(), body.approve);
    call(&sandbox, move |s| s.authenticate(&id, &user.id, approve)).await
}
