//! Role management by administrators.

use reqwest::Method;
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, spawn_app};

backend_tests!(
    admin_changes_a_role_and_it_shows_after_the_next_login,
    only_admins_may_manage_users,
    bad_role_changes_are_refused_and_change_nothing,
    the_last_admin_cannot_be_demoted,
    admins_list_and_search_users,
);

async fn put_role(app: &TestApp, token: &str, user_id: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, &format!("/api/v1/admin/users/{user_id}/role"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn admin_changes_a_role_and_it_shows_after_the_next_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user_with_role("root@example.org", Role::Admin).await;
    let learner = app.register("teach@example.org").await;
    let resp = put_role(
        &app,
        &admin.access_token,
        &learner.id,
        json!({"role": "instructor"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["role"], "instructor");

    let login: Value = app
        .login("teach@example.org", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["role"], "instructor");
    let me: Value = app
        .get("/api/v1/me", login["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "instructor");
}

async fn only_admins_may_manage_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let learner = app.register("l@example.org").await;
    let instructor = app.user_with_role("i@example.org", Role::Instructor).await;
    for token in [&learner.access_token, &instructor.access_token] {
        let resp = put_role(&app, token, &learner.id, json!({"role": "admin"})).await;
        assert_error(resp, 403, "forbidden").await;
        assert_error(
            app.get("/api/v1/admin/users", Some(token)).await,
            403,
            "forbidden",
        )
        .await;
    }
    let resp = app
        .request(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/role", learner.id),
        )
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthorized").await;
    let me: Value = app
        .get("/api/v1/me", Some(&learner.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "learner", "nothing changed");
}

async fn bad_role_changes_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user_with_role("root@example.org", Role::Admin).await;
    let learner = app.register("l@example.org").await;
    let t = &admin.access_token;
    assert_error(
        put_role(&app, t, &learner.id, json!({"role": "superuser"})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        put_role(&app, t, &learner.id, json!({"role": 3})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        put_role(&app, t, &learner.id, json!({})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        put_role(
            &app,
            t,
            &learner.id,
            json!({"role": "admin", "extra": true}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        put_role(&app, t, "no-such-user", json!({"role": "admin"})).await,
        404,
        "not_found",
    )
    .await;
    let me: Value = app
        .get("/api/v1/me", Some(&learner.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "learner");
}

async fn the_last_admin_cannot_be_demoted(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user_with_role("root@example.org", Role::Admin).await;
    let resp = put_role(
        &app,
        &admin.access_token,
        &admin.id,
        json!({"role": "learner"}),
    )
    .await;
    assert_error(resp, 409, "conflict").await;
    let second = app.user_with_role("root2@example.org", Role::Admin).await;
    let resp = put_role(
        &app,
        &admin.access_token,
        &second.id,
        json!({"role": "learner"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

async fn admins_list_and_search_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user_with_role("root@example.org", Role::Admin).await;
    for name in ["ann", "bob", "annika"] {
        app.register(&format!("{name}@example.org")).await;
    }
    let t = Some(admin.access_token.as_str());
    let all: Value = app
        .get("/api/v1/admin/users", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let anns: Value = app
        .get("/api/v1/admin/users?email=ANN", t)
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = anns["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.iter().all(|e| e.starts_with("ann")));
    // LIKE wildcards in the filter are literal characters.
    let none: Value = app
        .get("/api/v1/admin/users?email=%25", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let page: Value = app
        .get("/api/v1/admin/users?limit=1&offset=1", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["limit"], 1);
    for bad in ["limit=0", "limit=201", "offset=-1", "limit=abc"] {
        let resp = app.get(&format!("/api/v1/admin/users?{bad}"), t).await;
        assert_error(resp, 400, "validation_failed").await;
    }
}
