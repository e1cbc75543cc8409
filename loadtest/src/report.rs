//! The result of a run: one serialisable [`Report`] (the JSON file is exactly this), the
//! terminal table, and the threshold checks that decide the exit code. The HTML report
//! (`html.rs`) renders the same struct.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::metrics::{Sample, Tally, Totals, pct_ms};
use crate::net::FdLimit;
use crate::provision::{ProvisionStats, World};
use crate::scenario::{Scenario, SourceRange};

/// Share of one runtime thread's CPU above which a sample counts as generator-saturated.
const SATURATED: f64 = 0.9;
/// Mean CPU pressure (PSI `some`, %) above which the report says the machine was contended.
const CONTENDED_PCT: f64 = 10.0;

/// Latency percentiles in milliseconds (all `None` when nothing was measured).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Measurements.
    pub count: u64,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Maximum.
    pub max_ms: Option<f64>,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            p50_ms: pct_ms(h, 0.5),
            p90_ms: pct_ms(h, 0.9),
            p99_ms: pct_ms(h, 0.99),
            p999_ms: pct_ms(h, 0.999),
            max_ms: (!h.is_empty()).then(|| h.max() as f64 / 1000.0),
        }
    }
}

/// Delivery latency of one phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// Phase name.
    pub name: String,
    /// Its length.
    pub duration_s: f64,
    /// Delivery latency of events received during it.
    pub delivery: Latency,
    /// Room events received per second during it (mean of its seconds).
    pub events_per_s: f64,
}

/// Connections.
#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    /// Connections established (reconnects included).
    pub established: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Largest number open at once (per-second samples).
    pub peak_open: i64,
    /// Joins answered `joined`.
    pub joins: u64,
    /// Joins refused or unanswered.
    pub join_failures: u64,
    /// TCP + upgrade + `hello`.
    pub connect: Latency,
    /// `join` → `joined`.
    pub join: Latency,
    /// Connections established per second of the window.
    pub per_s: f64,
    /// Highest per-second rate of connections established.
    pub peak_per_s: f64,
}

/// Room events and what was lost.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Room events received (replays included).
    pub events: u64,
    /// Room events received per second of the window (mean).
    pub events_per_s: f64,
    /// Highest per-second rate seen.
    pub peak_events_per_s: f64,
    /// Events with a latency stamp, measured.
    pub measured: u64,
    /// Intended send → receipt, over the whole run.
    pub latency: Latency,
    /// Expected / delivered / lost, all rooms.
    pub tally: Tally,
    /// lost / expected.
    pub loss_ratio: f64,
    /// Per room.
    pub rooms: Vec<RoomReport>,
}

/// One room's delivery accounting.
#[derive(Debug, Clone, Serialize)]
pub struct RoomReport {
    /// Room name.
    pub room: String,
    /// Its tally.
    pub tally: Tally,
    /// lost / expected.
    pub loss_ratio: f64,
}

/// Commands and their answers.
#[derive(Debug, Clone, Serialize)]
pub struct Commands {
    /// Commands sent.
    pub sent: u64,
    /// Acks received.
    pub acked: u64,
    /// Error frames received.
    pub errors: u64,
    /// Error frames other than `conflict`, over commands sent.
    pub error_rate: f64,
    /// Error frames by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Commands never answered.
    pub unanswered: u64,
    /// Intended send → ack.
    pub ack: Latency,
}

/// Reconnects with `since`.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// Rejoins after a drop.
    pub rejoins: u64,
    /// Answered `recovered:true`.
    pub recovered: u64,
    /// Answered `recovered:false`.
    pub not_recovered: u64,
    /// Drops after which reconnecting failed for good.
    pub reconnect_failures: u64,
    /// recovered / rejoins.
    pub ratio: Option<f64>,
    /// Drop → recovered `joined`, downtime included.
    pub latency: Latency,
}

/// Frames in and out.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Text frames received.
    pub frames_in: u64,
    /// Text frames sent.
    pub frames_out: u64,
    /// Received per second of the window.
    pub frames_in_per_s: f64,
    /// Sent per second of the window.
    pub frames_out_per_s: f64,
    /// Frames that did not parse.
    pub unparsable: u64,
}

/// The generator's own health: if it was saturated, latencies include its delay.
#[derive(Debug, Clone, Serialize)]
pub struct Generator {
    /// Runtime worker threads.
    pub threads: usize,
    /// Mean CPU used, in cores.
    pub cpu_mean_cores: f64,
    /// Highest per-second CPU, in cores.
    pub cpu_max_cores: f64,
    /// Seconds at or above 90% of its threads.
    pub saturated_seconds: usize,
    /// Whether any second was saturated.
    pub saturated: bool,
    /// Mean CPU of the whole machine, in cores (generator, server and anything else).
    pub machine_cpu_mean_cores: Option<f64>,
    /// Mean CPU pressure (PSI `some avg10`, %): how much runnable work waited for a CPU.
    pub cpu_pressure_mean_pct: Option<f64>,
    /// How late scheduled sends went out.
    pub send_lag: Latency,
    /// The generator's peak resident memory (KiB), for its cost per connection.
    pub peak_rss_kib: u64,
    /// The file-descriptor limit.
    pub fd_limit: FdLimit,
    /// Source addresses used.
    pub source_range: Option<String>,
}

/// One threshold check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// The limit from the scenario.
    pub limit: f64,
    /// What was measured (`None`: nothing to measure).
    pub actual: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
}

/// Everything about a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Run id (in generated account names).
    pub run_id: String,
    /// Targets.
    pub targets: Vec<String>,
    /// Warnings worth reading before the figures.
    pub notes: Vec<String>,
    /// Provisioning, outside the window.
    pub provisioning: ProvisionStats,
    /// Length of the measured window.
    pub window_s: f64,
    /// Length of the drain after it.
    pub drain_s: f64,
    /// Per phase.
    pub phases: Vec<PhaseReport>,
    /// Connections.
    pub connections: Connections,
    /// Deliveries and loss.
    pub delivery: Delivery,
    /// Commands.
    pub commands: Commands,
    /// Connections the server (or network) closed, by close code (1006: no close frame).
    pub disconnects: BTreeMap<String, u64>,
    /// Recovery after drops.
    pub recovery: Recovery,
    /// Frames.
    pub throughput: Throughput,
    /// The generator.
    pub generator: Generator,
    /// One sample a second.
    pub timeline: Vec<Sample>,
    /// Threshold checks.
    pub thresholds: Vec<Check>,
    /// All thresholds passed.
    pub passed: bool,
}

impl Report {
    /// Builds the report from the run's totals and timeline.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        scenario: &Scenario,
        run_id: &str,
        world: &World,
        t: &Totals,
        timeline: Vec<Sample>,
        mut notes: Vec<String>,
        fd_limit: FdLimit,
        source: Option<SourceRange>,
        threads: usize,
        drain_s: f64,
    ) -> Self {
        let c = &t.counters;
        let window_s = scenario.window().as_secs_f64().max(1e-3);
        let in_window = || timeline.iter().filter(|s| s.phase != "drain");
        let mut tally = Tally::default();
        let rooms: Vec<RoomReport> = world
            .rooms
            .iter()
            .zip(&t.rooms)
            .map(|(r, tl)| {
                tally.add(tl);
                RoomReport {
                    room: r.name.clone(),
                    tally: *tl,
                    loss_ratio: tl.loss_ratio(),
                }
            })
            .collect();
        let cpu: Vec<f64> = in_window().map(|s| s.cpu_cores).collect();
        let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let machine = mean(in_window().filter_map(|s| s.machine_cpu_cores).collect());
        let pressure = mean(in_window().filter_map(|s| s.cpu_pressure_pct).collect());
        if let Some(p) = pressure.filter(|p| *p >= CONTENDED_PCT) {
            notes.push(format!(
                "the machine's CPUs were contended: runnable tasks waited for a CPU {p:.0}% of \
                 the time (PSI); latencies include that wait — run benchmarks on a quiet machine"
            ));
        }
        let saturated_seconds = cpu
            .iter()
            .filter(|c| **c >= SATURATED * threads as f64)
            .count();
        if saturated_seconds > 0 {
            notes.push(format!(
                "the generator was saturated for {saturated_seconds} s: latencies in those \
                 seconds include its own delay; use more --threads or a second machine"
            ));
        }
        let mut r = Self {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            run_id: run_id.to_owned(),
            targets: scenario.targets.clone(),
            notes,
            provisioning: world.stats.clone(),
            window_s,
            drain_s,
            phases: scenario
                .phases
                .iter()
                .zip(&t.delivery_by_phase)
                .map(|(p, h)| {
                    let rates: Vec<f64> = timeline
                        .iter()
                        .filter(|s| s.phase == p.name)
                        .map(|s| s.events_per_s)
                        .collect();
                    PhaseReport {
                        name: p.name.clone(),
                        duration_s: p.duration.0.as_secs_f64(),
                        delivery: Latency::of(h),
                        events_per_s: rates.iter().sum::<f64>() / rates.len().max(1) as f64,
                    }
                })
                .collect(),
            connections: Connections {
                established: c.connects,
                failed: c.connect_failures,
                peak_open: timeline.iter().map(|s| s.open).max().unwrap_or(0),
                joins: c.joins,
                join_failures: c.join_failures,
                connect: Latency::of(&t.connect),
                join: Latency::of(&t.join),
                per_s: c.connects as f64 / window_s,
                peak_per_s: timeline
                    .iter()
                    .map(|s| s.connects_per_s)
                    .fold(0.0, f64::max),
            },
            delivery: Delivery {
                events: c.events,
                events_per_s: in_window().map(|s| s.events_per_s).sum::<f64>()
                    / in_window().count().max(1) as f64,
                peak_events_per_s: in_window().map(|s| s.events_per_s).fold(0.0, f64::max),
                measured: c.measured,
                latency: Latency::of(&t.delivery()),
                tally,
                loss_ratio: tally.loss_ratio(),
                rooms,
            },
            commands: Commands {
                sent: c.commands,
                acked: c.acks,
                errors: c.errors,
                error_rate: ratio(c.hard_errors, c.commands).unwrap_or(0.0),
                errors_by_code: t.errors.clone(),
                unanswered: c.unanswered,
                ack: Latency::of(&t.ack),
            },
            disconnects: t
                .closes
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            recovery: Recovery {
                rejoins: c.rejoins,
                recovered: c.recovered,
                not_recovered: c.not_recovered,
                reconnect_failures: c.reconnect_failures,
                ratio: ratio(c.recovered, c.rejoins + c.reconnect_failures),
                latency: Latency::of(&t.reconnect),
            },
            throughput: Throughput {
                frames_in: c.frames_in,
                frames_out: c.frames_out,
                frames_in_per_s: c.frames_in as f64 / window_s,
                frames_out_per_s: c.frames_out as f64 / window_s,
                unparsable: c.unparsable,
            },
            generator: Generator {
                threads,
                cpu_mean_cores: cpu.iter().sum::<f64>() / cpu.len().max(1) as f64,
                cpu_max_cores: cpu.iter().copied().fold(0.0, f64::max),
                saturated_seconds,
                saturated: saturated_seconds > 0,
                machine_cpu_mean_cores: machine,
                cpu_pressure_mean_pct: pressure,
                send_lag: Latency::of(&t.send_lag),
                peak_rss_kib: crate::metrics::peak_rss_kib(),
                fd_limit,
                source_range: source.map(|s| format!("{}-{}", s.first, s.last)),
            },
            timeline,
            thresholds: Vec::new(),
            passed: true,
        };
        r.thresholds = checks(scenario, &r);
        r.passed = r.thresholds.iter().all(|c| c.passed);
        r
    }

    /// The terminal summary.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        let lat = |l: &Latency| {
            format!(
                "p50 {} | p90 {} | p99 {} | p99.9 {} | max {} ms  (n={})",
                ms(l.p50_ms),
                ms(l.p90_ms),
                ms(l.p99_ms),
                ms(l.p999_ms),
                ms(l.max_ms),
                l.count
            )
        };
        let _ = writeln!(o, "== {} (run {}) ==", self.scenario, self.run_id);
        for n in &self.notes {
            let _ = writeln!(o, "note: {n}");
        }
        let p = &self.provisioning;
        let rows: Vec<(&str, String)> = vec![
            (
                "provisioning",
                format!(
                    "{:.1} s: {} accounts ({:.1} s), {} courses, {} live sessions, {} enrolments, {} bookings",
                    p.total_s,
                    p.accounts,
                    p.register_s,
                    p.courses,
                    p.live_sessions,
                    p.enrolments,
                    p.bookings
                ),
            ),
            (
                "window",
                format!("{:.0} s + drain {:.1} s", self.window_s, self.drain_s),
            ),
            (
                "connections",
                format!(
                    "{} established ({:.0}/s mean, {:.0}/s peak), {} failed, peak {} open, {} joins, {} join failures",
                    self.connections.established,
                    self.connections.per_s,
                    self.connections.peak_per_s,
                    self.connections.failed,
                    self.connections.peak_open,
                    self.connections.joins,
                    self.connections.join_failures
                ),
            ),
            ("connect latency", lat(&self.connections.connect)),
            ("join latency", lat(&self.connections.join)),
            (
                "deliveries",
                format!(
                    "{} events ({:.0}/s mean, {:.0}/s peak), {} measured",
                    self.delivery.events,
                    self.delivery.events_per_s,
                    self.delivery.peak_events_per_s,
                    self.delivery.measured
                ),
            ),
            ("delivery latency", lat(&self.delivery.latency)),
            (
                "loss",
                format!(
                    "{} lost of {} expected (ratio {:.6}), {} duplicates, {} out of order, {} unrecovered",
                    self.delivery.tally.lost,
                    self.delivery.tally.expected,
                    self.delivery.loss_ratio,
                    self.delivery.tally.duplicates,
                    self.delivery.tally.out_of_order,
                    self.delivery.tally.unrecovered
                ),
            ),
            (
                "commands",
                format!(
                    "{} sent, {} acked, {} errors (rate {:.4} without conflict), {} unanswered",
                    self.commands.sent,
                    self.commands.acked,
                    self.commands.errors,
                    self.commands.error_rate,
                    self.commands.unanswered
                ),
            ),
            ("ack latency", lat(&self.commands.ack)),
            ("errors by code", kv(&self.commands.errors_by_code)),
            ("disconnects", kv(&self.disconnects)),
            (
                "recovery",
                format!(
                    "{} rejoins: {} recovered, {} not, {} gave up (ratio {})",
                    self.recovery.rejoins,
                    self.recovery.recovered,
                    self.recovery.not_recovered,
                    self.recovery.reconnect_failures,
                    self.recovery
                        .ratio
                        .map_or("-".into(), |r| format!("{r:.4}"))
                ),
            ),
            ("recovery latency", lat(&self.recovery.latency)),
            (
                "frames",
                format!(
                    "in {} ({:.0}/s), out {} ({:.0}/s)",
                    self.throughput.frames_in,
                    self.throughput.frames_in_per_s,
                    self.throughput.frames_out,
                    self.throughput.frames_out_per_s
                ),
            ),
            (
                "generator",
                format!(
                    "{} thread(s), cpu mean {:.0}% max {:.0}%, saturated {} s{}; peak RSS {} KiB; \
                     machine cpu {}, cpu pressure {}",
                    self.generator.threads,
                    self.generator.cpu_mean_cores * 100.0,
                    self.generator.cpu_max_cores * 100.0,
                    self.generator.saturated_seconds,
                    if self.generator.saturated {
                        "  << GENERATOR SATURATED"
                    } else {
                        ""
                    },
                    self.generator.peak_rss_kib,
                    self.generator
                        .machine_cpu_mean_cores
                        .map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
                    self.generator
                        .cpu_pressure_mean_pct
                        .map_or("-".into(), |p| format!("{p:.0}%")),
                ),
            ),
            ("send lag", lat(&self.generator.send_lag)),
        ];
        for (k, v) in rows {
            let _ = writeln!(o, "{k:>17}  {v}");
        }
        for ph in &self.phases {
            let _ = writeln!(
                o,
                "{:>17}  {:.0} events/s; {}",
                format!("phase {}", ph.name),
                ph.events_per_s,
                lat(&ph.delivery)
            );
        }
        for c in &self.thresholds {
            let _ = writeln!(
                o,
                "{:>17}  {} {} (limit {}, measured {})",
                "threshold",
                if c.passed { "PASS" } else { "FAIL" },
                c.name,
                c.limit,
                c.actual.map_or("nothing".into(), |a| format!("{a:.6}"))
            );
        }
        let _ = writeln!(
            o,
            "{:>17}  {}",
            "result",
            if self.passed { "PASSED" } else { "FAILED" }
        );
        o
    }
}

fn kv<K: std::fmt::Display>(m: &BTreeMap<K, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The scenario's thresholds against the report.
fn checks(scenario: &Scenario, r: &Report) -> Vec<Check> {
    let t = &scenario.thresholds;
    let mut out = Vec::new();
    let mut max = |name: &str, limit: Option<f64>, actual: Option<f64>| {
        if let Some(limit) = limit {
            out.push(Check {
                name: name.to_owned(),
                limit,
                actual,
                passed: actual.is_some_and(|a| a <= limit),
            });
        }
    };
    max(
        "delivery p99 (ms)",
        t.delivery_p99_ms,
        r.delivery.latency.p99_ms,
    );
    max(
        "loss ratio",
        t.max_loss_ratio,
        (r.delivery.tally.expected > 0).then_some(r.delivery.loss_ratio),
    );
    max("error rate", t.max_error_rate, Some(r.commands.error_rate));
    max(
        "connect failure ratio",
        t.max_connect_failure_ratio,
        ratio(
            r.connections.failed,
            r.connections.established + r.connections.failed,
        ),
    );
    if let Some(limit) = t.min_recovery_ratio {
        out.push(Check {
            name: "recovery ratio (min)".into(),
            limit,
            actual: r.recovery.ratio,
            passed: r.recovery.ratio.is_some_and(|a| a >= limit),
        });
    }
    out
}
