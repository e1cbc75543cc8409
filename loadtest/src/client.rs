//! One simulated member: a task that connects, joins its room, reads every frame, sends its
//! scheduled commands, and reconnects with `since` after a drop, until the run ends.
//!
//! A member is cheap on purpose — tens of thousands share one core: one task, one socket with
//! small buffers, one timer (the earliest of its next send, churn and departure, reset rather
//! than recreated), a borrowed parse of each frame, and counters kept in the shard it always
//! uses. Sends follow a fixed timeline (the instructor's broadcast rate, a learner's think
//! times) and are stamped with the time they were *meant* to go out, so a generator that falls
//! behind shows up as latency and in the send-lag histogram rather than hiding it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use crate::metrics::{Metrics, SeqTracker, Shard, record};
use crate::net::{Dialer, Target, Ws};
use crate::protocol::{Command, Frame};
use crate::provision::{Account, Api};
use crate::scenario::{Actions, ChurnMode, ThinkTime};

/// How long to wait for `hello` or `joined`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Reconnect attempts after a drop before giving up.
const RECONNECT_ATTEMPTS: u32 = 5;
/// Pause between reconnect attempts.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);
/// Commands awaiting an answer that one member remembers; older ones count as unanswered.
const MAX_PENDING: usize = 64;

/// Where the run is; members watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Stage {
    /// Provisioned accounts are connecting; nothing is sent yet.
    Setup,
    /// The measured window: members send on their timelines.
    Running,
    /// Sending stopped; members read until they have caught up with their room.
    Draining,
    /// Everyone closes.
    Done,
}

/// The run's stage, shared by every member: an atomic read on every frame, and a `Notify`
/// that wakes members when it changes. A member keeps one registered waiter across its loop
/// rather than registering a fresh one per received frame (as `watch::Receiver::changed` in a
/// `select!` would: a lock and a list insert per frame, on a list tens of thousands long).
pub struct StageCell {
    value: AtomicU8,
    changed: Notify,
}

impl StageCell {
    /// Starts at `Setup`.
    pub fn new() -> Self {
        Self {
            value: AtomicU8::new(Stage::Setup as u8),
            changed: Notify::new(),
        }
    }

    /// The stage now.
    pub fn get(&self) -> Stage {
        match self.value.load(Ordering::Acquire) {
            0 => Stage::Setup,
            1 => Stage::Running,
            2 => Stage::Draining,
            _ => Stage::Done,
        }
    }

    /// Moves to `stage` and wakes every member.
    pub fn set(&self, stage: Stage) {
        self.value.store(stage as u8, Ordering::Release);
        self.changed.notify_waiters();
    }
}

impl Default for StageCell {
    fn default() -> Self {
        Self::new()
    }
}

/// What a member does.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// A room's instructor: stamped chat every `interval`, a poll every `poll_every`.
    Instructor {
        /// Time between broadcasts (none: silent).
        interval: Option<Duration>,
        /// Characters per message.
        payload: usize,
        /// Time between polls.
        poll_every: Option<Duration>,
    },
    /// A learner drawing actions after think times.
    Learner,
    /// A consultation party chatting every `interval`.
    Party {
        /// Time between messages (none: silent).
        interval: Option<Duration>,
        /// Characters per message.
        payload: usize,
    },
}

/// What learners do, shared by all of them.
#[derive(Debug, Clone)]
pub struct LearnerPlan {
    /// Think time between draws.
    pub think: ThinkTime,
    /// Action probabilities.
    pub actions: Actions,
    /// Characters per chat message or question.
    pub payload: usize,
}

/// How learners churn.
#[derive(Debug, Clone, Copy)]
pub struct ChurnPlan {
    /// Mean time between two drops of one learner (population / total rate).
    pub mean: Duration,
    /// Time away before reconnecting.
    pub downtime: Duration,
    /// How the connection is dropped.
    pub mode: ChurnMode,
}

/// What every member shares.
pub struct Shared {
    /// The measurements.
    pub metrics: Arc<Metrics>,
    /// Opens sockets.
    pub dialer: Dialer,
    /// Refreshes tokens (the first target).
    pub api: Api,
    /// The nodes; member `id` uses `targets[id % len]`.
    pub targets: Vec<Target>,
    /// The run's stage.
    pub stage: StageCell,
    /// When the measured window began (set before the stage becomes `Running`).
    pub window_start: OnceLock<Instant>,
    /// Learner behaviour.
    pub learners: Option<LearnerPlan>,
    /// Learner churn.
    pub churn: Option<ChurnPlan>,
}

/// One member to simulate.
pub struct Member {
    /// Connection index: picks the shard, the target and the RNG seed.
    pub id: usize,
    /// Room index (metrics).
    pub room: usize,
    /// Room name.
    pub room_name: Arc<str>,
    /// Whose connection this is.
    pub account: Arc<Account>,
    /// What it does.
    pub role: Role,
    /// When it leaves for good (ramp-down), if it does.
    pub leave_at: Option<Instant>,
}

/// Why a connected session ended.
enum Exit {
    /// The run is over.
    Finished,
    /// The member left (ramp-down).
    Left,
    /// The member drops on purpose (churn) and comes back.
    Churn,
    /// The server or the network closed it, with this close code (1006: no close frame).
    Closed(u16),
}

/// A command awaiting its answer.
struct Pending {
    reference: u32,
    intended_us: u64,
    hand: bool,
}

/// What a member has seen of its room, for choosing what to do.
#[derive(Default)]
struct View {
    question: Option<u64>,
    voted: Option<u64>,
    poll: Option<(u64, u64)>,
    poll_voted: Option<u64>,
    hand: bool,
}

/// What survives reconnects.
struct Seat {
    tracker: SeqTracker,
    epoch: Option<String>,
    view: View,
    pending: VecDeque<Pending>,
    next_ref: u32,
    join_ref: Option<u32>,
    caught_up: bool,
    rng: fastrand::Rng,
}

/// The answer to our `join`.
enum JoinAnswer {
    Joined {
        seq: u64,
        recovered: bool,
        epoch: Option<String>,
    },
    Refused,
}

/// Send timelines of a member.
struct Schedule {
    next_send: Option<Instant>,
    next_poll: Option<Instant>,
    churn_at: Option<Instant>,
}

/// Runs `member` until the run is done.
pub async fn run(member: Member, shared: Arc<Shared>) {
    let metrics = &shared.metrics;
    metrics.live.fetch_add(1, Ordering::Relaxed);
    let mut seat = Seat {
        tracker: SeqTracker::default(),
        epoch: None,
        view: View::default(),
        pending: VecDeque::new(),
        next_ref: 0,
        join_ref: None,
        caught_up: false,
        rng: fastrand::Rng::with_seed((member.id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    };
    let mut dropped: Option<Instant> = None;
    let mut schedule = Schedule {
        next_send: None,
        next_poll: None,
        churn_at: None,
    };
    let mut to_end = true;
    'member: loop {
        let mut attempts = 0;
        let mut ws = loop {
            if shared.stage.get() == Stage::Done {
                // Away when the run ended (between a drop and its rejoin): what came after
                // the drop was never offered to it, so it is not counted as lost.
                to_end = dropped.is_none();
                break 'member;
            }
            match connect(&member, &shared, &mut seat, dropped).await {
                Ok(ws) => break ws,
                Err(()) if dropped.is_some() && attempts + 1 < RECONNECT_ATTEMPTS => {
                    attempts += 1;
                    tokio::time::sleep(RECONNECT_BACKOFF).await;
                }
                Err(()) => {
                    if dropped.is_some() {
                        metrics.shard(member.id).run.counters.reconnect_failures += 1;
                    }
                    to_end = false;
                    break 'member;
                }
            }
        };
        check_caught_up(&member, &shared, &mut seat, shared.stage.get());
        let exit = session(&member, &shared, &mut ws, &mut seat, &mut schedule).await;
        metrics.shard(member.id).run.counters.open -= 1;
        match exit {
            Exit::Finished => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                break;
            }
            Exit::Left => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                to_end = false;
                break;
            }
            Exit::Churn => {
                match shared.churn.map_or(ChurnMode::Close, |c| c.mode) {
                    ChurnMode::Close => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                    }
                    ChurnMode::Abort => drop(ws),
                }
                dropped = Some(Instant::now());
                if let Some(c) = shared.churn {
                    tokio::time::sleep(c.downtime).await;
                }
            }
            Exit::Closed(code) => {
                *metrics.shard(member.id).run.closes.entry(code).or_default() += 1;
                dropped = Some(Instant::now());
                tokio::time::sleep(RECONNECT_BACKOFF).await;
            }
        }
    }
    // What the member should have had: the room's whole log while it stayed to the end, or
    // what it saw before leaving or giving up.
    let end = if to_end {
        metrics.room_end(member.room)
    } else {
        seat.tracker.last().unwrap_or(0)
    };
    let tally = seat.tracker.tally(end);
    let mut shard = metrics.shard(member.id);
    shard.run.rooms[member.room].add(&tally);
    shard.run.counters.unanswered += seat.pending.len() as u64;
    drop(shard);
    if seat.caught_up {
        metrics.caught_up.fetch_sub(1, Ordering::Relaxed);
    }
    metrics.live.fetch_sub(1, Ordering::Relaxed);
}

/// Connects, waits for `hello`, joins (resuming after the last seq seen, if any) and records
/// the latencies. `Err` has been counted already.
async fn connect(
    member: &Member,
    shared: &Shared,
    seat: &mut Seat,
    dropped: Option<Instant>,
) -> Result<Ws, ()> {
    let metrics = &shared.metrics;
    let fail = || metrics.shard(member.id).run.counters.connect_failures += 1;
    let started = Instant::now();
    let Ok(token) = member.account.access_token(&shared.api).await else {
        fail();
        return Err(());
    };
    let target = &shared.targets[member.id % shared.targets.len()];
    let Ok(mut ws) = shared.dialer.dial(target, &token).await else {
        fail();
        return Err(());
    };
    if let Err(code) = hello(&mut ws).await {
        fail();
        if let Some(code) = code {
            *metrics.shard(member.id).run.closes.entry(code).or_default() += 1;
        }
        return Err(());
    }
    {
        let mut s = metrics.shard(member.id);
        record(&mut s.run.connect, started.elapsed());
        s.run.counters.connects += 1;
        s.run.counters.open += 1;
    }
    let reference = seat.take_ref();
    seat.join_ref = Some(reference);
    let since = seat.tracker.last().zip(seat.epoch.as_deref());
    let join = Command::Join {
        room: &member.room_name,
        since,
    }
    .encode(reference);
    let joining = Instant::now();
    let answer = async {
        ws.send(Message::text(join)).await.ok()?;
        metrics.shard(member.id).run.counters.frames_out += 1;
        loop {
            match ws.next().await? {
                Ok(Message::Text(t)) => {
                    if let Some(a) = on_text(member, shared, seat, &t) {
                        return Some(a);
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, answer)
        .await
        .ok()
        .flatten();
    seat.join_ref = None;
    let Some(JoinAnswer::Joined {
        seq,
        recovered,
        epoch,
    }) = answer
    else {
        {
            let mut s = metrics.shard(member.id);
            s.run.counters.join_failures += 1;
            s.run.counters.open -= 1;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        return Err(());
    };
    {
        let mut s = metrics.shard(member.id);
        record(&mut s.run.join, joining.elapsed());
        s.run.counters.joins += 1;
        if let Some(at) = dropped {
            s.run.counters.rejoins += 1;
            if recovered {
                s.run.counters.recovered += 1;
                record(&mut s.run.reconnect, at.elapsed());
            } else {
                s.run.counters.not_recovered += 1;
            }
        }
    }
    seat.tracker.joined(seq, recovered);
    if epoch.is_some() {
        seat.epoch = epoch;
    }
    metrics.saw_seq(member.room, seq);
    Ok(ws)
}

/// Waits for `hello`; `Err(Some(code))` when the server closed instead (e.g. 4008).
async fn hello(ws: &mut Ws) -> Result<(), Option<u16>> {
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if Frame::parse(&t).is_some_and(|f| f.kind == "hello") {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(f))) => return Err(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(None),
            }
        }
    };
    tokio::time::timeout(ANSWER_TIMEOUT, wait)
        .await
        .unwrap_or(Err(None))
}

/// Reads and sends until the session ends.
async fn session(
    member: &Member,
    shared: &Shared,
    ws: &mut Ws,
    seat: &mut Seat,
    schedule: &mut Schedule,
) -> Exit {
    let changed = shared.stage.changed.notified();
    tokio::pin!(changed);
    // Registered before reading the stage, so no change can slip between the two.
    changed.as_mut().enable();
    let now = Instant::now();
    let current = shared.stage.get();
    if current == Stage::Running {
        schedule.start(member, shared, seat, now);
    }
    let timer = sleep_until(schedule.deadline(member, current, now).into());
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            () = &mut changed => {
                changed.set(shared.stage.changed.notified());
                changed.as_mut().enable();
                let now_stage = shared.stage.get();
                match now_stage {
                    Stage::Done => return Exit::Finished,
                    Stage::Running => schedule.start(member, shared, seat, Instant::now()),
                    Stage::Draining => check_caught_up(member, shared, seat, now_stage),
                    Stage::Setup => {}
                }
                timer.as_mut().reset(schedule.deadline(member, now_stage, Instant::now()).into());
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    on_text(member, shared, seat, &t);
                    let current = shared.stage.get();
                    if current == Stage::Draining {
                        check_caught_up(member, shared, seat, current);
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    return Exit::Closed(f.map_or(1005, |f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Exit::Closed(1006),
            },
            () = &mut timer => {
                let now = Instant::now();
                let current = shared.stage.get();
                if current == Stage::Running {
                    if member.leave_at.is_some_and(|t| t <= now) {
                        let leave = Command::Leave { room: &member.room_name }.encode(seat.take_ref());
                        let _ = ws.send(Message::text(leave)).await;
                        return Exit::Left;
                    }
                    if schedule.churn_at.is_some_and(|t| t <= now) {
                        schedule.churn_at = None;
                        return Exit::Churn;
                    }
                    if let Err(code) = act(member, shared, ws, seat, schedule, now).await {
                        return Exit::Closed(code);
                    }
                }
                timer.as_mut().reset(schedule.deadline(member, current, now).into());
            }
        }
    }
}

impl Seat {
    fn take_ref(&mut self) -> u32 {
        self.next_ref = self.next_ref.wrapping_add(1);
        self.next_ref
    }
}

impl Schedule {
    /// Starts the timelines when the window opens (or the member arrives within it).
    fn start(&mut self, member: &Member, shared: &Shared, seat: &mut Seat, now: Instant) {
        let origin = *shared.window_start.get().unwrap_or(&now);
        match member.role {
            Role::Instructor {
                interval,
                poll_every,
                ..
            } => {
                if self.next_send.is_none() {
                    self.next_send = interval.map(|i| origin + i);
                }
                if self.next_poll.is_none() {
                    self.next_poll = poll_every.map(|p| origin + p);
                }
            }
            Role::Party { interval, .. } => {
                if self.next_send.is_none() {
                    // Parties of one room take turns: the guest starts half an interval later.
                    self.next_send =
                        interval.map(|i| origin + i.mul_f64(1.0 + 0.5 * (member.id % 2) as f64));
                }
            }
            Role::Learner => {
                if self.next_send.is_none()
                    && let Some(plan) = &shared.learners
                {
                    self.next_send = Some(now + think(&plan.think, &mut seat.rng));
                }
                if self.churn_at.is_none()
                    && let Some(c) = shared.churn
                {
                    self.churn_at = Some(now + exponential(c.mean, &mut seat.rng));
                }
            }
        }
    }

    /// The earliest thing to do, or a day away.
    fn deadline(&self, member: &Member, stage: Stage, now: Instant) -> Instant {
        let far = now + Duration::from_secs(86_400);
        if stage != Stage::Running {
            return far;
        }
        [
            self.next_send,
            self.next_poll,
            self.churn_at,
            member.leave_at,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(far)
    }
}

/// Sends whatever is due (catching up on a late timeline, each send stamped with its intended
/// time). `Err` carries 1006 when the socket broke.
async fn act(
    member: &Member,
    shared: &Shared,
    ws: &mut Ws,
    seat: &mut Seat,
    schedule: &mut Schedule,
    now: Instant,
) -> Result<(), u16> {
    while let Some(due) = schedule.next_poll.filter(|t| *t <= now) {
        if let Role::Instructor {
            poll_every: Some(every),
            ..
        } = member.role
        {
            schedule.next_poll = Some(due + every);
        }
        send(
            member,
            shared,
            ws,
            seat,
            due,
            Command::PollOpen {
                room: &member.room_name,
            },
            false,
        )
        .await?;
    }
    while let Some(due) = schedule.next_send.filter(|t| *t <= now) {
        let intended_us = shared.metrics.micros_at(due);
        let room = &*member.room_name;
        let (command, next) = match member.role {
            Role::Instructor {
                interval, payload, ..
            }
            | Role::Party { interval, payload } => (
                Some(Command::Chat {
                    room,
                    intended_us,
                    len: payload,
                }),
                interval.map(|i| due + i),
            ),
            Role::Learner => {
                let Some(plan) = &shared.learners else {
                    return Ok(());
                };
                (
                    learner_action(plan, seat, room, intended_us),
                    Some(due + think(&plan.think, &mut seat.rng)),
                )
            }
        };
        schedule.next_send = next;
        if let Some(c) = command {
            let hand = matches!(c, Command::Hand { .. });
            send(member, shared, ws, seat, due, c, hand).await?;
        }
    }
    Ok(())
}

/// Draws a learner's next action; `None` is "do nothing" (or nothing possible).
fn learner_action<'a>(
    plan: &LearnerPlan,
    seat: &mut Seat,
    room: &'a str,
    intended_us: u64,
) -> Option<Command<'a>> {
    let a = &plan.actions;
    let mut u = seat.rng.f64();
    let mut pick = |p: f64| {
        let hit = u < p;
        u -= p;
        hit
    };
    let view = &mut seat.view;
    if pick(a.chat) {
        return Some(Command::Chat {
            room,
            intended_us,
            len: plan.payload,
        });
    }
    if pick(a.ask) {
        return Some(Command::Ask {
            room,
            intended_us,
            len: plan.payload.min(crate::scenario::ASK_MAX),
        });
    }
    if pick(a.vote) {
        let q = view.question.filter(|q| view.voted != Some(*q))?;
        view.voted = Some(q);
        return Some(Command::Vote { room, question: q });
    }
    if pick(a.hand) {
        view.hand = !view.hand;
        return Some(Command::Hand {
            room,
            raised: view.hand,
        });
    }
    if pick(a.poll_vote) {
        let (poll, options) = view.poll.filter(|(p, _)| view.poll_voted != Some(*p))?;
        view.poll_voted = Some(poll);
        return Some(Command::PollVote {
            room,
            poll,
            option: seat.rng.u64(0..options.max(1)),
        });
    }
    None
}

/// Sends one command meant for `due`, remembering it until its answer.
async fn send(
    member: &Member,
    shared: &Shared,
    ws: &mut Ws,
    seat: &mut Seat,
    due: Instant,
    command: Command<'_>,
    hand: bool,
) -> Result<(), u16> {
    let reference = seat.take_ref();
    let intended_us = shared.metrics.micros_at(due);
    let text = command.encode(reference);
    {
        let mut s = shared.metrics.shard(member.id);
        record(&mut s.run.send_lag, due.elapsed());
        s.run.counters.commands += 1;
        s.run.counters.frames_out += 1;
        if seat.pending.len() >= MAX_PENDING {
            seat.pending.pop_front();
            s.run.counters.unanswered += 1;
        }
    }
    seat.pending.push_back(Pending {
        reference,
        intended_us,
        hand,
    });
    ws.send(Message::text(text)).await.map_err(|_| 1006)
}

/// Accounts for one received frame; returns the answer to our `join` when this is it.
fn on_text(member: &Member, shared: &Shared, seat: &mut Seat, text: &str) -> Option<JoinAnswer> {
    let metrics = &shared.metrics;
    let now = Instant::now();
    let mut s = metrics.shard(member.id);
    s.run.counters.frames_in += 1;
    let Some(f) = Frame::parse(text) else {
        s.run.counters.unparsable += 1;
        return None;
    };
    let reference: Option<u32> = f.reference.as_deref().and_then(|r| r.parse().ok());
    match f.kind.as_ref() {
        "event" => {
            let seq = f.seq?;
            s.run.counters.events += 1;
            seat.tracker.event(seq);
            metrics.saw_seq(member.room, seq);
            if let Some(us) = f.stamp() {
                let latency = now.saturating_duration_since(metrics.instant_of(us));
                let phase = metrics.phase.load(Ordering::Relaxed);
                record(&mut s.delivery_interval, latency);
                if let Some(h) = s.run.delivery_by_phase.get_mut(phase) {
                    record(h, latency);
                }
                s.run.counters.measured += 1;
            }
            update_view(&mut seat.view, &f, seq);
            None
        }
        "joined" if reference.is_some() && reference == seat.join_ref => Some(JoinAnswer::Joined {
            seq: f.seq.unwrap_or(0),
            recovered: f.recovered.unwrap_or(false),
            epoch: f.epoch.map(|e| e.into_owned()),
        }),
        "ack" => {
            s.run.counters.acks += 1;
            if let Some(seq) = f.seq {
                metrics.saw_seq(member.room, seq);
            }
            if let Some(p) = take_pending(seat, reference) {
                let latency = now.saturating_duration_since(metrics.instant_of(p.intended_us));
                record(&mut s.run.ack, latency);
            }
            None
        }
        "error" => {
            let code = f.code.as_deref().unwrap_or("unknown");
            count_error(&mut s, code);
            if reference.is_some() && reference == seat.join_ref {
                return Some(JoinAnswer::Refused);
            }
            if let Some(p) = take_pending(seat, reference)
                && p.hand
                && code == "conflict"
            {
                // Our idea of the hand was wrong; the server's refusal tells us the truth.
                seat.view.hand = !seat.view.hand;
            }
            None
        }
        _ => None,
    }
}

fn count_error(s: &mut Shard, code: &str) {
    s.run.counters.errors += 1;
    if code != "conflict" {
        s.run.counters.hard_errors += 1;
    }
    match s.run.errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            s.run.errors.insert(code.to_owned(), 1);
        }
    }
}

fn take_pending(seat: &mut Seat, reference: Option<u32>) -> Option<Pending> {
    let r = reference?;
    let i = seat.pending.iter().position(|p| p.reference == r)?;
    seat.pending.remove(i)
}

/// Remembers the latest question and poll, for votes.
fn update_view(view: &mut View, f: &Frame<'_>, seq: u64) {
    match f.event.as_deref() {
        Some("question_asked") if f.data.as_ref().and_then(|d| d.held) != Some(true) => {
            view.question = Some(seq);
        }
        Some("poll_opened") => {
            let options = f
                .data
                .as_ref()
                .and_then(|d| d.options.as_ref())
                .map_or(0, Vec::len);
            view.poll = Some((seq, options as u64));
        }
        Some("poll_closed") if f.data.as_ref().and_then(|d| d.poll) == view.poll.map(|p| p.0) => {
            view.poll = None;
        }
        _ => {}
    }
}

/// While draining: counts the member as caught up once it has seen its room's last seq.
fn check_caught_up(member: &Member, shared: &Shared, seat: &mut Seat, stage: Stage) {
    if stage != Stage::Draining || seat.caught_up {
        return;
    }
    if seat
        .tracker
        .last()
        .is_some_and(|l| l >= shared.metrics.room_end(member.room))
    {
        seat.caught_up = true;
        shared.metrics.caught_up.fetch_add(1, Ordering::Relaxed);
    }
}

/// A think time drawn from `t`.
pub fn think(t: &ThinkTime, rng: &mut fastrand::Rng) -> Duration {
    match t {
        ThinkTime::Constant { value } => value.0,
        ThinkTime::Uniform { min, max } => min.0 + (max.0 - min.0).mul_f64(rng.f64()),
        ThinkTime::Exponential { mean } => exponential(mean.0, rng),
    }
}

/// An exponential draw with mean `mean`.
fn exponential(mean: Duration, rng: &mut fastrand::Rng) -> Duration {
    // 1 - f64() is in (0, 1], so the logarithm is finite.
    let x = -(1.0 - rng.f64()).ln();
    Duration::try_from_secs_f64(mean.as_secs_f64() * x).unwrap_or(mean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Span;

    #[test]
    fn think_times_follow_their_distribution() {
        let mut rng = fastrand::Rng::with_seed(1);
        let exp = ThinkTime::Exponential {
            mean: Span(Duration::from_secs(2)),
        };
        let n = 20_000;
        let total: f64 = (0..n).map(|_| think(&exp, &mut rng).as_secs_f64()).sum();
        let mean = total / n as f64;
        assert!((mean - 2.0).abs() < 0.1, "mean {mean}");
        let uni = ThinkTime::Uniform {
            min: Span(Duration::from_secs(1)),
            max: Span(Duration::from_secs(3)),
        };
        for _ in 0..1000 {
            let d = think(&uni, &mut rng);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(3));
        }
    }
}
