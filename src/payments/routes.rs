//! The sandbox provider's payer-facing endpoints — what a card processor's hosted payment page
//! would do: show a payment, confirm it with a test card, complete the extra confirmation step.
//! The payment id acts as the client secret, as with real processors.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ProviderPayment;
use super::provider::ProviderError;
use super::sandbox::Sandbox;
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

/// Runs a blocking sandbox call off the async threads.
async fn call<F>(sandbox: &web::Data<Sandbox>, f: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&Sandbox) -> Result<ProviderPayment, ProviderError> + Send + 'static,
{
    let sandbox = sandbox.clone().into_inner();
    let payment = tokio::task::spawn_blocking(move || f(&sandbox))
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))??;
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

/// Pays with a test card. The outcome reaches the order through a signed webhook.
#[utoipa::path(post, path = "/api/v1/sandbox/payments/{id}/confirm", tag = "payments",
    params(("id" = String, Path, description = "Provider payment id")),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "Processed; see status"),
        (status = 404, description = "Unknown payment", body = ErrorBody),
        (status = 409, description = "Invalid card or payment not confirmable", body = ErrorBody),
    ))]
pub async fn confirm(
    sandbox: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Json<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, card) = (path.into_inner(), body.into_inner().card_number);
    call(&sandbox, move |s| s.confirm(&id, &card)).await
}

/// `authenticate` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// Whether the payer passed the extra step.
    pub approve: bool,
}

/// Completes (or fails) the 3-D Secure step a card asked for.
#[utoipa::path(post, path = "/api/v1/sandbox/payments/{id}/authenticate", tag = "payments",
    params(("id" = String, Path, description = "Provider payment id")),
    request_body = AuthenticateRequest,
    responses(
        (status = 200, description = "Processed; see status"),
        (status = 409, description = "No action required", body = ErrorBody),
    ))]
pub async fn authenticate(
    sandbox: web::Data<Sandbox>,
    path: web::Path<String>,
    body: web::Json<AuthenticateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, approve) = (path.into_inner(), body.approve);
    call(&sandbox, move |s| s.authenticate(&id, approve)).await
}
