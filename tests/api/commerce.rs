//! Orders, the sandbox provider, signed webhooks, coupons, refunds and the ledger — over real
//! HTTP, with the sandbox delivering its webhooks to the server's own endpoint.

use std::time::Duration;

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;
use lyceum::db::DbError;
use lyceum::db::schema::{entitlements, ledger_transactions, orders};
use lyceum::payments::signature;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestUser, assert_error, spawn_app_with};

pub(crate) const WEBHOOK_SECRET: &str = "test-webhook-secret";
pub(crate) const CARD_OK: &str = "4242 4242 4242 4242";

backend_tests!(
    a_purchase_goes_from_checkout_through_the_webhook_to_access,
    declined_and_3ds_cards_behave_like_a_processor,
    idempotency_keys_replay_or_refuse,
    fifty_concurrent_checkouts_with_one_key_make_one_order,
    what_cannot_be_bought_is_refused,
    hostile_webhooks_are_refused_and_change_nothing,
    one_event_delivered_ten_times_at_once_grants_once,
    coupons_discount_and_respect_their_limits,
    refunds_follow_the_rules_and_the_ledger_balances,
    cancelled_and_expired_orders_release_their_payment,
    chaos_deliveries_still_pay_each_order_exactly_once,
    many_learners_checking_out_at_once_all_get_their_orders,
);

/// Settings every commerce test uses: a known webhook secret and a fast expiry sweep.
pub(crate) async fn app(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("LYCEUM_ORDER_SWEEP_SECS", "1"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(backend, &vars).await
}

/// The cast of a purchase: an admin, an instructor with a published course, and a learner.
pub(crate) struct Shop {
    pub admin: TestUser,
    pub instructor: TestUser,
    pub learner: TestUser,
    pub course: String,
}

/// Creates and publishes a course priced `price_minor` EUR by `instructor`.
pub(crate) async fn published_course(
    app: &TestApp,
    instructor: &TestUser,
    admin: &TestUser,
    price_minor: i64,
) -> String {
    let title = format!("Course {}", uuid::Uuid::new_v4());
    crate::catalog::published(
        app,
        instructor,
        admin,
        crate::catalog::course_body(&title, price_minor),
    )
    .await
}

pub(crate) async fn shop(app: &TestApp, price_minor: i64) -> Shop {
    let admin = app.user_with_role("admin@example.org", Role::Admin).await;
    let instructor = app
        .user_with_role("teacher@example.org", Role::Instructor)
        .await;
    let learner = app.register("learner@example.org").await;
    let course = published_course(app, &instructor, &admin, price_minor).await;
    Shop {
        admin,
        instructor,
        learner,
        course,
    }
}

pub(crate) async fn checkout(app: &TestApp, user: &TestUser, key: &str, body: Value) -> Response {
    app.request(Method::POST, "/api/v1/orders")
        .bearer_auth(&user.access_token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("checkout")
}

pub(crate) async fn new_order(app: &TestApp, user: &TestUser, course: &str) -> Value {
    let resp = checkout(
        app,
        user,
        &uuid::Uuid::new_v4().to_string(),
        json!({"course_id": course}),
    )
    .await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    resp.json().await.unwrap()
}

/// Confirms `order`'s payment with `card` as its buyer (payer actions are bound to the payer).
pub(crate) async fn confirm(
    app: &TestApp,
    buyer: &TestUser,
    order: &Value,
    card: &str,
) -> Response {
    let pid = order["payment"]["id"].as_str().expect("payment id");
    app.send(
        Method::POST,
        &format!("/api/v1/sandbox/payments/{pid}/confirm"),
        Some(&buyer.access_token),
        Some(json!({"card_number": card})),
    )
    .await
}

pub(crate) async fn order_of(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.send(
        Method::GET,
        &format!("/api/v1/orders/{id}"),
        Some(&user.access_token),
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

/// Polls the order until `check` holds; webhooks arrive asynchronously.
pub(crate) async fn await_order(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let order = order_of(app, user, id).await;
        if check(&order) {
            return order;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order never reached the state: {order}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(crate) async fn buy(app: &TestApp, user: &TestUser, course: &str) -> Value {
    let order = new_order(app, user, course).await;
    assert_eq!(confirm(app, user, &order, CARD_OK).await.status(), 200);
    await_order(app, user, order["id"].as_str().unwrap(), |o| {
        o["status"] == "paid"
    })
    .await
}

pub(crate) async fn owns(app: &TestApp, user: &TestUser, course: &str) -> bool {
    let lib: Value = app
        .send(
            Method::GET,
            "/api/v1/me/courses",
            Some(&user.access_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    lib.to_string().contains(course)
}

pub(crate) async fn revenue(app: &TestApp, admin: &TestUser) -> Value {
    let list: Value = app
        .send(
            Method::GET,
            "/api/v1/admin/revenue",
            Some(&admin.access_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    for r in list.as_array().unwrap() {
        assert_eq!(r["trial_balance_minor"], 0, "ledger out of balance: {list}");
    }
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["currency"] == "EUR")
        .cloned()
        .unwrap_or(Value::Null)
}

async fn earnings(app: &TestApp, instructor: &TestUser) -> Value {
    let list: Value = app
        .send(
            Method::GET,
            "/api/v1/me/earnings",
            Some(&instructor.access_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["currency"] == "EUR")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Counts rows for an order straight from the database.
async fn counts(app: &TestApp, order_id: &str, course: &str) -> (i64, i64, i64) {
    let db = app.db().await;
    let (oid, cid) = (order_id.to_owned(), course.to_owned());
    db.run(move |c| -> Result<_, DbError> {
        let sales = ledger_transactions::table
            .filter(ledger_transactions::reference.eq(&oid))
            .filter(ledger_transactions::kind.eq("sale"))
            .count()
            .get_result::<i64>(c)?;
        let active = entitlements::table
            .filter(entitlements::course_id.eq(&cid))
            .filter(entitlements::revoked_at.is_null())
            .count()
            .get_result::<i64>(c)?;
        let all_orders = orders::table
            .filter(orders::course_id.eq(&cid))
            .count()
            .get_result::<i64>(c)?;
        Ok((sales, active, all_orders))
    })
    .await
    .unwrap()
}

async fn a_purchase_goes_from_checkout_through_the_webhook_to_access(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 5000).await;
    let order = new_order(&app, &s.learner, &s.course).await;
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(
        order["amount"],
        json!({"amount_minor": 5000, "currency": "EUR"})
    );
    assert!(!owns(&app, &s.learner, &s.course).await);

    let payment: Value = confirm(&app, &s.learner, &order, CARD_OK)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "succeeded");
    let id = order["id"].as_str().unwrap();
    let paid = await_order(&app, &s.learner, id, |o| o["status"] == "paid").await;
    assert_eq!(paid["payment"]["status"], "succeeded");
    assert!(paid["paid_at"].is_string());
    assert!(owns(&app, &s.learner, &s.course).await);

    let earned = earnings(&app, &s.instructor).await;
    assert_eq!(earned["earned_minor"], 4000);
    assert_eq!(earned["balance_minor"], 4000);
    assert_eq!(
        earned["payout_ready_minor"], 0,
        "still inside the refund window"
    );
    let rev = revenue(&app, &s.admin).await;
    assert_eq!(rev["collected_minor"], 5000);
    assert_eq!(rev["platform_net_minor"], 1000);
    assert_eq!(counts(&app, id, &s.course).await, (1, 1, 1));

    let mine: Value = app
        .send(
            Method::GET,
            "/api/v1/orders",
            Some(&s.learner.access_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let title = app
        .get(&format!("/api/v1/courses/{}", s.course), None)
        .await;
    let title = title.json::<Value>().await.unwrap()["title"].clone();
    assert!(title.is_string());
    assert_eq!(
        mine[0]["course_title"], title,
        "a list of orders says what was bought"
    );
    assert_eq!(order["course_title"], title);
    // Admins list every buyer's orders, by status.
    let admin_list = |query: &str, token: &str| {
        let path = format!("/api/v1/admin/orders{query}");
        let token = token.to_owned();
        let app = &app;
        async move { app.get(&path, Some(&token)).await }
    };
    let all: Value = admin_list("?status=paid", &s.admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["id"], order["id"]);
    assert_eq!(all[0]["buyer_id"], s.learner.id.as_str());
    assert!(all[0]["buyer_name"].as_str().is_some_and(|n| !n.is_empty()));
    let none: Value = admin_list("?status=refunded", &s.admin.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));
    let bad = admin_list("?status=lost", &s.admin.access_token).await;
    assert_error(bad, 400, "validation_failed").await;
    let learner = admin_list("", &s.learner.access_token).await;
    assert_error(learner, 403, "forbidden").await;
    // Another learner cannot see it.
    let other = app.register("other@example.org").await;
    let resp = app
        .send(
            Method::GET,
            &format!("/api/v1/orders/{id}"),
            Some(&other.access_token),
            None,
        )
        .await;
    assert_error(resp, 404, "not_found").await;
}

async fn declined_and_3ds_cards_behave_like_a_processor(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 2500).await;
    let order = new_order(&app, &s.learner, &s.course).await;
    let id = order["id"].as_str().unwrap();

    let declined: Value = confirm(&app, &s.learner, &order, "4000 0000 0000 0002")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failure_code"], "card_declined");
    await_order(&app, &s.learner, id, |o| o["payment"]["status"] == "failed").await;
    let poor: Value = confirm(&app, &s.learner, &order, "4000000000009995")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(poor["failure_code"], "insufficient_funds");
    assert_eq!(
        order_of(&app, &s.learner, id).await["status"],
        "pending_payment"
    );
    assert_error(
        confirm(&app, &s.learner, &order, "1234").await,
        400,
        "validation_failed",
    )
    .await;

    let challenged: Value = confirm(&app, &s.learner, &order, "4000 0025 0000 3155")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(challenged["status"], "requires_action");
    let pid = order["payment"]["id"].as_str().unwrap();
    let done: Value = app
        .send(
            Method::POST,
            &format!("/api/v1/sandbox/payments/{pid}/authenticate"),
            Some(&s.learner.access_token),
            Some(json!({"approve": true})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "succeeded");
    await_order(&app, &s.learner, id, |o| o["status"] == "paid").await;
    // A paid payment cannot be confirmed again, and says so with its own code.
    assert_error(
        confirm(&app, &s.learner, &order, CARD_OK).await,
        409,
        "payment_already_confirmed",
    )
    .await;
    assert_error(
        app.send(
            Method::POST,
            "/api/v1/sandbox/payments/pay_nope/confirm",
            Some(&s.learner.access_token),
            Some(json!({"card_number": CARD_OK})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

async fn idempotency_keys_replay_or_refuse(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 1000).await;
    let second_course = published_course(&app, &s.instructor, &s.admin, 1500).await;
    let body = json!({"course_id": s.course});
    let first = checkout(&app, &s.learner, "key-1", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // Same key, same body (formatted differently): the very same answer.
    let again = app
        .request(Method::POST, "/api/v1/orders")
        .bearer_auth(&s.learner.access_token)
        .header("idempotency-key", "key-1")
        .header("content-type", "application/json")
        .body(format!(
            "{{ \"coupon\": null,  \"course_id\": \"{}\" }}",
            s.course
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Same key, other body: refused, nothing created.
    let other = checkout(
        &app,
        &s.learner,
        "key-1",
        json!({"course_id": second_course}),
    )
    .await;
    assert_error(other, 422, "unprocessable").await;
    assert_eq!(counts(&app, "-", &second_course).await.2, 0);
    // Keys are per user: another learner may use the same key.
    let bob = app.register("bob@example.org").await;
    assert_eq!(
        checkout(&app, &bob, "key-1", body.clone()).await.status(),
        201
    );
    // The key is required and checked.
    let resp = app
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&s.learner.access_token),
            Some(body.clone()),
        )
        .await;
    assert_error(resp, 400, "validation_failed").await;
    assert_error(
        checkout(&app, &s.learner, &"k".repeat(300), body).await,
        400,
        "validation_failed",
    )
    .await;
}

async fn fifty_concurrent_checkouts_with_one_key_make_one_order(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 1000).await;
    let body = json!({"course_id": s.course});
    let answers =
        join_all((0..50).map(|_| checkout(&app, &s.learner, "same-key", body.clone()))).await;
    let mut ids = std::collections::BTreeSet::new();
    for resp in answers {
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.unwrap();
        ids.insert(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(counts(&app, "-", &s.course).await.2, 1);
}

async fn what_cannot_be_bought_is_refused(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 1000).await;
    let draft: Value = app.send(Method::POST, "/api/v1/courses", Some(&s.instructor.access_token), Some(json!({"title": "Draft", "category": "programming", "price": {"amount_minor": 900, "currency": "EUR"}})))
    .await
    .json()
    .await
    .unwrap();
    let free = published_course(&app, &s.instructor, &s.admin, 0).await;
    let k = || uuid::Uuid::new_v4().to_string();
    assert_error(
        checkout(&app, &s.learner, &k(), json!({"course_id": draft["id"]})).await,
        409,
        "conflict",
    )
    .await;
    assert_error(
        checkout(&app, &s.learner, &k(), json!({"course_id": free})).await,
        409,
        "conflict",
    )
    .await;
    assert_error(
        checkout(&app, &s.learner, &k(), json!({"course_id": "nope"})).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        checkout(&app, &s.instructor, &k(), json!({"course_id": s.course})).await,
        409,
        "conflict",
    )
    .await;
    assert_error(
        checkout(&app, &s.learner, &k(), json!({"course": s.course})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        checkout(
            &app,
            &s.learner,
            &k(),
            json!({"course_id": s.course, "coupon": "NOPE"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    // A second checkout while one awaits payment is refused; once owned, buying again is too.
    let order = new_order(&app, &s.learner, &s.course).await;
    assert_error(
        checkout(&app, &s.learner, &k(), json!({"course_id": s.course})).await,
        409,
        "conflict",
    )
    .await;
    confirm(&app, &s.learner, &order, CARD_OK).await;
    await_order(&app, &s.learner, order["id"].as_str().unwrap(), |o| {
        o["status"] == "paid"
    })
    .await;
    let resp = checkout(&app, &s.learner, &k(), json!({"course_id": s.course})).await;
    let body = assert_error(resp, 409, "conflict").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already own")
    );
    let resp = app
        .request(Method::POST, "/api/v1/orders")
        .header("idempotency-key", "x")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthorized").await;
}

/// A provider event for `order` as the sandbox would send it, with `overrides` applied to the
/// payment.
fn event(id: &str, kind: &str, order: &Value, overrides: Value) -> String {
    let mut payment = json!({
        "id": order["payment"]["id"], "reference": order["id"], "status": "succeeded",
        "amount_minor": order["amount"]["amount_minor"], "currency": order["amount"]["currency"],
        "captured_minor": order["amount"]["amount_minor"], "refunded_minor": 0, "failure_code": null,
    });
    for (k, v) in overrides.as_object().unwrap() {
        payment[k] = v.clone();
    }
    json!({"id": id, "type": kind, "created": 0, "data": {"payment": payment}}).to_string()
}

async fn deliver(app: &TestApp, body: &str, header: Option<String>) -> Response {
    let now = chrono::Utc::now().timestamp();
    let header =
        header.unwrap_or_else(|| signature::sign(WEBHOOK_SECRET.as_bytes(), now, body.as_bytes()));
    app.request(Method::POST, "/api/v1/payments/webhook")
        .header("content-type", "application/json")
        .header(signature::HEADER, header)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn hostile_webhooks_are_refused_and_change_nothing(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 3000).await;
    let order = new_order(&app, &s.learner, &s.course).await;
    let id = order["id"].as_str().unwrap();
    let good = event("evt_1", "payment.succeeded", &order, json!({}));
    let now = chrono::Utc::now().timestamp();

    let forged = signature::sign(b"wrong secret", now, good.as_bytes());
    assert_error(
        deliver(&app, &good, Some(forged)).await,
        401,
        "unauthorized",
    )
    .await;
    let stale = signature::sign(WEBHOOK_SECRET.as_bytes(), now - 301, good.as_bytes());
    assert_error(deliver(&app, &good, Some(stale)).await, 401, "unauthorized").await;
    assert_error(
        deliver(&app, &good, Some(String::new())).await,
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        deliver(&app, "{not json", None).await,
        400,
        "validation_failed",
    )
    .await;
    let unknown = event(
        "evt_2",
        "payment.succeeded",
        &order,
        json!({"reference": "no-such-order"}),
    );
    assert_error(deliver(&app, &unknown, None).await, 422, "unprocessable").await;
    let cheap = event(
        "evt_3",
        "payment.succeeded",
        &order,
        json!({"amount_minor": 1}),
    );
    assert_error(deliver(&app, &cheap, None).await, 422, "unprocessable").await;
    let dollars = event(
        "evt_4",
        "payment.succeeded",
        &order,
        json!({"currency": "USD"}),
    );
    assert_error(deliver(&app, &dollars, None).await, 422, "unprocessable").await;
    assert_eq!(
        order_of(&app, &s.learner, id).await["status"],
        "pending_payment"
    );
    assert_eq!(counts(&app, id, &s.course).await, (0, 0, 1));

    // The genuine event pays; replaying it (same id) or a stale failure changes nothing.
    let ack: Value = deliver(&app, &good, None).await.json().await.unwrap();
    assert_eq!(ack["outcome"], "applied");
    let ack: Value = deliver(&app, &good, None).await.json().await.unwrap();
    assert_eq!(ack["outcome"], "duplicate");
    let late_failure = event(
        "evt_5",
        "payment.failed",
        &order,
        json!({"status": "failed"}),
    );
    let ack: Value = deliver(&app, &late_failure, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack["outcome"], "ignored");
    let paid = order_of(&app, &s.learner, id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["status"], "succeeded");
    assert_eq!(counts(&app, id, &s.course).await, (1, 1, 1));
}

async fn one_event_delivered_ten_times_at_once_grants_once(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 4000).await;
    let order = new_order(&app, &s.learner, &s.course).await;
    let body = event("evt_storm", "payment.succeeded", &order, json!({}));
    let answers = join_all((0..10).map(|_| deliver(&app, &body, None))).await;
    let mut outcomes = Vec::new();
    for resp in answers {
        assert_eq!(resp.status(), 200);
        outcomes.push(
            resp.json::<Value>().await.unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        counts(&app, order["id"].as_str().unwrap(), &s.course).await,
        (1, 1, 1)
    );
    assert_eq!(earnings(&app, &s.instructor).await["earned_minor"], 3200);
    revenue(&app, &s.admin).await;
}

async fn coupons_discount_and_respect_their_limits(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 10_000).await;
    let t = &s.instructor.access_token;
    let coupon = |body: Value| app.send(Method::POST, "/api/v1/coupons", Some(t), Some(body));
    let resp = coupon(json!({"code": "launch25", "percent_off_bps": 2500, "course_id": s.course, "max_redemptions": 1})).await;
    assert_eq!(resp.status(), 201);
    assert_error(
        coupon(json!({"code": "SITEWIDE", "percent_off_bps": 1000})).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        coupon(json!({"code": "LAUNCH25", "percent_off_bps": 10, "course_id": s.course})).await,
        409,
        "conflict",
    )
    .await;
    for bad in [
        json!({"code": "X", "percent_off_bps": 10, "course_id": s.course}),
        json!({"code": "BOTH", "percent_off_bps": 10, "amount_off": {"amount_minor": 5, "currency": "EUR"}, "course_id": s.course}),
        json!({"code": "NONE", "course_id": s.course}),
        json!({"code": "BIG", "percent_off_bps": 10001, "course_id": s.course}),
        json!({"code": "PAST", "percent_off_bps": 10, "course_id": s.course, "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"code": "ZERO", "percent_off_bps": 10, "course_id": s.course, "max_redemptions": 0}),
    ] {
        assert_error(coupon(bad).await, 400, "validation_failed").await;
    }

    let order = checkout(
        &app,
        &s.learner,
        "c1",
        json!({"course_id": s.course, "coupon": "Launch25"}),
    )
    .await;
    assert_eq!(order.status(), 201);
    let order: Value = order.json().await.unwrap();
    assert_eq!(order["amount"]["amount_minor"], 7500);
    assert_eq!(order["discount"]["amount_minor"], 2500);
    assert_eq!(order["coupon"], "LAUNCH25");
    // Used up: the next learner is refused.
    let bob = app.register("bob@example.org").await;
    let resp = checkout(
        &app,
        &bob,
        "c2",
        json!({"course_id": s.course, "coupon": "LAUNCH25"}),
    )
    .await;
    assert_error(resp, 409, "conflict").await;
    // Cancelling gives the use back.
    app.send(
        Method::POST,
        &format!("/api/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
        Some(&s.learner.access_token),
        None,
    )
    .await;
    let bob_order = checkout(
        &app,
        &bob,
        "c3",
        json!({"course_id": s.course, "coupon": "LAUNCH25"}),
    )
    .await;
    assert_eq!(bob_order.status(), 201);
    let bob_order: Value = bob_order.json().await.unwrap();
    confirm(&app, &bob, &bob_order, CARD_OK).await;
    await_order(&app, &bob, bob_order["id"].as_str().unwrap(), |o| {
        o["status"] == "paid"
    })
    .await;
    // The instructor earns 80% of what was paid; the platform absorbs the discount.
    assert_eq!(earnings(&app, &s.instructor).await["earned_minor"], 6000);
    let rev = revenue(&app, &s.admin).await;
    assert_eq!(rev["discounts_minor"], 2500);
    assert_eq!(rev["collected_minor"], 7500);

    // A site-wide 100% coupon from an admin makes the order paid at once, no payment needed.
    let resp = app
        .send(
            Method::POST,
            "/api/v1/coupons",
            Some(&s.admin.access_token),
            Some(json!({"code": "GIFT", "percent_off_bps": 10000, "max_per_user": 1})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let carol = app.register("carol@example.org").await;
    let gift: Value = checkout(
        &app,
        &carol,
        "g1",
        json!({"course_id": s.course, "coupon": "gift"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(gift["status"], "paid");
    assert!(owns(&app, &carol, &s.course).await);
    revenue(&app, &s.admin).await;
}

async fn refunds_follow_the_rules_and_the_ledger_balances(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 999).await;
    let paid = buy(&app, &s.learner, &s.course).await;
    let id = paid["id"].as_str().unwrap().to_owned();
    let refund = |user: &TestUser, body: Value| {
        let token = user.access_token.clone();
        let path = format!("/api/v1/orders/{id}/refund");
        let app = &app;
        async move {
            app.send(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };
    // Learners: full refunds only, with a reason.
    assert_error(
        refund(&s.learner, json!({"amount_minor": 100, "reason": "meh"})).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        refund(&s.learner, json!({"reason": "  "})).await,
        400,
        "validation_failed",
    )
    .await;
    let stranger = app.register("x@example.org").await;
    assert_error(
        refund(&stranger, json!({"reason": "mine now"})).await,
        404,
        "not_found",
    )
    .await;
    // Admins: any part of what remains, never more.
    assert_error(
        refund(
            &s.admin,
            json!({"amount_minor": 1000, "reason": "too much"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_error(
        refund(&s.admin, json!({"amount_minor": 0, "reason": "zero"})).await,
        400,
        "validation_failed",
    )
    .await;
    let part: Value = refund(&s.admin, json!({"amount_minor": 333, "reason": "goodwill"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(part["status"], "partially_refunded");
    assert_eq!(part["refunded"]["amount_minor"], 333);
    assert!(
        owns(&app, &s.learner, &s.course).await,
        "a partial refund keeps access"
    );
    assert_error(
        refund(&s.learner, json!({"reason": "now all"})).await,
        403,
        "forbidden",
    )
    .await;
    let rest: Value = refund(&s.admin, json!({"reason": "the rest"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["status"], "refunded");
    assert!(
        !owns(&app, &s.learner, &s.course).await,
        "a full refund revokes access"
    );
    // Asking again for everything that remains answers the refunded order (a retry after a
    // lost answer); asking for an amount is refused.
    let again = refund(&s.admin, json!({"reason": "again"})).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "refunded");
    assert_eq!(again["refunded"]["amount_minor"], 999);
    assert_error(
        refund(&s.admin, json!({"amount_minor": 1, "reason": "more"})).await,
        409,
        "conflict",
    )
    .await;
    let earned = earnings(&app, &s.instructor).await;
    assert_eq!(earned["balance_minor"], 0);
    assert_eq!(earned["refunded_minor"], earned["earned_minor"]);
    let rev = revenue(&app, &s.admin).await;
    assert_eq!(rev["collected_minor"], 0);
    assert_eq!(rev["platform_net_minor"], 0);

    // A learner's own full refund within the window.
    let bob = app.register("bob@example.org").await;
    let bought = buy(&app, &bob, &s.course).await;
    let path = format!("/api/v1/orders/{}/refund", bought["id"].as_str().unwrap());
    let done: Value = app
        .send(
            Method::POST,
            &path,
            Some(&bob.access_token),
            Some(json!({"reason": "not for me"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "refunded");
    assert!(!owns(&app, &bob, &s.course).await);
    revenue(&app, &s.admin).await;
}

async fn cancelled_and_expired_orders_release_their_payment(backend: Backend) {
    let app = app(backend.clone(), &[]).await;
    let s = shop(&app, 1200).await;
    let order = new_order(&app, &s.learner, &s.course).await;
    let id = order["id"].as_str().unwrap();
    let stranger = app.register("x@example.org").await;
    let path = format!("/api/v1/orders/{id}/cancel");
    assert_error(
        app.send(Method::POST, &path, Some(&stranger.access_token), None)
            .await,
        404,
        "not_found",
    )
    .await;
    let cancelled: Value = app
        .send(Method::POST, &path, Some(&s.learner.access_token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment"]["status"], "canceled");
    // Not the same answer as confirming twice: a client tells the two apart by code.
    assert_error(
        confirm(&app, &s.learner, &order, CARD_OK).await,
        409,
        "payment_canceled",
    )
    .await;
    assert_error(
        app.send(Method::POST, &path, Some(&s.learner.access_token), None)
            .await,
        409,
        "conflict",
    )
    .await;

    // Orders nobody pays expire on their own.
    let quick = spawn_app_with(
        backend,
        &[
            ("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("LYCEUM_ORDER_TTL_SECS", "0"),
            ("LYCEUM_ORDER_SWEEP_SECS", "1"),
        ],
    )
    .await;
    let s = shop(&quick, 1200).await;
    let order = new_order(&quick, &s.learner, &s.course).await;
    let expired = await_order(&quick, &s.learner, order["id"].as_str().unwrap(), |o| {
        o["status"] == "expired" && o["payment"]["status"] == "canceled"
    })
    .await;
    let pid = expired["payment"]["id"].as_str().unwrap();
    let sandbox: Value = quick
        .get(&format!("/api/v1/sandbox/payments/{pid}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sandbox["status"], "canceled",
        "nothing can be charged for an expired order"
    );
    assert!(!owns(&quick, &s.learner, &s.course).await);
}

async fn chaos_deliveries_still_pay_each_order_exactly_once(backend: Backend) {
    let app = app(backend, &[("LYCEUM_SANDBOX_CHAOS", "1")]).await;
    let s = shop(&app, 2000).await;
    let mut courses = vec![s.course.clone()];
    for _ in 0..3 {
        courses.push(published_course(&app, &s.instructor, &s.admin, 2000).await);
    }
    for course in &courses {
        let order = new_order(&app, &s.learner, course).await;
        // A decline first, then success: their events may arrive in either order, or twice.
        confirm(&app, &s.learner, &order, "4000000000000002").await;
        confirm(&app, &s.learner, &order, CARD_OK).await;
        let id = order["id"].as_str().unwrap();
        let paid = await_order(&app, &s.learner, id, |o| {
            o["status"] == "paid" && o["payment"]["status"] == "succeeded"
        })
        .await;
        assert_eq!(paid["status"], "paid");
    }
    for course in &courses {
        let db = app.db().await;
        let c2 = course.clone();
        let sales = db
            .run(move |c| -> Result<i64, DbError> {
                let ids: Vec<String> = orders::table
                    .filter(orders::course_id.eq(&c2))
                    .select(orders::id)
                    .load(c)?;
                Ok(ledger_transactions::table
                    .filter(ledger_transactions::reference.eq_any(ids))
                    .count()
                    .get_result(c)?)
            })
            .await
            .unwrap();
        assert_eq!(sales, 1);
    }
    assert_eq!(
        earnings(&app, &s.instructor).await["earned_minor"],
        4 * 1600
    );
    revenue(&app, &s.admin).await;
}

/// More simultaneous checkouts than the pool has connections: the provider is called while a
/// request holds a connection, so it must not need a second one from the same pool.
async fn many_learners_checking_out_at_once_all_get_their_orders(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 700).await;
    let mut learners = Vec::new();
    for i in 0..12 {
        learners.push(app.register(&format!("crowd{i}@example.org")).await);
    }
    let answers = join_all(
        learners
            .iter()
            .map(|l| checkout(&app, l, "k", json!({"course_id": s.course}))),
    )
    .await;
    for resp in answers {
        assert_eq!(resp.status(), 201);
    }
    assert_eq!(counts(&app, "-", &s.course).await.2, 12);
}

/// The dispatcher retries a failing receiver with backoff and stops once it answers 2xx; every
/// attempt carries a valid signature over the same event.
#[actix_web::test]
async fn webhook_delivery_is_retried_until_the_receiver_accepts() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let receiver = actix_web::HttpServer::new(move || {
        let log = log.clone();
        actix_web::App::new().default_service(actix_web::web::to(
            move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                let log = log.clone();
                async move {
                    let header = req
                        .headers()
                        .get(signature::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let mut log = log.lock().unwrap();
                    log.push((header, String::from_utf8_lossy(&body).into_owned()));
                    if log.len() < 3 {
                        actix_web::HttpResponse::ServiceUnavailable().finish()
                    } else {
                        actix_web::HttpResponse::Ok().finish()
                    }
                }
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/hook", receiver.addrs()[0]);
    let receiver = receiver.run();
    let stop = receiver.handle();
    actix_web::rt::spawn(receiver);

    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("LYCEUM_WEBHOOK_URL", &url),
        ],
    )
    .await;
    let s = shop(&app, 900).await;
    let order = new_order(&app, &s.learner, &s.course).await;
    confirm(&app, &s.learner, &order, CARD_OK).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "retries never reached a third attempt"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = seen.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    for (header, body) in &attempts {
        assert_eq!(
            signature::verify(WEBHOOK_SECRET.as_bytes(), header, body.as_bytes(), now),
            Ok(())
        );
        assert_eq!(body, &attempts[0].1, "the same event each time");
    }
    // Delivered on the third attempt: no fourth.
    let db = app.db().await;
    let (tries, delivered) = db
        .run(|c| -> Result<(i32, bool), DbError> {
            use lyceum::db::schema::sandbox_outbox as o;
            let (a, d): (i32, Option<chrono::NaiveDateTime>) =
                o::table.select((o::attempts, o::delivered_at)).first(c)?;
            Ok((a, d.is_some()))
        })
        .await
        .unwrap();
    assert_eq!(
        (tries, delivered),
        (2, true),
        "two failed attempts recorded, then delivered"
    );
    stop.stop(false).await;
}
