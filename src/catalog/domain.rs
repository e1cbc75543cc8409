//! Validated catalog input: parse at the edge, trust inside. Each type has a private field and a
//! `parse` that is the only way to build one; the status machine lives here too, so every rule
//! about which transition is legal is unit-tested without a database.

use serde::Deserialize;

/// Trims `raw` and checks it holds `min..=max` characters and no control characters other than
/// line breaks and tabs (when `multiline`).
pub(crate) fn bounded_text(
    field: &str,
    raw: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, String> {
    let text = raw.trim();
    let n = text.chars().count();
    if n < min {
        return Err(if min == 1 {
            format!("{field} must not be empty")
        } else {
            format!("{field} must be at least {min} characters")
        });
    }
    if n > max {
        return Err(format!("{field} must be at most {max} characters"));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// Declares a trimmed, length-bounded text newtype (other domains use it too).
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $multiline:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims and checks length and characters.
            pub fn parse(raw: &str) -> Result<Self, String> {
                $crate::catalog::domain::bounded_text($field, raw, $min, $max, $multiline)
                    .map(Self)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use text_type;

text_type!(
    /// A course title: 1–200 characters on one line.
    CourseTitle, "title", 1, 200, false
);
text_type!(
    /// A course description: up to 20 000 characters, line breaks allowed.
    Description, "description", 0, 20_000, true
);
text_type!(
    /// A lesson title: 1–200 characters on one line.
    LessonTitle, "lesson title", 1, 200, false
);
text_type!(
    /// A lesson's text content: 1–100 000 characters, line breaks allowed.
    LessonBody, "body", 1, 100_000, true
);
text_type!(
    /// The reason an admin gives when sending a course back to its owner: 1–2 000 characters.
    RejectionReason, "reason", 1, 2_000, true
);
text_type!(
    /// A review's text: 1–5 000 characters, line breaks allowed.
    ReviewText, "text", 1, 5_000, true
);

/// A category slug: 1–50 lower-case letters, digits and hyphens, so filtering by exact match
/// is reliable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category(String);

/// True for a lower-case slug of `1..=max` ASCII letters, digits and single inner hyphens.
fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Category {
    /// Longest category, in characters.
    pub const MAX_CHARS: usize = 50;

    /// Lower-cases, trims, turns spaces into hyphens and checks the slug shape.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let slug = raw.trim().to_lowercase().replace([' ', '_'], "-");
        if is_slug(&slug, Self::MAX_CHARS) {
            Ok(Self(slug))
        } else {
            Err(format!(
                "category {raw:?} must be 1–{} letters, digits or hyphens",
                Self::MAX_CHARS
            ))
        }
    }
}

impl AsRef<str> for Category {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A course's tags: at most [`Tags::MAX_COUNT`] distinct slugs, each lower-cased, in the order
/// first given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Most tags one course may carry.
    pub const MAX_COUNT: usize = 10;
    /// Longest tag, in characters.
    pub const MAX_CHARS: usize = 30;

    /// Normalises each tag like a category and drops duplicates.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, String> {
        let mut tags: Vec<String> = Vec::new();
        for r in raw {
            let tag = Self::parse_one(r.as_ref())?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > Self::MAX_COUNT {
            return Err(format!("at most {} tags are allowed", Self::MAX_COUNT));
        }
        Ok(Self(tags))
    }

    /// One normalised tag, as used in search filters too.
    pub fn parse_one(raw: &str) -> Result<String, String> {
        let tag = raw.trim().to_lowercase().replace([' ', '_'], "-");
        if is_slug(&tag, Self::MAX_CHARS) {
            Ok(tag)
        } else {
            Err(format!(
                "tag {raw:?} must be 1–{} letters, digits or hyphens",
                Self::MAX_CHARS
            ))
        }
    }

    /// The tags.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// An absolute `http` or `https` URL with a host, at most 2 000 characters; used for cover
/// images and lesson media so no `javascript:` or `data:` URL reaches a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl(String);

impl WebUrl {
    /// Longest accepted URL.
    pub const MAX_CHARS: usize = 2_000;

    /// Checks the scheme, a non-empty host and the absence of spaces and control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = raw.trim();
        let invalid = || format!("{url:?} is not an http(s) URL");
        if url.len() > Self::MAX_CHARS {
            return Err(format!(
                "URLs must be at most {} characters",
                Self::MAX_CHARS
            ));
        }
        let lower = url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .ok_or_else(invalid)?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default();
        if host.is_empty()
            || host.starts_with(':')
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        Ok(Self(url.to_owned()))
    }
}

impl AsRef<str> for WebUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A BCP-47-style language tag such as `en`, `pt-BR` or `zh-Hant`: a 2–3 letter primary
/// language and up to three 2–8 character alphanumeric subtags. Stored with the primary tag
/// lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    /// Checks the shape; does not consult a registry.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let invalid = || format!("{raw:?} is not a language tag like \"en\" or \"pt-BR\"");
        let mut parts = raw.split('-');
        let primary = parts.next().unwrap_or_default();
        if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(invalid());
        }
        let subtags: Vec<&str> = parts.collect();
        if subtags.len() > 3
            || subtags.iter().any(|s| {
                !(2..=8).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_alphanumeric())
            })
        {
            return Err(invalid());
        }
        let mut tag = primary.to_ascii_lowercase();
        for s in subtags {
            tag.push('-');
            tag.push_str(s);
        }
        Ok(Self(tag))
    }
}

impl AsRef<str> for Language {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Declares a closed set of snake_case names stored as text, with `as_str`, `FromStr` and
/// serde/OpenAPI support.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        "{other:?} is not a {} ({})",
                        $what,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// Who a course is for.
    Level, "level" {
        /// No prior knowledge.
        Beginner = "beginner",
        /// Some experience.
        Intermediate = "intermediate",
        /// Experienced learners.
        Advanced = "advanced",
        /// Anyone.
        AllLevels = "all_levels",
    }
);

text_enum!(
    /// Where a course is in its life: `draft → in_review → published → archived`, with an
    /// admin's rejection sending `in_review` back to `draft`.
    CourseStatus, "course status" {
        /// Being written; only the owner and admins see it.
        Draft = "draft",
        /// Submitted and waiting for an admin.
        InReview = "in_review",
        /// Public.
        Published = "published",
        /// Retired: hidden from browsing, still readable by those entitled. Terminal.
        Archived = "archived",
    }
);

/// A request to move a course along its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The owner asks for review.
    Submit,
    /// An admin publishes.
    Approve,
    /// An admin sends it back to draft (with a reason).
    Reject,
    /// The owner or an admin retires it.
    Archive,
}

impl Transition {
    /// The verb used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Archive => "archive",
        }
    }
}

impl CourseStatus {
    /// The status `transition` leads to from `self`, or `None` when it is illegal.
    pub fn apply(self, transition: Transition) -> Option<Self> {
        use CourseStatus::*;
        match (self, transition) {
            (Draft, Transition::Submit) => Some(InReview),
            (InReview, Transition::Approve) => Some(Published),
            (InReview, Transition::Reject) => Some(Draft),
            (Draft | InReview | Published, Transition::Archive) => Some(Archived),
            _ => None,
        }
    }

    /// Whether the owner may still change content. Archived courses are frozen; a published
    /// course stays published while its owner edits it.
    pub fn is_editable(self) -> bool {
        self != Self::Archived
    }
}

/// A star rating, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating(i32);

impl Rating {
    /// Accepts 1–5.
    pub fn parse(raw: i64) -> Result<Self, String> {
        match i32::try_from(raw) {
            Ok(r @ 1..=5) => Ok(Self(r)),
            _ => Err(format!("rating must be between 1 and 5, got {raw}")),
        }
    }

    /// The number of stars.
    pub fn value(self) -> i32 {
        self.0
    }
}

/// A lesson's length in seconds, at most 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSecs(i32);

impl DurationSecs {
    /// Longest lesson accepted.
    pub const MAX: i64 = 24 * 3600;

    /// Accepts 0–86 400.
    pub fn parse(raw: i64) -> Result<Self, String> {
        if (0..=Self::MAX).contains(&raw) {
            i32::try_from(raw)
                .map(Self)
                .map_err(|_| "duration_secs out of range".into())
        } else {
            Err(format!(
                "duration_secs must be between 0 and {}, got {raw}",
                Self::MAX
            ))
        }
    }

    /// The number of seconds.
    pub fn value(self) -> i32 {
        self.0
    }
}

/// Collects the errors of several parses into one message, or `None` when all passed.
pub fn problems(results: &[Option<String>]) -> Option<String> {
    let all: Vec<&str> = results.iter().flatten().map(String::as_str).collect();
    (!all.is_empty()).then(|| all.join("; "))
}

text_enum!(
    /// How `GET /courses` orders its results.
    SortOrder, "sort order" {
        /// Courses whose title holds the query words first (earlier words weigh more), then
        /// newest; the default when `q` is given.
        Relevance = "relevance",
        /// Most recently published first; the default without `q`.
        Newest = "newest",
        /// Highest average rating first (more ratings break ties).
        Rating = "rating",
        /// Most enrolments first.
        Popularity = "popularity",
        /// Cheapest first.
        PriceAsc = "price_asc",
        /// Most expensive first.
        PriceDesc = "price_desc",
    }
);

/// Raw `GET /courses` query parameters; [`CourseSearch::parse`] checks them.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Free text: every whitespace-separated word must occur in the title or description
    /// (case-insensitive).
    pub q: Option<String>,
    /// Only courses with this tag.
    pub tag: Option<String>,
    /// Only courses in this category.
    pub category: Option<String>,
    /// Lowest price in minor units (inclusive), in the course's own currency.
    pub min_price: Option<i64>,
    /// Highest price in minor units (inclusive), in the course's own currency.
    pub max_price: Option<i64>,
    /// `true`: only courses priced 0.
    pub free: Option<bool>,
    /// Only courses by this instructor id.
    pub instructor: Option<String>,
    /// `relevance` (default with `q`), `newest` (default without), `rating`, `popularity`,
    /// `price_asc` or `price_desc`.
    pub sort: Option<String>,
}

/// A checked catalog search.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseSearch {
    /// Lower-cased words that must all match.
    pub terms: Vec<String>,
    /// Normalised tag.
    pub tag: Option<String>,
    /// Normalised category.
    pub category: Option<String>,
    /// Inclusive lower price bound.
    pub min_price: Option<i64>,
    /// Inclusive upper price bound.
    pub max_price: Option<i64>,
    /// Only free courses.
    pub free_only: bool,
    /// Only this instructor's courses.
    pub instructor_id: Option<String>,
    /// Result order.
    pub sort: SortOrder,
}

impl CourseSearch {
    /// Longest free-text query, in characters.
    pub const MAX_QUERY_CHARS: usize = 200;
    /// Most words in a query.
    pub const MAX_TERMS: usize = 10;

    /// Checks every parameter, reporting all problems at once.
    pub fn parse(p: &SearchParams) -> Result<Self, String> {
        let q = p.q.as_deref().unwrap_or_default();
        let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
        let terms_err = if q.chars().count() > Self::MAX_QUERY_CHARS {
            Some(format!(
                "q must be at most {} characters",
                Self::MAX_QUERY_CHARS
            ))
        } else if terms.len() > Self::MAX_TERMS {
            Some(format!("q may hold at most {} words", Self::MAX_TERMS))
        } else {
            None
        };
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let tag = nonempty(&p.tag).map(|t| Tags::parse_one(&t)).transpose();
        let category = nonempty(&p.category)
            .map(|c| Category::parse(&c).map(|c| c.0))
            .transpose();
        let price_err = match (p.min_price, p.max_price) {
            (Some(n), _) | (_, Some(n)) if n < 0 => Some("prices must not be negative".to_owned()),
            (Some(lo), Some(hi)) if lo > hi => {
                Some("min_price must not exceed max_price".to_owned())
            }
            _ => None,
        };
        let instructor = nonempty(&p.instructor);
        let instructor_err = instructor
            .as_ref()
            .filter(|i| i.len() > 64)
            .map(|_| "instructor must be a user id".to_owned());
        let sort = p.sort.as_deref().map(str::parse::<SortOrder>).transpose();
        if let Some(msg) = problems(&[
            terms_err,
            tag.as_ref().err().cloned(),
            category.as_ref().err().cloned(),
            price_err,
            instructor_err,
            sort.as_ref().err().cloned(),
        ]) {
            return Err(msg);
        }
        let default_sort = if terms.is_empty() {
            SortOrder::Newest
        } else {
            SortOrder::Relevance
        };
        Ok(Self {
            terms,
            tag: tag.ok().flatten(),
            category: category.ok().flatten(),
            min_price: p.min_price,
            max_price: p.max_price,
            free_only: p.free.unwrap_or(false),
            instructor_id: instructor,
            sort: sort.ok().flatten().unwrap_or(default_sort),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            CourseTitle::parse("  Rust 101 ").unwrap().as_ref(),
            "Rust 101"
        );
        assert!(CourseTitle::parse("   ").is_err());
        assert!(CourseTitle::parse(&"é".repeat(200)).is_ok());
        assert!(CourseTitle::parse(&"é".repeat(201)).is_err());
        assert!(CourseTitle::parse("line\nbreak").is_err());
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("two\nlines").is_ok());
        assert!(Description::parse("bell\u{7}").is_err());
    }

    #[test]
    fn categories_and_tags_are_normalised() {
        assert_eq!(
            Category::parse(" Data Science ").unwrap().as_ref(),
            "data-science"
        );
        assert!(Category::parse("").is_err());
        assert!(Category::parse("c++").is_err());
        let tags = Tags::parse(&["Rust", "rust", " Web_Dev "]).unwrap();
        assert_eq!(tags.as_slice(), ["rust", "web-dev"]);
        assert!(Tags::parse(&["ok", "not ok!"]).is_err());
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&many).is_err());
        assert!(Tags::parse(&many[..10]).is_ok());
        assert!(Tags::parse_one(&"x".repeat(31)).is_err());
    }

    #[test]
    fn only_web_urls_are_accepted() {
        assert!(WebUrl::parse("https://cdn.example.org/a.png").is_ok());
        assert!(WebUrl::parse("http://localhost:8080/x").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,xx",
            "ftp://x.org/a",
            "https://",
            "https:///path",
            "https://a b.org",
            "//example.org/x",
        ] {
            assert!(WebUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn language_tags() {
        assert_eq!(Language::parse("EN").unwrap().as_ref(), "en");
        assert_eq!(Language::parse("pt-BR").unwrap().as_ref(), "pt-BR");
        assert!(Language::parse("zh-Hant-TW").is_ok());
        for bad in ["", "e", "english", "en_US", "en-", "e1", "en-a"] {
            assert!(Language::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn status_machine() {
        use CourseStatus::*;
        use Transition::*;
        assert_eq!(Draft.apply(Submit), Some(InReview));
        assert_eq!(InReview.apply(Approve), Some(Published));
        assert_eq!(InReview.apply(Reject), Some(Draft));
        for s in [Draft, InReview, Published] {
            assert_eq!(s.apply(Archive), Some(Archived));
        }
        for (s, t) in [
            (Draft, Approve),
            (Draft, Reject),
            (InReview, Submit),
            (Published, Submit),
            (Published, Approve),
            (Published, Reject),
            (Archived, Submit),
            (Archived, Approve),
            (Archived, Archive),
        ] {
            assert_eq!(s.apply(t), None, "{s} {t:?}");
        }
        assert!(!Archived.is_editable());
        assert!(Published.is_editable());
    }

    #[test]
    fn enums_round_trip() {
        for s in CourseStatus::ALL {
            assert_eq!(s.as_str().parse::<CourseStatus>().unwrap(), *s);
        }
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>().unwrap(), *l);
        }
        assert!("expert".parse::<Level>().is_err());
    }

    #[test]
    fn ratings_and_durations_are_bounded() {
        assert!(Rating::parse(0).is_err());
        assert!(Rating::parse(6).is_err());
        assert_eq!(Rating::parse(5).unwrap().value(), 5);
        assert!(DurationSecs::parse(-1).is_err());
        assert!(DurationSecs::parse(86_401).is_err());
        assert_eq!(DurationSecs::parse(90).unwrap().value(), 90);
    }

    #[test]
    fn problems_are_joined() {
        assert_eq!(problems(&[None, None]), None);
        assert_eq!(
            problems(&[Some("a".into()), None, Some("b".into())]).as_deref(),
            Some("a; b")
        );
    }

    #[test]
    fn searches_are_checked() {
        let ok = CourseSearch::parse(&SearchParams {
            q: Some("  Rust  ASYNC ".into()),
            tag: Some("Web Dev".into()),
            sort: Some("price_desc".into()),
            min_price: Some(0),
            max_price: Some(100),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.terms, ["rust", "async"]);
        assert_eq!(ok.tag.as_deref(), Some("web-dev"));
        assert_eq!(ok.sort, SortOrder::PriceDesc);
        assert_eq!(
            CourseSearch::parse(&SearchParams::default()).unwrap().sort,
            SortOrder::Newest
        );
        let with_q = SearchParams {
            q: Some("rust".into()),
            ..Default::default()
        };
        assert_eq!(
            CourseSearch::parse(&with_q).unwrap().sort,
            SortOrder::Relevance
        );
        let bad = |p: SearchParams| CourseSearch::parse(&p).unwrap_err();
        assert!(
            bad(SearchParams {
                sort: Some("random".into()),
                ..Default::default()
            })
            .contains("sort")
        );
        assert!(
            bad(SearchParams {
                min_price: Some(-1),
                ..Default::default()
            })
            .contains("negative")
        );
        assert!(
            bad(SearchParams {
                min_price: Some(5),
                max_price: Some(4),
                ..Default::default()
            })
            .contains("exceed")
        );
        assert!(
            bad(SearchParams {
                tag: Some("a!".into()),
                ..Default::default()
            })
            .contains("tag")
        );
        assert!(
            bad(SearchParams {
                q: Some("x ".repeat(11)),
                ..Default::default()
            })
            .contains("words")
        );
    }
}
