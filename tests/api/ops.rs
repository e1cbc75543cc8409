//! Health, readiness, metrics, the OpenAPI document, the static page and graceful shutdown.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, spawn_app};

backend_tests!(
    health_and_readiness,
    metrics_count_requests_and_show_the_pool,
    openapi_covers_every_route,
    index_page_is_served_and_links_the_spec,
    graceful_stop_refuses_new_connections,
    every_response_carries_the_security_headers,
);

async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/", "/api/v1/courses", "/no/such/route", "/healthz"] {
        let resp = app.get(path, None).await;
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    assert_eq!(ready["database"], expected);
}

async fn metrics_count_requests_and_show_the_pool(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/healthz", None).await;
    app.get("/api/v1/me", None).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/me",status="401""#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("db_pool_connections"), "{text}");
}

async fn openapi_covers_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = lyceum::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
}

async fn index_page_is_served_and_links_the_spec(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app.get("/", None).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("Lyceum"));
    assert!(html.contains("href=\"/openapi.json\""));
}

async fn graceful_stop_refuses_new_connections(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    app.stop().await;
    let fresh = reqwest::Client::new();
    let after = fresh.get(format!("{}/healthz", app.address)).send().await;
    assert!(after.is_err(), "server still answering after stop");
}
