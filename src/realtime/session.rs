//! `GET /ws`: one `Session` actor per connection. It owns connection concerns only —
//! authentication (`?token=` or an `auth` first frame within 5 s, else close 4001), heartbeats
//! (a ping every interval; no traffic for two intervals closes the connection), the frame layer,
//! parsing commands and answering bad ones with an `error` frame without closing — and forwards
//! typed commands to room actors, whose frames it writes out through its bounded queue
//! (`outlet`); a connection that lets that queue fill is closed with 4009.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws::{
    self, CloseCode, CloseReason, Message, ProtocolError, WebsocketContext,
};
use serde::Deserialize;

use super::admission;
use super::frames::{Inbound, Reassembler, close_reply};
use super::outlet::{Connection, Notice, Outbound, Outlet, Socket};
use super::protocol::{self, Command, ServerFrame};
use super::rate::TokenBucket;
use super::room::{Act, Join, Leave, Lookup, Registry, Room, RosterPage};
use crate::accounts::AuthUser;
use crate::accounts::revocation::{Revocation, Revocations};
use crate::accounts::tokens::{Claims, TokenKeys};
use crate::clock::SharedClock;
use crate::db::{Db, DbError};
use crate::error::ApiError;

/// How long a connection may stay unauthenticated.
const AUTH_DEADLINE: Duration = Duration::from_secs(5);
/// Close code for "not authenticated in time / bad token".
const UNAUTHORIZED: u16 = 4001;
/// Close code for "the access token expired without a fresh one over the socket".
const TOKEN_EXPIRED: u16 = 4002;
/// Close code for "rights revoked": the session was signed out, the role changed, the account
/// was disabled, or a re-authentication carried another user's token.
const REVOKED: u16 = 4003;
/// Close code for "this user already has the maximum number of connections".
const TOO_MANY_CONNECTIONS: u16 = 4008;
/// Close code for "kept sending past the rate limit".
const POLICY_VIOLATION: u16 = 1008;
/// Close code for "the server is restarting" (RFC 6455 1012): reconnect, to this node once it
/// is back or to another, and rejoin with `since`.
const SERVICE_RESTART: u16 = 1012;
/// Close code for "your outbound queue filled up": rejoin with `since` to recover.
const SLOW_CONSUMER: u16 = 4009;
/// Bytes of room frames written between two pauses of the mailbox (see `Handler<Outbound>`).
const WRITE_SLICE: usize = 16 * 1024;
/// How often a join retries when its room retired just as it was found.
const JOIN_ATTEMPTS: usize = 3;

/// What every session needs, shared.
pub struct Realtime {
    /// Database, for permission checks.
    pub db: Db,
    /// Token verification.
    pub keys: Arc<TokenKeys>,
    /// What has been revoked since tokens were issued, and who to tell.
    pub revocations: Arc<Revocations>,
    /// Room lookup on this node.
    pub rooms: Addr<Registry>,
    /// Server ping interval.
    pub heartbeat: Duration,
    /// Largest whole message.
    pub max_message: usize,
    /// Command budget per connection: (burst, per second).
    pub rate: (u32, u32),
    /// Most simultaneous connections of one user on this node.
    pub max_per_user: usize,
    /// Room frames a connection may have queued before it is closed as a slow consumer.
    pub outbound_queue: usize,
    /// The time consultation joins are recorded at.
    pub clock: SharedClock,
    /// Open connections per user on this node.
    pub per_user: std::sync::Mutex<HashMap<String, usize>>,
    /// Every open connection on this node, so a shutdown can close them all.
    pub open: std::sync::Mutex<HashMap<u64, OpenConnection>>,
}

/// What a shutdown needs of one open connection: its session, to close it properly, and its
/// socket, to cut it off if the session is stalled on a client that stopped reading.
pub struct OpenConnection {
    session: Recipient<Restart>,
    conn: Arc<Connection>,
}

/// Asks a session to close with 1012 because the server is stopping.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Restart;

impl Realtime {
    /// Counts a new connection of `user_id`; false when the user already has the maximum.
    fn admit(&self, user_id: &str) -> bool {
        let mut open = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(user_id.to_owned()).or_default();
        if *n >= self.max_per_user {
            return false;
        }
        *n += 1;
        true
    }

    /// Closes every connection with 1012 and waits up to `grace` for them to go; sockets still
    /// open then (their sessions are stalled on clients that stopped reading) are cut off.
    /// Returns how many had to be cut off.
    pub async fn close_all(&self, grace: Duration) -> usize {
        let listed: Vec<Recipient<Restart>> = self
            .open_connections()
            .values()
            .map(|c| c.session.clone())
            .collect();
        for session in listed {
            session.do_send(Restart);
        }
        let deadline = Instant::now() + grace;
        while !self.open_connections().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stuck: Vec<Arc<Connection>> = self
            .open_connections()
            .values()
            .map(|c| c.conn.clone())
            .collect();
        for conn in &stuck {
            conn.cut_off();
        }
        stuck.len()
    }

    fn open_connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, OpenConnection>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets one connection of `user_id`.
    fn release(&self, user_id: &str) {
        let mut open = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(user_id);
            }
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One WebSocket connection.
pub struct Session {
    id: u64,
    shared: web::Data<Realtime>,
    user: Option<AuthUser>,
    /// The session (`sid`) of the token the connection is authenticated with.
    sid: String,
    /// Closes the connection when its token expires; replaced on re-authentication.
    expiry: Option<SpawnHandle>,
    /// The claims of a `?token=`, signed in once the actor runs.
    preauth: Option<Claims>,
    frames: Reassembler,
    rooms: HashMap<String, Addr<Room>>,
    last_seen: Instant,
    budget: TokenBucket,
    /// Frames refused in a row for lack of budget.
    refused: u32,
    /// What rooms share about this connection: its queue count and socket (see `outlet`).
    conn: Arc<Connection>,
    /// Bytes handed to the socket since the last pause.
    unflushed: usize,
}

impl Session {
    fn send(&self, ctx: &mut WebsocketContext<Self>, frame: ServerFrame) {
        ctx.text(frame.to_text());
    }

    fn close(&self, ctx: &mut WebsocketContext<Self>, code: u16, why: &str) {
        ctx.close(Some(CloseReason {
            code: CloseCode::Other(code),
            description: Some(why.to_owned()),
        }));
        ctx.stop();
    }

    /// An `auth` frame: signs in, or re-authenticates an open connection (same user only).
    fn authenticate(
        &mut self,
        ctx: &mut WebsocketContext<Self>,
        token: &str,
        reference: Option<String>,
    ) {
        let Some(claims) = self.shared.keys.verify_access(token) else {
            if self.user.is_some() {
                let e = ServerFrame::error(reference, "unauthorized", "invalid or expired token");
                return self.send(ctx, e);
            }
            return self.close(ctx, UNAUTHORIZED, "invalid or expired access token");
        };
        match self.user.clone() {
            None => self.signed_in(ctx, claims),
            Some(user) if user.id != claims.sub => {
                self.close(ctx, REVOKED, "the token is for another user")
            }
            Some(user) => {
                if let Err(denied) = self.shared.revocations.check(&claims) {
                    return self.close(ctx, REVOKED, denied.message());
                }
                self.sid = claims.sid.clone();
                // Rooms admitted the old role; a changed one takes effect in rooms joined next.
                self.user = Some(AuthUser {
                    role: claims.role,
                    ..user
                });
                self.arm_expiry(ctx, claims.exp);
                let ack = ServerFrame::Reauthenticated {
                    reference,
                    expires_at: expires_at(claims.exp),
                };
                self.send(ctx, ack);
            }
        }
    }

    /// Closes the connection with 4002 when `exp` (seconds since the epoch) passes.
    fn arm_expiry(&mut self, ctx: &mut WebsocketContext<Self>, exp: i64) {
        if let Some(old) = self.expiry.take() {
            ctx.cancel_future(old);
        }
        let left_ms = exp * 1000 - chrono::Utc::now().timestamp_millis();
        let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
        self.expiry = Some(ctx.run_later(left, |s, ctx| {
            s.close(
                ctx,
                TOKEN_EXPIRED,
                "token expired; send a fresh one before it expires",
            );
        }));
    }

    /// Admits an authenticated user (within the per-user connection cap and unless revoked),
    /// listens for the user's revocations, and says hello.
    fn signed_in(&mut self, ctx: &mut WebsocketContext<Self>, claims: Claims) {
        if !self.shared.admit(&claims.sub) {
            return self.close(
                ctx,
                TOO_MANY_CONNECTIONS,
                "too many connections for this user",
            );
        }
        let user = AuthUser {
            id: claims.sub.clone(),
            role: claims.role,
        };
        // Counted and listening from here on, so `stopped` releases both.
        self.user = Some(user.clone());
        let addr = ctx.address();
        self.shared.revocations.listen(
            &user.id,
            self.id,
            Box::new(move |r| addr.do_send(Revoked(r.clone()))),
        );
        if let Err(denied) = self.shared.revocations.check(&claims) {
            return self.close(ctx, REVOKED, denied.message());
        }
        self.sid = claims.sid.clone();
        self.arm_expiry(ctx, claims.exp);
        let hello = ServerFrame::Hello {
            user: user.id,
            heartbeat_s: self.shared.heartbeat.as_secs(),
            expires_at: expires_at(claims.exp),
        };
        self.send(ctx, hello);
    }

    /// After a lost entitlement: asks admission again for every joined room and leaves those
    /// it now refuses, telling the client with a `forbidden` error naming the room.
    fn recheck_rooms(&mut self, ctx: &mut WebsocketContext<Self>, user: AuthUser) {
        let names: Vec<String> = self.rooms.keys().cloned().collect();
        let db = self.shared.db.clone();
        let check = async move {
            db.run(move |c| {
                Ok::<_, DbError>(
                    names
                        .into_iter()
                        .filter_map(|n| admission::admit(c, &user, &n).err().map(|e| (n, e.1)))
                        .collect::<Vec<_>>(),
                )
            })
            .await
        };
        ctx.spawn(check.into_actor(self).map(|refused, session, ctx| {
            for (room, why) in refused.unwrap_or_default() {
                if let Some(addr) = session.rooms.remove(&room) {
                    addr.do_send(Leave {
                        session: session.id,
                    });
                    let msg = format!("removed from {room}: {why}");
                    session.send(ctx, ServerFrame::error(None, "forbidden", msg));
                }
            }
        }));
    }

    /// Charges one frame, valid or not, to the connection's budget. Over budget it answers
    /// `rate_limited`; a client that keeps sending past it (more refused frames in a row than
    /// the burst) is closed with 1008. False when the frame must not be handled.
    fn spend(&mut self, ctx: &mut WebsocketContext<Self>, reference: Option<String>) -> bool {
        match self.budget.take(Instant::now()) {
            Ok(()) => {
                self.refused = 0;
                true
            }
            Err(wait) => {
                self.refused += 1;
                if self.refused > self.shared.rate.0 {
                    self.close(ctx, POLICY_VIOLATION, "rate limit exceeded repeatedly");
                } else {
                    let msg = format!("too many commands; retry in {} ms", wait.as_millis().max(1));
                    self.send(ctx, ServerFrame::error(reference, "rate_limited", msg));
                }
                false
            }
        }
    }

    fn command(&mut self, ctx: &mut WebsocketContext<Self>, text: &str) {
        let parsed = protocol::parse(text);
        let reference = match &parsed {
            Ok(f) => f.reference.clone(),
            Err(e) => e.reference.clone(),
        };
        if !self.spend(ctx, reference) {
            return;
        }
        let frame = match parsed {
            Ok(f) => f,
            Err(e) => return self.send(ctx, ServerFrame::error(e.reference, "invalid", e.message)),
        };
        let reference = frame.reference;
        let Some(user) = self.user.clone() else {
            return match frame.command {
                Command::Auth { token } => self.authenticate(ctx, &token, reference),
                _ => self.close(ctx, UNAUTHORIZED, "authenticate first"),
            };
        };
        let command = match frame.command.into_room_action() {
            Ok((room, action)) => return self.act(ctx, room, action, reference),
            Err(other) => other,
        };
        match command {
            Command::Auth { token } => self.authenticate(ctx, &token, reference),
            Command::Ping => self.send(ctx, ServerFrame::Pong { reference }),
            Command::Join { room, since, epoch } => {
                self.join(ctx, user, room, since, epoch, reference)
            }
            Command::Leave { room } => match self.rooms.remove(&room) {
                Some(addr) => {
                    addr.do_send(Leave { session: self.id });
                    let ack = ServerFrame::Ack {
                        reference,
                        seq: None,
                    };
                    self.send(ctx, ack);
                }
                None => self.send(
                    ctx,
                    ServerFrame::error(reference, "not_found", "not in that room"),
                ),
            },
            Command::Roster {
                room,
                offset,
                limit,
            } => {
                if let Some(addr) = self.in_room(ctx, &room, &reference) {
                    addr.do_send(RosterPage {
                        session: self.id,
                        notices: ctx.address().recipient(),
                        offset,
                        limit,
                        reference,
                    });
                }
            }
            // Room commands were routed above.
            _ => {}
        }
    }

    /// The room actor of a joined room, or an error frame saying to join first.
    fn in_room(
        &self,
        ctx: &mut WebsocketContext<Self>,
        room: &str,
        reference: &Option<String>,
    ) -> Option<Addr<Room>> {
        let addr = self.rooms.get(room).cloned();
        if addr.is_none() {
            let e = ServerFrame::error(reference.clone(), "forbidden", "join the room first");
            self.send(ctx, e);
        }
        addr
    }

    /// Forwards a room command; the room answers with `ack` or `error`.
    fn act(
        &mut self,
        ctx: &mut WebsocketContext<Self>,
        room: String,
        action: super::kind::RoomAction,
        reference: Option<String>,
    ) {
        if let Some(addr) = self.in_room(ctx, &room, &reference) {
            addr.do_send(Act {
                session: self.id,
                notices: ctx.address().recipient(),
                action,
                reference,
            });
        }
    }

    fn join(
        &mut self,
        ctx: &mut WebsocketContext<Self>,
        user: AuthUser,
        room: String,
        since: Option<i64>,
        epoch: Option<String>,
        reference: Option<String>,
    ) {
        if self.rooms.contains_key(&room) {
            let e = ServerFrame::error(reference, "conflict", "already in that room");
            return self.send(ctx, e);
        }
        let (shared, id, joined_ref) = (self.shared.clone(), self.id, reference.clone());
        let outlet = Outlet::new(
            ctx.address().recipient(),
            ctx.address().recipient(),
            self.conn.clone(),
            shared.outbound_queue,
            shared.heartbeat * 2,
        );
        let joining = async move {
            let name = room.clone();
            let (member, admission) = shared
                .db
                .run(move |c| Ok::<_, DbError>(admission::admit(c, &user, &name)))
                .await
                .map_err(admission::refused)??;
            // A room that retires just as it is found refuses the message; look it up again.
            for _ in 0..JOIN_ATTEMPTS {
                let Ok(addr) = shared.rooms.send(Lookup(room.clone())).await else {
                    break;
                };
                let join = Join {
                    session: id,
                    member: member.clone(),
                    outlet: outlet.clone(),
                    since,
                    epoch: epoch.clone(),
                    reference: joined_ref.clone(),
                };
                match addr.send(join).await {
                    Ok(Ok(())) => {
                        let (user, now) = (member.user_id, shared.clock.now());
                        let recorded = shared
                            .db
                            .run(move |c| admission::joined(c, &user, &admission, now))
                            .await;
                        if let Err(e) = recorded {
                            tracing::warn!(error = %e, "cannot record a join");
                        }
                        return Ok(());
                    }
                    Ok(Err(refusal)) => return Err((refusal.code, refusal.message)),
                    Err(_) => continue,
                }
            }
            Err(("unavailable", "the room is unavailable; retry".to_owned()))
        };
        ctx.spawn(joining.into_actor(self).map(move |result, session, ctx| {
            if let Err((code, message)) = result {
                session.send(ctx, ServerFrame::error(reference, code, message));
            }
        }));
    }
}

impl Actor for Session {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("ws_connections").increment(1.0);
        let open = OpenConnection {
            session: ctx.address().recipient(),
            conn: self.conn.clone(),
        };
        self.shared.open_connections().insert(self.id, open);
        if let Some(claims) = self.preauth.take() {
            self.signed_in(ctx, claims);
        }
        if self.user.is_none() {
            ctx.run_later(AUTH_DEADLINE, |s, ctx| {
                if s.user.is_none() {
                    s.close(ctx, UNAUTHORIZED, "no auth frame in time");
                }
            });
        }
        let beat = self.shared.heartbeat;
        ctx.run_interval(beat, move |s, ctx| {
            if s.last_seen.elapsed() > beat * 2 {
                ctx.close(Some(CloseCode::Away.into()));
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        for addr in self.rooms.values() {
            addr.do_send(Leave { session: self.id });
        }
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::gauge!("ws_connections").decrement(1.0);
        self.shared.open_connections().remove(&self.id);
        if let Some(user) = &self.user {
            self.shared.release(&user.id);
            self.shared.revocations.unlisten(&user.id, self.id);
        }
    }
}

impl Handler<Outbound> for Session {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        self.conn.drained();
        let frames = match msg {
            Outbound::One(frame) => vec![frame],
            Outbound::Many(frames) => frames,
        };
        for frame in frames {
            self.unflushed += frame.len();
            ctx.text(frame);
        }
        // actix drains up to 256 mailbox messages per poll into one write; pausing every
        // WRITE_SLICE bytes lets the connection's write buffer fill and stop polling us, so
        // frames wait in the counted queue rather than in an unbounded write buffer.
        if self.unflushed >= WRITE_SLICE {
            self.unflushed = 0;
            ctx.wait(tokio::task::yield_now().into_actor(self));
        }
    }
}

impl Handler<Restart> for Session {
    type Result = ();

    fn handle(&mut self, _: Restart, ctx: &mut Self::Context) {
        self.close(
            ctx,
            SERVICE_RESTART,
            "server restarting: reconnect and rejoin with since",
        );
    }
}

/// A revocation of this connection's user, from [`Revocations`].
#[derive(Message)]
#[rtype(result = "()")]
struct Revoked(Revocation);

impl Handler<Revoked> for Session {
    type Result = ();

    fn handle(&mut self, msg: Revoked, ctx: &mut Self::Context) {
        let Some(user) = self.user.clone() else {
            return;
        };
        match msg.0 {
            Revocation::Session { sid, .. } if sid == self.sid => {
                self.close(ctx, REVOKED, "this session was signed out");
            }
            Revocation::Role { role, .. } if role != user.role => {
                self.close(
                    ctx,
                    REVOKED,
                    "your role changed; reconnect with a fresh token",
                );
            }
            Revocation::Disabled { .. } => self.close(ctx, REVOKED, "this account is disabled"),
            Revocation::Entitlement { .. } => self.recheck_rooms(ctx, user),
            _ => {}
        }
    }
}

/// `exp` as RFC 3339.
fn expires_at(exp: i64) -> String {
    chrono::DateTime::from_timestamp(exp, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Handler<Notice> for Session {
    type Result = ();

    fn handle(&mut self, msg: Notice, ctx: &mut Self::Context) {
        match msg {
            Notice::Reply(frame) => ctx.text(frame),
            Notice::Joined { room, addr } => {
                self.rooms.insert(room, addr);
            }
            Notice::Removed { room } => {
                self.rooms.remove(&room);
            }
            Notice::Evict => {
                // The rooms dropped this connection already; leaving again is harmless.
                self.close(
                    ctx,
                    SLOW_CONSUMER,
                    "slow consumer: reconnect and rejoin with since",
                );
            }
        }
    }
}

impl StreamHandler<Result<Message, ProtocolError>> for Session {
    fn handle(&mut self, item: Result<Message, ProtocolError>, ctx: &mut Self::Context) {
        self.last_seen = Instant::now();
        match self.frames.push(item) {
            Ok(Some(Inbound::Text(text))) => self.command(ctx, &text),
            Ok(Some(Inbound::Binary(_))) => {
                if self.spend(ctx, None) {
                    self.send(
                        ctx,
                        ServerFrame::error(None, "invalid", "frames are JSON text"),
                    );
                }
            }
            Ok(Some(Inbound::Ping(p))) => ctx.pong(&p),
            Ok(Some(Inbound::Close(reason))) => {
                ctx.close(Some(close_reply(reason)));
                ctx.stop();
            }
            Ok(Some(Inbound::Pong) | None) => {}
            Err(failure) => {
                ctx.close(Some(failure.into()));
                ctx.stop();
            }
        }
    }
}

/// `GET /ws` query.
#[derive(Deserialize)]
pub struct WsQuery {
    /// Access token (alternative to an `auth` first frame).
    pub token: Option<String>,
}

/// Upgrades to a session. A `?token=` that does not verify is refused before the upgrade.
#[utoipa::path(get, path = "/ws", tag = "realtime",
    params(("token" = Option<String>, Query, description = "Access token; or send an auth frame first")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (see docs/protocol.md)"),
        (status = 401, description = "Invalid token", body = crate::error::ErrorBody),
    ))]
pub async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    query: web::Query<WsQuery>,
    shared: web::Data<Realtime>,
) -> Result<HttpResponse, ApiError> {
    let claims = match query.into_inner().token {
        Some(t) => {
            let claims = shared
                .keys
                .verify_access(&t)
                .ok_or_else(|| ApiError::Unauthorized("invalid or expired access token".into()))?;
            shared
                .revocations
                .check(&claims)
                .map_err(|d| ApiError::Unauthorized(d.message().into()))?;
            Some(claims)
        }
        None => None,
    };
    let session = Session {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        frames: Reassembler::new(shared.max_message),
        shared: shared.clone(),
        user: None,
        sid: String::new(),
        expiry: None,
        preauth: claims,
        rooms: HashMap::new(),
        last_seen: Instant::now(),
        budget: TokenBucket::new(shared.rate.0, shared.rate.1, Instant::now()),
        refused: 0,
        conn: Arc::new(Connection::new(req.conn_data::<Arc<Socket>>().cloned())),
        unflushed: 0,
    };
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(shared.max_message)
        .start()
        .map_err(|e| ApiError::Validation(format!("not a WebSocket upgrade: {e}")))
}
