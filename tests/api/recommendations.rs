//! Behaviour events and recommendations through the real server: ingestion rules and rate
//! limits, an event changing the very next list, cold starts and archived courses, owned and
//! dismissed courses, collaborative signal after a refit (and after a restart), experts.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::catalog::published;
use crate::helpers::{Backend, TestApp, TestUser, assert_error, spawn_app, spawn_app_with, start};
use lyceum::accounts::Role;

backend_tests!(
    reported_events_are_validated_and_stored_all_or_nothing,
    reporting_is_rate_limited_per_user,
    an_event_changes_the_very_next_recommendations,
    new_courses_are_recommendable_at_once_and_archived_ones_never,
    owned_and_dismissed_courses_are_never_recommended,
    behaviour_shapes_the_model_after_a_refit_and_a_restart,
    enough_events_trigger_a_refit_in_the_background,
    experts_are_recommended_by_what_the_learner_does,
    bad_limits_and_missing_courses_are_refused,
);

async fn json_of(resp: Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

fn course(title: &str, tags: &[&str], category: &str) -> Value {
    json!({
        "title": title,
        "description": format!("{title}: everything about {}.", tags.join(" and ")),
        "category": category,
        "tags": tags,
        "price": {"amount_minor": 0, "currency": "EUR"},
        "level": "beginner",
        "language": "en"
    })
}

/// A small catalog in two clusters by two instructors: four Rust courses and four cooking ones.
struct Catalog {
    admin: TestUser,
    rust_teacher: TestUser,
    rust: Vec<String>,
    cooking: Vec<String>,
}

async fn catalog(app: &TestApp) -> Catalog {
    let admin = app.user_with_role("admin@example.org", Role::Admin).await;
    let rust_teacher = app
        .user_with_role("ferris@example.org", Role::Instructor)
        .await;
    let chef = app
        .user_with_role("chef@example.org", Role::Instructor)
        .await;
    let mut rust = Vec::new();
    for title in [
        "Rust basics",
        "Async Rust",
        "Rust web services",
        "Systems Rust",
    ] {
        rust.push(
            published(
                app,
                &rust_teacher,
                &admin,
                course(title, &["rust", "systems"], "programming"),
            )
            .await,
        );
    }
    let mut cooking = Vec::new();
    for title in ["Bread baking", "Pasta at home", "Knife skills", "Sourdough"] {
        cooking.push(
            published(
                app,
                &chef,
                &admin,
                course(title, &["cooking", "baking"], "food"),
            )
            .await,
        );
    }
    Catalog {
        admin,
        rust_teacher,
        rust,
        cooking,
    }
}

async fn post_events(app: &TestApp, who: &TestUser, events: Value) -> Response {
    app.send(
        Method::POST,
        "/api/v1/events",
        Some(&who.access_token),
        Some(json!({ "events": events })),
    )
    .await
}

/// Posts a batch that must be accepted (202); returns the body.
async fn accepted(app: &TestApp, who: &TestUser, events: Value) -> Value {
    json_of(post_events(app, who, events).await, 202).await
}

/// Posts a batch that must be refused with `status` and `code`; returns the error body.
async fn refused(app: &TestApp, who: &TestUser, events: Value, status: u16, code: &str) -> Value {
    assert_error(post_events(app, who, events).await, status, code).await
}

async fn recommendations(app: &TestApp, who: &TestUser, limit: usize) -> Vec<Value> {
    let path = format!("/api/v1/recommendations?limit={limit}");
    let body = json_of(app.get(&path, Some(&who.access_token)).await, 200).await;
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn similar(app: &TestApp, course: &str, token: Option<&str>) -> Vec<Value> {
    let path = format!("/api/v1/courses/{course}/similar?limit=5");
    let body = json_of(app.get(&path, token).await, 200).await;
    body["items"].as_array().cloned().unwrap_or_default()
}

/// A readable summary of a list for assertion messages: title, score and reason of each.
fn show(items: &[Value]) -> String {
    items
        .iter()
        .map(|i| {
            let name = if i["course"].is_null() {
                &i["expert"]["display_name"]
            } else {
                &i["course"]["title"]
            };
            format!(
                "{name} {:.3} {}",
                i["score"].as_f64().unwrap_or(0.0),
                i["reason"]["text"]
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["course"]["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn stored_events(app: &TestApp, user: &TestUser) -> Vec<(String, Option<String>)> {
    let id = user.id.clone();
    app.db()
        .await
        .run(move |c| lyceum::catalog::events::for_user(c, &id).map_err(lyceum::db::DbError::from))
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .collect()
}

async fn lessons(app: &TestApp, course: &str, who: &TestUser) -> Vec<Value> {
    let detail = json_of(
        app.get(
            &format!("/api/v1/courses/{course}"),
            Some(&who.access_token),
        )
        .await,
        200,
    )
    .await;
    detail["lessons"].as_array().cloned().unwrap_or_default()
}

async fn reported_events_are_validated_and_stored_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    let learner = app.register("learner@example.org").await;
    let (rust, other) = (&cat.rust[0], &cat.cooking[0]);
    let rust_lessons = lessons(&app, rust, &learner).await;
    let preview = rust_lessons[0]["id"].as_str().unwrap().to_owned();
    let locked = rust_lessons[1]["id"].as_str().unwrap().to_owned();
    let other_lesson = lessons(&app, other, &learner).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = stored_events(&app, &learner).await.len(); // the detail views above

    // Anonymous callers cannot report.
    let resp = app
        .send(
            Method::POST,
            "/api/v1/events",
            None,
            Some(json!({"events": []})),
        )
        .await;
    assert_error(resp, 401, "unauthorized").await;

    // Every problem of a batch is named, and nothing of it is stored.
    let bad = json!([
        {"kind": "course_view", "course_id": rust},
        {"kind": "purchase", "course_id": rust},
        {"kind": "lesson_start", "course_id": rust},
        {"kind": "search_click", "course_id": rust},
        {"kind": "course_view", "course_id": rust, "occurred_at": "2001-01-01T00:00:00Z"},
    ]);
    let body = refused(&app, &learner, bad, 400, "validation_failed").await;
    let message = body["error"]["message"].as_str().unwrap();
    for i in 1..=4 {
        assert!(message.contains(&format!("events[{i}]")), "{message}");
    }
    assert!(!message.contains("events[0]"), "{message}");
    // Unknown fields, an empty batch and an oversized one.
    let stray = json!({"events": [{"kind": "course_view", "course_id": rust, "price": 1}]});
    let resp = app
        .send(
            Method::POST,
            "/api/v1/events",
            Some(&learner.access_token),
            Some(stray),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_error(
        post_events(&app, &learner, json!([])).await,
        400,
        "validation_failed",
    )
    .await;
    let many: Vec<Value> = (0..51)
        .map(|_| json!({"kind": "course_view", "course_id": rust}))
        .collect();
    assert_error(
        post_events(&app, &learner, json!(many)).await,
        400,
        "validation_failed",
    )
    .await;

    // Courses that do not exist, and lessons of another course.
    let ghost = json!([{"kind": "wishlist_add", "course_id": "no-such-course"}]);
    refused(&app, &learner, ghost, 400, "validation_failed").await;
    let mixed = json!([
        {"kind": "course_view", "course_id": rust},
        {"kind": "lesson_start", "course_id": rust, "lesson_id": other_lesson},
    ]);
    refused(&app, &learner, mixed, 400, "validation_failed").await;
    // Finishing a locked lesson needs access to the course; the whole batch is refused.
    let locked_done = json!([
        {"kind": "wishlist_add", "course_id": rust},
        {"kind": "lesson_complete", "course_id": rust, "lesson_id": locked},
    ]);
    refused(&app, &learner, locked_done, 403, "forbidden").await;
    assert_eq!(
        stored_events(&app, &learner).await.len(),
        before,
        "nothing stored"
    );

    // A good batch: every kind, with its detail.
    let good = json!([
        {"kind": "course_view", "course_id": rust},
        {"kind": "lesson_start", "course_id": rust, "lesson_id": preview},
        {"kind": "lesson_complete", "course_id": rust, "lesson_id": preview},
        {"kind": "search_click", "course_id": other, "query": "  bread  "},
        {"kind": "wishlist_add", "course_id": other},
    ]);
    let body = accepted(&app, &learner, good).await;
    assert_eq!(body, json!({"recorded": 5, "ignored": 0}));
    let stored = stored_events(&app, &learner).await;
    // The day's view of that course was already recorded: views count once per user, course
    // and day, so four rows are new.
    assert_eq!(stored.len(), before + 4);
    assert!(stored.contains(&("lesson_complete".into(), Some(preview.clone()))));
    assert!(stored.contains(&("search_click".into(), Some("bread".into()))));

    // An instructor's events on their own course are accepted but not learned from.
    let own = json!([
        {"kind": "course_view", "course_id": rust},
        {"kind": "course_view", "course_id": other},
    ]);
    let body = accepted(&app, &cat.rust_teacher, own).await;
    assert_eq!(body, json!({"recorded": 1, "ignored": 1}));
    app.stop().await;
}

async fn reporting_is_rate_limited_per_user(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("LYCEUM_EVENTS_BURST", "4"),
            ("LYCEUM_EVENTS_PER_MINUTE", "1"),
        ],
    )
    .await;
    let cat = catalog(&app).await;
    let (ann, bob) = (
        app.register("ann@example.org").await,
        app.register("bob@example.org").await,
    );
    // Wishlist adds, not views: views of one course count once a day, so they would not add up.
    let view = |n: usize| -> Value {
        json!(
            (0..n)
                .map(|_| json!({"kind": "wishlist_add", "course_id": cat.rust[0]}))
                .collect::<Vec<_>>()
        )
    };
    // A refused batch costs nothing, and one larger than the burst can never pass: 400.
    let ghosts = json!(vec![
        json!({"kind": "course_view", "course_id": "no-such-course"});
        4
    ]);
    refused(&app, &ann, ghosts, 400, "validation_failed").await;
    refused(&app, &ann, view(5), 400, "validation_failed").await;
    accepted(&app, &ann, view(3)).await;
    // Two more than the one token left: refused whole, with Retry-After, nothing stored.
    let resp = post_events(&app, &ann, view(2)).await;
    assert!(resp.headers().get("retry-after").is_some());
    assert_error(resp, 429, "rate_limited").await;
    assert_eq!(stored_events(&app, &ann).await.len(), 3);
    accepted(&app, &ann, view(1)).await;
    // Another user has a budget of their own.
    accepted(&app, &bob, view(4)).await;
    app.stop().await;
}

async fn an_event_changes_the_very_next_recommendations(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    let learner = app.register("learner@example.org").await;

    // No history, no behaviour anywhere: the newest courses, each saying so.
    let cold = recommendations(&app, &learner, 4).await;
    assert_eq!(cold.len(), 4);
    assert!(
        cold.iter().all(|i| i["reason"]["kind"] == "new"),
        "{}",
        show(&cold)
    );

    // One view of a Rust course: the next list is the other Rust courses, because of it.
    accepted(
        &app,
        &learner,
        json!([{"kind": "course_view", "course_id": cat.rust[0]}]),
    )
    .await;
    let after = recommendations(&app, &learner, 10).await;
    let got = ids(&after);
    assert!(
        cat.rust[1..].iter().all(|id| got.contains(id)),
        "{}",
        show(&after)
    );
    assert!(
        !got.contains(&cat.rust[0]),
        "the viewed course itself is not recommended"
    );
    let first = &after[0];
    assert!(
        cat.rust[1..]
            .iter()
            .any(|id| first["course"]["id"] == id.as_str())
    );
    assert_eq!(first["reason"]["kind"], "similar");
    assert_eq!(first["reason"]["course_id"], cat.rust[0].as_str());
    assert_eq!(first["reason"]["text"], "Because you viewed “Rust basics”");
    assert!(first["score"].as_f64().unwrap() > 0.5);

    // Saving two cooking courses moves the list to cooking at once.
    let saves = json!([
        {"kind": "wishlist_add", "course_id": cat.cooking[0]},
        {"kind": "wishlist_add", "course_id": cat.cooking[1]},
    ]);
    accepted(&app, &learner, saves).await;
    let top = recommendations(&app, &learner, 2).await;
    assert!(
        cat.cooking[2..]
            .iter()
            .any(|id| top[0]["course"]["id"] == id.as_str()),
        "{}",
        show(&top)
    );
    assert!(
        top[0]["reason"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Because you saved")
    );

    // Everything left (8 courses less the 3 touched), and varied: one instructor cannot fill
    // a list of 3, though each of the chef's courses is a closer match.
    let all = recommendations(&app, &learner, 10).await;
    assert_eq!(all.len(), 5, "{}", show(&all));
    let three = recommendations(&app, &learner, 3).await;
    let teacher = |i: &Value| i["course"]["instructor"]["id"].clone();
    assert!(
        three.iter().any(|i| teacher(i) != teacher(&three[0])),
        "{}",
        show(&three)
    );
    app.stop().await;
}

async fn new_courses_are_recommendable_at_once_and_archived_ones_never(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    // Published after the server built its index: similar at once, from its content alone.
    let fresh = published(
        &app,
        &cat.rust_teacher,
        &cat.admin,
        course("Embedded Rust", &["rust", "systems"], "programming"),
    )
    .await;
    let like = similar(&app, &cat.rust[0], None).await;
    assert!(ids(&like).contains(&fresh), "{}", show(&like));
    let item = like
        .iter()
        .find(|i| i["course"]["id"] == fresh.as_str())
        .unwrap();
    assert_eq!(item["reason"]["kind"], "interest");
    assert_eq!(item["reason"]["text"], "Also about rust, systems");
    // Its own similar list works too, and never holds itself.
    let own = ids(&similar(&app, &fresh, None).await);
    assert!(!own.contains(&fresh) && own.iter().any(|id| cat.rust.contains(id)));

    // Archived: gone from every list at once, though the index still holds it.
    let archive = format!("/api/v1/courses/{fresh}/archive");
    json_of(
        app.send(
            Method::POST,
            &archive,
            Some(&cat.rust_teacher.access_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(!ids(&similar(&app, &cat.rust[0], None).await).contains(&fresh));
    let learner = app.register("learner@example.org").await;
    accepted(
        &app,
        &learner,
        json!([{"kind": "course_view", "course_id": cat.rust[0]}]),
    )
    .await;
    assert!(!ids(&recommendations(&app, &learner, 10).await).contains(&fresh));
    app.stop().await;
}

async fn owned_and_dismissed_courses_are_never_recommended(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    let learner = app.register("learner@example.org").await;
    accepted(
        &app,
        &learner,
        json!([{"kind": "course_view", "course_id": cat.rust[0]}]),
    )
    .await;
    // Enrolled in one: never recommended, and (a strong signal) it pulls its cluster closer.
    let enroll = format!("/api/v1/courses/{}/enroll", cat.rust[1]);
    let resp = app
        .send(Method::POST, &enroll, Some(&learner.access_token), None)
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let got = ids(&recommendations(&app, &learner, 10).await);
    assert!(!got.contains(&cat.rust[1]));

    // Dismissed: gone; dismissing twice is fine; undoing brings it back.
    let dismiss = format!("/api/v1/recommendations/{}/dismiss", cat.rust[2]);
    let body = json_of(
        app.send(Method::POST, &dismiss, Some(&learner.access_token), None)
            .await,
        200,
    )
    .await;
    assert_eq!(body, json!({"course_id": cat.rust[2], "dismissed": true}));
    json_of(
        app.send(Method::POST, &dismiss, Some(&learner.access_token), None)
            .await,
        200,
    )
    .await;
    assert!(!ids(&recommendations(&app, &learner, 10).await).contains(&cat.rust[2]));
    let resp = app
        .send(Method::DELETE, &dismiss, Some(&learner.access_token), None)
        .await;
    assert_eq!(resp.status(), 204);
    assert!(ids(&recommendations(&app, &learner, 10).await).contains(&cat.rust[2]));
    let resp = app
        .send(Method::DELETE, &dismiss, Some(&learner.access_token), None)
        .await;
    assert_error(resp, 404, "not_found").await;

    // An instructor is never recommended their own courses.
    let mine = ids(&recommendations(&app, &cat.rust_teacher, 10).await);
    assert!(mine.iter().all(|id| !cat.rust.contains(id)), "{mine:?}");

    // Unknown courses and anonymous callers.
    let ghost = "/api/v1/recommendations/no-such-course/dismiss";
    assert_error(
        app.send(Method::POST, ghost, Some(&learner.access_token), None)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.send(Method::POST, &dismiss, None, None).await,
        401,
        "unauthorized",
    )
    .await;
    app.stop().await;
}

/// Planted behaviour: learners who save "Rust basics" also save "Sourdough", although the two
/// share no content, and others pair two Rust courses. Content alone cannot know; a refit must.
const PAIRED: usize = 25;

async fn plant_pairing(app: &TestApp, cat: &Catalog) {
    let pairs = [
        (&cat.rust[0], &cat.cooking[3]),
        (&cat.rust[1], &cat.rust[2]),
    ];
    for (p, (a, b)) in pairs.into_iter().enumerate() {
        for n in 0..PAIRED {
            let who = app.register(&format!("pair{p}-{n}@example.org")).await;
            let events = json!([
                {"kind": "wishlist_add", "course_id": a},
                {"kind": "wishlist_add", "course_id": b},
            ]);
            accepted(app, &who, events).await;
        }
    }
}

async fn rebuild(app: &TestApp, who: &TestUser) -> Response {
    app.send(
        Method::POST,
        "/api/v1/admin/recommendations/rebuild",
        Some(&who.access_token),
        None,
    )
    .await
}

async fn behaviour_shapes_the_model_after_a_refit_and_a_restart(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    let before = similar(&app, &cat.rust[0], None).await;
    assert!(
        cat.rust
            .iter()
            .any(|id| before[0]["course"]["id"] == id.as_str()),
        "content alone pairs Rust with Rust: {}",
        show(&before)
    );
    plant_pairing(&app, &cat).await;

    // Only admins may refit.
    let learner = app.register("learner@example.org").await;
    assert_error(rebuild(&app, &learner).await, 403, "forbidden").await;
    let report = json_of(rebuild(&app, &cat.admin).await, 200).await;
    assert_eq!(report["items"], 8);
    assert_eq!(report["interactions"], 4 * PAIRED);

    let after = similar(&app, &cat.rust[0], None).await;
    assert_eq!(
        after[0]["course"]["id"],
        cat.cooking[3].as_str(),
        "{}",
        show(&after)
    );
    assert_eq!(after[0]["reason"]["kind"], "also_taken");
    // A new learner with no history now sees what is trending, most active first.
    let fresh = recommendations(&app, &learner, 3).await;
    assert_eq!(fresh[0]["reason"]["kind"], "trending", "{}", show(&fresh));
    let planted = [&cat.rust[0], &cat.rust[1], &cat.rust[2], &cat.cooking[3]];
    assert!(
        planted
            .iter()
            .any(|id| fresh[0]["course"]["id"] == id.as_str()),
        "{}",
        show(&fresh)
    );

    // The index is rebuilt from the database when the server starts again.
    app.stop().await;
    let again = start(&app.database_url, &app.data_dir, &[]).await;
    let after = similar(&again, &cat.rust[0], None).await;
    assert_eq!(
        after[0]["course"]["id"],
        cat.cooking[3].as_str(),
        "{}",
        show(&after)
    );
    again.stop().await;
}

async fn enough_events_trigger_a_refit_in_the_background(backend: Backend) {
    let app = spawn_app_with(backend, &[("LYCEUM_RECOMMEND_REBUILD_EVENTS", "100")]).await;
    let cat = catalog(&app).await;
    plant_pairing(&app, &cat).await;
    // No admin asked: the hundredth event started a refit; wait for its swap.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let top = similar(&app, &cat.rust[0], None).await;
        if top
            .first()
            .is_some_and(|i| i["course"]["id"] == cat.cooking[3].as_str())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refit happened: {}",
            show(&top)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stop().await;
}

async fn experts_are_recommended_by_what_the_learner_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    let chef = app
        .login("chef@example.org", crate::helpers::PASSWORD)
        .await;
    let chef = TestUser::from_tokens(json_of(chef, 200).await);
    let profile = |headline: &str, tags: &[&str]| {
        json!({
            "headline": headline,
            "bio": "Years of practice.",
            "tags": tags,
            "languages": ["en"],
            "rate_per_minute_minor": 100,
            "currency": "eur",
            "min_minutes": 15,
            "max_minutes": 60,
            "time_zone": "Europe/Berlin",
            "published": true
        })
    };
    for (who, headline, tags) in [
        (&cat.rust_teacher, "Rust mentor", ["rust", "systems"]),
        (&chef, "Home cooking coach", ["cooking", "baking"]),
    ] {
        let resp = app
            .send(
                Method::PUT,
                "/api/v1/experts/me",
                Some(&who.access_token),
                Some(profile(headline, &tags)),
            )
            .await;
        assert!(resp.status().is_success(), "{}", resp.status());
    }
    let learner = app.register("learner@example.org").await;
    let experts = |body: Value| body["items"].as_array().cloned().unwrap_or_default();
    let list = experts(
        json_of(
            app.get("/api/v1/experts/recommended", Some(&learner.access_token))
                .await,
            200,
        )
        .await,
    );
    assert_eq!(
        list.len(),
        2,
        "without history every expert is still offered"
    );

    accepted(
        &app,
        &learner,
        json!([{"kind": "course_view", "course_id": cat.cooking[1]}]),
    )
    .await;
    let list = experts(
        json_of(
            app.get("/api/v1/experts/recommended", Some(&learner.access_token))
                .await,
            200,
        )
        .await,
    );
    assert_eq!(list[0]["expert"]["id"], chef.id.as_str(), "{}", show(&list));
    assert_eq!(list[0]["reason"]["kind"], "teaches");
    assert_eq!(list[0]["reason"]["course_id"], cat.cooking[1].as_str());
    // An expert is never recommended to themselves.
    let own = experts(
        json_of(
            app.get("/api/v1/experts/recommended", Some(&chef.access_token))
                .await,
            200,
        )
        .await,
    );
    assert!(own.iter().all(|e| e["expert"]["id"] != chef.id.as_str()));
    assert_error(
        app.get("/api/v1/experts/recommended", None).await,
        401,
        "unauthorized",
    )
    .await;
    app.stop().await;
}

async fn bad_limits_and_missing_courses_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let cat = catalog(&app).await;
    let learner = app.register("learner@example.org").await;
    for limit in ["0", "51", "-1", "ten"] {
        let path = format!("/api/v1/recommendations?limit={limit}");
        let resp = app.get(&path, Some(&learner.access_token)).await;
        assert_eq!(resp.status(), 400, "limit={limit}");
    }
    assert_error(
        app.get("/api/v1/recommendations", None).await,
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        app.get("/api/v1/courses/no-such-course/similar", None)
            .await,
        404,
        "not_found",
    )
    .await;
    // A draft is not found for others; its owner gets similar courses placed by its content.
    let draft = json_of(
        app.send(
            Method::POST,
            "/api/v1/courses",
            Some(&cat.rust_teacher.access_token),
            Some(course("Rust macros", &["rust", "systems"], "programming")),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{draft}/similar");
    assert_error(
        app.get(&path, Some(&learner.access_token)).await,
        404,
        "not_found",
    )
    .await;
    let own = similar(&app, &draft, Some(&cat.rust_teacher.access_token)).await;
    assert!(
        ids(&own).iter().take(3).all(|id| cat.rust.contains(id)),
        "{}",
        show(&own)
    );
    app.stop().await;
}
