//! Health, readiness, metrics, the OpenAPI document, the static page and graceful shutdown.

use std::collections::BTreeSet;

use std::time::Duration;

use serde_json::{Value, json};

use crate::backend_tests;
use crate::binary::Binary;
use crate::classroom::{class, connect_to, join, next_of, send};
use crate::helpers::{Backend, assert_error, spawn_app, spawn_app_with};
use lyceum::accounts::domain::Role;
use reqwest::Method;

backend_tests!(
    health_and_readiness,
    metrics_count_requests_and_show_the_pool,
    openapi_covers_every_route,
    every_route_answers_only_documented_statuses,
    index_page_is_served_and_links_the_spec,
    graceful_stop_refuses_new_connections,
    every_response_carries_the_security_headers,
    metrics_need_the_token_once_one_is_set,
    the_log_never_shows_a_token_and_the_data_is_private,
    sigterm_closes_sockets_with_1012_and_exits_without_waiting_out_the_timeout,
);

/// SIGTERM to the real binary with a client in a room: the client gets a 1012 close frame (not
/// a dropped connection), new connections are refused, the process exits cleanly long before
/// its (deliberately long) shutdown timeout, and what the room acknowledged is kept.
async fn sigterm_closes_sockets_with_1012_and_exits_without_waiting_out_the_timeout(
    backend: Backend,
) {
    let c = class(backend).await;
    let server = Binary::start(&c.app, &[("LYCEUM_SHUTDOWN_TIMEOUT_SECS", "120")], None).await;
    let mut ws = connect_to(&server.ws_url(""), &c.teacher.access_token).await;
    join(&mut ws, &c.room(), None).await;
    send(
        &mut ws,
        json!({"type": "chat", "room": c.room(), "text": "last words"}),
    )
    .await;
    next_of(&mut ws, "event").await;
    let address = server.address.clone();
    let stopping = std::time::Instant::now();
    server.terminate();
    let closed = next_of(&mut ws, "closed").await;
    assert_eq!(closed["code"], 1012, "{closed}");
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("exited without waiting out the 120 s shutdown timeout");
    assert!(status.success(), "clean exit: {status}");
    eprintln!("SIGTERM to exit with a room open: {:?}", stopping.elapsed());
    assert!(reqwest::get(format!("{address}/healthz")).await.is_err());
    let transcript: Value = c
        .app
        .get(
            &format!("/api/v1/live-sessions/{}/transcript", c.live),
            Some(&c.teacher.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        transcript.to_string().contains("last words"),
        "{transcript}"
    );
}

async fn metrics_need_the_token_once_one_is_set(backend: Backend) {
    let open = spawn_app(backend.clone()).await;
    let app = spawn_app_with(backend, &[("LYCEUM_METRICS_TOKEN", "a-long-scrape-token")]).await;
    assert_error(app.get("/metrics", None).await, 401, "unauthorized").await;
    assert_error(
        app.get("/metrics", Some("a-long-scrape-tokeN")).await,
        401,
        "unauthorized",
    )
    .await;
    let ok = app.get("/metrics", Some("a-long-scrape-token")).await;
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("http_requests_total"));
    // Without a token, a request a proxy forwarded is not local, even from loopback.
    let proxied = open
        .request(Method::GET, "/metrics")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_error(proxied, 401, "unauthorized").await;
    assert_eq!(open.get("/metrics", None).await.status(), 200);
}

/// The real binary at `info`: tokens in `/ws?token=` (a failed upgrade, a good one and a bad
/// one) never reach its log, and what it keeps on disk is the owner's alone.
async fn the_log_never_shows_a_token_and_the_data_is_private(backend: Backend) {
    let sqlite = matches!(backend, Backend::Sqlite);
    let app = spawn_app(backend).await;
    let user = app.register("logged@example.org").await;
    // As an earlier version left them: readable by everyone. The binary must tighten them.
    {
        use std::os::unix::fs::PermissionsExt;
        let open_to_all = |p: &std::path::Path, mode| {
            if p.exists() {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        };
        open_to_all(&app.data_dir, 0o755);
        open_to_all(&app.data_dir.join("lyceum.db"), 0o644);
    }
    let log_path = app.data_dir.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Binary::start(&app, &[("LYCEUM_LOG", "debug,hnsw_rs=warn")], Some(&log)).await;
    // A plain GET is a failed upgrade; a forged token is refused; the real one is accepted.
    let plain = app
        .client
        .get(format!("{}/ws?token={}", server.address, user.access_token))
        .send()
        .await
        .unwrap();
    assert!(plain.status().is_client_error());
    let forged = "eyJhbGciOiJIUzI1NiJ9.forged-secret-value.c2ln";
    let refused = tokio_tungstenite::connect_async(server.ws_url(&format!("/ws?token={forged}")));
    let _ = refused.await;
    let mut ws = connect_to(&server.ws_url(""), &user.access_token).await;
    ws.close(None).await.unwrap();
    drop(server);
    let written = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        written.contains("/ws?token=REDACTED"),
        "the requests are logged: {written}"
    );
    assert!(
        !written.contains(&user.access_token),
        "access token in the log"
    );
    assert!(
        !written.contains("forged-secret-value"),
        "forged token in the log"
    );
    if sqlite {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&app.data_dir), 0o700, "data dir");
        for entry in std::fs::read_dir(&app.data_dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("lyceum.db") || name.contains("secret") {
                assert_eq!(mode(&path), 0o600, "{name}");
            }
        }
    }
}

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

/// Probes every operation of the served spec the way a careless client would (no token, an
/// admin token, unknown ids, no body, a body that is not JSON) and checks each answer's status
/// is one the operation documents, with the error shape for every 4xx. Path parameters must
/// also be in the path template (a query parameter declared as `in: path` is not).
async fn every_route_answers_only_documented_statuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app
        .user_with_role("contract-admin@example.org", Role::Admin)
        .await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let mut undocumented = Vec::new();
    for (template, ops) in spec["paths"].as_object().unwrap() {
        if template == "/ws" {
            continue; // a WebSocket upgrade; docs/protocol.md and tests/api/realtime.rs cover it
        }
        for (method, op) in ops.as_object().unwrap() {
            let mut path = template.clone();
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = format!("{{{}}}", p["name"].as_str().unwrap());
                    assert!(
                        path.contains(&name),
                        "{method} {template}: {name} is not in the path"
                    );
                    path = path.replace(&name, "00000000-0000-0000-0000-000000000000");
                }
            }
            let documented = op["responses"].as_object().unwrap();
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            for token in [None, Some(admin.access_token.as_str())] {
                for body in [None, Some("not json")] {
                    let mut req = app.request(method.clone(), &path);
                    if let Some(t) = token {
                        req = req.bearer_auth(t);
                    }
                    if let Some(b) = body {
                        req = req.header("content-type", "application/json").body(b);
                    }
                    let resp = req.send().await.unwrap();
                    let status = resp.status();
                    if !documented.contains_key(status.as_str()) {
                        undocumented.push(format!(
                            "{method} {path} (token: {}, body: {body:?}) -> {status}",
                            token.is_some()
                        ));
                    } else if status.is_client_error() {
                        let err: Value = resp.json().await.unwrap();
                        assert!(err["error"]["code"].is_string(), "{method} {path}: {err}");
                    }
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented answers:\n{}",
        undocumented.join("\n")
    );
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
