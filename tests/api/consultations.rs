//! Paid consultations end to end: bookings held on the sandbox card and confirmed by its
//! webhook, decline and cancellation, overlapping bookings, and the live room over a real
//! WebSocket with the server's clock moved by the test: metering with drops inside and beyond
//! the grace, early end, the booked limit, an extension, a restart mid-session, no-shows.
//! After every scenario the ledger balances and nobody paid more than was authorised.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;

use crate::backend_tests;
use crate::classroom::{Socket, connect, join, next_of, send};
use crate::helpers::{Backend, TestApp, TestUser, assert_error, spawn_app_with};

backend_tests!(
    bookings_are_held_confirmed_declined_and_cancelled,
    overlapping_bookings_are_refused_even_when_concurrent,
    metering_bills_only_time_with_both_present,
    the_booked_limit_ends_the_session_and_an_extension_adds_paid_time,
    a_restart_mid_session_neither_loses_nor_double_counts,
    a_session_nobody_came_back_to_is_settled_by_the_sweep,
    no_shows_and_unpaid_bookings_are_swept,
    only_the_parties_join_a_consultation,
    only_the_payer_confirms_and_the_payee_never_sees_the_payment,
    unpaid_bookings_are_capped_even_when_concurrent,
    ending_without_billable_time_applies_the_cancellation_and_no_show_policy,
    parties_who_never_meet_are_settled_after_the_booked_end,
    a_stop_mid_session_closes_the_sockets_and_stores_the_running_interval,
);

const CARD_OK: &str = "4242 4242 4242 4242";
/// Minor units per minute in these tests.
const RATE: i64 = 100;

struct Consult {
    app: TestApp,
    expert: TestUser,
    learner: TestUser,
}

/// A server (fast room ticks and sweeps) with a published expert available around the clock.
async fn consult(backend: Backend) -> Consult {
    let settings = [
        ("LYCEUM_ROOM_TICK_MS", "20"),
        ("LYCEUM_CONSULT_SWEEP_SECS", "1"),
        ("LYCEUM_CONSULT_RECONNECT_GRACE_SECS", "60"),
    ];
    let app = spawn_app_with(backend, &settings).await;
    let expert = published_expert(&app, "expert@example.org").await;
    let learner = app.register("learner@example.org").await;
    Consult {
        app,
        expert,
        learner,
    }
}

/// A published expert available around the clock at [`RATE`].
async fn published_expert(app: &TestApp, email: &str) -> TestUser {
    let expert = app.user_with_role(email, Role::Instructor).await;
    let profile = json!({
        "headline": "Rust performance", "bio": "", "tags": ["rust"], "languages": ["en"],
        "rate_per_minute_minor": RATE, "currency": "EUR", "min_minutes": 5, "max_minutes": 120,
        "time_zone": "UTC", "published": true
    });
    let resp = app
        .send(
            Method::PUT,
            "/api/v1/experts/me",
            Some(&expert.access_token),
            Some(profile),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let windows: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    let resp = app
        .send(
            Method::PUT,
            "/api/v1/experts/me/availability",
            Some(&expert.access_token),
            Some(json!({"windows": windows})),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    expert
}

/// The first 5-minute boundary at least `ahead` from now.
fn slot(ahead: chrono::Duration) -> DateTime<Utc> {
    let t = Utc::now() + ahead;
    let step = 300;
    DateTime::from_timestamp((t.timestamp() / step + 1) * step, 0).unwrap()
}

async fn book(
    c: &Consult,
    who: &TestUser,
    start: DateTime<Utc>,
    minutes: i64,
) -> reqwest::Response {
    c.app
        .send(
            Method::POST,
            &format!("/api/v1/experts/{}/bookings", c.expert.id),
            Some(&who.access_token),
            Some(json!({"starts_at": start.to_rfc3339(), "minutes": minutes})),
        )
        .await
}

async fn booking(c: &Consult, id: &str) -> Value {
    c.app
        .get(
            &format!("/api/v1/bookings/{id}"),
            Some(&c.learner.access_token),
        )
        .await
        .json()
        .await
        .unwrap()
}

/// Polls the booking until `done` holds (webhooks and sweeps run in the background).
async fn await_booking(c: &Consult, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let b = booking(c, id).await;
        if done(&b) {
            return b;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "booking never got there: {b}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pay(c: &Consult, payment_id: &str) {
    pay_with(&c.app, &c.learner, payment_id).await
}

/// Confirms a sandbox payment with the test card that authorises, as its payer.
pub(crate) async fn pay_with(app: &TestApp, payer: &TestUser, payment_id: &str) {
    let resp = confirm_as(app, payer, payment_id).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

/// `POST /sandbox/payments/{id}/confirm` with the test card that authorises, as `who`.
async fn confirm_as(app: &TestApp, who: &TestUser, payment_id: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/v1/sandbox/payments/{payment_id}/confirm"),
        Some(&who.access_token),
        Some(json!({"card_number": CARD_OK})),
    )
    .await
}

/// Completes the 3-D Secure step of a sandbox payment as `who`.
async fn authenticate_as(app: &TestApp, who: &TestUser, payment_id: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/v1/sandbox/payments/{payment_id}/authenticate"),
        Some(&who.access_token),
        Some(json!({"approve": true})),
    )
    .await
}

/// A confirmed (paid) booking of `minutes` starting at `start`; returns its id.
async fn confirmed(c: &Consult, start: DateTime<Utc>, minutes: i64) -> String {
    let resp = book(c, &c.learner, start, minutes).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let booked: Value = resp.json().await.unwrap();
    assert_eq!(booked["booking"]["status"], "pending_payment");
    let id = booked["booking"]["id"].as_str().unwrap().to_owned();
    pay(c, booked["payment"]["id"].as_str().unwrap()).await;
    await_booking(c, &id, |b| b["status"] == "confirmed").await;
    id
}

/// The ledger balances in every currency and holds never captured more than authorised.
pub(crate) async fn books_balance(app: &TestApp) {
    let db = app.db().await;
    let (balances, over) = db
        .run(|c| {
            use diesel::prelude::*;
            use lyceum::db::schema::payment_holds as h;
            let balances = lyceum::ledger::service::trial_balance(c)?;
            let over: i64 = h::table
                .filter(h::captured_minor.gt(h::amount_minor))
                .count()
                .get_result(c)?;
            Ok::<_, lyceum::db::DbError>((balances, over))
        })
        .await
        .unwrap();
    assert!(balances.iter().all(|(_, sum)| *sum == 0), "{balances:?}");
    assert_eq!(over, 0, "a hold captured more than it authorised");
}

/// What the expert earned from consultations, per the ledger.
pub(crate) async fn earned(app: &TestApp, expert: &str) -> i64 {
    let account = lyceum::ledger::domain::instructor_account(expert);
    let db = app.db().await;
    db.run(move |c| {
        lyceum::ledger::service::balances(c, &account, None).map_err(lyceum::db::DbError::from)
    })
    .await
    .unwrap()
    .iter()
    .map(|(_, v)| -v)
    .sum()
}

async fn joined(c: &Consult, who: &TestUser, id: &str) -> (Socket, Value) {
    let mut ws = connect(&c.app, &who.access_token).await;
    let j = join(&mut ws, &format!("consult:{id}"), None).await;
    assert_eq!(j["type"], "joined", "{j}");
    (ws, j)
}

/// The next event of `kind`, skipping others.
async fn event(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let e = next_of(ws, "event").await;
        if e["kind"] == kind {
            return e;
        }
    }
}

pub(crate) fn advance(app: &TestApp, secs: i64) {
    app.clock.advance(chrono::Duration::seconds(secs));
}

async fn bookings_are_held_confirmed_declined_and_cancelled(backend: Backend) {
    let c = consult(backend).await;
    // Declined: everything released.
    let id = confirmed(&c, slot(chrono::Duration::days(3)), 30).await;
    let resp = c
        .app
        .send(
            Method::POST,
            &format!("/api/v1/bookings/{id}/decline"),
            Some(&c.learner.access_token),
            None,
        )
        .await;
    assert_error(resp, 403, "forbidden").await;
    let resp = c
        .app
        .send(
            Method::POST,
            &format!("/api/v1/bookings/{id}/decline"),
            Some(&c.expert.access_token),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let b = booking(&c, &id).await;
    assert_eq!(
        (b["status"].as_str(), b["charged_minor"].as_i64()),
        (Some("declined"), Some(0))
    );
    // The slot is free again.
    let again = confirmed(&c, slot(chrono::Duration::days(3)), 30).await;
    // Cancelled in time: free.
    let cancel = |id: String| {
        let app = &c.app;
        let token = c.learner.access_token.clone();
        async move {
            app.send(
                Method::POST,
                &format!("/api/v1/bookings/{id}/cancel"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let free: Value = c
        .app
        .get(
            &format!("/api/v1/bookings/{again}/cancellation"),
            Some(&c.learner.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&free["late"], &free["fee_minor"]),
        (&json!(false), &json!(0))
    );
    assert_eq!(cancel(again.clone()).await.status(), 200);
    assert_eq!(booking(&c, &again).await["charged_minor"], 0);
    assert_error(cancel(again.clone()).await, 409, "conflict").await;
    // Cancelled within the notice period (24 h): half the price is captured, as quoted first.
    let late = confirmed(&c, slot(chrono::Duration::hours(2)), 30).await;
    let quote_path = format!("/api/v1/bookings/{late}/cancellation");
    let quote: Value = c
        .app
        .get(&quote_path, Some(&c.learner.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&quote["cancellable"], &quote["late"], &quote["fee_minor"]),
        (&json!(true), &json!(true), &json!(30 * RATE / 2)),
        "{quote}"
    );
    assert_eq!(quote["price_minor"], 30 * RATE);
    assert_error(
        c.app.get(&quote_path, Some(&c.expert.access_token)).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        booking(&c, &late).await["status"],
        "confirmed",
        "a quote changes nothing"
    );
    assert_eq!(cancel(late.clone()).await.status(), 200);
    let b = booking(&c, &late).await;
    assert_eq!(
        (b["status"].as_str(), b["charged_minor"].as_i64()),
        (Some("canceled"), Some(30 * RATE / 2))
    );
    assert_eq!(earned(&c.app, &c.expert.id).await, 30 * RATE / 2 * 8 / 10);
    books_balance(&c.app).await;
}

async fn overlapping_bookings_are_refused_even_when_concurrent(backend: Backend) {
    let c = consult(backend).await;
    let start = slot(chrono::Duration::days(2));
    let mut learners = vec![c.learner.clone()];
    for i in 0..3 {
        learners.push(c.app.register(&format!("rival{i}@example.org")).await);
    }
    let attempts = join_all(learners.iter().map(|l| book(&c, l, start, 30))).await;
    let codes: Vec<u16> = attempts.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes.iter().filter(|s| **s == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|s| **s == 409).count(), 3, "{codes:?}");
    // A partial overlap is refused too; the time right after is free.
    let overlap = start + chrono::Duration::minutes(25);
    // One who lost the race, so they hold no booking yet.
    let rival = &learners[codes.iter().position(|s| *s == 409).unwrap()];
    assert_error(book(&c, rival, overlap, 30).await, 409, "conflict").await;
    assert_eq!(
        book(&c, rival, start + chrono::Duration::minutes(30), 30)
            .await
            .status(),
        201
    );
    // Bad input changes nothing.
    assert_error(
        book(&c, rival, start + chrono::Duration::minutes(90), 7).await,
        400,
        "validation_failed",
    )
    .await;
    let off_grid = start + chrono::Duration::minutes(92);
    assert_error(
        book(&c, rival, off_grid, 30).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        book(&c, &c.expert, start + chrono::Duration::hours(5), 30).await,
        403,
        "forbidden",
    )
    .await;
    let mine: Value = c
        .app
        .get("/api/v1/me/bookings", Some(&rival.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // Each party's list names the other.
    let expert_side: Value = c
        .app
        .get("/api/v1/me/bookings", Some(&c.expert.access_token))
        .await
        .json()
        .await
        .unwrap();
    let theirs = expert_side
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == mine[0]["id"])
        .expect("the expert lists the rival's booking");
    assert_eq!(theirs["learner_name"], "Test User");
    assert!(
        theirs["expert_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
}

async fn metering_bills_only_time_with_both_present(backend: Backend) {
    let c = consult(backend).await;
    let id = confirmed(&c, slot(chrono::Duration::minutes(5)), 30).await;
    let (mut learner, j) = joined(&c, &c.learner, &id).await;
    assert_eq!(j["state"]["booked_s"], 1800);
    advance(&c.app, 60);
    let (mut expert, _) = joined(&c, &c.expert, &id).await;
    event(&mut learner, "metering_started").await;
    chat_both_ways(&c, &mut learner, &mut expert, &id).await;
    advance(&c.app, 120);
    drop(learner);
    event(&mut expert, "metering_paused").await;
    advance(&c.app, 10);
    let (mut learner, _) = joined(&c, &c.learner, &id).await;
    event(&mut expert, "metering_resumed").await;
    advance(&c.app, 300);
    send(
        &mut learner,
        json!({"type": "end", "room": format!("consult:{id}"), "ref": "e"}),
    )
    .await;
    let stopped = event(&mut expert, "metering_stopped").await;
    assert_eq!(
        stopped["data"]["billable_s"], 430,
        "the 10 s drop is within the grace"
    );
    let settled = event(&mut expert, "session_settled").await;
    assert_eq!(
        settled["data"]["charged_minor"],
        8 * RATE,
        "ceil(430 / 60) minutes"
    );
    let b = booking(&c, &id).await;
    assert_eq!(
        (
            b["status"].as_str(),
            b["billable_seconds"].as_i64(),
            b["charged_minor"].as_i64()
        ),
        (Some("completed"), Some(430), Some(8 * RATE))
    );
    assert_eq!(earned(&c.app, &c.expert.id).await, 8 * RATE * 8 / 10);
    let report: Value = c
        .app
        .get("/api/v1/me/earnings", Some(&c.expert.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            report[0]["earned_minor"].as_i64(),
            report[0]["refunded_minor"].as_i64()
        ),
        (Some(8 * RATE * 8 / 10), Some(0)),
        "consultation earnings show up in the expert's report: {report}"
    );
    let chat = json!({"type": "chat", "room": format!("consult:{id}"), "text": "still there?", "ref": "x"});
    send(&mut learner, chat).await;
    assert_eq!(next_of(&mut learner, "error").await["code"], "forbidden");
    books_balance(&c.app).await;
}

async fn chat_both_ways(c: &Consult, learner: &mut Socket, expert: &mut Socket, id: &str) {
    let room = format!("consult:{id}");
    send(
        learner,
        json!({"type": "chat", "room": room, "text": "hello"}),
    )
    .await;
    assert_eq!(event(expert, "chat").await["data"]["text"], "hello");
    assert_eq!(
        event(learner, "chat").await["data"]["text"],
        "hello",
        "its own, in order"
    );
    send(expert, json!({"type": "chat", "room": room, "text": "hi!"})).await;
    assert_eq!(
        event(learner, "chat").await["data"]["user"],
        c.expert.id.as_str()
    );
}

async fn the_booked_limit_ends_the_session_and_an_extension_adds_paid_time(backend: Backend) {
    let c = consult(backend).await;
    let id = confirmed(&c, slot(chrono::Duration::minutes(5)), 10).await;
    let room = format!("consult:{id}");
    let (mut learner, _) = joined(&c, &c.learner, &id).await;
    let (mut expert, _) = joined(&c, &c.expert, &id).await;
    event(&mut learner, "metering_started").await;
    // A drop beyond the grace: billing stops at the drop.
    advance(&c.app, 60);
    drop(learner);
    event(&mut expert, "metering_paused").await;
    advance(&c.app, 90);
    assert_eq!(
        event(&mut expert, "metering_stopped").await["data"]["billable_s"],
        60
    );
    let (mut learner, _) = joined(&c, &c.learner, &id).await;
    event(&mut expert, "metering_started").await;
    advance(&c.app, 240);
    assert_eq!(
        event(&mut learner, "time_warning").await["data"]["remaining_s"],
        300
    );
    // The learner asks for 5 more minutes; the expert accepts; the learner pays.
    send(
        &mut learner,
        json!({"type": "extend", "room": room, "minutes": 5}),
    )
    .await;
    event(&mut expert, "extension_requested").await;
    send(
        &mut expert,
        json!({"type": "extend_answer", "room": room, "accept": true}),
    )
    .await;
    let payment = event(&mut learner, "extension_payment").await;
    assert_eq!(payment["data"]["amount_minor"], 5 * RATE);
    // The expert learns that a payment is awaited, never the learner's payment handle.
    let seen = event(&mut expert, "extension_payment").await;
    assert_eq!(seen["data"]["amount_minor"], 5 * RATE);
    assert!(seen["data"].get("payment_id").is_none(), "{seen}");
    let pid = payment["data"]["payment_id"].as_str().unwrap();
    assert_error(confirm_as(&c.app, &c.expert, pid).await, 404, "not_found").await;
    pay(&c, payment["data"]["payment_id"].as_str().unwrap()).await;
    assert_eq!(
        event(&mut learner, "extension_granted").await["data"]["minutes"],
        5
    );
    // 60 + 240 billed so far of 900: run out the clock.
    advance(&c.app, 600);
    let ended = event(&mut expert, "session_ended").await;
    assert_eq!(ended["data"]["reason"], "time_up");
    let settled = event(&mut expert, "session_settled").await;
    assert_eq!(settled["data"]["billable_s"], 900);
    assert_eq!(
        settled["data"]["charged_minor"],
        15 * RATE,
        "booking and extension, captured"
    );
    books_balance(&c.app).await;
}

async fn a_restart_mid_session_neither_loses_nor_double_counts(backend: Backend) {
    let (c2, id, _stopped) = crashed_mid_session(backend).await;
    advance(&c2.app, 10);
    let (mut learner, j) = joined(&c2, &c2.learner, &id).await;
    assert_eq!(
        j["state"]["billable_s"], 110,
        "the interval left open counts up to now within the grace"
    );
    let (mut expert, _) = joined(&c2, &c2.expert, &id).await;
    event(&mut learner, "metering_resumed").await;
    advance(&c2.app, 50);
    send(
        &mut expert,
        json!({"type": "end", "room": format!("consult:{id}")}),
    )
    .await;
    let settled = event(&mut learner, "session_settled").await;
    assert_eq!(settled["data"]["billable_s"], 160);
    assert_eq!(settled["data"]["charged_minor"], 3 * RATE);
    books_balance(&c2.app).await;
}

async fn no_shows_and_unpaid_bookings_are_swept(backend: Backend) {
    let c = consult(backend).await;
    let expert_missing = confirmed(&c, slot(chrono::Duration::minutes(5)), 30).await;
    let learner_missing = confirmed(&c, slot(chrono::Duration::minutes(40)), 30).await;
    let unpaid: Value = book(&c, &c.learner, slot(chrono::Duration::hours(3)), 30)
        .await
        .json()
        .await
        .unwrap();
    let unpaid = unpaid["booking"]["id"].as_str().unwrap().to_owned();
    // The expert shows up for the second booking only; the learner does not.
    let (_expert_ws, _) = joined(&c, &c.expert, &learner_missing).await;
    advance(&c.app, 30 * 60);
    let b = await_booking(&c, &expert_missing, |b| b["status"] != "confirmed").await;
    assert_eq!(
        (b["status"].as_str(), b["charged_minor"].as_i64()),
        (Some("expert_no_show"), Some(0))
    );
    let b = await_booking(&c, &unpaid, |b| b["status"] != "pending_payment").await;
    assert_eq!(b["status"], "expired");
    advance(&c.app, 30 * 60);
    let b = await_booking(&c, &learner_missing, |b| b["status"] == "learner_no_show").await;
    assert_eq!(
        b["charged_minor"], 0,
        "by default a learner no-show costs nothing"
    );
    assert_eq!(earned(&c.app, &c.expert.id).await, 0);
    books_balance(&c.app).await;
}

async fn only_the_parties_join_a_consultation(backend: Backend) {
    let c = consult(backend).await;
    let stranger = c.app.register("stranger@example.org").await;
    let pending: Value = book(&c, &c.learner, slot(chrono::Duration::hours(1)), 30)
        .await
        .json()
        .await
        .unwrap();
    let pending = pending["booking"]["id"].as_str().unwrap().to_owned();
    let mut ws = connect(&c.app, &c.learner.access_token).await;
    assert_eq!(
        join(&mut ws, &format!("consult:{pending}"), None).await["code"],
        "forbidden",
        "unpaid"
    );
    // One unpaid booking per expert: give the place back before booking the paid one.
    let cancel = c
        .app
        .send(
            Method::POST,
            &format!("/api/v1/bookings/{pending}/cancel"),
            Some(&c.learner.access_token),
            None,
        )
        .await;
    assert_eq!(cancel.status(), 200, "{}", cancel.text().await.unwrap());
    let id = confirmed(&c, slot(chrono::Duration::hours(2)), 30).await;
    let mut ws = connect(&c.app, &stranger.access_token).await;
    assert_eq!(
        join(&mut ws, &format!("consult:{id}"), None).await["code"],
        "not_found"
    );
    let resp = c
        .app
        .get(
            &format!("/api/v1/bookings/{id}"),
            Some(&stranger.access_token),
        )
        .await;
    assert_error(resp, 404, "not_found").await;
    let (mut learner, _) = joined(&c, &c.learner, &id).await;
    // Classroom commands do not apply here; consultation commands belong to their party.
    let ask = json!({"type": "ask", "room": format!("consult:{id}"), "text": "?", "ref": "a"});
    send(&mut learner, ask).await;
    assert_eq!(next_of(&mut learner, "error").await["code"], "invalid");
    let answer = json!({"type": "extend_answer", "room": format!("consult:{id}"), "accept": true, "ref": "b"});
    send(&mut learner, answer).await;
    assert_eq!(next_of(&mut learner, "error").await["code"], "forbidden");
}

/// A session metered for 100 s, then the server stops (the parties gone) and a new one starts
/// on the same database and clock. The stopped server is returned too: it owns the data
/// directory.
async fn crashed_mid_session(backend: Backend) -> (Consult, String, Consult) {
    let c = consult(backend).await;
    let id = confirmed(&c, slot(chrono::Duration::minutes(5)), 30).await;
    let (mut learner, _) = joined(&c, &c.learner, &id).await;
    let (expert, _) = joined(&c, &c.expert, &id).await;
    event(&mut learner, "metering_started").await;
    advance(&c.app, 100);
    checkpointed(&c.app, &id, 100).await;
    drop((learner, expert));
    c.app.halt().await;
    let settings = [
        ("LYCEUM_ROOM_TICK_MS", "20"),
        ("LYCEUM_CONSULT_SWEEP_SECS", "1"),
    ];
    let clock = c.app.clock.clone();
    let app =
        crate::helpers::start_with_clock(&c.app.database_url, &c.app.data_dir, &settings, clock)
            .await;
    let restarted = Consult {
        app,
        expert: c.expert.clone(),
        learner: c.learner.clone(),
    };
    (restarted, id, c)
}

/// A stop (as SIGTERM) while both parties are metered, 3 s after the last checkpoint: both get
/// 1012, and the parties' departure at the stop is stored, so once the reconnect grace has run
/// out the restarted room bills exactly 103 s (a crash would leave the 100 s checkpoint).
async fn a_stop_mid_session_closes_the_sockets_and_stores_the_running_interval(backend: Backend) {
    let c = consult(backend).await;
    let id = confirmed(&c, slot(chrono::Duration::minutes(5)), 30).await;
    let (mut learner, _) = joined(&c, &c.learner, &id).await;
    let (mut expert, _) = joined(&c, &c.expert, &id).await;
    event(&mut learner, "metering_started").await;
    advance(&c.app, 100);
    checkpointed(&c.app, &id, 100).await;
    advance(&c.app, 3);
    c.app.stop().await;
    for ws in [&mut learner, &mut expert] {
        assert_eq!(next_of(ws, "closed").await["code"], 1012);
    }
    let settings = [
        ("LYCEUM_ROOM_TICK_MS", "20"),
        ("LYCEUM_CONSULT_RECONNECT_GRACE_SECS", "60"),
    ];
    let clock = c.app.clock.clone();
    let app =
        crate::helpers::start_with_clock(&c.app.database_url, &c.app.data_dir, &settings, clock)
            .await;
    // Past the reconnect grace: billing stops where the parties left, which only the drained
    // stop stored (a crash leaves the 100 s checkpoint).
    advance(&app, 70);
    let restarted = Consult {
        app,
        expert: c.expert.clone(),
        learner: c.learner.clone(),
    };
    let (_learner, j) = joined(&restarted, &restarted.learner, &id).await;
    assert_eq!(j["state"]["billable_s"], 103, "{j}");
}

/// Waits until the running interval of booking `id` is checkpointed `secs` after its start.
async fn checkpointed(app: &TestApp, id: &str, secs: i64) {
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let b = id.to_owned();
        let (_, open) = db
            .run(move |conn| {
                lyceum::consultations::bookings::stored_meter(conn, &b)
                    .map_err(lyceum::db::DbError::from)
            })
            .await
            .unwrap();
        if open.is_some_and(|(s, cp)| (cp - s).num_seconds() == secs) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint at {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A crash mid-session and nobody returns: once the booked time is long past, the sweep
/// settles what was metered up to the last checkpoint.
async fn a_session_nobody_came_back_to_is_settled_by_the_sweep(backend: Backend) {
    let (c2, id, _stopped) = crashed_mid_session(backend).await;
    // Past the start (up to 10 min away) + 30 booked minutes + the 10-minute grace.
    advance(&c2.app, 60 * 60);
    let b = await_booking(&c2, &id, |b| b["status"] == "completed").await;
    assert_eq!(
        (b["billable_seconds"].as_i64(), b["charged_minor"].as_i64()),
        (Some(100), Some(2 * RATE))
    );
    books_balance(&c2.app).await;
}

/// Payer actions are bound to the payer: the expert (the payee), a stranger and an anonymous
/// caller all get 404 / 401 for the learner's booking payment, which stays unpaid; the learner
/// then confirms it, and the 3-D Secure step is bound the same way.
async fn only_the_payer_confirms_and_the_payee_never_sees_the_payment(backend: Backend) {
    let c = consult(backend).await;
    let resp = book(&c, &c.learner, slot(chrono::Duration::days(2)), 30).await;
    assert_eq!(resp.status(), 201);
    let booked: Value = resp.json().await.unwrap();
    let id = booked["booking"]["id"].as_str().unwrap();
    let pid = booked["payment"]["id"].as_str().unwrap();
    let stranger = c.app.register("stranger@example.org").await;
    for who in [&c.expert, &stranger] {
        assert_error(confirm_as(&c.app, who, pid).await, 404, "not_found").await;
    }
    let anonymous = c
        .app
        .post_json(
            &format!("/api/v1/sandbox/payments/{pid}/confirm"),
            &json!({"card_number": CARD_OK}),
        )
        .await;
    assert_error(anonymous, 401, "unauthorized").await;
    assert_eq!(booking(&c, id).await["status"], "pending_payment");
    // A card that asks for the extra step: only the payer completes it.
    let challenged = c
        .app
        .send(
            Method::POST,
            &format!("/api/v1/sandbox/payments/{pid}/confirm"),
            Some(&c.learner.access_token),
            Some(json!({"card_number": "4000 0025 0000 3155"})),
        )
        .await;
    assert_eq!(challenged.status(), 200);
    assert_error(
        authenticate_as(&c.app, &c.expert, pid).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(authenticate_as(&c.app, &c.learner, pid).await.status(), 200);
    await_booking(&c, id, |b| b["status"] == "confirmed").await;
    assert_error(
        confirm_as(&c.app, &c.learner, pid).await,
        409,
        "payment_already_confirmed",
    )
    .await;
    books_balance(&c.app).await;
}

/// One learner cannot hold an expert's calendar with unpaid bookings: one unpaid booking per
/// expert, three in all (the defaults), enforced by the database even for concurrent requests
/// to different experts (which the order actor does not serialise). A paid booking frees its
/// place; a retry of the same unpaid booking still returns it.
async fn unpaid_bookings_are_capped_even_when_concurrent(backend: Backend) {
    let c = consult(backend).await;
    let start = slot(chrono::Duration::days(2));
    let first = book(&c, &c.learner, start, 30).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let later = start + chrono::Duration::hours(2);
    assert_error(book(&c, &c.learner, later, 30).await, 409, "conflict").await;
    let retry: Value = book(&c, &c.learner, start, 30).await.json().await.unwrap();
    assert_eq!(retry["booking"]["id"], first["booking"]["id"], "{retry}");

    let mut experts = Vec::new();
    for i in 0..5 {
        experts.push(published_expert(&c.app, &format!("expert{i}@example.org")).await);
    }
    let paths: Vec<String> = experts
        .iter()
        .map(|e| format!("/api/v1/experts/{}/bookings", e.id))
        .collect();
    let attempts = paths.iter().map(|path| {
        c.app.send(
            Method::POST,
            path,
            Some(&c.learner.access_token),
            Some(json!({"starts_at": start.to_rfc3339(), "minutes": 30})),
        )
    });
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let won = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(won, 2, "three unpaid in all: {statuses:?}");
    assert!(
        statuses.iter().all(|s| [201, 409].contains(s)),
        "{statuses:?}"
    );
    // Paying the first gives its place back.
    pay(&c, first["payment"]["id"].as_str().unwrap()).await;
    let id = first["booking"]["id"].as_str().unwrap();
    await_booking(&c, id, |b| b["status"] == "confirmed").await;
    assert_eq!(book(&c, &c.learner, later, 30).await.status(), 201);
    books_balance(&c.app).await;
}

/// Sends `end` in the consultation room as `ws`'s user and awaits the settlement.
async fn end_and_settle(ws: &mut Socket, id: &str) -> Value {
    send(
        ws,
        json!({"type": "end", "room": format!("consult:{id}"), "ref": "end"}),
    )
    .await;
    event(ws, "session_settled").await
}

/// `end` with no billable time is no way around the fees: the learner who joins early and
/// ends is cancelling late (the late fee, half the price by default); the expert who does the
/// same declines (released); the expert who ends after the no-show grace with the learner
/// absent makes it a learner no-show, not a completed session.
async fn ending_without_billable_time_applies_the_cancellation_and_no_show_policy(
    backend: Backend,
) {
    let c = consult(backend).await;
    let price = 30 * RATE;
    let early = confirmed(&c, slot(chrono::Duration::minutes(30)), 30).await;
    let (mut learner, _) = joined(&c, &c.learner, &early).await;
    let settled = end_and_settle(&mut learner, &early).await;
    assert_eq!(settled["data"]["status"], "canceled", "{settled}");
    assert_eq!(settled["data"]["charged_minor"], price / 2, "the late fee");
    drop(learner);

    let declined = confirmed(&c, slot(chrono::Duration::minutes(90)), 30).await;
    let (mut expert, _) = joined(&c, &c.expert, &declined).await;
    let settled = end_and_settle(&mut expert, &declined).await;
    assert_eq!(settled["data"]["status"], "declined", "{settled}");
    assert_eq!(settled["data"]["charged_minor"], 0);
    drop(expert);

    let start = slot(chrono::Duration::minutes(150));
    let absent = confirmed(&c, start, 30).await;
    // The expert is in the room before the clock passes start + grace (else the sweep would
    // rightly find the expert absent); the learner never comes.
    let (mut expert, _) = joined(&c, &c.expert, &absent).await;
    advance(&c.app, (start - Utc::now()).num_seconds() + 15 * 60);
    let settled = end_and_settle(&mut expert, &absent).await;
    assert_eq!(settled["data"]["status"], "learner_no_show", "{settled}");
    assert_eq!(
        settled["data"]["charged_minor"], 0,
        "the default no-show fee"
    );
    for (id, status, charged) in [
        (&early, "canceled", price / 2),
        (&declined, "declined", 0),
        (&absent, "learner_no_show", 0),
    ] {
        let b = booking(&c, id).await;
        assert_eq!(
            (b["status"].as_str(), b["charged_minor"].as_i64()),
            (Some(status), Some(charged))
        );
    }
    assert_eq!(earned(&c.app, &c.expert.id).await, price / 2 * 8 / 10);
    books_balance(&c.app).await;
}

/// Both parties open the room, one after the other, never together: no billable time ran, so
/// the sweep settles the booking once its time is over — nothing charged, the hold released —
/// instead of leaving the money authorised forever.
async fn parties_who_never_meet_are_settled_after_the_booked_end(backend: Backend) {
    let c = consult(backend).await;
    let start = slot(chrono::Duration::minutes(5));
    let id = confirmed(&c, start, 30).await;
    advance(&c.app, (start - Utc::now()).num_seconds() + 60);
    let (learner, _) = joined(&c, &c.learner, &id).await;
    drop(learner);
    advance(&c.app, 5 * 60);
    let (expert, _) = joined(&c, &c.expert, &id).await;
    drop(expert);
    advance(&c.app, 60 * 60);
    let b = await_booking(&c, &id, |b| b["status"] != "confirmed").await;
    assert_eq!(
        (b["status"].as_str(), b["charged_minor"].as_i64()),
        (Some("expert_no_show"), Some(0)),
        "{b}"
    );
    let holds = c
        .app
        .db()
        .await
        .run(move |conn| {
            use diesel::prelude::*;
            use lyceum::db::schema::payment_holds as h;
            h::table
                .filter(h::subject_id.eq(&id))
                .select(h::status)
                .load::<String>(conn)
                .map_err(lyceum::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(holds, vec!["released".to_owned()]);
    books_balance(&c.app).await;
}
