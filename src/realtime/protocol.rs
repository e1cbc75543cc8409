//! The WebSocket protocol's frames: what clients send (`ClientFrame`, parsed strictly from one
//! JSON object per text frame) and what the server sends (`ServerFrame`). The full contract is
//! in `docs/protocol.md`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind::RoomAction;
use crate::classroom::rules::{Action, Moderation};
use crate::consultations::live::ConsultAction;

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
    /// Ask a question.
    Ask {
        /// The room.
        room: String,
        /// 1–500 characters.
        text: String,
        /// Hide the asker from other learners (not from staff).
        #[serde(default)]
        anonymous: bool,
    },
    /// Upvote a question.
    Vote {
        /// The room.
        room: String,
        /// The question id.
        question: i64,
    },
    /// Take an upvote back.
    Unvote {
        /// The room.
        room: String,
        /// The question id.
        question: i64,
    },
    /// Answer a question (staff); without `text` it is just marked answered.
    Answer {
        /// The room.
        room: String,
        /// The question id.
        question: i64,
        /// The answer, 1–4000 characters.
        #[serde(default)]
        text: Option<String>,
    },
    /// Raise or lower one's hand.
    Hand {
        /// The room.
        room: String,
        /// Raised or lowered.
        raised: bool,
    },
    /// Open a poll (staff).
    PollOpen {
        /// The room.
        room: String,
        /// The question.
        question: String,
        /// 2–10 options.
        options: Vec<String>,
    },
    /// Vote in a poll.
    PollVote {
        /// The room.
        room: String,
        /// The poll id.
        poll: i64,
        /// Index of the option.
        option: usize,
    },
    /// Close a poll (staff).
    PollClose {
        /// The room.
        room: String,
        /// The poll id.
        poll: i64,
    },
    /// Staff actions: mute, unmute, kick, delete, slow_mode, lock_chat, hold_questions, approve,
    /// pin, dismiss, lower_hand.
    Moderate {
        /// The room.
        room: String,
        /// The action and its fields.
        #[serde(flatten)]
        action: Moderation,
    },
    /// One page of the room's roster.
    Roster {
        /// The room.
        room: String,
        /// Entries to skip.
        #[serde(default)]
        offset: usize,
        /// Page size, 1–200 (default 50).
        #[serde(default = "default_roster_page")]
        limit: usize,
    },
    /// End a consultation now (either party).
    End {
        /// `consult:<booking id>`.
        room: String,
    },
    /// Ask for more minutes in a consultation (the learner).
    Extend {
        /// `consult:<booking id>`.
        room: String,
        /// A multiple of 5, at most 60.
        minutes: i64,
    },
    /// Answer a pending extension request (the expert).
    ExtendAnswer {
        /// `consult:<booking id>`.
        room: String,
        /// Accept or decline.
        accept: bool,
    },
    /// Application-level ping; answered with `pong`.
    Ping,
}

fn default_roster_page() -> usize {
    50
}

impl Command {
    /// The room command this is, with its room; connection-level commands (auth, join, leave,
    /// roster, ping) are given back.
    pub fn into_room_action(self) -> Result<(String, RoomAction), Self> {
        let consult = |room, a| (room, RoomAction::Consult(a));
        let (room, action) = match self {
            Self::End { room } => return Ok(consult(room, ConsultAction::End)),
            Self::Extend { room, minutes } => {
                return Ok(consult(room, ConsultAction::Extend { minutes }));
            }
            Self::ExtendAnswer { room, accept } => {
                return Ok(consult(room, ConsultAction::ExtendAnswer { accept }));
            }
            Self::Chat { room, text } => (room, Action::Chat { text }),
            Self::Ask {
                room,
                text,
                anonymous,
            } => (room, Action::Ask { text, anonymous }),
            Self::Vote { room, question } => (room, Action::Vote { question }),
            Self::Unvote { room, question } => (room, Action::Unvote { question }),
            Self::Answer {
                room,
                question,
                text,
            } => (room, Action::Answer { question, text }),
            Self::Hand { room, raised } => (room, Action::Hand { raised }),
            Self::PollOpen {
                room,
                question,
                options,
            } => (room, Action::PollOpen { question, options }),
            Self::PollVote { room, poll, option } => (room, Action::PollVote { poll, option }),
            Self::PollClose { room, poll } => (room, Action::PollClose { poll }),
            Self::Moderate { room, action } => (room, Action::Moderate(action)),
            other => return Err(other),
        };
        Ok((room, RoomAction::Class(action)))
    }
}

/// A frame that could not be parsed: its `ref` when one could be read, and why.
#[derive(Debug)]
pub struct Unparsed {
    /// The frame's `ref`, so the client can match the error to its command.
    pub reference: Option<String>,
    /// For the `invalid` error frame.
    pub message: String,
}

/// Parses one text frame. Errors say what is wrong in the client's terms (which `type` is
/// unknown, which field is missing), never where in the text or every variant serde knows.
pub fn parse(text: &str) -> Result<ClientFrame, Unparsed> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Err(Unparsed {
            reference: None,
            message: "invalid frame: not JSON".into(),
        });
    };
    let reference = value.get("ref").and_then(Value::as_str).map(str::to_owned);
    let kind = value.get("type").and_then(Value::as_str).map(str::to_owned);
    serde_json::from_value(value).map_err(|e| {
        let e = e.to_string();
        // serde lists every variant after this; the protocol document lists them for people.
        let e = e.split(", expected one of").next().unwrap_or(&e);
        let message = match kind {
            None => "invalid frame: a JSON object with a string `type` is expected".to_owned(),
            Some(k) if e.starts_with(&format!("unknown variant `{k}`")) => {
                format!("unknown type `{k}` (see docs/protocol.md)")
            }
            Some(k) => format!("invalid `{k}` frame: {e}"),
        };
        Unparsed { reference, message }
    })
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
        /// When the access token expires (RFC 3339): send `auth` with a fresh one before.
        expires_at: String,
    },
    /// The answer to a re-authentication: the `ack` of the `auth` frame, with the new expiry.
    #[serde(rename = "ack")]
    Reauthenticated {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// When the fresh token expires (RFC 3339).
        expires_at: String,
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
    /// Ephemeral presence: the member count, and who came or went in rooms up to the roster
    /// threshold.
    Presence {
        /// The room.
        room: String,
        /// Users present (one per user, however many connections).
        count: usize,
        /// `{user, name, role}` of a user who arrived.
        #[serde(skip_serializing_if = "Option::is_none")]
        joined: Option<Value>,
        /// `{user}` of a user who left.
        #[serde(skip_serializing_if = "Option::is_none")]
        left: Option<Value>,
    },
    /// One page of a room's roster.
    Roster {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The room.
        room: String,
        /// Users present.
        count: usize,
        /// Where this page starts.
        offset: usize,
        /// `{user, name, role, connections}`, staff first, then by name.
        members: Vec<Value>,
        /// Offset of the next page, if any.
        next: Option<usize>,
    },
    /// A command succeeded.
    Ack {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The seq of the event the command produced, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
    },
    /// A command failed; the connection stays open.
    Error {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// `forbidden`, `not_found`, `invalid`, `too_large`, `rate_limited`, `muted`,
        /// `slow_mode`, `conflict`, `unavailable` (see docs/protocol.md).
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Answer to `ping`.
    Pong {
        /// Echoed `ref`.
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
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
    fn moderation_actions_parse_flat() {
        let f =
            parse(r#"{"type":"moderate","room":"class:1","action":"mute","user":"u1"}"#).unwrap();
        let (room, action) = f.command.into_room_action().unwrap();
        assert_eq!(room, "class:1");
        assert_eq!(
            action,
            RoomAction::Class(Action::Moderate(Moderation::Mute { user: "u1".into() }))
        );
        let f = parse(r#"{"type":"moderate","room":"r","action":"pin","question":7}"#).unwrap();
        assert!(matches!(
            f.command,
            Command::Moderate {
                action: Moderation::Pin {
                    question: 7,
                    pinned: true
                },
                ..
            }
        ));
        let bad = parse(r#"{"type":"moderate","room":"r","action":"explode","ref":"m1"}"#);
        assert_eq!(bad.unwrap_err().reference.as_deref(), Some("m1"));
        assert!(
            parse(r#"{"type":"moderate","room":"r","action":"slow_mode","seconds":-1}"#).is_err()
        );
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
    fn errors_name_the_problem_without_serde_internals() {
        let e = parse(r#"{"type":"dance","ref":"d1"}"#).unwrap_err();
        assert_eq!(e.message, "unknown type `dance` (see docs/protocol.md)");
        assert_eq!(e.reference.as_deref(), Some("d1"));
        let e = parse(r#"{"type":"chat","room":"x"}"#).unwrap_err();
        assert_eq!(e.message, "invalid `chat` frame: missing field `text`");
        let e = parse(r#"{"type":"moderate","room":"r","action":"explode"}"#).unwrap_err();
        assert!(!e.message.contains("expected one of"), "{}", e.message);
        assert!(!parse("{nope").unwrap_err().message.contains("column"));
    }

    #[test]
    fn server_frames_are_tagged() {
        let t = ServerFrame::Presence {
            room: "class:1".into(),
            count: 2,
            joined: None,
            left: None,
        }
        .to_text();
        assert_eq!(t, r#"{"type":"presence","room":"class:1","count":2}"#);
    }
}
