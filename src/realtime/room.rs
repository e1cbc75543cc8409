//! Room actors and the registry that finds them.
//!
//! A `Room` hosts one classroom on this node: its members, its state (`classroom::rules`), its
//! log position (epoch + seq) and a bounded history for recovery. Commands are checked against
//! the state, sequenced by the `Broker`, stored, folded into the state, kept in history and fanned
//! out — the actor waits for the store before its next message, so seq order is delivery order.
//! It starts on the first join by folding the stored log (so a restarted server continues the
//! same log and state) and retires when it has been empty for the idle period.
//!
//! Presence is per node and ephemeral: one roster entry per user however many tabs; below the
//! roster threshold each arrival and departure is broadcast, above it only a count, coalesced to
//! one frame per second.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::{Value, json};

use super::broker::{Broker, Sequenced};
use super::kind::{self, RoomAction, RoomKind};
use super::outlet::{Notice, Outbound, Outlet};
use super::protocol::ServerFrame;
use crate::catalog::events;
use crate::classroom::log::{self, StoredEvent};
use crate::classroom::rules::{self, Actor as RoomActor, ClassLimits, ClassState, Draft, Refusal};
use crate::clock::SharedClock;
use crate::consultations::bookings::{self, ConsultConfig, Party};
use crate::consultations::live::{self, ConsultAction};
use crate::consultations::metering::Change;
use crate::db::{Db, DbError};
use crate::orders::actor::{Command, OrderActor};

/// What every room on this node shares.
#[derive(Clone)]
pub struct RoomDeps {
    /// Where logs are stored.
    pub db: Db,
    /// Orders each room's log across nodes.
    pub broker: Arc<dyn Broker>,
    /// Sizes and periods.
    pub limits: RoomLimits,
    /// Settles consultations.
    pub orders: Addr<OrderActor>,
    /// The time consultations are metered by.
    pub clock: SharedClock,
    /// The consultation rules (reconnect grace, fees).
    pub consult: Arc<ConsultConfig>,
}

/// Limits every room on this node shares.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Events kept in memory for recovery; older gaps get `recovered: false`.
    pub history: usize,
    /// Above this many users only presence counts are broadcast.
    pub roster_max: usize,
    /// An empty room retires after this long.
    pub idle: Duration,
    /// How often rooms run their timers.
    pub tick: Duration,
    /// How far a classroom may grow (question quotas, the board in `joined`).
    pub class: ClassLimits,
}

/// Who a member is, as checked by the session before joining.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// `instructor`, `admin` or `learner`.
    pub role: &'static str,
}

impl MemberInfo {
    fn staff(&self) -> bool {
        self.role != "learner"
    }
}

/// Sent by a session: join, replaying what it missed after `since` in `epoch`. Refused for
/// members who were kicked from the session.
#[derive(Message)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Join {
    /// The joining connection.
    pub session: u64,
    /// Who joins.
    pub member: MemberInfo,
    /// Where room frames go.
    pub outlet: Outlet,
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

/// Sent by a session: a member's command, answered with `ack {seq}` once stored or `error`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Act {
    /// The sending connection.
    pub session: u64,
    /// Where to answer if the session is not a member.
    pub notices: Recipient<Notice>,
    /// The command.
    pub action: RoomAction,
    /// Echoed in the answer.
    pub reference: Option<String>,
}

/// Sent by a session: one page of the roster.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RosterPage {
    /// The asking connection.
    pub session: u64,
    /// Where to answer.
    pub notices: Recipient<Notice>,
    /// Entries to skip.
    pub offset: usize,
    /// Page size (capped at 200).
    pub limit: usize,
    /// Echoed in the answer.
    pub reference: Option<String>,
}

/// From the HTTP side: something happened to the live session (it started or ended).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Announce {
    /// `class:<id>` or `consult:<id>`.
    pub room: String,
    /// What happened.
    pub action: RoomAction,
}

struct Member {
    info: MemberInfo,
    outlet: Outlet,
}

struct Present {
    name: String,
    role: &'static str,
    tabs: usize,
}

/// One history entry: the frame staff and the event's owner see, and what everyone else sees
/// when that differs. A `private` entry's full frame is for its owner alone, staff included
/// (a consultation's payment handle is the payer's, not the expert's).
struct Entry {
    seq: i64,
    owner: Option<String>,
    full: ByteString,
    public: Option<ByteString>,
    private: bool,
}

impl Entry {
    fn for_member(&self, m: &MemberInfo) -> ByteString {
        let sees_all = m.staff() && !self.private;
        match &self.public {
            Some(p) if !sees_all && self.owner.as_deref() != Some(m.user_id.as_str()) => p.clone(),
            _ => self.full.clone(),
        }
    }
}

/// One room on this node.
pub struct Room {
    name: String,
    deps: RoomDeps,
    registry: Addr<Registry>,
    epoch: String,
    seq: i64,
    kind: RoomKind,
    /// When a running consultation interval was last checkpointed.
    checkpointed: Option<chrono::DateTime<chrono::Utc>>,
    /// Work waiting its turn (see `Step`), and whether a step is running.
    steps: VecDeque<Step>,
    stepping: bool,
    history: VecDeque<Entry>,
    members: HashMap<u64, Member>,
    present: HashMap<String, Present>,
    presence_dirty: bool,
    empty_since: Option<Instant>,
}

/// A room's asynchronous work, done one step at a time in order: actix runs `wait` futures
/// last-first, so a room never has more than one in flight.
enum Step {
    /// Sequence, store and deliver an event.
    Publish(Publication),
    /// Settle the consultation through the order actor; the party who ended it, if one did.
    Settle(Option<Party>),
    /// Hold the price of an accepted extension.
    HoldExtension(i64),
    /// Move the running interval's checkpoint of a booking to a time.
    Checkpoint(String, chrono::DateTime<chrono::Utc>),
    /// Tell a shutdown that every step queued before this one is done.
    Drained(tokio::sync::oneshot::Sender<()>),
}

/// An event waiting to be published.
struct Publication {
    /// Who caused it (none for system events).
    actor: Option<String>,
    /// What happened.
    draft: Draft,
    /// Where the ack or error goes, with the command's `ref`.
    answer: Option<(Recipient<Notice>, Option<String>)>,
    /// A consultation's metering change, stored with the event.
    change: Option<Change>,
}

/// Seconds between checkpoints of a running consultation interval: at most this much billable
/// time depends on a reconnect after a crash.
const CHECKPOINT_S: i64 = 5;

/// How often a room tries to store an event before giving up on it.
const STORE_ATTEMPTS: u32 = 3;

impl Room {
    fn frame(&self, e: &Sequenced, data: &Value) -> ByteString {
        ServerFrame::Event {
            room: self.name.clone(),
            seq: e.seq,
            kind: e.kind.clone(),
            at: crate::clock::rfc3339(e.at),
            data: data.clone(),
        }
        .to_text()
        .into()
    }

    /// Folds an event into the state and history without sending it (start-up replay).
    fn record(&mut self, e: &Sequenced) {
        self.seq = e.seq;
        self.kind.apply(e);
        let public = self.kind.public_view(&e.kind, &e.data);
        let entry = Entry {
            seq: e.seq,
            owner: rules::owner(&e.data, e.actor.as_deref()).map(str::to_owned),
            full: self.frame(e, &e.data),
            public: public.map(|p| self.frame(e, &p)),
            private: self.kind.views_are_private(),
        };
        self.history.push_back(entry);
        while self.history.len() > self.deps.limits.history {
            self.history.pop_front();
        }
    }

    /// Applies a sequenced event and fans it out. Idempotent by seq: the broker's delivery of an
    /// event this room already applied is ignored.
    fn deliver(&mut self, e: &Sequenced) {
        if e.seq <= self.seq {
            return;
        }
        if e.seq != self.seq + 1 {
            tracing::warn!(room = %self.name, from = self.seq, to = e.seq, "room log gap");
        }
        let started = Instant::now();
        self.record(e);
        let Some(entry) = self.history.back() else {
            return;
        };
        let mut slow = Vec::new();
        for (id, m) in &self.members {
            if !m.outlet.offer(Outbound::One(entry.for_member(&m.info))) {
                slow.push(*id);
            }
        }
        let fanned = self.members.len() - slow.len();
        metrics::counter!("room_events_total").increment(1);
        metrics::counter!("room_deliveries_total").increment(fanned as u64);
        self.evict(slow);
        if e.kind == "member_kicked" {
            let user = e.data["user"].as_str().unwrap_or_default().to_owned();
            self.remove_user(&user);
        }
        metrics::histogram!("room_fanout_latency_seconds").record(started.elapsed().as_secs_f64());
    }

    /// Drops sessions that cannot keep up and tells them to close.
    fn evict(&mut self, sessions: Vec<u64>) {
        for id in sessions {
            if let Some(m) = self.remove_member(id) {
                metrics::counter!("ws_outbound_drops_total").increment(1);
                metrics::counter!("ws_slow_consumer_closes_total").increment(1);
                m.outlet.evict();
            }
        }
    }

    fn remove_user(&mut self, user: &str) {
        let ids: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, m)| m.info.user_id == user)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(m) = self.remove_member(id) {
                m.outlet.notify(Notice::Removed {
                    room: self.name.clone(),
                });
            }
        }
    }

    fn add_member(&mut self, session: u64, member: Member) {
        let p = self
            .present
            .entry(member.info.user_id.clone())
            .or_insert(Present {
                name: member.info.name.clone(),
                role: member.info.role,
                tabs: 0,
            });
        p.tabs += 1;
        let first = p.tabs == 1;
        let joined = json!({"user": member.info.user_id, "name": member.info.name, "role": member.info.role});
        self.members.insert(session, member);
        self.empty_since = None;
        if first {
            self.presence_changed(Some(joined), None);
        }
    }

    fn remove_member(&mut self, session: u64) -> Option<Member> {
        let m = self.members.remove(&session)?;
        let user = m.info.user_id.clone();
        if let Some(p) = self.present.get_mut(&user) {
            p.tabs -= 1;
            if p.tabs == 0 {
                self.present.remove(&user);
                self.presence_changed(None, Some(json!({"user": user})));
            }
        }
        if self.members.is_empty() {
            self.empty_since = Some(Instant::now());
        }
        Some(m)
    }

    /// Broadcasts who came or went in a small room; in a large one only marks the count for
    /// the next coalesced broadcast.
    fn presence_changed(&mut self, joined: Option<Value>, left: Option<Value>) {
        if self.present.len() > self.deps.limits.roster_max {
            self.presence_dirty = true;
        } else {
            self.broadcast_presence(joined, left);
        }
    }

    fn broadcast_presence(&mut self, joined: Option<Value>, left: Option<Value>) {
        self.presence_dirty = false;
        let frame: ByteString = ServerFrame::Presence {
            room: self.name.clone(),
            count: self.present.len(),
            joined,
            left,
        }
        .to_text()
        .into();
        let slow: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, m)| !m.outlet.offer(Outbound::One(frame.clone())))
            .map(|(id, _)| *id)
            .collect();
        self.evict(slow);
    }

    fn reply(to: &Recipient<Notice>, frame: ServerFrame) {
        to.do_send(Notice::Reply(frame.to_text().into()));
    }

    /// Runs a consultation's meter: presence of the two parties and the clock decide whether
    /// billable time runs; changes are stored and announced, a running interval is
    /// checkpointed every few seconds, and the booked limit ends the session.
    fn meter(&mut self, ctx: &mut Context<Self>) {
        let RoomKind::Consult { state, booking_id } = &mut self.kind else {
            return;
        };
        let here = |party: Party| self.present.keys().any(|u| state.party(u) == Some(party));
        let (expert, learner) = (here(Party::Expert), here(Party::Learner));
        let now = self.deps.clock.now();
        let changes = state.presence(expert, learner, now);
        let checkpoint = state.metering()
            && self
                .checkpointed
                .is_none_or(|t| now - t >= chrono::Duration::seconds(CHECKPOINT_S));
        let id = booking_id.clone();
        for change in changes {
            let draft = live::announce(&change);
            self.publish(ctx, None, draft, None, Some(change));
        }
        // Queued after the changes, so it always lands on the interval that is running now.
        if checkpoint {
            self.checkpointed = Some(now);
            self.enqueue(ctx, Step::Checkpoint(id, now));
        }
    }

    /// After the expert accepted an extension: holds its price through the order actor and
    /// announces the payment the learner must confirm (or why it could not be held). The time
    /// counts once the payment webhook says it is authorised (`extension_granted`).
    fn start_hold(&mut self, ctx: &mut Context<Self>, minutes: i64) {
        let RoomKind::Consult { booking_id, .. } = &self.kind else {
            return self.step_done(ctx);
        };
        let (id, cfg) = (booking_id.clone(), self.deps.consult.clone());
        let hold = Command::new(format!("booking:{id}"), move |c, p, _| {
            bookings::request_extension(c, p, &cfg, &id, minutes)
        });
        let sent = self.deps.orders.send(hold);
        ctx.wait(sent.into_actor(self).map(move |held, room, ctx| {
            let held = held
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            let draft = match (held, &room.kind) {
                (Ok(payment), RoomKind::Consult { state, .. }) => {
                    state.extension_payment(minutes, &payment)
                }
                (Ok(_), RoomKind::Class { .. }) => return room.step_done(ctx),
                (Err(reason), _) => Draft {
                    kind: "extension_failed",
                    data: json!({"minutes": minutes, "reason": reason}),
                },
            };
            room.publish(ctx, None, draft, None, None);
            room.step_done(ctx);
        }));
    }

    /// After `session_ended` (by the user `by`, if a party sent `end`): closes the meter, then
    /// settles the booking through the order actor and announces what was charged.
    fn finish_consultation(&mut self, ctx: &mut Context<Self>, by: Option<&str>) {
        let RoomKind::Consult { state, .. } = &mut self.kind else {
            return;
        };
        let ended_by = by.and_then(|u| state.party(u));
        let now = self.deps.clock.now();
        for change in state.close(now) {
            let draft = live::announce(&change);
            self.publish(ctx, None, draft, None, Some(change));
        }
        self.enqueue(ctx, Step::Settle(ended_by));
    }

    /// Settles the ended consultation and announces what was charged.
    fn start_settle(&mut self, ctx: &mut Context<Self>, ended_by: Option<Party>) {
        let RoomKind::Consult { booking_id, .. } = &self.kind else {
            return self.step_done(ctx);
        };
        let (id, now) = (booking_id.clone(), self.deps.clock.now());
        let cfg = self.deps.consult.clone();
        let settle = Command::new(format!("booking:{id}"), move |c, p, _| {
            bookings::settle(c, p, &cfg, &id, now, ended_by)
        });
        let sent = self.deps.orders.send(settle);
        ctx.wait(sent.into_actor(self).map(|settled, room, ctx| {
            match settled {
            Ok(Ok(b)) => {
                let data = json!({"billable_s": b.billable_seconds, "charged_minor": b.charged_minor,
                                  "currency": b.currency, "status": b.status});
                let draft = Draft {
                    kind: "session_settled",
                    data,
                };
                room.publish(ctx, None, draft, None, None);
            }
            Ok(Err(e)) => tracing::error!(room = %room.name, error = %e, "settlement failed; the sweep retries"),
            Err(e) => tracing::error!(room = %room.name, error = %e, "order actor unavailable; the sweep settles"),
            }
            room.step_done(ctx);
        }));
    }

    fn enqueue(&mut self, ctx: &mut Context<Self>, step: Step) {
        self.steps.push_back(step);
        self.pump(ctx);
    }

    /// Starts the next step unless one is running.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.stepping {
            return;
        }
        let Some(step) = self.steps.pop_front() else {
            return;
        };
        self.stepping = true;
        match step {
            Step::Publish(p) => self.start_publish(ctx, p),
            Step::Settle(ended_by) => self.start_settle(ctx, ended_by),
            Step::HoldExtension(minutes) => self.start_hold(ctx, minutes),
            Step::Drained(done) => {
                let _ = done.send(());
                self.step_done(ctx);
            }
            Step::Checkpoint(id, at) => {
                let db = self.deps.db.clone();
                let stored = async move {
                    db.run(move |c| bookings::checkpoint(c, &id, at).map_err(DbError::from))
                        .await
                };
                ctx.wait(stored.into_actor(self).map(|stored, room, ctx| {
                    if let Err(e) = stored {
                        tracing::warn!(room = %room.name, error = %e, "cannot checkpoint a consultation");
                    }
                    room.step_done(ctx);
                }));
            }
        }
    }

    fn step_done(&mut self, ctx: &mut Context<Self>) {
        self.stepping = false;
        self.pump(ctx);
    }

    /// Queues an event to be sequenced, stored and delivered; `answer` gets the ack or the
    /// error. A consultation's metering `change` is stored in the same transaction as its event.
    fn publish(
        &mut self,
        ctx: &mut Context<Self>,
        actor: Option<String>,
        draft: Draft,
        answer: Option<(Recipient<Notice>, Option<String>)>,
        change: Option<Change>,
    ) {
        let step = Step::Publish(Publication {
            actor,
            draft,
            answer,
            change,
        });
        self.enqueue(ctx, step);
    }

    fn start_publish(&mut self, ctx: &mut Context<Self>, p: Publication) {
        let Publication {
            actor,
            draft,
            answer,
            change,
        } = p;
        let (broker, db, room, epoch) = (
            self.deps.broker.clone(),
            self.deps.db.clone(),
            self.name.clone(),
            self.epoch.clone(),
        );
        let behaviour = self.kind.behaviour(draft.kind);
        let booking = match &self.kind {
            RoomKind::Consult { booking_id, .. } => Some(booking_id.clone()),
            RoomKind::Class { .. } => None,
        };
        let me = ctx.address().recipient::<Sequenced>();
        let work = async move {
            let e = broker
                .publish(&room, &me, actor, draft.kind, draft.data)
                .await
                .map_err(|e| e.to_string())?;
            let stored = StoredEvent {
                seq: e.seq,
                kind: e.kind.clone(),
                actor_id: e.actor.clone(),
                data: e.data.to_string(),
                created_at: e.at.naive_utc(),
            };
            let mut write = Ok(());
            for attempt in 0..STORE_ATTEMPTS {
                let (room, epoch, stored) = (room.clone(), epoch.clone(), stored.clone());
                let (behaviour, booking, change) =
                    (behaviour.clone(), booking.clone(), change.clone());
                write = db
                    .run(move |c| -> Result<(), DbError> {
                        crate::db::write_transaction(c, |c| {
                            log::append(c, &room, &epoch, &stored)?;
                            if let (Some((kind, course)), Some(user)) =
                                (behaviour, stored.actor_id.as_deref())
                            {
                                events::record(c, user, &course, kind, kind.default_weight())?;
                            }
                            if let (Some(booking), Some(change)) = (booking, change) {
                                bookings::record_meter(c, &booking, &change)?;
                            }
                            Ok(())
                        })
                    })
                    .await;
                if write.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            // Nobody has seen an event that could not be stored: take its seq back.
            if let Err(err) = write {
                metrics::counter!("room_store_failures_total").increment(1);
                let abandoned = broker.abandon(&room, e.seq);
                return Err(format!(
                    "cannot store seq {} (taken back: {abandoned}): {err}",
                    e.seq
                ));
            }
            Ok::<_, String>(e)
        };
        // `wait`: no other message is handled until this event is stored, so seq order holds.
        ctx.wait(work.into_actor(self).map(move |result, room, ctx| {
            let (reply, frame) = match result {
                Ok(e) => {
                    room.deliver(&e);
                    match e.kind.as_str() {
                        "session_ended" => room.finish_consultation(ctx, e.data["by"].as_str()),
                        "extension_accepted" => {
                            let minutes = e.data["minutes"].as_i64().unwrap_or(0);
                            room.enqueue(ctx, Step::HoldExtension(minutes));
                        }
                        _ => {}
                    }
                    let ack = ServerFrame::Ack {
                        reference: answer.as_ref().and_then(|a| a.1.clone()),
                        seq: Some(e.seq),
                    };
                    (answer, ack)
                }
                Err(err) => {
                    tracing::error!(room = %room.name, error = %err, "room event not kept");
                    let reference = answer.as_ref().and_then(|a| a.1.clone());
                    let frame = ServerFrame::error(
                        reference,
                        "unavailable",
                        "the room is unavailable; retry",
                    );
                    (answer, frame)
                }
            };
            if let Some((to, _)) = reply {
                Room::reply(&to, frame);
            }
            room.step_done(ctx);
        }));
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (db, name) = (self.deps.db.clone(), self.name.clone());
        let broker = self.deps.broker.clone();
        let me = ctx.address().recipient::<Sequenced>();
        let grace = self.deps.consult.reconnect_grace_s;
        let class = self.deps.limits.class;
        // Read the stored log, then subscribe to the broker from where it ends; no other
        // message is handled until both are done.
        let open = async move {
            let room = name.clone();
            let loaded = db
                .run(move |c| Ok::<_, DbError>(kind::load(c, &room, grace, class)))
                .await
                .map_err(|e| e.to_string())??;
            let last = loaded.events.last().map_or(0, |e| e.seq);
            let position = broker
                .attach(&name, &loaded.epoch, last, me)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((loaded, position))
        };
        ctx.wait(open.into_actor(self).map(|opened, room, ctx| {
            let (loaded, (epoch, seq)) = match opened {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(room = %room.name, error = %e, "cannot open room");
                    return ctx.stop();
                }
            };
            room.kind = loaded.kind;
            room.epoch = loaded.epoch;
            for e in loaded.events {
                room.record(&Sequenced {
                    seq: e.seq,
                    at: e.created_at.and_utc(),
                    actor: e.actor_id,
                    data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
                    kind: e.kind,
                });
            }
            if let (RoomKind::Consult { state, .. }, Some(booked)) = (&mut room.kind, loaded.booked_s) {
                state.sync_booked(booked);
            }
            if epoch != room.epoch || seq < room.seq {
                tracing::warn!(room = %room.name, %epoch, seq, "broker position differs from the stored log");
                room.history.clear();
            }
            room.epoch = epoch;
            room.seq = seq;
        }));
        metrics::gauge!("rooms_open").increment(1.0);
        ctx.run_interval(self.deps.limits.tick, |room, ctx| {
            // A connection can close between being admitted and learning it is a member.
            let gone: Vec<u64> = room
                .members
                .iter()
                .filter(|(_, m)| !m.outlet.connected())
                .map(|(id, _)| *id)
                .collect();
            for id in gone {
                room.remove_member(id);
            }
            if room.presence_dirty {
                room.broadcast_presence(None, None);
            }
            room.meter(ctx);
            let idle = room
                .empty_since
                .is_some_and(|t| t.elapsed() >= room.deps.limits.idle);
            if idle {
                let retire = room.registry.send(Retire {
                    name: room.name.clone(),
                    addr: ctx.address(),
                });
                // Joins queued meanwhile fail with a closed mailbox; sessions then look up again
                // and get a fresh room.
                ctx.wait(retire.into_actor(room).map(|_, _, ctx| ctx.stop()));
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        metrics::gauge!("rooms_open").decrement(1.0);
        self.deps
            .broker
            .detach(&self.name, &ctx.address().recipient::<Sequenced>());
    }
}

impl Handler<Join> for Room {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) -> Self::Result {
        if !msg.outlet.connected() {
            return Err(Refusal {
                code: "unavailable",
                message: "the connection closed".into(),
            });
        }
        if let Some(refusal) = self
            .kind
            .refuse_join(&msg.member.user_id, msg.member.staff())
        {
            return Err(refusal);
        }
        if self.members.contains_key(&msg.session) {
            return Err(Refusal {
                code: "conflict",
                message: "already in that room".into(),
            });
        }
        let oldest = self.history.front().map_or(self.seq + 1, |e| e.seq);
        let recovered = match (msg.since, msg.epoch.as_deref()) {
            (Some(since), Some(epoch)) => {
                epoch == self.epoch && since >= oldest - 1 && since <= self.seq
            }
            _ => false,
        };
        let mut frames: Vec<ByteString> = Vec::new();
        if recovered {
            let since = msg.since.unwrap_or(0);
            frames.extend(
                self.history
                    .iter()
                    .filter(|e| e.seq > since)
                    .map(|e| e.for_member(&msg.member)),
            );
        }
        let member = Member {
            outlet: msg.outlet,
            info: msg.member,
        };
        let now = self.deps.clock.now();
        let state = self
            .kind
            .snapshot(&member.info.user_id, member.info.staff(), now);
        let outlet = member.outlet.clone();
        self.kind
            .note_member(&member.info.user_id, member.info.staff());
        self.add_member(msg.session, member);
        outlet.notify(Notice::Joined {
            room: self.name.clone(),
            addr: ctx.address(),
        });
        let joined = ServerFrame::Joined {
            reference: msg.reference,
            room: self.name.clone(),
            epoch: self.epoch.clone(),
            seq: self.seq,
            recovered,
            presence: self.present.len(),
            state,
        };
        frames.push(joined.to_text().into());
        if !outlet.offer(Outbound::Many(frames)) {
            self.evict(vec![msg.session]);
        }
        self.meter(ctx);
        Ok(())
    }
}

impl Handler<Leave> for Room {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.remove_member(msg.session);
        self.meter(ctx);
    }
}

impl Handler<Act> for Room {
    type Result = ();

    fn handle(&mut self, msg: Act, ctx: &mut Context<Self>) {
        let Some(m) = self.members.get(&msg.session) else {
            let e = ServerFrame::error(msg.reference, "forbidden", "join the room first");
            return Room::reply(&msg.notices, e);
        };
        let info = &m.info;
        let actor = RoomActor {
            user: &info.user_id,
            name: &info.name,
            staff: info.staff(),
        };
        match self.kind.decide(&actor, msg.action, chrono::Utc::now()) {
            Ok(draft) => {
                let user = Some(info.user_id.clone());
                let answer = Some((msg.notices, msg.reference));
                self.publish(ctx, user, draft, answer, None);
            }
            Err(r) => Room::reply(
                &msg.notices,
                ServerFrame::error(msg.reference, r.code, r.message),
            ),
        }
    }
}

impl Handler<Announce> for Room {
    type Result = ();

    fn handle(&mut self, msg: Announce, ctx: &mut Context<Self>) {
        let system = RoomActor {
            user: "system",
            name: "Lyceum",
            staff: true,
        };
        let draft = match msg.action {
            // Paid extension time is a fact from the payment, not a member's request.
            RoomAction::Consult(ConsultAction::Granted { minutes }) => Ok(Draft {
                kind: "extension_granted",
                data: json!({"minutes": minutes}),
            }),
            action => self.kind.decide(&system, action, chrono::Utc::now()),
        };
        if let Ok(draft) = draft {
            self.publish(ctx, None, draft, None, None);
        }
    }
}

impl Handler<RosterPage> for Room {
    type Result = ();

    fn handle(&mut self, msg: RosterPage, _: &mut Context<Self>) {
        if !self.members.contains_key(&msg.session) {
            let e = ServerFrame::error(msg.reference, "forbidden", "join the room first");
            return Room::reply(&msg.notices, e);
        }
        let rank = |role: &str| match role {
            "instructor" => 0,
            "admin" => 1,
            _ => 2,
        };
        let mut all: Vec<(&String, &Present)> = self.present.iter().collect();
        all.sort_by(|a, b| (rank(a.1.role), &a.1.name, a.0).cmp(&(rank(b.1.role), &b.1.name, b.0)));
        let limit = msg.limit.clamp(1, 200);
        let members: Vec<Value> = all
            .iter()
            .skip(msg.offset)
            .take(limit)
            .map(|(user, p)| json!({"user": user, "name": p.name, "role": p.role, "connections": p.tabs}))
            .collect();
        let next = (msg.offset + members.len() < all.len()).then_some(msg.offset + members.len());
        let frame = ServerFrame::Roster {
            reference: msg.reference,
            room: self.name.clone(),
            count: all.len(),
            offset: msg.offset,
            members,
            next,
        };
        Room::reply(&msg.notices, frame);
    }
}

impl Handler<Sequenced> for Room {
    type Result = ();

    fn handle(&mut self, msg: Sequenced, _: &mut Context<Self>) {
        self.deliver(&msg);
    }
}

/// Finds or starts the room actor for a name on this node.
pub struct Registry {
    deps: RoomDeps,
    rooms: HashMap<String, Addr<Room>>,
}

impl Registry {
    /// An empty registry whose rooms share `deps`.
    pub fn new(deps: RoomDeps) -> Self {
        Self {
            deps,
            rooms: HashMap::new(),
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

/// Sent by sessions: the room actor for `0`, started if needed.
#[derive(Message)]
#[rtype(result = "Addr<Room>")]
pub struct Lookup(pub String);

impl Handler<Lookup> for Registry {
    type Result = MessageResult<Lookup>;

    fn handle(&mut self, msg: Lookup, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.rooms.get(&msg.0).filter(|a| a.connected()) {
            return MessageResult(addr.clone());
        }
        let addr = Room {
            name: msg.0.clone(),
            deps: self.deps.clone(),
            registry: ctx.address(),
            epoch: String::new(),
            seq: 0,
            // Replaced by what the room reads when it starts.
            kind: RoomKind::Class {
                state: Box::new(ClassState::new("scheduled")),
                course_id: String::new(),
            },
            checkpointed: None,
            steps: VecDeque::new(),
            stepping: false,
            history: VecDeque::new(),
            members: HashMap::new(),
            present: HashMap::new(),
            presence_dirty: false,
            empty_since: Some(Instant::now()),
        }
        .start();
        self.rooms.insert(msg.0, addr.clone());
        MessageResult(addr)
    }
}

/// Sent by an idle room before it stops: the registry forgets it (unless a newer actor already
/// holds the name), so the next lookup starts a fresh room.
#[derive(Message)]
#[rtype(result = "()")]
struct Retire {
    name: String,
    addr: Addr<Room>,
}

impl Handler<Retire> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Retire, _: &mut Context<Self>) {
        if self.rooms.get(&msg.name) == Some(&msg.addr) {
            self.rooms.remove(&msg.name);
        }
    }
}

/// Sent to a room at shutdown, once its connections are closed: the meter takes the parties'
/// departure into account (a running interval is stopped and stored), and the answer comes when
/// every step queued so far (events, checkpoints, settlements) is done.
#[derive(Message)]
#[rtype(result = "()")]
struct Drain;

impl Handler<Drain> for Room {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.meter(ctx);
        let (done, drained) = tokio::sync::oneshot::channel();
        self.enqueue(ctx, Step::Drained(done));
        Box::pin(async move {
            let _ = drained.await;
        })
    }
}

/// Sent to the registry at shutdown: drains every room (see [`Drain`]) and answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct DrainAll;

impl Handler<DrainAll> for Registry {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, _: DrainAll, _: &mut Context<Self>) -> Self::Result {
        let rooms: Vec<Addr<Room>> = self
            .rooms
            .values()
            .filter(|a| a.connected())
            .cloned()
            .collect();
        // `send` queues at once, so the rooms drain side by side while we await each answer.
        let asked: Vec<_> = rooms.iter().map(|r| r.send(Drain)).collect();
        Box::pin(async move {
            let mut drained = 0;
            for answer in asked {
                drained += usize::from(answer.await.is_ok());
            }
            drained
        })
    }
}

/// How many rooms this node hosts; answering it shows the realtime layer is up (`/readyz`).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct RoomCount;

impl Handler<RoomCount> for Registry {
    type Result = usize;

    fn handle(&mut self, _: RoomCount, _: &mut Context<Self>) -> usize {
        self.rooms.values().filter(|a| a.connected()).count()
    }
}

impl Handler<Announce> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Announce, _: &mut Context<Self>) {
        if let Some(addr) = self.rooms.get(&msg.room) {
            addr.do_send(msg);
        }
    }
}
