//! Text PostgreSQL cannot store (NUL) is refused at the edge with 400 `validation_failed`,
//! wherever it enters and on both databases, and the request changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::catalog::course_body;
use crate::helpers::{Backend, PASSWORD, assert_error, spawn_app};
use lyceum::accounts::domain::Role;

backend_tests!(nul_anywhere_a_string_enters_is_a_400);

async fn nul_anywhere_a_string_enters_is_a_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let teacher = app
        .user_with_role("teacher@example.org", Role::Instructor)
        .await;
    let learner = app.register("learner@example.org").await;
    let mut nul_course = course_body("Null\u{0}Course", 500);
    nul_course["description"] = json!("has a \u{0} inside");
    let cases: Vec<(Method, &str, Option<&str>, Option<Value>)> = vec![
        // Unauthenticated: path, query, body.
        (Method::GET, "/api/v1/sandbox/payments/a%00b", None, None),
        (Method::GET, "/api/v1/courses/a%00b", None, None),
        (Method::GET, "/api/v1/courses?q=rust%00", None, None),
        (Method::GET, "/api/v1/experts?q=%00", None, None),
        (
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "a\u{0}@example.org", "password": PASSWORD})),
        ),
        (
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": "new@example.org", "password": PASSWORD,
                        "display_name": "Nul\u{0}"})),
        ),
        (
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": "rt_\u{0}"})),
        ),
        // Authenticated: path, query, body.
        (
            Method::GET,
            "/api/v1/orders/o%00",
            Some(&learner.access_token),
            None,
        ),
        (
            Method::GET,
            "/api/v1/bookings/b%00",
            Some(&learner.access_token),
            None,
        ),
        (
            Method::GET,
            "/api/v1/questions/q%00",
            Some(&learner.access_token),
            None,
        ),
        (
            Method::GET,
            "/api/v1/admin/users?email=%00",
            Some(&teacher.access_token),
            None,
        ),
        (
            Method::POST,
            "/api/v1/courses",
            Some(&teacher.access_token),
            Some(nul_course),
        ),
        (
            Method::POST,
            "/api/v1/orders",
            Some(&learner.access_token),
            Some(json!({"course_id": "c\u{0}"})),
        ),
        (
            Method::POST,
            "/api/v1/events",
            Some(&learner.access_token),
            Some(json!({"events": [{"kind": "view", "course_id": "\u{0}"}]})),
        ),
    ];
    for (method, path, token, body) in cases {
        let resp = app.send(method.clone(), path, token, body).await;
        let status = resp.status();
        assert_eq!(status, 400, "{method} {path}");
        let body = assert_error(resp, 400, "validation_failed").await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains("NUL"),
            "{body}"
        );
    }
    // Nothing was written: the refused registration left no account behind.
    let resp = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "new@example.org", "password": PASSWORD}),
        )
        .await;
    assert_error(resp, 401, "unauthorized").await;
    let list = app
        .get("/api/v1/me/courses/teaching", Some(&teacher.access_token))
        .await;
    assert_eq!(list.status(), 200);
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
}
