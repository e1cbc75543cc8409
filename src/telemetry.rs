//! Logs and metrics: a `tracing` subscriber (text or JSON lines) and the process-wide
//! Prometheus recorder rendered at `/metrics`.

use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::{Error, HttpMessage};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

/// Our `info`, without the HNSW library's per-build chatter (its summaries are our metrics).
pub const DEFAULT_FILTER: &str = "info,hnsw_rs=warn,anndists=warn";

/// Installs the global subscriber. `LYCEUM_LOG` (or `RUST_LOG`) sets the filter, default
/// [`DEFAULT_FILTER`]; `LYCEUM_LOG_FORMAT=json` switches to one JSON object per line. Calling it twice is
/// harmless, so tests may call it from every test.
pub fn init_tracing() {
    let filter = std::env::var("LYCEUM_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let json = std::env::var("LYCEUM_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // `try_init` fails only when a subscriber is already installed, which is fine.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Latency buckets in seconds, from 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder; the `metrics` facade has one global recorder, so every
/// server in the process (tests start many) shares it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            handle
        })
        .clone()
}

/// Test-binary logging: silent unless `TEST_LOG` is set, so test output stays readable.
pub fn init_tracing_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init_tracing();
    }
}

/// Request spans without secrets: the query's `token` (how browsers authenticate `/ws`) would
/// otherwise be written to the log by every event inside the request, a failed upgrade
/// included, so it is replaced before the span is made. The other fields follow
/// tracing-actix-web's defaults.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redacted_target(request.uri()),
            http.client_ip = %request.connection_info().realip_remote_addr().unwrap_or(""),
            http.status_code = Empty,
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Query parameters whose values never reach the log.
const SECRET_PARAMS: &[&str] = &["token", "access_token", "refresh_token"];

/// The path and query of `uri` with the values of [`SECRET_PARAMS`] replaced by `REDACTED`.
pub fn redacted_target(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            if SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                format!("{name}=REDACTED")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_query_are_redacted_and_the_rest_kept() {
        let uri: Uri = "/ws?token=eyJ.abc.def&since=4&Access_Token=x"
            .parse()
            .unwrap();
        assert_eq!(
            redacted_target(&uri),
            "/ws?token=REDACTED&since=4&Access_Token=REDACTED"
        );
        let plain: Uri = "/api/v1/courses?q=rust".parse().unwrap();
        assert_eq!(redacted_target(&plain), "/api/v1/courses?q=rust");
        assert_eq!(redacted_target(&"/healthz".parse().unwrap()), "/healthz");
    }
}
