//! The WebSocket frame layer every session uses: turns actix's per-frame messages into whole
//! application messages and decides, per RFC 6455, when the connection must be failed and with
//! which close code. actix-web-actors hands us fragments (`Continuation`) and protocol errors
//! raw; its examples ignore both, which is what fails half of the Autobahn suite.
//!
//! Pure logic, no I/O: `Reassembler::push` takes one item of the actor's stream and returns what
//! to do with it.

use actix_http::ws::Item;
use actix_web::web::{Bytes, BytesMut};
use actix_web_actors::ws::{CloseCode, CloseReason, Message, ProtocolError};

/// A whole inbound message or control frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A complete, valid UTF-8 text message.
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping to answer with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong (heartbeat answer).
    Pong,
    /// The peer started the closing handshake.
    Close(Option<CloseReason>),
}

/// Why the connection must be failed: send a close frame with this code, then stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1002 protocol error, 1007 invalid payload data, 1009 message too big.
    pub code: CloseCode,
    /// Short reason for the close frame and the log.
    pub reason: &'static str,
}

impl Failure {
    fn protocol(reason: &'static str) -> Self {
        Self {
            code: CloseCode::Protocol,
            reason,
        }
    }

    fn too_big() -> Self {
        Self {
            code: CloseCode::Size,
            reason: "message too big",
        }
    }

    fn invalid_utf8() -> Self {
        Self {
            code: CloseCode::Invalid,
            reason: "text is not valid UTF-8",
        }
    }
}

impl From<Failure> for CloseReason {
    fn from(f: Failure) -> Self {
        CloseReason {
            code: f.code,
            description: Some(f.reason.to_owned()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// Reassembles fragmented messages under a size cap.
#[derive(Debug)]
pub struct Reassembler {
    max_message: usize,
    partial: Option<(Kind, BytesMut)>,
}

impl Reassembler {
    /// A reassembler accepting whole messages of at most `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            partial: None,
        }
    }

    fn check_size(&self, len: usize) -> Result<(), Failure> {
        if len > self.max_message {
            Err(Failure::too_big())
        } else {
            Ok(())
        }
    }

    fn start(&mut self, kind: Kind, first: Bytes) -> Result<Option<Inbound>, Failure> {
        if self.partial.is_some() {
            return Err(Failure::protocol(
                "new message before the fragmented one finished",
            ));
        }
        self.check_size(first.len())?;
        self.partial = Some((kind, BytesMut::from(&first[..])));
        Ok(None)
    }

    fn append(&mut self, more: Bytes, last: bool) -> Result<Option<Inbound>, Failure> {
        let Some((kind, mut buf)) = self.partial.take() else {
            return Err(Failure::protocol("continuation without a first fragment"));
        };
        self.check_size(buf.len() + more.len())?;
        buf.extend_from_slice(&more);
        if !last {
            self.partial = Some((kind, buf));
            return Ok(None);
        }
        Ok(Some(match kind {
            Kind::Text => {
                Inbound::Text(String::from_utf8(buf.to_vec()).map_err(|_| Failure::invalid_utf8())?)
            }
            Kind::Binary => Inbound::Binary(buf.freeze()),
        }))
    }

    /// Handles one item of the actor's stream.
    pub fn push(
        &mut self,
        item: Result<Message, ProtocolError>,
    ) -> Result<Option<Inbound>, Failure> {
        let msg = item.map_err(|e| classify(&e))?;
        match msg {
            Message::Text(_) | Message::Binary(_) if self.partial.is_some() => {
                Err(Failure::protocol("data frame inside a fragmented message"))
            }
            Message::Text(text) => {
                self.check_size(text.len())?;
                Ok(Some(Inbound::Text(text.to_string())))
            }
            Message::Binary(data) => {
                self.check_size(data.len())?;
                Ok(Some(Inbound::Binary(data)))
            }
            Message::Continuation(Item::FirstText(b)) => self.start(Kind::Text, b),
            Message::Continuation(Item::FirstBinary(b)) => self.start(Kind::Binary, b),
            Message::Continuation(Item::Continue(b)) => self.append(b, false),
            Message::Continuation(Item::Last(b)) => self.append(b, true),
            Message::Ping(b) => Ok(Some(Inbound::Ping(b))),
            Message::Pong(_) => Ok(Some(Inbound::Pong)),
            Message::Close(reason) => Ok(Some(Inbound::Close(reason))),
            Message::Nop => Ok(None),
        }
    }
}

/// The close code for a protocol error reported by actix's codec.
fn classify(e: &ProtocolError) -> Failure {
    match e {
        ProtocolError::Overflow => Failure::too_big(),
        // actix reports an invalid UTF-8 text frame as an I/O error carrying the UTF-8 error.
        ProtocolError::Io(io) if io.to_string().contains("utf-8") => Failure::invalid_utf8(),
        _ => Failure::protocol("protocol error"),
    }
}

/// The code to answer a peer's close frame with: its own code when it sent one, else normal.
pub fn close_reply(reason: Option<CloseReason>) -> CloseReason {
    match reason {
        Some(r) => CloseReason {
            code: r.code,
            description: None,
        },
        None => CloseCode::Normal.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::web::Bytes;
    use bytestring::ByteString;

    fn text(s: &str) -> Result<Message, ProtocolError> {
        Ok(Message::Text(ByteString::from(s.to_owned())))
    }

    fn cont(item: Item) -> Result<Message, ProtocolError> {
        Ok(Message::Continuation(item))
    }

    #[test]
    fn whole_messages_pass_through() {
        let mut r = Reassembler::new(10);
        assert_eq!(
            r.push(text("hello")),
            Ok(Some(Inbound::Text("hello".into())))
        );
        assert_eq!(
            r.push(Ok(Message::Binary(Bytes::from_static(b"\x00\x01")))),
            Ok(Some(Inbound::Binary(Bytes::from_static(b"\x00\x01"))))
        );
        assert_eq!(r.push(text("01234567890")), Err(Failure::too_big()));
    }

    #[test]
    fn fragments_are_reassembled_and_validated_at_the_end() {
        let mut r = Reassembler::new(100);
        // "é" split across fragments is only valid once whole.
        assert_eq!(
            r.push(cont(Item::FirstText(Bytes::from_static(b"caf\xc3")))),
            Ok(None)
        );
        assert_eq!(
            r.push(Ok(Message::Ping(Bytes::from_static(b"p")))),
            Ok(Some(Inbound::Ping(Bytes::from_static(b"p"))))
        );
        assert_eq!(
            r.push(cont(Item::Last(Bytes::from_static(b"\xa9!")))),
            Ok(Some(Inbound::Text("café!".into())))
        );
        r.push(cont(Item::FirstText(Bytes::from_static(b"\xff"))))
            .unwrap();
        assert_eq!(
            r.push(cont(Item::Last(Bytes::new()))),
            Err(Failure::invalid_utf8())
        );
    }

    #[test]
    fn protocol_violations_fail_the_connection() {
        let mut r = Reassembler::new(8);
        assert_eq!(
            r.push(cont(Item::Continue(Bytes::new()))).unwrap_err().code,
            CloseCode::Protocol
        );
        r.push(cont(Item::FirstBinary(Bytes::from_static(b"1234"))))
            .unwrap();
        assert_eq!(r.push(text("x")).unwrap_err().code, CloseCode::Protocol);
        let mut r = Reassembler::new(8);
        r.push(cont(Item::FirstBinary(Bytes::from_static(b"1234"))))
            .unwrap();
        assert_eq!(
            r.push(cont(Item::Continue(Bytes::from_static(b"56789")))),
            Err(Failure::too_big())
        );
        assert_eq!(
            r.push(Err(ProtocolError::Overflow)),
            Err(Failure::too_big())
        );
        assert_eq!(
            r.push(Err(ProtocolError::BadOpCode)).unwrap_err().code,
            CloseCode::Protocol
        );
    }

    #[test]
    fn close_replies_echo_the_peer_code() {
        assert_eq!(close_reply(None).code, CloseCode::Normal);
        assert_eq!(
            close_reply(Some(CloseCode::Away.into())).code,
            CloseCode::Away
        );
    }
}
