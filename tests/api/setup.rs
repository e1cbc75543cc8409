//! First-run setup and the web app's routing: setup works only on an empty database and only
//! once (also when two requests race), and client routes get the app shell while API paths
//! keep their JSON 404s.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, spawn_app};

backend_tests!(
    first_admin_is_created_once_even_when_racing,
    demo_load_shows_accounts_and_a_live_session,
    setup_is_closed_once_anyone_registered,
    client_routes_get_the_shell_and_api_misses_stay_json,
);

async fn first_admin_is_created_once_even_when_racing(backend: Backend) {
    let app = spawn_app(backend).await;
    let open = app
        .get("/api/v1/setup", None)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(open["open"], true);
    let body = |n: u32| json!({"email": format!("root{n}@example.org"), "password": PASSWORD, "display_name": "Root"});
    let (first, second) = (body(1), body(2));
    let (a, b) = tokio::join!(
        app.post_json("/api/v1/setup/admin", &first),
        app.post_json("/api/v1/setup/admin", &second),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let winner = if a.status() == 201 { 1 } else { 2 };
    let login = app
        .login(&format!("root{winner}@example.org"), PASSWORD)
        .await;
    assert_eq!(login.status(), 200);
    let login: serde_json::Value = login.json().await.unwrap();
    assert_eq!(login["user"]["role"], "admin");
    let closed = app
        .get("/api/v1/setup", None)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(closed["open"], false);
    let demo = app
        .request(reqwest::Method::POST, "/api/v1/setup/demo")
        .send()
        .await
        .unwrap();
    assert_eq!(demo.status(), 409);
    let err: serde_json::Value = demo.json().await.unwrap();
    assert_eq!(err["error"]["code"], "conflict");
}

async fn demo_load_shows_accounts_and_a_live_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .request(reqwest::Method::POST, "/api/v1/setup/demo")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let demo: serde_json::Value = resp.json().await.unwrap();
    let password = demo["password"].as_str().unwrap();
    let admin = demo["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "admin")
        .expect("an admin account");
    let login = app.login(admin["email"].as_str().unwrap(), password).await;
    assert_eq!(login.status(), 200);
    assert!(
        !demo["live_sessions"].as_array().unwrap().is_empty(),
        "{demo}"
    );
    let catalog: serde_json::Value = app.get("/api/v1/courses", None).await.json().await.unwrap();
    assert!(catalog["total"].as_i64().unwrap() > 0);
    let again = app
        .request(reqwest::Method::POST, "/api/v1/setup/demo")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
}

async fn setup_is_closed_once_anyone_registered(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("early@example.org").await;
    let status: serde_json::Value = app.get("/api/v1/setup", None).await.json().await.unwrap();
    assert_eq!(status["open"], false);
    let body = json!({"email": "root@example.org", "password": PASSWORD, "display_name": "Root"});
    assert_eq!(
        app.post_json("/api/v1/setup/admin", &body).await.status(),
        409
    );
    assert_eq!(app.login("root@example.org", PASSWORD).await.status(), 401);
}

async fn client_routes_get_the_shell_and_api_misses_stay_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let shell = app.get("/courses/some-id", None).await;
    assert_eq!(shell.status(), 200);
    assert!(
        shell.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(shell.text().await.unwrap().contains("/js/app.js"));
    for path in ["/api/v1/nope", "/js/missing.js", "/api"] {
        let resp = app.get(path, None).await;
        assert_eq!(resp.status(), 404, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let js = app.get("/js/app.js", None).await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
            || js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/javascript")
    );
}
