//! Turning scored candidates into the list a person sees: diversified so one instructor or one
//! tag cannot fill it, and each item with a short reason. Plain functions over plain data.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::events::EventKind;

/// What the ranking needs to know about a candidate course.
#[derive(Debug, Clone, Copy)]
pub struct Facets<'a> {
    /// Who teaches it.
    pub instructor: &'a str,
    /// Its tags.
    pub tags: &'a [String],
}

/// How many items of one instructor or one tag a list of `limit` may hold: about a third for an
/// instructor and half for a tag, never less than one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Items per instructor.
    pub per_instructor: usize,
    /// Items per tag.
    pub per_tag: usize,
}

impl Caps {
    /// The caps for a list of `limit` items.
    pub fn for_limit(limit: usize) -> Self {
        Self {
            per_instructor: limit.div_ceil(3).max(1),
            per_tag: limit.div_ceil(2).max(1),
        }
    }
}

/// A skipped item comes back before any candidate scoring below this share of its score:
/// diversity may reorder near-equals, never bury a strong match under a weak one.
const STRONGER: f32 = 0.5;

/// Places taken so far per instructor and per tag.
struct Tally<'a> {
    caps: Caps,
    by_instructor: HashMap<&'a str, usize>,
    by_tag: HashMap<&'a str, usize>,
}

impl<'a> Tally<'a> {
    fn crowded(&self, f: &Facets<'a>) -> bool {
        let count = |m: &HashMap<&str, usize>, k: &str| m.get(k).copied().unwrap_or(0);
        count(&self.by_instructor, f.instructor) >= self.caps.per_instructor
            || f.tags
                .iter()
                .any(|t| count(&self.by_tag, t) >= self.caps.per_tag)
    }

    fn add(&mut self, f: Facets<'a>) {
        *self.by_instructor.entry(f.instructor).or_default() += 1;
        for t in f.tags {
            *self.by_tag.entry(t.as_str()).or_default() += 1;
        }
    }
}

/// Picks up to `limit` of `ranked` (best first, with scores), skipping any that would put an
/// instructor or a tag over its cap, as long as what replaces it scores at least half as well
/// (see [`STRONGER`]). If that leaves the list short, the skipped ones fill it in their order:
/// a short catalog still gets a full list, just a less varied one.
pub fn diversify<'a, T: Copy>(
    ranked: &[(T, f32)],
    limit: usize,
    facets: impl Fn(T) -> Facets<'a>,
) -> Vec<(T, f32)> {
    let mut tally = Tally {
        caps: Caps::for_limit(limit),
        by_instructor: HashMap::new(),
        by_tag: HashMap::new(),
    };
    let mut picked = Vec::with_capacity(limit);
    let mut skipped: std::collections::VecDeque<(T, f32)> = Default::default();
    for &(item, score) in ranked {
        while picked.len() < limit
            && let Some(&(back, was)) = skipped.front()
            && score < was * STRONGER
        {
            skipped.pop_front();
            tally.add(facets(back));
            picked.push((back, was));
        }
        if picked.len() == limit {
            break;
        }
        let f = facets(item);
        if tally.crowded(&f) {
            skipped.push_back((item, score));
        } else {
            tally.add(f);
            picked.push((item, score));
        }
    }
    let room = limit - picked.len();
    picked.extend(skipped.into_iter().take(room));
    picked
}

/// Why an item is on the list, in a form a client can show as is (`text`) or render its own way
/// (`kind` and the referenced course or tag).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Reason {
    /// `similar` (to a course the user touched), `interest` (a tag they follow), `popular`,
    /// `trending`, `new`, `also_taken` (learners of this course took that one),
    /// `same_instructor`, or for experts `teaches`, `interest` and `consults`.
    pub kind: &'static str,
    /// One short sentence.
    pub text: String,
    /// The course the reason refers to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course_id: Option<String>,
    /// The tag the reason refers to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl Reason {
    /// The common shape: a kind and a sentence, referring to nothing.
    fn plain(kind: &'static str, text: String) -> Self {
        Self {
            kind,
            text,
            course_id: None,
            tag: None,
        }
    }

    /// The same, referring to a course.
    fn about_course(kind: &'static str, text: String, course_id: &str) -> Self {
        Self {
            course_id: Some(course_id.to_owned()),
            ..Self::plain(kind, text)
        }
    }

    /// The same, referring to a tag.
    fn about_tag(kind: &'static str, text: String, tag: Option<&str>) -> Self {
        Self {
            tag: tag.map(str::to_owned),
            ..Self::plain(kind, text)
        }
    }

    /// "Because you viewed “Rust basics”".
    pub fn similar(kind: EventKind, course_id: &str, title: &str) -> Self {
        let text = format!("Because you {} “{title}”", verb(kind));
        Self::about_course("similar", text, course_id)
    }

    /// "Popular in rust".
    pub fn interest(tag: &str) -> Self {
        let text = format!("Popular in {tag}, which you follow");
        Self::about_tag("interest", text, Some(tag))
    }

    /// Liked by many learners over time.
    pub fn popular() -> Self {
        Self::plain("popular", "Popular with learners".into())
    }

    /// Published recently, before anyone used it.
    pub fn new_course() -> Self {
        Self::plain("new", "New on Lyceum".into())
    }

    /// Much activity recently.
    pub fn trending() -> Self {
        Self::plain("trending", "Trending this week".into())
    }

    /// For "similar courses": shares tags with the course being looked at.
    pub fn shared_tags(tags: &[&str]) -> Self {
        let text = format!("Also about {}", tags.join(", "));
        Self::about_tag("interest", text, tags.first().copied())
    }

    /// For "similar courses": learners of the course being looked at took this one too.
    pub fn also_taken(course_id: &str, title: &str) -> Self {
        let text = format!("Learners of “{title}” also took this");
        Self::about_course("also_taken", text, course_id)
    }

    /// For "similar courses", when nothing more specific applies.
    pub fn similar_to(course_id: &str, title: &str) -> Self {
        Self::about_course("similar", format!("Similar to “{title}”"), course_id)
    }

    /// For "similar courses": the same person teaches it.
    pub fn same_instructor(name: &str) -> Self {
        Self::plain("same_instructor", format!("Also by {name}"))
    }

    /// An expert who teaches a course the learner touched.
    pub fn teaches_known(course_id: &str, title: &str) -> Self {
        let text = format!("Teaches “{title}”, a course you know");
        Self::about_course("teaches", text, course_id)
    }

    /// An expert in one of the learner's interests.
    pub fn expert_in(tag: &str) -> Self {
        let text = format!("An expert in {tag}, which you follow");
        Self::about_tag("interest", text, Some(tag))
    }

    /// An expert with nothing more specific to say for them.
    pub fn consults() -> Self {
        Self::plain("consults", "Offers one-to-one consultations".into())
    }

    /// An expert who teaches on the platform.
    pub fn teaches(courses: usize) -> Self {
        let plural = if courses == 1 { "" } else { "s" };
        Self::plain(
            "teaches",
            format!("Teaches {courses} course{plural} on Lyceum"),
        )
    }
}

/// The past-tense verb for what a user did, for a reason's text.
fn verb(kind: EventKind) -> &'static str {
    match kind {
        EventKind::CourseView | EventKind::SearchClick => "viewed",
        EventKind::Enroll | EventKind::Purchase | EventKind::Refund => "took",
        EventKind::Review => "reviewed",
        EventKind::LessonStart | EventKind::LessonComplete => "studied",
        EventKind::WishlistAdd => "saved",
        EventKind::LiveJoin
        | EventKind::QuestionAsked
        | EventKind::QuestionUpvoted
        | EventKind::PollVoted => "joined a live session of",
    }
}

/// The weight of an event `age_secs` old, halving every `half_life_secs`.
pub fn decayed(weight: f64, age_secs: f64, half_life_secs: f64) -> f64 {
    if half_life_secs <= 0.0 {
        return weight;
    }
    weight * 0.5f64.powf(age_secs.max(0.0) / half_life_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct C {
        instructor: &'static str,
        tags: Vec<String>,
    }

    fn catalog() -> Vec<C> {
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        vec![
            C {
                instructor: "ann",
                tags: tags(&["rust"]),
            },
            C {
                instructor: "ann",
                tags: tags(&["rust"]),
            },
            C {
                instructor: "ann",
                tags: tags(&["rust", "async"]),
            },
            C {
                instructor: "ann",
                tags: tags(&["go"]),
            },
            C {
                instructor: "bob",
                tags: tags(&["rust"]),
            },
            C {
                instructor: "cat",
                tags: tags(&["python"]),
            },
            C {
                instructor: "dan",
                tags: tags(&["sql"]),
            },
        ]
    }

    #[test]
    fn one_instructor_or_tag_cannot_fill_the_list() {
        let cat = catalog();
        let ranked: Vec<(usize, f32)> =
            (0..cat.len()).map(|i| (i, 0.9 - i as f32 * 0.01)).collect();
        let facets = |i: usize| Facets {
            instructor: cat[i].instructor,
            tags: &cat[i].tags,
        };
        let order = |list: Vec<(usize, f32)>| list.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        // Caps for 4: two per instructor, two per tag.
        assert_eq!(order(diversify(&ranked, 4, facets)), vec![0, 1, 5, 6]);
        // A longer list than the varied part: the skipped fill it in rank order.
        assert_eq!(
            order(diversify(&ranked, 7, facets)),
            vec![0, 1, 2, 4, 5, 6, 3]
        );
    }

    #[test]
    fn a_strong_match_is_never_buried_under_a_weak_one() {
        let cat = catalog();
        let facets = |i: usize| Facets {
            instructor: cat[i].instructor,
            tags: &cat[i].tags,
        };
        // Ann's third course is strong, the others weak: it comes back before them.
        let ranked = [(0, 0.95), (1, 0.94), (2, 0.93), (5, 0.40), (6, 0.30)];
        let list: Vec<usize> = diversify(&ranked, 4, facets)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(list, vec![0, 1, 2, 5]);
    }

    #[test]
    fn caps_never_drop_below_one() {
        assert_eq!(
            Caps::for_limit(1),
            Caps {
                per_instructor: 1,
                per_tag: 1
            }
        );
        assert_eq!(
            Caps::for_limit(10),
            Caps {
                per_instructor: 4,
                per_tag: 5
            }
        );
    }

    #[test]
    fn reasons_read_naturally() {
        let r = Reason::similar(EventKind::Purchase, "c1", "Rust basics");
        assert_eq!(r.text, "Because you took “Rust basics”");
        assert_eq!(r.course_id.as_deref(), Some("c1"));
        assert_eq!(Reason::interest("rust").tag.as_deref(), Some("rust"));
        assert_eq!(
            Reason::shared_tags(&["rust", "async"]).text,
            "Also about rust, async"
        );
    }

    #[test]
    fn decay_halves_every_half_life() {
        assert!((decayed(4.0, 10.0, 10.0) - 2.0).abs() < 1e-9);
        assert!((decayed(4.0, 0.0, 10.0) - 4.0).abs() < 1e-9);
        assert!((decayed(-5.0, 20.0, 10.0) + 1.25).abs() < 1e-9);
    }
}
