//! The slice of the Lyceum WebSocket protocol (`docs/protocol.md`) the generator speaks: the
//! commands it sends, and a borrowing view of server frames that reads only the fields it
//! measures — so the hot path (one parse per received frame) allocates nothing of its own.
//!
//! Generated texts start with a latency stamp, `lt<µs> `, the *intended* send time in
//! microseconds since the run's epoch; receivers subtract it from their clock. Stamping the
//! intended time rather than the actual one is what keeps the measurement free of coordinated
//! omission: a send the generator made late still counts its lateness.

use std::borrow::Cow;
use std::fmt::Write;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// Filler after the stamp; texts are sliced from it.
const FILLER: &str = concat!(
    "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut ",
    "labore et dolore magna aliqua Ut enim ad minim veniam quis nostrud exercitation ullamco ",
);

/// A server frame, borrowed from the received text.
#[derive(Debug, Deserialize)]
pub struct Frame<'a> {
    /// `event`, `ack`, `error`, `joined`, `presence`, `hello`, `pong`, …
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// Room log position (`event`, `joined`, `ack`).
    pub seq: Option<u64>,
    /// The command reference echoed in `ack`, `error` and `joined`.
    #[serde(rename = "ref", borrow)]
    pub reference: Option<Cow<'a, str>>,
    /// Error code of an `error`.
    #[serde(borrow)]
    pub code: Option<Cow<'a, str>>,
    /// Whether a rejoin was honoured (`joined`).
    pub recovered: Option<bool>,
    /// The room's epoch (`joined`).
    #[serde(borrow)]
    pub epoch: Option<Cow<'a, str>>,
    /// The kind of an `event` (`chat`, `question_asked`, …).
    #[serde(rename = "kind", borrow)]
    pub event: Option<Cow<'a, str>>,
    /// The event's data, as far as it is measured.
    #[serde(borrow)]
    pub data: Option<Data<'a>>,
}

/// The fields of event data the generator uses.
#[derive(Debug, Deserialize)]
pub struct Data<'a> {
    /// Chat or question text (carries the stamp).
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    /// A held question hides its text from learners.
    pub held: Option<bool>,
    /// Options of a `poll_opened`.
    pub options: Option<Vec<IgnoredAny>>,
    /// The poll of a `poll_closed`.
    pub poll: Option<u64>,
}

impl<'a> Frame<'a> {
    /// Parses one text frame.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The intended send time stamped in the event's text, if it carries one.
    pub fn stamp(&self) -> Option<u64> {
        let text = self.data.as_ref()?.text.as_deref()?;
        read_stamp(text)
    }
}

/// Reads the stamp at the front of `text`.
pub fn read_stamp(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("lt")?;
    let end = rest.find(' ')?;
    rest[..end].parse().ok()
}

/// A stamped text of `len` characters (at least the stamp itself).
fn stamped(intended_us: u64, len: usize, out: &mut String) {
    let start = out.len();
    let _ = write!(out, "lt{intended_us} ");
    let mut left = len.saturating_sub(out.len() - start);
    while left > 0 {
        let take = left.min(FILLER.len());
        out.push_str(&FILLER[..take]);
        left -= take;
    }
}

/// The commands the generator sends. Each becomes exactly one JSON text.
#[derive(Debug, Clone, Copy)]
pub enum Command<'a> {
    /// `join`, optionally resuming after `since` in `epoch`.
    Join {
        /// Room name.
        room: &'a str,
        /// Where to resume.
        since: Option<(u64, &'a str)>,
    },
    /// `leave`.
    Leave {
        /// Room name.
        room: &'a str,
    },
    /// `chat` with a stamped text.
    Chat {
        /// Room name.
        room: &'a str,
        /// Intended send time (µs since the epoch).
        intended_us: u64,
        /// Text length.
        len: usize,
    },
    /// `ask` with a stamped text.
    Ask {
        /// Room name.
        room: &'a str,
        /// Intended send time.
        intended_us: u64,
        /// Text length.
        len: usize,
    },
    /// `vote` for a question.
    Vote {
        /// Room name.
        room: &'a str,
        /// Question id (its seq).
        question: u64,
    },
    /// `hand`.
    Hand {
        /// Room name.
        room: &'a str,
        /// Raise or lower.
        raised: bool,
    },
    /// `poll_open` with three options (staff).
    PollOpen {
        /// Room name.
        room: &'a str,
    },
    /// `poll_vote`.
    PollVote {
        /// Room name.
        room: &'a str,
        /// Poll id (its seq).
        poll: u64,
        /// Chosen option.
        option: u64,
    },
}

impl Command<'_> {
    /// The JSON text, with `reference` as its `ref`.
    pub fn encode(&self, reference: u32) -> String {
        let mut s = String::with_capacity(96);
        let _ = match *self {
            Command::Join { room, since: None } => {
                write!(s, r#"{{"type":"join","room":"{room}""#)
            }
            Command::Join {
                room,
                since: Some((seq, epoch)),
            } => write!(
                s,
                r#"{{"type":"join","room":"{room}","since":{seq},"epoch":"{epoch}""#
            ),
            Command::Leave { room } => write!(s, r#"{{"type":"leave","room":"{room}""#),
            Command::Chat {
                room,
                intended_us,
                len,
            }
            | Command::Ask {
                room,
                intended_us,
                len,
            } => {
                let kind = if matches!(self, Command::Chat { .. }) {
                    "chat"
                } else {
                    "ask"
                };
                let _ = write!(s, r#"{{"type":"{kind}","room":"{room}","text":""#);
                stamped(intended_us, len, &mut s);
                write!(s, "\"")
            }
            Command::Vote { room, question } => write!(
                s,
                r#"{{"type":"vote","room":"{room}","question":{question}"#
            ),
            Command::Hand { room, raised } => {
                write!(s, r#"{{"type":"hand","room":"{room}","raised":{raised}"#)
            }
            Command::PollOpen { room } => write!(
                s,
                r#"{{"type":"poll_open","room":"{room}","question":"Pace?","options":["slower","right","faster"]"#
            ),
            Command::PollVote { room, poll, option } => write!(
                s,
                r#"{{"type":"poll_vote","room":"{room}","poll":{poll},"option":{option}"#
            ),
        };
        let _ = write!(s, r#","ref":"{reference}"}}"#);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_texts_have_the_asked_length_and_read_back() {
        let json = Command::Chat {
            room: "class:x",
            intended_us: 1234567,
            len: 300,
        }
        .encode(7);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let text = v["text"].as_str().unwrap();
        assert_eq!(text.chars().count(), 300);
        assert_eq!(read_stamp(text), Some(1234567));
        assert_eq!(
            (v["type"].as_str(), v["ref"].as_str()),
            (Some("chat"), Some("7"))
        );
        let ask = Command::Ask {
            room: "class:x",
            intended_us: 5,
            len: 60,
        }
        .encode(8);
        let v: serde_json::Value = serde_json::from_str(&ask).unwrap();
        assert_eq!(v["type"], "ask");
        assert_eq!(v["text"].as_str().map(|t| t.chars().count()), Some(60));
    }

    #[test]
    fn frames_are_read_without_the_fields_we_skip() {
        let f = Frame::parse(
            r#"{"type":"event","room":"class:a","seq":45,"kind":"chat","at":"x","data":{"name":"Bo","text":"lt99 hi","user":"u"}}"#,
        )
        .unwrap();
        assert_eq!((f.kind.as_ref(), f.seq), ("event", Some(45)));
        assert_eq!(f.stamp(), Some(99));
        let j = Frame::parse(
            r#"{"type":"joined","ref":"1","room":"r","epoch":"e1","seq":3,"recovered":false,"presence":1,"state":{"questions":[{"text":"q","id":1}]}}"#,
        )
        .unwrap();
        assert_eq!(j.epoch.as_deref(), Some("e1"));
        assert_eq!(j.recovered, Some(false));
        let join = Command::Join {
            room: "class:a",
            since: Some((41, "e1")),
        }
        .encode(2);
        let v: serde_json::Value = serde_json::from_str(&join).unwrap();
        assert_eq!(
            (v["since"].as_u64(), v["epoch"].as_str()),
            (Some(41), Some("e1"))
        );
    }
}
