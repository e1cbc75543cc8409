//! Paid questions end to end: the price held on the sandbox card and opened by its webhook,
//! the answer capturing it, the deadline (the server clock moved by the test) releasing it,
//! unlocks of a public answer shared between asker and expert, and every refusal. After each
//! scenario the ledger balances and no hold captured more than it authorised.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;

use crate::backend_tests;
use crate::consultations::{advance, books_balance, earned, pay_with};
use crate::helpers::{Backend, TestApp, TestUser, assert_error, spawn_app_with};

backend_tests!(
    an_answer_captures_the_price_for_the_expert,
    an_unanswered_question_expires_and_releases_everything,
    an_unlock_is_shared_between_asker_and_expert,
    refusals_change_nothing,
);

/// The expert's question price in these tests (EUR cents); the platform keeps 20%.
const PRICE: i64 = 1000;

struct Asking {
    app: TestApp,
    expert: TestUser,
    asker: TestUser,
}

/// A server sweeping every second, and a published expert who takes questions at [`PRICE`].
async fn asking(backend: Backend) -> Asking {
    let app = spawn_app_with(backend, &[("LYCEUM_CONSULT_SWEEP_SECS", "1")]).await;
    let expert = app
        .user_with_role("expert@example.org", Role::Instructor)
        .await;
    let asker = app.register("asker@example.org").await;
    let profile = json!({
        "headline": "Rust performance", "languages": ["en"], "rate_per_minute_minor": 100,
        "currency": "EUR", "min_minutes": 5, "max_minutes": 60, "time_zone": "UTC",
        "published": true
    });
    let resp = send(
        &app,
        Method::PUT,
        "/api/v1/experts/me",
        &expert,
        Some(profile),
    )
    .await;
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let resp = set_price(&app, &expert, json!(PRICE)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"price_minor": PRICE, "currency": "EUR"}));
    Asking { app, expert, asker }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &TestUser,
    body: Option<Value>,
) -> reqwest::Response {
    app.send(method, path, Some(&who.access_token), body).await
}

async fn set_price(app: &TestApp, who: &TestUser, price: Value) -> reqwest::Response {
    let body = json!({ "price_minor": price });
    send(
        app,
        Method::PUT,
        "/api/v1/experts/me/question-price",
        who,
        Some(body),
    )
    .await
}

async fn ask(a: &Asking, who: &TestUser, body: Value) -> reqwest::Response {
    let path = format!("/api/v1/experts/{}/questions", a.expert.id);
    send(&a.app, Method::POST, &path, who, Some(body)).await
}

/// Asks a question (public unless said otherwise) and returns its id and payment id.
async fn asked(a: &Asking, public: bool) -> (String, String) {
    let body = json!({"title": "Why is my loop slow?", "body": "It allocates.", "public": public});
    let resp = ask(a, &a.asker, body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let asked: Value = resp.json().await.unwrap();
    assert_eq!(asked["question"]["status"], "pending_payment");
    assert_eq!(asked["question"]["price_minor"], PRICE);
    (
        asked["question"]["id"].as_str().unwrap().to_owned(),
        asked["payment"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The question as `who` (or an anonymous caller) sees it.
async fn question(app: &TestApp, id: &str, who: Option<&TestUser>) -> reqwest::Response {
    app.get(
        &format!("/api/v1/questions/{id}"),
        who.map(|u| u.access_token.as_str()),
    )
    .await
}

/// The question as `who` sees it, as JSON (also for errors).
async fn question_json(app: &TestApp, id: &str, who: Option<&TestUser>) -> Value {
    question(app, id, who).await.json().await.unwrap()
}

/// GETs `path` as `who` and reads the JSON body.
async fn get_json(app: &TestApp, path: &str, who: Option<&TestUser>) -> Value {
    app.get(path, who.map(|u| u.access_token.as_str()))
        .await
        .json()
        .await
        .unwrap()
}

/// Polls the question as `who` until `done` holds (webhooks and sweeps run in the background).
async fn await_question(
    app: &TestApp,
    id: &str,
    who: &TestUser,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let q: Value = question_json(app, id, Some(who)).await;
        if done(&q) {
            return q;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "question never got there: {q}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An open (paid) question; returns its id.
async fn open(a: &Asking, public: bool) -> String {
    let (id, payment) = asked(a, public).await;
    pay_with(&a.app, &a.asker, &payment).await;
    let q = await_question(&a.app, &id, &a.asker, |q| q["status"] == "open").await;
    assert!(q["deadline_at"].is_string());
    id
}

async fn answer(a: &Asking, id: &str, who: &TestUser, text: &str) -> reqwest::Response {
    let path = format!("/api/v1/questions/{id}/answer");
    send(
        &a.app,
        Method::POST,
        &path,
        who,
        Some(json!({"answer": text})),
    )
    .await
}

async fn unlock(a: &Asking, id: &str, who: &TestUser) -> reqwest::Response {
    let path = format!("/api/v1/questions/{id}/unlock");
    send(&a.app, Method::POST, &path, who, None).await
}

/// The status and captured amount of every hold paying for `subject`, oldest first.
async fn holds_of(app: &TestApp, subject: &str) -> Vec<(String, String, i64)> {
    let subject = subject.to_owned();
    app.db()
        .await
        .run(move |c| {
            use diesel::prelude::*;
            use lyceum::db::schema::payment_holds as h;
            h::table
                .filter(h::subject_id.eq(&subject))
                .order(h::created_at)
                .select((h::purpose, h::status, h::captured_minor))
                .load(c)
                .map_err(lyceum::db::DbError::from)
        })
        .await
        .unwrap()
}

/// The platform's revenue per the ledger.
async fn platform_revenue(app: &TestApp) -> i64 {
    app.db()
        .await
        .run(|c| {
            lyceum::ledger::service::balances(c, lyceum::ledger::domain::PLATFORM_REVENUE, None)
                .map_err(lyceum::db::DbError::from)
        })
        .await
        .unwrap()
        .iter()
        .map(|(_, v)| -v)
        .sum()
}

async fn an_answer_captures_the_price_for_the_expert(backend: Backend) {
    let a = asking(backend).await;
    let id = open(&a, true).await;
    let resp = answer(
        &a,
        &id,
        &a.expert,
        "  Hoist the allocation out of the loop.  ",
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let q: Value = resp.json().await.unwrap();
    assert_eq!(q["status"], "answered");
    assert_eq!(q["answer"], "Hoist the allocation out of the loop.");
    assert_eq!(
        holds_of(&a.app, &id).await,
        vec![("question".into(), "captured".into(), PRICE)]
    );
    assert_eq!(earned(&a.app, &a.expert.id).await, PRICE * 8 / 10);
    assert_eq!(platform_revenue(&a.app).await, PRICE * 2 / 10);
    // The asker sees everything; answering twice is a conflict and charges nothing more.
    let seen: Value = question_json(&a.app, &id, Some(&a.asker)).await;
    assert_eq!(seen["answer"], q["answer"]);
    assert_eq!(seen["asker_id"], a.asker.id);
    assert_error(answer(&a, &id, &a.expert, "again").await, 409, "conflict").await;
    let mine: Value = get_json(&a.app, "/api/v1/me/questions", Some(&a.expert)).await;
    assert_eq!(
        (mine["total"].as_i64(), mine["items"][0]["id"].as_str()),
        (Some(1), Some(id.as_str()))
    );
    assert_eq!(earned(&a.app, &a.expert.id).await, PRICE * 8 / 10);
    books_balance(&a.app).await;
}

async fn an_unanswered_question_expires_and_releases_everything(backend: Backend) {
    let a = asking(backend).await;
    let id = open(&a, true).await;
    // Never paid: expires after the payment window (15 minutes by default).
    let (unpaid, _) = asked(&a, false).await;
    advance(&a.app, 15 * 60 + 1);
    await_question(&a.app, &unpaid, &a.asker, |q| q["status"] == "expired").await;
    assert_eq!(
        holds_of(&a.app, &unpaid).await,
        vec![("question".into(), "released".into(), 0)]
    );
    // Still open within the 48 hours to answer; expired right after them.
    let q: Value = question_json(&a.app, &id, Some(&a.asker)).await;
    assert_eq!(q["status"], "open");
    advance(&a.app, 48 * 3600);
    await_question(&a.app, &id, &a.asker, |q| q["status"] == "expired").await;
    assert_eq!(
        holds_of(&a.app, &id).await,
        vec![("question".into(), "released".into(), 0)]
    );
    // A late answer is refused and nothing was charged.
    assert_error(
        answer(&a, &id, &a.expert, "Sorry, late.").await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(earned(&a.app, &a.expert.id).await, 0);
    assert_eq!(platform_revenue(&a.app).await, 0);
    books_balance(&a.app).await;
}

async fn an_unlock_is_shared_between_asker_and_expert(backend: Backend) {
    let a = asking(backend).await;
    let reader = a.app.register("reader@example.org").await;
    let id = open(&a, true).await;
    // Unanswered questions are not visible to others, so they cannot be unlocked.
    assert_error(question(&a.app, &id, Some(&reader)).await, 404, "not_found").await;
    assert_error(unlock(&a, &id, &reader).await, 404, "not_found").await;
    let resp = answer(&a, &id, &a.expert, "Hoist the allocation.").await;
    assert_eq!(resp.status(), 200);
    // Before unlocking: title and body, no answer, no asker.
    let q: Value = question_json(&a.app, &id, Some(&reader)).await;
    assert_eq!(
        (
            &q["title"],
            &q["answer"],
            &q["asker_id"],
            &q["answer_visible"],
            &q["unlock_price_minor"]
        ),
        (
            &json!("Why is my loop slow?"),
            &Value::Null,
            &Value::Null,
            &json!(false),
            &json!(200)
        )
    );
    let listed: Value = get_json(
        &a.app,
        &format!("/api/v1/experts/{}/questions", a.expert.id),
        None,
    )
    .await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["answer"], Value::Null);
    assert_eq!(
        listed["ask_price"],
        json!({"amount_minor": PRICE, "currency": "EUR"})
    );
    // The parties do not pay to read their own answer.
    assert_error(unlock(&a, &id, &a.asker).await, 403, "forbidden").await;
    assert_error(unlock(&a, &id, &a.expert).await, 403, "forbidden").await;
    // Unlock: 200 cents, 40 platform fee, the rest halved.
    let resp = unlock(&a, &id, &reader).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let unlocking: Value = resp.json().await.unwrap();
    assert_eq!(unlocking["status"], "pending");
    let q: Value = question_json(&a.app, &id, Some(&reader)).await;
    assert_eq!(q["answer"], Value::Null, "not before the payment");
    pay_with(
        &a.app,
        &reader,
        unlocking["payment"]["id"].as_str().unwrap(),
    )
    .await;
    let q = await_question(&a.app, &id, &reader, |q| q["answer_visible"] == true).await;
    assert_eq!(q["answer"], "Hoist the allocation.");
    assert_eq!(
        holds_of(&a.app, &id).await,
        vec![
            ("question".into(), "captured".into(), PRICE),
            ("unlock".into(), "captured".into(), 200),
        ]
    );
    assert_eq!(earned(&a.app, &a.expert.id).await, PRICE * 8 / 10 + 80);
    assert_eq!(earned(&a.app, &a.asker.id).await, 80);
    assert_eq!(platform_revenue(&a.app).await, PRICE * 2 / 10 + 40);
    let listed: Value = get_json(
        &a.app,
        &format!("/api/v1/experts/{}/questions", a.expert.id),
        Some(&reader),
    )
    .await;
    assert_eq!(listed["items"][0]["answer"], "Hoist the allocation.");
    // Once is enough; and someone else still sees no answer.
    assert_error(unlock(&a, &id, &reader).await, 409, "conflict").await;
    let other = a.app.register("other@example.org").await;
    let q: Value = question_json(&a.app, &id, Some(&other)).await;
    assert_eq!(q["answer"], Value::Null);
    assert_eq!(
        q["answer"],
        question_json(&a.app, &id, None).await["answer"]
    );
    // A private answer is nobody else's to unlock.
    let private = open(&a, false).await;
    assert_eq!(
        answer(&a, &private, &a.expert, "Just for you.")
            .await
            .status(),
        200
    );
    assert_error(
        question(&a.app, &private, Some(&reader)).await,
        404,
        "not_found",
    )
    .await;
    assert_error(unlock(&a, &private, &reader).await, 404, "not_found").await;
    assert_eq!(earned(&a.app, &a.asker.id).await, 80);
    books_balance(&a.app).await;
}

async fn refusals_change_nothing(backend: Backend) {
    let a = asking(backend).await;
    let ok = json!({"title": "t", "body": "b"});
    // Asking: signed in, valid, not oneself, an expert who takes questions.
    let path = format!("/api/v1/experts/{}/questions", a.expert.id);
    let resp = a
        .app
        .send(Method::POST, &path, None, Some(ok.clone()))
        .await;
    assert_error(resp, 401, "unauthorized").await;
    for bad in [
        json!({"title": " ", "body": "b"}),
        json!({"title": "t", "body": ""}),
        json!({"title": "x".repeat(201), "body": "b"}),
        json!({"title": "t", "body": "x".repeat(4001)}),
    ] {
        assert_error(ask(&a, &a.asker, bad).await, 400, "validation_failed").await;
    }
    assert_error(
        ask(&a, &a.asker, json!({"title": "t"})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(ask(&a, &a.expert, ok.clone()).await, 403, "forbidden").await;
    let nobody = "/api/v1/experts/no-such-expert/questions";
    let resp = send(&a.app, Method::POST, nobody, &a.asker, Some(ok.clone())).await;
    assert_error(resp, 404, "not_found").await;
    // The price: experts with a profile only, in range; null stops paid questions.
    assert_error(
        set_price(&a.app, &a.asker, json!(500)).await,
        403,
        "forbidden",
    )
    .await;
    let bare = a
        .app
        .user_with_role("bare@example.org", Role::Instructor)
        .await;
    assert_error(set_price(&a.app, &bare, json!(500)).await, 404, "not_found").await;
    for bad in [json!(-1), json!(1_000_001)] {
        assert_error(
            set_price(&a.app, &a.expert, bad).await,
            400,
            "validation_failed",
        )
        .await;
    }
    assert_eq!(
        set_price(&a.app, &a.expert, Value::Null).await.status(),
        200
    );
    assert_error(ask(&a, &a.asker, ok.clone()).await, 409, "conflict").await;
    assert_eq!(
        set_price(&a.app, &a.expert, json!(PRICE)).await.status(),
        200
    );
    // Answering: the expert only, with text, once paid.
    let (unpaid, _) = asked(&a, true).await;
    assert_error(
        answer(&a, &unpaid, &a.expert, "early").await,
        409,
        "conflict",
    )
    .await;
    let id = open(&a, true).await;
    assert_error(
        answer(&a, &id, &a.asker, "self-answer").await,
        403,
        "forbidden",
    )
    .await;
    let stranger = a.app.register("stranger@example.org").await;
    assert_error(answer(&a, &id, &stranger, "me").await, 404, "not_found").await;
    assert_error(
        answer(&a, &id, &a.expert, "   ").await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        answer(&a, "pq_missing", &a.expert, "x").await,
        404,
        "not_found",
    )
    .await;
    assert_error(question(&a.app, &id, None).await, 404, "not_found").await;
    let resp = a
        .app
        .get("/api/v1/me/questions?limit=0", Some(&a.asker.access_token))
        .await;
    assert_error(resp, 400, "validation_failed").await;
    // None of that moved any money or state.
    let q: Value = question_json(&a.app, &id, Some(&a.asker)).await;
    assert_eq!(
        (q["status"].as_str(), q["answer"].as_str()),
        (Some("open"), None)
    );
    assert_eq!(
        holds_of(&a.app, &id).await,
        vec![("question".into(), "authorized".into(), 0)]
    );
    let mine: Value = get_json(&a.app, "/api/v1/me/questions", Some(&a.asker)).await;
    assert_eq!(mine["total"], 2, "only the two valid questions exist");
    assert_eq!(earned(&a.app, &a.expert.id).await, 0);
    books_balance(&a.app).await;
}
