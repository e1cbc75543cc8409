//! A whole run: provision, connect the hosts, drive the phases (learners arriving on an open
//! timeline, leaving FIFO in ramp-down), sample once a second with a progress line, drain, and
//! hand everything to the report.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use crate::client::{self, ChurnPlan, LearnerPlan, Member, Role, Shared, Stage, StageCell};
use crate::metrics::{self, Counters, Metrics, Sample, pct_ms};
use crate::net::{Dialer, Target, raise_fd_limit};
use crate::provision::{self, AdminCredentials, Api, World};
use crate::report::Report;
use crate::scenario::{Scenario, SourceRange};

/// The server's default command budget per connection and second (`LYCEUM_WS_RATE_PER_SEC`).
const SERVER_DEFAULT_RATE: f64 = 10.0;
/// The server's default connections per user (`LYCEUM_WS_MAX_CONNECTIONS_PER_USER`).
const SERVER_DEFAULT_PER_USER: u32 = 5;
/// How long the hosts may take to connect and join before the window opens.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long members may take to close after the run.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// How to run, beyond the scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The admin provisioning uses.
    pub admin: Option<AdminCredentials>,
    /// Replaces the scenario's source range.
    pub source_range: Option<SourceRange>,
    /// Runtime worker threads (for judging the generator's CPU).
    pub threads: usize,
    /// Print the progress line to stderr.
    pub progress: bool,
}

/// Runs `scenario` and returns its report.
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> anyhow::Result<Report> {
    let run_id = format!("{:08x}", fastrand::u32(..));
    let mut notes = advisories(scenario);
    let hosts = scenario.classroom.as_ref().map_or(0, |c| c.rooms as usize)
        + 2 * scenario
            .consultations
            .as_ref()
            .map_or(0, |c| c.pairs as usize);
    let fd = raise_fd_limit((scenario.population() + hosts) as u64 + 1024);
    notes.extend(fd.note.clone());

    let mut targets = Vec::new();
    for t in &scenario.targets {
        targets.push(
            Target::resolve(t)
                .await
                .with_context(|| format!("target {t}"))?,
        );
    }
    let api = Api::new(&targets[0].base)?;
    let source = match (&opts.source_range, &scenario.network.source_range) {
        (Some(r), _) => Some(*r),
        (None, Some(r)) => Some(SourceRange::parse(r).map_err(anyhow::Error::msg)?),
        (None, None) => None,
    };
    let dialer = Dialer::new(source, &targets);
    for n in &notes {
        eprintln!("note: {n}");
    }

    eprintln!(
        "provisioning {} learner connections and {} host connections on {} …",
        scenario.population(),
        hosts,
        targets[0].base
    );
    let world = provision::provision(&api, scenario, opts.admin.as_ref(), &run_id)
        .await
        .context("provisioning")?;
    eprintln!(
        "provisioned in {:.1} s ({} accounts in {:.1} s)",
        world.stats.total_s, world.stats.accounts, world.stats.register_s
    );

    let threads = opts.threads.max(1);
    let metrics = Arc::new(Metrics::new(
        threads * 4,
        scenario.phases.len(),
        world.rooms.len(),
    ));
    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        dialer,
        api,
        targets,
        stage: StageCell::new(),
        window_start: OnceLock::new(),
        learners: scenario.classroom.as_ref().map(|c| LearnerPlan {
            think: c.learners.think_time.clone(),
            actions: c.learners.actions.clone(),
            payload: c.learners.payload_bytes,
        }),
        churn: scenario
            .churn
            .as_ref()
            .filter(|c| c.rate > 0.0)
            .map(|c| ChurnPlan {
                mean: Duration::from_secs_f64(scenario.population().max(1) as f64 / c.rate),
                downtime: c.downtime.0,
                mode: c.mode,
            }),
    });
    let room_names: Vec<Arc<str>> = world.rooms.iter().map(|r| r.name.as_str().into()).collect();
    let mut tasks = JoinSet::new();
    spawn_hosts(scenario, &world, &room_names, &shared, &mut tasks);
    let mut sampler = Sampler::new(threads);
    wait_for_hosts(&metrics, hosts, &mut sampler).await;

    // The measured window.
    let window_start = Instant::now();
    let _ = shared.window_start.set(window_start);
    sampler.start(window_start);
    let departures = departure_slots(scenario, window_start);
    shared.stage.set(Stage::Running);
    let population = scenario.population();
    let mut next_learner = 0usize;
    let mut phase_start = window_start;
    for (pi, phase) in scenario.phases.iter().enumerate() {
        metrics.phase.store(pi, Ordering::Relaxed);
        let end = phase_start + phase.duration.0;
        let mut arrived = 0u64;
        loop {
            let next_arrival = (phase.arrival_rate > 0.0 && next_learner < population)
                .then(|| phase_start + Duration::from_secs_f64(arrived as f64 / phase.arrival_rate))
                .filter(|t| *t < end);
            let wake = [next_arrival, Some(sampler.next_tick), Some(end)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end);
            tokio::time::sleep_until(wake.into()).await;
            let now = Instant::now();
            while next_learner < population
                && phase.arrival_rate > 0.0
                && phase_start + Duration::from_secs_f64(arrived as f64 / phase.arrival_rate)
                    <= now.min(end)
            {
                let (account, room) = world.learner_seat(next_learner);
                tasks.spawn(client::run(
                    Member {
                        id: next_learner,
                        room,
                        room_name: room_names[room].clone(),
                        account,
                        role: Role::Learner,
                        leave_at: departures.get(next_learner).copied(),
                    },
                    shared.clone(),
                ));
                next_learner += 1;
                arrived += 1;
            }
            if now >= sampler.next_tick {
                sampler.tick(&metrics, &phase.name, now, opts.progress);
            }
            if now >= end {
                break;
            }
        }
        phase_start = end;
    }

    // Drain: no more sends; wait until every member has seen its room's last event.
    let drain_start = Instant::now();
    shared.stage.set(Stage::Draining);
    let drain_end = drain_start + scenario.drain_timeout.0;
    let settle = drain_start + Duration::from_millis(500);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = Instant::now();
        if now >= sampler.next_tick {
            sampler.tick(&metrics, "drain", now, opts.progress);
        }
        let all_caught_up =
            metrics.caught_up.load(Ordering::Relaxed) >= metrics.live.load(Ordering::Relaxed);
        if now >= drain_end || (now >= settle && all_caught_up) {
            break;
        }
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    shared.stage.set(Stage::Done);
    let closing = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
        tasks.abort_all();
        notes.push("some connections did not close in time and were aborted".into());
    }
    if opts.progress {
        eprintln!();
    }
    let mut interval = metrics::histogram();
    let totals = metrics.collect(&mut interval);
    Ok(Report::build(
        scenario,
        &run_id,
        &world,
        &totals,
        sampler.samples,
        notes,
        fd,
        source.or(shared.dialer.source()),
        threads,
        drain_s,
    ))
}

/// Connects every room's instructor and both parties of every consultation.
fn spawn_hosts(
    scenario: &Scenario,
    world: &World,
    names: &[Arc<str>],
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
) {
    let mut id = scenario.population();
    let per = |rate: f64| (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
    for room in &world.rooms {
        let role = match (&scenario.classroom, &scenario.consultations) {
            (Some(c), _) if room.guest.is_none() => Role::Instructor {
                interval: per(c.instructor.broadcast_rate),
                payload: c.instructor.payload_bytes,
                poll_every: c.instructor.poll_every.map(|s| s.0),
            },
            (_, Some(c)) => Role::Party {
                interval: per(c.chat_rate),
                payload: c.payload_bytes,
            },
            _ => continue,
        };
        for account in std::iter::once(&room.host).chain(room.guest.as_ref()) {
            tasks.spawn(client::run(
                Member {
                    id,
                    room: room.index,
                    room_name: names[room.index].clone(),
                    account: account.clone(),
                    role,
                    leave_at: None,
                },
                shared.clone(),
            ));
            id += 1;
        }
    }
}

/// Waits until every host has joined (or failed), so the window starts with the rooms open.
async fn wait_for_hosts(metrics: &Metrics, hosts: usize, sampler: &mut Sampler) {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let c = metrics.collect(&mut sampler.interval).counters;
        let settled = c.joins + c.join_failures + c.connect_failures;
        if settled >= hosts as u64 || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// When the k-th learner leaves: departures are first in, first out, on each ramp-down phase's
/// fixed timeline.
fn departure_slots(scenario: &Scenario, window_start: Instant) -> Vec<Instant> {
    let mut slots = Vec::new();
    let mut start = window_start;
    for p in &scenario.phases {
        if p.departure_rate > 0.0 {
            let n = (p.departure_rate * p.duration.0.as_secs_f64()).floor() as u64;
            slots.extend(
                (0..n).map(|k| start + Duration::from_secs_f64(k as f64 / p.departure_rate)),
            );
        }
        start += p.duration.0;
    }
    slots
}

/// Things the operator should know before trusting the run, from the scenario alone.
fn advisories(scenario: &Scenario) -> Vec<String> {
    let mut notes = Vec::new();
    let mut busiest: f64 = 0.0;
    if let Some(c) = &scenario.classroom {
        busiest = busiest.max(
            c.instructor.broadcast_rate
                + c.instructor
                    .poll_every
                    .map_or(0.0, |p| 1.0 / p.0.as_secs_f64()),
        );
        if c.connections_per_user > SERVER_DEFAULT_PER_USER {
            notes.push(format!(
                "classroom.connections_per_user is {}: the server must allow it \
                 (LYCEUM_WS_MAX_CONNECTIONS_PER_USER, default {SERVER_DEFAULT_PER_USER}), or \
                 connections close with 4008",
                c.connections_per_user
            ));
        }
    }
    if let Some(c) = &scenario.consultations {
        busiest = busiest.max(c.chat_rate);
    }
    if busiest > SERVER_DEFAULT_RATE {
        notes.push(format!(
            "one connection sends up to {busiest} commands/s; the server's default budget is \
             {SERVER_DEFAULT_RATE}/s: start it with LYCEUM_WS_RATE_PER_SEC and LYCEUM_WS_BURST \
             above that, or expect rate_limited errors"
        ));
    }
    notes
}

/// Turns the shards into one [`Sample`] a second and prints the progress line.
struct Sampler {
    threads: usize,
    next_tick: Instant,
    window_start: Instant,
    last_at: Instant,
    last: Counters,
    last_cpu: Duration,
    last_machine: Option<(u64, u64)>,
    cores: f64,
    interval: Histogram<u64>,
    samples: Vec<Sample>,
}

impl Sampler {
    fn new(threads: usize) -> Self {
        let now = Instant::now();
        Self {
            threads,
            next_tick: now,
            window_start: now,
            last_at: now,
            last: Counters::default(),
            last_cpu: metrics::cpu_time(),
            last_machine: metrics::machine_ticks(),
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            interval: metrics::histogram(),
            samples: Vec::new(),
        }
    }

    fn start(&mut self, at: Instant) {
        self.window_start = at;
        self.last_at = at;
        self.last_cpu = metrics::cpu_time();
        self.last_machine = metrics::machine_ticks();
        self.next_tick = at + Duration::from_secs(1);
    }

    fn tick(&mut self, metrics: &Metrics, phase: &str, now: Instant, progress: bool) {
        let c = metrics.collect(&mut self.interval).counters;
        let dt = now.duration_since(self.last_at).as_secs_f64().max(1e-3);
        let cpu = metrics::cpu_time();
        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
        let machine = metrics::machine_ticks();
        let machine_cpu_cores = match (self.last_machine, machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                Some(b1.saturating_sub(b0) as f64 / (t1 - t0) as f64 * self.cores)
            }
            _ => None,
        };
        let s = Sample {
            t: now.duration_since(self.window_start).as_secs_f64(),
            phase: phase.to_owned(),
            open: c.open,
            connects_per_s: rate(c.connects, self.last.connects),
            events_per_s: rate(c.events, self.last.events),
            frames_in_per_s: rate(c.frames_in, self.last.frames_in),
            frames_out_per_s: rate(c.frames_out, self.last.frames_out),
            errors_per_s: rate(c.errors, self.last.errors),
            p50_ms: pct_ms(&self.interval, 0.5),
            p99_ms: pct_ms(&self.interval, 0.99),
            p999_ms: pct_ms(&self.interval, 0.999),
            max_ms: (!self.interval.is_empty()).then(|| self.interval.max() as f64 / 1000.0),
            cpu_cores: cpu.saturating_sub(self.last_cpu).as_secs_f64() / dt,
            machine_cpu_cores,
            cpu_pressure_pct: metrics::cpu_pressure(),
        };
        if progress {
            let saturated = if s.cpu_cores >= 0.9 * self.threads as f64 {
                " GENERATOR SATURATED"
            } else {
                ""
            };
            eprint!(
                "\r[{phase:>9} {:>5.0}s] open {:>6} | events/s {:>8.0} | out/s {:>6.0} | p99 {:>8} ms | errors {:>5} | cpu {:>3.0}% (machine {:>3.0}%, pressure {:>3.0}%){saturated}   ",
                s.t,
                s.open,
                s.events_per_s,
                s.frames_out_per_s,
                s.p99_ms.map_or("-".into(), |v| format!("{v:.1}")),
                c.errors,
                s.cpu_cores * 100.0,
                s.machine_cpu_cores.unwrap_or(0.0) * 100.0,
                s.cpu_pressure_pct.unwrap_or(0.0),
            );
            let _ = std::io::stderr().flush();
        }
        self.samples.push(s);
        self.last = c;
        self.last_at = now;
        self.last_cpu = cpu;
        self.last_machine = machine;
        while self.next_tick <= now {
            self.next_tick += Duration::from_secs(1);
        }
    }
}
