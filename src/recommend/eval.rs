//! Offline evaluation: leave-last-out HR@10 and NDCG@10 on MovieLens-format data for the
//! model against popularity and item-kNN baselines, plus HNSW recall and speed. Quality is
//! measured, not assumed; `lyceum recommend eval` prints what this computes.
//!
//! Protocol: every user's latest interaction (ties: the later line) is held out and users with
//! fewer than two interactions are skipped. All models see only the training interactions,
//! all as implicit positives of weight 1 (ratings are not used: weighting by rating measured
//! worse). "Now" for a user's decayed profile is their latest *training* interaction, never
//! the held-out one. Sampled: the held-out item ranked among 99 items the user never touched,
//! drawn once with a seeded RNG and shared by all models. Full: ranked among every item not in
//! the user's training set. Ties between scores go to the lower item index for every model.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::BufRead;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::index::{Index, IndexParams, exact_search};
use super::model::{
    Cooccurrence, Interaction, ModelParams, dot, fit_collaborative, item_vector, positive_baskets,
    support_counts, user_vector,
};

/// Why an evaluation could not run; parse errors name the line.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("reading ratings: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("no user has two or more interactions, so there is nothing to hold out")]
    NothingToHoldOut,
}

/// One parsed interaction with dense user and item indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    pub user: u32,
    pub item: u32,
    pub rating: f32,
    /// Unix seconds (fractional timestamps are rounded).
    pub at: i64,
}

/// A whole data set: ratings in file order, ids mapped to `0..users` and `0..items` in order of
/// first appearance.
#[derive(Debug)]
pub struct Ratings {
    pub ratings: Vec<Rating>,
    pub users: usize,
    pub items: usize,
}

/// Reads MovieLens-format interactions: `user item rating timestamp` separated by tabs or
/// spaces (MovieLens `u.data`), ids taken as tokens. A first line whose rating is not a number
/// is a header and skipped (RecBole's `user_id:token item_id:token rating:float ...`);
/// blank lines are skipped; anything else malformed is an error naming its line.
pub fn parse_ratings(input: impl BufRead) -> Result<Ratings, EvalError> {
    let mut users: HashMap<String, u32> = HashMap::new();
    let mut items: HashMap<String, u32> = HashMap::new();
    let mut ratings = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        let number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let error = |message: String| EvalError::Parse {
            line: number,
            message,
        };
        let [user, item, rating, at] = fields[..] else {
            return Err(error(format!(
                "expected 4 fields (user item rating timestamp), found {}",
                fields.len()
            )));
        };
        let Ok(rating) = rating.parse::<f32>() else {
            if number == 1 {
                continue; // a header
            }
            return Err(error(format!("rating {rating:?} is not a number")));
        };
        let at = match at.parse::<f64>() {
            Ok(at) if at.is_finite() && rating.is_finite() => at.round() as i64,
            _ => return Err(error(format!("timestamp {at:?} is not a finite number"))),
        };
        let next = users.len() as u32;
        let user = *users.entry(user.to_string()).or_insert(next);
        let next = items.len() as u32;
        let item = *items.entry(item.to_string()).or_insert(next);
        ratings.push(Rating {
            user,
            item,
            rating,
            at,
        });
    }
    Ok(Ratings {
        ratings,
        users: users.len(),
        items: items.len(),
    })
}

/// Everything the evaluation can be tuned by; `Default` is what the documented run uses: the
/// production model except for a half-life suited to MovieLens.
#[derive(Clone, Debug, Serialize)]
pub struct EvalParams {
    pub model: ModelParams,
    pub index: IndexParams,
    /// Sampled negatives per held-out item.
    pub negatives: usize,
    /// Seed of the negative sampling.
    pub seed: u64,
}

/// Half-life of the documented MovieLens runs: ratings there are entered in bursts, so the
/// last day says most about the next rating (docs/recommendations.md has the sweep).
pub const MOVIELENS_HALF_LIFE_SECS: f64 = 86_400.0;

impl Default for EvalParams {
    fn default() -> Self {
        EvalParams {
            model: ModelParams {
                half_life_secs: MOVIELENS_HALF_LIFE_SECS,
                ..ModelParams::default()
            },
            index: IndexParams::default(),
            negatives: 99,
            seed: 42,
        }
    }
}

/// The cut-off of every metric.
const K: usize = 10;

/// HR@10 and NDCG@10 under both protocols.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Metrics {
    pub hr10_sampled: f64,
    pub ndcg10_sampled: f64,
    pub hr10_full: f64,
    pub ndcg10_full: f64,
}

/// The four models, named as in the JSON output.
#[derive(Clone, Debug, Serialize)]
pub struct Models {
    pub popularity: Metrics,
    pub item_knn: Metrics,
    pub exact: Metrics,
    pub hnsw: Metrics,
}

/// Size of the data set and of the evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetStats {
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    pub evaluated_users: usize,
    pub items_with_vectors: usize,
}

/// The result of one evaluation; serialises to the documented JSON shape.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub models: Models,
    /// Mean overlap of HNSW's top-10 with exact search's, full-ranking queries.
    pub hnsw_recall10: f64,
    /// HNSW queries per second on one thread (full-ranking queries with training items
    /// filtered out).
    pub qps: f64,
    pub dataset: DatasetStats,
    pub params: EvalParams,
}

/// Sums of hits and discounted gains; a rank is 0-based and `None` when outside the top 10.
#[derive(Default)]
struct Tally {
    sampled: (f64, f64),
    full: (f64, f64),
    users: usize,
}

fn gain(rank: Option<usize>) -> (f64, f64) {
    match rank {
        Some(r) if r < K => (1.0, 1.0 / (r as f64 + 2.0).log2()),
        _ => (0.0, 0.0),
    }
}

impl Tally {
    fn add(&mut self, sampled: Option<usize>, full: Option<usize>) {
        let (hit, ndcg) = gain(sampled);
        self.sampled.0 += hit;
        self.sampled.1 += ndcg;
        let (hit, ndcg) = gain(full);
        self.full.0 += hit;
        self.full.1 += ndcg;
        self.users += 1;
    }

    fn metrics(&self) -> Metrics {
        let n = self.users.max(1) as f64;
        Metrics {
            hr10_sampled: self.sampled.0 / n,
            ndcg10_sampled: self.sampled.1 / n,
            hr10_full: self.full.0 / n,
            ndcg10_full: self.full.1 / n,
        }
    }
}

/// 0-based rank of `target` among `candidates` (which may include it) by `scores`, ties to
/// the lower item index: the order a top-k retrieval of the same scores would give.
fn rank_of(scores: &[f32], target: u32, candidates: impl IntoIterator<Item = u32>) -> usize {
    let t = scores[target as usize];
    candidates
        .into_iter()
        .filter(|&c| {
            let s = scores[c as usize];
            c != target && (s > t || (s == t && c < target))
        })
        .count()
}

/// One user's evaluation case.
struct Case {
    held_out: u32,
    /// Distinct training items, sorted.
    train: Vec<u32>,
    /// Training interactions (item, unix seconds).
    history: Vec<(u32, i64)>,
    negatives: Vec<u32>,
}

/// Leave-last-out split plus the shared sampled negatives; training interactions as
/// implicit positives.
fn split(data: &Ratings, params: &EvalParams) -> (Vec<Case>, Vec<Interaction>) {
    let mut by_user: Vec<Vec<(i64, usize)>> = vec![Vec::new(); data.users];
    for (line, r) in data.ratings.iter().enumerate() {
        by_user[r.user as usize].push((r.at, line));
    }
    let mut rng = StdRng::seed_from_u64(params.seed);
    let mut cases = Vec::new();
    let mut train = Vec::new();
    for (user, mut events) in by_user.into_iter().enumerate() {
        if events.len() < 2 {
            continue;
        }
        events.sort_unstable();
        let Some((_, last)) = events.pop() else {
            continue;
        };
        let held_out = data.ratings[last].item;
        let history: Vec<(u32, i64)> = events
            .iter()
            .map(|&(at, line)| (data.ratings[line].item, at))
            .collect();
        let mut items: Vec<u32> = history.iter().map(|h| h.0).collect();
        items.sort_unstable();
        items.dedup();
        let touched: HashSet<u32> = items.iter().copied().chain([held_out]).collect();
        let negatives = sample_negatives(&mut rng, data.items, &touched, params.negatives);
        train.extend(history.iter().map(|&(item, at)| Interaction {
            user: user as u32,
            item,
            weight: 1.0,
            at,
        }));
        cases.push(Case {
            held_out,
            train: items,
            history,
            negatives,
        });
    }
    (cases, train)
}

/// `count` distinct items outside `touched` (all of them if fewer remain).
fn sample_negatives(
    rng: &mut StdRng,
    items: usize,
    touched: &HashSet<u32>,
    count: usize,
) -> Vec<u32> {
    let available = items.saturating_sub(touched.len());
    if available <= count {
        return (0..items as u32).filter(|i| !touched.contains(i)).collect();
    }
    let mut chosen = Vec::with_capacity(count);
    let mut taken = HashSet::with_capacity(count);
    while chosen.len() < count {
        let item = rng.random_range(0..items as u32);
        if !touched.contains(&item) && taken.insert(item) {
            chosen.push(item);
        }
    }
    chosen
}

/// Ranks under both protocols for a model that scores every item.
fn tally_scores(tally: &mut Tally, case: &Case, scores: &[f32]) {
    let sampled = rank_of(scores, case.held_out, case.negatives.iter().copied());
    let unseen = (0..scores.len() as u32).filter(|i| case.train.binary_search(i).is_err());
    let full = rank_of(scores, case.held_out, unseen);
    tally.add(Some(sampled), Some(full));
}

/// Position of the held-out item in a top-k list, if there.
fn position(hits: &[(u32, f32)], item: u32) -> Option<usize> {
    hits.iter().position(|h| h.0 == item)
}

/// Runs the whole evaluation: baselines, the model's vectors searched exactly and through
/// HNSW, recall and speed.
pub fn evaluate(data: &Ratings, params: &EvalParams) -> Result<Report, EvalError> {
    let (cases, train) = split(data, params);
    if cases.is_empty() {
        return Err(EvalError::NothingToHoldOut);
    }
    let n = data.items;
    let baskets = positive_baskets(n, &train, usize::MAX);
    let support = support_counts(n, &baskets);
    let cooc = Cooccurrence::from_baskets(n, &baskets);

    let collaborative = fit_collaborative(n, &train, &params.model);
    let vectors: Vec<Option<Vec<f32>>> = collaborative
        .iter()
        .zip(&support)
        .map(|(c, &s)| {
            c.as_ref()
                .map(|c| item_vector(None, Some(c), s, &params.model))
        })
        .collect();
    let indexed: Vec<(u32, &[f32])> = vectors
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i as u32, v.as_deref()?)))
        .collect();
    let index = Index::build(
        indexed.iter().map(|&(i, v)| (i, v.to_vec())).collect(),
        &params.index,
        1,
    );

    let popularity: Vec<f32> = support.iter().map(|&s| s as f32).collect();
    let [mut pop, mut knn, mut exact, mut hnsw] = std::array::from_fn(|_| Tally::default());
    let mut overlap = 0usize;
    let mut queries = 0usize;
    let mut search_secs = 0.0f64;
    for case in &cases {
        tally_scores(&mut pop, case, &popularity);
        tally_scores(&mut knn, case, &item_knn_scores(&cooc, &case.train));

        let now = case.history.iter().map(|h| h.1).max().unwrap_or(0);
        let touched = case.history.iter().filter_map(|&(item, at)| {
            Some((vectors[item as usize].as_deref()?, 1.0, (now - at) as f64))
        });
        let Some(user) = user_vector(touched, &params.model) else {
            // No vector: the model recommends nothing, which counts as a miss.
            exact.add(None, None);
            hnsw.add(None, None);
            continue;
        };
        let scores: Vec<f32> = vectors
            .iter()
            .map(|v| v.as_deref().map_or(f32::NEG_INFINITY, |v| dot(&user, v)))
            .collect();
        tally_scores(&mut exact, case, &scores);

        let unseen = |i: u32| case.train.binary_search(&i).is_err();
        let started = Instant::now();
        let found = index.search(&user, K, unseen);
        search_secs += started.elapsed().as_secs_f64();
        queries += 1;
        let truth = exact_search(indexed.iter().copied(), &user, K, unseen);
        overlap += found
            .iter()
            .filter(|h| truth.iter().any(|t| t.0 == h.0))
            .count();
        let candidates: HashSet<u32> = case
            .negatives
            .iter()
            .copied()
            .chain([case.held_out])
            .collect();
        let sampled = index.search(&user, K, |i| candidates.contains(&i));
        hnsw.add(
            position(&sampled, case.held_out),
            position(&found, case.held_out),
        );
    }
    Ok(Report {
        models: Models {
            popularity: pop.metrics(),
            item_knn: knn.metrics(),
            exact: exact.metrics(),
            hnsw: hnsw.metrics(),
        },
        hnsw_recall10: overlap as f64 / (K * queries.max(1)) as f64,
        qps: queries as f64 / search_secs.max(1e-9),
        dataset: DatasetStats {
            users: data.users,
            items: data.items,
            interactions: data.ratings.len(),
            evaluated_users: cases.len(),
            items_with_vectors: indexed.len(),
        },
        params: params.clone(),
    })
}

/// Item-kNN baseline: score(c) = Σ over the user's training items i of cos(i, c), the cosine
/// of the two items' user sets (co-occurrence / √(users(i) · users(c))).
fn item_knn_scores(cooc: &Cooccurrence, items: &[u32]) -> Vec<f32> {
    let mut scores = vec![0.0f32; cooc.len()];
    for &i in items {
        let ui = cooc.users(i as usize);
        for &(j, count) in cooc.row(i as usize) {
            scores[j as usize] += count / (ui * cooc.users(j as usize)).sqrt();
        }
    }
    scores
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.dataset;
        writeln!(
            f,
            "{} users, {} items, {} interactions; {} users evaluated (leave-last-out), {} items with vectors",
            d.users, d.items, d.interactions, d.evaluated_users, d.items_with_vectors
        )?;
        writeln!(
            f,
            "{:<12} {:>14} {:>16} {:>11} {:>13}",
            "model", "HR@10 sampled", "NDCG@10 sampled", "HR@10 full", "NDCG@10 full"
        )?;
        let m = &self.models;
        for (name, m) in [
            ("popularity", &m.popularity),
            ("item_knn", &m.item_knn),
            ("exact", &m.exact),
            ("hnsw", &m.hnsw),
        ] {
            writeln!(
                f,
                "{name:<12} {:>14.4} {:>16.4} {:>11.4} {:>13.4}",
                m.hr10_sampled, m.ndcg10_sampled, m.hr10_full, m.ndcg10_full
            )?;
        }
        writeln!(f, "hnsw recall@10 vs exact: {:.4}", self.hnsw_recall10)?;
        write!(
            f,
            "hnsw queries/s (one thread, k=10, training items filtered): {:.0}",
            self.qps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Ratings, EvalError> {
        parse_ratings(text.as_bytes())
    }

    #[test]
    fn parses_movielens_and_recbole_files() {
        let udata =
            parse("196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250950\n")
                .map_err(|e| e.to_string());
        let Ok(udata) = udata else {
            panic!("{udata:?}")
        };
        assert_eq!((udata.users, udata.items), (2, 2));
        assert_eq!(
            udata.ratings[2],
            Rating {
                user: 0,
                item: 1,
                rating: 5.0,
                at: 881250950
            }
        );

        let recbole = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
                       196\t242\t3\t881250949.0\n\n";
        let Ok(recbole) = parse(recbole) else {
            panic!("header is skipped")
        };
        assert_eq!(
            recbole.ratings,
            vec![Rating {
                user: 0,
                item: 0,
                rating: 3.0,
                at: 881250949
            }]
        );
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        for (text, line, what) in [
            ("1\t2\t3\t4\n1\t2\t3\n", 2, "expected 4 fields"),
            ("1\t2\t3\t4\n1\t2\tgood\t4\n", 2, "rating"),
            ("1\t2\t3\tyesterday\n", 1, "timestamp"),
            ("1\t2\t3\t4\t5\n", 1, "found 5"),
        ] {
            let message = parse(text).map(|_| ()).map_err(|e| e.to_string());
            let Err(message) = message else {
                panic!("{text:?} parsed")
            };
            assert!(
                message.starts_with(&format!("line {line}:")) && message.contains(what),
                "{message}"
            );
        }
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let mut tally = Tally::default();
        tally.add(Some(0), Some(2));
        tally.add(Some(9), None);
        tally.add(Some(10), Some(0));
        tally.add(None, Some(1));
        let m = tally.metrics();
        assert!((m.hr10_sampled - 0.5).abs() < 1e-12);
        assert!((m.ndcg10_sampled - (1.0 + 1.0 / 11f64.log2()) / 4.0).abs() < 1e-12);
        assert!((m.hr10_full - 0.75).abs() < 1e-12);
        assert!((m.ndcg10_full - (0.5 + 1.0 + 1.0 / 3f64.log2()) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn item_knn_sums_cosines_of_user_sets() {
        let cooc = Cooccurrence::from_baskets(3, &[vec![0, 1], vec![0, 1, 2]]);
        let scores = item_knn_scores(&cooc, &[0]);
        // cos(0, 1) = 2 / √(2·2); cos(0, 2) = 1 / √(2·1).
        assert_eq!(scores[0], 0.0);
        assert!((scores[1] - 1.0).abs() < 1e-6 && (scores[2] - 0.5f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn ranks_break_ties_by_item() {
        let scores = [0.5, 0.9, 0.5, 0.1];
        assert_eq!(
            rank_of(&scores, 2, 0..4),
            2,
            "item 1 scores higher, item 0 ties lower"
        );
        assert_eq!(rank_of(&scores, 0, 0..4), 1);
        assert_eq!(rank_of(&scores, 0, [0, 3]), 0);
    }

    #[test]
    fn holds_out_each_users_latest_interaction() {
        // User 0: items 0, 1, 2 with 2 latest (listed first); user 1 has one interaction.
        let Ok(data) = parse("a\tx\t1\t30\na\ty\t1\t10\na\tz\t1\t20\nb\tx\t1\t5\n") else {
            panic!("valid input")
        };
        let params = EvalParams {
            negatives: 5,
            ..EvalParams::default()
        };
        let (cases, train) = split(&data, &params);
        assert_eq!(cases.len(), 1);
        assert_eq!((cases[0].held_out, &cases[0].train[..]), (0, &[1, 2][..]));
        assert!(cases[0].negatives.is_empty(), "every item was touched");
        assert_eq!(train.len(), 2);
    }

    #[test]
    fn the_model_beats_popularity_on_planted_sequences() {
        // 6 groups of 10 items; each user walks through one group, one item per hour, so the
        // next item follows from the last ones while popularity is flat.
        let mut text = String::new();
        for user in 0..120u32 {
            let group = user % 6;
            for step in 0..6u32 {
                let item = group * 10 + (user / 6 + step) % 10;
                text.push_str(&format!("{user}\t{item}\t4\t{}\n", step * 3600));
            }
        }
        let Ok(data) = parse(&text) else {
            panic!("valid input")
        };
        let params = EvalParams {
            negatives: 20,
            ..EvalParams::default()
        };
        let report = evaluate(&data, &params).map_err(|e| e.to_string());
        let Ok(report) = report else {
            panic!("{report:?}")
        };
        let m = &report.models;
        assert_eq!(report.dataset.evaluated_users, 120);
        assert!(m.exact.hr10_full > m.popularity.hr10_full + 0.3, "{m:?}");
        // 60 items are below `exact_below`, so this checks the plumbing of the hnsw model, not
        // the graph (the index tests measure recall).
        assert_eq!(m.hnsw.hr10_full, m.exact.hr10_full, "{m:?}");
        let json = serde_json::to_value(&report).map_err(|e| e.to_string());
        let Ok(json) = json else { panic!("{json:?}") };
        for model in ["popularity", "item_knn", "exact", "hnsw"] {
            for key in ["hr10_sampled", "ndcg10_sampled", "hr10_full", "ndcg10_full"] {
                assert!(json["models"][model][key].is_f64(), "{model}.{key}");
            }
        }
        assert!(json["hnsw_recall10"].is_f64() && json["qps"].is_f64());
    }
}
