//! Index benchmark: 100,000 synthetic clustered items of dimension 64 — full build time on
//! one and two threads, query latency percentiles (k = 10, a filter excluding 20 ids, as
//! when a user's owned courses are excluded) and recall@10 against exact search.
//!
//! Run: `cargo bench --bench recommend`. Targets (issue 6): query p99 < 2 ms, full rebuild
//! < 30 s on the 2-core machine. Figures are printed, never asserted.

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

/// A unit vector near `center`: clustered data like real embeddings, harder for HNSW than
/// uniform noise because neighbours crowd together.
fn near(rng: &mut StdRng, center: &[f32], spread: f32) -> Vec<f32> {
    let mut v: Vec<f32> = center
        .iter()
        .map(|c| c + spread * rng.random_range(-1.0f32..1.0))
        .collect();
    normalize(&mut v);
    v
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    let mut rng = StdRng::seed_from_u64(64);
    let centers: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| near(&mut rng, &[0.0; DIM], 1.0))
        .collect();
    let items: Vec<(u32, Vec<f32>)> = (0..ITEMS)
        .map(|i| (i, near(&mut rng, &centers[i as usize % CLUSTERS], 0.35)))
        .collect();
    let params = IndexParams::default();
    println!("{ITEMS} items, dim {DIM}, {CLUSTERS} clusters; {params:?}");

    let mut index = None;
    for threads in [1, 2] {
        let started = Instant::now();
        let built = Index::build(items.clone(), &params, threads);
        println!(
            "build, {threads} thread(s): {:.2} s",
            started.elapsed().as_secs_f64()
        );
        index = Some(built);
    }
    let Some(index) = index else { return };

    let queries: Vec<(Vec<f32>, HashSet<u32>)> = (0..QUERIES)
        .map(|_| {
            let center = rng.random_range(0..CLUSTERS);
            let q = near(&mut rng, &centers[center], 0.35);
            let excluded = (0..EXCLUDED).map(|_| rng.random_range(0..ITEMS)).collect();
            (q, excluded)
        })
        .collect();
    let mut latencies = Vec::with_capacity(QUERIES);
    let mut short = 0;
    let started = Instant::now();
    for (q, excluded) in &queries {
        let t = Instant::now();
        let found = index.search(q, 10, |i| !excluded.contains(&i));
        latencies.push(t.elapsed());
        short += usize::from(found.len() < 10);
    }
    let total = started.elapsed();
    latencies.sort_unstable();
    println!(
        "query k=10, {EXCLUDED} ids filtered, {QUERIES} queries on one thread: \
         p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}; {:.0} queries/s; {short} short results",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies[latencies.len() - 1],
        QUERIES as f64 / total.as_secs_f64()
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
