//! The broker orders each room's log and carries its events to every room actor hosting that
//! room. Giving an event its seq and delivering it to the other subscribers are one atomic
//! step, so every subscriber sees the same events in the same order with no gaps. The
//! publishing room stores the event and delivers it to its own members itself; if it cannot
//! store it, it takes the seq back (`abandon`) so nobody ever sees an event that was not kept.
//!
//! `InProcess` does this with a mutex on one node. A scale-out broker (Redis) implements the
//! same trait with a script that increments the seq, appends to a capped stream and publishes,
//! so room actors on any node see one log and the room logic does not change.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What broker calls return: boxed so the trait stays object-safe for any implementation.
pub type BrokerFuture<T> = Pin<Box<dyn Future<Output = Result<T, BrokerError>> + Send>>;

/// The broker could not be reached or refused the call.
#[derive(Debug, thiserror::Error)]
#[error("broker unavailable: {0}")]
pub struct BrokerError(pub String);

/// An event with its place in its room's log, as delivered to room actors.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Sequenced {
    /// Position in the epoch, +1 per event.
    pub seq: i64,
    /// When it was sequenced.
    pub at: DateTime<Utc>,
    /// Who caused it (none for system events).
    pub actor: Option<String>,
    /// What happened.
    pub kind: String,
    /// Payload.
    pub data: Value,
}

/// Orders room logs and delivers them to the room actors that host each room.
pub trait Broker: Send + Sync {
    /// Subscribes `deliver` to `room`. If the broker does not order the room yet, it continues
    /// the log stored in the database (`epoch`, `last` seq); otherwise its own position wins.
    /// Returns the epoch and last seq the subscriber starts from.
    fn attach(
        &self,
        room: &str,
        epoch: &str,
        last: i64,
        deliver: Recipient<Sequenced>,
    ) -> BrokerFuture<(String, i64)>;

    /// Gives the event the next seq of `room` and delivers it, in order, to every subscriber
    /// but `origin` (the publishing room, which delivers to its own members once stored).
    fn publish(
        &self,
        room: &str,
        origin: &Recipient<Sequenced>,
        actor: Option<String>,
        kind: &str,
        data: Value,
    ) -> BrokerFuture<Sequenced>;

    /// Takes back `seq` of `room` after its publisher failed to store it; true when it was
    /// still the last seq, so the next event reuses it and no gap appears.
    fn abandon(&self, room: &str, seq: i64) -> bool;

    /// Unsubscribes `deliver` from `room`.
    fn detach(&self, room: &str, deliver: &Recipient<Sequenced>);
}

struct Channel {
    epoch: String,
    seq: i64,
    subscribers: Vec<Recipient<Sequenced>>,
}

/// The single-node broker: room positions and subscribers in memory.
#[derive(Default)]
pub struct InProcess {
    channels: Mutex<HashMap<String, Channel>>,
}

impl InProcess {
    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Broker for InProcess {
    fn attach(
        &self,
        room: &str,
        epoch: &str,
        last: i64,
        deliver: Recipient<Sequenced>,
    ) -> BrokerFuture<(String, i64)> {
        let mut channels = self.channels();
        let channel = channels.entry(room.to_owned()).or_insert_with(|| Channel {
            epoch: epoch.to_owned(),
            seq: last,
            subscribers: Vec::new(),
        });
        channel.subscribers.push(deliver);
        let position = (channel.epoch.clone(), channel.seq);
        Box::pin(std::future::ready(Ok(position)))
    }

    fn publish(
        &self,
        room: &str,
        origin: &Recipient<Sequenced>,
        actor: Option<String>,
        kind: &str,
        data: Value,
    ) -> BrokerFuture<Sequenced> {
        let mut channels = self.channels();
        let result = match channels.get_mut(room) {
            Some(channel) => {
                channel.seq += 1;
                let event = Sequenced {
                    seq: channel.seq,
                    at: Utc::now(),
                    actor,
                    kind: kind.to_owned(),
                    data,
                };
                for s in channel.subscribers.iter().filter(|s| *s != origin) {
                    s.do_send(event.clone());
                }
                Ok(event)
            }
            None => Err(BrokerError(format!("{room} has no subscribers"))),
        };
        Box::pin(std::future::ready(result))
    }

    fn abandon(&self, room: &str, seq: i64) -> bool {
        match self.channels().get_mut(room) {
            Some(channel) if channel.seq == seq => {
                channel.seq -= 1;
                true
            }
            _ => false,
        }
    }

    fn detach(&self, room: &str, deliver: &Recipient<Sequenced>) {
        let mut channels = self.channels();
        if let Some(channel) = channels.get_mut(room) {
            channel.subscribers.retain(|s| s != deliver);
            if channel.subscribers.is_empty() {
                channels.remove(room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collector(Vec<i64>);

    impl Actor for Collector {
        type Context = Context<Self>;
    }

    impl Handler<Sequenced> for Collector {
        type Result = ();
        fn handle(&mut self, e: Sequenced, _: &mut Context<Self>) {
            self.0.push(e.seq);
        }
    }

    #[derive(Message)]
    #[rtype(result = "Vec<i64>")]
    struct Seen;

    impl Handler<Seen> for Collector {
        type Result = MessageResult<Seen>;
        fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Self::Result {
            MessageResult(self.0.clone())
        }
    }

    #[actix::test]
    async fn continues_the_stored_log_and_delivers_in_order_to_the_other_subscribers() {
        let broker = InProcess::default();
        let (a, b) = (Collector(vec![]).start(), Collector(vec![]).start());
        let start = broker
            .attach("r", "e1", 7, a.clone().recipient())
            .await
            .unwrap();
        assert_eq!(start, ("e1".to_owned(), 7));
        let again = broker
            .attach("r", "other", 0, b.clone().recipient())
            .await
            .unwrap();
        assert_eq!(again, ("e1".to_owned(), 7), "the broker's position wins");
        let origin = a.clone().recipient();
        let publish = || broker.publish("r", &origin, None, "chat", Value::Null);
        for _ in 0..3 {
            publish().await.unwrap();
        }
        assert_eq!(b.send(Seen).await.unwrap(), vec![8, 9, 10]);
        assert_eq!(
            a.send(Seen).await.unwrap(),
            Vec::<i64>::new(),
            "the origin delivers its own"
        );
        let e = publish().await.unwrap();
        assert!(broker.abandon("r", e.seq), "a failed seq is taken back");
        let again = publish().await.unwrap();
        assert_eq!(again.seq, e.seq, "and reused");
        publish().await.unwrap();
        assert!(
            !broker.abandon("r", again.seq),
            "not once a later seq exists"
        );
        broker.detach("r", &a.clone().recipient());
        broker.detach("r", &b.clone().recipient());
        assert!(publish().await.is_err());
    }
}
