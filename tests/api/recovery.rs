//! Money that must survive crashes and races (issue 12, items 7, 8, 11, 12, 14): the real
//! `lyceum` binary is stopped dead at the worst moment (a test-only failpoint aborts it, like
//! `kill -9`), a server is started again on the same database, and the work must land exactly
//! once; concurrent requests must not break the database-enforced limits.

use std::time::Duration;

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;
use lyceum::db::DbError;
use lyceum::db::schema::{
    coupon_redemptions, entitlements, ledger_transactions, orders, refunds, sandbox_payments,
    state_transitions, users,
};

use crate::backend_tests;
use crate::binary::Binary;
use crate::commerce::{
    CARD_OK, WEBHOOK_SECRET, app, await_order, buy, checkout, confirm, owns, published_course,
    revenue, shop,
};
use crate::helpers::{Backend, TestApp, TestUser, assert_error, start};

backend_tests!(
    a_refund_interrupted_by_a_crash_lands_exactly_once,
    a_checkout_interrupted_by_a_crash_is_finished_by_a_retry_with_its_key,
    a_dead_checkout_no_longer_blocks_buying_the_course,
    a_max_per_user_coupon_is_redeemed_once_by_concurrent_checkouts,
    two_admins_demoting_each_other_at_once_leave_an_admin,
    a_full_refund_withdraws_the_buyers_review,
    a_paid_order_completes_when_serving_on_ipv6_loopback,
);

/// The lease the crashed and the restarted server use, so a retry may take over quickly.
const LEASE: (&str, &str) = ("LYCEUM_COMMERCE_LEASE_SECS", "1");

/// The real binary serving `app`'s database and data directory, armed to abort at `failpoint`.
struct Doomed(Binary);

impl Doomed {
    async fn start(app: &TestApp, failpoint: &str) -> Self {
        let env = [
            ("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET),
            LEASE,
            ("LYCEUM_FAILPOINT", failpoint),
        ];
        Self(Binary::start(app, &env, None).await)
    }

    /// Sends a request that reaches the failpoint, and waits for the process to die there.
    async fn crash_on(self, req: reqwest::RequestBuilder) {
        let _ = req.send().await;
        let status = self.0.wait().await;
        assert!(!status.success(), "lyceum should have aborted: {status}");
    }

    fn request(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        user: &TestUser,
    ) -> reqwest::RequestBuilder {
        app.client
            .request(method, format!("{}{path}", self.0.address))
            .bearer_auth(&user.access_token)
    }
}

/// Runs a query on the test database.
async fn query<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&mut lyceum::db::DbConnection) -> QueryResult<T> + Send + 'static,
) -> T {
    app.db()
        .await
        .run(move |c| f(c).map_err(DbError::from))
        .await
        .unwrap()
}

/// Retries `send` while it answers 409 `in_progress`-style conflicts, for at most 20 s: a
/// retry before the dead claimant's lease ran out is told to wait.
async fn retry_until_created(send: impl Fn() -> reqwest::RequestBuilder) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let resp = send().send().await.unwrap();
        match resp.status().as_u16() {
            201 => return resp.json().await.unwrap(),
            409 if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            s => panic!(
                "checkout answered {s}: {}",
                resp.text().await.unwrap_or_default()
            ),
        }
    }
}

async fn a_refund_interrupted_by_a_crash_lands_exactly_once(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 1_200).await;
    let paid = buy(&app, &s.learner, &s.course).await;
    let id = paid["id"].as_str().unwrap().to_owned();
    app.stop().await;

    let doomed = Doomed::start(&app, "refund_after_provider").await;
    let path = format!("/api/v1/orders/{id}/refund");
    let req = doomed
        .request(&app, Method::POST, &path, &s.learner)
        .json(&json!({"reason": "changed my mind"}));
    doomed.crash_on(req).await;
    // The provider gave the money back; our books did not follow yet.
    let (oid, refunded_at_provider) = (id.clone(), id.clone());
    let sandbox_refunded: i64 = query(&app, move |c| {
        sandbox_payments::table
            .filter(sandbox_payments::reference.eq(&refunded_at_provider))
            .select(sandbox_payments::refunded_minor)
            .first(c)
    })
    .await;
    assert_eq!(sandbox_refunded, 1_200);

    let again = start(
        &app.database_url,
        &app.data_dir,
        &[("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET), LEASE],
    )
    .await;
    // The retry answers the refund, whether the restart, the webhook or the retry landed it.
    let resp = again
        .send(
            Method::POST,
            &path,
            Some(&s.learner.access_token),
            Some(json!({"reason": "changed my mind"})),
        )
        .await;
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refunded"]["amount_minor"], 1_200);
    assert!(!owns(&again, &s.learner, &s.course).await);
    // The webhook arrives too; it must change nothing more. Wait until it was handled.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let delivered: i64 = query(&again, |c| {
            lyceum::db::schema::sandbox_outbox::table
                .filter(lyceum::db::schema::sandbox_outbox::delivered_at.is_null())
                .count()
                .get_result(c)
        })
        .await;
        if delivered == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhooks never delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (ledger, succeeded, order_moves) = query(&again, move |c| {
        let ledger = ledger_transactions::table
            .filter(ledger_transactions::reference.eq(&oid))
            .filter(ledger_transactions::kind.eq("refund"))
            .count()
            .get_result::<i64>(c)?;
        let refund_ids: Vec<String> = refunds::table
            .filter(refunds::order_id.eq(&oid))
            .filter(refunds::status.eq("succeeded"))
            .select(refunds::id)
            .load(c)?;
        let order_moves = state_transitions::table
            .filter(state_transitions::entity.eq("order"))
            .filter(state_transitions::entity_id.eq(&oid))
            .filter(state_transitions::to_state.eq("refunded"))
            .count()
            .get_result::<i64>(c)?;
        Ok((ledger, refund_ids, order_moves))
    })
    .await;
    assert_eq!(ledger, 1, "one ledger reversal");
    assert_eq!(succeeded.len(), 1, "one refund");
    assert_eq!(order_moves, 1, "one audit row for the order");
    let rid = succeeded[0].clone();
    let refund_moves: i64 = query(&again, move |c| {
        state_transitions::table
            .filter(state_transitions::entity.eq("refund"))
            .filter(state_transitions::entity_id.eq(&rid))
            .filter(state_transitions::to_state.eq("succeeded"))
            .count()
            .get_result(c)
    })
    .await;
    assert_eq!(refund_moves, 1);
    let rev = revenue(&again, &s.admin).await;
    assert_eq!(rev["collected_minor"], 0);
}

/// The payments the sandbox holds for an order.
async fn sandbox_payments_of(app: &TestApp, order_id: &str) -> Vec<(String, String)> {
    let oid = order_id.to_owned();
    query(app, move |c| {
        sandbox_payments::table
            .filter(sandbox_payments::reference.eq(&oid))
            .select((sandbox_payments::id, sandbox_payments::status))
            .load(c)
    })
    .await
}

/// The ids of every order of a course.
async fn orders_of_course(app: &TestApp, course: &str) -> Vec<(String, String)> {
    let cid = course.to_owned();
    query(app, move |c| {
        orders::table
            .filter(orders::course_id.eq(&cid))
            .order(orders::created_at)
            .select((orders::id, orders::status))
            .load(c)
    })
    .await
}

async fn a_checkout_interrupted_by_a_crash_is_finished_by_a_retry_with_its_key(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 700).await;
    app.stop().await;
    let doomed = Doomed::start(&app, "checkout_after_payment").await;
    let req = doomed
        .request(&app, Method::POST, "/api/v1/orders", &s.learner)
        .header("idempotency-key", "crash-1")
        .json(&json!({"course_id": s.course}));
    doomed.crash_on(req).await;
    let before = orders_of_course(&app, &s.course).await;
    assert_eq!(before.len(), 1);
    assert_eq!(sandbox_payments_of(&app, &before[0].0).await.len(), 1);

    let again = start(
        &app.database_url,
        &app.data_dir,
        &[("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET), LEASE],
    )
    .await;
    let order = retry_until_created(|| {
        again
            .request(Method::POST, "/api/v1/orders")
            .bearer_auth(&s.learner.access_token)
            .header("idempotency-key", "crash-1")
            .json(&json!({"course_id": s.course}))
    })
    .await;
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(
        confirm(&again, &s.learner, &order, CARD_OK).await.status(),
        200
    );
    let oid = order["id"].as_str().unwrap().to_owned();
    await_order(&again, &s.learner, &oid, |o| o["status"] == "paid").await;
    assert!(owns(&again, &s.learner, &s.course).await);
    // The same key now replays the answer; every other order of the course is closed and
    // holds no live payment.
    let replay = checkout(
        &again,
        &s.learner,
        "crash-1",
        json!({"course_id": s.course}),
    )
    .await;
    assert_eq!(replay.status(), 201);
    for (id, status) in orders_of_course(&again, &s.course).await {
        if id != oid {
            assert_eq!(status, "cancelled");
            for (_, pstatus) in sandbox_payments_of(&again, &id).await {
                assert_eq!(pstatus, "canceled", "an unlinked payment is released");
            }
        }
    }
    revenue(&again, &s.admin).await;
}

async fn a_dead_checkout_no_longer_blocks_buying_the_course(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 700).await;
    app.stop().await;
    let doomed = Doomed::start(&app, "checkout_after_order").await;
    let req = doomed
        .request(&app, Method::POST, "/api/v1/orders", &s.learner)
        .header("idempotency-key", "lost-key")
        .json(&json!({"course_id": s.course}));
    doomed.crash_on(req).await;
    let orphan = orders_of_course(&app, &s.course).await;
    assert_eq!(orphan.len(), 1);
    assert_eq!(orphan[0].1, "pending_payment");

    let again = start(
        &app.database_url,
        &app.data_dir,
        &[("LYCEUM_WEBHOOK_SECRET", WEBHOOK_SECRET), LEASE],
    )
    .await;
    // A fresh key (the client lost the first one) buys the course.
    let order = retry_until_created(|| {
        again
            .request(Method::POST, "/api/v1/orders")
            .bearer_auth(&s.learner.access_token)
            .header("idempotency-key", "fresh-key")
            .json(&json!({"course_id": s.course}))
    })
    .await;
    assert_ne!(order["id"], orphan[0].0.as_str());
    assert_eq!(
        confirm(&again, &s.learner, &order, CARD_OK).await.status(),
        200
    );
    await_order(&again, &s.learner, order["id"].as_str().unwrap(), |o| {
        o["status"] == "paid"
    })
    .await;
    assert!(owns(&again, &s.learner, &s.course).await);
    let after = orders_of_course(&again, &s.course).await;
    let dead = after.iter().find(|(id, _)| *id == orphan[0].0).unwrap();
    assert_eq!(dead.1, "cancelled");
    for (_, pstatus) in sandbox_payments_of(&again, &orphan[0].0).await {
        assert_eq!(pstatus, "canceled");
    }
}

async fn a_max_per_user_coupon_is_redeemed_once_by_concurrent_checkouts(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 1_000).await;
    let mut courses = vec![s.course.clone()];
    for _ in 0..9 {
        courses.push(published_course(&app, &s.instructor, &s.admin, 1_000).await);
    }
    let created = app
        .send(
            Method::POST,
            "/api/v1/coupons",
            Some(&s.admin.access_token),
            Some(json!({"code": "ONCE", "percent_off_bps": 5000, "max_per_user": 1})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let (app_ref, learner) = (&app, &s.learner);
    let answers: Vec<Response> = join_all(courses.iter().enumerate().map(|(i, course)| {
        let key = format!("once-{i}");
        let body = json!({"course_id": course, "coupon": "ONCE"});
        async move { checkout(app_ref, learner, &key, body).await }
    }))
    .await;
    let mut created = 0;
    for resp in answers {
        match resp.status().as_u16() {
            201 => created += 1,
            _ => {
                assert_error(resp, 409, "conflict").await;
            }
        }
    }
    assert_eq!(created, 1, "a max_per_user: 1 coupon is used once");
    let uid = s.learner.id.clone();
    let redemptions: i64 = query(&app, move |c| {
        coupon_redemptions::table
            .filter(coupon_redemptions::user_id.eq(&uid))
            .count()
            .get_result(c)
    })
    .await;
    assert_eq!(redemptions, 1);
}

async fn role_of(app: &TestApp, id: &str) -> String {
    let id = id.to_owned();
    query(app, move |c| {
        users::table.find(&id).select(users::role).first(c)
    })
    .await
}

async fn two_admins_demoting_each_other_at_once_leave_an_admin(backend: Backend) {
    let app = app(backend, &[]).await;
    let a = app.user_with_role("a@example.org", Role::Admin).await;
    let b = app.user_with_role("b@example.org", Role::Admin).await;
    let app = &app;
    let demote = |by: TestUser, whom: TestUser| async move {
        app.send(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/role", whom.id),
            Some(&by.access_token),
            Some(json!({"role": "learner"})),
        )
        .await
    };
    for round in 0..10 {
        let (ab, ba) = tokio::join!(demote(a.clone(), b.clone()), demote(b.clone(), a.clone()));
        let statuses = [ab.status().as_u16(), ba.status().as_u16()];
        let roles = [role_of(app, &a.id).await, role_of(app, &b.id).await];
        assert!(
            roles.iter().any(|r| r == "admin"),
            "round {round}: no admin left ({statuses:?})"
        );
        let mut sorted = statuses;
        sorted.sort_unstable();
        // The loser is refused either by the last-admin rule (409) or, when the winner's
        // demotion reached it first, because its own token no longer carries its role (401).
        assert!(
            sorted == [200, 409] || sorted == [200, 401],
            "round {round}: {statuses:?}"
        );
        // The remaining admin promotes the other back for the next round.
        let (keeper, other) = if roles[0] == "admin" {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let back = app
            .send(
                Method::PUT,
                &format!("/api/v1/admin/users/{}/role", other.id),
                Some(&keeper.access_token),
                Some(json!({"role": "admin"})),
            )
            .await;
        assert_eq!(back.status(), 200);
    }
}

async fn rating_of(app: &TestApp, course: &str) -> (f64, i64) {
    let v: Value = app
        .get(&format!("/api/v1/courses/{course}"), None)
        .await
        .json()
        .await
        .unwrap();
    (
        v["rating"]["average"].as_f64().unwrap(),
        v["rating"]["count"].as_i64().unwrap(),
    )
}

async fn a_full_refund_withdraws_the_buyers_review(backend: Backend) {
    let app = app(backend, &[]).await;
    let s = shop(&app, 900).await;
    let keeper = app.register("keeper@example.org").await;
    let mut orders = Vec::new();
    for (user, stars) in [(&s.learner, 1), (&keeper, 5)] {
        orders.push(buy(&app, user, &s.course).await);
        let put = app
            .send(
                Method::PUT,
                &format!("/api/v1/courses/{}/review", s.course),
                Some(&user.access_token),
                Some(json!({"rating": stars})),
            )
            .await;
        assert_eq!(put.status(), 201);
    }
    assert_eq!(rating_of(&app, &s.course).await, (3.0, 2));
    let refunded = app
        .send(
            Method::POST,
            &format!(
                "/api/v1/orders/{}/refund",
                orders[0]["id"].as_str().unwrap()
            ),
            Some(&s.learner.access_token),
            Some(json!({"reason": "did not like it"})),
        )
        .await;
    assert_eq!(refunded.status(), 200);
    assert_eq!(rating_of(&app, &s.course).await, (5.0, 1));
    let list: Value = app
        .get(&format!("/api/v1/courses/{}/reviews", s.course), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(!list.to_string().contains(&s.learner.id), "{list}");
    // A partial refund keeps the review: the buyer still owns the course.
    let partial = app
        .send(
            Method::POST,
            &format!(
                "/api/v1/orders/{}/refund",
                orders[1]["id"].as_str().unwrap()
            ),
            Some(&s.admin.access_token),
            Some(json!({"amount_minor": 100, "reason": "goodwill"})),
        )
        .await;
    assert_eq!(partial.status(), 200);
    assert_eq!(rating_of(&app, &s.course).await, (5.0, 1));
    let cid = s.course.clone();
    let active: i64 = query(&app, move |c| {
        entitlements::table
            .filter(entitlements::course_id.eq(&cid))
            .filter(entitlements::revoked_at.is_null())
            .count()
            .get_result(c)
    })
    .await;
    assert_eq!(active, 1);
}

async fn a_paid_order_completes_when_serving_on_ipv6_loopback(backend: Backend) {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine: skipping the [::1] test");
        return;
    }
    let app = app(backend, &[("LYCEUM_BIND", "[::1]:0")]).await;
    assert!(app.address.starts_with("http://[::1]:"), "{}", app.address);
    let s = shop(&app, 500).await;
    // `buy` waits for the webhook the sandbox delivers to the server's own [::1] address.
    buy(&app, &s.learner, &s.course).await;
    assert!(owns(&app, &s.learner, &s.course).await);
}
