//! The double-entry ledger: every money movement (payment, fee, earning, discount, refund) is a
//! journal transaction whose lines sum to zero.
//!
//! - `domain`: posting rules as pure functions.
//! - `service`: writes journal transactions and reads balances.
//! - `routes`: instructor earnings and the admin revenue summary.

pub mod domain;
pub mod routes;
pub mod service;
