//! Provider events for payment holds, routed by what the hold pays for: bookings and their
//! extensions to [`bookings`], paid questions and unlocks to [`questions`]. The webhook
//! handler only needs to know that a reference is a hold.

use chrono::{DateTime, Utc};

use super::bookings::{self, ConsultConfig};
use super::{holds, questions};
use crate::db::DbConnection;
use crate::orders::service::{OrderError, ProviderEvent};
use crate::payments::PaymentProvider;

/// What an event did that someone outside the database must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Recorded; nothing to announce.
    Applied,
    /// An extension was authorised: the consultation room announces the added minutes.
    ExtensionGranted {
        /// The booking.
        booking_id: String,
        /// Minutes added.
        minutes: i64,
    },
}

/// The order-actor key a provider event for hold `id` runs under: the same key as every other
/// money command of its booking (`booking:<id>`) or question (`question:<id>`), so a webhook
/// never runs beside a settlement, a sweep or a request for the same money. Unlocks, which
/// nothing else touches, run under their hold.
pub fn key_for(conn: &mut DbConnection, id: &str) -> Result<String, OrderError> {
    let hold = holds::find(conn, id)?.ok_or(OrderError::UnknownOrder)?;
    Ok(match hold.purpose.as_str() {
        "booking" | "extension" => format!("booking:{}", hold.subject_id),
        "question" => format!("question:{}", hold.subject_id),
        _ => format!("order:{}", hold.id),
    })
}

/// Applies a provider event to the hold it names and to the booking or question behind it.
pub fn apply(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> Result<HoldOutcome, OrderError> {
    let hold = holds::find(conn, &event.data.payment.reference)?.ok_or(OrderError::UnknownOrder)?;
    match hold.purpose.as_str() {
        "booking" | "extension" => {
            let (booking, granted) = bookings::apply_event(conn, provider, event)?;
            Ok(match granted {
                Some(minutes) => HoldOutcome::ExtensionGranted {
                    booking_id: booking.id,
                    minutes,
                },
                None => HoldOutcome::Applied,
            })
        }
        "question" | "unlock" => {
            questions::apply_event(conn, provider, cfg, event, now)?;
            Ok(HoldOutcome::Applied)
        }
        other => Err(OrderError::Unexpected(anyhow::anyhow!(
            "hold {} has an unknown purpose {other}",
            hold.id
        ))),
    }
}
