//! The recommendation model: item vectors from content and behaviour, user vectors from what
//! a user touched, all plain functions over plain data so they are tested without a server.
//!
//! Every vector has `params.dim` coordinates split into two disjoint blocks: the first
//! `dim - content_dims` hold the collaborative embedding, the last `content_dims` the hashed
//! content features. Because the blocks are orthogonal, blending is a weighted concatenation:
//! the cosine of two blended items is exactly the support-weighted sum of their collaborative
//! and content cosines, with no cross terms between unrelated coordinate systems.

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// What the content featuriser sees of a course: enough to place a course that nobody has
/// touched yet (cold start) near courses that share its tags, instructor or words.
#[derive(Clone, Debug, Default)]
pub struct ItemContent {
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub instructor: String,
    pub language: String,
    pub level: String,
    pub title: String,
    pub description: String,
}

/// Model hyper-parameters; `Default` gives the production values. One struct so the server
/// and the evaluation run the very same model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelParams {
    /// Length of every item and user vector.
    pub dim: usize,
    /// Coordinates (at the end of each vector) reserved for hashed content features; the rest
    /// carry the collaborative embedding.
    pub content_dims: usize,
    /// An item's support (users with a positive interaction) at which its collaborative part
    /// weighs as much as its content part: fewer users, more content; more, more behaviour.
    pub content_support: f32,
    /// Half-life of an interaction's pull on the user vector, in seconds. A week in
    /// production: a learner's interests drift over weeks. Data entered in bursts needs less
    /// (the MovieLens evaluation uses a day; docs/recommendations.md has the sweep).
    pub half_life_secs: f64,
    /// Exponent of the eigenvalues scaling the embedding (0.5 is the symmetric choice of
    /// word-embedding practice: dot products then approximate the PPMI matrix).
    pub eigen_power: f64,
    /// Extra random directions of the randomised eigendecomposition (accuracy for cost).
    pub oversample: usize,
    /// Power iterations of the randomised eigendecomposition (accuracy for cost).
    pub power_iters: usize,
    /// At most this many of a user's most recent items enter the co-occurrence counts: the
    /// count costs the square of a user's item count, so one heavy user cannot stall a refit.
    pub max_items_per_user: usize,
    /// Seed of the random projection, so a refit of the same data gives the same vectors.
    pub seed: u64,
    /// Weight of an item's popularity prior (its time-decayed popularity over the most popular
    /// item's, in 0..1) added to its cosine when a user's candidates are re-scored: cosine
    /// alone ranks rarely taken items as high as well-trodden ones, and what is taken now says
    /// more about tomorrow than what was taken a year ago. Chosen on a validation slice
    /// (docs/recommendations.md has the sweep).
    pub popularity_prior: f32,
    /// Half-life of an interaction's contribution to popularity, in seconds (the prior and
    /// the "popular" fallback list). Chosen with the prior's weight.
    pub popularity_half_life_secs: f64,
    /// Candidates taken from the index for a user, joined by the most popular items and
    /// re-scored exactly, whatever the `limit`: one fixed pool, so a shorter list is drawn
    /// from the same candidates as a longer one, and a popular item a little off the user's
    /// direction still competes on its full score.
    pub candidate_pool: usize,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            dim: 64,
            content_dims: 16,
            content_support: 10.0,
            half_life_secs: 7.0 * 86_400.0,
            eigen_power: 0.5,
            oversample: 16,
            power_iters: 3,
            max_items_per_user: 1_000,
            seed: 0x5eed_1ec7,
            popularity_prior: 2.0,
            popularity_half_life_secs: 7.0 * 86_400.0,
            candidate_pool: 200,
        }
    }
}

impl ModelParams {
    /// Coordinates of the collaborative block (`0..collab_dims()`).
    pub fn collab_dims(&self) -> usize {
        self.dim.saturating_sub(self.content_dims)
    }
}

/// One implicit-feedback interaction: dense item index, strength (may be negative, e.g. a
/// refund taking back a purchase), unix seconds.
#[derive(Clone, Copy, Debug)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    pub weight: f32,
    pub at: i64,
}

/// Weights of each content feature kind: the things a learner follows (tags, instructor,
/// category) count most, single words of free text least.
const TAG_WEIGHT: f32 = 1.0;
const CATEGORY_WEIGHT: f32 = 1.0;
const INSTRUCTOR_WEIGHT: f32 = 1.0;
const LANGUAGE_WEIGHT: f32 = 0.5;
const LEVEL_WEIGHT: f32 = 0.5;
const WORD_WEIGHT: f32 = 0.3;

/// Deterministic L2-normalised content vector (cold start): signed feature hashing of tags,
/// category, instructor, language, level and the words of title and description into the
/// content block. Deterministic across processes and releases (FNV-1a, not `DefaultHasher`),
/// so vectors computed by different nodes or versions agree.
pub fn content_vector(item: &ItemContent, params: &ModelParams) -> Vec<f32> {
    let mut v = vec![0.0f32; params.dim];
    let block = params.collab_dims()..params.dim;
    if block.is_empty() {
        return v;
    }
    let text = format!("{} {}", item.title, item.description).to_lowercase();
    let mut words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .collect();
    words.sort_unstable();
    words.dedup();
    let mut features: Vec<(&str, String, f32)> = item
        .tags
        .iter()
        .map(|tag| ("tag", tag, TAG_WEIGHT))
        .chain(
            item.category
                .iter()
                .map(|c| ("category", c, CATEGORY_WEIGHT)),
        )
        .chain([
            ("instructor", &item.instructor, INSTRUCTOR_WEIGHT),
            ("language", &item.language, LANGUAGE_WEIGHT),
            ("level", &item.level, LEVEL_WEIGHT),
        ])
        .map(|(kind, value, weight)| (kind, value.trim().to_lowercase(), weight))
        .chain(words.iter().map(|w| ("word", w.to_string(), WORD_WEIGHT)))
        .filter(|(_, value, _)| !value.is_empty())
        .collect();
    if features.is_empty() {
        // An item with no features at all still needs a unit vector; all such items share it.
        features.push(("empty", String::new(), 1.0));
    }
    for (kind, value, weight) in features {
        // Two hashed slots per feature: fewer features collide completely in a small block.
        for salt in 0..2u8 {
            let h = fnv1a(&[kind.as_bytes(), &[salt], value.as_bytes()]);
            let slot = block.start + (h % block.len() as u64) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[slot] += sign * weight;
        }
    }
    normalize(&mut v);
    v
}

/// Courses in the catalog at which the shared direction is removed at half strength: a
/// catalog of two courses must not make them opposites, one of thousands is centred fully.
const CENTRE_SHRINK: f32 = 10.0;

/// The direction the catalog's content vectors share, shrunk for small catalogs (see
/// [`centred`]). Courses with one instructor, language and level have nearly the same content
/// vector; left in, that shared direction is half of every user vector and ranks any rarely
/// taken course high.
pub fn content_mean<'a>(vectors: impl IntoIterator<Item = &'a [f32]>, dim: usize) -> Vec<f32> {
    let mut mean = vec![0.0f64; dim];
    let mut n = 0usize;
    for v in vectors {
        n += 1;
        for (m, x) in mean.iter_mut().zip(v) {
            *m += f64::from(*x);
        }
    }
    let shrink = n as f64 / (n as f64 + f64::from(CENTRE_SHRINK));
    mean.into_iter()
        .map(|m| (m / n.max(1) as f64 * shrink) as f32)
        .collect()
}

/// `content` without the catalog's shared direction `mean`, unit length; the vector as it was
/// when nothing else is left (a course exactly like the average still needs a place).
pub fn centred(content: &[f32], mean: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = content.iter().zip(mean).map(|(x, m)| x - m).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm < 1e-3 || !normalize(&mut v) {
        return content.to_vec();
    }
    v
}

/// 64-bit FNV-1a over the concatenated parts: tiny, stable, good enough for feature hashing.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Scales `v` to unit length; false (and `v` untouched) when it is zero or not finite.
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if !(norm > 1e-12 && norm.is_finite()) {
        return false;
    }
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    true
}

/// Each user's positive items: interactions are summed per (user, item), so a refund
/// (negative weight) cancels the purchase it takes back; items whose net weight is not
/// positive, or out of `0..n_items`, are dropped. Each basket keeps the user's
/// `max_items` most recently touched items and is sorted by item. Baskets come out in user
/// order, so everything fitted from them is deterministic.
pub fn positive_baskets(
    n_items: usize,
    interactions: &[Interaction],
    max_items: usize,
) -> Vec<Vec<u32>> {
    let mut net: HashMap<(u32, u32), (f32, i64)> = HashMap::new();
    for x in interactions.iter().filter(|x| (x.item as usize) < n_items) {
        let entry = net.entry((x.user, x.item)).or_insert((0.0, i64::MIN));
        entry.0 += x.weight;
        entry.1 = entry.1.max(x.at);
    }
    let mut pairs: Vec<(u32, u32, i64)> = net
        .into_iter()
        .filter(|(_, (w, _))| *w > 0.0)
        .map(|((user, item), (_, at))| (user, item, at))
        .collect();
    // By user, newest first, so truncating a basket keeps the most recent items.
    pairs.sort_unstable_by_key(|&(user, item, at)| (user, std::cmp::Reverse(at), item));
    let mut baskets = Vec::new();
    for chunk in pairs.chunk_by(|a, b| a.0 == b.0) {
        let mut items: Vec<u32> = chunk.iter().take(max_items).map(|p| p.1).collect();
        items.sort_unstable();
        baskets.push(items);
    }
    baskets
}

/// How many users have a positive interaction with each item (baskets as
/// `positive_baskets` makes them; items outside `0..n_items` ignored): the `support` that
/// decides how much an item's vector trusts behaviour over content.
pub fn support_counts(n_items: usize, baskets: &[Vec<u32>]) -> Vec<usize> {
    let mut support = vec![0; n_items];
    for &item in baskets.iter().flatten() {
        if let Some(s) = support.get_mut(item as usize) {
            *s += 1;
        }
    }
    support
}

/// Item–item co-occurrence counts (how many users have both items), sparse by row. The shared
/// input of the collaborative model and of the item-kNN baseline it is measured against.
pub struct Cooccurrence {
    /// Off-diagonal counts of each row, sorted by column.
    rows: Vec<Vec<(u32, f32)>>,
    /// The diagonal: users per item.
    users: Vec<f32>,
}

impl Cooccurrence {
    /// Counts co-occurrences over baskets of distinct items (as `positive_baskets` makes
    /// them); items outside `0..n_items` are ignored. Costs the sum of the squared basket
    /// sizes, which `ModelParams::max_items_per_user` bounds.
    pub fn from_baskets(n_items: usize, baskets: &[Vec<u32>]) -> Cooccurrence {
        let baskets: Vec<Vec<u32>> = baskets
            .iter()
            .map(|b| {
                b.iter()
                    .copied()
                    .filter(|&i| (i as usize) < n_items)
                    .collect()
            })
            .collect();
        let mut baskets_of = vec![Vec::new(); n_items];
        let mut users = vec![0.0f32; n_items];
        for (b, basket) in baskets.iter().enumerate() {
            for &item in basket {
                baskets_of[item as usize].push(b);
                users[item as usize] += 1.0;
            }
        }
        let mut acc = vec![0.0f32; n_items];
        let mut touched = Vec::new();
        let rows = (0..n_items)
            .map(|i| {
                for &b in &baskets_of[i] {
                    for &j in &baskets[b] {
                        if j as usize != i {
                            if acc[j as usize] == 0.0 {
                                touched.push(j);
                            }
                            acc[j as usize] += 1.0;
                        }
                    }
                }
                touched.sort_unstable();
                let row = touched.iter().map(|&j| (j, acc[j as usize])).collect();
                for &j in &touched {
                    acc[j as usize] = 0.0;
                }
                touched.clear();
                row
            })
            .collect();
        Cooccurrence { rows, users }
    }

    /// Number of items (rows).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no items at all.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Items co-occurring with `item`, with their counts, sorted by item.
    pub fn row(&self, item: usize) -> &[(u32, f32)] {
        &self.rows[item]
    }

    /// Users having `item` (the diagonal of the co-occurrence matrix).
    pub fn users(&self, item: usize) -> f32 {
        self.users[item]
    }

    /// Positive pointwise mutual information of each co-occurrence, rows restricted to the
    /// items that keep at least one entry (`active`, mapped to `0..active.len()`). PPMI
    /// discounts what co-occurs with everything merely because it is popular.
    fn ppmi(&self) -> (Vec<usize>, Vec<Vec<(usize, f64)>>) {
        let sums: Vec<f64> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|&(_, c)| f64::from(c)).sum())
            .collect();
        let total: f64 = sums.iter().sum();
        let ppmi_rows: Vec<Vec<(u32, f64)>> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .filter_map(|&(j, c)| {
                        let pmi = (f64::from(c) * total / (sums[i] * sums[j as usize])).ln();
                        (pmi > 0.0).then_some((j, pmi))
                    })
                    .collect()
            })
            .collect();
        let active: Vec<usize> = (0..self.len())
            .filter(|&i| !ppmi_rows[i].is_empty())
            .collect();
        let mut position = vec![usize::MAX; self.len()];
        for (a, &i) in active.iter().enumerate() {
            position[i] = a;
        }
        // PPMI is symmetric, so an item with an entry is the column of another's entry too:
        // every column maps to an active row.
        let rows = active
            .iter()
            .map(|&i| {
                ppmi_rows[i]
                    .iter()
                    .map(|&(j, v)| (position[j as usize], v))
                    .collect()
            })
            .collect();
        (active, rows)
    }
}

/// Sparse (rows of `(column, value)`) times dense, written out because nalgebra has no sparse
/// type of its own and the products are the whole cost of a refit.
fn sparse_mul(rows: &[Vec<(usize, f64)>], dense: &DMatrix<f64>) -> DMatrix<f64> {
    let (n, cols) = dense.shape();
    let data = dense.as_slice();
    let mut out = Vec::with_capacity(n * cols);
    for c in 0..cols {
        let column = &data[c * n..(c + 1) * n];
        out.extend(
            rows.iter()
                .map(|row| row.iter().map(|&(j, v)| v * column[j]).sum::<f64>()),
        );
    }
    DMatrix::from_vec(rows.len(), cols, out)
}

/// Collaborative vectors for items `0..n_items` from interactions: co-occurrence of users'
/// positive items → PPMI → randomised eigendecomposition (Halko et al.) of the symmetric PPMI
/// matrix, rows scaled by |eigenvalue|^`eigen_power` and L2-normalised. `None` for items with
/// no signal. The vectors fill the collaborative block (`0..collab_dims()`) of `dim`
/// coordinates.
pub fn fit_collaborative(
    n_items: usize,
    interactions: &[Interaction],
    params: &ModelParams,
) -> Vec<Option<Vec<f32>>> {
    let baskets = positive_baskets(n_items, interactions, params.max_items_per_user);
    let (active, ppmi) = Cooccurrence::from_baskets(n_items, &baskets).ppmi();
    let mut out = vec![None; n_items];
    let rank = params.collab_dims().min(active.len());
    if rank == 0 {
        return out;
    }
    let width = (rank + params.oversample).min(active.len());
    let mut rng = StdRng::seed_from_u64(params.seed);
    let omega = DMatrix::from_fn(active.len(), width, |_, _| {
        if rng.random_bool(0.5) { 1.0 } else { -1.0 }
    });
    let mut basis = sparse_mul(&ppmi, &omega).qr().q();
    for _ in 0..params.power_iters {
        basis = sparse_mul(&ppmi, &basis).qr().q();
    }
    let projected = basis.transpose() * sparse_mul(&ppmi, &basis);
    let symmetric = (&projected + projected.transpose()) * 0.5;
    let eigen = SymmetricEigen::new(symmetric);
    // Only the positive part of the spectrum: a negative eigenvalue's direction gives two
    // items that co-occur opposite signs, so keeping it (as |λ|) would push exactly the pairs
    // PPMI links apart in cosine.
    let mut order: Vec<usize> = (0..eigen.eigenvalues.len())
        .filter(|&c| eigen.eigenvalues[c] > 0.0)
        .collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let components: Vec<(f64, DVector<f64>)> = order
        .iter()
        .take(rank)
        .map(|&c| {
            let scale = eigen.eigenvalues[c].powf(params.eigen_power);
            (scale, &basis * eigen.eigenvectors.column(c))
        })
        .collect();
    for (a, &item) in active.iter().enumerate() {
        let mut v = vec![0.0f32; params.dim];
        for (slot, (scale, column)) in components.iter().enumerate() {
            v[slot] = (scale * column[a]) as f32;
        }
        if normalize(&mut v) {
            out[item] = Some(v);
        }
    }
    out
}

/// The final item vector: content and collaborative parts weighted by the item's support
/// (more users, more trust in behaviour), L2-normalised. All zeros when the item has neither,
/// which the index refuses, so such an item is never recommended.
pub fn item_vector(
    content: Option<&[f32]>,
    collaborative: Option<&[f32]>,
    support: usize,
    params: &ModelParams,
) -> Vec<f32> {
    let collab_share = match (content, collaborative) {
        (_, None) => 0.0,
        (None, Some(_)) => 1.0,
        (Some(_), Some(_)) => support as f32 / (support as f32 + params.content_support),
    };
    let mut v = vec![0.0f32; params.dim];
    for (part, share) in [(collaborative, collab_share), (content, 1.0 - collab_share)] {
        if let Some(part) = part {
            let scale = share.sqrt();
            for (x, p) in v.iter_mut().zip(part) {
                *x += scale * p;
            }
        }
    }
    normalize(&mut v);
    v
}

/// User vector: the time-decayed weighted sum of the touched items' vectors (each pulls with
/// weight × 0.5^(age / half-life), so what a user did last matters most and a refund, a
/// negative weight, takes its purchase's pull back), normalised. Ages count from the newest
/// touch: normalising cancels any common factor, and this way years of inactivity cannot
/// underflow every pull to zero. `None` when nothing positive remains: no history, or
/// everything taken back.
pub fn user_vector<'a>(
    touched: impl IntoIterator<Item = (&'a [f32], f32, f64)>,
    params: &ModelParams,
) -> Option<Vec<f32>> {
    let touched: Vec<(&[f32], f32, f64)> = touched.into_iter().collect();
    let newest = touched.iter().map(|t| t.2.max(0.0)).reduce(f64::min)?;
    let mut v = vec![0.0f64; params.dim];
    let mut total = 0.0f64;
    for (item, weight, age) in touched {
        let pull = f64::from(weight) * 0.5f64.powf((age.max(0.0) - newest) / params.half_life_secs);
        total += pull;
        for (x, p) in v.iter_mut().zip(item) {
            *x += pull * f64::from(*p);
        }
    }
    if total <= 1e-9 {
        return None;
    }
    let mut v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
    normalize(&mut v).then_some(v)
}

/// Cosine similarity of two unit vectors (their dot product).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(tags: &[&str], instructor: &str, title: &str) -> ItemContent {
        ItemContent {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            category: None,
            instructor: instructor.into(),
            language: "en".into(),
            level: "beginner".into(),
            title: title.into(),
            description: String::new(),
        }
    }

    fn norm(v: &[f32]) -> f32 {
        dot(v, v).sqrt()
    }

    /// `clusters` groups of `per_cluster` items; every user touches `per_user` items of one
    /// cluster, so the collaborative model has planted structure to recover.
    fn clustered(clusters: u32, per_cluster: u32, users: u32, per_user: u32) -> Vec<Interaction> {
        let mut rng = StdRng::seed_from_u64(3);
        let mut out = Vec::new();
        for user in 0..users {
            let cluster = user % clusters;
            for step in 0..per_user {
                let item = cluster * per_cluster + rng.random_range(0..per_cluster);
                out.push(Interaction {
                    user,
                    item,
                    weight: 1.0,
                    at: i64::from(step),
                });
            }
        }
        out
    }

    #[test]
    fn vectors_are_unit_length_with_the_configured_dimension() {
        let params = ModelParams::default();
        let c = content_vector(&course(&["rust"], "ada", "Systems"), &params);
        assert_eq!(c.len(), params.dim);
        assert!((norm(&c) - 1.0).abs() < 1e-5);
        let empty = content_vector(&ItemContent::default(), &params);
        assert!((norm(&empty) - 1.0).abs() < 1e-5);
        let collab = fit_collaborative(40, &clustered(2, 20, 40, 8), &params);
        for v in collab.iter().flatten() {
            assert_eq!(v.len(), params.dim);
            assert!((norm(v) - 1.0).abs() < 1e-5);
        }
        let blended = item_vector(Some(&c), collab[0].as_deref(), 3, &params);
        assert!((norm(&blended) - 1.0).abs() < 1e-5);
        assert!(
            item_vector(None, None, 0, &params)
                .iter()
                .all(|x| *x == 0.0)
        );
    }

    #[test]
    fn content_vectors_of_related_courses_are_closer_than_unrelated_ones() {
        let params = ModelParams::default();
        let a = content_vector(
            &course(&["rust", "systems"], "ada", "Rust ownership"),
            &params,
        );
        let b = content_vector(&course(&["rust", "async"], "ada", "Async Rust"), &params);
        let c = content_vector(&course(&["watercolour"], "bob", "Painting skies"), &params);
        assert!(
            dot(&a, &b) > dot(&a, &c) + 0.2,
            "{} vs {}",
            dot(&a, &b),
            dot(&a, &c)
        );
        // Deterministic: the same content always gives the same vector.
        assert_eq!(
            a,
            content_vector(
                &course(&["Rust ", "systems"], "ada", "Rust ownership"),
                &params
            )
        );
    }

    #[test]
    fn collaborative_vectors_recover_planted_clusters() {
        let params = ModelParams::default();
        let (clusters, per_cluster) = (4u32, 25u32);
        let interactions = clustered(clusters, per_cluster, 160, 8);
        let n_items = (clusters * per_cluster) as usize;
        let vectors = fit_collaborative(n_items, &interactions, &params);
        let mut in_cluster = 0;
        let mut total = 0;
        for user in 0..20u32 {
            let mine: Vec<&Interaction> = interactions.iter().filter(|x| x.user == user).collect();
            let touched = mine
                .iter()
                .filter_map(|x| Some((vectors[x.item as usize].as_deref()?, x.weight, 0.0)));
            let Some(u) = user_vector(touched, &params) else {
                panic!("user {user} has items with vectors");
            };
            let mut ranked: Vec<(usize, f32)> = vectors
                .iter()
                .enumerate()
                .filter(|(i, _)| mine.iter().all(|x| x.item as usize != *i))
                .filter_map(|(i, v)| Some((i, dot(&u, v.as_deref()?))))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let cluster = user % clusters;
            for (item, _) in ranked.iter().take(10) {
                total += 1;
                in_cluster += usize::from(*item as u32 / per_cluster == cluster);
            }
        }
        assert!(
            in_cluster * 10 >= total * 9,
            "{in_cluster} of {total} in cluster"
        );
    }

    #[test]
    fn fitting_is_deterministic_for_a_seed() {
        let params = ModelParams::default();
        let interactions = clustered(2, 15, 30, 6);
        assert_eq!(
            fit_collaborative(30, &interactions, &params),
            fit_collaborative(30, &interactions, &params)
        );
    }

    #[test]
    fn refunds_cancel_the_purchase_they_take_back() {
        let at = |user, item, weight| Interaction {
            user,
            item,
            weight,
            at: 0,
        };
        let baskets = positive_baskets(3, &[at(0, 0, 1.0), at(0, 1, 1.0), at(0, 1, -1.0)], 10);
        assert_eq!(baskets, vec![vec![0]]);

        let params = ModelParams {
            dim: 4,
            content_dims: 0,
            ..ModelParams::default()
        };
        let (a, b) = ([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]);
        let u = user_vector(
            [(&a[..], 1.0, 0.0), (&b[..], 1.0, 0.0), (&b[..], -1.0, 0.0)],
            &params,
        );
        assert_eq!(u, Some(a.to_vec()));
        assert_eq!(
            user_vector([(&b[..], 1.0, 0.0), (&b[..], -1.0, 0.0)], &params),
            None
        );
        assert_eq!(user_vector(std::iter::empty(), &params), None);
    }

    #[test]
    fn recent_items_pull_harder_than_old_ones() {
        let params = ModelParams {
            dim: 2,
            content_dims: 0,
            half_life_secs: 3600.0,
            ..ModelParams::default()
        };
        let (old, new) = ([1.0, 0.0], [0.0, 1.0]);
        let Some(u) = user_vector(
            [(&old[..], 1.0, 3.0 * 3600.0), (&new[..], 1.0, 0.0)],
            &params,
        ) else {
            panic!("positive history gives a vector");
        };
        // Three half-lives: the old item pulls with 1/8 of the new one's weight.
        assert!((u[1] / u[0] - 8.0).abs() < 1e-4, "{u:?}");
        // Only the age difference counts: years of inactivity change nothing.
        let years = 1e8;
        let later = user_vector(
            [
                (&old[..], 1.0, years + 3.0 * 3600.0),
                (&new[..], 1.0, years),
            ],
            &params,
        );
        assert_eq!(later, Some(u));
    }

    #[test]
    fn support_moves_an_item_from_content_to_behaviour() {
        let params = ModelParams {
            dim: 4,
            content_dims: 2,
            content_support: 10.0,
            ..ModelParams::default()
        };
        let content = [0.0, 0.0, 1.0, 0.0];
        let collab = [1.0, 0.0, 0.0, 0.0];
        assert_eq!(
            item_vector(Some(&content), Some(&collab), 0, &params),
            content.to_vec()
        );
        let warm = item_vector(Some(&content), Some(&collab), 90, &params);
        // 90 users against a support constant of 10: 90% of the squared norm is behaviour.
        assert!((warm[0].powi(2) - 0.9).abs() < 1e-5 && (warm[2].powi(2) - 0.1).abs() < 1e-5);
        assert_eq!(
            item_vector(None, Some(&collab), 0, &params),
            collab.to_vec()
        );
    }

    #[test]
    fn cooccurrence_counts_pairs_of_a_basket() {
        let c = Cooccurrence::from_baskets(3, &[vec![0, 1], vec![0, 1, 2, 7]]);
        assert_eq!(c.row(0), &[(1, 2.0), (2, 1.0)]);
        assert_eq!(c.users(0), 2.0);
        assert_eq!(c.row(2), &[(0, 1.0), (1, 1.0)]);
    }
}
