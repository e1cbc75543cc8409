//! The catalog over HTTP: course and lesson editing, the review flow, browse and search,
//! entitlement-gated lesson content, enrolment, reviews and behaviour events.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;
use lyceum::catalog::entitlements::{self, EntitlementSource};
use lyceum::catalog::events;
use lyceum::db::{DbError, write_transaction};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestUser, assert_error, spawn_app};

backend_tests!(
    instructors_create_and_edit_their_own_courses,
    invalid_course_input_is_refused_and_changes_nothing,
    lessons_are_ordered_and_edited_by_the_owner_only,
    the_status_flow_allows_only_legal_transitions,
    drafts_are_hidden_from_everyone_but_owner_and_admins,
    search_filters_sorts_and_paginates,
    bad_search_parameters_are_refused,
    lesson_content_is_gated_by_entitlement,
    paid_and_unpublished_courses_cannot_be_enrolled_for_free,
    entitlement_functions_work_inside_a_callers_transaction,
    reviews_need_an_entitlement_and_keep_aggregates_exact,
    concurrent_enrolments_and_reviews_keep_counts_exact,
);

/// Asserts `status` and returns the JSON body.
async fn json_of(resp: Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// A valid course body with this title and EUR price.
pub(crate) fn course_body(title: &str, price: i64) -> Value {
    json!({
        "title": title,
        "description": "A course about things.",
        "category": "programming",
        "tags": ["Rust"],
        "price": {"amount_minor": price, "currency": "EUR"},
        "level": "beginner",
        "language": "en"
    })
}

async fn create_course(app: &TestApp, owner: &TestUser, body: Value) -> Value {
    let resp = app
        .send(
            Method::POST,
            "/api/v1/courses",
            Some(&owner.access_token),
            Some(body),
        )
        .await;
    json_of(resp, 201).await
}

async fn add_lesson(app: &TestApp, owner: &TestUser, course: &str, body: Value) -> Value {
    let path = format!("/api/v1/courses/{course}/lessons");
    json_of(
        app.send(Method::POST, &path, Some(&owner.access_token), Some(body))
            .await,
        201,
    )
    .await
}

async fn action(app: &TestApp, who: &TestUser, course: &str, verb: &str) -> Response {
    let path = format!("/api/v1/courses/{course}/{verb}");
    app.send(Method::POST, &path, Some(&who.access_token), None)
        .await
}

/// Creates a course with one lesson (a free preview plus a locked one when `locked`), submits
/// it and has `admin` approve it; returns its id.
/// Creates a course with a free-preview and a paid lesson, submits it and has `admin` approve it.
pub(crate) async fn published(
    app: &TestApp,
    owner: &TestUser,
    admin: &TestUser,
    body: Value,
) -> String {
    let id = create_course(app, owner, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    add_lesson(
        app,
        owner,
        &id,
        json!({"title": "Preview", "body": "preview text", "free_preview": true, "duration_secs": 60}),
    )
    .await;
    add_lesson(
        app,
        owner,
        &id,
        json!({"title": "Paid part", "body": "secret text", "media_url": "https://v.example.org/2"}),
    )
    .await;
    json_of(action(app, owner, &id, "submit").await, 200).await;
    json_of(action(app, admin, &id, "approve").await, 200).await;
    id
}

async fn detail(app: &TestApp, id: &str, token: Option<&str>) -> Response {
    app.get(&format!("/api/v1/courses/{id}"), token).await
}

/// `GET /courses?{query}`, expecting 200.
async fn search(app: &TestApp, query: &str) -> Value {
    json_of(
        app.get(&format!("/api/v1/courses?{query}"), None).await,
        200,
    )
    .await
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

struct Cast {
    app: TestApp,
    admin: TestUser,
    teacher: TestUser,
    other_teacher: TestUser,
    learner: TestUser,
}

async fn cast(backend: Backend) -> Cast {
    let app = spawn_app(backend).await;
    let admin = app.user_with_role("admin@example.org", Role::Admin).await;
    let teacher = app
        .user_with_role("teacher@example.org", Role::Instructor)
        .await;
    let other_teacher = app
        .user_with_role("other@example.org", Role::Instructor)
        .await;
    let learner = app.register("learner@example.org").await;
    Cast {
        app,
        admin,
        teacher,
        other_teacher,
        learner,
    }
}

async fn instructors_create_and_edit_their_own_courses(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        other_teacher,
        learner,
    } = cast(backend).await;
    let mut body = course_body("  Rust for Beginners ", 0);
    body["tags"] = json!(["Rust", "rust", "Systems Programming"]);
    body["cover_image_url"] = json!("https://cdn.example.org/rust.png");
    let course = create_course(&app, &teacher, body).await;
    assert_eq!(course["title"], "Rust for Beginners");
    assert_eq!(course["status"], "draft");
    assert_eq!(course["tags"], json!(["rust", "systems-programming"]));
    assert_eq!(
        course["price"],
        json!({"amount_minor": 0, "currency": "EUR"})
    );
    assert_eq!(course["instructor"]["id"], teacher.id.as_str());
    let id = course["id"].as_str().unwrap();

    let learner_create = app
        .send(
            Method::POST,
            "/api/v1/courses",
            Some(&learner.access_token),
            Some(course_body("Mine", 0)),
        )
        .await;
    assert_error(learner_create, 403, "forbidden").await;

    let path = format!("/api/v1/courses/{id}");
    let edit = json!({"title": "Rust, Gently", "price": {"amount_minor": 1999, "currency": "usd"},
        "tags": ["async"], "cover_image_url": null});
    let updated = json_of(
        app.send(
            Method::PATCH,
            &path,
            Some(&teacher.access_token),
            Some(edit.clone()),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["title"], "Rust, Gently");
    assert_eq!(
        updated["price"],
        json!({"amount_minor": 1999, "currency": "USD"})
    );
    assert_eq!(updated["tags"], json!(["async"]));
    assert_eq!(updated["cover_image_url"], Value::Null);
    assert_eq!(
        updated["description"], "A course about things.",
        "untouched fields stay"
    );

    for token in [&other_teacher.access_token, &learner.access_token] {
        let resp = app
            .send(Method::PATCH, &path, Some(token), Some(edit.clone()))
            .await;
        assert_error(resp, 403, "forbidden").await;
    }
    let by_admin = app
        .send(
            Method::PATCH,
            &path,
            Some(&admin.access_token),
            Some(json!({"level": "advanced"})),
        )
        .await;
    assert_eq!(json_of(by_admin, 200).await["level"], "advanced");
    let unknown = app
        .send(
            Method::PATCH,
            "/api/v1/courses/nope",
            Some(&teacher.access_token),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_error(unknown, 404, "not_found").await;
    let anonymous = app
        .send(Method::PATCH, &path, None, Some(json!({"title": "x"})))
        .await;
    assert_error(anonymous, 401, "unauthorized").await;

    create_course(&app, &teacher, course_body("Second", 500)).await;
    create_course(&app, &other_teacher, course_body("Not mine", 500)).await;
    let teaching = json_of(
        app.get("/api/v1/me/courses/teaching", Some(&teacher.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(teaching["total"], 2);
    assert_eq!(teaching["items"][0]["title"], "Second", "newest first");
    assert_eq!(teaching["items"][1]["id"], id);
}

async fn invalid_course_input_is_refused_and_changes_nothing(backend: Backend) {
    let Cast { app, teacher, .. } = cast(backend).await;
    let bad_bodies = [
        json!({"title": "", "category": "x", "price": {"amount_minor": 0, "currency": "EUR"}}),
        json!({"title": "x".repeat(201), "category": "x", "price": {"amount_minor": 0, "currency": "EUR"}}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": -1, "currency": "EUR"}}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": 1, "currency": "EURO"}}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": 1, "currency": "EUR"},
            "cover_image_url": "javascript:alert(1)"}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": 1, "currency": "EUR"},
            "level": "expert"}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": 1, "currency": "EUR"},
            "language": "english"}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": 1, "currency": "EUR"},
            "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        json!({"title": "T", "category": "no way!", "price": {"amount_minor": 1, "currency": "EUR"}}),
        json!({"title": "T", "category": "x"}),
        json!({"title": "T", "category": "x", "price": {"amount_minor": 1, "currency": "EUR"},
            "surprise": true}),
    ];
    for body in bad_bodies {
        let resp = app
            .send(
                Method::POST,
                "/api/v1/courses",
                Some(&teacher.access_token),
                Some(body.clone()),
            )
            .await;
        assert_error(resp, 400, "validation_failed").await;
    }
    let course = create_course(&app, &teacher, course_body("Keep me", 100)).await;
    let path = format!("/api/v1/courses/{}", course["id"].as_str().unwrap());
    let bad_edit = json!({"title": "New title", "price": {"amount_minor": -5, "currency": "EUR"}});
    let resp = app
        .send(
            Method::PATCH,
            &path,
            Some(&teacher.access_token),
            Some(bad_edit),
        )
        .await;
    let err = assert_error(resp, 400, "validation_failed").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("negative")
    );
    let after = json_of(
        detail(
            &app,
            course["id"].as_str().unwrap(),
            Some(&teacher.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(after["title"], "Keep me");
    assert_eq!(after["price"]["amount_minor"], 100);
    let teaching = json_of(
        app.get("/api/v1/me/courses/teaching", Some(&teacher.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(teaching["total"], 1);
}

async fn lessons_are_ordered_and_edited_by_the_owner_only(backend: Backend) {
    let Cast {
        app,
        teacher,
        other_teacher,
        ..
    } = cast(backend).await;
    let course = create_course(&app, &teacher, course_body("Lessons", 0)).await;
    let id = course["id"].as_str().unwrap();
    let mut lesson_ids = Vec::new();
    for n in 1..=3 {
        let l = add_lesson(
            &app,
            &teacher,
            id,
            json!({"title": format!("L{n}"), "body": format!("body {n}"), "duration_secs": n * 60}),
        )
        .await;
        assert_eq!(l["position"], n - 1);
        lesson_ids.push(l["id"].as_str().unwrap().to_owned());
    }
    let lessons_path = format!("/api/v1/courses/{id}/lessons");
    let empty = app
        .send(
            Method::POST,
            &lessons_path,
            Some(&teacher.access_token),
            Some(json!({"title": "Nothing"})),
        )
        .await;
    assert_error(empty, 400, "validation_failed").await;
    let bad_media = app
        .send(
            Method::POST,
            &lessons_path,
            Some(&teacher.access_token),
            Some(json!({"title": "x", "media_url": "file:///etc/passwd"})),
        )
        .await;
    assert_error(bad_media, 400, "validation_failed").await;
    let stranger = app
        .send(
            Method::POST,
            &lessons_path,
            Some(&other_teacher.access_token),
            Some(json!({"title": "x", "body": "y"})),
        )
        .await;
    assert_error(stranger, 403, "forbidden").await;

    let order_path = format!("/api/v1/courses/{id}/lesson-order");
    let reversed: Vec<&String> = lesson_ids.iter().rev().collect();
    let reordered = json_of(
        app.send(
            Method::PUT,
            &order_path,
            Some(&teacher.access_token),
            Some(json!({"lesson_ids": reversed})),
        )
        .await,
        200,
    )
    .await;
    let titles: Vec<&str> = reordered
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["L3", "L2", "L1"]);
    for bad in [
        json!([&lesson_ids[0], &lesson_ids[1]]),
        json!([
            &lesson_ids[0],
            &lesson_ids[0],
            &lesson_ids[1],
            &lesson_ids[2]
        ]),
        json!([&lesson_ids[0], &lesson_ids[1], "nope"]),
    ] {
        let resp = app
            .send(
                Method::PUT,
                &order_path,
                Some(&teacher.access_token),
                Some(json!({"lesson_ids": bad})),
            )
            .await;
        assert_error(resp, 400, "validation_failed").await;
    }

    let l2 = format!("/api/v1/courses/{id}/lessons/{}", lesson_ids[1]);
    let edited = json_of(
        app.send(
            Method::PATCH,
            &l2,
            Some(&teacher.access_token),
            Some(json!({"title": "L2 edited", "free_preview": true})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (edited["title"].as_str(), edited["free_preview"].as_bool()),
        (Some("L2 edited"), Some(true))
    );
    let cleared = app
        .send(
            Method::PATCH,
            &l2,
            Some(&teacher.access_token),
            Some(json!({"body": null})),
        )
        .await;
    assert_error(cleared, 400, "validation_failed").await;
    let stranger_edit = app
        .send(
            Method::PATCH,
            &l2,
            Some(&other_teacher.access_token),
            Some(json!({"title": "mine"})),
        )
        .await;
    assert_error(stranger_edit, 403, "forbidden").await;
    let unknown = format!("/api/v1/courses/{id}/lessons/nope");
    assert_error(
        app.send(
            Method::PATCH,
            &unknown,
            Some(&teacher.access_token),
            Some(json!({"title": "x"})),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    assert_eq!(
        app.send(Method::DELETE, &l2, Some(&teacher.access_token), None)
            .await
            .status(),
        204
    );
    assert_error(
        app.send(Method::DELETE, &l2, Some(&teacher.access_token), None)
            .await,
        404,
        "not_found",
    )
    .await;
    let after = json_of(detail(&app, id, Some(&teacher.access_token)).await, 200).await;
    let rest: Vec<(i64, &str)> = after["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["position"].as_i64().unwrap(),
                l["title"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rest, [(0, "L3"), (1, "L1")], "positions close the gap");
    assert_eq!(after["lesson_count"], 2);
}

async fn the_status_flow_allows_only_legal_transitions(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        other_teacher,
        ..
    } = cast(backend).await;
    let course = create_course(&app, &teacher, course_body("Flow", 0)).await;
    let id = course["id"].as_str().unwrap();
    assert_error(action(&app, &teacher, id, "submit").await, 409, "conflict").await;
    add_lesson(&app, &teacher, id, json!({"title": "One", "body": "text"})).await;
    assert_error(
        action(&app, &teacher, id, "approve").await,
        403,
        "forbidden",
    )
    .await;
    assert_error(action(&app, &admin, id, "approve").await, 409, "conflict").await;
    assert_error(
        action(&app, &other_teacher, id, "submit").await,
        403,
        "forbidden",
    )
    .await;
    let submitted = json_of(action(&app, &teacher, id, "submit").await, 200).await;
    assert_eq!(submitted["status"], "in_review");
    assert_error(action(&app, &teacher, id, "submit").await, 409, "conflict").await;

    let queue = json_of(
        app.get(
            "/api/v1/admin/courses?status=in_review",
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ids(&queue), [id]);
    assert_error(
        app.get("/api/v1/admin/courses", Some(&teacher.access_token))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get(
            "/api/v1/admin/courses?status=lost",
            Some(&admin.access_token),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;

    let reject_path = format!("/api/v1/courses/{id}/reject");
    let no_reason = app
        .send(
            Method::POST,
            &reject_path,
            Some(&admin.access_token),
            Some(json!({"reason": "  "})),
        )
        .await;
    assert_error(no_reason, 400, "validation_failed").await;
    let missing = app
        .send(
            Method::POST,
            &reject_path,
            Some(&admin.access_token),
            Some(json!({})),
        )
        .await;
    assert_error(missing, 400, "validation_failed").await;
    let by_owner = app
        .send(
            Method::POST,
            &reject_path,
            Some(&teacher.access_token),
            Some(json!({"reason": "no"})),
        )
        .await;
    assert_error(by_owner, 403, "forbidden").await;
    let rejected = json_of(
        app.send(
            Method::POST,
            &reject_path,
            Some(&admin.access_token),
            Some(json!({"reason": "Add more lessons"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["status"], "draft");
    let seen = json_of(detail(&app, id, Some(&teacher.access_token)).await, 200).await;
    assert_eq!(seen["rejection_reason"], "Add more lessons");

    json_of(action(&app, &teacher, id, "submit").await, 200).await;
    let approved = json_of(action(&app, &admin, id, "approve").await, 200).await;
    assert_eq!(approved["status"], "published");
    assert_eq!(approved["rejection_reason"], Value::Null);
    assert!(approved["published_at"].is_string());
    assert_error(action(&app, &admin, id, "approve").await, 409, "conflict").await;
    let late_reject = app
        .send(
            Method::POST,
            &reject_path,
            Some(&admin.access_token),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_error(late_reject, 409, "conflict").await;

    let path = format!("/api/v1/courses/{id}");
    let edited = json_of(
        app.send(
            Method::PATCH,
            &path,
            Some(&teacher.access_token),
            Some(json!({"title": "Flow, revised"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        edited["status"], "published",
        "editing keeps a course published"
    );

    let archived = json_of(action(&app, &teacher, id, "archive").await, 200).await;
    assert_eq!(archived["status"], "archived");
    assert_error(action(&app, &admin, id, "archive").await, 409, "conflict").await;
    assert_error(action(&app, &teacher, id, "submit").await, 409, "conflict").await;
    let frozen = app
        .send(
            Method::PATCH,
            &path,
            Some(&teacher.access_token),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_error(frozen, 409, "conflict").await;
    let after = json_of(detail(&app, id, Some(&teacher.access_token)).await, 200).await;
    assert_eq!(
        (after["status"].as_str(), after["title"].as_str()),
        (Some("archived"), Some("Flow, revised"))
    );
    let browse = json_of(app.get("/api/v1/courses", None).await, 200).await;
    assert_eq!(browse["total"], 0, "archived courses leave the catalog");
}

async fn drafts_are_hidden_from_everyone_but_owner_and_admins(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        other_teacher,
        learner,
    } = cast(backend).await;
    let course = create_course(&app, &teacher, course_body("Secret draft", 0)).await;
    let id = course["id"].as_str().unwrap();
    assert_error(detail(&app, id, None).await, 404, "not_found").await;
    assert_error(
        detail(&app, id, Some(&learner.access_token)).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        detail(&app, id, Some(&other_teacher.access_token)).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/courses/{id}/reviews"), None)
            .await,
        404,
        "not_found",
    )
    .await;
    let owner_view = json_of(detail(&app, id, Some(&teacher.access_token)).await, 200).await;
    assert_eq!(owner_view["can_manage"], true);
    let admin_view = json_of(detail(&app, id, Some(&admin.access_token)).await, 200).await;
    assert_eq!(admin_view["status"], "draft");
    assert_error(detail(&app, "no-such-course", None).await, 404, "not_found").await;
    assert_error(
        detail(&app, id, Some("not-a-token")).await,
        401,
        "unauthorized",
    )
    .await;
    let browse = json_of(
        app.get("/api/v1/courses", Some(&learner.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(browse["total"], 0);
}

async fn search_filters_sorts_and_paginates(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        other_teacher,
        learner,
    } = cast(backend).await;
    let spec = [
        (
            "Async Rust in Depth",
            "Futures and executors",
            "programming",
            vec!["rust", "async"],
            4900,
            &teacher,
        ),
        (
            "Rust Basics",
            "Ownership for everyone",
            "programming",
            vec!["rust"],
            0,
            &teacher,
        ),
        (
            "Watercolour Landscapes",
            "Painting with water and RUST tones",
            "art",
            vec!["painting"],
            1500,
            &other_teacher,
        ),
        (
            "100% Python",
            "Snakes_and ladders",
            "programming",
            vec!["python"],
            2500,
            &other_teacher,
        ),
        (
            "Sketching",
            "Pencils only",
            "art",
            vec!["drawing"],
            0,
            &other_teacher,
        ),
    ];
    let mut ids_by_title = std::collections::HashMap::new();
    for (title, description, category, tags, price, owner) in spec {
        let body = json!({"title": title, "description": description, "category": category,
            "tags": tags, "price": {"amount_minor": price, "currency": "EUR"}});
        let id = published(&app, owner, &admin, body).await;
        ids_by_title.insert(title, id);
    }
    create_course(&app, &teacher, course_body("Rust draft", 0)).await;
    let id = |t: &str| ids_by_title[t].clone();

    let all = search(&app, "").await;
    assert_eq!(all["total"], 5, "drafts are not listed");
    assert_eq!(ids(&all)[0], id("Sketching"), "newest first by default");

    let rust = search(&app, "q=RUST").await;
    let mut got = ids(&rust);
    got.sort();
    let mut want = vec![
        id("Async Rust in Depth"),
        id("Rust Basics"),
        id("Watercolour Landscapes"),
    ];
    want.sort();
    assert_eq!(got, want, "case-insensitive, title or description");
    assert_eq!(
        ids(&rust),
        [
            id("Rust Basics"),
            id("Async Rust in Depth"),
            id("Watercolour Landscapes")
        ],
        "by default title hits come first, then newest"
    );
    assert_eq!(
        ids(&search(&app, "q=rust&sort=newest").await)[0],
        id("Watercolour Landscapes")
    );
    assert_eq!(
        ids(&search(&app, "q=rust%20futures").await),
        [id("Async Rust in Depth")],
        "every term must match"
    );
    assert_eq!(
        ids(&search(&app, "q=100%25").await),
        [id("100% Python")],
        "% is literal"
    );
    assert_eq!(search(&app, "q=%25").await["total"], 1);
    assert_eq!(
        ids(&search(&app, "q=s_a").await),
        [id("100% Python")],
        "_ is literal"
    );
    assert_eq!(search(&app, "q=nothing-like-this").await["total"], 0);

    let mut tagged = ids(&search(&app, "tag=Rust").await);
    tagged.sort();
    let mut want = vec![id("Async Rust in Depth"), id("Rust Basics")];
    want.sort();
    assert_eq!(tagged, want);
    let art = ids(&search(&app, "category=art&sort=price_asc").await);
    assert_eq!(art, [id("Sketching"), id("Watercolour Landscapes")]);
    let free = ids(&search(&app, "free=true&sort=price_asc").await);
    assert_eq!(free.len(), 2);
    assert!(free.contains(&id("Rust Basics")) && free.contains(&id("Sketching")));
    let range = ids(&search(&app, "min_price=1500&max_price=2500&sort=price_desc").await);
    assert_eq!(range, [id("100% Python"), id("Watercolour Landscapes")]);
    let by_teacher = search(&app, &format!("instructor={}", teacher.id)).await;
    assert_eq!(by_teacher["total"], 2);

    let asc = ids(&search(&app, "sort=price_asc").await);
    let prices: Vec<i64> = search(&app, "sort=price_asc").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["price"]["amount_minor"].as_i64().unwrap())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    assert_eq!(asc.last().unwrap(), &id("Async Rust in Depth"));
    assert_eq!(
        ids(&search(&app, "sort=price_desc").await)[0],
        id("Async Rust in Depth")
    );

    let page1 = search(&app, "sort=price_desc&limit=2").await;
    let page2 = search(&app, "sort=price_desc&limit=2&offset=2").await;
    let page3 = search(&app, "sort=price_desc&limit=2&offset=4").await;
    assert_eq!(
        (page1["total"].as_i64(), page3["total"].as_i64()),
        (Some(5), Some(5))
    );
    let mut paged = ids(&page1);
    paged.extend(ids(&page2));
    paged.extend(ids(&page3));
    assert_eq!(paged, ids(&search(&app, "sort=price_desc").await));

    // Popularity and rating follow enrolments and reviews.
    for c in ["Rust Basics", "Sketching"] {
        let path = format!("/api/v1/courses/{}/enroll", id(c));
        json_of(
            app.send(Method::POST, &path, Some(&learner.access_token), None)
                .await,
            201,
        )
        .await;
    }
    let second = app.register("second@example.org").await;
    let path = format!("/api/v1/courses/{}/enroll", id("Sketching"));
    json_of(
        app.send(Method::POST, &path, Some(&second.access_token), None)
            .await,
        201,
    )
    .await;
    let popular = ids(&search(&app, "sort=popularity").await);
    assert_eq!(popular[..2], [id("Sketching"), id("Rust Basics")]);
    for (c, stars) in [("Rust Basics", 5), ("Sketching", 3)] {
        let path = format!("/api/v1/courses/{}/review", id(c));
        json_of(
            app.send(
                Method::PUT,
                &path,
                Some(&learner.access_token),
                Some(json!({"rating": stars})),
            )
            .await,
            201,
        )
        .await;
    }
    let rated = ids(&search(&app, "sort=rating").await);
    assert_eq!(rated[..2], [id("Rust Basics"), id("Sketching")]);
}

async fn bad_search_parameters_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    for query in [
        "sort=random",
        "min_price=-1",
        "min_price=10&max_price=5",
        "min_price=abc",
        "free=maybe",
        "tag=no%20way!",
        "limit=0",
        "limit=1000",
        "offset=-1",
    ] {
        let resp = app.get(&format!("/api/v1/courses?{query}"), None).await;
        assert_error(resp, 400, "validation_failed").await;
    }
}

async fn lesson_content_is_gated_by_entitlement(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        learner,
        ..
    } = cast(backend).await;
    let id = published(&app, &teacher, &admin, course_body("Gated", 0)).await;
    let lessons = |v: &Value| v["lessons"].as_array().unwrap().clone();

    let anonymous = json_of(detail(&app, &id, None).await, 200).await;
    let l = lessons(&anonymous);
    assert_eq!(
        l[0]["body"], "preview text",
        "free preview is open to everyone"
    );
    assert_eq!(l[0]["locked"], false);
    assert_eq!(
        (l[1]["body"].clone(), l[1]["media_url"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(l[1]["title"], "Paid part", "titles are always listed");
    assert_eq!(l[1]["locked"], true);
    assert_eq!(anonymous["instructor"]["display_name"], "Staff");
    assert_eq!(anonymous["tags"], json!(["rust"]));

    let before = json_of(detail(&app, &id, Some(&learner.access_token)).await, 200).await;
    assert_eq!(lessons(&before)[1]["body"], Value::Null);
    assert_eq!(before["entitled"], false);

    let enroll = format!("/api/v1/courses/{id}/enroll");
    let first = json_of(
        app.send(Method::POST, &enroll, Some(&learner.access_token), None)
            .await,
        201,
    )
    .await;
    assert_eq!(
        (first["source"].as_str(), first["course_id"].as_str()),
        (Some("enroll"), Some(id.as_str()))
    );
    let again = json_of(
        app.send(Method::POST, &enroll, Some(&learner.access_token), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        again["granted_at"], first["granted_at"],
        "enrolling twice changes nothing"
    );

    let after = json_of(detail(&app, &id, Some(&learner.access_token)).await, 200).await;
    assert_eq!(after["entitled"], true);
    assert_eq!(lessons(&after)[1]["body"], "secret text");
    assert_eq!(lessons(&after)[1]["media_url"], "https://v.example.org/2");
    assert_eq!(after["enrollment_count"], 1);
    let owner = json_of(detail(&app, &id, Some(&teacher.access_token)).await, 200).await;
    assert_eq!(lessons(&owner)[1]["body"], "secret text");

    let library = json_of(
        app.get("/api/v1/me/courses", Some(&learner.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(library["total"], 1);
    assert_eq!(library["items"][0]["course"]["id"], id.as_str());
    assert_eq!(library["items"][0]["source"], "enroll");
    assert_error(
        app.get("/api/v1/me/courses", None).await,
        401,
        "unauthorized",
    )
    .await;

    let db = app.db().await;
    let user_id = learner.id.clone();
    let kinds: Vec<String> = db
        .run(move |c| events::for_user(c, &user_id).map_err(DbError::from))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    // The second view of the course on the same day is not recorded again (one account cannot
    // push a course up the trending list by reloading it).
    assert_eq!(kinds, ["course_view", "enroll"]);
}

async fn paid_and_unpublished_courses_cannot_be_enrolled_for_free(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        learner,
        ..
    } = cast(backend).await;
    let paid = published(&app, &teacher, &admin, course_body("Paid", 2999)).await;
    let resp = app
        .send(
            Method::POST,
            &format!("/api/v1/courses/{paid}/enroll"),
            Some(&learner.access_token),
            None,
        )
        .await;
    let err = assert_error(resp, 402, "payment_required").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("order"));
    let draft = create_course(&app, &teacher, course_body("Draft", 0)).await;
    let resp = app
        .send(
            Method::POST,
            &format!("/api/v1/courses/{}/enroll", draft["id"].as_str().unwrap()),
            Some(&learner.access_token),
            None,
        )
        .await;
    assert_error(resp, 404, "not_found").await;
    let resp = app
        .send(
            Method::POST,
            "/api/v1/courses/missing/enroll",
            Some(&learner.access_token),
            None,
        )
        .await;
    assert_error(resp, 404, "not_found").await;
    let free = published(&app, &teacher, &admin, course_body("Free then archived", 0)).await;
    json_of(action(&app, &teacher, &free, "archive").await, 200).await;
    let resp = app
        .send(
            Method::POST,
            &format!("/api/v1/courses/{free}/enroll"),
            Some(&learner.access_token),
            None,
        )
        .await;
    assert_error(resp, 409, "conflict").await;
    let library = json_of(
        app.get("/api/v1/me/courses", Some(&learner.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(library["total"], 0);
    let locked = json_of(detail(&app, &paid, Some(&learner.access_token)).await, 200).await;
    assert_eq!(locked["lessons"][1]["body"], Value::Null);
}

/// The functions orders call: grant twice inside one transaction (the second is a no-op, and
/// on PostgreSQL must not abort the transaction), then revoke by order.
async fn entitlement_functions_work_inside_a_callers_transaction(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        learner,
        ..
    } = cast(backend).await;
    let course = published(&app, &teacher, &admin, course_body("Bought", 1000)).await;
    let db = app.db().await;
    let (user, c) = (learner.id.clone(), course.clone());
    let (first, second, active) = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let first = entitlements::grant(
                    conn,
                    &user,
                    &c,
                    EntitlementSource::Order,
                    Some("order-1"),
                )?;
                let second = entitlements::grant(
                    conn,
                    &user,
                    &c,
                    EntitlementSource::Order,
                    Some("order-2"),
                )?;
                let found = lyceum::catalog::store::find_course(conn, &c)?.expect("course");
                events::record(conn, &user, &c, events::EventKind::Purchase, 5.0)?;
                Ok::<_, DbError>((
                    first,
                    second,
                    entitlements::has_active(conn, &user, &found.id)?,
                ))
            })
        })
        .await
        .unwrap();
    assert_eq!((first, second, active), (true, false, true));
    let seen = json_of(
        detail(&app, &course, Some(&learner.access_token)).await,
        200,
    )
    .await;
    assert_eq!(seen["lessons"][1]["body"], "secret text");
    assert_eq!(seen["enrollment_count"], 1);

    let (user, c) = (learner.id.clone(), course.clone());
    let (none, revoked, still) = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let none = entitlements::revoke_for_order(conn, "order-2")?;
                let revoked = entitlements::revoke_for_order(conn, "order-1")?;
                Ok::<_, DbError>((none, revoked, entitlements::has_active(conn, &user, &c)?))
            })
        })
        .await
        .unwrap();
    assert_eq!((none, revoked, still), (0, 1, false));
    let seen = json_of(
        detail(&app, &course, Some(&learner.access_token)).await,
        200,
    )
    .await;
    assert_eq!(seen["lessons"][1]["body"], Value::Null);
    assert_eq!(seen["enrollment_count"], 0);
    let (user, c) = (learner.id.clone(), course.clone());
    let regranted = db
        .run(move |conn| {
            entitlements::grant(conn, &user, &c, EntitlementSource::Admin, None)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert!(regranted, "a revoked entitlement does not block a new one");
}

async fn reviews_need_an_entitlement_and_keep_aggregates_exact(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        learner,
        ..
    } = cast(backend).await;
    let id = published(&app, &teacher, &admin, course_body("Reviewed", 0)).await;
    let review = format!("/api/v1/courses/{id}/review");
    let put = |token: String, body: Value| {
        let (app, review) = (&app, review.clone());
        async move {
            app.send(Method::PUT, &review, Some(&token), Some(body))
                .await
        }
    };
    assert_error(
        put(learner.access_token.clone(), json!({"rating": 5})).await,
        403,
        "forbidden",
    )
    .await;
    let enroll = format!("/api/v1/courses/{id}/enroll");
    json_of(
        app.send(Method::POST, &enroll, Some(&learner.access_token), None)
            .await,
        201,
    )
    .await;
    for bad in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": 4, "text": "x".repeat(5001)}),
        json!({}),
    ] {
        assert_error(
            put(learner.access_token.clone(), bad).await,
            400,
            "validation_failed",
        )
        .await;
    }
    assert_error(
        put(teacher.access_token.clone(), json!({"rating": 5})).await,
        403,
        "forbidden",
    )
    .await;

    let first = json_of(
        put(
            learner.access_token.clone(),
            json!({"rating": 5, "text": "Great"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (first["rating"].as_i64(), first["text"].as_str()),
        (Some(5), Some("Great"))
    );
    let second_learner = app.register("second@example.org").await;
    json_of(
        app.send(
            Method::POST,
            &enroll,
            Some(&second_learner.access_token),
            None,
        )
        .await,
        201,
    )
    .await;
    json_of(
        put(second_learner.access_token.clone(), json!({"rating": 2})).await,
        201,
    )
    .await;
    let rating = |v: &Value| {
        (
            v["rating"]["average"].as_f64().unwrap(),
            v["rating"]["count"].as_i64().unwrap(),
        )
    };
    assert_eq!(
        rating(&json_of(detail(&app, &id, None).await, 200).await),
        (3.5, 2)
    );

    let edited = json_of(
        put(learner.access_token.clone(), json!({"rating": 3})).await,
        200,
    )
    .await;
    assert_eq!(
        edited["id"], first["id"],
        "one review per user, edited in place"
    );
    assert_eq!(edited["text"], Value::Null);
    assert_eq!(
        rating(&json_of(detail(&app, &id, None).await, 200).await),
        (2.5, 2)
    );

    let list = json_of(
        app.get(&format!("/api/v1/courses/{id}/reviews?limit=1"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["rating"], 3, "most recently changed first");

    assert_eq!(
        app.send(
            Method::DELETE,
            &review,
            Some(&second_learner.access_token),
            None
        )
        .await
        .status(),
        204
    );
    assert_error(
        app.send(
            Method::DELETE,
            &review,
            Some(&second_learner.access_token),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        rating(&json_of(detail(&app, &id, None).await, 200).await),
        (3.0, 1)
    );
}

async fn concurrent_enrolments_and_reviews_keep_counts_exact(backend: Backend) {
    let Cast {
        app,
        admin,
        teacher,
        ..
    } = cast(backend).await;
    let id = published(&app, &teacher, &admin, course_body("Crowded", 0)).await;
    let mut learners = Vec::new();
    for n in 0..6 {
        learners.push(app.register(&format!("crowd{n}@example.org")).await);
    }
    let enroll = format!("/api/v1/courses/{id}/enroll");
    let review = format!("/api/v1/courses/{id}/review");
    let statuses = futures_util::future::join_all(
        learners
            .iter()
            .map(|l| app.send(Method::POST, &enroll, Some(&l.access_token), None)),
    )
    .await;
    assert!(statuses.iter().all(|r| r.status() == 201));
    let reviews = futures_util::future::join_all(learners.iter().enumerate().map(|(i, l)| {
        let stars = i64::try_from(i % 5).unwrap() + 1;
        app.send(
            Method::PUT,
            &review,
            Some(&l.access_token),
            Some(json!({"rating": stars})),
        )
    }))
    .await;
    assert!(reviews.iter().all(|r| r.status() == 201));
    let course = json_of(detail(&app, &id, None).await, 200).await;
    assert_eq!(course["enrollment_count"], 6);
    assert_eq!(course["rating"]["count"], 6);
    let expected = f64::from(1 + 2 + 3 + 4 + 5 + 1) / 6.0;
    assert_eq!(course["rating"]["average"].as_f64().unwrap(), expected);

    let draft = create_course(&app, &teacher, course_body("Busy draft", 0)).await;
    let lessons_path = format!("/api/v1/courses/{}/lessons", draft["id"].as_str().unwrap());
    let added = futures_util::future::join_all((0..5).map(|n| {
        let body = json!({"title": format!("L{n}"), "body": "text"});
        app.send(
            Method::POST,
            &lessons_path,
            Some(&teacher.access_token),
            Some(body),
        )
    }))
    .await;
    let mut positions = Vec::new();
    for resp in added {
        positions.push(json_of(resp, 201).await["position"].as_i64().unwrap());
    }
    positions.sort_unstable();
    assert_eq!(
        positions,
        [0, 1, 2, 3, 4],
        "concurrent additions get distinct places"
    );
}
