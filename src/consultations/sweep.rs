//! The consultation sweep: what no request will come back for — unpaid bookings past their
//! deadline, no-shows, sessions a crash left unsettled, paid questions past their deadline and
//! unlocks a crash left uncaptured. Each item runs through the order actor under the key of
//! its money, so the sweep never runs beside the room, a webhook or a request touching it.

use std::sync::Arc;

use actix::Addr;

use super::bookings::{self, ConsultConfig};
use super::questions;
use crate::clock::SharedClock;
use crate::orders::actor::{Command, OrderActor};

/// Runs the consultation sweep (unpaid bookings, no-shows, unsettled sessions; paid questions
/// past their deadline; unlocks a crash left uncaptured) through the order actor every
/// `every`, judged by `clock`.
pub async fn run(
    orders: Addr<OrderActor>,
    cfg: Arc<ConsultConfig>,
    clock: SharedClock,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = clock.now();
        let scan = Command::new("consult-sweep", move |c, _, _| Ok(bookings::due(c, now)?));
        let due = match orders.send(scan).await {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "consultation sweep failed");
                Vec::new()
            }
            Err(_) => return,
        };
        // Each booking under its own key, so the sweep never runs beside the room, a webhook
        // or a request touching the same booking's money.
        for id in due {
            let (key, c) = (format!("booking:{id}"), cfg.clone());
            let one = Command::new(key, move |conn, p, _| {
                bookings::sweep_one(conn, p, &c, &id, now)
            });
            match orders.send(one).await {
                Ok(Ok(true)) => tracing::info!("consultation sweep moved a booking"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "consultation sweep failed"),
                Err(_) => return,
            }
        }
        if question_sweep(&orders, &cfg, now).await.is_err() {
            return;
        }
    }
}

/// Expires paid questions whose deadline passed (each under its own `question:<id>` key, so
/// never beside an answer to it) and finishes unlocks whose capture a crash interrupted (under
/// the hold's key, like its webhook). Err only when the actor is gone.
async fn question_sweep(
    orders: &Addr<OrderActor>,
    cfg: &Arc<ConsultConfig>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), actix::MailboxError> {
    let find = Command::new("question-sweep", move |c, _, _| {
        Ok((questions::due(c, now)?, questions::unfinished_unlocks(c)?))
    });
    let (due, unlocks) = match orders.send(find).await? {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "question sweep failed");
            return Ok(());
        }
    };
    for id in due {
        let key = format!("question:{id}");
        let expire = Command::new(key, move |c, p, _| questions::expire(c, p, &id, now));
        match orders.send(expire).await? {
            Ok(true) => tracing::info!("paid question expired"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "question expiry failed"),
        }
    }
    for hold in unlocks {
        let (key, cfg) = (format!("order:{hold}"), cfg.clone());
        let finish = Command::new(key, move |c, p, _| {
            questions::finish_unlock(c, p, &cfg, &hold)
        });
        if let Err(e) = orders.send(finish).await? {
            tracing::warn!(error = %e, "finishing an unlock failed");
        }
    }
    Ok(())
}
