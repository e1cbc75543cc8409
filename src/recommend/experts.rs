//! Experts for a learner: each expert is placed in the courses' vector space by what they
//! teach (their published courses' vectors) and what their profile says (tags, language,
//! headline and bio through the content featuriser), then ranked by closeness to the learner's
//! taste. Without history, experts sharing the learner's interests come first, then those who
//! teach courses here.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::model::{self, ItemContent};
use super::profile::Profile;
use super::rank::Reason;
use super::snapshot::Snapshot;

/// What the ranking needs of an expert.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Their user id.
    pub expert_id: String,
    /// Profile tags.
    pub tags: Vec<String>,
    /// Languages they consult in.
    pub languages: Vec<String>,
    /// Headline and bio, for the content features.
    pub text: String,
    /// Their published courses as `(id, title)`.
    pub courses: Vec<(String, String)>,
}

/// One recommended expert.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertPick {
    /// The expert's user id.
    pub expert_id: String,
    /// Closeness to the learner's taste (0 without history).
    pub score: f32,
    /// Why.
    pub reason: Reason,
}

/// The expert's place among the courses: their profile's content plus their courses.
fn vector(snapshot: &Snapshot, c: &Candidate) -> Vec<f32> {
    let content = ItemContent {
        tags: c.tags.clone(),
        category: None,
        instructor: c.expert_id.clone(),
        language: c.languages.first().cloned().unwrap_or_default(),
        level: String::new(),
        title: c.text.clone(),
        description: String::new(),
    };
    let mut v = snapshot.content_vector(&content);
    for course in snapshot.vectors_of(c.courses.iter().map(|(id, _)| id.as_str())) {
        for (x, y) in v.iter_mut().zip(course.iter()) {
            *x += y;
        }
    }
    model::normalize(&mut v);
    v
}

/// Ranks `candidates` for the learner of `profile` (never themselves), best first.
pub fn rank(
    snapshot: &Snapshot,
    profile: &Profile,
    learner_id: &str,
    candidates: &[Candidate],
    limit: usize,
    now: NaiveDateTime,
) -> Vec<ExpertPick> {
    let (user, interests) = snapshot.taste(profile, now);
    let touched: HashMap<&str, &str> = profile
        .touches
        .iter()
        .filter(|t| t.weight > 0.0)
        .map(|t| (t.course_id.as_str(), t.kind.as_str()))
        .collect();
    let mut scored: Vec<(f32, usize, ExpertPick)> = candidates
        .iter()
        .filter(|c| c.expert_id != learner_id)
        .map(|c| {
            let score = user
                .as_ref()
                .map_or(0.0, |u| model::dot(u, &vector(snapshot, c)));
            let overlap = c.tags.iter().filter(|t| interests.contains(t)).count();
            let reason = reason(c, &touched, &interests);
            let pick = ExpertPick {
                expert_id: c.expert_id.clone(),
                score,
                reason,
            };
            (score, overlap + c.courses.len().min(1), pick)
        })
        .collect();
    // By closeness, then (for learners without history) by shared interests and teaching.
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.expert_id.cmp(&b.2.expert_id))
    });
    scored.into_iter().take(limit).map(|(_, _, p)| p).collect()
}

fn reason(c: &Candidate, touched: &HashMap<&str, &str>, interests: &[String]) -> Reason {
    if let Some((id, title)) = c
        .courses
        .iter()
        .find(|(id, _)| touched.contains_key(id.as_str()))
    {
        Reason::teaches_known(id, title)
    } else if let Some(tag) = interests.iter().find(|t| c.tags.contains(t)) {
        Reason::expert_in(tag)
    } else if !c.courses.is_empty() {
        Reason::teaches(c.courses.len())
    } else {
        Reason::consults()
    }
}
