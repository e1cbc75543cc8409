//! Delivers the sandbox's queued webhook events to our own webhook endpoint, like a real
//! processor would: signed, retried with exponential backoff on any non-2xx answer or network
//! error, and — in chaos mode — some delivered twice and out of order, so the receiver's
//! deduplication and ordering rules are exercised for real.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use diesel::prelude::*;
use tokio::sync::Notify;

use super::signature;
use crate::config::Secret;
use crate::db::schema::sandbox_outbox;
use crate::db::{self, Db, DbConnection};

/// Attempts before an event is given up (its row keeps the last error).
pub const MAX_ATTEMPTS: i32 = 12;
/// Events handled per pass.
const BATCH: i64 = 64;
/// How often the outbox is looked at even when nobody rang.
const POLL: Duration = Duration::from_millis(500);

/// Delay before attempt `n + 1` after `n` failures: 0.5 s doubling, at most 5 minutes.
pub fn backoff(failures: i32) -> Duration {
    let exp = failures.clamp(0, 10) as u32;
    Duration::from_millis(500u64.saturating_mul(1u64 << exp)).min(Duration::from_secs(300))
}

/// Our own webhook endpoint as reached from this machine when the server listens on `ip`:
/// an unspecified address (`0.0.0.0`, `::`) is reached through the loopback of its family, and
/// an IPv6 host is bracketed as URLs require (`http://[::1]:8080/…`).
pub fn local_webhook_url(ip: IpAddr, port: u16) -> String {
    let host = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => format!("[{}]", Ipv6Addr::LOCALHOST),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!("http://{host}:{port}/api/v1/payments/webhook")
}

/// Where and how events are delivered.
pub struct Dispatcher {
    /// The sandbox's books.
    pub db: Db,
    /// Our webhook endpoint.
    pub url: String,
    /// Shared HMAC secret.
    pub secret: Secret,
    /// Deliver some events twice and shuffle their order.
    pub chaos: bool,
    /// Rung by the sandbox when it queues an event.
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    /// Runs until the task is dropped or aborted.
    pub async fn run(self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let this = Arc::new(self);
        loop {
            tokio::select! {
                () = this.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            match this.due().await {
                Ok(batch) if !batch.is_empty() => {
                    let deliveries = batch.into_iter().map(|(id, payload)| {
                        let (this, client) = (this.clone(), client.clone());
                        tokio::spawn(async move { this.deliver(&client, id, payload).await })
                    });
                    for d in deliveries.collect::<Vec<_>>() {
                        let _ = d.await;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sandbox outbox unavailable"),
            }
        }
    }

    async fn due(&self) -> Result<Vec<(String, String)>, db::DbError> {
        let chaos = self.chaos;
        self.db
            .run(move |c| {
                let mut rows = undelivered(c, Some(db::now()), BATCH)?;
                if chaos {
                    rows.reverse();
                }
                Ok(rows)
            })
            .await
    }

    async fn deliver(&self, client: &reqwest::Client, event_id: String, payload: String) {
        if self.chaos {
            // Jitter so concurrent deliveries overtake each other.
            tokio::time::sleep(Duration::from_millis(u64::from(OsRng.next_u32() % 200))).await;
        }
        let outcome = self.post(client, &payload).await;
        if outcome.is_ok() && self.chaos && OsRng.next_u32().is_multiple_of(3) {
            let _ = self.post(client, &payload).await;
        }
        let result = self
            .db
            .run(move |c| {
                let now = db::now();
                let target = sandbox_outbox::table.find(&event_id);
                match outcome {
                    Ok(()) => mark_delivered(c, &event_id),
                    Err(error) => {
                        let attempts: i32 = sandbox_outbox::table
                            .find(&event_id)
                            .select(sandbox_outbox::attempts)
                            .first(c)?;
                        let delay =
                            chrono::Duration::from_std(backoff(attempts)).unwrap_or_default();
                        tracing::debug!(
                            event_id,
                            attempts,
                            error,
                            "webhook delivery failed; will retry"
                        );
                        diesel::update(target)
                            .set((
                                sandbox_outbox::attempts.eq(attempts + 1),
                                sandbox_outbox::next_attempt_at.eq(now + delay),
                                sandbox_outbox::last_error.eq(Some(error)),
                            ))
                            .execute(c)
                    }
                }
                .map_err(db::DbError::from)
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a webhook delivery");
        }
    }

    async fn post(&self, client: &reqwest::Client, payload: &str) -> Result<(), String> {
        let header = signature::sign(
            self.secret.expose().as_bytes(),
            chrono::Utc::now().timestamp(),
            payload.as_bytes(),
        );
        let resp = client
            .post(&self.url)
            .header("content-type", "application/json")
            .header(signature::HEADER, header)
            .body(payload.to_owned())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status()))
        }
    }
}

/// Undelivered events that have attempts left, oldest first, as `(event id, payload)`; only
/// those due by `due_by` when given.
pub fn undelivered(
    conn: &mut DbConnection,
    due_by: Option<chrono::NaiveDateTime>,
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    let mut q = sandbox_outbox::table
        .filter(sandbox_outbox::delivered_at.is_null())
        .filter(sandbox_outbox::attempts.lt(MAX_ATTEMPTS))
        .into_boxed();
    if let Some(t) = due_by {
        q = q.filter(sandbox_outbox::next_attempt_at.le(t));
    }
    q.order(sandbox_outbox::created_at)
        .limit(limit)
        .select((sandbox_outbox::event_id, sandbox_outbox::payload))
        .load(conn)
}

/// Records that an event reached its receiver.
pub fn mark_delivered(conn: &mut DbConnection, event_id: &str) -> QueryResult<usize> {
    diesel::update(sandbox_outbox::table.find(event_id))
        .set(sandbox_outbox::delivered_at.eq(Some(db::now())))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_valid_for_every_listening_address() {
        let url = |ip: &str| local_webhook_url(ip.parse().unwrap(), 8080);
        assert_eq!(
            url("127.0.0.1"),
            "http://127.0.0.1:8080/api/v1/payments/webhook"
        );
        assert_eq!(
            url("0.0.0.0"),
            "http://127.0.0.1:8080/api/v1/payments/webhook"
        );
        assert_eq!(url("::1"), "http://[::1]:8080/api/v1/payments/webhook");
        assert_eq!(url("::"), "http://[::1]:8080/api/v1/payments/webhook");
        assert_eq!(
            url("2001:db8::7"),
            "http://[2001:db8::7]:8080/api/v1/payments/webhook"
        );
        assert_eq!(
            url("::ffff:10.0.0.1"),
            "http://[::ffff:10.0.0.1]:8080/api/v1/payments/webhook"
        );
        for ip in ["::1", "::", "2001:db8::7"] {
            assert!(reqwest::Url::parse(&url(ip)).is_ok(), "{ip}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(30), Duration::from_secs(300));
        assert_eq!(backoff(-1), Duration::from_millis(500));
    }
}
