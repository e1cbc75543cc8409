//! Catalog: courses with tags and ordered lessons, the review flow from draft to published,
//! browse and search, free enrolment, entitlements, reviews and behaviour events.
//!
//! - `domain`: validated input (titles, categories, tags, URLs, prices, levels, status machine,
//!   search parameters).
//! - `store`: the rows and queries.
//! - `entitlements`: who may read which course; the functions orders call to grant and revoke.
//! - `events`: the behaviour-event log the recommender learns from.
//! - `import`: another platform's history (MovieLens files) as courses, learners and dated
//!   enrolments; `import::movielens` reads the files, for the evaluation too.
//! - `service`: the rules, as plain functions over a connection.
//! - `routes`: thin HTTP handlers and their JSON shapes.

pub mod domain;
pub mod entitlements;
pub mod events;
pub mod import;
pub mod routes;
pub mod service;
pub mod store;
