//! Paid expert consultations. So far: who the experts are and when they are free.
//!
//! - `availability`: weekly windows in the expert's own time zone expanded into UTC intervals
//!   (across DST changes), minus blocked days and bookings; pure functions.

pub mod availability;
