//! Provider events as the webhook delivers them, and what applying one did: the vocabulary
//! every event sink shares.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ProviderPayment;

/// A provider webhook event, as delivered.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderEvent {
    /// Unique event id; events are processed once.
    pub id: String,
    /// What happened (`payment.succeeded`, `payment.failed`, `refund.succeeded`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The payment's state after the event.
    pub data: ProviderEventData,
}

/// The payload of a provider event.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderEventData {
    /// The payment as the provider now sees it.
    pub payment: ProviderPayment,
    /// The refund a `refund.succeeded` event reports.
    #[serde(default)]
    pub refund: Option<ProviderRefund>,
}

/// A refund as a provider event reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderRefund {
    /// Our refund key: the id of the refund row.
    pub id: String,
    /// How much was given back.
    pub amount_minor: i64,
}

/// What handling an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventOutcome {
    /// The event changed the order or its payment.
    Applied,
    /// Seen before; nothing done.
    Duplicate,
    /// Valid but stale or irrelevant (e.g. a failure reported after a success); nothing done.
    Ignored,
}
