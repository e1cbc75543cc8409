//! Scenario files: what a run does, parsed from TOML and checked before anything touches a
//! server. Parsing rejects unknown fields and wrong types (with the line they are on);
//! [`Scenario::validate`] then checks the rules a type cannot express — rates that must not be
//! negative, probabilities that must sum to at most 1, populations the phases must bring in — and
//! lists every broken rule at once, so one edit fixes a file. `docs/loadtest.md` documents every
//! field.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The longest chat text the server accepts (characters).
pub const CHAT_MAX: usize = 2000;
/// The longest question text the server accepts (characters).
pub const ASK_MAX: usize = 500;
/// Room for the latency stamp at the front of every generated text.
pub const STAMP_RESERVE: usize = 48;

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a scenario (syntax, unknown field, wrong type).
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with the line and column.
        source: Box<toml::de::Error>,
    },
    /// The file parses but breaks rules; every broken rule is listed.
    #[error("{path}: invalid scenario:\n  - {}", .problems.join("\n  - "))]
    Invalid {
        /// The file.
        path: String,
        /// One line per broken rule, naming the field.
        problems: Vec<String>,
    },
}

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Shown in reports.
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// Base URLs of the nodes (`http://host:port`); connections are spread over them in turn
    /// and provisioning uses the first. `--target` replaces this list.
    #[serde(default)]
    pub targets: Vec<String>,
    /// The measured window: consecutive phases with their arrival and departure rates.
    pub phases: Vec<Phase>,
    /// Live classrooms: rooms, learners, the instructor's broadcast, learner actions.
    pub classroom: Option<Classroom>,
    /// Paid 1:1 consultations running beside the classrooms.
    pub consultations: Option<Consultations>,
    /// Learners dropping their connection and coming back with `since`.
    pub churn: Option<Churn>,
    /// Where client sockets come from.
    #[serde(default)]
    pub network: Network,
    /// How provisioning talks to the server.
    #[serde(default)]
    pub provision: Provision,
    /// What makes the run fail.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// How long, after the last phase, receivers may take to catch up before what is missing
    /// counts as lost.
    #[serde(default = "default_drain")]
    pub drain_timeout: Span,
}

/// One phase of the measured window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Shown in reports and the progress line (`ramp-up`, `steady`, …).
    pub name: String,
    /// How long the phase lasts.
    pub duration: Span,
    /// Learner connections opened per second (open model: on a fixed timeline, whether or not
    /// earlier ones finished connecting), until every learner has arrived.
    #[serde(default)]
    pub arrival_rate: f64,
    /// Learners leaving per second (first in, first out).
    #[serde(default)]
    pub departure_rate: f64,
}

/// Live classrooms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classroom {
    /// Live sessions (rooms); each gets its own instructor and free course.
    pub rooms: u32,
    /// Learners per room at full population.
    pub learners_per_room: u32,
    /// Connections one learner account holds (in different rooms while there are enough rooms):
    /// fewer accounts to register (argon2 is slow), at most the server's
    /// `LYCEUM_WS_MAX_CONNECTIONS_PER_USER`. Two connections of one account in one room share
    /// its votes and hand, so some of their commands meet `conflict`.
    #[serde(default = "one")]
    pub connections_per_user: u32,
    /// What each room's instructor does.
    #[serde(default)]
    pub instructor: Instructor,
    /// What each learner does.
    #[serde(default)]
    pub learners: Learners,
}

/// The instructor of a room.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instructor {
    /// Chat messages per second the instructor broadcasts, on a fixed timeline.
    #[serde(default)]
    pub broadcast_rate: f64,
    /// Characters per broadcast message, latency stamp included.
    #[serde(default = "default_payload")]
    pub payload_bytes: usize,
    /// Opens a three-option poll this often, for learners' `poll_vote` (none if absent).
    pub poll_every: Option<Span>,
}

/// What learners do while in a room.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Learners {
    /// Time between two action draws of one learner.
    #[serde(default = "default_think")]
    pub think_time: ThinkTime,
    /// Characters per learner chat message or question, latency stamp included.
    #[serde(default = "default_payload")]
    pub payload_bytes: usize,
    /// Probability of each action per draw; the rest of 1 is "do nothing".
    #[serde(default)]
    pub actions: Actions,
}

/// Probabilities of learner actions per draw.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    /// Send a chat message.
    #[serde(default)]
    pub chat: f64,
    /// Ask a question.
    #[serde(default)]
    pub ask: f64,
    /// Upvote the latest question seen.
    #[serde(default)]
    pub vote: f64,
    /// Raise or lower the hand.
    #[serde(default)]
    pub hand: f64,
    /// Vote in the latest open poll.
    #[serde(default)]
    pub poll_vote: f64,
}

/// A distribution of waiting times.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThinkTime {
    /// Always the same.
    Constant {
        /// The time.
        value: Span,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound.
        min: Span,
        /// Upper bound.
        max: Span,
    },
    /// Exponential (memoryless: a Poisson process per learner).
    Exponential {
        /// The mean.
        mean: Span,
    },
}

/// Paid consultations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consultations {
    /// Expert–learner pairs, each with its own booking and room.
    pub pairs: u32,
    /// Booked length (a multiple of 5, 5–240).
    #[serde(default = "default_minutes")]
    pub minutes: u32,
    /// Chat messages per second each party sends.
    #[serde(default)]
    pub chat_rate: f64,
    /// Characters per message, latency stamp included.
    #[serde(default = "default_payload")]
    pub payload_bytes: usize,
}

/// Learners dropping and recovering.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Reconnects per second across all connected learners (each learner draws its own
    /// exponential timer, so the total is a Poisson process).
    pub rate: f64,
    /// How long a dropped learner stays away before reconnecting with `since`.
    #[serde(default = "default_downtime")]
    pub downtime: Span,
    /// `close`: a WebSocket close handshake; `abort`: the TCP connection just goes away.
    #[serde(default)]
    pub mode: ChurnMode,
}

/// How a churning learner drops its connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnMode {
    /// Close handshake (code 1000).
    #[default]
    Close,
    /// Drop the socket without a close frame.
    Abort,
}

/// Client socket placement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Source addresses to spread client sockets over, as `first-last` (e.g.
    /// `127.0.0.1-127.0.0.32`), so many connections do not exhaust one address's ephemeral
    /// ports. Absent: loopback targets use `127.0.0.1-127.0.0.32`, others the OS default.
    pub source_range: Option<String>,
}

/// Provisioning settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    /// Registrations in flight at once (each costs the server an argon2 hash).
    #[serde(default = "default_register_concurrency")]
    pub concurrency: usize,
}

impl Default for Provision {
    fn default() -> Self {
        Self {
            concurrency: default_register_concurrency(),
        }
    }
}

/// Limits that make the run exit non-zero.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Largest acceptable p99 of delivery latency, in milliseconds.
    pub delivery_p99_ms: Option<f64>,
    /// Largest acceptable lost / expected deliveries.
    pub max_loss_ratio: Option<f64>,
    /// Largest acceptable error frames / commands sent (`conflict` refusals excluded: they are
    /// the protocol's answer to racing users, e.g. two votes).
    pub max_error_rate: Option<f64>,
    /// Smallest acceptable recovered / rejoins with `since`.
    pub min_recovery_ratio: Option<f64>,
    /// Largest acceptable share of connection attempts that failed.
    pub max_connect_failure_ratio: Option<f64>,
}

/// A duration written as `250ms`, `10s`, `5m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    /// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{s}` has no unit (ms, s, m, h)"))?;
        let (number, unit) = s.split_at(split);
        let n: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` does not start with a number"))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            other => return Err(format!("`{other}` is not a unit (ms, s, m, h)")),
        };
        Duration::try_from_secs_f64(secs)
            .map(Span)
            .map_err(|_| format!("`{s}` is out of range"))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// An inclusive range of IPv4 source addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRange {
    /// First address.
    pub first: Ipv4Addr,
    /// Last address (inclusive).
    pub last: Ipv4Addr,
}

impl SourceRange {
    /// Parses `a.b.c.d-a.b.c.e` (or a single address).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let first: Ipv4Addr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
        let last: Ipv4Addr = b
            .trim()
            .parse()
            .map_err(|_| format!("`{b}` is not an IPv4 address"))?;
        if u32::from(first) > u32::from(last) {
            return Err(format!("`{s}`: the first address is after the last"));
        }
        Ok(Self { first, last })
    }

    /// The `i`-th address, wrapping around the range.
    pub fn pick(&self, i: usize) -> Ipv4Addr {
        let len = u64::from(u32::from(self.last) - u32::from(self.first)) + 1;
        let offset = (i as u64 % len) as u32;
        Ipv4Addr::from(u32::from(self.first) + offset)
    }
}

fn one() -> u32 {
    1
}
fn default_payload() -> usize {
    200
}
fn default_minutes() -> u32 {
    30
}
fn default_downtime() -> Span {
    Span(Duration::from_secs(1))
}
fn default_drain() -> Span {
    Span(Duration::from_secs(5))
}
fn default_register_concurrency() -> usize {
    4
}
fn default_think() -> ThinkTime {
    ThinkTime::Exponential {
        mean: Span(Duration::from_secs(10)),
    }
}

impl Default for Instructor {
    fn default() -> Self {
        Self {
            broadcast_rate: 0.0,
            payload_bytes: default_payload(),
            poll_every: None,
        }
    }
}

impl Default for Learners {
    fn default() -> Self {
        Self {
            think_time: default_think(),
            payload_bytes: default_payload(),
            actions: Actions::default(),
        }
    }
}

impl Scenario {
    /// Reads, parses and validates a scenario file; `targets`, when not empty, replaces the
    /// file's targets before validation.
    pub fn load(path: &Path, targets: &[String]) -> Result<Self, ScenarioError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: name.clone(),
            source,
        })?;
        Self::from_toml(&name, &text, targets)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn from_toml(origin: &str, text: &str, targets: &[String]) -> Result<Self, ScenarioError> {
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|source| ScenarioError::Parse {
                path: origin.to_owned(),
                source: Box::new(source),
            })?;
        if !targets.is_empty() {
            scenario.targets = targets.to_vec();
        }
        let problems = scenario.problems();
        if problems.is_empty() {
            Ok(scenario)
        } else {
            Err(ScenarioError::Invalid {
                path: origin.to_owned(),
                problems,
            })
        }
    }

    /// Every rule the scenario breaks, one line each.
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.targets.is_empty() {
            p.push("targets: at least one target URL is needed (in the file or --target)".into());
        }
        for t in &self.targets {
            match reqwest::Url::parse(t) {
                Ok(u) if u.scheme() == "http" && u.host().is_some() => {}
                _ => p.push(format!("targets: `{t}` is not an http://host:port URL")),
            }
        }
        if self.phases.is_empty() {
            p.push("phases: at least one phase is needed".into());
        }
        for (i, ph) in self.phases.iter().enumerate() {
            let at = format!("phases[{i}] ({})", ph.name);
            if ph.duration.0.is_zero() {
                p.push(format!("{at}.duration: must be more than 0"));
            }
            rate(&mut p, &format!("{at}.arrival_rate"), ph.arrival_rate);
            rate(&mut p, &format!("{at}.departure_rate"), ph.departure_rate);
        }
        if self.classroom.is_none() && self.consultations.is_none() {
            p.push("a scenario needs [classroom] or [consultations] (or both)".into());
        }
        if let Some(c) = &self.classroom {
            self.classroom_problems(c, &mut p);
        }
        if let Some(c) = &self.consultations {
            if c.pairs == 0 {
                p.push("consultations.pairs: must be at least 1".into());
            }
            if c.minutes < 5 || c.minutes > 240 || c.minutes % 5 != 0 {
                p.push("consultations.minutes: must be a multiple of 5 from 5 to 240".into());
            }
            rate(&mut p, "consultations.chat_rate", c.chat_rate);
            payload(
                &mut p,
                "consultations.payload_bytes",
                c.payload_bytes,
                CHAT_MAX,
            );
        }
        if let Some(ch) = &self.churn {
            if self.classroom.is_none() {
                p.push("churn: needs [classroom] (learners are the ones who churn)".into());
            }
            rate(&mut p, "churn.rate", ch.rate);
        }
        if let Some(r) = &self.network.source_range
            && let Err(e) = SourceRange::parse(r)
        {
            p.push(format!("network.source_range: {e}"));
        }
        if self.provision.concurrency == 0 {
            p.push("provision.concurrency: must be at least 1".into());
        }
        let t = &self.thresholds;
        for (name, v) in [
            ("thresholds.max_loss_ratio", t.max_loss_ratio),
            ("thresholds.max_error_rate", t.max_error_rate),
            ("thresholds.min_recovery_ratio", t.min_recovery_ratio),
            (
                "thresholds.max_connect_failure_ratio",
                t.max_connect_failure_ratio,
            ),
        ] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                p.push(format!("{name}: must be between 0 and 1, not {v}"));
            }
        }
        if let Some(ms) = t.delivery_p99_ms
            && !(ms.is_finite() && ms > 0.0)
        {
            p.push(format!(
                "thresholds.delivery_p99_ms: must be more than 0, not {ms}"
            ));
        }
        p
    }

    fn classroom_problems(&self, c: &Classroom, p: &mut Vec<String>) {
        if c.rooms == 0 {
            p.push("classroom.rooms: must be at least 1".into());
        }
        if c.connections_per_user == 0 {
            p.push("classroom.connections_per_user: must be at least 1".into());
        }
        rate(
            p,
            "classroom.instructor.broadcast_rate",
            c.instructor.broadcast_rate,
        );
        payload(
            p,
            "classroom.instructor.payload_bytes",
            c.instructor.payload_bytes,
            CHAT_MAX,
        );
        if c.instructor.poll_every.is_some_and(|s| s.0.is_zero()) {
            p.push("classroom.instructor.poll_every: must be more than 0".into());
        }
        let a = &c.learners.actions;
        let mut sum = 0.0;
        for (name, v) in [
            ("chat", a.chat),
            ("ask", a.ask),
            ("vote", a.vote),
            ("hand", a.hand),
            ("poll_vote", a.poll_vote),
        ] {
            if !(0.0..=1.0).contains(&v) {
                p.push(format!(
                    "classroom.learners.actions.{name}: a probability is between 0 and 1, not {v}"
                ));
            }
            sum += v;
        }
        if sum > 1.0 + 1e-9 {
            p.push(format!(
                "classroom.learners.actions: probabilities sum to {sum}, more than 1"
            ));
        }
        if a.poll_vote > 0.0 && c.instructor.poll_every.is_none() {
            p.push(
                "classroom.learners.actions.poll_vote: needs classroom.instructor.poll_every \
                 (nobody opens polls)"
                    .into(),
            );
        }
        let limit = if a.ask > 0.0 { ASK_MAX } else { CHAT_MAX };
        payload(
            p,
            "classroom.learners.payload_bytes",
            c.learners.payload_bytes,
            limit,
        );
        match &c.learners.think_time {
            ThinkTime::Constant { value } if value.0.is_zero() => {
                p.push("classroom.learners.think_time.value: must be more than 0".into())
            }
            ThinkTime::Uniform { min, max } if min.0 > max.0 || max.0.is_zero() => {
                p.push("classroom.learners.think_time: needs 0 <= min <= max and max > 0".into())
            }
            ThinkTime::Exponential { mean } if mean.0.is_zero() => {
                p.push("classroom.learners.think_time.mean: must be more than 0".into())
            }
            _ => {}
        }
        let population = u64::from(c.rooms) * u64::from(c.learners_per_room);
        let arrivals: f64 = self
            .phases
            .iter()
            .map(|ph| ph.arrival_rate.max(0.0) * ph.duration.0.as_secs_f64())
            .sum();
        if (arrivals.floor() as u64) < population && arrivals.is_finite() {
            p.push(format!(
                "phases: arrival_rate x duration brings in {} learners, fewer than rooms x \
                 learners_per_room = {population}",
                arrivals.floor()
            ));
        }
    }

    /// Learner connections at full population.
    pub fn population(&self) -> usize {
        self.classroom
            .as_ref()
            .map_or(0, |c| c.rooms as usize * c.learners_per_room as usize)
    }

    /// The length of the measured window.
    pub fn window(&self) -> Duration {
        self.phases.iter().map(|p| p.duration.0).sum()
    }
}

/// A rate must be a finite number, not negative.
fn rate(p: &mut Vec<String>, field: &str, v: f64) {
    if !(v.is_finite() && v >= 0.0) {
        p.push(format!("{field}: must be a number >= 0, not {v}"));
    }
}

/// A payload must hold the latency stamp and fit the server's text limit.
fn payload(p: &mut Vec<String>, field: &str, v: usize, max: usize) {
    if v < STAMP_RESERVE || v > max {
        p.push(format!(
            "{field}: must be from {STAMP_RESERVE} (the latency stamp) to {max} (the server's \
             limit), not {v}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_with_units() {
        assert_eq!(Span::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Span::parse("1.5s").unwrap().0, Duration::from_millis(1500));
        assert_eq!(Span::parse("2m").unwrap().0, Duration::from_secs(120));
        assert!(Span::parse("10").unwrap_err().contains("no unit"));
        assert!(Span::parse("10d").unwrap_err().contains("not a unit"));
    }

    #[test]
    fn source_ranges_wrap() {
        let r = SourceRange::parse("127.0.0.1-127.0.0.3").unwrap();
        assert_eq!(r.pick(0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(r.pick(4), Ipv4Addr::new(127, 0, 0, 2));
        assert!(SourceRange::parse("127.0.0.9-127.0.0.1").is_err());
        assert!(SourceRange::parse("localhost").is_err());
    }
}
