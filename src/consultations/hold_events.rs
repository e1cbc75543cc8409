//! Provider events for payment holds, routed by what the hold pays for: bookings and their
//! extensions to [`bookings`], paid questions and unlocks to [`questions`]. [`HoldSink`] is
//! how the webhook reaches them: it claims hold references, nothing more.

use std::sync::Arc;

use actix::Addr;
use chrono::{DateTime, Utc};

use super::bookings::{self, ConsultConfig};
use super::holds;
use super::live::ConsultAction;
use super::questions;
use super::status::HoldPurpose;
use crate::clock::SharedClock;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::orders::service::OrderError;
use crate::payments::PaymentProvider;
use crate::payments::events::{EventOutcome, ProviderEvent};
use crate::payments::sinks::EventSink;
use crate::realtime::kind::RoomAction;
use crate::realtime::room::{Announce, Registry};

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
    Ok(match hold.purpose()? {
        HoldPurpose::Booking | HoldPurpose::Extension => format!("booking:{}", hold.subject_id),
        HoldPurpose::Question => format!("question:{}", hold.subject_id),
        HoldPurpose::Unlock => format!("order:{}", hold.id),
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
    match hold.purpose()? {
        HoldPurpose::Booking | HoldPurpose::Extension => {
            let (booking, granted) = bookings::apply_event(conn, provider, event)?;
            Ok(match granted {
                Some(minutes) => HoldOutcome::ExtensionGranted {
                    booking_id: booking.id,
                    minutes,
                },
                None => HoldOutcome::Applied,
            })
        }
        HoldPurpose::Question | HoldPurpose::Unlock => {
            questions::apply_event(conn, provider, cfg, event, now)?;
            Ok(HoldOutcome::Applied)
        }
    }
}

/// The event sink of holds (bookings, extensions, paid questions, unlocks), registered at
/// startup. An authorised extension is announced to its consultation room once committed.
pub struct HoldSink {
    cfg: Arc<ConsultConfig>,
    clock: SharedClock,
    /// Where rooms are; `None` where no room can exist (`seed-demo`).
    rooms: Option<Addr<Registry>>,
}

impl HoldSink {
    /// A sink judging time by `clock` and announcing to `rooms`.
    pub fn new(cfg: Arc<ConsultConfig>, clock: SharedClock, rooms: Option<Addr<Registry>>) -> Self {
        Self { cfg, clock, rooms }
    }
}

impl EventSink for HoldSink {
    fn claims(&self, reference: &str) -> bool {
        reference.starts_with(holds::PREFIX)
    }

    fn key(&self, conn: &mut DbConnection, reference: &str) -> Result<String, ApiError> {
        Ok(key_for(conn, reference)?)
    }

    fn apply(
        &self,
        conn: &mut DbConnection,
        provider: &dyn PaymentProvider,
        event: &ProviderEvent,
    ) -> Result<EventOutcome, ApiError> {
        let outcome = apply(conn, provider, &self.cfg, event, self.clock.now())?;
        if let (
            HoldOutcome::ExtensionGranted {
                booking_id,
                minutes,
            },
            Some(rooms),
        ) = (outcome, &self.rooms)
        {
            rooms.do_send(Announce {
                room: format!("consult:{booking_id}"),
                action: RoomAction::Consult(ConsultAction::Granted { minutes }),
            });
        }
        Ok(EventOutcome::Applied)
    }
}
