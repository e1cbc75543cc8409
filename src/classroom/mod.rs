//! Live classrooms: live sessions over HTTP and the durable room log the room actors write.
//!
//! - `sessions`: scheduling, starting, ending and listing live sessions; who may join.
//! - `log`: the room log (epoch + seq) in the database.

pub mod log;
pub mod sessions;
