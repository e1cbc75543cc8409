//! What a room holds of each session: a bounded outbound queue for room traffic (`Outlet`) and
//! a side channel for answers and notices (`Notice`).
//!
//! Room frames are counted in when a room offers them and out when the session hands them to
//! its socket. A session whose socket cannot keep up stops draining (actix stops polling it
//! while the connection's write buffer is full), so its count grows; at the cap the room drops
//! it instead of queueing more, and the session is told to close as a slow consumer. So a slow
//! or dead client costs at most `cap` frames of memory and never delays its room.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::prelude::*;
use bytestring::ByteString;

/// Room frames for one session, already encoded; counted as one queue entry.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Outbound {
    /// One frame (a live event or presence change).
    One(ByteString),
    /// A batch written together (a join's replay and its `joined`).
    Many(Vec<ByteString>),
}

/// Answers and notices from rooms to a session, outside the counted queue: they answer the
/// session's own commands (bounded by its rate limit) or end its membership.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Notice {
    /// An `ack`, `error` or `roster` frame.
    Reply(ByteString),
    /// The join was accepted: sent before the `joined` frame (one mailbox keeps them in order),
    /// so the session routes the client's next commands to the room.
    Joined {
        /// The room.
        room: String,
        /// Its actor.
        addr: Addr<super::room::Room>,
    },
    /// The member was removed from the room (kicked); the session forgets it.
    Removed {
        /// The room.
        room: String,
    },
    /// The session fell too far behind; it must close as a slow consumer.
    Evict,
}

/// A session's bounded outbound queue, as rooms see it.
#[derive(Clone)]
pub struct Outlet {
    to: Recipient<Outbound>,
    notices: Recipient<Notice>,
    queued: Arc<AtomicUsize>,
    cap: usize,
}

impl Outlet {
    /// An outlet for a session whose `queued` counter it shares, holding at most `cap` entries.
    pub fn new(
        to: Recipient<Outbound>,
        notices: Recipient<Notice>,
        queued: Arc<AtomicUsize>,
        cap: usize,
    ) -> Self {
        Self {
            to,
            notices,
            queued,
            cap: cap.max(1),
        }
    }

    /// Queues `frames`; false (and nothing queued) when the session is already `cap` behind.
    pub fn offer(&self, frames: Outbound) -> bool {
        if self.queued.load(Ordering::Relaxed) >= self.cap {
            return false;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.to.do_send(frames);
        true
    }

    /// Sends a notice outside the queue.
    pub fn notify(&self, notice: Notice) {
        self.notices.do_send(notice);
    }
}

/// Marks one queue entry as written; called by the session for each `Outbound` it handles.
pub fn drained(queued: &AtomicUsize) {
    queued.fetch_sub(1, Ordering::Relaxed);
}
