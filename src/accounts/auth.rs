//! The `AuthUser` extractor: a handler that takes one is reachable only with a valid bearer
//! access token, and gets the caller's id and role without touching the database.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::domain::Role;
use super::revocation::Revocations;
use super::tokens::TokenKeys;
use crate::error::ApiError;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// User id from the token's `sub`.
    pub id: String,
    /// Role when the token was issued (a token whose role changed since is refused).
    pub role: Role,
}

impl AuthUser {
    /// `Forbidden` unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
    }
}

/// Pulls the token out of `Authorization: Bearer <token>`.
pub fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("malformed Authorization header".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <token>".into(),
        ));
    }
    Ok(token.trim())
}

/// Verifies the request's bearer token and that nothing revoked it since.
fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("TokenKeys not registered")))?;
    let claims = keys
        .verify_access(bearer_token(req)?)
        .ok_or_else(|| ApiError::Unauthorized("invalid or expired access token".into()))?;
    // Logouts, role changes and disabled accounts end a token before its expiry; the view is
    // in memory, fed by the revocation log, so this costs no query.
    req.app_data::<web::Data<Revocations>>()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("Revocations not registered")))?
        .check(&claims)
        .map_err(|d| ApiError::Unauthorized(d.message().into()))?;
    tracing::Span::current().record("user_id", claims.sub.as_str());
    Ok(AuthUser {
        id: claims.sub,
        role: claims.role,
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// The caller on public routes that show more to signed-in users: `None` without an
/// `Authorization` header, the user with a valid token — and still a 401 for a token that is
/// present but invalid, so a client with an expired token learns to refresh instead of silently
/// seeing the anonymous view.
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if req.headers().contains_key(header::AUTHORIZATION) {
            authenticate(req).map(|u| Self(Some(u)))
        } else {
            Ok(Self(None))
        })
    }
}
