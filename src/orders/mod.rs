//! Orders: checkout with idempotency keys and coupons, payment confirmation from provider
//! webhooks, cancellation, expiry and refunds — every command serialised per order by the
//! [`actor::OrderActor`], and the same rules enforced by the database so several nodes can never
//! double-grant.
//!
//! - `domain`: the state machine, coupon rules, idempotency fingerprints (pure).
//! - `store`: rows and queries.
//! - `service`: the commands, as plain functions over a connection and a provider.
//! - `actor`: the per-order serialising actor.
//! - `failpoint`: the test-only crash hook of the recovery tests.
//! - `routes`: HTTP handlers (orders, coupons, the webhook, the sandbox payer pages).

pub mod actor;
pub mod coupons;
pub mod domain;
pub mod failpoint;
pub mod routes;
pub mod service;
pub mod store;
