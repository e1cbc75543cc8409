//! Index benchmark: 100,000 synthetic clustered items of dimension 64 — full build time on
//! one and two threads, query latency percentiles (k = 10, a filter excluding 20 ids, as
//! when a user's owned courses are excluded) and recall@10 against exact search.
//!
//! The items imitate learned embeddings: 200 clusters, each item its cluster's centre plus a
//! point of an 8-dimensional subspace of its own cluster plus slight noise in all 64
//! coordinates. (Isotropic noise in all 64 coordinates would be the wrong test: distances
//! concentrate, every item is about as near as every other and "the true top 10" is chance.)
//!
//! Run: `cargo bench --bench recommend`. Targets (issue 6): query p99 < 2 ms, full rebuild
//! < 30 s on the 2-core machine. Figures are printed, never asserted. For tuning, the
//! environment may override the size and the index parameters: `BENCH_ITEMS`, `BENCH_M`,
//! `BENCH_EF_CONSTRUCTION`, `BENCH_EF_SEARCH`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lyceum::recommend::index::{Index, IndexParams};
use lyceum::recommend::model::normalize;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const ITEMS: u32 = 100_000;
const DIM: usize = 64;
const CLUSTERS: usize = 200;
const QUERIES: usize = 10_000;
const RECALL_SAMPLE: usize = 500;
const EXCLUDED: usize = 20;
/// Dimension of the subspace each cluster varies in, and the scale of that variation.
const CLUSTER_RANK: usize = 8;
const CLUSTER_SPREAD: f32 = 0.5;
/// Noise in every coordinate (uniform in ±NOISE).
const NOISE: f32 = 0.02;

/// A cluster: its unit centre and the basis of the subspace its items vary in.
struct Cluster {
    center: Vec<f32>,
    basis: Vec<Vec<f32>>,
}

fn uniform(rng: &mut StdRng, scale: f32) -> Vec<f32> {
    (0..DIM)
        .map(|_| scale * rng.random_range(-1.0f32..1.0))
        .collect()
}

impl Cluster {
    fn new(rng: &mut StdRng) -> Cluster {
        let mut center = uniform(rng, 1.0);
        normalize(&mut center);
        let basis = (0..CLUSTER_RANK)
            .map(|_| {
                let mut b = uniform(rng, 1.0);
                normalize(&mut b);
                b
            })
            .collect();
        Cluster { center, basis }
    }

    /// A unit vector of this cluster.
    fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        let mut v = uniform(rng, NOISE);
        for (x, c) in v.iter_mut().zip(&self.center) {
            *x += c;
        }
        for b in &self.basis {
            let weight = CLUSTER_SPREAD * rng.random_range(-1.0f32..1.0);
            for (x, bi) in v.iter_mut().zip(b) {
                *x += weight * bi;
            }
        }
        normalize(&mut v);
        v
    }
}

/// CPU seconds this process has used so far (user + system, from /proc; 0 where absent), to
/// tell the build's own cost from time lost to other processes on a shared machine.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time the calling thread has used (0 where the clock is unavailable).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given, which lives on this stack.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// `name` from the environment, or `default` when unset or not a number.
fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let items_count: u32 = knob("BENCH_ITEMS", ITEMS);
    let defaults = IndexParams::default();
    let params = IndexParams {
        max_connections: knob("BENCH_M", defaults.max_connections),
        ef_construction: knob("BENCH_EF_CONSTRUCTION", defaults.ef_construction),
        ef_search: knob("BENCH_EF_SEARCH", defaults.ef_search),
        ..defaults
    };
    let mut rng = StdRng::seed_from_u64(64);
    let clusters: Vec<Cluster> = (0..CLUSTERS).map(|_| Cluster::new(&mut rng)).collect();
    let items: Vec<(u32, Vec<f32>)> = (0..items_count)
        .map(|i| (i, clusters[i as usize % CLUSTERS].sample(&mut rng)))
        .collect();
    println!("{items_count} items, dim {DIM}, {CLUSTERS} clusters; {params:?}");

    let mut index = None;
    for threads in [1, 2] {
        let items = items.clone();
        let (started, cpu) = (Instant::now(), cpu_secs());
        let built = Index::build(items, &params, threads);
        println!(
            "build, {threads} thread(s): {:.2} s ({:.2} CPU s)",
            started.elapsed().as_secs_f64(),
            cpu_secs() - cpu
        );
        index = Some(built);
    }
    let Some(index) = index else { return };

    let queries: Vec<(Vec<f32>, HashSet<u32>)> = (0..QUERIES)
        .map(|_| {
            let cluster = rng.random_range(0..CLUSTERS);
            let q = clusters[cluster].sample(&mut rng);
            let excluded = (0..EXCLUDED)
                .map(|_| rng.random_range(0..items_count))
                .collect();
            (q, excluded)
        })
        .collect();
    let mut latencies = Vec::with_capacity(QUERIES);
    let mut cpu_times = Vec::with_capacity(QUERIES);
    let mut short = 0;
    let started = Instant::now();
    for (q, excluded) in &queries {
        let (t, cpu) = (Instant::now(), thread_cpu());
        let found = index.search(q, 10, |i| !excluded.contains(&i));
        cpu_times.push(thread_cpu().saturating_sub(cpu));
        latencies.push(t.elapsed());
        short += usize::from(found.len() < 10);
    }
    let total = started.elapsed();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    latencies.sort_unstable();
    cpu_times.sort_unstable();
    println!(
        "query k=10, {EXCLUDED} ids filtered, {QUERIES} queries on one thread: \
         p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}; {:.0} queries/s; {short} short results \
         (load average {})",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies[latencies.len() - 1],
        QUERIES as f64 / total.as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  the same queries' own CPU time: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        percentile(&cpu_times, 0.50),
        percentile(&cpu_times, 0.99),
        percentile(&cpu_times, 0.999),
        cpu_times[cpu_times.len() - 1],
    );

    let mut overlap = 0;
    for (q, excluded) in queries.iter().take(RECALL_SAMPLE) {
        let keep = |i: u32| !excluded.contains(&i);
        let truth: HashSet<u32> = index.exact(q, 10, keep).iter().map(|h| h.0).collect();
        overlap += index
            .search(q, 10, keep)
            .iter()
            .filter(|h| truth.contains(&h.0))
            .count();
    }
    println!(
        "recall@10 vs exact over {RECALL_SAMPLE} queries: {:.4}",
        overlap as f64 / (10 * RECALL_SAMPLE) as f64
    );
}
