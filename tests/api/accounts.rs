//! Register, login, refresh, logout and `/me`, good paths and bad.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, assert_error, spawn_app, spawn_app_with};

backend_tests!(
    register_login_me_refresh_logout,
    registration_rules_reject_bad_input_and_write_nothing,
    duplicate_email_is_a_conflict_and_keeps_the_first_account,
    wrong_credentials_are_refused_alike,
    failed_logins_per_account_are_throttled,
    failed_logins_per_address_are_throttled,
    reused_refresh_token_revokes_the_whole_family,
    concurrent_refreshes_with_one_token_let_exactly_one_through,
    logout_revokes_and_is_idempotent,
    bad_bearer_tokens_are_refused,
    tokens_survive_a_restart_with_the_generated_secret,
    concurrent_sign_ups_and_writes_all_succeed,
);

/// Passwords are hashed outside the write transaction, so a burst of sign-ups does not hold
/// SQLite's write lock for argon2's time and no writer fails with `database is locked`.
async fn concurrent_sign_ups_and_writes_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let statuses = join_all((0..16).map(|i| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/register",
                &json!({"email": format!("burst{i}@example.org"), "password": PASSWORD,
                        "display_name": "Burst"}),
            )
            .await
            .status()
            .as_u16()
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let logins = join_all((0..16).map(|i| {
        let app = &app;
        async move {
            app.login(&format!("burst{i}@example.org"), PASSWORD)
                .await
                .status()
                .as_u16()
        }
    }))
    .await;
    assert!(logins.iter().all(|s| *s == 200), "{logins:?}");
}

async fn register_login_me_refresh_logout(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": " Ada@Example.org ", "password": PASSWORD, "display_name": " Ada "}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let reg: Value = resp.json().await.unwrap();
    assert_eq!(reg["token_type"], "Bearer");
    assert_eq!(reg["expires_in"], 900);
    assert_eq!(reg["user"]["email"], "ada@example.org");
    assert_eq!(reg["user"]["display_name"], "Ada");
    assert_eq!(reg["user"]["role"], "learner");

    let resp = app.login("ADA@example.org", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let login: Value = resp.json().await.unwrap();
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(login["user"]["id"], reg["user"]["id"]);

    let me: Value = app
        .get("/api/v1/me", Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], reg["user"]["id"]);
    assert_eq!(me["email"], "ada@example.org");
    assert!(me.get("password_hash").is_none());

    let resp = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let refreshed: Value = resp.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);
    let me = app
        .get("/api/v1/me", refreshed["access_token"].as_str())
        .await;
    assert_eq!(me.status(), 200);

    let resp = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    assert_error(resp, 401, "unauthorized").await;
}

async fn registration_rules_reject_bad_input_and_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        json!({"email": "not-an-email", "password": PASSWORD, "display_name": "A"}),
        json!({"email": "a@b", "password": PASSWORD, "display_name": "A"}),
        json!({"email": "x@example.org", "password": "short", "display_name": "A"}),
        json!({"email": "x@example.org", "password": "123456789", "display_name": "A"}),
        json!({"email": "x@example.org", "password": PASSWORD, "display_name": "   "}),
        json!({"email": "x@example.org", "password": PASSWORD, "display_name": "n".repeat(65)}),
        json!({"email": "x@example.org", "password": "p".repeat(2000), "display_name": "A"}),
    ];
    for body in &cases {
        let resp = app.post_json("/api/v1/auth/register", body).await;
        assert_error(resp, 400, "validation_failed").await;
    }
    // Every broken rule is reported at once.
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "bad", "password": "short", "display_name": ""}),
        )
        .await;
    let body = assert_error(resp, 400, "validation_failed").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("email") && msg.contains("password") && msg.contains("display_name"),
        "{msg}"
    );

    // Nothing was written: the address is still free and cannot log in.
    assert_error(
        app.login("x@example.org", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;
    app.register("x@example.org").await;
}

async fn duplicate_email_is_a_conflict_and_keeps_the_first_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("dup@example.org").await;
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "DUP@example.org", "password": "another password", "display_name": "B"}),
        )
        .await;
    assert_error(resp, 409, "conflict").await;
    assert_eq!(app.login("dup@example.org", PASSWORD).await.status(), 200);
    assert_error(
        app.login("dup@example.org", "another password").await,
        401,
        "unauthorized",
    )
    .await;
    let me: Value = app
        .get("/api/v1/me", Some(&first.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Test User");
}

async fn wrong_credentials_are_refused_alike(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("who@example.org").await;
    let wrong_pw = assert_error(
        app.login("who@example.org", "wrong password").await,
        401,
        "unauthorized",
    )
    .await;
    let no_user = assert_error(
        app.login("nobody@example.org", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(
        wrong_pw, no_user,
        "must not reveal whether the account exists"
    );
    assert_error(app.login("", "").await, 401, "unauthorized").await;
}

async fn failed_logins_per_account_are_throttled(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("LYCEUM_LOGIN_MAX_FAILURES", "3"),
            ("LYCEUM_LOGIN_MAX_FAILURES_PER_IP", "100"),
        ],
    )
    .await;
    app.register("target@example.org").await;
    app.register("bystander@example.org").await;
    // The guesses come from 127.0.0.1 (the shared client).
    for _ in 0..6 {
        let resp = app.login("TARGET@example.org ", "guess guess guess").await;
        assert!(matches!(resp.status().as_u16(), 401 | 429));
    }
    // Even the right password is refused from there now, with a Retry-After.
    let resp = app.login("target@example.org", PASSWORD).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    assert_error(resp, 429, "rate_limited").await;
    // Other accounts from the same address are unaffected.
    assert_eq!(
        app.login("bystander@example.org", PASSWORD).await.status(),
        200
    );
    // The owner, signing in from another address, is not locked out by the guesser.
    let owner = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let resp = owner
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"email": "target@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn failed_logins_per_address_are_throttled(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("LYCEUM_LOGIN_MAX_FAILURES", "100"),
            ("LYCEUM_LOGIN_MAX_FAILURES_PER_IP", "4"),
        ],
    )
    .await;
    app.register("victim@example.org").await;
    for i in 0..4 {
        let resp = app
            .login(&format!("spray{i}@example.org"), "password123456")
            .await;
        assert_error(resp, 401, "unauthorized").await;
    }
    let resp = app.login("victim@example.org", PASSWORD).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 429, "rate_limited").await;
}

async fn reused_refresh_token_revokes_the_whole_family(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("rot@example.org").await;
    let first = user.refresh_token.clone();
    let resp = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": first}))
        .await;
    assert_eq!(resp.status(), 200);
    let second: Value = resp.json().await.unwrap();

    // The spent token comes back (a thief replaying it): refused, and the family dies.
    let resp = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": first}))
        .await;
    assert_error(resp, 401, "unauthorized").await;
    let resp = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_error(resp, 401, "unauthorized").await;

    // Other sessions (another login) are a different family and live on.
    let other: Value = app
        .login("rot@example.org", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let resp = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

async fn concurrent_refreshes_with_one_token_let_exactly_one_through(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("race@example.org").await;
    let body = json!({"refresh_token": user.refresh_token});
    let attempts = (0..6).map(|_| app.post_json("/api/v1/auth/refresh", &body));
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

async fn logout_revokes_and_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("bye@example.org").await;
    let body = json!({"refresh_token": user.refresh_token});
    assert_eq!(
        app.post_json("/api/v1/auth/logout", &body).await.status(),
        204
    );
    assert_eq!(
        app.post_json("/api/v1/auth/logout", &body).await.status(),
        204
    );
    assert_error(
        app.post_json("/api/v1/auth/refresh", &body).await,
        401,
        "unauthorized",
    )
    .await;
    let unknown = json!({"refresh_token": "rt_not-a-real-token"});
    assert_error(
        app.post_json("/api/v1/auth/logout", &unknown).await,
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        app.post_json("/api/v1/auth/logout", &json!({})).await,
        400,
        "validation_failed",
    )
    .await;
}

async fn bad_bearer_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("tok@example.org").await;
    assert_error(app.get("/api/v1/me", None).await, 401, "unauthorized").await;
    assert_error(
        app.get("/api/v1/me", Some("garbage")).await,
        401,
        "unauthorized",
    )
    .await;
    let mut tampered = user.access_token.clone();
    tampered.insert(tampered.len() / 2, 'x');
    assert_error(
        app.get("/api/v1/me", Some(&tampered)).await,
        401,
        "unauthorized",
    )
    .await;
    // A refresh token is not an access token.
    assert_error(
        app.get("/api/v1/me", Some(&user.refresh_token)).await,
        401,
        "unauthorized",
    )
    .await;
    for header in ["Basic abc", "Bearer", "Bearer    ", "bearer"] {
        let resp = app
            .request(Method::GET, "/api/v1/me")
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "unauthorized").await;
    }
    // A token from a server with another secret is refused.
    let other = spawn_app_with(
        Backend::Sqlite,
        &[(
            "LYCEUM_JWT_SECRET",
            "a-completely-different-secret-0123456789",
        )],
    )
    .await;
    let foreign = other.register("tok@example.org").await;
    assert_error(
        app.get("/api/v1/me", Some(&foreign.access_token)).await,
        401,
        "unauthorized",
    )
    .await;
}

async fn tokens_survive_a_restart_with_the_generated_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("stay@example.org").await;
    app.stop().await;
    let restarted = crate::helpers::start(&app.database_url, &app.data_dir, &[]).await;
    let me = restarted.get("/api/v1/me", Some(&user.access_token)).await;
    assert_eq!(me.status(), 200);
    let resp = restarted
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(resp.status(), 200);
}
