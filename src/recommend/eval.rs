//! Offline evaluation of what `GET /recommendations` serves. Each split's training history is
//! loaded by the MovieLens import (`lyceum admin import-movielens`, titles and genres included
//! when an items file is given) into a fresh SQLite database, read back by the recommender's
//! own readers (`corpus::load` for the refit, `profile::load` for each learner), built with
//! `Snapshot::build` and queried with `Snapshot::recommend`: the very path of a migrated
//! server's refit and endpoint (content, collaborative, blend, filters, diversity and fill-ins
//! included). It is compared with popularity, item-kNN, implicit ALS and EASE fitted in the
//! same run on the same split. `lyceum recommend eval` prints what this computes.
//!
//! Protocol: two splits, a global temporal one (the oldest 80% of all interactions train every
//! model; users with history before the cut are asked for the new items they take after it)
//! and leave-last-out (each user's latest interaction held out). Full ranking over the whole
//! catalog minus the user's training items, lists of 50 (the largest `limit`); HR@10, NDCG@10,
//! Recall@50 and top-10 coverage, each with a 95% percentile-bootstrap interval over users,
//! and the served model's difference from every baseline with a *paired* bootstrap interval.
//! Ratings are enrolments (implicit positives), as the import loads them.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Instant;

use chrono::NaiveDateTime;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::baselines::{self, BaselineParams, Baselines};
use super::corpus::{self, Corpus};
use super::index::IndexParams;
use super::model::{Interaction, ModelParams};
use super::profile::{self, Profile};
use super::rank::decayed;
use super::service::MAX_LIMIT;
use super::snapshot::Snapshot;
use crate::catalog::events::EventKind;
use crate::catalog::import::movielens::{Items, Ratings};
use crate::catalog::import::{self, ImportError, ImportOptions};
use crate::db::{Db, DbError, PoolOptions};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("no user has two or more interactions, so there is nothing to hold out")]
    NothingToHoldOut,
    /// The split's database could not be made or read.
    #[error("could not load the split into its database: {0}")]
    Database(#[from] DbError),
    /// The import refused the data.
    #[error("could not import the split: {0}")]
    Import(#[from] ImportError),
}

impl From<diesel::result::Error> for EvalError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Database(e.into())
    }
}

/// Everything the evaluation can be tuned by; `Default` is what the documented run uses: the
/// production model except for a half-life suited to MovieLens.
#[derive(Clone, Debug, Serialize)]
pub struct EvalParams {
    /// The served model, exactly as the server builds it.
    pub model: ModelParams,
    /// The served index.
    pub index: IndexParams,
    /// The baselines fitted beside it.
    pub baselines: BaselineParams,
    /// Share of all interactions, oldest first, that the temporal split trains on.
    pub train_fraction: f64,
    /// Share of the temporal split's training interactions, newest first, that tuning holds
    /// out as its validation slice (the test split is never looked at while choosing).
    pub validation_fraction: f64,
    /// Bootstrap resamples of the evaluated users.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
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
            baselines: BaselineParams::default(),
            train_fraction: 0.8,
            validation_fraction: 0.125,
            bootstrap: 1000,
            seed: 42,
        }
    }
}

/// Length of every evaluated list: the largest `limit` of `GET /recommendations`.
const LIST: usize = MAX_LIMIT;
/// The cut-off of HR and NDCG.
const K: usize = 10;

/// One evaluated user: what they did before the cut, and what they took after it.
struct Case {
    user: u32,
    /// Distinct training items, sorted.
    train: Vec<u32>,
    /// Distinct items taken after the cut that were not in training, sorted.
    targets: Vec<u32>,
    /// The user's "now": the cut (temporal) or their latest training interaction.
    now: i64,
}

/// A train/test split: the interactions every model is fitted to and the users to evaluate.
struct Split {
    name: &'static str,
    /// The training ratings (lines of the data set): what the split's database is loaded with.
    lines: Vec<usize>,
    /// The same as dense interactions, for the baselines.
    train: Vec<Interaction>,
    cases: Vec<Case>,
    /// When the served snapshot is built (the latest training interaction).
    now: i64,
}

/// Ratings in time order (ties in file order) as `(at, line)`.
fn by_time(data: &Ratings) -> Vec<(i64, usize)> {
    let mut order: Vec<(i64, usize)> = data
        .ratings
        .iter()
        .enumerate()
        .map(|(line, r)| (r.at, line))
        .collect();
    order.sort_unstable();
    order
}

/// Builds the cases of users who have training history and at least one new item after it.
fn cases_of(
    data: &Ratings,
    train: &[usize],
    test: &[usize],
    now_of: impl Fn(&[(u32, i64)]) -> i64,
) -> Vec<Case> {
    let mut history: Vec<Vec<(u32, i64)>> = vec![Vec::new(); data.users];
    for &line in train {
        let r = data.ratings[line];
        history[r.user as usize].push((r.item, r.at));
    }
    let mut future: Vec<Vec<u32>> = vec![Vec::new(); data.users];
    for &line in test {
        let r = data.ratings[line];
        future[r.user as usize].push(r.item);
    }
    history
        .into_iter()
        .zip(future)
        .enumerate()
        .filter_map(|(user, (history, mut targets))| {
            let mut items: Vec<u32> = history.iter().map(|h| h.0).collect();
            items.sort_unstable();
            items.dedup();
            targets.sort_unstable();
            targets.dedup();
            targets.retain(|t| items.binary_search(t).is_err());
            if items.is_empty() || targets.is_empty() {
                return None;
            }
            Some(Case {
                user: user as u32,
                now: now_of(&history),
                train: items,
                targets,
            })
        })
        .collect()
}

fn interactions(data: &Ratings, lines: &[usize]) -> Vec<Interaction> {
    lines
        .iter()
        .map(|&line| {
            let r = data.ratings[line];
            Interaction {
                user: r.user,
                item: r.item,
                weight: EventKind::Enroll.default_weight() as f32,
                at: r.at,
            }
        })
        .collect()
}

/// Global temporal split: the oldest `fraction` of all interactions train every model; users
/// with history before the cut are asked for what they take after it, up to `until` (a share
/// of all interactions too). Nothing after the cut leaks into training, for any user.
fn temporal(data: &Ratings, name: &'static str, fraction: f64, until: f64) -> Split {
    let order = by_time(data);
    let at = |share: f64| ((order.len() as f64 * share) as usize).min(order.len());
    let (cut, end) = (at(fraction), at(until).max(at(fraction)));
    let train: Vec<usize> = order[..cut].iter().map(|o| o.1).collect();
    let test: Vec<usize> = order[cut..end].iter().map(|o| o.1).collect();
    let now = order[..cut].last().map_or(0, |o| o.0);
    Split {
        name,
        train: interactions(data, &train),
        cases: cases_of(data, &train, &test, |_| now),
        lines: train,
        now,
    }
}

/// Leave-last-out: each user's latest interaction (ties: the later line) is held out; their
/// "now" is their latest training interaction, never the held-out one's time.
fn leave_last_out(data: &Ratings) -> Split {
    let mut last: Vec<Option<(i64, usize)>> = vec![None; data.users];
    for o in by_time(data) {
        last[data.ratings[o.1].user as usize] = Some(o);
    }
    let held: HashSet<usize> = last.iter().flatten().map(|o| o.1).collect();
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..data.ratings.len()).partition(|l| held.contains(l));
    let now = train.iter().map(|&l| data.ratings[l].at).max().unwrap_or(0);
    Split {
        name: "leave_last_out",
        train: interactions(data, &train),
        cases: cases_of(data, &train, &test, |h| {
            h.iter().map(|x| x.1).max().unwrap_or(0)
        }),
        lines: train,
        now,
    }
}

/// A split as a migrated server holds it (see the module doc): what its refit reads, what its
/// endpoint reads for each evaluated learner, and which item each course is.
struct Hosted {
    /// `corpus::load` of the split's database.
    corpus: Corpus,
    /// `profile::load` of each case's learner, in case order.
    profiles: Vec<Profile>,
    /// The dense item of each course id.
    item_of: HashMap<String, u32>,
}

/// Imports the split's training ratings into a fresh SQLite database in a temporary directory
/// (removed on return) and reads it back as the server would.
fn host(data: &Ratings, items: Option<&Items>, split: &Split) -> Result<Hosted, EvalError> {
    let subset = Ratings {
        ratings: split.lines.iter().map(|&l| data.ratings[l]).collect(),
        users: data.users,
        items: data.items,
        user_keys: data.user_keys.clone(),
        item_keys: data.item_keys.clone(),
    };
    let dir = tempfile::tempdir().map_err(|e| DbError::Config(e.to_string()))?;
    let url = format!("sqlite://{}", dir.path().join("lyceum.db").display());
    let db = Db::connect(
        &url,
        &PoolOptions {
            max_size: 1,
            acquire_timeout: std::time::Duration::from_secs(30),
        },
    )?;
    db.migrate()?;
    let mut conn = db.get()?;
    let imported = import::import(&mut conn, &subset, items, &ImportOptions::default())?;
    let corpus = corpus::load(&mut conn)?;
    let profiles = split
        .cases
        .iter()
        .map(|case| profile::load(&mut conn, &imported.learners[case.user as usize]))
        .collect::<Result<_, _>>()?;
    let item_of = imported
        .courses
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i as u32))
        .collect();
    Ok(Hosted {
        corpus,
        profiles,
        item_of,
    })
}

fn naive(at: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// Per-user figures of one list.
#[derive(Clone, Copy, Default)]
struct Hit {
    hr10: f64,
    ndcg10: f64,
    recall50: f64,
}

impl Hit {
    /// HR@10: a target in the first 10. NDCG@10 with binary gains, normalised by the ideal
    /// list of `min(10, targets)` hits. Recall@50: hits in the 50 over `min(50, targets)`.
    fn of(list: &[u32], targets: &[u32]) -> Hit {
        let hit = |i: &u32| targets.binary_search(i).is_ok();
        let dcg: f64 = list
            .iter()
            .take(K)
            .enumerate()
            .filter(|(_, i)| hit(i))
            .map(|(r, _)| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..targets.len().min(K))
            .map(|r| 1.0 / (r as f64 + 2.0).log2())
            .sum();
        let found = list.iter().take(LIST).filter(|i| hit(i)).count();
        Hit {
            hr10: f64::from(u8::from(list.iter().take(K).any(hit))),
            ndcg10: if ideal > 0.0 { dcg / ideal } else { 0.0 },
            recall50: found as f64 / targets.len().clamp(1, LIST) as f64,
        }
    }

    fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Hr10 => self.hr10,
            Metric::Ndcg10 => self.ndcg10,
            Metric::Recall50 => self.recall50,
        }
    }
}

/// The reported metrics.
#[derive(Clone, Copy)]
enum Metric {
    Hr10,
    Ndcg10,
    Recall50,
}

const METRICS: [Metric; 3] = [Metric::Hr10, Metric::Ndcg10, Metric::Recall50];

/// A mean with its 95% percentile-bootstrap interval.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// One model's figures on one split.
#[derive(Clone, Debug, Serialize)]
pub struct ModelFigures {
    pub model: String,
    pub hr10: Estimate,
    pub ndcg10: Estimate,
    pub recall50: Estimate,
    /// Distinct items in all top-10 lists over the catalog size.
    pub coverage10: f64,
}

/// The served model minus one baseline, per user, with a paired bootstrap interval: the same
/// resampled users for both, so what the users share cancels.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub baseline: String,
    pub hr10: Estimate,
    pub ndcg10: Estimate,
    pub recall50: Estimate,
}

/// Everything measured on one split.
#[derive(Clone, Debug, Serialize)]
pub struct SplitReport {
    pub split: String,
    pub evaluated_users: usize,
    pub targets: usize,
    pub train_interactions: usize,
    pub models: Vec<ModelFigures>,
    pub served_minus: Vec<Difference>,
    /// Users whose served `limit=10` list is not the first ten of their `limit=50` list.
    pub prefix_mismatches: usize,
    /// Seconds to build the served snapshot (fit and index) from the training corpus.
    pub served_build_secs: f64,
}

/// Size of the data set.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetStats {
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    /// Items the items file gave a title and genres (the rest are "Movie N" without tags).
    pub described_items: usize,
}

/// How many of the data set's items `items` describes.
fn described(data: &Ratings, items: Option<&Items>) -> usize {
    items.map_or(0, |items| {
        data.item_keys
            .iter()
            .filter(|k| items.get(k).is_some())
            .count()
    })
}

/// The result of one evaluation; serialises to the documented JSON shape.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dataset: DatasetStats,
    pub splits: Vec<SplitReport>,
    pub params: EvalParams,
    /// How the prior was chosen, when the run tuned it first (see [`tune`]).
    pub tuning: Option<Tuning>,
}

/// The name of the served model in reports.
pub const SERVED: &str = "served";

/// The top `LIST` items by `scores` outside `exclude` (sorted), ties to the lower item.
fn top_list(scores: &[f32], exclude: &[u32]) -> Vec<u32> {
    let mut ranked: Vec<(u32, f32)> = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| exclude.binary_search(&(*i as u32)).is_err())
        .map(|(i, &s)| (i as u32, s))
        .collect();
    let by = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if ranked.len() > LIST {
        ranked.select_nth_unstable_by(LIST, by);
        ranked.truncate(LIST);
    }
    ranked.sort_by(by);
    ranked.into_iter().map(|r| r.0).collect()
}

/// Means over `users` (indices into each model's per-user figures) of every model and metric.
fn means(hits: &[Vec<Hit>], users: &[usize]) -> Vec<[f64; 3]> {
    hits.iter()
        .map(|per_user| {
            let mut sum = [0.0; 3];
            for &u in users {
                for (s, m) in sum.iter_mut().zip(METRICS) {
                    *s += per_user[u].get(m);
                }
            }
            sum.map(|s| s / users.len().max(1) as f64)
        })
        .collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn estimate(mean: f64, mut samples: Vec<f64>) -> Estimate {
    samples.sort_by(f64::total_cmp);
    Estimate {
        mean,
        low: percentile(&samples, 0.025),
        high: percentile(&samples, 0.975),
    }
}

/// What the served model recommends on one split: each case's list of [`LIST`] items, the
/// users whose `limit=10` list is not the first ten of it, and the seconds its build took.
struct Served {
    lists: Vec<Vec<u32>>,
    prefix_mismatches: usize,
    build_secs: f64,
}

/// Builds the served snapshot from the split's database, as a refit does, and asks it for
/// every case with the learner's profile from that database, as `GET /recommendations` does.
fn serve(split: &Split, hosted: &Hosted, params: &EvalParams) -> Served {
    let started = Instant::now();
    let snapshot = Snapshot::build(
        Corpus {
            courses: hosted.corpus.courses.clone(),
            interactions: hosted.corpus.interactions.clone(),
        },
        params.model.clone(),
        &params.index,
        1,
        naive(split.now),
    );
    let build_secs = started.elapsed().as_secs_f64();
    let mut prefix_mismatches = 0;
    let lists = split
        .cases
        .iter()
        .zip(&hosted.profiles)
        .map(|(case, profile)| {
            let ids = |limit| -> Vec<u32> {
                snapshot
                    .recommend(profile, limit, naive(case.now))
                    .iter()
                    .filter_map(|p| hosted.item_of.get(p.course_id.as_str()).copied())
                    .collect()
            };
            let served = ids(LIST);
            if ids(K)[..] != served[..served.len().min(K)] {
                prefix_mismatches += 1;
            }
            served
        })
        .collect();
    Served {
        lists,
        prefix_mismatches,
        build_secs,
    }
}

/// Each item's popularity decayed as the served prior decays it, at the split's "now".
fn recent_popularity(split: &Split, items: usize, model: &ModelParams) -> Vec<f32> {
    let mut scores = vec![0.0f64; items];
    for x in &split.train {
        if let Some(s) = scores.get_mut(x.item as usize) {
            let age = (split.now - x.at).max(0) as f64;
            *s += decayed(f64::from(x.weight), age, model.popularity_half_life_secs);
        }
    }
    scores.into_iter().map(|s| s as f32).collect()
}

/// Evaluates every model on one split. Model 0 is the served one.
fn evaluate_split(
    split: Split,
    data: &Ratings,
    items: Option<&Items>,
    params: &EvalParams,
) -> Result<SplitReport, EvalError> {
    let served = serve(&split, &host(data, items, &split)?, params);
    let mut baskets: Vec<Vec<u32>> = vec![Vec::new(); data.users];
    for case in &split.cases {
        baskets[case.user as usize] = case.train.clone();
    }
    // Users who are not evaluated still train the baselines.
    for x in &split.train {
        let b = &mut baskets[x.user as usize];
        if let Err(at) = b.binary_search(&x.item) {
            b.insert(at, x.item);
        }
    }
    let recent = recent_popularity(&split, data.items, &params.model);
    let baselines = Baselines::fit(data.items, &baskets, recent, &params.baselines);
    let names: Vec<&str> = std::iter::once(SERVED).chain(baselines::NAMES).collect();
    let mut hits: Vec<Vec<Hit>> = vec![Vec::with_capacity(split.cases.len()); names.len()];
    let mut shown: Vec<HashSet<u32>> = vec![HashSet::new(); names.len()];
    for (case, served) in split.cases.iter().zip(served.lists) {
        let mut lists = vec![served];
        for name in baselines::NAMES {
            let scores = baselines.scores(name, case.user as usize, &case.train);
            lists.push(top_list(&scores, &case.train));
        }
        for (m, list) in lists.iter().enumerate() {
            hits[m].push(Hit::of(list, &case.targets));
            shown[m].extend(list.iter().take(K));
        }
    }
    let all: Vec<usize> = (0..split.cases.len()).collect();
    let point = means(&hits, &all);
    let mut rng = StdRng::seed_from_u64(params.seed);
    let resamples: Vec<Vec<[f64; 3]>> = (0..params.bootstrap)
        .map(|_| {
            let users: Vec<usize> = (0..all.len())
                .map(|_| rng.random_range(0..all.len().max(1)))
                .collect();
            means(&hits, &users)
        })
        .collect();
    let column =
        |f: &dyn Fn(&[[f64; 3]]) -> f64| -> Vec<f64> { resamples.iter().map(|r| f(r)).collect() };
    let figures = |m: usize, k: usize| estimate(point[m][k], column(&|r| r[m][k]));
    let minus =
        |m: usize, k: usize| estimate(point[0][k] - point[m][k], column(&|r| r[0][k] - r[m][k]));
    Ok(SplitReport {
        split: split.name.to_owned(),
        evaluated_users: split.cases.len(),
        targets: split.cases.iter().map(|c| c.targets.len()).sum(),
        train_interactions: split.train.len(),
        models: names
            .iter()
            .enumerate()
            .map(|(m, name)| ModelFigures {
                model: (*name).to_owned(),
                hr10: figures(m, 0),
                ndcg10: figures(m, 1),
                recall50: figures(m, 2),
                coverage10: shown[m].len() as f64 / data.items.max(1) as f64,
            })
            .collect(),
        served_minus: (1..names.len())
            .map(|m| Difference {
                baseline: names[m].to_owned(),
                hr10: minus(m, 0),
                ndcg10: minus(m, 1),
                recall50: minus(m, 2),
            })
            .collect(),
        prefix_mismatches: served.prefix_mismatches,
        served_build_secs: served.build_secs,
    })
}

/// Runs the whole evaluation: the served model (imported, read back and served as the module
/// doc says; courses titled and tagged from `items` when given) and the baselines, on the
/// global temporal split and on leave-last-out, full ranking.
pub fn evaluate(
    data: &Ratings,
    items: Option<&Items>,
    params: &EvalParams,
) -> Result<Report, EvalError> {
    let splits = [
        temporal(data, "temporal", params.train_fraction, 1.0),
        leave_last_out(data),
    ];
    if splits.iter().all(|s| s.cases.is_empty()) {
        return Err(EvalError::NothingToHoldOut);
    }
    Ok(Report {
        dataset: DatasetStats {
            users: data.users,
            items: data.items,
            interactions: data.ratings.len(),
            described_items: described(data, items),
        },
        splits: splits
            .into_iter()
            .map(|s| evaluate_split(s, data, items, params))
            .collect::<Result<_, _>>()?,
        params: params.clone(),
        tuning: None,
    })
}

/// Prior weights tuning tries (`ModelParams::popularity_prior`).
const PRIOR_GRID: [f32; 6] = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0];
/// Popularity half-lives tuning tries, in days (`ModelParams::popularity_half_life_secs`).
const HALF_LIFE_DAYS_GRID: [f64; 4] = [3.0, 7.0, 14.0, 30.0];

/// One point of the tuning grid and the served model's figures there on the validation slice.
#[derive(Clone, Debug, Serialize)]
pub struct TuningPoint {
    pub popularity_prior: f32,
    pub popularity_half_life_days: f64,
    pub hr10: f64,
    pub ndcg10: f64,
}

/// What tuning tried on the validation slice and what it chose.
#[derive(Clone, Debug, Serialize)]
pub struct Tuning {
    /// Users evaluated on the validation slice.
    pub evaluated_users: usize,
    /// Every grid point, in grid order.
    pub points: Vec<TuningPoint>,
    /// The point with the best NDCG@10 (then HR@10, then the earlier point).
    pub chosen: TuningPoint,
}

/// Chooses the popularity prior's weight and half-life on a validation slice of the temporal
/// split's training interactions: the served model is trained on the older part and asked for
/// the newest [`EvalParams::validation_fraction`] of it, so the test split never influences a
/// choice. Returns what it tried; the caller applies `chosen` to the params it evaluates with.
pub fn tune(
    data: &Ratings,
    items: Option<&Items>,
    params: &EvalParams,
) -> Result<Tuning, EvalError> {
    let cut = params.train_fraction * (1.0 - params.validation_fraction);
    let split = temporal(data, "validation", cut, params.train_fraction);
    let hosted = host(data, items, &split)?;
    let points: Vec<TuningPoint> = PRIOR_GRID
        .iter()
        .flat_map(|&prior| HALF_LIFE_DAYS_GRID.iter().map(move |&days| (prior, days)))
        .map(|(prior, days)| {
            let mut at = params.clone();
            at.model.popularity_prior = prior;
            at.model.popularity_half_life_secs = days * 86_400.0;
            let served = serve(&split, &hosted, &at);
            let hits: Vec<Hit> = split
                .cases
                .iter()
                .zip(&served.lists)
                .map(|(case, list)| Hit::of(list, &case.targets))
                .collect();
            let mean =
                |f: fn(&Hit) -> f64| hits.iter().map(f).sum::<f64>() / hits.len().max(1) as f64;
            TuningPoint {
                popularity_prior: prior,
                popularity_half_life_days: days,
                hr10: mean(|h| h.hr10),
                ndcg10: mean(|h| h.ndcg10),
            }
        })
        .collect();
    let chosen = points
        .iter()
        .reduce(|best, p| {
            if (p.ndcg10, p.hr10) > (best.ndcg10, best.hr10) {
                p
            } else {
                best
            }
        })
        .cloned()
        .unwrap_or(TuningPoint {
            popularity_prior: params.model.popularity_prior,
            popularity_half_life_days: params.model.popularity_half_life_secs / 86_400.0,
            hr10: 0.0,
            ndcg10: 0.0,
        });
    Ok(Tuning {
        evaluated_users: split.cases.len(),
        points,
        chosen,
    })
}

impl Tuning {
    /// `params` with the chosen prior.
    pub fn apply(&self, params: &mut EvalParams) {
        params.model.popularity_prior = self.chosen.popularity_prior;
        params.model.popularity_half_life_secs = self.chosen.popularity_half_life_days * 86_400.0;
    }
}

impl fmt::Display for Tuning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "validation slice: {} users; served HR@10 / NDCG@10 by prior weight (rows) and popularity half-life (columns, days)",
            self.evaluated_users
        )?;
        write!(f, "{:>6}", "prior")?;
        for days in HALF_LIFE_DAYS_GRID {
            write!(f, " {:>13}", format!("{days} d"))?;
        }
        for (k, p) in self.points.iter().enumerate() {
            if k % HALF_LIFE_DAYS_GRID.len() == 0 {
                write!(f, "\n{:>6}", p.popularity_prior)?;
            }
            write!(f, " {:>6.3}/{:.3}", p.hr10, p.ndcg10)?;
        }
        writeln!(
            f,
            "\nchosen: prior {} with a {}-day half-life",
            self.chosen.popularity_prior, self.chosen.popularity_half_life_days
        )
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} [{:.3}, {:.3}]", self.mean, self.low, self.high)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.dataset;
        if let Some(tuning) = &self.tuning {
            writeln!(f, "{tuning}")?;
        }
        writeln!(
            f,
            "{} users, {} items ({} with title and genres), {} interactions; full ranking, 95% bootstrap intervals ({} resamples)",
            d.users, d.items, d.described_items, d.interactions, self.params.bootstrap
        )?;
        for s in &self.splits {
            writeln!(
                f,
                "\n{}: {} users, {} future items, {} training interactions; served build {:.1} s; limit=10 not a prefix of limit=50 for {} users",
                s.split,
                s.evaluated_users,
                s.targets,
                s.train_interactions,
                s.served_build_secs,
                s.prefix_mismatches
            )?;
            writeln!(
                f,
                "{:<19} {:>22} {:>22} {:>22} {:>9}",
                "model", "HR@10", "NDCG@10", "Recall@50", "coverage"
            )?;
            for m in &s.models {
                writeln!(
                    f,
                    "{:<19} {:>22} {:>22} {:>22} {:>9.3}",
                    m.model,
                    m.hr10.to_string(),
                    m.ndcg10.to_string(),
                    m.recall50.to_string(),
                    m.coverage10
                )?;
            }
            for d in &s.served_minus {
                writeln!(
                    f,
                    "{:<19} {:>22} {:>22} {:>22}",
                    format!("− {}", d.baseline),
                    d.hr10.to_string(),
                    d.ndcg10.to_string(),
                    d.recall50.to_string()
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::import::movielens::{ParseError, Rating, parse_items, parse_ratings};

    fn parse(text: &str) -> Result<Ratings, ParseError> {
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
        let h = Hit::of(&[5, 1, 7], &[1, 2]);
        assert_eq!(h.hr10, 1.0);
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((h.ndcg10 - (1.0 / 3f64.log2()) / ideal).abs() < 1e-12);
        assert!((h.recall50 - 0.5).abs() < 1e-12);
        let miss = Hit::of(&[3, 4], &[1]);
        assert_eq!((miss.hr10, miss.ndcg10, miss.recall50), (0.0, 0.0, 0.0));
    }

    #[test]
    fn splits_never_train_on_the_future() {
        // a: x@10, y@20, z@30; b: x@5, z@40. The oldest 60% (3 of 5) train.
        let Ok(data) = parse("a\tx\t1\t10\na\ty\t1\t20\na\tz\t1\t30\nb\tx\t1\t5\nb\tz\t1\t40\n")
        else {
            panic!("valid input")
        };
        let t = temporal(&data, "temporal", 0.6, 1.0);
        assert_eq!(t.train.len(), 3);
        assert!(t.train.iter().all(|x| x.at <= 20));
        assert_eq!(t.now, 20);
        let users: Vec<(u32, Vec<u32>)> = t
            .cases
            .iter()
            .map(|c| (c.user, c.targets.clone()))
            .collect();
        assert_eq!(users, vec![(0, vec![2]), (1, vec![2])]);
        let l = leave_last_out(&data);
        assert_eq!(l.train.len(), 3);
        assert_eq!(l.cases.len(), 2);
        assert_eq!((l.cases[0].targets.clone(), l.cases[0].now), (vec![2], 20));
    }

    /// Generated data with structure to find: 6 groups of 12 items; each user walks through
    /// one group over time and a few items are popular with everyone.
    fn generated() -> String {
        let mut rng = StdRng::seed_from_u64(9);
        let mut text = String::new();
        for user in 0..240u32 {
            let group = user % 6;
            for step in 0..8u32 {
                let item = if rng.random_bool(0.15) {
                    72 + rng.random_range(0..4u32)
                } else {
                    group * 12 + rng.random_range(0..12u32)
                };
                let at = i64::from(user) * 600 + i64::from(step) * 86_400;
                text.push_str(&format!("{user}\t{item}\t4\t{at}\n"));
            }
        }
        text
    }

    /// The generated items in RecBole's layout: each group's items share a genre.
    fn generated_items() -> String {
        let genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Western"];
        let mut text = String::from("item_id:token\tmovie_title:token_seq\tclass:token_seq\n");
        for item in 0..76u32 {
            let genre = genres.get((item / 12) as usize).unwrap_or(&"Documentary");
            text.push_str(&format!("{item}\tFilm {item}\t{genre}\n"));
        }
        text
    }

    #[test]
    fn the_served_model_is_evaluated_against_every_baseline() {
        let Ok(data) = parse(&generated()) else {
            panic!("valid input")
        };
        let params = EvalParams {
            bootstrap: 200,
            ..EvalParams::default()
        };
        let items = parse_items(generated_items().as_bytes()).map_err(|e| e.to_string());
        let Ok(items) = items else {
            panic!("{items:?}")
        };
        let report = evaluate(&data, Some(&items), &params).map_err(|e| e.to_string());
        let Ok(report) = report else {
            panic!("{report:?}")
        };
        assert_eq!(report.splits.len(), 2);
        for split in &report.splits {
            let names: Vec<&str> = split.models.iter().map(|m| m.model.as_str()).collect();
            assert_eq!(
                names,
                [
                    "served",
                    "popularity",
                    "recent_popularity",
                    "item_knn",
                    "als",
                    "ease"
                ]
            );
            assert!(split.evaluated_users > 100, "{split:?}");
            assert_eq!(
                split.prefix_mismatches, 0,
                "limit=10 is a prefix of limit=50"
            );
            let served = &split.models[0];
            let popularity = &split.models[1];
            assert!(served.hr10.low <= served.hr10.mean && served.hr10.mean <= served.hr10.high);
            // The groups are there to find: the served model must find them, not fall back
            // to what everyone takes.
            assert!(served.ndcg10.mean > popularity.ndcg10.mean, "{}", report);
        }
        let json = serde_json::to_value(&report).map_err(|e| e.to_string());
        let Ok(json) = json else { panic!("{json:?}") };
        assert!(json["splits"][0]["served_minus"][0]["hr10"]["low"].is_f64());
    }

    #[test]
    fn tuning_chooses_on_the_validation_slice_only() {
        let Ok(data) = parse(&generated()) else {
            panic!("valid input")
        };
        let params = EvalParams::default();
        let tuning = tune(&data, None, &params).map_err(|e| e.to_string());
        let Ok(tuning) = tuning else {
            panic!("{tuning:?}")
        };
        assert_eq!(
            tuning.points.len(),
            PRIOR_GRID.len() * HALF_LIFE_DAYS_GRID.len()
        );
        assert!(tuning.evaluated_users > 0);
        // Nothing after the cut reaches tuning: rewrite every test-period rating (other
        // items, same times) and it chooses from exactly the same figures.
        let order = by_time(&data);
        let cut = (data.ratings.len() as f64 * params.train_fraction) as usize;
        let mut rewritten = parse(&generated()).map_err(|e| e.to_string());
        let Ok(rewritten) = rewritten.as_mut() else {
            panic!("{rewritten:?}")
        };
        for &(_, line) in &order[cut..] {
            let r = &mut rewritten.ratings[line];
            r.item = (r.item + 17) % data.items as u32;
        }
        let again = tune(rewritten, None, &params).map_err(|e| e.to_string());
        let Ok(again) = again else {
            panic!("{again:?}")
        };
        let figures = |t: &Tuning| -> Vec<(f64, f64)> {
            t.points.iter().map(|p| (p.hr10, p.ndcg10)).collect()
        };
        assert_eq!(figures(&again), figures(&tuning));
        assert!(tuning.points.iter().any(|p| p.hr10 > 0.0), "{tuning}");
        let best = tuning
            .points
            .iter()
            .map(|p| (p.ndcg10, p.hr10))
            .fold((f64::MIN, f64::MIN), |a, b| if b > a { b } else { a });
        assert_eq!((tuning.chosen.ndcg10, tuning.chosen.hr10), best);
        let mut applied = params.clone();
        tuning.apply(&mut applied);
        assert_eq!(
            applied.model.popularity_prior,
            tuning.chosen.popularity_prior
        );
    }
}
