//! Loading another platform's history as ordinary rows: one instructor, a free published
//! course per item, a learner per user and, per rating, an enrolment dated when it happened
//! (the entitlement's `granted_at` and the `enroll` event's `occurred_at`). The recommender
//! then reads them like any other data at its next refit; nothing here talks to it.
//!
//! `lyceum admin import-movielens` and the recommender's offline evaluation read the same
//! files through [`movielens`], so what is measured is what a migration serves.
//!
//! Idempotent: the instructor and learners are found by email, courses by an id derived from
//! the instructor and the item's id in the file, and an enrolment is written (event included)
//! only when its entitlement is new, so a second run of the same file creates nothing.
//! Rows are written in transactions of [`ImportOptions::batch`] records: few commits, and no
//! writer waits long for the database (on SQLite a transaction holds its write lock).

pub mod movielens;

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::domain::Level;
use super::entitlements::Grant;
use super::service::{self, CatalogError, CourseDraft, CourseInput};
use super::store::CourseRow;
use crate::accounts::domain::{DisplayName, Email, Role};
use crate::accounts::service::{self as accounts, AccountError};
use crate::accounts::store as account_store;
use crate::db::schema::courses;
use crate::db::{self, DbConnection, DbError};
use movielens::{Item, Items, Ratings};

/// The category of every imported course.
pub const CATEGORY: &str = "movies";
/// The language of every imported course.
pub const LANGUAGE: &str = "en";
/// The currency imported courses are priced in (at 0: they are free).
const CURRENCY: &str = "USD";

/// What an import may be told.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The account that teaches every imported course, created when missing (it must be an
    /// instructor or admin when it exists).
    pub instructor_email: String,
    /// Learners get `ml-<user id>@<email_domain>`.
    pub email_domain: String,
    /// Ratings below this are not enrolments; `None` (the default) keeps every rating, as the
    /// evaluation treats every rating as an implicit interaction.
    pub min_rating: Option<f32>,
    /// Records written per transaction. Each enrolment batch recounts the enrolments of the
    /// courses it touched once, so larger batches are faster, but a batch holds SQLite's write
    /// lock, or PostgreSQL's locks on those courses, while it runs: with the default, on
    /// MovieLens-100K, about 0.3 s on SQLite and 3 s on PostgreSQL.
    pub batch: usize,
}

impl Default for ImportOptions {
    /// Addresses under `movielens.invalid`, a domain that can never receive mail (RFC 2606).
    fn default() -> Self {
        Self {
            instructor_email: "instructor@movielens.invalid".into(),
            email_domain: "movielens.invalid".into(),
            min_rating: None,
            batch: 5_000,
        }
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Courses created by this run.
    pub courses_created: usize,
    /// Courses an earlier run created.
    pub courses_existing: usize,
    /// Learner accounts created by this run.
    pub learners_created: usize,
    /// Learner accounts that existed (by email).
    pub learners_existing: usize,
    /// Enrolments written by this run.
    pub enrolments_created: usize,
    /// Ratings whose learner already held the course.
    pub enrolments_existing: usize,
    /// Ratings below [`ImportOptions::min_rating`].
    pub below_min_rating: usize,
    /// Ratings of a course that no longer takes free enrolments (archived or priced since an
    /// earlier run).
    pub refused: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "courses {} created, {} existing; learners {} created, {} existing; \
             enrolments {} created, {} existing, {} below min rating, {} refused",
            self.courses_created,
            self.courses_existing,
            self.learners_created,
            self.learners_existing,
            self.enrolments_created,
            self.enrolments_existing,
            self.below_min_rating,
            self.refused
        )
    }
}

/// What an import did and where it put the data set, by dense index: callers that go on to
/// ask the server's own readers about the file's users (the offline evaluation) need the ids.
#[derive(Debug)]
pub struct Imported {
    /// The counts.
    pub report: ImportReport,
    /// The course of each item (`Ratings::item_keys` order).
    pub courses: Vec<String>,
    /// The learner of each user (`Ratings::user_keys` order).
    pub learners: Vec<String>,
}

/// Why an import stopped. Batches committed before the failure stay; running the import again
/// completes it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The data or the options cannot be imported; the message says which record.
    #[error("{0}")]
    Invalid(String),
    /// Creating an account failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Creating a course failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Imports `data` (titles and genres from `items` when given): see the module doc. Never opens
/// a transaction around the whole run, only around each batch.
pub fn import(
    conn: &mut DbConnection,
    data: &Ratings,
    items: Option<&Items>,
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    let mut report = ImportReport::default();
    let times = History::of(data)?;
    let batch = opts.batch.max(1);
    let instructor = instructor(conn, &opts.instructor_email)?;

    // Courses: every rated item, then the items file's unrated ones.
    let mut keys: Vec<&str> = data.item_keys.iter().map(String::as_str).collect();
    if let Some(items) = items {
        let rated: HashSet<&str> = keys.iter().copied().collect();
        keys.extend(
            items
                .iter()
                .map(|i| i.key.as_str())
                .filter(|k| !rated.contains(k)),
        );
    }
    let mut enrollable: HashMap<&str, String> = HashMap::new();
    for chunk in keys.chunks(batch) {
        let written = db::write_transaction(conn, |conn| {
            courses_of(conn, &instructor, chunk, items, &times, &mut report)
        })?;
        for (key, row) in written {
            if service::check_free_enrolment(&row).is_ok() {
                enrollable.insert(key, row.id);
            }
        }
    }

    // Learners, dense index → user id.
    let mut learners: Vec<String> = Vec::with_capacity(data.users);
    let mut emails: HashMap<String, &str> = HashMap::new();
    for chunk in data.user_keys.chunks(batch) {
        db::write_transaction(conn, |conn| {
            for key in chunk {
                let email = learner_email(key, &opts.email_domain)?;
                if let Some(other) = emails.insert(email.as_ref().to_owned(), key) {
                    return Err(ImportError::Invalid(format!(
                        "users {other:?} and {key:?} would share the email {}",
                        email.as_ref()
                    )));
                }
                let first = times.user_first[learners.len()];
                let (id, created) = learner(conn, &email, key, first)?;
                learners.push(id);
                if created {
                    report.learners_created += 1;
                } else {
                    report.learners_existing += 1;
                }
            }
            Ok::<_, ImportError>(())
        })?;
    }

    // Enrolments, oldest first (ties in file order), so recording order follows history too.
    let mut order: Vec<usize> = Vec::with_capacity(data.ratings.len());
    for (i, r) in data.ratings.iter().enumerate() {
        match opts.min_rating {
            Some(min) if r.rating < min => report.below_min_rating += 1,
            _ => order.push(i),
        }
    }
    order.sort_by_key(|&i| (data.ratings[i].at, i));
    for chunk in order.chunks(batch) {
        let mut grants = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let r = data.ratings[i];
            match enrollable.get(data.item_keys[r.item as usize].as_str()) {
                Some(course) => grants.push(Grant {
                    user_id: &learners[r.user as usize],
                    course_id: course,
                    order_id: None,
                    granted_at: times.rated[i],
                }),
                None => report.refused += 1,
            }
        }
        let newly = db::write_transaction(conn, |conn| service::enroll_all(conn, &grants))?;
        let created = newly.iter().filter(|n| **n).count();
        report.enrolments_created += created;
        report.enrolments_existing += newly.len() - created;
    }
    Ok(Imported {
        report,
        courses: data
            .item_keys
            .iter()
            .map(|key| course_id(&instructor, key))
            .collect(),
        learners,
    })
}

/// The data set's times as the database stores them.
struct History {
    /// Each rating's time, by index.
    rated: Vec<NaiveDateTime>,
    /// Each user's first rating, by dense user index: when their account is dated.
    user_first: Vec<NaiveDateTime>,
    /// Each item's first rating, by item key: when its course is dated as published.
    item_first: HashMap<String, NaiveDateTime>,
    /// The earliest rating (now for no ratings): when unrated items are dated.
    start: NaiveDateTime,
}

impl History {
    fn of(data: &Ratings) -> Result<Self, ImportError> {
        let rated = data
            .ratings
            .iter()
            .map(|r| {
                chrono::DateTime::from_timestamp(r.at, 0)
                    .map(|t| t.naive_utc())
                    .ok_or_else(|| {
                        ImportError::Invalid(format!(
                            "user {}, item {}: timestamp {} is out of range",
                            data.user_keys[r.user as usize], data.item_keys[r.item as usize], r.at
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let start = rated.iter().min().copied().unwrap_or_else(db::now);
        // A user without a rating here (a subset of a file, as the evaluation imports) is
        // dated at the start.
        let mut user_first = vec![NaiveDateTime::MAX; data.users];
        let mut item_first: HashMap<String, NaiveDateTime> = HashMap::new();
        for (r, &at) in data.ratings.iter().zip(&rated) {
            let first = &mut user_first[r.user as usize];
            *first = (*first).min(at);
            let item = item_first
                .entry(data.item_keys[r.item as usize].clone())
                .or_insert(at);
            *item = (*item).min(at);
        }
        for first in &mut user_first {
            if *first == NaiveDateTime::MAX {
                *first = start;
            }
        }
        Ok(Self {
            rated,
            user_first,
            item_first,
            start,
        })
    }
}

/// The importing instructor's id: the existing account with this email (which must be allowed
/// to teach), or a new password-less instructor.
fn instructor(conn: &mut DbConnection, email: &str) -> Result<String, ImportError> {
    let email = Email::parse(email).map_err(ImportError::Invalid)?;
    db::write_transaction(conn, |conn| {
        if let Some(row) = account_store::find_user_by_email(conn, email.as_ref())? {
            return match row.role.parse::<Role>() {
                Ok(Role::Instructor | Role::Admin) => Ok(row.id),
                _ => Err(ImportError::Invalid(format!(
                    "{} is a {}, who cannot teach the imported courses; choose another \
                     instructor email",
                    row.email, row.role
                ))),
            };
        }
        let name = DisplayName::parse("MovieLens").map_err(ImportError::Invalid)?;
        let id = derived_id("instructor", &[email.as_ref()]);
        let user =
            accounts::insert_passwordless(conn, id, &email, &name, Role::Instructor, db::now())?;
        Ok(user.id)
    })
}

/// The email of the file's user `key`.
fn learner_email(key: &str, domain: &str) -> Result<Email, ImportError> {
    Email::parse(&format!("ml-{key}@{domain}"))
        .map_err(|e| ImportError::Invalid(format!("user {key:?}: {e}")))
}

/// The learner with this email: found, or created dated at their first rating. True when
/// created.
fn learner(
    conn: &mut DbConnection,
    email: &Email,
    key: &str,
    first: NaiveDateTime,
) -> Result<(String, bool), ImportError> {
    if let Some(row) = account_store::find_user_by_email(conn, email.as_ref())? {
        return Ok((row.id, false));
    }
    let name: String = format!("MovieLens user {key}")
        .chars()
        .take(DisplayName::MAX_CHARS)
        .collect();
    let name = DisplayName::parse(&name)
        .map_err(|e| ImportError::Invalid(format!("user {key:?}: {e}")))?;
    let id = derived_id("learner", &[email.as_ref()]);
    let user = accounts::insert_passwordless(conn, id, email, &name, Role::Learner, first)?;
    Ok((user.id, true))
}

/// The course of each item key in `keys`: found by its derived id, or created published as of
/// the item's first rating.
fn courses_of<'k>(
    conn: &mut DbConnection,
    instructor: &str,
    keys: &[&'k str],
    items: Option<&Items>,
    times: &History,
    report: &mut ImportReport,
) -> Result<Vec<(&'k str, CourseRow)>, ImportError> {
    let ids: Vec<String> = keys.iter().map(|k| course_id(instructor, k)).collect();
    let mut existing: HashMap<String, CourseRow> = courses::table
        .filter(courses::id.eq_any(&ids))
        .select(CourseRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();
    let mut rows = Vec::with_capacity(keys.len());
    for (&key, id) in keys.iter().zip(ids) {
        if let Some(row) = existing.remove(&id) {
            report.courses_existing += 1;
            rows.push((key, row));
            continue;
        }
        let item = items.and_then(|i| i.get(key));
        let draft = draft(key, item)?;
        let at = times.item_first.get(key).copied().unwrap_or(times.start);
        let row = service::write_new_course(conn, id, instructor, &draft, Some(at), at)?;
        report.courses_created += 1;
        rows.push((key, row));
    }
    Ok(rows)
}

/// The course an item becomes: its title (or "Movie <id>"), its genres as tags, free, for all
/// levels, in [`CATEGORY`] and [`LANGUAGE`]; validated like any course.
fn draft(key: &str, item: Option<&Item>) -> Result<CourseDraft, ImportError> {
    let title = item
        .and_then(|i| i.title.clone())
        .unwrap_or_else(|| format!("Movie {key}"));
    CourseDraft::parse_new(&CourseInput {
        title: Some(title),
        description: None,
        category: Some(CATEGORY.into()),
        tags: Some(item.map(|i| i.tags.clone()).unwrap_or_default()),
        cover_image_url: None,
        price_minor: Some(0),
        currency: Some(CURRENCY.into()),
        level: Some(Level::AllLevels.as_str().into()),
        language: Some(LANGUAGE.into()),
    })
    .map_err(|e| ImportError::Invalid(format!("item {key:?}: {e}")))
}

/// The id of the course `instructor` teaches for item `key`: derived from both, so every run
/// finds the course an earlier one created, and another instructor's import of the same file
/// is a catalog of its own.
fn course_id(instructor: &str, key: &str) -> String {
    derived_id("course", &[instructor, key])
}

/// A UUID (version 8) derived from what it names (`kind`, then `parts`): the import's accounts
/// and courses get the same ids from the same file on every server and every run (so an
/// evaluation that imports is reproducible: the content featuriser hashes the instructor's id).
fn derived_id(kind: &str, parts: &[&str]) -> String {
    let mut digest = Sha256::new()
        .chain_update(b"lyceum import ")
        .chain_update(kind.as_bytes());
    for part in parts {
        digest = digest.chain_update(b"\0").chain_update(part.as_bytes());
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.finalize()[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_ids_are_stable_per_instructor_and_item() {
        let a = course_id("instructor-1", "242");
        assert_eq!(a, course_id("instructor-1", "242"));
        assert_ne!(a, course_id("instructor-2", "242"));
        assert_ne!(a, course_id("instructor-1", "2420"));
        assert_eq!(
            uuid::Uuid::parse_str(&a).map(|u| u.get_version_num()),
            Ok(8)
        );
    }

    #[test]
    fn items_become_valid_free_courses() {
        let plain = draft("7", None).map_err(|e| e.to_string());
        let Ok(plain) = plain else {
            panic!("{plain:?}")
        };
        assert_eq!(plain.title.as_ref(), "Movie 7");
        assert!(plain.tags.as_slice().is_empty());
        assert_eq!(plain.price.minor(), 0);
        let item = Item {
            key: "7".into(),
            title: Some("Alien (1979)".into()),
            tags: vec!["horror".into(), "sci-fi".into()],
        };
        let Ok(named) = draft("7", Some(&item)) else {
            panic!("valid item")
        };
        assert_eq!(named.title.as_ref(), "Alien (1979)");
        assert_eq!(named.tags.as_slice(), ["horror", "sci-fi"]);
        assert_eq!(named.category.as_ref(), CATEGORY);
    }

    #[test]
    fn learner_emails_name_the_bad_user() {
        assert_eq!(
            learner_email("196", "example.org")
                .map(|e| e.as_ref().to_owned())
                .ok(),
            Some("ml-196@example.org".to_owned())
        );
        let bad = learner_email("a b", "example.org").map_err(|e| e.to_string());
        assert!(
            bad.as_ref().is_err_and(|m| m.contains("\"a b\"")),
            "{bad:?}"
        );
    }
}
