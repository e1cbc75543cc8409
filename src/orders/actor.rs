//! The order actor: every purchase command (checkout, provider event, cancel, refund, expiry)
//! goes through it and is serialised per order — two commands for one order never overlap on
//! this node, while commands for different orders run side by side. Across nodes the database
//! enforces the same rules (unique keys, conditional updates), so correctness never depends on
//! this actor being the only one.
//!
//! Owns: the payment provider, the commerce settings, and one async lock per key in use.
//! Receives: [`Command`] from HTTP handlers and the expiry sweep. Started by `startup` and
//! stopped with the system. Its mailbox is actix's bounded default; each command's work runs on
//! the blocking pool, never on the actor's thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::Mutex;

use super::service::{self, CommerceConfig, OrderError};
use crate::db::{Db, DbConnection};
use crate::payments::PaymentProvider;

/// The work a command does, given a connection, the provider and the settings.
type Job<T> = Box<
    dyn FnOnce(&mut DbConnection, &dyn PaymentProvider, &CommerceConfig) -> Result<T, OrderError>
        + Send,
>;

/// A purchase command: `job` runs once no other command with the same `key` is running.
pub struct Command<T> {
    key: String,
    job: Job<T>,
}

impl<T> Command<T> {
    /// A command serialised under `key` — `order:<id>` for an existing order, or
    /// `checkout:<user>:<idempotency key>` for a checkout that has no order yet.
    pub fn new(
        key: impl Into<String>,
        job: impl FnOnce(
            &mut DbConnection,
            &dyn PaymentProvider,
            &CommerceConfig,
        ) -> Result<T, OrderError>
        + Send
        + 'static,
    ) -> Self {
        Self {
            key: key.into(),
            job: Box::new(job),
        }
    }
}

impl<T: Send + 'static> Message for Command<T> {
    type Result = Result<T, OrderError>;
}

/// Serialises purchase commands per order.
pub struct OrderActor {
    db: Db,
    provider: Arc<dyn PaymentProvider>,
    cfg: Arc<CommerceConfig>,
    locks: HashMap<String, Arc<Mutex<()>>>,
    sweep_every: Duration,
}

impl OrderActor {
    /// An actor over `db` and `provider`; unpaid orders are swept every `sweep_every`.
    pub fn new(
        db: Db,
        provider: Arc<dyn PaymentProvider>,
        cfg: CommerceConfig,
        sweep_every: Duration,
    ) -> Self {
        Self {
            db,
            provider,
            cfg: Arc::new(cfg),
            locks: HashMap::new(),
            sweep_every,
        }
    }

    /// The lock for `key`, dropping locks nobody holds any more so the map stays small.
    fn lock_for(&mut self, key: String) -> Arc<Mutex<()>> {
        if self.locks.len() > 1024 {
            self.locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        self.locks.entry(key).or_default().clone()
    }
}

impl Actor for OrderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // At start too: work a crashed process left half done (refund intents, dead
        // checkouts) is reconciled as soon as a node is back.
        ctx.notify(Sweep);
        ctx.run_interval(self.sweep_every, |_, ctx| ctx.notify(Sweep));
    }
}

/// Sent by the actor to itself at start and on an interval: the order sweep (expiry, dead
/// checkouts, refund intents; see [`service::sweep`]), through the same per-key path as any
/// command.
#[derive(Message)]
#[rtype(result = "()")]
struct Sweep;

impl Handler<Sweep> for OrderActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Sweep, ctx: &mut Context<Self>) -> Self::Result {
        let sweep = Command::new("sweep", service::sweep);
        let done = <Self as Handler<Command<service::SweepReport>>>::handle(self, sweep, ctx);
        Box::pin(async move {
            match done.await {
                Ok(r) if r == service::SweepReport::default() => {}
                Ok(r) => tracing::info!(
                    expired = r.expired,
                    abandoned = r.abandoned,
                    refunds_landed = r.refunds_landed,
                    "order sweep"
                ),
                Err(e) => tracing::warn!(error = %e, "order sweep failed"),
            }
        })
    }
}

impl<T: Send + 'static> Handler<Command<T>> for OrderActor {
    type Result = ResponseFuture<Result<T, OrderError>>;

    fn handle(&mut self, cmd: Command<T>, _: &mut Context<Self>) -> Self::Result {
        let lock = self.lock_for(cmd.key);
        let (db, provider, cfg, job) = (
            self.db.clone(),
            self.provider.clone(),
            self.cfg.clone(),
            cmd.job,
        );
        Box::pin(async move {
            let _turn = lock.lock_owned().await;
            db.run(move |c| job(c, provider.as_ref(), &cfg)).await
        })
    }
}
