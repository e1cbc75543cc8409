//! One generation of the recommender: the item vectors in an HNSW index, what each course is
//! (for filtering, diversity and reasons), and the popular and trending lists for users with
//! little or no history. A snapshot never changes once published behind the `ArcSwap`, except
//! that cold-start courses are inserted into its (shared, concurrent) index; the recommender
//! then publishes a successor that knows them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::corpus::{Corpus, Course};
use super::index::{Index, IndexParams};
use super::model::{self, ItemContent, ModelParams};
use super::profile::Profile;
use super::rank::{self, Facets, Reason};
use crate::catalog::events::EventKind;

/// Items on the popular and trending lists.
const LIST_LEN: usize = 200;
/// Trending counts the last week only.
const TRENDING_WINDOW_SECS: i64 = 7 * 86_400;
/// Tags of a user's strongest interests used when their vector finds too little.
const INTEREST_TAGS: usize = 3;

/// A recommendable course as a snapshot keeps it.
#[derive(Debug)]
pub struct Item {
    /// Its id.
    pub course_id: String,
    /// Title, for reasons.
    pub title: String,
    /// Who teaches it.
    pub instructor_id: String,
    /// Their display name, for reasons.
    pub instructor_name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Users with a positive interaction: zero for a cold-start course.
    pub support: usize,
    /// Popularity prior in 0..1 (see `ModelParams::popularity_prior`); zero when cold.
    pub prior: f32,
}

impl Item {
    fn new(course: Course, support: usize) -> Self {
        Self {
            course_id: course.id,
            title: course.title,
            instructor_id: course.instructor_id,
            instructor_name: course.instructor_name,
            tags: course.tags,
            support,
            prior: 0.0,
        }
    }

    fn facets(&self) -> Facets<'_> {
        Facets {
            instructor: &self.instructor_id,
            tags: &self.tags,
        }
    }
}

/// One recommended course with its score and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// The course.
    pub course_id: String,
    /// Cosine similarity to the query (0 for fallback picks).
    pub score: f32,
    /// Why.
    pub reason: Reason,
}

/// A generation of the model; see the module doc. Cloning shares the index and the items.
#[derive(Clone)]
pub struct Snapshot {
    index: Arc<Index>,
    items: Vec<Arc<Item>>,
    by_course: HashMap<String, u32>,
    /// Archived since this generation was fitted: never recommended, until the next refit
    /// leaves them out altogether.
    retired: HashSet<u32>,
    popular: Vec<u32>,
    trending: Vec<u32>,
    /// The catalog's shared content direction at the refit, removed from every content vector
    /// (cold-start courses too, so they land in the same space).
    content_mean: Arc<[f32]>,
    params: Arc<ModelParams>,
    built_at: NaiveDateTime,
}

/// A user's touched course, merged over all their events on it.
struct Touched {
    item: u32,
    vector: Arc<[f32]>,
    /// Net decayed weight of all events on it.
    pull: f64,
    /// The strongest kind of event on it, for the reason's verb.
    kind: EventKind,
}

impl Snapshot {
    /// Fits the model to `corpus` and indexes it with at most `threads` threads. `now` dates
    /// the popular and trending lists.
    pub fn build(
        corpus: Corpus,
        params: ModelParams,
        index_params: &IndexParams,
        threads: usize,
        now: NaiveDateTime,
    ) -> Self {
        let n = corpus.courses.len();
        let started = std::time::Instant::now();
        let collaborative = model::fit_collaborative(n, &corpus.interactions, &params);
        let fitted = started.elapsed();
        let support = supports(n, &corpus.interactions);
        let contents: Vec<Vec<f32>> = corpus
            .courses
            .iter()
            .map(|c| model::content_vector(&c.content, &params))
            .collect();
        let content_mean: Arc<[f32]> =
            model::content_mean(contents.iter().map(Vec::as_slice), params.dim).into();
        let vectors = contents
            .iter()
            .zip(&collaborative)
            .enumerate()
            .filter_map(|(i, (content, collab))| {
                let content = model::centred(content, &content_mean);
                let v = model::item_vector(Some(&content), collab.as_deref(), support[i], &params);
                Some((u32::try_from(i).ok()?, v))
            })
            .collect();
        let index = Index::build(vectors, index_params, threads);
        tracing::info!(
            items = n,
            fit_ms = fitted.as_millis() as u64,
            index_ms = (started.elapsed() - fitted).as_millis() as u64,
            "recommendation model fitted and indexed"
        );
        let (popularity, trending) = lists(
            n,
            &corpus.interactions,
            now.and_utc().timestamp(),
            params.popularity_half_life_secs,
        );
        let most = popularity.iter().copied().fold(0.0f64, f64::max);
        let items: Vec<Arc<Item>> = corpus
            .courses
            .into_iter()
            .zip(support)
            .zip(&popularity)
            .map(|((c, s), &p)| {
                let mut item = Item::new(c, s);
                if most > 0.0 {
                    item.prior = (p / most) as f32;
                }
                Arc::new(item)
            })
            .collect();
        let by_course = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((item.course_id.clone(), u32::try_from(i).ok()?)))
            .collect();
        Self {
            index: Arc::new(index),
            items,
            by_course,
            retired: HashSet::new(),
            popular: top(&popularity),
            trending: top(&trending),
            content_mean,
            params: Arc::new(params),
            built_at: now,
        }
    }

    /// Courses in this snapshot.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True before the first course is published.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// When the data of this generation was read (cold-start inserts keep it).
    pub fn built_at(&self) -> NaiveDateTime {
        self.built_at
    }

    /// Whether a course is recommendable in this snapshot.
    pub fn contains(&self, course_id: &str) -> bool {
        self.by_course.contains_key(course_id)
    }

    /// A successor that also recommends `course`, placed by its content alone (cold start), or
    /// `None` if this snapshot has it already. The course goes into the shared index at once.
    pub fn with_course(&self, course: Course) -> Option<Self> {
        if self.contains(&course.id) {
            return None;
        }
        let item = u32::try_from(self.items.len()).ok()?;
        self.index
            .insert(item, self.content_vector(&course.content));
        let mut next = self.clone();
        next.by_course.insert(course.id.clone(), item);
        next.items.push(Arc::new(Item::new(course, 0)));
        Some(next)
    }

    /// A successor that never recommends `course_id` (archived), or `None` if this snapshot
    /// does not recommend it anyway.
    pub fn without_course(&self, course_id: &str) -> Option<Self> {
        let &item = self.by_course.get(course_id)?;
        if self.retired.contains(&item) {
            return None;
        }
        let mut next = self.clone();
        next.retired.insert(item);
        Some(next)
    }

    /// Every course this snapshot holds, retired ones included.
    pub fn course_ids(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|i| i.course_id.as_str())
    }

    /// Whether a course is in this snapshot but retired (archived since the refit).
    pub fn is_retired(&self, course_id: &str) -> bool {
        self.by_course
            .get(course_id)
            .is_some_and(|i| self.retired.contains(i))
    }

    /// The vector of a course in this snapshot.
    pub fn vector_of(&self, course_id: &str) -> Option<Arc<[f32]>> {
        self.index.vector(*self.by_course.get(course_id)?)
    }

    /// The content vector of something this snapshot does not hold (a draft, an expert), in
    /// the same space as its items.
    pub fn content_vector(&self, content: &ItemContent) -> Vec<f32> {
        model::item_vector(
            Some(&model::centred(
                &model::content_vector(content, &self.params),
                &self.content_mean,
            )),
            None,
            0,
            &self.params,
        )
    }

    fn item(&self, i: u32) -> Option<&Item> {
        self.items.get(i as usize).map(|a| &**a)
    }

    /// The item, if it may be recommended (not retired).
    fn live(&self, i: u32) -> Option<&Item> {
        self.item(i).filter(|_| !self.retired.contains(&i))
    }

    /// The user's touched courses that this snapshot knows, merged per course.
    fn touched(&self, profile: &Profile, now: NaiveDateTime) -> Vec<Touched> {
        let mut merged: Vec<Touched> = Vec::new();
        let mut at: HashMap<u32, usize> = HashMap::new();
        for t in &profile.touches {
            let Some(&item) = self.by_course.get(&t.course_id) else {
                continue;
            };
            let Some(vector) = self.index.vector(item) else {
                continue;
            };
            let age = (now - t.at).num_seconds() as f64;
            let pull = rank::decayed(t.weight, age, self.params.half_life_secs);
            match at.get(&item) {
                Some(&k) => {
                    let m = &mut merged[k];
                    m.pull += pull;
                    if t.kind.default_weight() > m.kind.default_weight() {
                        m.kind = t.kind;
                    }
                }
                None => {
                    at.insert(item, merged.len());
                    merged.push(Touched {
                        item,
                        vector,
                        pull,
                        kind: t.kind,
                    });
                }
            }
        }
        merged
    }

    /// The user's taste as one vector (the decayed weighted sum of what they touched; `None`
    /// without positive history) and the tags of their strongest interests, strongest first,
    /// from one pass over their history.
    pub fn taste(&self, profile: &Profile, now: NaiveDateTime) -> (Option<Vec<f32>>, Vec<String>) {
        let touched = self.touched(profile, now);
        (
            user_vector_of(&touched, &self.params),
            self.interest_tags(&touched),
        )
    }

    fn interest_tags(&self, touched: &[Touched]) -> Vec<String> {
        let mut weights: HashMap<&str, f64> = HashMap::new();
        for t in touched.iter().filter(|t| t.pull > 0.0) {
            for tag in self.item(t.item).map(|i| &i.tags[..]).unwrap_or_default() {
                *weights.entry(tag).or_default() += t.pull;
            }
        }
        let mut tags: Vec<(&str, f64)> = weights.into_iter().collect();
        tags.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        tags.into_iter()
            .take(INTEREST_TAGS)
            .map(|(t, _)| t.to_owned())
            .collect()
    }

    /// Up to `limit` courses for a user: nearest to their taste, never one they own, teach,
    /// dismissed or already touched, diversified, each with a reason. When their history is
    /// empty or finds too little, popular courses in their interests, then trending, popular
    /// and new ones fill the list.
    pub fn recommend(&self, profile: &Profile, limit: usize, now: NaiveDateTime) -> Vec<Pick> {
        let touched = self.touched(profile, now);
        let seen: HashSet<u32> = touched.iter().map(|t| t.item).collect();
        let keep = |i: u32| {
            !seen.contains(&i)
                && self
                    .live(i)
                    .is_some_and(|it| profile.may_see(&it.course_id))
        };
        let mut picks = Vec::with_capacity(limit);
        if let Some(user) = user_vector_of(&touched, &self.params) {
            let found = self.candidates(&user, limit, &keep);
            for (i, score) in self.close_and_varied(found, limit) {
                let Some(item) = self.item(i) else { continue };
                picks.push(Pick {
                    course_id: item.course_id.clone(),
                    score,
                    reason: self.because(i, &touched),
                });
            }
        }
        if picks.len() < limit {
            let taken: HashSet<&str> = picks.iter().map(|p| p.course_id.as_str()).collect();
            let fill = self.fallback(&self.interest_tags(&touched), limit - picks.len(), |i| {
                keep(i)
                    && self
                        .item(i)
                        .is_some_and(|it| !taken.contains(it.course_id.as_str()))
            });
            picks.extend(fill);
        }
        picks
    }

    /// The user's candidates, best first: the index's nearest items joined by the popular
    /// list (one fixed pool whatever the limit, see `ModelParams::candidate_pool`), each scored
    /// exactly as cosine plus the weighted popularity prior, and only what points the same way
    /// as the user (a negative cosine is no recommendation at any popularity).
    fn candidates(
        &self,
        user: &[f32],
        limit: usize,
        keep: &impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let pool = self.params.candidate_pool.max(limit * 3 + 5);
        let mut found = self.index.search(user, pool, keep);
        let near: HashSet<u32> = found.iter().map(|&(i, _)| i).collect();
        for &i in self
            .popular
            .iter()
            .filter(|&&i| keep(i) && !near.contains(&i))
        {
            if let Some(v) = self.index.vector(i) {
                found.push((i, model::dot(user, &v)));
            }
        }
        let weight = self.params.popularity_prior;
        let mut scored: Vec<(u32, f32)> = found
            .into_iter()
            .filter(|&(_, s)| s > 0.0)
            .map(|(i, s)| (i, s + weight * self.item(i).map_or(0.0, |it| it.prior)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    /// Only what points the same way as the query (a negative cosine is not "similar"; the
    /// fallbacks say honestly why they are there), diversified.
    fn close_and_varied(&self, found: Vec<(u32, f32)>, limit: usize) -> Vec<(u32, f32)> {
        let close: Vec<(u32, f32)> = found.into_iter().filter(|&(_, s)| s > 0.0).collect();
        rank::diversify(&close, limit, |i| self.facets(i))
    }

    fn facets(&self, i: u32) -> Facets<'_> {
        self.item(i).map_or(
            Facets {
                instructor: "",
                tags: &[],
            },
            Item::facets,
        )
    }

    /// The touched course that pulls hardest towards `item`.
    fn because(&self, item: u32, touched: &[Touched]) -> Reason {
        let Some(v) = self.index.vector(item) else {
            return Reason::popular();
        };
        touched
            .iter()
            .filter(|t| t.pull > 0.0)
            .map(|t| (t, t.pull * f64::from(model::dot(&v, &t.vector))))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .and_then(|(t, _)| {
                let source = self.item(t.item)?;
                Some(Reason::similar(t.kind, &source.course_id, &source.title))
            })
            .unwrap_or_else(Reason::popular)
    }

    /// Popular courses in `interests`, then trending, popular and new ones, as kept by `keep`.
    fn fallback(
        &self,
        interests: &[String],
        limit: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<Pick> {
        let mut picks = Vec::new();
        let mut taken = HashSet::new();
        let mut offer = |i: u32, reason: Reason, picks: &mut Vec<Pick>| {
            if picks.len() < limit
                && keep(i)
                && taken.insert(i)
                && let Some(item) = self.item(i)
            {
                picks.push(Pick {
                    course_id: item.course_id.clone(),
                    score: 0.0,
                    reason,
                });
            }
        };
        for tag in interests {
            for &i in &self.popular {
                if self.item(i).is_some_and(|it| it.tags.contains(tag)) {
                    offer(i, Reason::interest(tag), &mut picks);
                }
            }
        }
        for &i in &self.trending {
            offer(i, Reason::trending(), &mut picks);
        }
        for &i in &self.popular {
            offer(i, Reason::popular(), &mut picks);
        }
        // A catalog nobody has used yet still has something to show: its newest courses
        // (items are in publication order).
        for i in (0..self.items.len())
            .rev()
            .filter_map(|i| u32::try_from(i).ok())
        {
            if picks.len() == limit {
                break;
            }
            offer(i, Reason::new_course(), &mut picks);
        }
        picks
    }

    /// Up to `limit` published courses like `course_id` (or like `unindexed`, a course this
    /// snapshot does not hold, placed by its content), diversified, each with a reason.
    pub fn similar(&self, course_id: &str, unindexed: Option<&Course>, limit: usize) -> Vec<Pick> {
        let source = self.by_course.get(course_id).and_then(|&i| self.item(i));
        let query: Option<Vec<f32>> = match (self.vector_of(course_id), unindexed) {
            (Some(v), _) => Some(v.to_vec()),
            (None, Some(course)) => Some(self.content_vector(&course.content)),
            (None, None) => None,
        };
        let Some(query) = query else {
            return Vec::new();
        };
        let keep = |i: u32| self.live(i).is_some_and(|it| it.course_id != course_id);
        let found = self.index.search(&query, limit * 3 + 5, keep);
        let (title, tags, instructor) = match (source, unindexed) {
            (Some(s), _) => (&s.title, &s.tags, &s.instructor_id),
            (None, Some(c)) => (&c.title, &c.tags, &c.instructor_id),
            (None, None) => return Vec::new(),
        };
        let source_support = source.map_or(0, |s| s.support);
        self.close_and_varied(found, limit)
            .into_iter()
            .filter_map(|(i, score)| {
                let item = self.item(i)?;
                let shared: Vec<&str> = item
                    .tags
                    .iter()
                    .filter(|t| tags.contains(t))
                    .map(String::as_str)
                    .collect();
                let reason = if !shared.is_empty() {
                    Reason::shared_tags(&shared)
                } else if &item.instructor_id == instructor {
                    Reason::same_instructor(&item.instructor_name)
                } else if item.support > 0 && source_support > 0 {
                    Reason::also_taken(course_id, title)
                } else {
                    Reason::similar_to(course_id, title)
                };
                Some(Pick {
                    course_id: item.course_id.clone(),
                    score,
                    reason,
                })
            })
            .collect()
    }

    /// Vectors of the given courses that this snapshot holds (an expert's courses, say).
    pub fn vectors_of<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<Arc<[f32]>> {
        ids.into_iter()
            .filter_map(|id| self.vector_of(id))
            .collect()
    }
}

fn user_vector_of(touched: &[Touched], params: &ModelParams) -> Option<Vec<f32>> {
    // Ages are already folded into `pull`, so each enters with age zero.
    model::user_vector(
        touched.iter().map(|t| (&t.vector[..], t.pull as f32, 0.0)),
        params,
    )
}

/// Users with a net positive interaction, per item.
fn supports(n: usize, interactions: &[model::Interaction]) -> Vec<usize> {
    let mut net: HashMap<(u32, u32), f32> = HashMap::new();
    for i in interactions {
        *net.entry((i.user, i.item)).or_default() += i.weight;
    }
    let mut support = vec![0; n];
    for ((_, item), w) in net {
        if w > 0.0
            && let Some(s) = support.get_mut(item as usize)
        {
            *s += 1;
        }
    }
    support
}

/// Each item's popularity (weight decayed with `half_life_secs`) and its trending weight
/// (weight over the last week).
fn lists(
    n: usize,
    interactions: &[model::Interaction],
    now: i64,
    half_life_secs: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut popular = vec![0.0f64; n];
    let mut trending = vec![0.0f64; n];
    for i in interactions {
        let age = (now - i.at).max(0);
        let w = f64::from(i.weight);
        if let Some(p) = popular.get_mut(i.item as usize) {
            *p += rank::decayed(w, age as f64, half_life_secs);
        }
        if age <= TRENDING_WINDOW_SECS
            && let Some(t) = trending.get_mut(i.item as usize)
        {
            *t += w;
        }
    }
    (popular, trending)
}

/// The best [`LIST_LEN`] items with a positive score, best first.
fn top(scores: &[f64]) -> Vec<u32> {
    let mut ranked: Vec<(u32, f64)> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| **s > 0.0)
        .filter_map(|(i, &s)| Some((u32::try_from(i).ok()?, s)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(LIST_LEN);
    ranked.into_iter().map(|(i, _)| i).collect()
}
