//! What a room holds of each session: a bounded outbound queue for room traffic (`Outlet`) and
//! a side channel for answers and notices (`Notice`).
//!
//! Room frames are counted in when a room offers them and out when the session hands them to
//! its socket. A session whose socket cannot keep up stops draining (actix stops polling it
//! while the connection's write buffer is full), so its count grows; at the cap the room drops
//! it instead of queueing more, and the session is told to close as a slow consumer. So a slow
//! or dead client costs at most `cap` frames of memory and never delays its room.
//!
//! A client that stops reading altogether also stalls its session actor (or, once the session
//! closed, the server's flush of what it still had to write), so the connection would linger.
//! Each connection therefore keeps a duplicate of its socket (`Connection`); an evicted
//! connection's socket is shut down from outside at the deadline.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::Extensions;
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

/// The socket of one HTTP connection, duplicated when it is accepted (see `on_connect`).
pub struct Socket(socket2::Socket);

/// Keeps a duplicate of each accepted TCP socket in the connection's data, for `Connection`.
pub fn on_connect(conn: &dyn Any, data: &mut Extensions) {
    let tcp = conn.downcast_ref::<actix_web::rt::net::TcpStream>();
    if let Some(dup) = tcp.and_then(|t| socket2::SockRef::from(t).try_clone().ok()) {
        data.insert(Arc::new(Socket(dup)));
    }
}

/// What a session and the rooms share about its connection.
pub struct Connection {
    queued: AtomicUsize,
    socket: Option<Arc<Socket>>,
}

impl Connection {
    /// A connection over `socket` (absent when the server could not duplicate it).
    pub fn new(socket: Option<Arc<Socket>>) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            socket,
        }
    }

    /// Marks one queue entry as written; called by the session for each `Outbound` it handles.
    pub fn drained(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Shuts the socket down: the server's blocked writes fail and the connection is dropped.
    /// Harmless if the connection already ended (the duplicate keeps the socket valid).
    pub fn cut_off(&self) {
        let shut = self
            .socket
            .as_ref()
            .map(|s| s.0.shutdown(std::net::Shutdown::Both));
        if let Some(Ok(())) = shut {
            metrics::counter!("ws_forced_shutdowns_total").increment(1);
        }
    }
}

/// A session's bounded outbound queue, as rooms see it.
#[derive(Clone)]
pub struct Outlet {
    to: Recipient<Outbound>,
    notices: Recipient<Notice>,
    conn: Arc<Connection>,
    cap: usize,
    /// How long an evicted session may take to close before its socket is shut down.
    deadline: Duration,
}

impl Outlet {
    /// An outlet for a session and its connection, holding at most `cap` entries; an evicted
    /// session must close within `deadline`.
    pub fn new(
        to: Recipient<Outbound>,
        notices: Recipient<Notice>,
        conn: Arc<Connection>,
        cap: usize,
        deadline: Duration,
    ) -> Self {
        Self {
            to,
            notices,
            conn,
            cap: cap.max(1),
            deadline,
        }
    }

    /// Queues `frames`; false (and nothing queued) when the session is already `cap` behind.
    pub fn offer(&self, frames: Outbound) -> bool {
        if self.conn.queued.load(Ordering::Relaxed) >= self.cap {
            return false;
        }
        self.conn.queued.fetch_add(1, Ordering::Relaxed);
        self.to.do_send(frames);
        true
    }

    /// Sends a notice outside the queue.
    pub fn notify(&self, notice: Notice) {
        self.notices.do_send(notice);
    }

    /// Whether the session is still there to receive frames.
    pub fn connected(&self) -> bool {
        self.to.connected()
    }

    /// Tells a slow session to close (4009), and shuts its socket down at the deadline: a
    /// client that reads again has its close by then; one that never does cannot hold the
    /// connection.
    pub fn evict(&self) {
        self.notify(Notice::Evict);
        let (conn, deadline) = (self.conn.clone(), self.deadline);
        actix::spawn(async move {
            tokio::time::sleep(deadline).await;
            conn.cut_off();
        });
    }
}
