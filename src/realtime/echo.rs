//! `GET /ws/echo`: the session frame layer with nothing above it, echoing every message, so the
//! Autobahn fuzzing client (which expects an echo peer) can test exactly the code real sessions
//! use. Mounted only when `LYCEUM_WS_ECHO=1`; see the README for how to run the suite.

use actix::{Actor, ActorContext, StreamHandler};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws::{self, Message, ProtocolError, WebsocketContext};

use super::frames::{Inbound, Reassembler, close_reply};
use crate::error::ApiError;

/// Largest whole message the echo endpoint accepts.
#[derive(Debug, Clone, Copy)]
pub struct EchoLimit(pub usize);

/// One echo connection: owns its reassembler; stops after the closing handshake or a failure.
pub struct EchoSession {
    frames: Reassembler,
}

impl Actor for EchoSession {
    type Context = WebsocketContext<Self>;
}

impl StreamHandler<Result<Message, ProtocolError>> for EchoSession {
    fn handle(&mut self, item: Result<Message, ProtocolError>, ctx: &mut Self::Context) {
        match self.frames.push(item) {
            Ok(Some(Inbound::Text(text))) => ctx.text(text),
            Ok(Some(Inbound::Binary(data))) => ctx.binary(data),
            Ok(Some(Inbound::Ping(payload))) => ctx.pong(&payload),
            Ok(Some(Inbound::Close(reason))) => {
                ctx.close(Some(close_reply(reason)));
                ctx.stop();
            }
            Ok(Some(Inbound::Pong) | None) => {}
            Err(failure) => {
                tracing::debug!(code = ?failure.code, reason = failure.reason, "failing echo connection");
                ctx.close(Some(failure.into()));
                ctx.stop();
            }
        }
    }
}

/// Upgrades to the echo session.
pub async fn echo(
    req: HttpRequest,
    stream: web::Payload,
    limit: web::Data<EchoLimit>,
) -> Result<HttpResponse, ApiError> {
    let session = EchoSession {
        frames: Reassembler::new(limit.0),
    };
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(limit.0)
        .start()
        .map_err(|e| ApiError::Validation(format!("not a WebSocket upgrade: {e}")))
}
