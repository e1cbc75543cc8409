//! `lyceum-loadtest`: a scenario-driven load generator that speaks Lyceum's WebSocket protocol
//! and measures what generic tools cannot — fan-out delivery latency from the intended send
//! time, loss by room sequence numbers, and recovery after reconnects.
//!
//! Layout:
//! - [`cli`]: the command line (`run`, `check`).
//! - [`scenario`]: scenario files (TOML), parsed and validated with every problem listed.
//! - [`provision`]: accounts, courses, live sessions and bookings through the HTTP API.
//! - [`net`]: sockets spread over source addresses, the file-descriptor limit.
//! - [`protocol`]: the commands sent and a borrowing view of the frames received.
//! - [`client`]: one member's task — connect, join, read, send on its timeline, recover.
//! - [`metrics`]: sharded HDR histograms and counters, seq-based loss accounting.
//! - [`run`]: a whole run — provisioning, phases, sampling, drain.
//! - [`report`]: the report, terminal table and thresholds; [`html`]: the HTML report.

pub mod cli;
pub mod client;
pub mod html;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod provision;
pub mod report;
pub mod run;
pub mod scenario;
