//! The WebSocket protocol's frames: what clients send (`ClientFrame`, parsed strictly from one
//! JSON object per text frame) and what the server sends (`ServerFrame`). The full contract is
//! in `docs/protocol.md`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One client command with its optional `ref`, echoed in the answer.
#[derive(Debug, Deserialize)]
pub struct ClientFrame {
    /// Client-chosen correlation string.
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
    /// The command.
    #[serde(flatten)]
    pub command: Command,
}

/// Client → server commands.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Authenticate with an access token (when not given as `?token=`).
    Auth {
        /// The access token.
        token: String,
    },
    /// Join a room, optionally recovering from a known position.
    Join {
        /// `class:<live session id>`.
        room: String,
        /// Last seq the client saw.
        #[serde(default)]
        since: Option<i64>,
        /// The epoch that seq belongs to.
        #[serde(default)]
        epoch: Option<String>,
    },
    /// Leave a room.
    Leave {
        /// The room.
        room: String,
    },
    /// Send a chat message to a room.
    Chat {
        /// The room.
        room: String,
        /// 1–2000 characters.
        text: String,
    },
    /// Application-level ping; answered with `pong`.
    Ping,
}

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;

/// Parses one text frame; the error is the message for an `invalid` error frame.
pub fn parse(text: &str) -> Result<ClientFrame, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid frame: {e}"))
}

/// Server → client frames.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Sent once authenticated.
    Hello {
        /// The user id.
        user: String,
        /// Server ping interval.
        heartbeat_s: u64,
    },
    /// Joined a room: where its log stands and whether the missed events were replayed.
    Joined {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The room.
        room: String,
        /// The log's epoch.
        epoch: String,
        /// The last seq (events after `since` up to this were sent just before).
        seq: i64,
        /// False when `since`/`epoch` could not be honoured (history gone or epoch changed).
        recovered: bool,
        /// Members present.
        presence: usize,
        /// The room's current state.
        state: Value,
    },
    /// One event of the ordered room log.
    Event {
        /// The room.
        room: String,
        /// Position in the epoch, +1 per event.
        seq: i64,
        /// What happened.
        kind: String,
        /// When (RFC 3339).
        at: String,
        /// Payload.
        data: Value,
    },
    /// Ephemeral member count.
    Presence {
        /// The room.
        room: String,
        /// Members present.
        count: usize,
    },
    /// A command succeeded.
    Ack {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// A command failed; the connection stays open.
    Error {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// `unauthorized`, `forbidden`, `not_found`, `invalid`, …
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Answer to `ping`.
    Pong,
}

impl ServerFrame {
    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","code":"internal","message":"encoding"}"#.into())
    }

    /// An error frame.
    pub fn error(
        reference: Option<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Error {
            reference,
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_ref() {
        let f =
            parse(r#"{"type":"join","room":"class:1","since":4,"epoch":"e","ref":"r1"}"#).unwrap();
        assert_eq!(f.reference.as_deref(), Some("r1"));
        assert!(matches!(f.command, Command::Join { since: Some(4), .. }));
        assert!(matches!(
            parse(r#"{"type":"ping"}"#).unwrap().command,
            Command::Ping
        ));
    }

    #[test]
    fn bad_frames_are_errors() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"type":"dance"}"#,
            r#"{"type":"chat","room":"x"}"#,
            "not json",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_frames_are_tagged() {
        let t = ServerFrame::Presence {
            room: "class:1".into(),
            count: 2,
        }
        .to_text();
        assert_eq!(t, r#"{"type":"presence","room":"class:1","count":2}"#);
    }
}
