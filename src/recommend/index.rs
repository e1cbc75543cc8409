//! Nearest-neighbour search over item vectors: an hnsw_rs graph for speed and an exact scan
//! as the baseline it is measured against (and the fallback when filters leave too little).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use hnsw_rs::prelude::{DistCosine, Hnsw};
use serde::Serialize;

use super::model::{dot, normalize};

/// HNSW graph parameters; `Default` gives the production values, chosen with
/// `cargo bench --bench recommend` (100,000 items of dimension 64, see docs/recommendations.md):
/// hnsw_rs costs about 25 CPU seconds to insert 100,000 such items with M = 12 and
/// ef_construction = 48 (M = 16, ef_construction = 100 took 54), which keeps a one-thread
/// rebuild under the 30 s target; ef_search = 64 keeps query p99 under a millisecond.
#[derive(Clone, Debug, Serialize)]
pub struct IndexParams {
    /// Links kept per point and layer (HNSW's M): more links, better recall, slower build.
    pub max_connections: usize,
    /// Candidate list while inserting: wider, better graph, slower build.
    pub ef_construction: usize,
    /// Candidate list while searching (at least k): wider, better recall, slower queries.
    pub ef_search: usize,
    /// Upper bound on the graph's layers (hnsw_rs caps it at 16).
    pub max_layers: usize,
    /// Indexes with fewer items are searched exactly: a scan of a thousand vectors takes tens
    /// of microseconds, no slower than the graph, and is never wrong. (The graph can also
    /// lose links among items with identical vectors, which small catalogs often have.)
    pub exact_below: usize,
}

impl Default for IndexParams {
    fn default() -> Self {
        IndexParams {
            max_connections: 12,
            ef_construction: 48,
            ef_search: 64,
            max_layers: 16,
            exact_below: 1_000,
        }
    }
}

/// HNSW (hnsw_rs, `DistCosine`) over item vectors, keyed by dense `u32` item index, keeping
/// each item's unit vector too (for `vector()`, for exact re-scoring and the exact fallback).
/// `Send + Sync`: it sits behind an `ArcSwap` and is searched from many threads while
/// `insert` adds cold-start items through `&self`.
pub struct Index {
    graph: Hnsw<'static, f32, DistCosine>,
    vectors: RwLock<HashMap<u32, Arc<[f32]>>>,
    params: IndexParams,
}

impl Index {
    /// Builds the index using at most `threads` threads: a dedicated rayon pool, never the
    /// global one, its threads at the lowest priority so requests keep their cores. Zero or non-finite vectors
    /// are skipped (they have no direction to search by). With one thread, or if the pool
    /// cannot be created, it inserts on the calling thread.
    pub fn build(items: Vec<(u32, Vec<f32>)>, params: &IndexParams, threads: usize) -> Index {
        let mut vectors = HashMap::with_capacity(items.len());
        for (item, mut v) in items {
            if normalize(&mut v) {
                vectors.insert(item, Arc::<[f32]>::from(v));
            }
        }
        let graph = Hnsw::new(
            params.max_connections,
            vectors.len().max(1),
            params.max_layers,
            params.ef_construction,
            DistCosine {},
        );
        // Insert in id order: the same items always give the same graph on one thread.
        let mut batch: Vec<(&[f32], usize)> = vectors
            .iter()
            .map(|(&item, v)| (&v[..], item as usize))
            .collect();
        batch.sort_unstable_by_key(|&(_, item)| item);
        let pool = (threads > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("hnsw-build-{i}"))
                    .start_handler(|_| super::priority::lower_this_thread())
                    .build()
            })
            .transpose();
        match pool {
            Ok(Some(pool)) => pool.install(|| graph.parallel_insert_slice(&batch)),
            Ok(None) => batch.iter().for_each(|&point| graph.insert_slice(point)),
            Err(e) => {
                tracing::warn!("no thread pool for the index build, building on one thread: {e}");
                batch.iter().for_each(|&point| graph.insert_slice(point));
            }
        }
        drop(batch);
        Index {
            graph,
            vectors: RwLock::new(vectors),
            params: params.clone(),
        }
    }

    /// Inserts one item now (cold start) through `&self`; concurrent searches keep working.
    /// Re-inserting an existing id *updates* it: `vector()` and every search score use the
    /// new vector, and the id is still reported once. (The graph cannot delete, so the old
    /// vector's node stays as a second way to reach the item until the next rebuild.) A zero
    /// or non-finite vector is ignored.
    pub fn insert(&self, item: u32, mut vector: Vec<f32>) {
        if !normalize(&mut vector) {
            return;
        }
        let vector = Arc::<[f32]>::from(vector);
        self.graph.insert_slice((&vector, item as usize));
        self.vectors
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(item, vector);
    }

    /// Up to `k` nearest items by cosine similarity (higher is closer), best first, skipping
    /// items for which `keep` is false. Exact below `exact_below` items. Filtering happens after the graph search, which is
    /// widened until `k` items pass (hnsw_rs's own filter explores the whole graph); when the
    /// whole graph has been asked and still too few pass, an exact scan finishes the job, so
    /// fewer than `k` come back only when fewer than `k` items pass `keep`.
    pub fn search(&self, query: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let mut query = query.to_vec();
        if k == 0 || !normalize(&mut query) {
            return Vec::new();
        }
        let points = self.graph.get_nb_point();
        if points < self.params.exact_below {
            return self.exact(&query, k, keep);
        }
        let mut asked = k;
        loop {
            let ef = self.params.ef_search.max(asked);
            let found = self.graph.search(&query, asked, ef);
            let mut seen = HashSet::with_capacity(found.len());
            // `keep` runs before the lock is taken: it may call back into this index.
            let passed: Vec<u32> = found
                .iter()
                .filter_map(|n| u32::try_from(n.d_id).ok())
                .filter(|&item| keep(item) && seen.insert(item))
                .collect();
            if passed.len() >= k {
                let vectors = self.vectors.read().unwrap_or_else(PoisonError::into_inner);
                let mut hits: Vec<(u32, f32)> = passed
                    .into_iter()
                    .filter_map(|item| Some((item, dot(&query, vectors.get(&item)?))))
                    .collect();
                drop(vectors);
                sort_best_first(&mut hits);
                hits.truncate(k);
                if hits.len() == k {
                    return hits;
                }
            }
            if asked >= points {
                return self.exact(&query, k, keep);
            }
            // Ask for as many more as were filtered out so far, at least doubling.
            let rejected = found.len() - seen.len();
            asked = (asked * 2).max(k + 2 * rejected).min(points);
        }
    }

    /// The stored (unit) vector of `item`, if it is indexed.
    pub fn vector(&self, item: u32) -> Option<Arc<[f32]>> {
        self.vectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&item)
            .cloned()
    }

    /// Number of distinct items indexed.
    pub fn len(&self) -> usize {
        self.vectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no item is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exact top-`k` over this index's own vectors: the recall baseline for this very index.
    /// Scans a snapshot, so `keep` runs with no lock held.
    pub fn exact(&self, query: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let snapshot: Vec<(u32, Arc<[f32]>)> = self
            .vectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(&item, v)| (item, Arc::clone(v)))
            .collect();
        exact_search(snapshot.iter().map(|(i, v)| (*i, &v[..])), query, k, keep)
    }
}

/// Best first; equal similarities by item, so results never depend on hash order.
fn sort_best_first(hits: &mut [(u32, f32)]) {
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// Exact cosine top-`k` by brute force over `items` (unit vectors), skipping items for which
/// `keep` is false: the baseline HNSW recall is measured against.
pub fn exact_search<'a>(
    items: impl IntoIterator<Item = (u32, &'a [f32])>,
    query: &[f32],
    k: usize,
    keep: impl Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let mut query = query.to_vec();
    if k == 0 || !normalize(&mut query) {
        return Vec::new();
    }
    let mut hits: Vec<(u32, f32)> = items
        .into_iter()
        .filter(|&(item, _)| keep(item))
        .map(|(item, v)| (item, dot(&query, v)))
        .collect();
    if hits.len() > k {
        hits.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
    }
    sort_best_first(&mut hits);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// Default parameters but always through the graph, however small the index.
    fn graph_only() -> IndexParams {
        IndexParams {
            exact_below: 0,
            ..IndexParams::default()
        }
    }

    fn random_items(n: u32, dim: usize, seed: u64) -> Vec<(u32, Vec<f32>)> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|i| (i, (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect()))
            .collect()
    }

    #[test]
    fn index_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Index>();
    }

    #[test]
    fn hnsw_finds_what_exact_search_finds() {
        let items = random_items(2_000, 16, 1);
        let index = Index::build(items.clone(), &graph_only(), 2);
        assert_eq!(index.len(), 2_000);
        let queries = random_items(100, 16, 2);
        let mut overlap = 0;
        for (_, q) in &queries {
            let exact: HashSet<u32> = index.exact(q, 10, |_| true).iter().map(|h| h.0).collect();
            let found = index.search(q, 10, |_| true);
            assert_eq!(found.len(), 10);
            assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
            overlap += found.iter().filter(|h| exact.contains(&h.0)).count();
        }
        let recall = overlap as f64 / (10 * queries.len()) as f64;
        assert!(recall >= 0.95, "recall@10 {recall}");
    }

    #[test]
    fn an_inserted_item_is_found_at_once() {
        let index = Index::build(random_items(300, 8, 3), &graph_only(), 1);
        let new = vec![1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0];
        index.insert(1_000, new.clone());
        let found = index.search(&new, 5, |_| true);
        assert_eq!(found[0].0, 1_000);
        assert!((found[0].1 - 1.0).abs() < 1e-5, "similarity, not distance");
        assert_eq!(index.len(), 301);
    }

    #[test]
    fn an_empty_index_takes_inserts_while_it_is_searched() {
        let index = Index::build(Vec::new(), &graph_only(), 1);
        assert!(index.search(&[1.0; 8], 5, |_| true).is_empty());
        let items = random_items(400, 8, 6);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for (item, v) in items.iter().cloned() {
                    index.insert(item, v);
                }
            });
            scope.spawn(|| {
                for (_, q) in items.iter().take(200) {
                    assert!(index.search(q, 5, |_| true).len() <= 5);
                }
            });
        });
        assert_eq!(index.len(), 400);
        let (item, q) = &items[123];
        assert_eq!(index.search(q, 1, |_| true)[0].0, *item);
    }

    #[test]
    fn reinserting_an_item_updates_its_vector() {
        let index = Index::build(
            vec![(1, vec![1.0, 0.0]), (2, vec![0.0, 1.0])],
            &graph_only(),
            1,
        );
        index.insert(1, vec![-1.0, 0.0]);
        assert_eq!(index.vector(1).as_deref(), Some(&[-1.0, 0.0][..]));
        let found = index.search(&[1.0, 0.0], 5, |_| true);
        assert_eq!(
            found.iter().filter(|h| h.0 == 1).count(),
            1,
            "reported once: {found:?}"
        );
        assert_eq!(found[0].0, 2, "scored by its new vector: {found:?}");
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_filtered_search_still_returns_k_items() {
        let items = random_items(1_000, 8, 4);
        let index = Index::build(items.clone(), &graph_only(), 1);
        let (_, q) = &items[0];
        let banned: HashSet<u32> = index.exact(q, 200, |_| true).iter().map(|h| h.0).collect();
        let found = index.search(q, 10, |i| !banned.contains(&i));
        assert_eq!(found.len(), 10);
        assert!(found.iter().all(|h| !banned.contains(&h.0)));
        // Only 3 items pass: all of them come back, found by the exact fallback if need be.
        let found = index.search(q, 10, |i| i < 3);
        assert_eq!(
            found.iter().map(|h| h.0).collect::<HashSet<_>>(),
            HashSet::from([0, 1, 2])
        );
    }

    #[test]
    fn small_indexes_are_searched_exactly() {
        let items = random_items(500, 8, 5);
        let index = Index::build(items.clone(), &IndexParams::default(), 1);
        for (_, q) in items.iter().take(20) {
            assert_eq!(
                index.search(q, 10, |i| i % 3 != 0),
                index.exact(q, 10, |i| i % 3 != 0)
            );
        }
    }

    #[test]
    fn zero_vectors_are_not_indexed() {
        let index = Index::build(
            vec![(1, vec![0.0, 0.0]), (2, vec![0.0, 1.0])],
            &graph_only(),
            1,
        );
        index.insert(3, vec![0.0, 0.0]);
        assert_eq!(index.len(), 1);
        assert!(index.search(&[0.0, 0.0], 3, |_| true).is_empty());
        assert_eq!(index.search(&[1.0, 0.0], 3, |_| true).len(), 1);
    }

    #[test]
    fn exact_search_ranks_by_cosine() {
        let items = [
            (7u32, vec![1.0f32, 0.0]),
            (8, vec![0.6, 0.8]),
            (9, vec![0.0, 1.0]),
        ];
        let found = exact_search(
            items.iter().map(|(i, v)| (*i, &v[..])),
            &[2.0, 0.0],
            2,
            |i| i != 9,
        );
        assert_eq!(found.iter().map(|h| h.0).collect::<Vec<_>>(), vec![7, 8]);
        assert!((found[1].1 - 0.6).abs() < 1e-6);
    }
}
