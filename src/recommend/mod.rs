//! Recommendations: behaviour events in, ranked courses and experts out, each with a reason;
//! and the offline evaluation that measures the model against baselines.
//!
//! - `ingest`: client-reported behaviour (`POST /events`), validated and rate limited.
//! - `profile`: what one user did, owns and dismissed, read fresh per request.
//! - `corpus`: what a refit reads from the database.
//! - `model` and `index`: item and user vectors, and the HNSW index over them.
//! - `snapshot`: one generation of model + index + popular lists, and the queries on it.
//! - `rank`: diversity and reasons, as plain functions.
//! - `experts`: experts placed among the courses and ranked for a learner.
//! - `actor`: the one writer of the current snapshot (cold starts, background refits), and
//!   `priority`: refits yield the CPU to requests.
//! - `service` and `routes`: the endpoints.
//! - `als` and `baselines`: implicit ALS (the served collaborative factors and a baseline) and
//!   the other baselines: popularity, item-kNN, EASE.
//! - `eval`: the served model against the baselines on MovieLens-format data.

pub mod actor;
pub mod als;
pub mod baselines;
pub mod corpus;
pub mod eval;
pub mod experts;
pub mod index;
pub mod ingest;
pub mod model;
pub mod priority;
pub mod profile;
pub mod rank;
pub mod routes;
pub mod service;
pub mod snapshot;
