//! Operations endpoints (`/healthz`, `/readyz`, `/metrics`) and the HTTP middleware every
//! request passes through: request metrics, the request-id header, and the rewrite of any non-JSON error into the documented error shape.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Secret;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody, error_response};
use crate::realtime::room::RoomCount;
use crate::realtime::session::Realtime;

/// `/healthz` and `/readyz` answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// Database backend in use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// Rooms open on this node (readiness only: the realtime layer answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms: Option<usize>,
}

/// The process is up and serving HTTP; says nothing about its dependencies.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Process is up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        database: None,
        rooms: None,
    })
}

/// Ready for traffic: the database answers, every migration is applied and the realtime layer
/// answers (with the number of rooms open on this node).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is not ready", body = ErrorBody),
    ))]
pub async fn readyz(
    db: web::Data<Db>,
    realtime: web::Data<Realtime>,
) -> Result<HttpResponse, ApiError> {
    let checked = db.clone().into_inner();
    let ready = tokio::task::spawn_blocking(move || checked.is_ready()).await;
    let rooms = realtime
        .rooms
        .send(RoomCount)
        .await
        .map_err(|e| ApiError::Unavailable(format!("realtime layer not ready: {e}")))?;
    match ready {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(Health {
            status: "ready",
            version: env!("CARGO_PKG_VERSION"),
            database: Some(db.backend()),
            rooms: Some(rooms),
        })),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("database not ready: {e}"))),
        Err(e) => Err(ApiError::Unavailable(format!(
            "readiness check failed: {e}"
        ))),
    }
}

/// Who may read `/metrics`, which tells an outsider how busy the node is and where it hurts.
#[derive(Clone)]
pub struct MetricsAccess {
    token: Option<Secret>,
}

impl MetricsAccess {
    /// With a token, requests bearing it; without, local clients only.
    pub fn new(token: Option<Secret>) -> Self {
        Self { token }
    }

    /// A request bearing the token may read; without a token configured, a client on this
    /// machine that came through no proxy (a proxy on the same host would make every client
    /// look local, and proxies say so with `Forwarded` or `X-Forwarded-For`).
    pub fn allows(&self, peer: Option<IpAddr>, bearer: Option<&str>, proxied: bool) -> bool {
        match &self.token {
            Some(token) => bearer.is_some_and(|b| same_secret(b, token.expose())),
            None => !proxied && peer.is_some_and(|ip| ip.is_loopback()),
        }
    }
}

/// Compares without stopping at the first difference, so timing tells nothing about the token.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Prometheus text exposition: request counts and latency by route, DB pool state. Open to
/// local clients, or to any bearing `LYCEUM_METRICS_TOKEN` when it is set.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "Not a local client and no valid metrics token", body = ErrorBody),
    ))]
pub async fn metrics(
    req: HttpRequest,
    db: web::Data<Db>,
    handle: web::Data<PrometheusHandle>,
    access: web::Data<MetricsAccess>,
) -> Result<HttpResponse, ApiError> {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let proxied =
        headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-for");
    if !access.allows(req.peer_addr().map(|a| a.ip()), bearer, proxied) {
        return Err(ApiError::Unauthorized(
            "metrics need LYCEUM_METRICS_TOKEN as a bearer token".into(),
        ));
    }
    let (open, idle) = db.state();
    metrics::gauge!("db_pool_connections", "backend" => db.backend()).set(f64::from(open));
    metrics::gauge!("db_pool_idle_connections", "backend" => db.backend()).set(f64::from(idle));
    handle.run_upkeep();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render()))
}

/// Counts every request by method, matched route pattern and status, and records its latency.
/// The route pattern (not the raw path) keeps label cardinality bounded.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    Ok(res)
}

/// Echoes the request id of the tracing span as `x-request-id`, so a client report can be
/// matched to log lines.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// The page's Content-Security-Policy: everything from this origin only, no inline script or
/// style, no framing. The web app in `static/` is written to it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'self'; form-action 'self'";

/// Adds the security headers to every response, page or API: the CSP, no MIME sniffing, no
/// referrer leaking URLs (with their ids) to other sites, and no framing (clickjacking).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(res)
}

/// A stable code for an error status produced outside our handlers (by actix itself).
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

/// Rewrites an error response that is not already JSON (actix's own plain-text errors) into the
/// documented shape, keeping its status and headers such as `Allow` and `Retry-After`.
pub fn ensure_json_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let message = old
        .error()
        .map(|e| e.to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let mut new = error_response(status, code_for_status(status), &message);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const REMOTE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

    #[test]
    fn without_a_token_only_unproxied_local_clients_read_metrics() {
        let open = MetricsAccess::new(None);
        assert!(open.allows(LOCAL, None, false));
        assert!(
            !open.allows(LOCAL, None, true),
            "a local proxy forwards outsiders"
        );
        assert!(!open.allows(REMOTE, None, false));
        assert!(!open.allows(None, None, false));
    }

    #[test]
    fn with_a_token_only_its_bearers_read_metrics() {
        let guarded = MetricsAccess::new(Some(Secret::new("scrape-me-please")));
        assert!(guarded.allows(REMOTE, Some("scrape-me-please"), true));
        assert!(
            !guarded.allows(LOCAL, None, false),
            "the token binds local clients too"
        );
        assert!(!guarded.allows(REMOTE, Some("scrape-me-pleasE"), false));
        assert!(!guarded.allows(REMOTE, Some("scrape-me"), false));
    }
}
