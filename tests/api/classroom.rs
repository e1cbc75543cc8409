//! Live sessions and classroom rooms over `GET /ws`, with real WebSocket clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use lyceum::accounts::domain::Role;

use crate::backend_tests;
use crate::catalog::{course_body, published};
use crate::helpers::{Backend, TestApp, TestUser, assert_error};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

backend_tests!(
    live_sessions_are_run_by_their_instructor,
    only_entitled_users_join_and_chat_fans_out_in_order,
    a_reconnecting_client_recovers_what_it_missed,
    the_log_continues_after_a_restart,
    bad_frames_get_errors_without_closing,
    authentication_by_token_or_first_frame,
    commands_beyond_the_budget_are_rate_limited,
    connections_per_user_are_capped,
    a_draft_courses_sessions_are_hidden_like_the_course,
);

/// A published course with an instructor, an enrolled learner, an outsider and one scheduled
/// live session.
pub struct Class {
    pub app: TestApp,
    pub teacher: TestUser,
    pub learner: TestUser,
    pub outsider: TestUser,
    pub course: String,
    pub live: String,
}

impl Class {
    /// The live session's room name.
    pub fn room(&self) -> String {
        format!("class:{}", self.live)
    }

    /// A newly registered learner enrolled in the course.
    pub async fn enrolled(&self, email: &str) -> TestUser {
        let user = self.app.register(email).await;
        let resp = self
            .app
            .send(
                Method::POST,
                &format!("/api/v1/courses/{}/enroll", self.course),
                Some(&user.access_token),
                None,
            )
            .await;
        assert_eq!(resp.status(), 201);
        user
    }
}

pub async fn class(backend: Backend) -> Class {
    class_with(backend, &[]).await
}

/// `class` on a server started with extra settings.
pub async fn class_with(backend: Backend, overrides: &[(&str, &str)]) -> Class {
    let app = crate::helpers::spawn_app_with(backend, overrides).await;
    let admin = app.user_with_role("admin@example.org", Role::Admin).await;
    let teacher = app
        .user_with_role("teacher@example.org", Role::Instructor)
        .await;
    let learner = app.register("learner@example.org").await;
    let outsider = app.register("outsider@example.org").await;
    let course = published(&app, &teacher, &admin, course_body("Live course", 0)).await;
    let resp = app
        .send(
            Method::POST,
            &format!("/api/v1/courses/{course}/enroll"),
            Some(&learner.access_token),
            None,
        )
        .await;
    assert_eq!(resp.status(), 201);
    let live: Value = app
        .send(
            Method::POST,
            &format!("/api/v1/courses/{course}/live-sessions"),
            Some(&teacher.access_token),
            Some(json!({"title": "Office hours", "starts_at": "2030-01-01T10:00:00Z"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let live = live["id"].as_str().unwrap().to_owned();
    Class {
        app,
        teacher,
        learner,
        outsider,
        course,
        live,
    }
}

pub async fn connect(app: &TestApp, token: &str) -> Socket {
    connect_to(&app.address.replace("http://", "ws://"), token).await
}

/// Opens `/ws` on the server at `ws_base` (`ws://host:port`) with `token`, past its `hello`.
pub async fn connect_to(ws_base: &str, token: &str) -> Socket {
    let url = format!("{ws_base}/ws?token={token}");
    let mut ws = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade")
        .0;
    assert_eq!(next(&mut ws).await["type"], "hello");
    ws
}

/// The next JSON frame, skipping control frames; fails after 10 s.
pub async fn next(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("connection open")
            .expect("valid frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON frame"),
            Message::Close(c) => {
                return json!({"type": "closed", "code": c.map(|f| u16::from(f.code))});
            }
            _ => continue,
        }
    }
}

/// The next frame of type `kind`, skipping others (presence updates, acks).
pub async fn next_of(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == kind {
            return v;
        }
        assert_ne!(v["type"], "closed", "closed while waiting for {kind}: {v}");
    }
}

pub async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub async fn join(ws: &mut Socket, room: &str, since: Option<(i64, &str)>) -> Value {
    let mut cmd = json!({"type": "join", "room": room, "ref": "j"});
    if let Some((seq, epoch)) = since {
        cmd["since"] = json!(seq);
        cmd["epoch"] = json!(epoch);
    }
    send(ws, cmd).await;
    loop {
        let v = next(ws).await;
        if v["type"] == "joined" || v["type"] == "error" {
            return v;
        }
    }
}

async fn live_sessions_are_run_by_their_instructor(backend: Backend) {
    let c = class(backend).await;
    let path = format!("/api/v1/courses/{}/live-sessions", c.course);
    let body = json!({"title": "Nope", "starts_at": "2030-01-01T10:00:00Z"});
    assert_error(
        c.app
            .send(
                Method::POST,
                &path,
                Some(&c.learner.access_token),
                Some(body.clone()),
            )
            .await,
        403,
        "forbidden",
    )
    .await;
    let bad = json!({"title": " ", "starts_at": "2030-01-01T10:00:00Z"});
    assert_error(
        c.app
            .send(
                Method::POST,
                &path,
                Some(&c.teacher.access_token),
                Some(bad),
            )
            .await,
        400,
        "validation_failed",
    )
    .await;
    let start = format!("/api/v1/live-sessions/{}/start", c.live);
    assert_error(
        c.app
            .send(Method::POST, &start, Some(&c.learner.access_token), None)
            .await,
        403,
        "forbidden",
    )
    .await;
    let live: Value = c
        .app
        .send(Method::POST, &start, Some(&c.teacher.access_token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live["status"], "live");
    assert_error(
        c.app
            .send(Method::POST, &start, Some(&c.teacher.access_token), None)
            .await,
        409,
        "conflict",
    )
    .await;
    let end = format!("/api/v1/live-sessions/{}/end", c.live);
    let ended: Value = c
        .app
        .send(Method::POST, &end, Some(&c.teacher.access_token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ended["status"], "ended");
    let list: Value = c.app.get(&path, None).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_error(
        c.app.get("/api/v1/courses/nope/live-sessions", None).await,
        404,
        "not_found",
    )
    .await;
}

async fn only_entitled_users_join_and_chat_fans_out_in_order(backend: Backend) {
    let c = class(backend).await;
    let room = format!("class:{}", c.live);
    let mut outsider = connect(&c.app, &c.outsider.access_token).await;
    let refused = join(&mut outsider, &room, None).await;
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(
        join(&mut outsider, "class:no-such-session", None).await["code"],
        "not_found"
    );
    assert_eq!(
        join(&mut outsider, "lobby", None).await["code"],
        "not_found"
    );
    // Chat without joining is refused.
    send(
        &mut outsider,
        json!({"type": "chat", "room": room, "text": "hi", "ref": "x"}),
    )
    .await;
    assert_eq!(next_of(&mut outsider, "error").await["code"], "forbidden");

    let mut teacher = connect(&c.app, &c.teacher.access_token).await;
    let mut learner = connect(&c.app, &c.learner.access_token).await;
    let joined = join(&mut teacher, &room, None).await;
    assert_eq!(joined["seq"], 0);
    assert_eq!(join(&mut learner, &room, None).await["presence"], 2);
    for i in 1..=5 {
        send(
            &mut learner,
            json!({"type": "chat", "room": room, "text": format!("m{i}"), "ref": format!("r{i}")}),
        )
        .await;
    }
    for ws in [&mut teacher, &mut learner] {
        for i in 1..=5 {
            let e = next_of(ws, "event").await;
            assert_eq!(e["seq"], i);
            assert_eq!(e["kind"], "chat");
            assert_eq!(e["data"]["text"], format!("m{i}"));
            assert_eq!(e["data"]["user"], c.learner.id);
        }
    }
    let db = c.app.db().await;
    let learner_id = c.learner.id.clone();
    let joins = db
        .run(move |conn| {
            lyceum::catalog::events::for_user(conn, &learner_id).map_err(lyceum::db::DbError::from)
        })
        .await
        .unwrap();
    assert!(
        joins.iter().any(|e| e.kind == "live_join"),
        "joining is a behaviour event"
    );
    let metrics = c.app.get("/metrics", None).await.text().await.unwrap();
    for name in [
        "ws_connections",
        "rooms",
        "room_events_total",
        "room_fanout_latency_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    send(
        &mut learner,
        json!({"type": "chat", "room": room, "text": "x".repeat(2001), "ref": "big"}),
    )
    .await;
    let err = next_of(&mut learner, "error").await;
    assert_eq!(
        (err["code"].as_str(), err["ref"].as_str()),
        (Some("too_large"), Some("big"))
    );
}

async fn a_reconnecting_client_recovers_what_it_missed(backend: Backend) {
    let c = class(backend).await;
    let room = format!("class:{}", c.live);
    let mut teacher = connect(&c.app, &c.teacher.access_token).await;
    join(&mut teacher, &room, None).await;
    let mut learner = connect(&c.app, &c.learner.access_token).await;
    let joined = join(&mut learner, &room, None).await;
    let epoch = joined["epoch"].as_str().unwrap().to_owned();
    send(
        &mut teacher,
        json!({"type": "chat", "room": room, "text": "one"}),
    )
    .await;
    assert_eq!(next_of(&mut learner, "event").await["seq"], 1);
    drop(learner);
    for t in ["two", "three"] {
        send(
            &mut teacher,
            json!({"type": "chat", "room": room, "text": t}),
        )
        .await;
    }
    assert_eq!(next_of(&mut teacher, "event").await["seq"], 1);
    assert_eq!(next_of(&mut teacher, "event").await["seq"], 2);
    assert_eq!(next_of(&mut teacher, "event").await["seq"], 3);

    let mut back = connect(&c.app, &c.learner.access_token).await;
    send(
        &mut back,
        json!({"type": "join", "room": room, "since": 1, "epoch": epoch}),
    )
    .await;
    let replayed: Vec<Value> = vec![
        next_of(&mut back, "event").await,
        next_of(&mut back, "event").await,
    ];
    assert_eq!(
        replayed
            .iter()
            .map(|e| e["data"]["text"].clone())
            .collect::<Vec<_>>(),
        vec![json!("two"), json!("three")]
    );
    let joined = next_of(&mut back, "joined").await;
    assert_eq!(
        (joined["recovered"].clone(), joined["seq"].clone()),
        (json!(true), json!(3))
    );

    // An epoch the room never had cannot be recovered: no replay, a fresh start.
    let mut lost = connect(&c.app, &c.learner.access_token).await;
    let fresh = join(&mut lost, &room, Some((1, "elsewhere"))).await;
    assert_eq!(fresh["type"], "joined");
    assert_eq!(fresh["recovered"], false);
}

async fn the_log_continues_after_a_restart(backend: Backend) {
    let c = class(backend).await;
    let room = format!("class:{}", c.live);
    let mut teacher = connect(&c.app, &c.teacher.access_token).await;
    let epoch = join(&mut teacher, &room, None).await["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    for t in ["a", "b"] {
        send(
            &mut teacher,
            json!({"type": "chat", "room": room, "text": t}),
        )
        .await;
        next_of(&mut teacher, "event").await;
    }
    drop(teacher);
    c.app.stop().await;
    let restarted = crate::helpers::start(&c.app.database_url, &c.app.data_dir, &[]).await;
    let mut learner = connect(&restarted, &c.learner.access_token).await;
    send(
        &mut learner,
        json!({"type": "join", "room": room, "since": 1, "epoch": epoch}),
    )
    .await;
    assert_eq!(next_of(&mut learner, "event").await["data"]["text"], "b");
    let joined = next_of(&mut learner, "joined").await;
    assert_eq!(
        (
            joined["epoch"].as_str(),
            joined["seq"].as_i64(),
            joined["recovered"].as_bool()
        ),
        (Some(epoch.as_str()), Some(2), Some(true))
    );
    send(
        &mut learner,
        json!({"type": "chat", "room": room, "text": "c"}),
    )
    .await;
    assert_eq!(next_of(&mut learner, "event").await["seq"], 3);
}

async fn bad_frames_get_errors_without_closing(backend: Backend) {
    let c = class(backend).await;
    let mut ws = connect(&c.app, &c.learner.access_token).await;
    for bad in [
        "not json",
        "{}",
        r#"{"type":"dance"}"#,
        r#"{"type":"chat"}"#,
    ] {
        ws.send(Message::Text(bad.into())).await.unwrap();
        assert_eq!(next(&mut ws).await["code"], "invalid", "{bad}");
    }
    ws.send(Message::Binary(vec![1u8].into())).await.unwrap();
    assert_eq!(next(&mut ws).await["code"], "invalid");
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await["type"], "pong");
}

async fn authentication_by_token_or_first_frame(backend: Backend) {
    let c = class(backend).await;
    let base = c.app.address.replace("http://", "ws://");
    let refused = tokio_tungstenite::connect_async(format!("{base}/ws?token=garbage")).await;
    assert!(
        refused.is_err(),
        "a bad query token is refused before the upgrade"
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/ws"))
        .await
        .unwrap();
    send(
        &mut ws,
        json!({"type": "auth", "token": c.learner.access_token}),
    )
    .await;
    let hello = next(&mut ws).await;
    assert_eq!(
        (hello["type"].as_str(), hello["user"].as_str()),
        (Some("hello"), Some(c.learner.id.as_str()))
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/ws"))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "auth", "token": "garbage"})).await;
    assert_eq!(next(&mut ws).await["code"], 4001);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/ws"))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next(&mut ws).await["code"],
        4001,
        "commands before auth close the connection"
    );
}

async fn commands_beyond_the_budget_are_rate_limited(backend: Backend) {
    let app = crate::helpers::spawn_app_with(
        backend,
        &[("LYCEUM_WS_BURST", "3"), ("LYCEUM_WS_RATE_PER_SEC", "1")],
    )
    .await;
    let user = app.register("chatty@example.org").await;
    let mut ws = connect(&app, &user.access_token).await;
    for i in 0..5 {
        send(&mut ws, json!({"type": "ping", "ref": format!("p{i}")})).await;
    }
    let answers: Vec<Value> = vec![
        next(&mut ws).await,
        next(&mut ws).await,
        next(&mut ws).await,
        next(&mut ws).await,
        next(&mut ws).await,
    ];
    assert_eq!(
        answers.iter().filter(|a| a["type"] == "pong").count(),
        3,
        "{answers:?}"
    );
    let limited: Vec<&Value> = answers
        .iter()
        .filter(|a| a["code"] == "rate_limited")
        .collect();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0]["ref"], "p3");
}

async fn connections_per_user_are_capped(backend: Backend) {
    let app =
        crate::helpers::spawn_app_with(backend, &[("LYCEUM_WS_MAX_CONNECTIONS_PER_USER", "2")])
            .await;
    let user = app.register("tabs@example.org").await;
    let first = connect(&app, &user.access_token).await;
    let _second = connect(&app, &user.access_token).await;
    let url = format!(
        "{}/ws?token={}",
        app.address.replace("http://", "ws://"),
        user.access_token
    );
    let (mut third, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
    assert_eq!(next(&mut third).await["code"], 4008);
    // Closing one makes room again.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (mut again, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
        if next(&mut again).await["type"] == "hello" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed connection was never released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_draft_courses_sessions_are_hidden_like_the_course(backend: Backend) {
    let c = class(backend).await;
    let draft: Value = c
        .app
        .send(
            Method::POST,
            "/api/v1/courses",
            Some(&c.teacher.access_token),
            Some(course_body("Unreleased", 0)),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/courses/{}/live-sessions",
        draft["id"].as_str().unwrap()
    );
    let body = json!({"title": "Preview night", "starts_at": "2030-01-01T10:00:00Z"});
    let resp = c
        .app
        .send(
            Method::POST,
            &path,
            Some(&c.teacher.access_token),
            Some(body),
        )
        .await;
    assert_eq!(resp.status(), 201);
    for token in [None, Some(c.learner.access_token.as_str())] {
        assert_error(c.app.get(&path, token).await, 404, "not_found").await;
    }
    let own: Value = c
        .app
        .get(&path, Some(&c.teacher.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own.as_array().map(Vec::len), Some(1), "{own}");
    let public: Value = c
        .app
        .get(&format!("/api/v1/courses/{}/live-sessions", c.course), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        public.as_array().map(Vec::len),
        Some(1),
        "published sessions stay listed"
    );
}
