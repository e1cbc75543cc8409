//! Open WebSockets lose their rights with their tokens: expiry closes them (4002) unless they
//! re-authenticate; logout, demotion and disabled accounts close them (4003) and refuse their
//! HTTP tokens, on the node where it happened and on another node sharing the database. Bad
//! frames cost rate-limit budget and say what is wrong in the client's terms.

use std::time::{Duration, Instant};

use lyceum::accounts::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::classroom::{Socket, connect, next, send};
use crate::helpers::{Backend, TestApp, assert_error, spawn_app, spawn_app_with};

backend_tests!(
    an_unrenewed_token_closes_the_socket_with_4002,
    re_authentication_keeps_the_socket_open_past_expiry,
    logout_demotion_and_disabling_close_sockets_and_refuse_tokens,
    a_logout_on_one_node_closes_the_socket_on_another,
    a_refund_removes_the_buyer_from_the_class_room_at_once,
);

/// A buyer in a paid course's live room is refunded in full: within a second the room drops
/// them (an error says why), chat is refused, and joining again is refused.
async fn a_refund_removes_the_buyer_from_the_class_room_at_once(backend: Backend) {
    let app = crate::commerce::app(backend, &[]).await;
    let s = crate::commerce::shop(&app, 900).await;
    let order = crate::commerce::buy(&app, &s.learner, &s.course).await;
    let live: Value = app
        .send(
            Method::POST,
            &format!("/api/v1/courses/{}/live-sessions", s.course),
            Some(&s.instructor.access_token),
            Some(json!({"title": "Paid class", "starts_at": "2030-01-01T10:00:00Z"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let room = format!("class:{}", live["id"].as_str().unwrap());
    let mut ws = connect(&app, &s.learner.access_token).await;
    crate::classroom::join(&mut ws, &room, None).await;
    let refunded = app
        .send(
            Method::POST,
            &format!("/api/v1/orders/{}/refund", order["id"].as_str().unwrap()),
            Some(&s.learner.access_token),
            Some(json!({"reason": "changed my mind"})),
        )
        .await;
    assert_eq!(refunded.status(), 200);
    let removed = tokio::time::timeout(Duration::from_secs(1), answer(&mut ws))
        .await
        .expect("removed from the room within a second");
    assert_eq!(removed["code"], "forbidden", "{removed}");
    assert!(
        removed["message"].as_str().unwrap().contains(&room),
        "{removed}"
    );
    send(
        &mut ws,
        json!({"type": "chat", "room": room, "text": "still here?", "ref": "c"}),
    )
    .await;
    assert_eq!(answer(&mut ws).await["type"], "error");
    send(&mut ws, json!({"type": "join", "room": room, "ref": "j"})).await;
    let again = answer(&mut ws).await;
    assert_eq!(
        (again["type"].as_str(), again["code"].as_str()),
        (Some("error"), Some("forbidden")),
        "{again}"
    );
}

/// The code of the close frame the server ends `ws` with, skipping other frames.
async fn closed_with(ws: &mut Socket) -> u16 {
    loop {
        let v = next(ws).await;
        if v["type"] == "closed" {
            return v["code"].as_u64().unwrap_or(0) as u16;
        }
    }
}

/// The next frame that is not presence or an event.
async fn answer(ws: &mut Socket) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] != "presence" && v["type"] != "event" {
            return v;
        }
    }
}

async fn me(app: &TestApp, token: &str) -> u16 {
    app.get("/api/v1/me", Some(token)).await.status().as_u16()
}

async fn an_unrenewed_token_closes_the_socket_with_4002(backend: Backend) {
    let app = spawn_app_with(backend, &[("LYCEUM_ACCESS_TOKEN_TTL_SECS", "2")]).await;
    let user = app.register("late@example.org").await;
    let mut ws = connect(&app, &user.access_token).await;
    let code = tokio::time::timeout(Duration::from_secs(6), closed_with(&mut ws))
        .await
        .expect("closed at expiry");
    assert_eq!(code, 4002);
}

async fn re_authentication_keeps_the_socket_open_past_expiry(backend: Backend) {
    let app = spawn_app_with(backend, &[("LYCEUM_ACCESS_TOKEN_TTL_SECS", "3")]).await;
    let user = app.register("renew@example.org").await;
    let other = app.register("other@example.org").await;
    let opened = Instant::now();
    let mut ws = connect(&app, &user.access_token).await;
    // Tokens expire on whole seconds: renew once the clock has moved past the first one's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = fresh["access_token"].as_str().unwrap();
    send(
        &mut ws,
        json!({"type": "auth", "token": token, "ref": "a1"}),
    )
    .await;
    let ack = answer(&mut ws).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["ref"], "a1");
    assert!(ack["expires_at"].as_str().unwrap().ends_with('Z'), "{ack}");
    // The first token's expiry passes; the socket stays until the fresh one's.
    let code = tokio::time::timeout(Duration::from_secs(8), closed_with(&mut ws))
        .await
        .expect("closed at the fresh token's expiry");
    assert_eq!(code, 4002);
    // Closed at the fresh token's expiry (a second after the first one's), not before.
    let fresh_exp = chrono::DateTime::parse_from_rfc3339(ack["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(
        chrono::Utc::now() >= fresh_exp - chrono::Duration::milliseconds(300),
        "closed before the fresh token expired, {:?} after opening",
        opened.elapsed()
    );

    // Another user's token on an open socket ends it.
    let login = |email: &'static str| {
        let app = &app;
        async move {
            let v: Value = app
                .login(email, crate::helpers::PASSWORD)
                .await
                .json()
                .await
                .unwrap();
            v["access_token"].as_str().unwrap().to_owned()
        }
    };
    let mine = login("renew@example.org").await;
    let theirs = login("other@example.org").await;
    let mut ws = connect(&app, &mine).await;
    send(&mut ws, json!({"type": "auth", "token": theirs})).await;
    assert_eq!(closed_with(&mut ws).await, 4003);
    drop(other);
}

async fn logout_demotion_and_disabling_close_sockets_and_refuse_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    // Logout ends that login's socket and access token, not another login's.
    let user = app.register("leaver@example.org").await;
    let second: Value = app
        .login("leaver@example.org", crate::helpers::PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let second_token = second["access_token"].as_str().unwrap().to_owned();
    let mut ws = connect(&app, &user.access_token).await;
    let mut kept = connect(&app, &second_token).await;
    let resp = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(closed_with(&mut ws).await, 4003);
    assert_eq!(me(&app, &user.access_token).await, 401);
    assert_eq!(me(&app, &second_token).await, 200);
    send(&mut kept, json!({"type": "ping", "ref": "p"})).await;
    assert_eq!(answer(&mut kept).await["type"], "pong");

    // A demoted admin loses admin rights at once, over HTTP and on the socket.
    let boss = app.user_with_role("boss@example.org", Role::Admin).await;
    let other = app
        .user_with_role("other-admin@example.org", Role::Admin)
        .await;
    let mut admin_ws = connect(&app, &other.access_token).await;
    let resp = app
        .send(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/role", other.id),
            Some(&boss.access_token),
            Some(json!({"role": "learner"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(closed_with(&mut admin_ws).await, 4003);
    let resp = app
        .get("/api/v1/admin/users", Some(&other.access_token))
        .await;
    assert_eq!(resp.status(), 401);

    // A disabled account: sockets closed, tokens and logins refused; enabled, it signs in.
    let mut ws = connect(&app, &second_token).await;
    let access = |id: &str, who: &str, disabled: bool| {
        let (app, path, who) = (
            &app,
            format!("/api/v1/admin/users/{id}/disabled"),
            who.to_owned(),
        );
        async move {
            app.send(
                Method::PUT,
                &path,
                Some(&who),
                Some(json!({"disabled": disabled})),
            )
            .await
        }
    };
    let resp = access(&user.id, &boss.access_token, true).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"disabled": true})
    );
    assert_eq!(closed_with(&mut ws).await, 4003);
    assert_eq!(closed_with(&mut kept).await, 4003);
    assert_eq!(me(&app, &second_token).await, 401);
    let resp = app
        .login("leaver@example.org", crate::helpers::PASSWORD)
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        access(&user.id, &boss.access_token, true).await.status(),
        200,
        "idempotent"
    );
    let listed = |disabled: bool| {
        let app = &app;
        let token = boss.access_token.clone();
        async move {
            let page: Value = app
                .get("/api/v1/admin/users?email=leaver", Some(&token))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(page["items"][0]["email"], "leaver@example.org");
            assert_eq!(page["items"][0]["disabled"], disabled, "{page}");
            assert_ne!(page["items"][0]["role"], "admin", "{page}");
        }
    };
    listed(true).await;
    // A disabled account is never made an admin (it could then be the last one, unable to
    // sign in): the promotion is a 409 and changes nothing.
    let promote = app
        .send(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/role", user.id),
            Some(&boss.access_token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_error(promote, 409, "conflict").await;
    listed(true).await;
    // Only admins change access; admins are demoted first; unknown users are 404.
    let learner = app.register("bystander@example.org").await;
    assert_eq!(
        access(&user.id, &learner.access_token, false)
            .await
            .status(),
        403
    );
    assert_eq!(
        access(&boss.id, &boss.access_token, true).await.status(),
        409
    );
    assert_eq!(
        access("no-such-user", &boss.access_token, true)
            .await
            .status(),
        404
    );
    let resp = access(&user.id, &boss.access_token, false).await;
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"disabled": false})
    );
    listed(false).await;
    let resp = app
        .login("leaver@example.org", crate::helpers::PASSWORD)
        .await;
    assert_eq!(resp.status(), 200);
}

async fn a_logout_on_one_node_closes_the_socket_on_another(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = crate::helpers::start(&a.database_url, &a.data_dir, &[]).await;
    let user = a.register("roamer@example.org").await;
    let mut ws = connect(&b, &user.access_token).await;
    let resp = a
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": user.refresh_token}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let code = tokio::time::timeout(Duration::from_secs(2), closed_with(&mut ws))
        .await
        .expect("node B closes the socket within a second or two");
    assert_eq!(code, 4003);
    assert_eq!(me(&b, &user.access_token).await, 401);
    b.stop().await;
}

#[actix_web::test]
async fn bad_frames_cost_budget_and_name_their_problem() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("LYCEUM_WS_BURST", "3"), ("LYCEUM_WS_RATE_PER_SEC", "1")],
    )
    .await;
    let user = app.register("noisy@example.org").await;
    let mut ws = connect(&app, &user.access_token).await;
    send(&mut ws, json!({"type": "dance", "ref": "d"})).await;
    let e = answer(&mut ws).await;
    assert_eq!(e["code"], "invalid");
    assert_eq!(e["message"], "unknown type `dance` (see docs/protocol.md)");
    assert_eq!(e["ref"], "d");
    // Two more invalid frames spend the rest of the burst; the next is refused for budget.
    for _ in 0..2 {
        send(&mut ws, json!({"type": "dance"})).await;
        assert_eq!(answer(&mut ws).await["code"], "invalid");
    }
    send(&mut ws, json!({"type": "dance"})).await;
    assert_eq!(answer(&mut ws).await["code"], "rate_limited");
    // Flooding on past the limit ends the connection.
    for _ in 0..10 {
        send(&mut ws, json!({"type": "dance"})).await;
    }
    assert_eq!(closed_with(&mut ws).await, 1008);
}
