//! Lyceum: a realtime interactive learning server.
//!
//! # Layout
//! - [`config`]: `Settings` from environment variables, printed with secrets masked.
//! - [`startup`]: builds the server (database, routes, middleware) and runs it until stopped.
//! - [`api`]: the route table — registrations, the OpenAPI document and the 404/405 fallback
//!   all come from one list.
//! - [`error`]: `ApiError`, the one mapping of every failure to the JSON error shape.
//! - [`ops`]: health, readiness, metrics, and the middleware every request passes.
//! - [`telemetry`]: tracing subscriber and the Prometheus recorder.
//! - [`db`]: one diesel connection type over PostgreSQL and SQLite, pool, migrations.
//! - [`accounts`]: registration, login, refresh-token rotation, roles.
//! - [`catalog`]: courses, lessons, review flow, search, enrolment, entitlements, reviews,
//!   behaviour events.
//! - [`consultations`]: expert profiles, weekly availability in the expert's time zone,
//!   blocked days, expert search, and the check a booking must pass.
//! - [`money`]: `Money` and `Currency`: integer minor units, never floats.
//! - [`pagination`]: bounded `limit`/`offset` for list endpoints.
//! - [`realtime`]: the WebSocket frame layer and the echo endpoint for conformance tests.
//! - [`seed`]: the idempotent demo data set.

pub mod accounts;
pub mod api;
pub mod catalog;
pub mod classroom;
pub mod config;
pub mod consultations;
pub mod db;
pub mod error;
pub mod ledger;
pub mod money;
pub mod ops;
pub mod orders;
pub mod pagination;
pub mod payments;
pub mod realtime;
pub mod seed;
pub mod startup;
pub mod telemetry;
