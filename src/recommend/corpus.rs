//! What a rebuild reads from the database: every published course with its content, and the
//! behaviour log turned into dense-id interactions for the model.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;

use super::model::{Interaction, ItemContent};
use crate::db::DbConnection;
use crate::db::schema::{behavior_events, course_tags, courses, users};

/// At most this many of the most recent events feed a refit: memory and refit time stay bounded
/// however long the log grows, and with time decay older events matter little.
pub const MAX_EVENTS: i64 = 2_000_000;

/// A published course as the recommender keeps it.
#[derive(Debug, Clone)]
pub struct Course {
    /// Its id.
    pub id: String,
    /// Its title, for reasons ("Because you viewed …").
    pub title: String,
    /// Who teaches it, for diversity.
    pub instructor_id: String,
    /// The instructor's display name, for reasons.
    pub instructor_name: String,
    /// Its tags, alphabetically.
    pub tags: Vec<String>,
    /// What the content featuriser sees.
    pub content: ItemContent,
}

/// Everything one rebuild fits: courses (dense item id = position) and interactions.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Published courses.
    pub courses: Vec<Course>,
    /// Events on those courses, most recent [`MAX_EVENTS`] at most.
    pub interactions: Vec<Interaction>,
}

type CourseColumns = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// Which courses to read.
enum Scope<'a> {
    /// Every published course.
    Published,
    /// One course if it is published.
    PublishedOne(&'a str),
    /// One course whatever its status.
    Any(&'a str),
}

/// Reads courses with their tags and instructor names.
fn select(conn: &mut DbConnection, scope: Scope<'_>) -> QueryResult<Vec<Course>> {
    let mut q = courses::table
        .inner_join(users::table)
        .order(courses::published_at.asc())
        .then_order_by(courses::id.asc())
        .select((
            courses::id,
            courses::title,
            courses::description,
            courses::category,
            courses::instructor_id,
            users::display_name,
            courses::language,
            courses::level,
        ))
        .into_boxed();
    q = match scope {
        Scope::Published => q.filter(courses::status.eq("published")),
        Scope::PublishedOne(id) => q
            .filter(courses::status.eq("published"))
            .filter(courses::id.eq(id.to_owned())),
        Scope::Any(id) => q.filter(courses::id.eq(id.to_owned())),
    };
    let rows: Vec<CourseColumns> = q.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    // Chunked: SQLite caps the number of bound parameters per statement.
    for chunk in ids.chunks(10_000) {
        let pairs: Vec<(String, String)> = course_tags::table
            .filter(course_tags::course_id.eq_any(chunk))
            .order((course_tags::course_id, course_tags::tag))
            .select((course_tags::course_id, course_tags::tag))
            .load(conn)?;
        for (course, tag) in pairs {
            tags.entry(course).or_default().push(tag);
        }
    }
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                title,
                description,
                category,
                instructor_id,
                instructor_name,
                language,
                level,
            )| {
                let tags = tags.remove(&id).unwrap_or_default();
                Course {
                    content: ItemContent {
                        tags: tags.clone(),
                        category: Some(category),
                        instructor: instructor_id.clone(),
                        language,
                        level,
                        title: title.clone(),
                        description,
                    },
                    id,
                    title,
                    instructor_id,
                    instructor_name,
                    tags,
                }
            },
        )
        .collect())
}

/// One published course, for a cold-start insert; `None` if it is not published (any more).
pub fn published_course(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Course>> {
    Ok(select(conn, Scope::PublishedOne(id))?.pop())
}

/// One course whatever its status, for "similar courses" of a course the index does not hold
/// (a draft its owner is looking at, say).
pub fn any_course(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Course>> {
    Ok(select(conn, Scope::Any(id))?.pop())
}

/// The ids of every published course, for catching up with courses another node published.
pub fn published_ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    courses::table
        .filter(courses::status.eq("published"))
        .select(courses::id)
        .load(conn)
}

/// Reads the whole corpus.
pub fn load(conn: &mut DbConnection) -> QueryResult<Corpus> {
    let courses = select(conn, Scope::Published)?;
    let item_of: HashMap<&str, u32> = courses
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c.id.as_str(), u32::try_from(i).ok()?)))
        .collect();
    let mut user_of: HashMap<String, u32> = HashMap::new();
    let mut interactions = Vec::new();
    // Streamed, newest first: a row becomes a 24-byte interaction as it is read, so a million
    // events never sit in memory as text (that doubled a 1M-event refit's peak).
    let rows = behavior_events::table
        .order(behavior_events::occurred_at.desc())
        .limit(MAX_EVENTS)
        .select((
            behavior_events::user_id,
            behavior_events::course_id,
            behavior_events::weight,
            behavior_events::occurred_at,
        ))
        .load_iter::<(String, String, f64, NaiveDateTime), DefaultLoadingMode>(conn)?;
    for row in rows {
        let (user, course, weight, at) = row?;
        let Some(&item) = item_of.get(course.as_str()) else {
            continue; // a draft's or an archived course's events teach nothing recommendable
        };
        let next = u32::try_from(user_of.len()).unwrap_or(u32::MAX);
        let user = *user_of.entry(user).or_insert(next);
        interactions.push(Interaction {
            user,
            item,
            weight: weight as f32,
            at: at.and_utc().timestamp(),
        });
    }
    // Oldest first, the order the model expects of a log, and users numbered in the order
    // they first appear in it, as they were when the log was read oldest first: the fit's
    // float sums run in that order, and a different one moves the evaluation's figures.
    interactions.reverse();
    let mut renumbered = vec![u32::MAX; user_of.len()];
    let mut next = 0;
    for interaction in &mut interactions {
        let slot = &mut renumbered[interaction.user as usize];
        if *slot == u32::MAX {
            *slot = next;
            next += 1;
        }
        interaction.user = *slot;
    }
    Ok(Corpus {
        courses,
        interactions,
    })
}

/// The published courses of each of `instructors`, as `(id, title)`.
pub fn taught_by(
    conn: &mut DbConnection,
    instructors: &[&str],
) -> QueryResult<HashMap<String, Vec<(String, String)>>> {
    let rows: Vec<(String, String, String)> = courses::table
        .filter(courses::status.eq("published"))
        .filter(courses::instructor_id.eq_any(instructors))
        .order(courses::published_at.asc())
        .select((courses::instructor_id, courses::id, courses::title))
        .load(conn)?;
    let mut by: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (instructor, id, title) in rows {
        by.entry(instructor).or_default().push((id, title));
    }
    Ok(by)
}

/// Events recorded (not dated: clients may backdate) after `since`: the volume that decides
/// when to refit. Event ids are UUIDv7, whose text sorts by the time they were made.
pub fn events_since(conn: &mut DbConnection, since: NaiveDateTime) -> QueryResult<i64> {
    behavior_events::table
        .filter(behavior_events::id.ge(first_v7_at(since)))
        .count()
        .get_result(conn)
}

/// The smallest UUIDv7 text made at `at` (its first 48 bits are the Unix time in ms).
fn first_v7_at(at: NaiveDateTime) -> String {
    let ms = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    format!(
        "{:08x}-{:04x}-7000-8000-000000000000",
        ms >> 16,
        ms & 0xffff
    )
}
