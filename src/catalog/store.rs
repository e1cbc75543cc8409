//! Catalog rows and the queries over them, written once against [`DbConnection`] so they run
//! on both backends. No rules live here: callers decide who may do what.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::case_when;
use diesel::prelude::*;

use super::domain::{CourseSearch, SortOrder};
use crate::db::DbConnection;
use crate::db::schema::{course_tags, courses, entitlements, lessons, reviews, users};
use crate::pagination::Page;

/// The diesel backend behind [`DbConnection`], for boxed queries.
type Backend = <DbConnection as Connection>::Backend;

#[diesel::declare_sql_function]
extern "SQL" {
    /// SQL `lower()`, the same on both backends for ASCII text (used only for ranking; the
    /// filter itself matches the Rust-lower-cased `search_text`).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A search term as a `LIKE` pattern matching it anywhere, with `\`, `%` and `_` escaped so
/// they match themselves.
pub(crate) fn contains_pattern(term: &str) -> String {
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A row of `courses`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = courses)]
pub struct CourseRow {
    /// UUIDv7 text id.
    pub id: String,
    /// The owning instructor's user id.
    pub instructor_id: String,
    /// 1–200 characters.
    pub title: String,
    /// Free text, possibly empty.
    pub description: String,
    /// Category slug.
    pub category: String,
    /// http(s) URL of the cover image.
    pub cover_image_url: Option<String>,
    /// Price in minor units of `currency`; 0 means free.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// `beginner`, `intermediate`, `advanced` or `all_levels`.
    pub level: String,
    /// Language tag such as `en`.
    pub language: String,
    /// `draft`, `in_review`, `published` or `archived`.
    pub status: String,
    /// Why an admin sent it back to draft; cleared on the next submission.
    pub rejection_reason: Option<String>,
    /// Lower-cased title and description, what free-text search matches against.
    pub search_text: String,
    /// Number of reviews.
    pub rating_count: i64,
    /// Sum of review ratings, so the average is exact.
    pub rating_sum: i64,
    /// `rating_sum / rating_count`, 0 without reviews; stored for sorting.
    pub rating_avg: f64,
    /// Number of active entitlements.
    pub enrollment_count: i64,
    /// When it was first published.
    pub published_at: Option<NaiveDateTime>,
    /// When it was created.
    pub created_at: NaiveDateTime,
    /// When its content or status last changed.
    pub updated_at: NaiveDateTime,
}

/// The owner-editable part of a course; saved without touching status or aggregates, so an edit
/// never overwrites a concurrent enrolment count or rating.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = courses, treat_none_as_null = true)]
pub struct CourseContent {
    /// See [`CourseRow::title`].
    pub title: String,
    /// See [`CourseRow::description`].
    pub description: String,
    /// See [`CourseRow::category`].
    pub category: String,
    /// See [`CourseRow::cover_image_url`].
    pub cover_image_url: Option<String>,
    /// See [`CourseRow::price_minor`].
    pub price_minor: i64,
    /// See [`CourseRow::currency`].
    pub currency: String,
    /// See [`CourseRow::level`].
    pub level: String,
    /// See [`CourseRow::language`].
    pub language: String,
    /// See [`CourseRow::search_text`].
    pub search_text: String,
    /// See [`CourseRow::updated_at`].
    pub updated_at: NaiveDateTime,
}

/// A row of `lessons`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = lessons, treat_none_as_null = true)]
pub struct LessonRow {
    /// UUIDv7 text id.
    pub id: String,
    /// The course it belongs to.
    pub course_id: String,
    /// 0-based place in the course; dense.
    pub position: i32,
    /// 1–200 characters.
    pub title: String,
    /// Text content.
    pub body: Option<String>,
    /// http(s) URL of a video or other media.
    pub media_url: Option<String>,
    /// Length in seconds.
    pub duration_secs: i32,
    /// Readable by everyone, entitled or not.
    pub free_preview: bool,
    /// When it was added.
    pub created_at: NaiveDateTime,
    /// When it last changed.
    pub updated_at: NaiveDateTime,
}

/// A row of `reviews`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reviews)]
pub struct ReviewRow {
    /// UUIDv7 text id.
    pub id: String,
    /// Reviewed course.
    pub course_id: String,
    /// Reviewer.
    pub user_id: String,
    /// 1–5 stars.
    pub rating: i32,
    /// Optional text.
    pub body: Option<String>,
    /// When first written.
    pub created_at: NaiveDateTime,
    /// When last changed.
    pub updated_at: NaiveDateTime,
}

/// A course in a library with the entitlement's source and grant time.
pub type LibraryRow = (CourseRow, String, NaiveDateTime);

/// Inserts a course.
pub fn insert_course(conn: &mut DbConnection, row: &CourseRow) -> QueryResult<()> {
    diesel::insert_into(courses::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The course with this id, whatever its status.
pub fn find_course(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CourseRow>> {
    courses::table
        .find(id)
        .select(CourseRow::as_select())
        .first(conn)
        .optional()
}

/// The published courses among `ids`, in no particular order. The status is checked here,
/// not in SQL: with it in the query SQLite prefers the status index and reads every published
/// course instead of the few asked for by key.
pub fn published_among(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<CourseRow>> {
    let rows: Vec<CourseRow> = courses::table
        .filter(courses::id.eq_any(ids))
        .select(CourseRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.status == "published")
        .collect())
}

/// The lesson with this id, whatever its course.
pub fn find_lesson(conn: &mut DbConnection, id: &str) -> QueryResult<Option<LessonRow>> {
    lessons::table
        .find(id)
        .select(LessonRow::as_select())
        .first(conn)
        .optional()
}

/// The course `instructor_id` titled `title`, if any: the natural key the demo seed uses.
pub fn find_course_by_title(
    conn: &mut DbConnection,
    instructor_id: &str,
    title: &str,
) -> QueryResult<Option<CourseRow>> {
    courses::table
        .filter(courses::instructor_id.eq(instructor_id))
        .filter(courses::title.eq(title))
        .select(CourseRow::as_select())
        .first(conn)
        .optional()
}

/// Holds the course row's lock until the transaction ends, so concurrent recomputations of its
/// aggregates queue and each sees the others' committed rows. Take it before inserting rows
/// that reference the course. PostgreSQL needs `FOR NO KEY UPDATE` (which, unlike `FOR UPDATE`,
/// does not conflict with the key-share locks foreign-key checks take, so it cannot deadlock
/// with them); a SQLite write transaction already holds the whole database's write lock.
pub fn lock_course(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        courses::table
            .find(id)
            .select(courses::id)
            .for_no_key_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// Marks a course changed (lesson edits count as changes to the course).
pub fn touch_course(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(courses::table.find(id))
        .set(courses::updated_at.eq(at))
        .execute(conn)
        .map(|_| ())
}

/// Saves the editable content of a course.
pub fn update_content(
    conn: &mut DbConnection,
    id: &str,
    content: &CourseContent,
) -> QueryResult<()> {
    diesel::update(courses::table.find(id))
        .set(content)
        .execute(conn)
        .map(|_| ())
}

/// Moves a course from status `from` to `to` if, and only if, it is still in `from`; false
/// means another request changed it first.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: &str,
    to: &str,
    rejection_reason: Option<&str>,
    published_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(courses::table.find(id).filter(courses::status.eq(from)))
        .set((
            courses::status.eq(to),
            courses::rejection_reason.eq(rejection_reason),
            courses::published_at.eq(published_at),
            courses::updated_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Replaces a course's tags.
pub fn set_tags(conn: &mut DbConnection, course_id: &str, tags: &[String]) -> QueryResult<()> {
    diesel::delete(course_tags::table.filter(course_tags::course_id.eq(course_id)))
        .execute(conn)?;
    // One statement per tag: batch inserts do not compile through the multi-backend
    // connection, and a course has at most ten tags.
    for tag in tags {
        diesel::insert_into(course_tags::table)
            .values((
                course_tags::course_id.eq(course_id),
                course_tags::tag.eq(tag),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Tags of each course in `ids`, alphabetically.
pub fn tags_for(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<HashMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = course_tags::table
        .filter(course_tags::course_id.eq_any(ids))
        .order((course_tags::course_id, course_tags::tag))
        .load(conn)?;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (course, tag) in rows {
        map.entry(course).or_default().push(tag);
    }
    Ok(map)
}

/// Display names of the users in `ids`.
pub fn names_for(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::display_name))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Titles of the courses in `ids` (for lists that name what they are about, like orders).
pub fn titles_for(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = courses::table
        .filter(courses::id.eq_any(ids))
        .select((courses::id, courses::title))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Number of lessons of each course in `ids`.
pub fn lesson_counts(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = lessons::table
        .filter(lessons::course_id.eq_any(ids))
        .group_by(lessons::course_id)
        .select((lessons::course_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Published courses matching `search`, filtered and unordered; shared by the count and the
/// page so the total always describes the same set.
fn search_query(search: &CourseSearch) -> courses::BoxedQuery<'_, Backend> {
    let mut q = courses::table
        .filter(courses::status.eq("published"))
        .into_boxed();
    for term in &search.terms {
        q = q.filter(
            courses::search_text
                .like(contains_pattern(term))
                .escape('\\'),
        );
    }
    if let Some(tag) = &search.tag {
        q = q.filter(
            courses::id.eq_any(
                course_tags::table
                    .filter(course_tags::tag.eq(tag))
                    .select(course_tags::course_id),
            ),
        );
    }
    if let Some(category) = &search.category {
        q = q.filter(courses::category.eq(category));
    }
    if let Some(min) = search.min_price {
        q = q.filter(courses::price_minor.ge(min));
    }
    if let Some(max) = search.max_price {
        q = q.filter(courses::price_minor.le(max));
    }
    if search.free_only {
        q = q.filter(courses::price_minor.eq(0));
    }
    if let Some(instructor) = &search.instructor_id {
        q = q.filter(courses::instructor_id.eq(instructor));
    }
    q
}

/// One page of published courses matching `search`, and how many match in all.
pub fn search(
    conn: &mut DbConnection,
    search: &CourseSearch,
    page: Page,
) -> QueryResult<(Vec<CourseRow>, i64)> {
    let total: i64 = search_query(search).count().get_result(conn)?;
    let mut q = search_query(search);
    if search.sort == SortOrder::Relevance {
        for term in &search.terms {
            let in_title = lower(courses::title)
                .like(contains_pattern(term))
                .escape('\\');
            q = q.then_order_by(
                case_when::<_, _, diesel::sql_types::Integer>(in_title, 0).otherwise(1),
            );
        }
    }
    let q = match search.sort {
        SortOrder::Relevance => q.then_order_by(courses::published_at.desc()),
        SortOrder::Newest => q.order(courses::published_at.desc()),
        SortOrder::Rating => q
            .order(courses::rating_avg.desc())
            .then_order_by(courses::rating_count.desc()),
        SortOrder::Popularity => q.order(courses::enrollment_count.desc()),
        SortOrder::PriceAsc => q.order(courses::price_minor.asc()),
        SortOrder::PriceDesc => q.order(courses::price_minor.desc()),
    };
    let rows = q
        .then_order_by(courses::id.desc())
        .select(CourseRow::as_select())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((rows, total))
}

/// One page of courses (any status) selected by `filter`, newest first, with the total.
fn list_where(
    conn: &mut DbConnection,
    filter: impl Fn() -> courses::BoxedQuery<'static, Backend>,
    page: Page,
) -> QueryResult<(Vec<CourseRow>, i64)> {
    let total: i64 = filter().count().get_result(conn)?;
    let rows = filter()
        .order((courses::created_at.desc(), courses::id.desc()))
        .select(CourseRow::as_select())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((rows, total))
}

/// An instructor's own courses in every status.
pub fn list_by_instructor(
    conn: &mut DbConnection,
    instructor_id: &str,
    page: Page,
) -> QueryResult<(Vec<CourseRow>, i64)> {
    let id = instructor_id.to_owned();
    list_where(
        conn,
        || {
            courses::table
                .filter(courses::instructor_id.eq(id.clone()))
                .into_boxed()
        },
        page,
    )
}

/// Courses in one status, for the admin review queue.
pub fn list_by_status(
    conn: &mut DbConnection,
    status: &str,
    page: Page,
) -> QueryResult<(Vec<CourseRow>, i64)> {
    let status = status.to_owned();
    list_where(
        conn,
        || {
            courses::table
                .filter(courses::status.eq(status.clone()))
                .into_boxed()
        },
        page,
    )
}

/// Courses `user_id` holds an active entitlement to, most recently granted first, with the
/// grant's source and time.
pub fn library(
    conn: &mut DbConnection,
    user_id: &str,
    page: Page,
) -> QueryResult<(Vec<LibraryRow>, i64)> {
    let active = entitlements::table
        .filter(entitlements::user_id.eq(user_id))
        .filter(entitlements::revoked_at.is_null());
    let total: i64 = active.count().get_result(conn)?;
    let rows = active
        .inner_join(courses::table)
        .order((entitlements::granted_at.desc(), entitlements::id.desc()))
        .select((
            CourseRow::as_select(),
            entitlements::source,
            entitlements::granted_at,
        ))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((rows, total))
}

/// A course's lessons in order.
pub fn lessons_of(conn: &mut DbConnection, course_id: &str) -> QueryResult<Vec<LessonRow>> {
    lessons::table
        .filter(lessons::course_id.eq(course_id))
        .order((lessons::position.asc(), lessons::id.asc()))
        .select(LessonRow::as_select())
        .load(conn)
}

/// Inserts a lesson.
pub fn insert_lesson(conn: &mut DbConnection, row: &LessonRow) -> QueryResult<()> {
    diesel::insert_into(lessons::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Saves every field of a lesson.
pub fn update_lesson(conn: &mut DbConnection, row: &LessonRow) -> QueryResult<()> {
    diesel::update(lessons::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(|_| ())
}

/// Deletes a lesson.
pub fn delete_lesson(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::delete(lessons::table.find(id))
        .execute(conn)
        .map(|_| ())
}

/// Moves a lesson to `position`.
pub fn set_position(conn: &mut DbConnection, id: &str, position: i32) -> QueryResult<()> {
    diesel::update(lessons::table.find(id))
        .set(lessons::position.eq(position))
        .execute(conn)
        .map(|_| ())
}

/// `user_id`'s review of `course_id`.
pub fn find_review(
    conn: &mut DbConnection,
    course_id: &str,
    user_id: &str,
) -> QueryResult<Option<ReviewRow>> {
    reviews::table
        .filter(reviews::course_id.eq(course_id))
        .filter(reviews::user_id.eq(user_id))
        .select(ReviewRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts a review; a second one by the same user is a unique violation.
pub fn insert_review(conn: &mut DbConnection, row: &ReviewRow) -> QueryResult<()> {
    diesel::insert_into(reviews::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Changes a review's rating and text.
pub fn update_review(
    conn: &mut DbConnection,
    id: &str,
    rating: i32,
    body: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(reviews::table.find(id))
        .set((
            reviews::rating.eq(rating),
            reviews::body.eq(body),
            reviews::updated_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Deletes a review.
pub fn delete_review(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::delete(reviews::table.find(id))
        .execute(conn)
        .map(|_| ())
}

/// One page of a course's reviews, most recently changed first, with reviewer names and the
/// total.
pub fn list_reviews(
    conn: &mut DbConnection,
    course_id: &str,
    page: Page,
) -> QueryResult<(Vec<(ReviewRow, String)>, i64)> {
    let total: i64 = reviews::table
        .filter(reviews::course_id.eq(course_id))
        .count()
        .get_result(conn)?;
    let rows = reviews::table
        .inner_join(users::table)
        .filter(reviews::course_id.eq(course_id))
        .order((reviews::updated_at.desc(), reviews::id.desc()))
        .select((ReviewRow::as_select(), users::display_name))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((rows, total))
}

/// Recomputes a course's rating aggregates from its reviews. Called inside the transaction that
/// changed a review, so the aggregates are exact whatever else commits concurrently.
pub fn refresh_rating(conn: &mut DbConnection, course_id: &str) -> QueryResult<()> {
    let ratings: Vec<i32> = reviews::table
        .filter(reviews::course_id.eq(course_id))
        .select(reviews::rating)
        .load(conn)?;
    let count = i64::try_from(ratings.len()).unwrap_or(i64::MAX);
    let sum: i64 = ratings.iter().map(|r| i64::from(*r)).sum();
    let avg = if count == 0 {
        0.0
    } else {
        sum as f64 / count as f64
    };
    diesel::update(courses::table.find(course_id))
        .set((
            courses::rating_count.eq(count),
            courses::rating_sum.eq(sum),
            courses::rating_avg.eq(avg),
        ))
        .execute(conn)
        .map(|_| ())
}
