//! Paid 1:1 consultations with experts.
//!
//! - `metering`: billable time while both parties are connected, as a pure state machine.
//! - `holds`: money held on a learner's card (authorise), then captured in part and released.
//! - `bookings`: booking, confirming, declining, cancelling, no-shows and settlement.

pub mod bookings;
pub mod holds;
pub mod metering;
