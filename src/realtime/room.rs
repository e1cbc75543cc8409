//! Room actors and the registry that finds them.
//!
//! A `Room` owns one room: its members on this node, its log position (epoch + seq) and a
//! bounded in-memory history. It is the single writer of its log: each event gets the next
//! seq, is persisted, kept in history and fanned out, in that order — the actor waits for the
//! write before handling its next message, so seq order is delivery order. It starts on the
//! first join (reading epoch, seq and recent history from the database, so a restarted server
//! continues the same log) and lives as long as the registry.
//!
//! The `Registry` maps room names to room actors on this node.

use std::collections::{HashMap, VecDeque};

use actix::prelude::*;
use serde_json::{Value, json};

use super::protocol::ServerFrame;
use crate::classroom::log;
use crate::db::{Db, DbError};

/// Events kept in memory per room for recovery; older gaps get `recovered: false`.
pub const HISTORY: usize = 512;

/// A frame for one session, already encoded.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Outbound(pub String);

/// Sent by a session: join the room, replaying what it missed after `since` in `epoch`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    /// The joining connection.
    pub session: u64,
    /// Its user.
    pub user_id: String,
    /// Where to send frames.
    pub to: Recipient<Outbound>,
    /// Last seq the client saw.
    pub since: Option<i64>,
    /// Its epoch.
    pub epoch: Option<String>,
    /// Echoed in `joined`.
    pub reference: Option<String>,
}

/// Sent by a session: leave (or the connection ended).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    /// The leaving connection.
    pub session: u64,
}

/// Sent by a session: append an event to the log and fan it out. Answered with `ack` to the
/// sender once stored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    /// The sending connection (receives the ack).
    pub session: u64,
    /// Who acts.
    pub user_id: String,
    /// Event kind.
    pub kind: &'static str,
    /// Payload.
    pub data: Value,
    /// Echoed in the ack.
    pub reference: Option<String>,
}

struct Member {
    user_id: String,
    to: Recipient<Outbound>,
}

/// One room.
pub struct Room {
    name: String,
    db: Db,
    epoch: String,
    seq: i64,
    history: VecDeque<(i64, String)>,
    members: HashMap<u64, Member>,
}

impl Room {
    fn broadcast(&self, text: &str) {
        for m in self.members.values() {
            m.to.do_send(Outbound(text.to_owned()));
        }
    }

    fn presence(&self) {
        let users: std::collections::HashSet<&str> =
            self.members.values().map(|m| m.user_id.as_str()).collect();
        self.broadcast(
            &ServerFrame::Presence {
                room: self.name.clone(),
                count: users.len(),
            }
            .to_text(),
        );
    }

    fn event_frame(&self, seq: i64, kind: &str, at: &str, data: Value) -> String {
        ServerFrame::Event {
            room: self.name.clone(),
            seq,
            kind: kind.to_owned(),
            at: at.to_owned(),
            data,
        }
        .to_text()
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (db, name) = (self.db.clone(), self.name.clone());
        let load = async move {
            db.run(move |c| -> Result<_, DbError> {
                let (epoch, seq) = log::open(c, &name)?;
                let tail = log::tail(c, &name, &epoch, HISTORY as i64)?;
                Ok((epoch, seq, tail))
            })
            .await
        };
        ctx.wait(load.into_actor(self).map(|loaded, room, ctx| match loaded {
            Ok((epoch, seq, tail)) => {
                room.epoch = epoch;
                room.seq = seq;
                room.history = tail
                    .into_iter()
                    .map(|e| {
                        let data = serde_json::from_str(&e.data).unwrap_or(Value::Null);
                        let at = e.created_at.and_utc().to_rfc3339();
                        (e.seq, room.event_frame(e.seq, &e.kind, &at, data))
                    })
                    .collect();
            }
            Err(e) => {
                tracing::error!(room = %room.name, error = %e, "cannot open room log");
                ctx.stop();
            }
        }));
    }
}

impl Handler<Join> for Room {
    type Result = ();

    fn handle(&mut self, msg: Join, _: &mut Context<Self>) {
        let oldest = self.history.front().map_or(self.seq + 1, |(s, _)| *s);
        let recovered = match (msg.since, msg.epoch.as_deref()) {
            (Some(since), Some(epoch)) => {
                epoch == self.epoch && since >= oldest - 1 && since <= self.seq
            }
            _ => false,
        };
        if recovered {
            let since = msg.since.unwrap_or(0);
            for (seq, frame) in &self.history {
                if *seq > since {
                    msg.to.do_send(Outbound(frame.clone()));
                }
            }
        }
        self.members.insert(
            msg.session,
            Member {
                user_id: msg.user_id,
                to: msg.to.clone(),
            },
        );
        let users: std::collections::HashSet<&str> =
            self.members.values().map(|m| m.user_id.as_str()).collect();
        let joined = ServerFrame::Joined {
            reference: msg.reference,
            room: self.name.clone(),
            epoch: self.epoch.clone(),
            seq: self.seq,
            recovered,
            presence: users.len(),
            state: json!({}),
        };
        msg.to.do_send(Outbound(joined.to_text()));
        self.presence();
    }
}

impl Handler<Leave> for Room {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        if self.members.remove(&msg.session).is_some() {
            self.presence();
        }
    }
}

impl Handler<Publish> for Room {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) {
        let received = std::time::Instant::now();
        let seq = self.seq + 1;
        let (db, room, epoch) = (self.db.clone(), self.name.clone(), self.epoch.clone());
        let (kind, user, data) = (msg.kind, msg.user_id.clone(), msg.data.clone());
        let payload = data.to_string();
        let store = async move {
            db.run(move |c| {
                log::append(c, &room, &epoch, seq, kind, Some(&user), &payload)
                    .map_err(DbError::from)
            })
            .await
        };
        // `wait`: no other message is handled until this event is stored, so seq order holds.
        ctx.wait(store.into_actor(self).map(move |stored, room, _| {
            let reply_to = room.members.get(&msg.session).map(|m| m.to.clone());
            match stored {
                Ok(()) => {
                    room.seq = seq;
                    let at = chrono::Utc::now().to_rfc3339();
                    let frame = room.event_frame(seq, kind, &at, data);
                    room.history.push_back((seq, frame.clone()));
                    if room.history.len() > HISTORY {
                        room.history.pop_front();
                    }
                    room.broadcast(&frame);
                    metrics::counter!("room_events_total").increment(1);
                    metrics::counter!("room_deliveries_total").increment(room.members.len() as u64);
                    metrics::histogram!("room_fanout_latency_seconds")
                        .record(received.elapsed().as_secs_f64());
                    if let Some(to) = reply_to {
                        to.do_send(Outbound(
                            ServerFrame::Ack {
                                reference: msg.reference,
                            }
                            .to_text(),
                        ));
                    }
                }
                Err(e) => {
                    tracing::error!(room = %room.name, error = %e, "cannot store room event");
                    if let Some(to) = reply_to {
                        let err = ServerFrame::error(
                            msg.reference,
                            "unavailable",
                            "the event could not be stored; retry",
                        );
                        to.do_send(Outbound(err.to_text()));
                    }
                }
            }
        }));
    }
}

/// Finds or starts the room actor for a name on this node.
pub struct Registry {
    db: Db,
    rooms: HashMap<String, Addr<Room>>,
}

impl Registry {
    /// An empty registry whose rooms store their logs in `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            rooms: HashMap::new(),
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

/// Sent by sessions: the room actor for `0`.
#[derive(Message)]
#[rtype(result = "Addr<Room>")]
pub struct Lookup(pub String);

impl Handler<Lookup> for Registry {
    type Result = MessageResult<Lookup>;

    fn handle(&mut self, msg: Lookup, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let addr = self
            .rooms
            .entry(msg.0.clone())
            .and_modify(|a| {
                if !a.connected() {
                    *a = new_room(db.clone(), msg.0.clone());
                }
            })
            .or_insert_with(|| new_room(db, msg.0))
            .clone();
        metrics::gauge!("rooms").set(self.rooms.len() as f64);
        MessageResult(addr)
    }
}

fn new_room(db: Db, name: String) -> Addr<Room> {
    Room {
        name,
        db,
        epoch: String::new(),
        seq: 0,
        history: VecDeque::new(),
        members: HashMap::new(),
    }
    .start()
}
