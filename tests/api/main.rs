//! One integration-test binary: the real server on a random port, real HTTP, a fresh database
//! per test, on SQLite always and on PostgreSQL when `LYCEUM_TEST_DATABASE_URL` is set.

mod helpers;

mod accounts;
mod admin;
mod binary;
mod catalog;
mod classroom;
mod cli;
mod commerce;
mod consultations;
mod errors;
mod experts;
mod import;
mod input;
mod live_room;
mod ops;
mod questions;
mod realtime;
mod recommendations;
mod recovery;
mod revocations;
mod setup;
