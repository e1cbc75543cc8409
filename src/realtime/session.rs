//! `GET /ws`: one `Session` actor per connection. It owns connection concerns only —
//! authentication (`?token=` or an `auth` first frame within 5 s, else close 4001), heartbeats
//! (a ping every interval; no traffic for two intervals closes the connection), the frame layer,
//! parsing commands and answering bad ones with an `error` frame without closing — and forwards
//! typed commands to room actors, whose frames it writes out.

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
use serde_json::json;

use super::frames::{Inbound, Reassembler, close_reply};
use super::protocol::{self, Command, MAX_CHAT_CHARS, ServerFrame};
use super::rate::TokenBucket;
use super::room::{Join, Leave, Lookup, Outbound, Publish, Registry, Room};
use crate::accounts::AuthUser;
use crate::accounts::tokens::TokenKeys;
use crate::catalog::events::{self, EventKind};
use crate::classroom::sessions::{self, ClassError};
use crate::db::Db;
use crate::error::ApiError;

/// How long a connection may stay unauthenticated.
const AUTH_DEADLINE: Duration = Duration::from_secs(5);
/// Close code for "not authenticated in time / bad token".
const UNAUTHORIZED: u16 = 4001;
/// Close code for "this user already has the maximum number of connections".
const TOO_MANY_CONNECTIONS: u16 = 4008;

/// What every session needs, shared.
pub struct Realtime {
    /// Database, for permission checks.
    pub db: Db,
    /// Token verification.
    pub keys: Arc<TokenKeys>,
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
    /// Open connections per user on this node.
    pub per_user: std::sync::Mutex<HashMap<String, usize>>,
}

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
    /// A user authenticated by `?token=`, signed in once the actor runs.
    preauth: Option<AuthUser>,
    frames: Reassembler,
    rooms: HashMap<String, Addr<Room>>,
    last_seen: Instant,
    budget: TokenBucket,
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

    fn authenticate(&mut self, ctx: &mut WebsocketContext<Self>, token: &str) {
        match self.shared.keys.verify_access(token) {
            Some(claims) => self.signed_in(
                ctx,
                AuthUser {
                    id: claims.sub,
                    role: claims.role,
                },
            ),
            None => self.close(ctx, UNAUTHORIZED, "invalid or expired access token"),
        }
    }

    /// Admits an authenticated user (within the per-user connection cap) and says hello.
    fn signed_in(&mut self, ctx: &mut WebsocketContext<Self>, user: AuthUser) {
        if !self.shared.admit(&user.id) {
            return self.close(
                ctx,
                TOO_MANY_CONNECTIONS,
                "too many connections for this user",
            );
        }
        let hello = ServerFrame::Hello {
            user: user.id.clone(),
            heartbeat_s: self.shared.heartbeat.as_secs(),
        };
        self.send(ctx, hello);
        self.user = Some(user);
    }

    fn command(&mut self, ctx: &mut WebsocketContext<Self>, text: &str) {
        let frame = match protocol::parse(text) {
            Ok(f) => f,
            Err(e) => return self.send(ctx, ServerFrame::error(None, "invalid", e)),
        };
        let reference = frame.reference;
        if let Err(wait) = self.budget.take(Instant::now()) {
            let msg = format!("too many commands; retry in {} ms", wait.as_millis().max(1));
            return self.send(ctx, ServerFrame::error(reference, "rate_limited", msg));
        }
        let Some(user) = self.user.clone() else {
            return match frame.command {
                Command::Auth { token } => self.authenticate(ctx, &token),
                _ => self.close(ctx, UNAUTHORIZED, "authenticate first"),
            };
        };
        match frame.command {
            Command::Auth { .. } => self.send(
                ctx,
                ServerFrame::error(reference, "invalid", "already authenticated"),
            ),
            Command::Ping => self.send(ctx, ServerFrame::Pong),
            Command::Join { room, since, epoch } => {
                self.join(ctx, user, room, since, epoch, reference)
            }
            Command::Leave { room } => match self.rooms.remove(&room) {
                Some(addr) => {
                    addr.do_send(Leave { session: self.id });
                    self.send(ctx, ServerFrame::Ack { reference });
                }
                None => self.send(
                    ctx,
                    ServerFrame::error(reference, "not_found", "not in that room"),
                ),
            },
            Command::Chat { room, text } => {
                let Some(addr) = self.rooms.get(&room) else {
                    return self.send(
                        ctx,
                        ServerFrame::error(reference, "forbidden", "join the room first"),
                    );
                };
                let len = text.trim().chars().count();
                if len == 0 || len > MAX_CHAT_CHARS {
                    return self.send(
                        ctx,
                        ServerFrame::error(
                            reference,
                            "too_large",
                            format!("text must be 1 to {MAX_CHAT_CHARS} characters"),
                        ),
                    );
                }
                let data = json!({"user": user.id, "text": text});
                addr.do_send(Publish {
                    session: self.id,
                    user_id: user.id,
                    kind: "chat",
                    data,
                    reference,
                });
            }
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
        let Some(live_id) = room.strip_prefix("class:").map(str::to_owned) else {
            return self.send(
                ctx,
                ServerFrame::error(
                    reference,
                    "not_found",
                    "rooms are named class:<live session id>",
                ),
            );
        };
        let shared = self.shared.clone();
        let check_user = user.clone();
        let allowed = async move {
            shared
                .db
                .run(move |c| -> Result<(), ClassError> {
                    let (live, _) = sessions::may_join(c, &check_user, &live_id)?;
                    let kind = EventKind::LiveJoin;
                    events::record(
                        c,
                        &check_user.id,
                        &live.course_id,
                        kind,
                        kind.default_weight(),
                    )?;
                    Ok(())
                })
                .await?;
            Ok::<_, ClassError>(
                shared
                    .rooms
                    .send(Lookup(room.clone()))
                    .await
                    .map(|addr| (room, addr)),
            )
        };
        ctx.spawn(
            allowed
                .into_actor(self)
                .map(move |result, session, ctx| match result {
                    Ok(Ok((room, addr))) => {
                        addr.do_send(Join {
                            session: session.id,
                            user_id: user.id.clone(),
                            to: ctx.address().recipient(),
                            since,
                            epoch,
                            reference,
                        });
                        session.rooms.insert(room, addr);
                    }
                    Ok(Err(_)) => session.send(
                        ctx,
                        ServerFrame::error(reference, "unavailable", "room unavailable"),
                    ),
                    Err(e) => {
                        let api = ApiError::from(e);
                        session.send(
                            ctx,
                            ServerFrame::error(reference, api.code(), api.to_string()),
                        );
                    }
                }),
        );
    }
}

impl Actor for Session {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("ws_connections").increment(1.0);
        if let Some(user) = self.preauth.take() {
            self.signed_in(ctx, user);
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
        if let Some(user) = &self.user {
            self.shared.release(&user.id);
        }
    }
}

impl Handler<Outbound> for Session {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        ctx.text(msg.0);
    }
}

impl StreamHandler<Result<Message, ProtocolError>> for Session {
    fn handle(&mut self, item: Result<Message, ProtocolError>, ctx: &mut Self::Context) {
        self.last_seen = Instant::now();
        match self.frames.push(item) {
            Ok(Some(Inbound::Text(text))) => self.command(ctx, &text),
            Ok(Some(Inbound::Binary(_))) => self.send(
                ctx,
                ServerFrame::error(None, "invalid", "frames are JSON text"),
            ),
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
    let user = match query.into_inner().token {
        Some(t) => Some(
            shared
                .keys
                .verify_access(&t)
                .map(|c| AuthUser {
                    id: c.sub,
                    role: c.role,
                })
                .ok_or_else(|| ApiError::Unauthorized("invalid or expired access token".into()))?,
        ),
        None => None,
    };
    let session = Session {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        frames: Reassembler::new(shared.max_message),
        shared: shared.clone(),
        user: None,
        preauth: user,
        rooms: HashMap::new(),
        last_seen: Instant::now(),
        budget: TokenBucket::new(shared.rate.0, shared.rate.1, Instant::now()),
    };
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(shared.max_message)
        .start()
        .map_err(|e| ApiError::Validation(format!("not a WebSocket upgrade: {e}")))
}
