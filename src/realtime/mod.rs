//! Realtime traffic over WebSockets.
//!
//! - `frames`: the frame layer (reassembly, size cap, UTF-8, close codes) shared by sessions.
//! - `echo`: the frame layer alone, echoing, for the Autobahn conformance suite.

pub mod echo;
pub mod frames;
