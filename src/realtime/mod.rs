//! Realtime traffic over WebSockets.
//!
//! - `frames`: the frame layer (reassembly, size cap, UTF-8, close codes) shared by sessions.
//! - `protocol`: client commands and server frames.
//! - `session`: one actor per connection (`GET /ws`).
//! - `admission`: who may join which room, and what an accepted join records.
//! - `kind`: what differs between classroom and consultation rooms.
//! - `rate`: the per-connection command budget.
//! - `outlet`: a session's bounded outbound queue as rooms see it.
//! - `broker`: orders each room's log and carries it to the room actors hosting the room.
//! - `room`: room actors (single writers of their logs) and the registry that finds them.
//! - `echo`: the frame layer alone, echoing, for the Autobahn conformance suite.

pub mod admission;
pub mod broker;
pub mod echo;
pub mod frames;
pub mod kind;
pub mod outlet;
pub mod protocol;
pub mod rate;
pub mod room;
pub mod session;
