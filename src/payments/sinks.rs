//! Where verified provider events go. Orders, consultation holds and paid questions take
//! payments through one provider and one webhook endpoint. Each registers a sink at startup
//! that knows its own references; the webhook checks the signature once and hands the event to
//! the sink that claims it. So payments knows none of them, and none of them knows the others.

use std::sync::Arc;

use super::PaymentProvider;
use super::dispatcher;
use super::events::{EventOutcome, ProviderEvent};
use crate::db::DbConnection;
use crate::error::ApiError;

/// The part of the platform that owns some payments and applies their provider events.
pub trait EventSink: Send + Sync {
    /// Whether payments with this reference are this sink's. References are ids the sink
    /// made, so each tells its own apart without knowing the others'.
    fn claims(&self, reference: &str) -> bool;

    /// The key the event runs under: the key of every other money command on the same
    /// subject, so a webhook never runs beside a settlement, a sweep or a request for the same
    /// money.
    fn key(&self, conn: &mut DbConnection, reference: &str) -> Result<String, ApiError>;

    /// Applies the event (once: a redelivery is a `Duplicate`), and tells whoever must hear of
    /// it once it is committed.
    fn apply(
        &self,
        conn: &mut DbConnection,
        provider: &dyn PaymentProvider,
        event: &ProviderEvent,
    ) -> Result<EventOutcome, ApiError>;
}

/// The sinks registered at startup.
#[derive(Clone, Default)]
pub struct Sinks(Vec<Arc<dyn EventSink>>);

impl Sinks {
    /// These sinks and `sink`.
    #[must_use]
    pub fn with(mut self, sink: impl EventSink + 'static) -> Self {
        self.0.push(Arc::new(sink));
        self
    }

    /// The sink that claims `reference`; an event nobody claims is refused with 422, as an
    /// event for an unknown order always was.
    pub fn claiming(&self, reference: &str) -> Result<Arc<dyn EventSink>, ApiError> {
        self.0
            .iter()
            .find(|s| s.claims(reference))
            .cloned()
            .ok_or_else(|| ApiError::Unprocessable(format!("no payment has reference {reference}")))
    }

    /// Applies the provider's undelivered events in this process, each through its sink as
    /// its webhook would, for commands that run without an HTTP server to receive webhooks
    /// (`seed-demo`). Returns how many were applied.
    pub fn apply_queued(
        &self,
        conn: &mut DbConnection,
        provider: &dyn PaymentProvider,
    ) -> Result<usize, ApiError> {
        let queued = dispatcher::undelivered(conn, None, 10_000)?;
        for (id, payload) in &queued {
            let event: ProviderEvent =
                serde_json::from_str(payload).map_err(|e| ApiError::Unexpected(e.into()))?;
            self.claiming(&event.data.payment.reference)?
                .apply(conn, provider, &event)?;
            dispatcher::mark_delivered(conn, id)?;
        }
        Ok(queued.len())
    }
}
