//! Lyceum: a realtime interactive learning server.
//!
//! # Layout
//! - [`config`]: `Settings` from environment variables, printed with secrets masked.
//! - [`startup`]: builds the server (database, routes, middleware) and runs it until stopped.
//! - [`api`]: the route table — registrations, the OpenAPI document and the 404/405 fallback
//!   all come from one list.
//! - [`error`]: `ApiError`, the one mapping of every failure to the JSON error shape.
//! - [`input`]: the edge check that refuses text PostgreSQL cannot store (NUL) with a 400.
//! - [`ops`]: health, readiness, metrics, and the middleware every request passes.
//! - [`telemetry`]: tracing subscriber and the Prometheus recorder.
//! - [`db`]: one diesel connection type over PostgreSQL and SQLite, pool, migrations.
//! - [`accounts`]: registration, login, refresh-token rotation, roles.
//! - [`catalog`]: courses, lessons, review flow, search, enrolment, entitlements, reviews,
//!   behaviour events.
//! - [`memory`]: hands the allocator's free pages back to the system after refits.
//! - [`money`]: `Money` and `Currency`: integer minor units, never floats.
//! - [`pagination`]: bounded `limit`/`offset` for list endpoints.
//! - [`realtime`]: WebSocket sessions, room actors, the broker and the frame layer.
//! - [`classroom`]: live sessions, the room log and the classroom rules.
//! - [`consultations`]: paid 1:1 consultations: expert profiles and availability (in the
//!   expert's time zone), search, holds, bookings, metering, settlement.
//! - [`clock`]: the time consultations are metered and judged by (movable in tests).
//! - [`seed`]: the idempotent demo data set.
//! - [`setup`]: first run — the first admin or the demo data, only on an empty database.
//! - [`web`]: the web app's files (embedded in release builds) and SPA routing.
//! - [`recommend`]: behaviour events, the recommendation model and its HNSW index, the
//!   recommendation endpoints, and the offline evaluation.

pub mod accounts;
pub mod api;
pub mod catalog;
pub mod classroom;
pub mod clock;
pub mod config;
pub mod consultations;
pub mod db;
pub mod error;
pub mod input;
pub mod ledger;
pub mod memory;
pub mod money;
pub mod ops;
pub mod orders;
pub mod pagination;
pub mod payments;
pub mod private_fs;
pub mod realtime;
pub mod recommend;
pub mod seed;
pub mod setup;
pub mod startup;
pub mod telemetry;
pub mod web;
