//! Hostile and malformed requests all get the documented JSON error and change nothing.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, assert_error, spawn_app, spawn_app_with};

backend_tests!(
    malformed_bodies_get_json_errors,
    oversized_bodies_are_413,
    unknown_routes_and_methods_get_json_errors,
);

async fn malformed_bodies_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let post_raw = |body: &'static str, ct: Option<&'static str>| {
        let mut req = app
            .request(Method::POST, "/api/v1/auth/register")
            .body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let json_ct = Some("application/json");
    assert_error(
        post_raw("{bad", json_ct).await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(post_raw("", json_ct).await.unwrap(), 400, "invalid_json").await;
    assert_error(
        post_raw("[1,2]", json_ct).await.unwrap(),
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        post_raw("null", json_ct).await.unwrap(),
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        post_raw(r#"{"email":1,"password":"x","display_name":"y"}"#, json_ct)
            .await
            .unwrap(),
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        post_raw("{\"email\":\"a@b.org\"}", json_ct).await.unwrap(),
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        post_raw("{\"a\":1}", Some("text/plain")).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        post_raw("{\"a\":1}", None).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    // Unknown fields are refused rather than silently dropped.
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "x@example.org", "password": PASSWORD, "display_name": "X", "role": "admin"}),
        )
        .await;
    assert_error(resp, 400, "validation_failed").await;
    // None of it created an account.
    assert_error(
        app.login("x@example.org", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;
}

async fn oversized_bodies_are_413(backend: Backend) {
    let app = spawn_app_with(backend, &[("LYCEUM_MAX_BODY_BYTES", "1024")]).await;
    let huge =
        json!({"email": "big@example.org", "password": "p".repeat(4096), "display_name": "Big"});
    assert_error(
        app.post_json("/api/v1/auth/register", &huge).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_error(
        app.login("big@example.org", &"p".repeat(4096)).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_error(
        app.login("big@example.org", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;
}

async fn unknown_routes_and_methods_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(
        app.get("/api/v1/no-such-thing", None).await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.get("/no/such/file.txt", None).await, 404, "not_found").await;
    // A client route outside the API gets the app shell, never a file from outside static/.
    let shell = app.get("/../../etc/passwd", None).await;
    assert_eq!(shell.status(), 200);
    let page = shell.text().await.unwrap();
    assert!(page.contains("<html") && !page.contains("root:"), "{page}");
    let resp = app
        .request(Method::DELETE, "/api/v1/me")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "GET");
    assert_error(resp, 405, "method_not_allowed").await;
    let resp = app
        .request(Method::GET, "/api/v1/auth/login")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "POST");
    assert_error(resp, 405, "method_not_allowed").await;
    let resp = app.request(Method::POST, "/").send().await.unwrap();
    assert_error(resp, 404, "not_found").await;
}
