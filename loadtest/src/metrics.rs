//! What a run measures, recorded where it happens and summed once a second.
//!
//! Connection tasks record into [`Shard`]s (a connection always uses the same one), each behind
//! its own mutex: on the default single-threaded runtime no lock is ever contended, and with
//! more threads contention stays low. Once a second the sampler sums the shards' counters and
//! takes their interval histograms, producing one [`Sample`] of the timeline. Latencies are in
//! microseconds in HDR histograms, which keep their relative error bounded out to the tail.
//!
//! Loss is accounted per connection by [`SeqTracker`] from the protocol's room `seq`: every
//! room event has the next seq of its epoch, so what a member should have received is exactly
//! the seqs after the one it joined at, up to the room's last; the tracker carries its position
//! across reconnects, so an event recovered with `since` is not lost, and one the server could
//! not replay (`recovered:false`) is counted as unrecovered instead.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks exactly (10 minutes, in µs); larger values saturate.
const MAX_MICROS: u64 = 600_000_000;

/// A fresh latency histogram (1 µs to 10 min, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; an error here is a programming bug.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|e| unreachable!("{e}"))
}

/// Records `d` in µs (at least 1).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    h.saturating_record(us);
}

/// Counters every shard keeps; summed for samples and the report.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counters {
    /// Text frames received.
    pub frames_in: u64,
    /// Text frames sent.
    pub frames_out: u64,
    /// Room events received (frames with a `seq`), replays included.
    pub events: u64,
    /// Events that carried a latency stamp and were measured.
    pub measured: u64,
    /// Commands sent (join and leave excluded).
    pub commands: u64,
    /// `ack` frames received for those commands.
    pub acks: u64,
    /// `error` frames received.
    pub errors: u64,
    /// `error` frames other than `conflict`.
    pub hard_errors: u64,
    /// Connections established (upgrade and `hello`).
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Joins answered with `joined`.
    pub joins: u64,
    /// Joins refused or unanswered.
    pub join_failures: u64,
    /// Connections open now (a gauge: connects minus closes).
    pub open: i64,
    /// Rejoins with `since` after a drop.
    pub rejoins: u64,
    /// Rejoins answered `recovered:true`.
    pub recovered: u64,
    /// Rejoins answered `recovered:false`.
    pub not_recovered: u64,
    /// Drops after which reconnecting failed for good.
    pub reconnect_failures: u64,
    /// Frames that did not parse as a protocol frame.
    pub unparsable: u64,
    /// Commands whose answer never came (the pending list overflowed or the connection ended).
    pub unanswered: u64,
}

impl Counters {
    /// Adds `o` into `self`.
    fn add(&mut self, o: &Counters) {
        self.frames_in += o.frames_in;
        self.frames_out += o.frames_out;
        self.events += o.events;
        self.measured += o.measured;
        self.commands += o.commands;
        self.acks += o.acks;
        self.errors += o.errors;
        self.hard_errors += o.hard_errors;
        self.connects += o.connects;
        self.connect_failures += o.connect_failures;
        self.joins += o.joins;
        self.join_failures += o.join_failures;
        self.open += o.open;
        self.rejoins += o.rejoins;
        self.recovered += o.recovered;
        self.not_recovered += o.not_recovered;
        self.reconnect_failures += o.reconnect_failures;
        self.unparsable += o.unparsable;
        self.unanswered += o.unanswered;
    }
}

/// Delivery accounting of one room (or of everything).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Tally {
    /// Events members should have received.
    pub expected: u64,
    /// Distinct expected events they did receive.
    pub delivered: u64,
    /// Expected but never received.
    pub lost: u64,
    /// Received again.
    pub duplicates: u64,
    /// Received after a later seq (filling a gap late).
    pub out_of_order: u64,
    /// Skipped because a rejoin answered `recovered:false` (history gone).
    pub unrecovered: u64,
}

impl Tally {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Tally) {
        self.expected += o.expected;
        self.delivered += o.delivered;
        self.lost += o.lost;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        self.unrecovered += o.unrecovered;
    }

    /// lost / expected (0 when nothing was expected).
    pub fn loss_ratio(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost as f64 / self.expected as f64
        }
    }
}

/// What a received seq was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next one.
    InOrder,
    /// Later than the next one: the seqs between are missing (for now).
    Gap,
    /// Fills a gap.
    Late,
    /// Seen before.
    Duplicate,
    /// Before the first join: no position to compare with.
    Unplaced,
}

/// One member's position in its room's log, across reconnects.
#[derive(Debug, Default)]
pub struct SeqTracker {
    /// The seq the member first joined at; events after it are expected.
    base: Option<u64>,
    /// Highest seq received (or skipped by a non-recovering rejoin).
    last: u64,
    /// Missing seqs below `last`, as inclusive ranges; usually empty.
    gaps: Vec<(u64, u64)>,
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    unrecovered: u64,
}

impl SeqTracker {
    /// The highest seq seen, once joined.
    pub fn last(&self) -> Option<u64> {
        self.base.map(|_| self.last)
    }

    /// A `joined` at `seq`. The first one sets the base. A later one that `recovered` has had
    /// the missed events replayed before it (they went through [`Self::event`]); one that did
    /// not recover skips everything up to `seq`, counted as unrecovered.
    pub fn joined(&mut self, seq: u64, recovered: bool) {
        match self.base {
            None => {
                self.base = Some(seq);
                self.last = seq;
            }
            Some(_) if !recovered && seq > self.last => {
                self.unrecovered += seq - self.last;
                self.last = seq;
            }
            Some(_) => {}
        }
    }

    /// An event with `seq` arrived.
    pub fn event(&mut self, seq: u64) -> Arrival {
        let Some(base) = self.base else {
            return Arrival::Unplaced;
        };
        if seq <= base {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        if seq == self.last + 1 {
            self.last = seq;
            self.delivered += 1;
            return Arrival::InOrder;
        }
        if seq > self.last {
            self.gaps.push((self.last + 1, seq - 1));
            self.last = seq;
            self.delivered += 1;
            return Arrival::Gap;
        }
        match self.gaps.iter().position(|&(a, b)| a <= seq && seq <= b) {
            Some(i) => {
                let (a, b) = self.gaps.swap_remove(i);
                if a < seq {
                    self.gaps.push((a, seq - 1));
                }
                if seq < b {
                    self.gaps.push((seq + 1, b));
                }
                self.delivered += 1;
                self.out_of_order += 1;
                Arrival::Late
            }
            None => {
                self.duplicates += 1;
                Arrival::Duplicate
            }
        }
    }

    /// The member's account, with the room's log ending at `end` (events after what the member
    /// saw and up to `end` were expected too). A member that never joined expected nothing.
    pub fn tally(&self, end: u64) -> Tally {
        let Some(base) = self.base else {
            return Tally {
                duplicates: self.duplicates,
                ..Tally::default()
            };
        };
        let end = end.max(self.last);
        let expected = (end - base).saturating_sub(self.unrecovered);
        Tally {
            expected,
            delivered: self.delivered,
            lost: expected.saturating_sub(self.delivered),
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            unrecovered: self.unrecovered,
        }
    }
}

/// What one shard records: the interval histogram the sampler takes each second, and its
/// share of the whole run.
pub struct Shard {
    /// Delivery latency since the last sample.
    pub delivery_interval: Histogram<u64>,
    /// Everything else, for the whole run.
    pub run: Totals,
}

/// The run's measurements, shared by every task.
pub struct Metrics {
    shards: Vec<Mutex<Shard>>,
    phases: usize,
    /// The instant latency stamps count from (process-local: one generator process).
    pub epoch: Instant,
    /// Index of the phase now running.
    pub phase: AtomicUsize,
    /// Members running (connected, connecting or waiting to reconnect).
    pub live: AtomicUsize,
    /// Members that caught up with their room after the last phase.
    pub caught_up: AtomicUsize,
    /// Highest seq known per room (from acks, joins and events): the end of each room's log.
    pub room_seq: Vec<AtomicU64>,
}

impl Metrics {
    /// Metrics for `rooms` rooms and `phases` phases, in `shards` shards.
    pub fn new(shards: usize, phases: usize, rooms: usize) -> Self {
        Self {
            phases: phases.max(1),
            shards: (0..shards.max(1))
                .map(|_| {
                    Mutex::new(Shard {
                        delivery_interval: histogram(),
                        run: Totals::new(phases.max(1), rooms),
                    })
                })
                .collect(),
            epoch: Instant::now(),
            phase: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            caught_up: AtomicUsize::new(0),
            room_seq: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The shard of connection `id`. A poisoned lock still holds valid numbers.
    pub fn shard(&self, id: usize) -> MutexGuard<'_, Shard> {
        self.shards[id % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Microseconds since [`Self::epoch`]: the unit of latency stamps.
    pub fn micros_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// The instant a stamp of `micros` stands for.
    pub fn instant_of(&self, micros: u64) -> Instant {
        self.epoch + Duration::from_micros(micros)
    }

    /// Notes that `room`'s log reaches at least `seq`. Cheap when it is not news (a load).
    pub fn saw_seq(&self, room: usize, seq: u64) {
        let cell = &self.room_seq[room];
        if cell.load(Ordering::Relaxed) < seq {
            cell.fetch_max(seq, Ordering::Relaxed);
        }
    }

    /// The highest seq known of `room`.
    pub fn room_end(&self, room: usize) -> u64 {
        self.room_seq[room].load(Ordering::Relaxed)
    }

    /// Sums every shard: counters, per-room tallies, error and close codes, and the merged
    /// whole-run histograms. Takes (and resets) the interval histogram into `interval`.
    pub fn collect(&self, interval: &mut Histogram<u64>) -> Totals {
        let mut t = Totals::new(self.phases, self.room_seq.len());
        interval.reset();
        for s in &self.shards {
            let mut s = s.lock().unwrap_or_else(|p| p.into_inner());
            // Merging histograms of equal bounds cannot fail.
            let _ = interval.add(&s.delivery_interval);
            s.delivery_interval.reset();
            t.add(&s.run);
        }
        t
    }
}

/// The whole run's histograms and counters: a shard's share, or everything summed.
pub struct Totals {
    /// Summed counters.
    pub counters: Counters,
    /// Delivery latency per phase.
    pub delivery_by_phase: Vec<Histogram<u64>>,
    /// Command → ack latency.
    pub ack: Histogram<u64>,
    /// Connect latency.
    pub connect: Histogram<u64>,
    /// Join latency.
    pub join: Histogram<u64>,
    /// Drop → recovered latency.
    pub reconnect: Histogram<u64>,
    /// Generator send lag.
    pub send_lag: Histogram<u64>,
    /// Error frames by code.
    pub errors: BTreeMap<String, u64>,
    /// Closes by code.
    pub closes: BTreeMap<u16, u64>,
    /// Per-room delivery accounting.
    pub rooms: Vec<Tally>,
}

impl Totals {
    fn new(phases: usize, rooms: usize) -> Self {
        Self {
            counters: Counters::default(),
            delivery_by_phase: (0..phases).map(|_| histogram()).collect(),
            ack: histogram(),
            connect: histogram(),
            join: histogram(),
            reconnect: histogram(),
            send_lag: histogram(),
            errors: BTreeMap::new(),
            closes: BTreeMap::new(),
            rooms: vec![Tally::default(); rooms],
        }
    }

    /// Adds `o` into `self` (histograms of equal bounds merge without error).
    fn add(&mut self, o: &Totals) {
        self.counters.add(&o.counters);
        for (h, p) in self.delivery_by_phase.iter_mut().zip(&o.delivery_by_phase) {
            let _ = h.add(p);
        }
        let _ = self.ack.add(&o.ack);
        let _ = self.connect.add(&o.connect);
        let _ = self.join.add(&o.join);
        let _ = self.reconnect.add(&o.reconnect);
        let _ = self.send_lag.add(&o.send_lag);
        for (code, n) in &o.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        for (code, n) in &o.closes {
            *self.closes.entry(*code).or_default() += n;
        }
        for (a, b) in self.rooms.iter_mut().zip(&o.rooms) {
            a.add(b);
        }
    }

    /// Delivery latency over all phases.
    pub fn delivery(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in &self.delivery_by_phase {
            let _ = all.add(h);
        }
        all
    }
}

/// One second of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the measured window began.
    pub t: f64,
    /// The phase running.
    pub phase: String,
    /// Connections open.
    pub open: i64,
    /// Connections established per second (reconnects included).
    pub connects_per_s: f64,
    /// Room events received per second.
    pub events_per_s: f64,
    /// Frames received per second.
    pub frames_in_per_s: f64,
    /// Frames sent per second.
    pub frames_out_per_s: f64,
    /// Error frames per second.
    pub errors_per_s: f64,
    /// Delivery latency of this second (ms), when anything was measured.
    pub p50_ms: Option<f64>,
    /// 99th percentile (ms).
    pub p99_ms: Option<f64>,
    /// 99.9th percentile (ms).
    pub p999_ms: Option<f64>,
    /// Maximum (ms).
    pub max_ms: Option<f64>,
    /// CPU the generator process used, in cores (1.0 = one core busy).
    pub cpu_cores: f64,
    /// CPU the whole machine used, in cores (generator, server and anything else).
    pub machine_cpu_cores: Option<f64>,
    /// Share of time runnable tasks waited for a CPU (Linux PSI `cpu some avg10`, %): other
    /// work competing for the cores shows here, and in every latency measured meanwhile.
    pub cpu_pressure_pct: Option<f64>,
}

/// Percentile of `h` in milliseconds, `None` when empty.
pub fn pct_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
}

/// CPU time (user + system) this process has used.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer is always allowed.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The generator process's peak resident memory, in KiB (`getrusage` `ru_maxrss`).
pub fn peak_rss_kib() -> u64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer is always allowed.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0;
    }
    u64::try_from(u.ru_maxrss).unwrap_or(0)
}

/// Busy and total CPU time of the whole machine, in clock ticks (`/proc/stat`).
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// `some avg10` of `/proc/pressure/cpu`, when the kernel has PSI.
pub fn cpu_pressure() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some"))?;
    some.split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_delivery_loses_nothing() {
        let mut t = SeqTracker::default();
        t.joined(10, false);
        for s in 11..=20 {
            assert_eq!(t.event(s), Arrival::InOrder);
        }
        let tally = t.tally(20);
        assert_eq!((tally.expected, tally.delivered, tally.lost), (10, 10, 0));
    }

    #[test]
    fn gaps_late_arrivals_and_duplicates_are_told_apart() {
        let mut t = SeqTracker::default();
        assert_eq!(t.event(1), Arrival::Unplaced);
        t.joined(0, false);
        assert_eq!(t.event(1), Arrival::InOrder);
        assert_eq!(t.event(4), Arrival::Gap);
        assert_eq!(t.event(3), Arrival::Late);
        assert_eq!(t.event(3), Arrival::Duplicate);
        assert_eq!(t.event(4), Arrival::Duplicate);
        let tally = t.tally(6);
        assert_eq!(tally.expected, 6);
        assert_eq!(tally.delivered, 3);
        assert_eq!(tally.lost, 3, "2 never came, 5 and 6 never came");
        assert_eq!((tally.duplicates, tally.out_of_order), (2, 1));
    }

    #[test]
    fn recovery_keeps_the_position_and_a_failed_one_is_unrecovered() {
        let mut t = SeqTracker::default();
        t.joined(5, false);
        t.event(6);
        // Dropped; replay of 7..=9 then joined at 9, recovered.
        for s in 7..=9 {
            t.event(s);
        }
        t.joined(9, true);
        // Dropped again; the history is gone: joined at 15 without recovery.
        t.joined(15, false);
        t.event(16);
        let tally = t.tally(16);
        assert_eq!(tally.unrecovered, 6);
        assert_eq!(tally.expected, 5);
        assert_eq!((tally.delivered, tally.lost), (5, 0));
    }

    #[test]
    fn totals_sum_shards_and_take_the_interval() {
        let m = Metrics::new(3, 2, 2);
        for id in 0..6 {
            let mut s = m.shard(id);
            s.run.counters.events += 1;
            record(&mut s.delivery_interval, Duration::from_millis(2));
            record(
                &mut s.run.delivery_by_phase[id % 2],
                Duration::from_millis(2),
            );
            s.run.rooms[id % 2].add(&Tally {
                expected: 2,
                delivered: 1,
                lost: 1,
                ..Tally::default()
            });
        }
        let mut interval = histogram();
        let t = m.collect(&mut interval);
        assert_eq!(t.counters.events, 6);
        assert_eq!(interval.len(), 6);
        assert_eq!(t.delivery().len(), 6);
        assert_eq!(t.rooms[0].expected, 6);
        assert!((t.rooms[1].loss_ratio() - 0.5).abs() < 1e-9);
        let t = m.collect(&mut interval);
        assert_eq!(interval.len(), 0, "the interval was taken");
        assert_eq!(t.delivery().len(), 6, "whole-run histograms stay");
    }
}
