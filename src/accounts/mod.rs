//! Accounts: registration, login, token refresh and logout, the current user, and roles.
//!
//! - `domain`: validated input (`Email`, `Password`, `DisplayName`, `Role`).
//! - `tokens`: password hashing, JWT access tokens, refresh-token generation and hashing.
//! - `hashing`: the dedicated password-hashing threads, each reusing one argon2 buffer.
//! - `throttle`: failed-login limits per account and per client address.
//! - `revocation`: the log of logouts, role changes, disabled accounts and lost entitlements,
//!   followed by every node into an in-memory view that HTTP and WebSocket checks consult.
//! - `store`: the rows and queries.
//! - `service`: the rules, as plain functions over a connection.
//! - `auth`: the `AuthUser` extractor for bearer-authenticated handlers, and `MaybeAuthUser`
//!   for public ones that show more to signed-in users.
//! - `routes`: thin HTTP handlers and their JSON shapes.

pub mod auth;
pub mod domain;
pub mod hashing;
pub mod revocation;
pub mod routes;
pub mod service;
pub mod store;
pub mod throttle;
pub mod tokens;

pub use auth::{AuthUser, MaybeAuthUser};
pub use domain::Role;
