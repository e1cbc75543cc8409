//! Paid 1:1 consultations with experts.
//!
//! - `availability`: weekly windows in the expert's own time zone expanded into UTC intervals
//!   (across DST changes), minus blocked days and bookings; pure functions.
//! - `experts`: expert profiles (rate, booking lengths, tags, languages), their windows and
//!   blocked days, public search, and [`experts::bookable`], the check a booking must pass.
//! - `holds`: money held on a learner's card (authorise), then captured in part and released.
//! - `status`: the states bookings, holds, questions and unlocks are stored in, typed.
//! - `bookings`: booking, confirming, declining, cancelling, no-shows and settlement.
//! - `live`: the rules of a consultation room: chat, ending, extensions, metering events.
//! - `metering`: billable time while both parties are connected, as a pure state machine.
//! - `settlement`: where a session's money goes (completed, cancelled, no-show), as one rule.
//! - `routes`: the booking endpoints.
//! - `questions`: paid written questions (ask, answer or expire, unlock a public answer) and
//!   `question_routes`, their endpoints.
//! - `hold_events`: provider events for holds, routed to bookings or questions by purpose,
//!   and the sink that hands them to it.
//! - `sweep`: what no request comes back for (unpaid bookings, no-shows, unsettled sessions,
//!   expired questions, unfinished unlocks), run on an interval.

pub mod availability;
pub mod bookings;
pub mod experts;
pub mod hold_events;
pub mod holds;
pub mod live;
pub mod metering;
pub mod question_routes;
pub mod questions;
pub mod routes;
pub mod settlement;
pub mod status;
pub mod sweep;
