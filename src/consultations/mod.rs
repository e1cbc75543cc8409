//! Paid expert consultations. So far: who the experts are and when they are free.
//!
//! - `availability`: weekly windows in the expert's own time zone expanded into UTC intervals
//!   (across DST changes), minus blocked days and bookings; pure functions.
//! - `experts`: expert profiles (rate, booking lengths, tags, languages), their windows and
//!   blocked days, public search, and [`experts::bookable`], the check a booking must pass.

pub mod availability;
pub mod experts;
