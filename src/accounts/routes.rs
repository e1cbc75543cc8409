//! HTTP handlers for accounts: parse the body into domain types, call one service function on
//! the blocking pool, shape the answer.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::AuthUser;
use super::domain::Role;
use super::hashing::Hasher;
use super::revocation::Revocations;
use super::service::{self, IssuedTokens, NewAccount, User};
use super::throttle::LoginThrottle;
use super::tokens::TokenKeys;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::pagination::{Page, PageQuery};

/// `POST /auth/register` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Login address; must be unique.
    #[schema(format = Email, max_length = 254, format = Email, max_length = 254)]
    pub email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 1024, min_length = 10, max_length = 1024)]
    pub password: String,
    /// 1–64 characters, shown to others.
    #[schema(min_length = 1, max_length = 64, min_length = 1, max_length = 64)]
    pub display_name: String,
}

/// `POST /auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login address.
    pub email: String,
    /// The password.
    pub password: String,
}

/// `POST /auth/refresh` and `POST /auth/logout` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last register, login or refresh.
    pub refresh_token: String,
}

/// A user as clients see them.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// Stable id.
    pub id: String,
    /// Lower-cased email.
    pub email: String,
    /// Public name.
    pub display_name: String,
    /// Current role.
    pub role: Role,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            role: u.role,
            created_at: u.created_at.and_utc(),
        }
    }
}

/// Tokens for a signed-in session.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Bearer token for `Authorization`, short-lived.
    pub access_token: String,
    /// Single-use token for `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// Who signed in.
    pub user: UserView,
}

fn token_response(issued: IssuedTokens, keys: &TokenKeys) -> TokenResponse {
    tracing::Span::current().record("user_id", issued.user.id.as_str());
    TokenResponse {
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer",
        expires_in: keys.access_ttl.as_secs(),
        user: issued.user.into(),
    }
}

/// Creates a learner account and signs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = TokenResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 503, description = "Password hashing saturated; retry shortly", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn register(
    db: web::Data<Db>,
    keys: web::Data<TokenKeys>,
    hasher: web::Data<Hasher>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewAccount::parse(&body.email, &body.password, &body.display_name)?;
    let issued = service::register(&db, &hasher, keys.clone().into_inner(), new).await?;
    Ok(HttpResponse::Created().json(token_response(issued, &keys)))
}

/// Exchanges email and password for tokens. Repeated failures for one account or one client
/// address are answered with 429 and `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
        (status = 503, description = "Password hashing saturated; retry shortly", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login(
    req: HttpRequest,
    db: web::Data<Db>,
    keys: web::Data<TokenKeys>,
    throttle: web::Data<LoginThrottle>,
    hasher: web::Data<Hasher>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = req.peer_addr().map(|a| a.ip());
    let LoginRequest { email, password } = body.into_inner();
    let k = keys.clone().into_inner();
    let issued = service::login(&db, &hasher, k, &throttle, &email, password, client).await?;
    Ok(HttpResponse::Ok().json(token_response(issued, &keys)))
}

/// Rotates a refresh token: the presented one is spent and a new pair is issued. Presenting a
/// spent token again revokes every token of that session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "accounts",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused token", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn refresh(
    db: web::Data<Db>,
    keys: web::Data<TokenKeys>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (k, raw) = (keys.clone().into_inner(), body.into_inner().refresh_token);
    let issued = db.run(move |c| service::refresh(c, &k, &raw)).await?;
    Ok(HttpResponse::Ok().json(token_response(issued, &keys)))
}

/// Ends the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Unknown token", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn logout(
    db: web::Data<Db>,
    revocations: web::Data<Revocations>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let raw = body.into_inner().refresh_token;
    db.run(move |c| service::logout(c, &raw)).await?;
    revocations.nudge();
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn me(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let found = db.run(move |c| service::get_user(c, &user.id)).await;
    match found {
        Ok(u) => Ok(HttpResponse::Ok().json(UserView::from(u))),
        // The token is valid but its account is gone: that is a credentials problem.
        Err(service::AccountError::UserNotFound) => Err(ApiError::Unauthorized(
            "the account no longer exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `GET /admin/users` filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only users whose email contains this text.
    pub email: Option<String>,
}

/// A user as administrators list them: the account and whether it is disabled.
#[derive(Serialize, ToSchema)]
pub struct ListedUser {
    /// The account.
    #[serde(flatten)]
    pub user: UserView,
    /// True when an administrator disabled it (`PUT /admin/users/{id}/disabled`).
    pub disabled: bool,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    /// The users, newest first.
    pub items: Vec<ListedUser>,
    /// The limit applied.
    pub limit: i64,
    /// The offset applied.
    pub offset: i64,
}

/// Lists users (admins only), newest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(UserFilter, PageQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list_users(
    db: web::Data<Db>,
    user: AuthUser,
    filter: web::Query<UserFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let page = Page::parse(&page)?;
    let needle = filter
        .into_inner()
        .email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let users = db
        .run(move |c| service::list_users(c, needle.as_deref(), page.limit, page.offset))
        .await?;
    Ok(HttpResponse::Ok().json(UserList {
        items: users
            .into_iter()
            .map(|(u, disabled)| ListedUser {
                user: UserView::from(u),
                disabled,
            })
            .collect(),
        limit: page.limit,
        offset: page.offset,
    }))
}

/// `PUT /admin/users/{id}/role` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `learner`, `instructor` or `admin`.
    #[schema(value_type = Role, value_type = Role)]
    pub role: String,
}

/// `PUT /admin/users/{id}/disabled` body, and its answer.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountAccess {
    /// True to disable the account (every session ends, sockets close, sign-in is refused);
    /// false to let it sign in again.
    pub disabled: bool,
}

/// Disables or enables an account (admins only). Idempotent. Admins must be demoted first.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/disabled", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = AccountAccess,
    responses(
        (status = 200, description = "The account's access now", body = AccountAccess),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The account is an admin's", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn set_disabled(
    db: web::Data<Db>,
    revocations: web::Data<Revocations>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<AccountAccess>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let (target, disabled, by) = (path.into_inner(), body.disabled, user.id.clone());
    let log_target = target.clone();
    let disabled = db
        .run(move |c| service::set_disabled(c, &by, &target, disabled))
        .await?;
    revocations.nudge();
    tracing::info!(target = %log_target, disabled, "account access changed");
    Ok(HttpResponse::Ok().json(AccountAccess { disabled }))
}

/// Changes a user's role (admins only). The last admin cannot be demoted.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/role", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 400, description = "Unknown role", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Would remove the last admin, or make a disabled account an admin", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn change_role(
    db: web::Data<Db>,
    revocations: web::Data<Revocations>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let role: Role = body.role.parse().map_err(ApiError::Validation)?;
    let target = path.into_inner();
    let updated = db
        .run(move |c| service::change_role(c, &target, role))
        .await?;
    revocations.nudge();
    tracing::info!(target = %updated.id, role = %role, "role changed");
    Ok(HttpResponse::Ok().json(UserView::from(updated)))
}
