//! The one error shape every HTTP failure leaves in: `{"error": {"code", "message"}}` with the
//! right status. Domain modules have their own error enums and convert into [`ApiError`]; the
//! cause chain of unexpected errors goes to the log, never to the client.

use std::fmt;

use actix_web::body::BoxBody;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;

/// Every way a request can fail, each with its status and stable `code`.
#[derive(thiserror::Error)]
pub enum ApiError {
    /// 400: the input does not satisfy a rule; the message says which.
    #[error("{0}")]
    Validation(String),
    /// 400: the body is not valid JSON or not the expected shape.
    #[error("{0}")]
    InvalidJson(String),
    /// 401: missing, malformed, expired or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (or no such route).
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("method not allowed; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        /// Methods the route accepts, for the `Allow` header.
        allowed: Vec<String>,
    },
    /// 402: the thing costs money; the client must pay through an order first.
    #[error("{0}")]
    PaymentRequired(String),
    /// 409: the request conflicts with current state (a duplicate, a race lost).
    #[error("{0}")]
    Conflict(String),
    /// 409 with a code more precise than `conflict`, for states a client must tell apart
    /// (a payment already confirmed vs one cancelled).
    #[error("{message}")]
    StateConflict {
        /// The stable code, e.g. `payment_canceled`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// 413: the body is larger than the configured limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: well-formed but cannot be processed (e.g. an idempotency key reused differently).
    #[error("{0}")]
    Unprocessable(String),
    /// 429: too many attempts; retry after the given number of seconds.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the client may try again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// 503: a dependency (the database) is not available right now. The text says which and
    /// why for the log; clients get a fixed message, because a dependency's error text (a
    /// driver's message, a query) is no business of theirs.
    #[error("a service this request needs is unavailable; try again shortly")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details are logged, not returned.
    #[error("internal error")]
    Unexpected(#[source] anyhow::Error),
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unexpected(e) => write!(f, "Unexpected({e:?})"),
            other => write!(f, "{}({other})", other.code()),
        }
    }
}

impl ApiError {
    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::InvalidJson(_) => "invalid_json",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PaymentRequired(_) => "payment_required",
            Self::Conflict(_) => "conflict",
            Self::StateConflict { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unprocessable(_) => "unprocessable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Unexpected(_) => "internal",
        }
    }

    /// Shorthand for a validation failure.
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }

    /// Shorthand for a missing thing.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Pool(_) | DbError::Connect { .. } => {
                Self::Unavailable(format!("database unavailable: {err}"))
            }
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        DbError::from(err).into()
    }
}

/// The JSON body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// `code` is stable for programs; `message` is for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case machine-readable code, e.g. `validation_failed`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Builds the documented error response for any status, code and message.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
        },
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Self::Conflict(_) | Self::StateConflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        match self {
            Self::Unexpected(cause) => tracing::error!(error = ?cause, "unexpected error"),
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "dependency unavailable"),
            _ => {}
        }
        let mut resp = error_response(self.status_code(), self.code(), &self.to_string());
        let headers = resp.headers_mut();
        match self {
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::MethodNotAllowed { allowed } => {
                if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                    headers.insert(header::ALLOW, v);
                }
            }
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}

/// JSON bodies: `application/json` required, size-limited, and every failure mapped to the
/// documented shape (415, 413, 400 `invalid_json` for syntax, 400 `validation_failed` for a
/// well-formed body of the wrong shape).
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            let api = match err {
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::PayloadTooLarge { limit },
                JsonPayloadError::Payload(PayloadError::Overflow) => {
                    ApiError::PayloadTooLarge { limit }
                }
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    ApiError::Validation(format!("invalid request body: {e}"))
                }
                JsonPayloadError::Deserialize(e) => {
                    ApiError::InvalidJson(format!("malformed JSON: {e}"))
                }
                other => ApiError::InvalidJson(format!("unreadable request body: {other}")),
            };
            api.into()
        })
}

/// Query strings that do not parse are a 400 `validation_failed`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::Validation(format!("invalid query: {err}")).into())
}

/// Path segments that do not parse name nothing that exists: 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _req| ApiError::NotFound(format!("{err}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_carries_retry_after() {
        let resp = ApiError::RateLimited {
            retry_after_secs: 42,
        }
        .error_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "42");
    }

    #[test]
    fn unavailable_dependencies_hide_their_cause() {
        let err = ApiError::Unavailable("ERROR: invalid byte sequence for encoding".into());
        assert!(!err.to_string().contains("byte sequence"), "{err}");
        assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn unexpected_errors_hide_their_cause() {
        let err = ApiError::Unexpected(anyhow::anyhow!("secret table name"));
        assert_eq!(err.to_string(), "internal error");
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
