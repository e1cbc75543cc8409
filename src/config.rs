//! Configuration: a [`Settings`] tree built from defaults and environment variables
//! (`LYCEUM_*`, `DATABASE_URL`), printed with secrets masked at start.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;

use crate::classroom::rules::ClassLimits;
use crate::private_fs;

/// A value that must never reach a log line; `Debug` and `Display` print `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the JWT signing secret came from, so the start-up log can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// `LYCEUM_JWT_SECRET` was set.
    Environment,
    /// Read from the file kept in the data directory by an earlier start.
    DataDir,
    /// Generated now and written to the data directory.
    Generated,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (`LYCEUM_BIND`); port 0 picks a free port.
    pub bind: SocketAddr,
    /// Directory for the default SQLite file and the generated JWT secret (`LYCEUM_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: `postgres://…` or an SQLite path; defaults to `<data dir>/lyceum.db`.
    pub database_url: Secret,
    /// Largest number of pooled database connections (`LYCEUM_DB_POOL_SIZE`).
    pub db_pool_size: u32,
    /// Key for signing access tokens (`LYCEUM_JWT_SECRET`).
    pub jwt_secret: Secret,
    /// Where [`Settings::jwt_secret`] came from.
    pub jwt_secret_source: SecretSource,
    /// Lifetime of an access token (`LYCEUM_ACCESS_TOKEN_TTL_SECS`).
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (`LYCEUM_REFRESH_TOKEN_TTL_SECS`).
    pub refresh_token_ttl: Duration,
    /// Failed logins by one client on one account before that client is throttled on it
    /// (`LYCEUM_LOGIN_MAX_FAILURES`).
    pub login_max_failures_per_account_client: u32,
    /// Failed logins on one account, from all clients it never signed in from, before those
    /// clients are throttled on it (`LYCEUM_LOGIN_MAX_FAILURES_PER_ACCOUNT`).
    pub login_max_failures_per_account: u32,
    /// Failed logins from one client address before it is throttled
    /// (`LYCEUM_LOGIN_MAX_FAILURES_PER_IP`).
    pub login_max_failures_per_ip: u32,
    /// Window over which failed logins are counted (`LYCEUM_LOGIN_WINDOW_SECS`).
    pub login_window: Duration,
    /// Largest accepted JSON body (`LYCEUM_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Directory served at `/` (`LYCEUM_STATIC_DIR`).
    pub static_dir: PathBuf,
    /// Seconds in-flight requests get to finish on shutdown (`LYCEUM_SHUTDOWN_TIMEOUT_SECS`).
    pub shutdown_timeout: Duration,
    /// HTTP worker threads (`LYCEUM_WORKERS`); defaults to the number of cores.
    pub workers: usize,
    /// Platform fee in basis points (`LYCEUM_PLATFORM_FEE_BPS`, default 2000 = 20%).
    pub platform_fee_bps: u32,
    /// How long learners may ask for a refund after paying (`LYCEUM_REFUND_WINDOW_SECS`).
    pub refund_window: Duration,
    /// Unpaid orders expire after this (`LYCEUM_ORDER_TTL_SECS`).
    pub order_ttl: Duration,
    /// How often unpaid orders are swept (`LYCEUM_ORDER_SWEEP_SECS`).
    pub order_sweep: Duration,
    /// How long a checkout or refund in progress belongs to the process that started it
    /// (`LYCEUM_COMMERCE_LEASE_SECS`); after that a retry or the sweep takes it over, so work
    /// a crashed process left half done is finished.
    pub commerce_lease: Duration,
    /// Webhook signing secret (`LYCEUM_WEBHOOK_SECRET`); derived from the JWT secret if unset.
    pub webhook_secret: Option<Secret>,
    /// Bearer token that opens `/metrics` to scrapers on other machines
    /// (`LYCEUM_METRICS_TOKEN`); without it only local, unproxied clients may read it.
    pub metrics_token: Option<Secret>,
    /// Where the sandbox provider posts webhooks (`LYCEUM_WEBHOOK_URL`); defaults to this
    /// server's own endpoint on the bound port.
    pub webhook_url: Option<String>,
    /// Sandbox test mode that delivers some webhooks twice and out of order
    /// (`LYCEUM_SANDBOX_CHAOS=1`).
    pub sandbox_chaos: bool,
    /// Largest whole WebSocket message accepted; larger ones close with 1009
    /// (`LYCEUM_WS_MAX_MESSAGE_BYTES`).
    pub ws_max_message_bytes: usize,
    /// Mount the `GET /ws/echo` conformance endpoint (`LYCEUM_WS_ECHO=1`).
    pub ws_echo: bool,
    /// Server ping interval on WebSockets (`LYCEUM_WS_HEARTBEAT_SECS`); silence for two
    /// intervals closes the connection.
    pub ws_heartbeat: Duration,
    /// Commands one connection may send per second, sustained (`LYCEUM_WS_RATE_PER_SEC`).
    pub ws_rate_per_sec: u32,
    /// Commands one connection may send at once (`LYCEUM_WS_BURST`).
    pub ws_burst: u32,
    /// Simultaneous WebSocket connections per user on one node
    /// (`LYCEUM_WS_MAX_CONNECTIONS_PER_USER`).
    pub ws_max_connections_per_user: usize,
    /// Room frames one connection may have queued before it is closed as a slow consumer
    /// (`LYCEUM_WS_OUTBOUND_QUEUE`).
    pub ws_outbound_queue: usize,
    /// Events each room keeps in memory for recovery (`LYCEUM_ROOM_HISTORY`).
    pub room_history: usize,
    /// Above this many users a room broadcasts presence counts only (`LYCEUM_ROOM_ROSTER_MAX`).
    pub room_roster_max: usize,
    /// An empty room stops after this long (`LYCEUM_ROOM_IDLE_SECS`).
    pub room_idle: Duration,
    /// How often rooms run their timers: presence counts, metering (`LYCEUM_ROOM_TICK_MS`).
    pub room_tick: Duration,
    /// How far a classroom may grow (`LYCEUM_CLASS_OPEN_QUESTIONS_PER_USER`,
    /// `LYCEUM_CLASS_OPEN_QUESTIONS`, `LYCEUM_CLASS_BOARD_SIZE`).
    pub class_limits: ClassLimits,
    /// Minutes a learner has to authorise a new booking (`LYCEUM_CONSULT_PAYMENT_MINUTES`).
    pub consult_payment_minutes: u32,
    /// Cancelling closer to the start than this costs a fee (`LYCEUM_CONSULT_CANCEL_NOTICE_HOURS`).
    pub consult_cancel_notice_hours: u32,
    /// Share of the price a late cancellation costs (`LYCEUM_CONSULT_LATE_CANCEL_FEE_BPS`).
    pub consult_late_cancel_fee_bps: u32,
    /// Minutes after the start before a missing party is a no-show
    /// (`LYCEUM_CONSULT_NO_SHOW_GRACE_MINUTES`).
    pub consult_no_show_grace_minutes: u32,
    /// Share of the price a learner no-show costs; 0 releases everything
    /// (`LYCEUM_CONSULT_LEARNER_NO_SHOW_FEE_BPS`).
    pub consult_learner_no_show_fee_bps: u32,
    /// Seconds a dropped party may take to reconnect and keep billing continuous
    /// (`LYCEUM_CONSULT_RECONNECT_GRACE_SECS`).
    pub consult_reconnect_grace_secs: u32,
    /// How often the consultation sweep runs (`LYCEUM_CONSULT_SWEEP_SECS`).
    pub consult_sweep: Duration,
    /// Unpaid bookings one learner may hold at a time, in all (`LYCEUM_CONSULT_MAX_UNPAID`).
    pub consult_max_unpaid: u32,
    /// Unpaid bookings one learner may hold at a time with one expert
    /// (`LYCEUM_CONSULT_MAX_UNPAID_PER_EXPERT`).
    pub consult_max_unpaid_per_expert: u32,
    /// Hours an expert has to answer a paid question before the hold is released
    /// (`LYCEUM_QUESTION_ANSWER_HOURS`).
    pub question_answer_hours: u32,
    /// What unlocking a public answer costs, in minor units of the question's currency
    /// (`LYCEUM_QUESTION_UNLOCK_PRICE_MINOR`).
    pub question_unlock_price_minor: i64,
    /// The asker's share of an unlock after the platform fee; the expert gets the rest
    /// (`LYCEUM_QUESTION_UNLOCK_ASKER_BPS`).
    pub question_unlock_asker_bps: u32,
    /// Length of item and user vectors (`LYCEUM_RECOMMEND_DIM`, default 64).
    pub recommend_dim: usize,
    /// What a user did loses half its pull on their recommendations every this long
    /// (`LYCEUM_RECOMMEND_HALF_LIFE_HOURS`, default a week).
    pub recommend_half_life: Duration,
    /// Behaviour events that trigger a refit of the model (`LYCEUM_RECOMMEND_REBUILD_EVENTS`).
    pub recommend_rebuild_events: u64,
    /// A refit runs at least this often when anything happened (`LYCEUM_RECOMMEND_REBUILD_SECS`).
    pub recommend_rebuild_every: Duration,
    /// How often the recommender checks the event volume and catches up with courses other
    /// nodes published (`LYCEUM_RECOMMEND_CHECK_SECS`).
    pub recommend_check_every: Duration,
    /// Threads a refit may use, at the lowest priority so requests always come first
    /// (`LYCEUM_RECOMMEND_REBUILD_THREADS`, default the number of cores).
    pub recommend_rebuild_threads: usize,
    /// Behaviour events a user may report at once (`LYCEUM_EVENTS_BURST`).
    pub events_burst: u32,
    /// Behaviour events a user may report per minute, sustained (`LYCEUM_EVENTS_PER_MINUTE`).
    pub events_per_minute: u32,
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// File in the data directory that keeps a generated JWT secret across restarts.
const JWT_SECRET_FILE: &str = "jwt-secret";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Builds settings from any variable lookup, so tests need not touch the process
    /// environment. A JWT secret that is not given is generated and kept in the data directory.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let bind = parse(&var, "LYCEUM_BIND", "127.0.0.1:8080".parse().ok())?;
        let data_dir = PathBuf::from(var("LYCEUM_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("lyceum.db").display()));
        let (jwt_secret, jwt_secret_source) = match var("LYCEUM_JWT_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(ConfigError(
                    "LYCEUM_JWT_SECRET must be at least 32 characters".into(),
                ));
            }
            Some(s) => (s, SecretSource::Environment),
            None => load_or_generate_secret(&data_dir)?,
        };
        let default_static = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"));
        Ok(Self {
            bind,
            database_url: Secret::new(database_url),
            db_pool_size: parse(&var, "LYCEUM_DB_POOL_SIZE", Some(10))?,
            jwt_secret: Secret::new(jwt_secret),
            jwt_secret_source,
            access_token_ttl: secs(parse(&var, "LYCEUM_ACCESS_TOKEN_TTL_SECS", Some(900))?),
            refresh_token_ttl: secs(parse(
                &var,
                "LYCEUM_REFRESH_TOKEN_TTL_SECS",
                Some(30 * 24 * 3600),
            )?),
            login_max_failures_per_account_client: parse(
                &var,
                "LYCEUM_LOGIN_MAX_FAILURES",
                Some(5),
            )?,
            login_max_failures_per_account: parse(
                &var,
                "LYCEUM_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                Some(100),
            )?,
            login_max_failures_per_ip: parse(&var, "LYCEUM_LOGIN_MAX_FAILURES_PER_IP", Some(20))?,
            login_window: secs(parse(&var, "LYCEUM_LOGIN_WINDOW_SECS", Some(900))?),
            max_body_bytes: parse(&var, "LYCEUM_MAX_BODY_BYTES", Some(64 * 1024))?,
            static_dir: var("LYCEUM_STATIC_DIR")
                .map(PathBuf::from)
                .unwrap_or(default_static),
            shutdown_timeout: secs(parse(&var, "LYCEUM_SHUTDOWN_TIMEOUT_SECS", Some(30))?),
            workers: parse(
                &var,
                "LYCEUM_WORKERS",
                std::thread::available_parallelism().ok().map(|n| n.get()),
            )?,
            platform_fee_bps: bps(&var, "LYCEUM_PLATFORM_FEE_BPS", 2000)?,
            refund_window: secs(parse(
                &var,
                "LYCEUM_REFUND_WINDOW_SECS",
                Some(14 * 24 * 3600),
            )?),
            order_ttl: secs(parse(&var, "LYCEUM_ORDER_TTL_SECS", Some(1800))?),
            order_sweep: secs(parse::<u64>(&var, "LYCEUM_ORDER_SWEEP_SECS", Some(30))?.max(1)),
            commerce_lease: secs(
                parse::<u64>(&var, "LYCEUM_COMMERCE_LEASE_SECS", Some(30))?.max(1),
            ),
            webhook_secret: var("LYCEUM_WEBHOOK_SECRET").map(Secret::new),
            webhook_url: var("LYCEUM_WEBHOOK_URL"),
            metrics_token: var("LYCEUM_METRICS_TOKEN").map(Secret::new),
            sandbox_chaos: parse(&var, "LYCEUM_SANDBOX_CHAOS", Some(0u8))? != 0,
            ws_max_message_bytes: parse(&var, "LYCEUM_WS_MAX_MESSAGE_BYTES", Some(64 * 1024))?,
            ws_echo: parse(&var, "LYCEUM_WS_ECHO", Some(0u8))? != 0,
            ws_rate_per_sec: parse(&var, "LYCEUM_WS_RATE_PER_SEC", Some(10))?,
            ws_burst: parse(&var, "LYCEUM_WS_BURST", Some(20))?,
            ws_max_connections_per_user: parse(
                &var,
                "LYCEUM_WS_MAX_CONNECTIONS_PER_USER",
                Some(5),
            )?,
            ws_outbound_queue: parse::<usize>(&var, "LYCEUM_WS_OUTBOUND_QUEUE", Some(256))?.max(1),
            room_history: parse::<usize>(&var, "LYCEUM_ROOM_HISTORY", Some(512))?.max(1),
            room_roster_max: parse(&var, "LYCEUM_ROOM_ROSTER_MAX", Some(100))?,
            room_idle: secs(parse(&var, "LYCEUM_ROOM_IDLE_SECS", Some(60))?),
            room_tick: Duration::from_millis(
                parse::<u64>(&var, "LYCEUM_ROOM_TICK_MS", Some(1000))?.max(10),
            ),
            class_limits: {
                let d = ClassLimits::default();
                let n = |name, default| parse::<usize>(&var, name, Some(default)).map(|n| n.max(1));
                ClassLimits {
                    open_questions_per_user: n(
                        "LYCEUM_CLASS_OPEN_QUESTIONS_PER_USER",
                        d.open_questions_per_user,
                    )?,
                    open_questions: n("LYCEUM_CLASS_OPEN_QUESTIONS", d.open_questions)?,
                    board: n("LYCEUM_CLASS_BOARD_SIZE", d.board)?,
                }
            },
            consult_payment_minutes: parse(&var, "LYCEUM_CONSULT_PAYMENT_MINUTES", Some(15))?,
            consult_cancel_notice_hours: parse(
                &var,
                "LYCEUM_CONSULT_CANCEL_NOTICE_HOURS",
                Some(24),
            )?,
            consult_late_cancel_fee_bps: bps(&var, "LYCEUM_CONSULT_LATE_CANCEL_FEE_BPS", 5000)?,
            consult_no_show_grace_minutes: parse(
                &var,
                "LYCEUM_CONSULT_NO_SHOW_GRACE_MINUTES",
                Some(10),
            )?,
            consult_learner_no_show_fee_bps: bps(
                &var,
                "LYCEUM_CONSULT_LEARNER_NO_SHOW_FEE_BPS",
                0,
            )?,
            consult_reconnect_grace_secs: parse(
                &var,
                "LYCEUM_CONSULT_RECONNECT_GRACE_SECS",
                Some(60),
            )?,
            consult_sweep: secs(parse::<u64>(&var, "LYCEUM_CONSULT_SWEEP_SECS", Some(30))?.max(1)),
            consult_max_unpaid: parse::<u32>(&var, "LYCEUM_CONSULT_MAX_UNPAID", Some(3))?.max(1),
            consult_max_unpaid_per_expert: parse::<u32>(
                &var,
                "LYCEUM_CONSULT_MAX_UNPAID_PER_EXPERT",
                Some(1),
            )?
            .max(1),
            question_answer_hours: parse::<u32>(&var, "LYCEUM_QUESTION_ANSWER_HOURS", Some(48))?
                .max(1),
            question_unlock_price_minor: match parse(
                &var,
                "LYCEUM_QUESTION_UNLOCK_PRICE_MINOR",
                Some(200i64),
            )? {
                v if (1..=1_000_000).contains(&v) => v,
                _ => {
                    return Err(ConfigError(
                        "LYCEUM_QUESTION_UNLOCK_PRICE_MINOR must be from 1 to 1000000".into(),
                    ));
                }
            },
            question_unlock_asker_bps: bps(&var, "LYCEUM_QUESTION_UNLOCK_ASKER_BPS", 5000)?,
            ws_heartbeat: secs(parse::<u64>(&var, "LYCEUM_WS_HEARTBEAT_SECS", Some(15))?.max(1)),
            recommend_dim: match parse(&var, "LYCEUM_RECOMMEND_DIM", Some(64usize))? {
                v if (32..=1024).contains(&v) => v,
                _ => {
                    return Err(ConfigError(
                        "LYCEUM_RECOMMEND_DIM must be from 32 to 1024".into(),
                    ));
                }
            },
            recommend_half_life: secs(
                parse::<u64>(&var, "LYCEUM_RECOMMEND_HALF_LIFE_HOURS", Some(168))?.max(1) * 3600,
            ),
            recommend_rebuild_events: parse::<u64>(
                &var,
                "LYCEUM_RECOMMEND_REBUILD_EVENTS",
                Some(1000),
            )?
            .max(1),
            recommend_rebuild_every: secs(
                parse::<u64>(&var, "LYCEUM_RECOMMEND_REBUILD_SECS", Some(3600))?.max(1),
            ),
            recommend_check_every: secs(
                parse::<u64>(&var, "LYCEUM_RECOMMEND_CHECK_SECS", Some(30))?.max(1),
            ),
            recommend_rebuild_threads: parse::<usize>(
                &var,
                "LYCEUM_RECOMMEND_REBUILD_THREADS",
                std::thread::available_parallelism().ok().map(|n| n.get()),
            )?
            .max(1),
            events_burst: parse::<u32>(&var, "LYCEUM_EVENTS_BURST", Some(60))?.max(1),
            events_per_minute: parse::<u32>(&var, "LYCEUM_EVENTS_PER_MINUTE", Some(120))?.max(1),
            data_dir,
        })
    }

    /// The effective configuration as `key = value` lines, secrets and URL passwords masked.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LYCEUM_BIND", self.bind.to_string()),
            ("LYCEUM_DATA_DIR", self.data_dir.display().to_string()),
            (
                "DATABASE_URL",
                mask_url_password(self.database_url.expose()),
            ),
            ("LYCEUM_DB_POOL_SIZE", self.db_pool_size.to_string()),
            (
                "LYCEUM_JWT_SECRET",
                format!(
                    "*** ({})",
                    match self.jwt_secret_source {
                        SecretSource::Environment => "from environment",
                        SecretSource::DataDir => "kept in data dir",
                        SecretSource::Generated => "generated, kept in data dir",
                    }
                ),
            ),
            (
                "LYCEUM_ACCESS_TOKEN_TTL_SECS",
                self.access_token_ttl.as_secs().to_string(),
            ),
            (
                "LYCEUM_REFRESH_TOKEN_TTL_SECS",
                self.refresh_token_ttl.as_secs().to_string(),
            ),
            (
                "LYCEUM_LOGIN_MAX_FAILURES",
                self.login_max_failures_per_account_client.to_string(),
            ),
            (
                "LYCEUM_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                self.login_max_failures_per_account.to_string(),
            ),
            (
                "LYCEUM_LOGIN_MAX_FAILURES_PER_IP",
                self.login_max_failures_per_ip.to_string(),
            ),
            (
                "LYCEUM_LOGIN_WINDOW_SECS",
                self.login_window.as_secs().to_string(),
            ),
            ("LYCEUM_MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            ("LYCEUM_STATIC_DIR", self.static_dir.display().to_string()),
            (
                "LYCEUM_SHUTDOWN_TIMEOUT_SECS",
                self.shutdown_timeout.as_secs().to_string(),
            ),
            ("LYCEUM_WORKERS", self.workers.to_string()),
            ("LYCEUM_PLATFORM_FEE_BPS", self.platform_fee_bps.to_string()),
            (
                "LYCEUM_REFUND_WINDOW_SECS",
                self.refund_window.as_secs().to_string(),
            ),
            (
                "LYCEUM_ORDER_TTL_SECS",
                self.order_ttl.as_secs().to_string(),
            ),
            (
                "LYCEUM_ORDER_SWEEP_SECS",
                self.order_sweep.as_secs().to_string(),
            ),
            (
                "LYCEUM_COMMERCE_LEASE_SECS",
                self.commerce_lease.as_secs().to_string(),
            ),
            (
                "LYCEUM_WEBHOOK_SECRET",
                if self.webhook_secret.is_some() {
                    "***"
                } else {
                    "*** (derived from the JWT secret)"
                }
                .into(),
            ),
            (
                "LYCEUM_METRICS_TOKEN",
                if self.metrics_token.is_some() {
                    "***"
                } else {
                    "(unset: local clients only)"
                }
                .into(),
            ),
            (
                "LYCEUM_WEBHOOK_URL",
                self.webhook_url
                    .clone()
                    .unwrap_or_else(|| "(this server)".into()),
            ),
            (
                "LYCEUM_SANDBOX_CHAOS",
                u8::from(self.sandbox_chaos).to_string(),
            ),
            (
                "LYCEUM_WS_MAX_MESSAGE_BYTES",
                self.ws_max_message_bytes.to_string(),
            ),
            ("LYCEUM_WS_ECHO", u8::from(self.ws_echo).to_string()),
            (
                "LYCEUM_WS_HEARTBEAT_SECS",
                self.ws_heartbeat.as_secs().to_string(),
            ),
            ("LYCEUM_WS_RATE_PER_SEC", self.ws_rate_per_sec.to_string()),
            ("LYCEUM_WS_BURST", self.ws_burst.to_string()),
            (
                "LYCEUM_WS_MAX_CONNECTIONS_PER_USER",
                self.ws_max_connections_per_user.to_string(),
            ),
            (
                "LYCEUM_WS_OUTBOUND_QUEUE",
                self.ws_outbound_queue.to_string(),
            ),
            ("LYCEUM_ROOM_HISTORY", self.room_history.to_string()),
            ("LYCEUM_ROOM_ROSTER_MAX", self.room_roster_max.to_string()),
            (
                "LYCEUM_ROOM_IDLE_SECS",
                self.room_idle.as_secs().to_string(),
            ),
            (
                "LYCEUM_ROOM_TICK_MS",
                self.room_tick.as_millis().to_string(),
            ),
            (
                "LYCEUM_CLASS_OPEN_QUESTIONS_PER_USER",
                self.class_limits.open_questions_per_user.to_string(),
            ),
            (
                "LYCEUM_CLASS_OPEN_QUESTIONS",
                self.class_limits.open_questions.to_string(),
            ),
            (
                "LYCEUM_CLASS_BOARD_SIZE",
                self.class_limits.board.to_string(),
            ),
            (
                "LYCEUM_CONSULT_PAYMENT_MINUTES",
                self.consult_payment_minutes.to_string(),
            ),
            (
                "LYCEUM_CONSULT_CANCEL_NOTICE_HOURS",
                self.consult_cancel_notice_hours.to_string(),
            ),
            (
                "LYCEUM_CONSULT_LATE_CANCEL_FEE_BPS",
                self.consult_late_cancel_fee_bps.to_string(),
            ),
            (
                "LYCEUM_CONSULT_NO_SHOW_GRACE_MINUTES",
                self.consult_no_show_grace_minutes.to_string(),
            ),
            (
                "LYCEUM_CONSULT_LEARNER_NO_SHOW_FEE_BPS",
                self.consult_learner_no_show_fee_bps.to_string(),
            ),
            (
                "LYCEUM_CONSULT_RECONNECT_GRACE_SECS",
                self.consult_reconnect_grace_secs.to_string(),
            ),
            (
                "LYCEUM_CONSULT_SWEEP_SECS",
                self.consult_sweep.as_secs().to_string(),
            ),
            (
                "LYCEUM_CONSULT_MAX_UNPAID",
                self.consult_max_unpaid.to_string(),
            ),
            (
                "LYCEUM_CONSULT_MAX_UNPAID_PER_EXPERT",
                self.consult_max_unpaid_per_expert.to_string(),
            ),
            (
                "LYCEUM_QUESTION_ANSWER_HOURS",
                self.question_answer_hours.to_string(),
            ),
            (
                "LYCEUM_QUESTION_UNLOCK_PRICE_MINOR",
                self.question_unlock_price_minor.to_string(),
            ),
            (
                "LYCEUM_QUESTION_UNLOCK_ASKER_BPS",
                self.question_unlock_asker_bps.to_string(),
            ),
            ("LYCEUM_RECOMMEND_DIM", self.recommend_dim.to_string()),
            (
                "LYCEUM_RECOMMEND_HALF_LIFE_HOURS",
                (self.recommend_half_life.as_secs() / 3600).to_string(),
            ),
            (
                "LYCEUM_RECOMMEND_REBUILD_EVENTS",
                self.recommend_rebuild_events.to_string(),
            ),
            (
                "LYCEUM_RECOMMEND_REBUILD_SECS",
                self.recommend_rebuild_every.as_secs().to_string(),
            ),
            (
                "LYCEUM_RECOMMEND_CHECK_SECS",
                self.recommend_check_every.as_secs().to_string(),
            ),
            (
                "LYCEUM_RECOMMEND_REBUILD_THREADS",
                self.recommend_rebuild_threads.to_string(),
            ),
            ("LYCEUM_EVENTS_BURST", self.events_burst.to_string()),
            (
                "LYCEUM_EVENTS_PER_MINUTE",
                self.events_per_minute.to_string(),
            ),
        ]
    }
}

/// A share in basis points (0–10000).
fn bps(var: &impl Fn(&str) -> Option<String>, key: &str, default: u32) -> Result<u32, ConfigError> {
    match parse(var, key, Some(default))? {
        v if v <= 10_000 => Ok(v),
        _ => Err(ConfigError(format!("{key} must be at most 10000"))),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Parses one variable, or returns the default; an unparsable value is an error, never ignored.
fn parse<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: Option<T>,
) -> Result<T, ConfigError> {
    match var(key) {
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{key}={raw:?} is not a valid value"))),
        None => default.ok_or_else(|| ConfigError(format!("{key} must be set"))),
    }
}

/// Reads the secret an earlier start kept in the data directory, or makes and keeps a new one,
/// so tokens stay valid across restarts without any setup.
fn load_or_generate_secret(data_dir: &Path) -> Result<(String, SecretSource), ConfigError> {
    let path = data_dir.join(JWT_SECRET_FILE);
    let keep_error = |e: std::io::Error| {
        ConfigError(format!("cannot keep JWT secret in {}: {e}", path.display()))
    };
    // An earlier version left the directory and secret readable by all; tighten them.
    private_fs::ensure_private_dir(data_dir).map_err(keep_error)?;
    if path.exists() {
        private_fs::ensure_private_file(&path).map_err(keep_error)?;
    }
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok((existing, SecretSource::DataDir));
        }
    }
    let mut bytes = [0u8; 48];
    OsRng.fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    private_fs::write_private(&path, &secret).map_err(keep_error)?;
    Ok((secret, SecretSource::Generated))
}

/// Replaces the password of a `scheme://user:password@host` URL with `***`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)], dir: &Path) -> Result<Settings, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("LYCEUM_DATA_DIR".into(), dir.display().to_string());
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost_8080() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(&[], dir.path()).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.expose().starts_with("sqlite://"));
        assert!(s.database_url.expose().ends_with("lyceum.db"));
    }

    #[test]
    fn generated_secret_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = settings(&[], dir.path()).unwrap();
        assert_eq!(first.jwt_secret_source, SecretSource::Generated);
        let second = settings(&[], dir.path()).unwrap();
        assert_eq!(second.jwt_secret_source, SecretSource::DataDir);
        assert_eq!(first.jwt_secret.expose(), second.jwt_secret.expose());
    }

    #[test]
    fn bad_values_are_errors_not_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert!(settings(&[("LYCEUM_BIND", "nonsense")], dir.path()).is_err());
        assert!(settings(&[("LYCEUM_DB_POOL_SIZE", "-3")], dir.path()).is_err());
        assert!(settings(&[("LYCEUM_JWT_SECRET", "short")], dir.path()).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(
            &[
                (
                    "LYCEUM_JWT_SECRET",
                    "0123456789abcdef0123456789abcdef-secret",
                ),
                ("DATABASE_URL", "postgres://app:hunter2@db/lyceum"),
            ],
            dir.path(),
        )
        .unwrap();
        let printed = format!("{s:?} {:?}", s.describe());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
        assert!(printed.contains("postgres://app:***@db/lyceum"));
    }
}
