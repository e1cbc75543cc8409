//! Live classrooms: live sessions over HTTP and the durable room log the room actors write.
//!
//! - `sessions`: scheduling, starting, ending and listing live sessions; who may join.
//! - `log`: the room log (epoch + seq) in the database.
//! - `rules`: what members may do in a room (chat, Q&A, hands, polls, moderation) and the
//!   room state those events build, as plain functions.
//! - `transcript`: a session's chat and Q&A read back from its log.

pub mod log;
pub mod rules;
pub mod sessions;
pub mod transcript;
