//! Classroom rooms beyond chat, with real WebSocket clients: Q&A (anonymous and held
//! questions), hands, polls, moderation, the state snapshot across restarts, roster and
//! presence, slow consumers, fan-out to many clients, session status and transcripts.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::backend_tests;
use crate::classroom::{Class, Socket, class, class_with, connect, join, next, next_of, send};
use crate::helpers::{Backend, TestApp, assert_error};

backend_tests!(
    questions_hide_anonymous_askers_from_learners_only,
    held_questions_wait_for_the_instructor,
    moderation_mutes_slows_locks_deletes_and_kicks,
    hands_and_polls_are_live_and_in_the_snapshot,
    room_state_survives_a_restart,
    a_slow_consumer_is_closed_while_others_keep_receiving,
    a_client_that_never_reads_is_cut_off,
    many_clients_receive_every_event_in_order_with_a_paginated_roster,
    session_status_reaches_the_room,
    transcripts_show_chat_and_qa_to_entitled_users,
    idle_rooms_retire_and_come_back,
    commands_arrive_in_fragments_and_oversized_ones_close_1009,
    kicked_learners_lose_the_transcript_and_times_carry_an_offset,
    questions_boards_and_transcript_pages_are_bounded,
);

/// Sends a command and returns its answer (`ack` or `error` with the same `ref`), skipping
/// events and presence frames on the way.
async fn command(ws: &mut Socket, mut cmd: Value) -> Value {
    let reference = format!("c{}", rand_ref());
    cmd["ref"] = json!(reference);
    send(ws, cmd).await;
    loop {
        let v = next(ws).await;
        assert_ne!(
            v["type"], "closed",
            "closed while waiting for an answer: {v}"
        );
        if v["ref"] == reference.as_str() {
            return v;
        }
    }
}

fn rand_ref() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The next event of `kind`, skipping everything else.
async fn event(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let e = next_of(ws, "event").await;
        if e["kind"] == kind {
            return e;
        }
    }
}

/// Connects and joins the class room, returning the socket and the `joined` frame.
async fn member(c: &Class, token: &str) -> (Socket, Value) {
    let mut ws = connect(&c.app, token).await;
    let joined = join(&mut ws, &c.room(), None).await;
    assert_eq!(joined["type"], "joined", "{joined}");
    (ws, joined)
}

async fn behaviour_kinds(app: &TestApp, user: &str) -> Vec<String> {
    let user = user.to_owned();
    app.db()
        .await
        .run(move |c| {
            lyceum::catalog::events::for_user(c, &user).map_err(lyceum::db::DbError::from)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn questions_hide_anonymous_askers_from_learners_only(backend: Backend) {
    let c = class(backend).await;
    let room = c.room();
    let other = c.enrolled("other@example.org").await;
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut asker, _) = member(&c, &c.learner.access_token).await;
    let (mut peer, _) = member(&c, &other.access_token).await;

    send(
        &mut asker,
        json!({"type": "ask", "room": room, "text": "Is this on the exam?", "anonymous": true}),
    )
    .await;
    let own = event(&mut asker, "question_asked").await;
    assert_eq!(
        own["data"]["asker"],
        c.learner.id.as_str(),
        "askers see themselves"
    );
    let q = next_of(&mut asker, "ack").await["seq"].as_i64().unwrap();
    assert_eq!(own["seq"], q);
    let seen_by_peer = event(&mut peer, "question_asked").await;
    assert_eq!(seen_by_peer["seq"], q);
    assert_eq!(seen_by_peer["data"]["text"], "Is this on the exam?");
    assert!(
        seen_by_peer["data"].get("asker").is_none(),
        "{seen_by_peer}"
    );
    assert!(seen_by_peer["data"].get("name").is_none());
    let seen_by_teacher = event(&mut teacher, "question_asked").await;
    assert_eq!(seen_by_teacher["data"]["asker"], c.learner.id.as_str());

    // Votes: once each, tallies for everyone, voters hidden from other learners.
    let vote = json!({"type": "vote", "room": room, "question": q});
    assert_eq!(command(&mut peer, vote.clone()).await["type"], "ack");
    assert_eq!(command(&mut peer, vote.clone()).await["code"], "conflict");
    let tally = event(&mut asker, "question_voted").await;
    assert_eq!(tally["data"]["votes"], 1);
    assert!(tally["data"].get("user").is_none());
    let missing = json!({"type": "vote", "room": room, "question": 999_999});
    assert_eq!(command(&mut peer, missing).await["code"], "not_found");

    // Staff answer and pin; learners may not.
    let pin = json!({"type": "moderate", "room": room, "action": "pin", "question": q});
    assert_eq!(command(&mut peer, pin.clone()).await["code"], "forbidden");
    assert_eq!(command(&mut teacher, pin).await["type"], "ack");
    let answer = json!({"type": "answer", "room": room, "question": q, "text": "Yes."});
    assert_eq!(
        command(&mut asker, answer.clone()).await["code"],
        "forbidden"
    );
    assert_eq!(command(&mut teacher, answer).await["type"], "ack");
    assert_eq!(
        event(&mut peer, "question_answered").await["data"]["text"],
        "Yes."
    );

    // A newcomer's snapshot has the board, anonymous to learners, open to the instructor.
    let late = c.enrolled("late@example.org").await;
    let (_, joined) = member(&c, &late.access_token).await;
    let board = &joined["state"]["questions"][0];
    assert_eq!(
        (
            board["id"].as_i64(),
            board["votes"].as_i64(),
            board["status"].as_str()
        ),
        (Some(q), Some(1), Some("answered"))
    );
    assert_eq!(board["asker"], Value::Null);
    assert_eq!(board["answer"]["text"], "Yes.");
    assert_eq!(joined["state"]["pinned"], json!([q]));
    let (_, staff_view) = member(&c, &c.teacher.access_token).await;
    assert_eq!(
        staff_view["state"]["questions"][0]["asker"],
        c.learner.id.as_str()
    );

    assert!(
        behaviour_kinds(&c.app, &c.learner.id)
            .await
            .contains(&"question_asked".into())
    );
    assert!(
        behaviour_kinds(&c.app, &other.id)
            .await
            .contains(&"question_upvoted".into())
    );
}

async fn held_questions_wait_for_the_instructor(backend: Backend) {
    let c = class(backend).await;
    let room = c.room();
    let other = c.enrolled("other@example.org").await;
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut asker, _) = member(&c, &c.learner.access_token).await;
    let (mut peer, _) = member(&c, &other.access_token).await;
    let hold = json!({"type": "moderate", "room": room, "action": "hold_questions", "held": true});
    assert_eq!(command(&mut teacher, hold).await["type"], "ack");
    let q = command(
        &mut asker,
        json!({"type": "ask", "room": room, "text": "Can you repeat that?"}),
    )
    .await["seq"]
        .as_i64()
        .unwrap();
    let redacted = event(&mut peer, "question_asked").await;
    assert_eq!(redacted["data"], json!({"held": true}));
    let full = event(&mut teacher, "question_asked").await;
    assert_eq!(full["data"]["text"], "Can you repeat that?");
    let vote = json!({"type": "vote", "room": room, "question": q});
    assert_eq!(command(&mut peer, vote.clone()).await["code"], "not_found");

    let approve = json!({"type": "moderate", "room": room, "action": "approve", "question": q});
    assert_eq!(
        command(&mut peer, approve.clone()).await["code"],
        "forbidden"
    );
    assert_eq!(command(&mut teacher, approve).await["type"], "ack");
    let approved = event(&mut peer, "question_approved").await;
    assert_eq!(approved["data"]["text"], "Can you repeat that?");
    assert_eq!(command(&mut peer, vote).await["type"], "ack");
}

async fn moderation_mutes_slows_locks_deletes_and_kicks(backend: Backend) {
    let c = class(backend).await;
    let room = c.room();
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut learner, _) = member(&c, &c.learner.access_token).await;
    let chat = |text: &str| json!({"type": "chat", "room": room, "text": text});
    let moderate = |action: &str, extra: Value| {
        let mut m = json!({"type": "moderate", "room": room, "action": action});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let learner_id = json!({"user": c.learner.id});

    // Mute and unmute.
    assert_eq!(
        command(
            &mut learner,
            moderate("mute", json!({"user": c.teacher.id}))
        )
        .await["code"],
        "forbidden"
    );
    assert_eq!(
        command(&mut teacher, moderate("mute", learner_id.clone())).await["type"],
        "ack"
    );
    assert_eq!(
        event(&mut learner, "member_muted").await["data"]["user"],
        c.learner.id.as_str()
    );
    assert_eq!(command(&mut learner, chat("hello?")).await["code"], "muted");
    let ask = json!({"type": "ask", "room": room, "text": "why can't I talk?"});
    assert_eq!(command(&mut learner, ask).await["code"], "muted");
    assert_eq!(
        command(&mut teacher, moderate("unmute", learner_id.clone())).await["type"],
        "ack"
    );
    assert_eq!(command(&mut learner, chat("back")).await["type"], "ack");

    // Slow mode spaces learners' messages; the instructor is exempt.
    let slow = moderate("slow_mode", json!({"seconds": 60}));
    assert_eq!(command(&mut teacher, slow).await["type"], "ack");
    let err = command(&mut learner, chat("again")).await;
    assert_eq!(err["code"], "slow_mode", "{err}");
    assert_eq!(command(&mut teacher, chat("t1")).await["type"], "ack");
    assert_eq!(command(&mut teacher, chat("t2")).await["type"], "ack");
    let off = moderate("slow_mode", json!({"seconds": 0}));
    assert_eq!(command(&mut teacher, off).await["type"], "ack");

    // Locked chat.
    let lock = moderate("lock_chat", json!({"locked": true}));
    assert_eq!(command(&mut teacher, lock).await["type"], "ack");
    assert_eq!(
        command(&mut learner, chat("locked?")).await["code"],
        "forbidden"
    );
    let unlock = moderate("lock_chat", json!({"locked": false}));
    assert_eq!(command(&mut teacher, unlock).await["type"], "ack");

    // Deleting a message.
    let bad = command(&mut learner, chat("something rude")).await["seq"]
        .as_i64()
        .unwrap();
    let delete = moderate("delete", json!({"message": bad}));
    assert_eq!(command(&mut teacher, delete.clone()).await["type"], "ack");
    assert_eq!(
        event(&mut learner, "message_deleted").await["data"]["message"],
        bad
    );
    assert_eq!(command(&mut teacher, delete).await["code"], "not_found");
    let garbage = moderate("delete", json!({"message": "seven"}));
    assert_eq!(command(&mut teacher, garbage).await["code"], "invalid");

    // Kick: removed at once and refused on rejoin, on any connection.
    assert_eq!(
        command(&mut teacher, moderate("kick", learner_id)).await["type"],
        "ack"
    );
    assert_eq!(
        event(&mut learner, "member_kicked").await["data"]["user"],
        c.learner.id.as_str()
    );
    assert_eq!(
        command(&mut learner, chat("still here?")).await["code"],
        "forbidden"
    );
    assert_eq!(join(&mut learner, &room, None).await["code"], "forbidden");
    let mut fresh = connect(&c.app, &c.learner.access_token).await;
    assert_eq!(join(&mut fresh, &room, None).await["code"], "forbidden");
}

async fn hands_and_polls_are_live_and_in_the_snapshot(backend: Backend) {
    let c = class(backend).await;
    let room = c.room();
    let other = c.enrolled("other@example.org").await;
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut learner, _) = member(&c, &c.learner.access_token).await;
    let (mut peer, _) = member(&c, &other.access_token).await;

    let raise = json!({"type": "hand", "room": room, "raised": true});
    assert_eq!(command(&mut learner, raise.clone()).await["type"], "ack");
    assert_eq!(command(&mut peer, raise.clone()).await["type"], "ack");
    assert_eq!(command(&mut learner, raise).await["code"], "conflict");
    let lower =
        json!({"type": "moderate", "room": room, "action": "lower_hand", "user": c.learner.id});
    assert_eq!(command(&mut peer, lower.clone()).await["code"], "forbidden");
    assert_eq!(command(&mut teacher, lower).await["type"], "ack");
    let lowered = event(&mut learner, "hand_lowered").await;
    assert_eq!(lowered["data"]["by"], c.teacher.id.as_str());

    let open = json!({"type": "poll_open", "room": room, "question": "Pace?", "options": ["slower", "ok", "faster"]});
    assert_eq!(
        command(&mut learner, open.clone()).await["code"],
        "forbidden"
    );
    let poll = command(&mut teacher, open).await["seq"].as_i64().unwrap();
    let vote =
        |option: i64| json!({"type": "poll_vote", "room": room, "poll": poll, "option": option});
    assert_eq!(command(&mut learner, vote(2)).await["type"], "ack");
    assert_eq!(command(&mut learner, vote(0)).await["code"], "conflict");
    let live_tally = event(&mut peer, "poll_voted").await;
    assert_eq!(live_tally["data"]["tallies"], json!([0, 0, 1]));
    assert!(live_tally["data"].get("user").is_none(), "votes are secret");
    assert_eq!(command(&mut peer, vote(7)).await["code"], "invalid");

    let (_, joined) = member(&c, &other.access_token).await;
    let state = &joined["state"];
    assert_eq!(
        state["hands"],
        json!([{"user": other.id, "name": state["hands"][0]["name"]}])
    );
    assert_eq!(state["polls"][0]["tallies"], json!([0, 0, 1]));
    assert_eq!(state["polls"][0]["open"], true);

    let close = json!({"type": "poll_close", "room": room, "poll": poll});
    assert_eq!(command(&mut teacher, close.clone()).await["type"], "ack");
    assert_eq!(
        event(&mut peer, "poll_closed").await["data"]["tallies"],
        json!([0, 0, 1])
    );
    assert_eq!(command(&mut peer, vote(1)).await["code"], "conflict");
    assert_eq!(command(&mut teacher, close).await["code"], "conflict");
    assert!(
        behaviour_kinds(&c.app, &c.learner.id)
            .await
            .contains(&"poll_voted".into())
    );
}

async fn room_state_survives_a_restart(backend: Backend) {
    let c = class(backend).await;
    let room = c.room();
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut learner, _) = member(&c, &c.learner.access_token).await;
    let q = command(
        &mut learner,
        json!({"type": "ask", "room": room, "text": "Persisted?", "anonymous": true}),
    )
    .await["seq"]
        .as_i64()
        .unwrap();
    let vote = json!({"type": "vote", "room": room, "question": q});
    assert_eq!(command(&mut teacher, vote.clone()).await["type"], "ack");
    let mute = json!({"type": "moderate", "room": room, "action": "mute", "user": c.learner.id});
    assert_eq!(command(&mut teacher, mute).await["type"], "ack");
    let open =
        json!({"type": "poll_open", "room": room, "question": "Again?", "options": ["yes", "no"]});
    let poll = command(&mut teacher, open).await["seq"].as_i64().unwrap();
    drop((teacher, learner));
    c.app.stop().await;

    let restarted = crate::helpers::start(&c.app.database_url, &c.app.data_dir, &[]).await;
    let mut learner = connect(&restarted, &c.learner.access_token).await;
    let joined = join(&mut learner, &room, None).await;
    let state = &joined["state"];
    assert_eq!(state["questions"][0]["id"], q);
    assert_eq!(state["questions"][0]["votes"], 1);
    assert_eq!(
        state["questions"][0]["asker"],
        c.learner.id.as_str(),
        "own question"
    );
    assert_eq!(state["muted"], true);
    assert_eq!(state["polls"][0]["id"], poll);
    let chat = json!({"type": "chat", "room": room, "text": "am I muted?"});
    assert_eq!(command(&mut learner, chat).await["code"], "muted");
    let mut teacher = connect(&restarted, &c.teacher.access_token).await;
    join(&mut teacher, &room, None).await;
    assert_eq!(
        command(&mut teacher, vote).await["code"],
        "conflict",
        "votes survive too"
    );
}

/// A room where a teacher floods chat, a fast learner reads all along, and a third client's
/// socket (tiny receive buffer) stops reading after it joined.
struct Flood {
    c: Class,
    slow_user: crate::helpers::TestUser,
    slow: Socket,
    epoch: String,
    /// Messages sent: more than the kernel buffers between the ends hold.
    total: usize,
}

async fn flood(backend: Backend, settings: &[(&str, &str)]) -> Flood {
    let mut all = vec![
        ("LYCEUM_WS_OUTBOUND_QUEUE", "64"),
        ("LYCEUM_ROOM_HISTORY", "10000"),
        ("LYCEUM_WS_BURST", "100000"),
        ("LYCEUM_WS_RATE_PER_SEC", "100000"),
    ];
    all.extend_from_slice(settings);
    let c = class_with(backend, &all).await;
    let room = c.room();
    let (teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut fast, _) = member(&c, &c.learner.access_token).await;
    let slow_user = c.enrolled("slow@example.org").await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = c.app.address.trim_start_matches("http://").parse().unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/ws?token={}", slow_user.access_token);
    let plain = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (mut slow, _) = tokio_tungstenite::client_async(url, plain).await.unwrap();
    assert_eq!(next(&mut slow).await["type"], "hello");
    let epoch = join(&mut slow, &room, None).await["epoch"]
        .as_str()
        .unwrap()
        .to_owned();

    // The server's send buffer may grow to tcp_wmem's maximum; send well past it.
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    let total = wmem_max / 2000 + 1000;
    let (mut teacher_tx, mut teacher_rx) = teacher.split();
    actix_web::rt::spawn(async move { while let Some(Ok(_)) = teacher_rx.next().await {} });
    let (progress, mut read) = tokio::sync::watch::channel(0usize);
    let reader = actix_web::rt::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < total {
            seqs.push(next_of(&mut fast, "event").await["seq"].as_i64().unwrap());
            let _ = progress.send(seqs.len());
        }
        seqs
    });
    let chat = json!({"type": "chat", "room": room, "text": "x".repeat(2000)}).to_string();
    for sent in 0..total {
        // Test and server share one thread: the sender waits for the fast client, which reads
        // all along, whenever it is more than a few frames behind.
        read.wait_for(|done| sent <= done + 16).await.unwrap();
        teacher_tx
            .send(Message::Text(chat.clone().into()))
            .await
            .unwrap();
    }
    let seqs = reader.await.unwrap();
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "the fast client misses nothing"
    );
    Flood {
        c,
        slow_user,
        slow,
        epoch,
        total,
    }
}

/// A client whose socket barely reads falls behind; the room drops it and it is closed with
/// 4009, while a normal client receives everything. The slow client then recovers with `since`.
async fn a_slow_consumer_is_closed_while_others_keep_receiving(backend: Backend) {
    let Flood {
        c,
        slow_user,
        mut slow,
        epoch,
        total,
    } = flood(backend, &[]).await;
    // The slow client reads what was buffered for it, in order, then the close.
    let mut last = 0;
    let code = loop {
        let v = next(&mut slow).await;
        match v["type"].as_str() {
            Some("event") => {
                assert_eq!(v["seq"], last + 1, "in order, no gaps");
                last += 1;
            }
            Some("closed") => break v["code"].clone(),
            _ => {}
        }
    };
    assert_eq!(code, 4009);
    assert!(last < total as i64, "it fell behind before the end");
    let metrics = c.app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("ws_slow_consumer_closes_total"));

    let mut back = connect(&c.app, &slow_user.access_token).await;
    let rejoin = json!({"type": "join", "room": c.room(), "since": last, "epoch": epoch});
    send(&mut back, rejoin).await;
    for seq in last + 1..=total as i64 {
        assert_eq!(next_of(&mut back, "event").await["seq"], seq);
    }
    let rejoined = next_of(&mut back, "joined").await;
    assert_eq!(
        (rejoined["recovered"].as_bool(), rejoined["seq"].as_i64()),
        (Some(true), Some(total as i64))
    );
}

/// A client that never reads again stalls its own session, which then cannot close itself;
/// the server shuts its socket down after the deadline (two heartbeats), which frees the
/// user's connection slot.
async fn a_client_that_never_reads_is_cut_off(backend: Backend) {
    let settings = [
        ("LYCEUM_WS_HEARTBEAT_SECS", "1"),
        ("LYCEUM_WS_MAX_CONNECTIONS_PER_USER", "1"),
    ];
    // Keep the stalled socket open (unread) for the whole test.
    let Flood {
        c,
        slow_user,
        slow: _unread,
        ..
    } = flood(backend, &settings).await;
    let url = format!(
        "{}/ws?token={}",
        c.app.address.replace("http://", "ws://"),
        slow_user.access_token
    );
    // The stalled connection holds the user's only slot until it is shut down.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (mut again, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
        if next(&mut again).await["type"] == "hello" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled connection was never cut off"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The connection ends: by the session's own 4009 close when it still gets to run, or by
    // the socket being shut down at the deadline when the unread data stalled it (counted in
    // `ws_forced_shutdowns_total`). Which one depends on where the writes stalled.
    let mut unread = _unread;
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = unread.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await
    .expect("the stalled connection ends");
}

async fn many_clients_receive_every_event_in_order_with_a_paginated_roster(backend: Backend) {
    // The instructor's roster requests and chat fit in one burst.
    let settings = [("LYCEUM_ROOM_ROSTER_MAX", "5"), ("LYCEUM_WS_BURST", "100")];
    let c = class_with(backend, &settings).await;
    let room = c.room();
    let mut clients = Vec::new();
    for i in 0..30 {
        let user = c.enrolled(&format!("learner{i}@example.org")).await;
        clients.push(member(&c, &user.access_token).await.0);
    }
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    // A second tab of the same user is one roster entry.
    let (_tab1, _) = member(&c, &c.learner.access_token).await;
    let (mut tab2, _) = member(&c, &c.learner.access_token).await;

    let mut members = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let page = command(
            &mut teacher,
            json!({"type": "roster", "room": room, "offset": o, "limit": 10}),
        )
        .await;
        assert_eq!(page["type"], "roster", "{page}");
        assert_eq!(page["count"], 32);
        members.extend(page["members"].as_array().unwrap().clone());
        offset = page["next"].as_u64();
    }
    assert_eq!(members.len(), 32);
    assert_eq!(members[0]["role"], "instructor", "staff first");
    let me: Vec<&Value> = members
        .iter()
        .filter(|m| m["user"] == c.learner.id.as_str())
        .collect();
    assert_eq!(me.len(), 1);
    assert_eq!(me[0]["connections"], 2);
    let bad = command(
        &mut tab2,
        json!({"type": "roster", "room": "class:elsewhere"}),
    )
    .await;
    assert_eq!(bad["code"], "forbidden");

    for i in 0..20 {
        send(
            &mut teacher,
            json!({"type": "chat", "room": room, "text": format!("m{i}")}),
        )
        .await;
    }
    for ws in clients.iter_mut() {
        for seq in 1..=20 {
            let e = next_of(ws, "event").await;
            assert_eq!(
                (e["seq"].as_i64(), e["data"]["text"].as_str()),
                (Some(seq), Some(format!("m{}", seq - 1).as_str()))
            );
        }
    }
    // Above the roster threshold presence carries counts only.
    drop(clients.pop());
    loop {
        let p = next_of(&mut teacher, "presence").await;
        assert!(p.get("joined").is_none() && p.get("left").is_none(), "{p}");
        if p["count"] == 31 {
            break;
        }
    }
}

async fn session_status_reaches_the_room(backend: Backend) {
    let c = class(backend).await;
    let (mut learner, joined) = member(&c, &c.learner.access_token).await;
    assert_eq!(joined["state"]["status"], "scheduled");
    let token = Some(c.teacher.access_token.as_str());
    for (what, status) in [("start", "live"), ("end", "ended")] {
        let path = format!("/api/v1/live-sessions/{}/{what}", c.live);
        let resp = c.app.send(Method::POST, &path, token, None).await;
        assert_eq!(resp.status(), 200);
        let e = event(&mut learner, "session_status").await;
        assert_eq!(e["data"]["status"], status);
    }
    let chat = json!({"type": "chat", "room": c.room(), "text": "anyone?"});
    assert_eq!(command(&mut learner, chat).await["code"], "forbidden");
}

async fn transcripts_show_chat_and_qa_to_entitled_users(backend: Backend) {
    let c = class(backend).await;
    let room = c.room();
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let (mut learner, _) = member(&c, &c.learner.access_token).await;
    for text in ["first", "oops", "third"] {
        command(
            &mut learner,
            json!({"type": "chat", "room": room, "text": text}),
        )
        .await;
    }
    let delete = json!({"type": "moderate", "room": room, "action": "delete", "message": 2});
    assert_eq!(command(&mut teacher, delete).await["type"], "ack");
    let q = command(
        &mut learner,
        json!({"type": "ask", "room": room, "text": "Anon?", "anonymous": true}),
    )
    .await["seq"]
        .as_i64()
        .unwrap();
    command(
        &mut teacher,
        json!({"type": "answer", "room": room, "question": q, "text": "Sure."}),
    )
    .await;

    let path = format!("/api/v1/live-sessions/{}/transcript", c.live);
    let other = c.enrolled("reader@example.org").await;
    let t: Value = c
        .app
        .get(&path, Some(&other.access_token))
        .await
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "third"], "deleted messages are left out");
    assert_eq!(t["questions"][0]["text"], "Anon?");
    assert_eq!(t["questions"][0]["asker"], Value::Null);
    assert_eq!(t["questions"][0]["answer"]["text"], "Sure.");
    assert_eq!(t["next_after"], Value::Null);
    let staff: Value = c
        .app
        .get(&path, Some(&c.teacher.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff["questions"][0]["asker"], c.learner.id.as_str());

    let page: Value = c
        .app
        .get(&format!("{path}?limit=1"), Some(&other.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    let after = page["next_after"].as_i64().unwrap();
    let rest: Value = c
        .app
        .get(&format!("{path}?after={after}"), Some(&other.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["messages"][0]["text"], "third");

    assert_error(
        c.app.get(&path, Some(&c.outsider.access_token)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(c.app.get(&path, None).await, 401, "unauthorized").await;
    assert_error(
        c.app
            .get(&format!("{path}?limit=0"), Some(&other.access_token))
            .await,
        400,
        "validation_failed",
    )
    .await;
    let missing = "/api/v1/live-sessions/nope/transcript";
    assert_error(
        c.app.get(missing, Some(&other.access_token)).await,
        404,
        "not_found",
    )
    .await;
}

async fn idle_rooms_retire_and_come_back(backend: Backend) {
    let c = class_with(backend, &[("LYCEUM_ROOM_IDLE_SECS", "1")]).await;
    let room = c.room();
    let (mut learner, _) = member(&c, &c.learner.access_token).await;
    command(
        &mut learner,
        json!({"type": "chat", "room": room, "text": "before"}),
    )
    .await;
    drop(learner);
    // Readiness reports this server's own room count.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ready: Value = c.app.get("/readyz", None).await.json().await.unwrap();
        if ready["rooms"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room never retired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut back, joined) = member(&c, &c.learner.access_token).await;
    assert_eq!(joined["seq"], 1, "a fresh room continues the log");
    assert_eq!(
        command(
            &mut back,
            json!({"type": "chat", "room": room, "text": "after"})
        )
        .await["seq"],
        2
    );
}

/// The frame layer of `GET /ws` itself: a command split over continuation frames is reassembled
/// and answered; a message over `LYCEUM_WS_MAX_MESSAGE_BYTES` closes the connection with 1009.
async fn commands_arrive_in_fragments_and_oversized_ones_close_1009(backend: Backend) {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let c = class_with(backend, &[("LYCEUM_WS_MAX_MESSAGE_BYTES", "4096")]).await;
    let mut ws = connect(&c.app, &c.learner.access_token).await;
    let cmd = json!({"type": "join", "room": c.room(), "ref": "frag"}).to_string();
    let (head, tail) = cmd.as_bytes().split_at(cmd.len() / 2);
    let first = Frame::message(head.to_vec(), OpCode::Data(Data::Text), false);
    let rest = Frame::message(tail.to_vec(), OpCode::Data(Data::Continue), true);
    ws.send(Message::Frame(first)).await.unwrap();
    ws.send(Message::Frame(rest)).await.unwrap();
    let joined = next_of(&mut ws, "joined").await;
    assert_eq!(joined["ref"], "frag");

    let huge = json!({"type": "chat", "room": c.room(), "text": "x".repeat(5000)}).to_string();
    ws.send(Message::Text(huge.into())).await.unwrap();
    loop {
        let v = next(&mut ws).await;
        if v["type"] == "closed" {
            assert_eq!(v["code"], 1009);
            break;
        }
    }
}

async fn kicked_learners_lose_the_transcript_and_times_carry_an_offset(backend: Backend) {
    let c = class(backend).await;
    let (mut teacher, _) = member(&c, &c.teacher.access_token).await;
    let path = format!("/api/v1/live-sessions/{}/transcript", c.live);
    let t: Value = c
        .app
        .get(&path, Some(&c.learner.access_token))
        .await
        .json()
        .await
        .unwrap();
    let created = t["session"]["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z'), "RFC 3339 with an offset: {created}");
    assert_eq!(t["session"]["starts_at"], "2030-01-01T10:00:00Z");
    let kick =
        json!({"type": "moderate", "room": c.room(), "action": "kick", "user": c.learner.id});
    assert_eq!(command(&mut teacher, kick).await["type"], "ack");
    assert_error(
        c.app.get(&path, Some(&c.learner.access_token)).await,
        403,
        "forbidden",
    )
    .await;
    let ok = c.app.get(&path, Some(&c.teacher.access_token)).await;
    assert_eq!(ok.status(), 200);
}

async fn questions_boards_and_transcript_pages_are_bounded(backend: Backend) {
    let limits = [
        ("LYCEUM_CLASS_OPEN_QUESTIONS_PER_USER", "2"),
        ("LYCEUM_CLASS_OPEN_QUESTIONS", "3"),
        ("LYCEUM_CLASS_BOARD_SIZE", "2"),
    ];
    let c = class_with(backend, &limits).await;
    let room = c.room();
    let other = c.enrolled("other@example.org").await;
    let (mut teacher, staff_view) = member(&c, &c.teacher.access_token).await;
    let (mut asker, learner_view) = member(&c, &c.learner.access_token).await;
    assert_eq!(
        (
            &staff_view["state"]["staff"],
            &learner_view["state"]["staff"]
        ),
        (&json!(true), &json!(false)),
        "the state says who may moderate"
    );
    let (mut peer, _) = member(&c, &other.access_token).await;
    let ask = |text: &str| json!({"type": "ask", "room": room, "text": text});

    let first = command(&mut asker, ask("one")).await;
    assert_eq!(first["type"], "ack", "{first}");
    assert_eq!(command(&mut asker, ask("two")).await["type"], "ack");
    let over = command(&mut asker, ask("three")).await;
    assert_eq!(
        over["code"], "limit_reached",
        "two open questions each: {over}"
    );
    assert_eq!(command(&mut peer, ask("peer")).await["type"], "ack");
    let full = command(&mut peer, ask("peer again")).await;
    assert_eq!(
        full["code"], "limit_reached",
        "three open in the room: {full}"
    );

    // An answer frees the asker's quota and the room's.
    let q = first["seq"].as_i64().unwrap();
    let answer = json!({"type": "answer", "room": room, "question": q, "text": "Done."});
    assert_eq!(command(&mut teacher, answer).await["type"], "ack");
    assert_eq!(command(&mut asker, ask("three")).await["type"], "ack");

    // A newcomer's snapshot holds the top of the board and the count of all of it.
    let late = c.enrolled("late@example.org").await;
    let (_late, joined) = member(&c, &late.access_token).await;
    let state = &joined["state"];
    assert_eq!(state["questions"].as_array().unwrap().len(), 2, "{state}");
    assert_eq!(state["questions_count"], 4);

    // A transcript page holds at most `limit` items, questions and messages together.
    let say = json!({"type": "chat", "room": room, "text": "hello"});
    assert_eq!(command(&mut peer, say).await["type"], "ack");
    let path = format!("/api/v1/live-sessions/{}/transcript?limit=2", c.live);
    let page: Value = c
        .app
        .get(&path, Some(&other.access_token))
        .await
        .json()
        .await
        .unwrap();
    let items =
        page["messages"].as_array().unwrap().len() + page["questions"].as_array().unwrap().len();
    assert_eq!(items, 2, "{page}");
    assert!(page["next_after"].is_i64(), "more pages follow: {page}");
}
