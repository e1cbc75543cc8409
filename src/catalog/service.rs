//! Catalog rules as plain functions over a connection: who may create, edit, submit, publish
//! and read what; enrolment; reviews with exact aggregates. Handlers call these inside
//! [`crate::db::Db::run`]; every function that writes runs in one
//! [`crate::db::write_transaction`], so a refused request changes nothing.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::domain::{
    Category, CourseSearch, CourseStatus, CourseTitle, Description, DurationSecs, Language,
    LessonBody, LessonTitle, Level, Rating, RejectionReason, ReviewText, Tags, Transition, WebUrl,
    problems,
};
use super::entitlements::{self, EntitlementRow, EntitlementSource, Grant};
use super::events::{self, EventKind};
use super::store::{self, CourseContent, CourseRow, LessonRow, ReviewRow};
use crate::accounts::{AuthUser, Role};
use crate::db::{self, DbConnection, DbError};
use crate::error::ApiError;
use crate::money::{Currency, Money};
use crate::pagination::Page;

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Input broke a rule; the message lists every broken rule.
    #[error("{0}")]
    Invalid(String),
    /// No such thing, or one the caller may not know about.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The course is not in a state that allows this; nothing changed.
    #[error("{0}")]
    Conflict(String),
    /// The course costs money: access comes from an order, not free enrolment.
    #[error("this course costs {0}; create an order to buy it")]
    PaymentRequired(String),
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for CatalogError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid(m) => ApiError::Validation(m),
            CatalogError::NotFound(what) => ApiError::not_found(what),
            CatalogError::Forbidden(m) => ApiError::Forbidden(m),
            CatalogError::Conflict(m) => ApiError::Conflict(m),
            CatalogError::PaymentRequired(_) => ApiError::PaymentRequired(e.to_string()),
            CatalogError::Db(e) => e.into(),
        }
    }
}

/// Turns a list of optional problems into an `Invalid` error.
fn check(results: &[Option<String>]) -> Result<(), CatalogError> {
    problems(results).map_or(Ok(()), |m| Err(CatalogError::Invalid(m)))
}

/// A price: non-negative minor units of a currency.
fn parse_price(minor: i64, currency: &str) -> Result<Money, String> {
    let currency = Currency::parse(currency)?;
    Money::new(minor, currency).map_err(|e| format!("price: {e}"))
}

/// Validated content of a course, from a create or a full set of edits.
#[derive(Debug, Clone)]
pub struct CourseDraft {
    /// Title.
    pub title: CourseTitle,
    /// Description.
    pub description: Description,
    /// Category.
    pub category: Category,
    /// Tags.
    pub tags: Tags,
    /// Cover image.
    pub cover_image_url: Option<WebUrl>,
    /// Price.
    pub price: Money,
    /// Level.
    pub level: Level,
    /// Language.
    pub language: Language,
}

/// Raw course fields as a client sends them; `None` means "not given" (on create: use the
/// default where there is one).
#[derive(Debug, Clone, Default)]
pub struct CourseInput {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Cover image: `Some(None)` clears it.
    pub cover_image_url: Option<Option<String>>,
    /// Price in minor units.
    pub price_minor: Option<i64>,
    /// Price currency.
    pub currency: Option<String>,
    /// Level.
    pub level: Option<String>,
    /// Language.
    pub language: Option<String>,
}

impl CourseDraft {
    /// Parses a new course; title, category and price are required, the rest defaults
    /// (empty description, no tags, `all_levels`, `en`).
    pub fn parse_new(input: &CourseInput) -> Result<Self, CatalogError> {
        let missing = |present: bool, name: &str| (!present).then(|| format!("{name} is required"));
        check(&[
            missing(input.title.is_some(), "title"),
            missing(input.category.is_some(), "category"),
            missing(
                input.price_minor.is_some() && input.currency.is_some(),
                "price",
            ),
        ])?;
        Self::merge(input, &Defaults::new_course())
    }

    /// Applies `input` over the current state of a course and validates the result.
    pub fn parse_edit(
        input: &CourseInput,
        current: &CourseRow,
        tags: Vec<String>,
    ) -> Result<Self, CatalogError> {
        Self::merge(input, &Defaults::from_row(current, tags))
    }

    fn merge(input: &CourseInput, d: &Defaults) -> Result<Self, CatalogError> {
        let pick =
            |v: &Option<String>, fallback: &str| v.clone().unwrap_or_else(|| fallback.into());
        let title = CourseTitle::parse(&pick(&input.title, &d.title));
        let description = Description::parse(&pick(&input.description, &d.description));
        let category = Category::parse(&pick(&input.category, &d.category));
        let tags = Tags::parse(input.tags.as_deref().unwrap_or(&d.tags));
        let cover = input
            .cover_image_url
            .clone()
            .unwrap_or_else(|| d.cover.clone())
            .map(|u| WebUrl::parse(&u))
            .transpose();
        let price = parse_price(
            input.price_minor.unwrap_or(d.price_minor),
            &pick(&input.currency, &d.currency),
        );
        let level = pick(&input.level, &d.level).parse::<Level>();
        let language = Language::parse(&pick(&input.language, &d.language));
        match (
            title,
            description,
            category,
            tags,
            cover,
            price,
            level,
            language,
        ) {
            (
                Ok(title),
                Ok(description),
                Ok(category),
                Ok(tags),
                Ok(cover_image_url),
                Ok(price),
                Ok(level),
                Ok(language),
            ) => Ok(Self {
                title,
                description,
                category,
                tags,
                cover_image_url,
                price,
                level,
                language,
            }),
            (a, b, c, d, e, f, g, h) => Err(CatalogError::Invalid(
                problems(&[
                    a.err(),
                    b.err(),
                    c.err(),
                    d.err(),
                    e.err(),
                    f.err(),
                    g.err(),
                    h.err(),
                ])
                .unwrap_or_default(),
            )),
        }
    }

    /// The columns this draft sets.
    fn content(&self, at: NaiveDateTime) -> CourseContent {
        CourseContent {
            title: self.title.as_ref().to_owned(),
            description: self.description.as_ref().to_owned(),
            category: self.category.as_ref().to_owned(),
            cover_image_url: self.cover_image_url.as_ref().map(|u| u.as_ref().to_owned()),
            price_minor: self.price.minor(),
            currency: self.price.currency().to_string(),
            level: self.level.as_str().to_owned(),
            language: self.language.as_ref().to_owned(),
            search_text: format!("{}\n{}", self.title.as_ref(), self.description.as_ref())
                .to_lowercase(),
            updated_at: at,
        }
    }
}

/// Values used for fields a request leaves out.
struct Defaults {
    title: String,
    description: String,
    category: String,
    tags: Vec<String>,
    cover: Option<String>,
    price_minor: i64,
    currency: String,
    level: String,
    language: String,
}

impl Defaults {
    fn new_course() -> Self {
        Self {
            title: String::new(),
            description: String::new(),
            category: String::new(),
            tags: Vec::new(),
            cover: None,
            price_minor: 0,
            currency: String::new(),
            level: Level::AllLevels.as_str().into(),
            language: "en".into(),
        }
    }

    fn from_row(row: &CourseRow, tags: Vec<String>) -> Self {
        Self {
            title: row.title.clone(),
            description: row.description.clone(),
            category: row.category.clone(),
            tags,
            cover: row.cover_image_url.clone(),
            price_minor: row.price_minor,
            currency: row.currency.clone(),
            level: row.level.clone(),
            language: row.language.clone(),
        }
    }
}

/// A course with what every view of it shows beside the row.
#[derive(Debug, Clone)]
pub struct CourseCard {
    /// The row.
    pub course: CourseRow,
    /// Its tags, alphabetically.
    pub tags: Vec<String>,
    /// The instructor's display name.
    pub instructor_name: String,
    /// Number of lessons.
    pub lesson_count: i64,
}

/// Attaches tags, instructor names and lesson counts to rows, in three queries however many.
fn cards(conn: &mut DbConnection, rows: Vec<CourseRow>) -> Result<Vec<CourseCard>, CatalogError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let instructors: Vec<&str> = rows.iter().map(|r| r.instructor_id.as_str()).collect();
    let mut tags = store::tags_for(conn, &ids)?;
    let names = store::names_for(conn, &instructors)?;
    let counts = store::lesson_counts(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|course| CourseCard {
            tags: tags.remove(&course.id).unwrap_or_default(),
            instructor_name: names
                .get(&course.instructor_id)
                .cloned()
                .unwrap_or_default(),
            lesson_count: counts.get(&course.id).copied().unwrap_or(0),
            course,
        })
        .collect())
}

/// The card of one course.
fn card(conn: &mut DbConnection, row: CourseRow) -> Result<CourseCard, CatalogError> {
    cards(conn, vec![row])?
        .pop()
        .ok_or(CatalogError::NotFound("course"))
}

/// The stored status of a row.
fn status_of(row: &CourseRow) -> Result<CourseStatus, CatalogError> {
    row.status.parse().map_err(|e: String| {
        CatalogError::Db(DbError::Query(diesel::result::Error::DeserializationError(
            e.into(),
        )))
    })
}

/// True when `user` owns the course or is an admin.
fn may_manage(course: &CourseRow, user: &AuthUser) -> bool {
    user.role == Role::Admin || course.instructor_id == user.id
}

/// Loads a course its caller wants to change: 404 when unknown, 403 unless owner or admin.
/// Takes the course lock first, so concurrent edits of one course (lesson positions, status)
/// queue instead of interleaving.
fn load_managed(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
) -> Result<CourseRow, CatalogError> {
    store::lock_course(conn, course_id)?;
    let course = store::find_course(conn, course_id)?.ok_or(CatalogError::NotFound("course"))?;
    if !may_manage(&course, user) {
        return Err(CatalogError::Forbidden(
            "only the course's instructor or an admin may change it".into(),
        ));
    }
    Ok(course)
}

/// Like [`load_managed`], and refuses archived courses, whose content is frozen.
fn load_editable(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
) -> Result<CourseRow, CatalogError> {
    let course = load_managed(conn, user, course_id)?;
    if !status_of(&course)?.is_editable() {
        return Err(CatalogError::Conflict(
            "archived courses cannot be changed".into(),
        ));
    }
    Ok(course)
}

/// Creates a draft course owned by `user` (an instructor or admin).
pub fn create_course(
    conn: &mut DbConnection,
    user: &AuthUser,
    draft: &CourseDraft,
) -> Result<CourseCard, CatalogError> {
    if !matches!(user.role, Role::Instructor | Role::Admin) {
        return Err(CatalogError::Forbidden(
            "only instructors and admins may create courses".into(),
        ));
    }
    db::write_transaction(conn, |conn| {
        let id = uuid::Uuid::now_v7().to_string();
        let row = write_new_course(conn, id, &user.id, draft, None, db::now())?;
        card(conn, row)
    })
}

/// Writes a new course and its tags, checking no rules and opening no transaction: a draft, or
/// (`published_at` given) a course published as of then, for an import of a catalog that was
/// reviewed on the platform it comes from.
pub(super) fn write_new_course(
    conn: &mut DbConnection,
    id: String,
    instructor_id: &str,
    draft: &CourseDraft,
    published_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> Result<CourseRow, CatalogError> {
    let c = draft.content(at);
    let status = match published_at {
        Some(_) => CourseStatus::Published,
        None => CourseStatus::Draft,
    };
    let row = CourseRow {
        id,
        instructor_id: instructor_id.to_owned(),
        title: c.title,
        description: c.description,
        category: c.category,
        cover_image_url: c.cover_image_url,
        price_minor: c.price_minor,
        currency: c.currency,
        level: c.level,
        language: c.language,
        status: status.as_str().into(),
        rejection_reason: None,
        search_text: c.search_text,
        rating_count: 0,
        rating_sum: 0,
        rating_avg: 0.0,
        enrollment_count: 0,
        published_at,
        created_at: at,
        updated_at: at,
    };
    store::insert_course(conn, &row)?;
    store::set_tags(conn, &row.id, draft.tags.as_slice())?;
    Ok(row)
}

/// Applies edits to a course. A published course stays published while its owner edits it.
pub fn update_course(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    input: &CourseInput,
) -> Result<CourseCard, CatalogError> {
    db::write_transaction(conn, |conn| {
        let current = load_editable(conn, user, course_id)?;
        let tags = store::tags_for(conn, &[course_id])?
            .remove(course_id)
            .unwrap_or_default();
        let draft = CourseDraft::parse_edit(input, &current, tags)?;
        store::update_content(conn, course_id, &draft.content(db::now()))?;
        if input.tags.is_some() {
            store::set_tags(conn, course_id, draft.tags.as_slice())?;
        }
        let row = store::find_course(conn, course_id)?.ok_or(CatalogError::NotFound("course"))?;
        card(conn, row)
    })
}

/// Moves a course along its life. Submit is for the owner (and needs a lesson); approve and
/// reject are for admins (reject needs a reason, shown to the owner); archive is for the owner
/// or an admin. Illegal transitions are a conflict and change nothing.
pub fn transition(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    action: Transition,
    reason: Option<&RejectionReason>,
) -> Result<CourseCard, CatalogError> {
    db::write_transaction(conn, |conn| {
        let course = load_managed(conn, user, course_id)?;
        let admin_only = matches!(action, Transition::Approve | Transition::Reject);
        if admin_only && user.role != Role::Admin {
            return Err(CatalogError::Forbidden(format!(
                "only admins may {} courses",
                action.as_str()
            )));
        }
        let from = status_of(&course)?;
        let to = from.apply(action).ok_or_else(|| {
            CatalogError::Conflict(format!(
                "cannot {} a course that is {from}",
                action.as_str()
            ))
        })?;
        if action == Transition::Submit && store::lessons_of(conn, course_id)?.is_empty() {
            return Err(CatalogError::Conflict(
                "add at least one lesson before submitting for review".into(),
            ));
        }
        let reason = match (action, reason) {
            (Transition::Reject, Some(r)) => Some(r.as_ref()),
            (Transition::Reject, None) => {
                return Err(CatalogError::Invalid("reason is required".into()));
            }
            _ => None,
        };
        let now = db::now();
        let published_at = match to {
            CourseStatus::Published => Some(course.published_at.unwrap_or(now)),
            _ => course.published_at,
        };
        if !store::set_status(
            conn,
            course_id,
            from.as_str(),
            to.as_str(),
            reason,
            published_at,
            now,
        )? {
            return Err(CatalogError::Conflict(
                "the course changed meanwhile; reload and retry".into(),
            ));
        }
        let row = store::find_course(conn, course_id)?.ok_or(CatalogError::NotFound("course"))?;
        card(conn, row)
    })
}

/// Raw lesson fields; on edit `None` keeps the current value, and `Some(None)` clears a
/// nullable one.
#[derive(Debug, Clone, Default)]
pub struct LessonInput {
    /// Title.
    pub title: Option<String>,
    /// Text content.
    pub body: Option<Option<String>>,
    /// Media URL.
    pub media_url: Option<Option<String>>,
    /// Length in seconds.
    pub duration_secs: Option<i64>,
    /// Readable without an entitlement.
    pub free_preview: Option<bool>,
}

/// Applies `input` over `base` and checks the result: a title, and a body or a media URL.
fn merge_lesson(input: &LessonInput, mut base: LessonRow) -> Result<LessonRow, CatalogError> {
    let title = LessonTitle::parse(input.title.as_deref().unwrap_or(&base.title));
    let body = input
        .body
        .clone()
        .unwrap_or(base.body.clone())
        .map(|b| LessonBody::parse(&b))
        .transpose();
    let media = input
        .media_url
        .clone()
        .unwrap_or(base.media_url.clone())
        .map(|u| WebUrl::parse(&u))
        .transpose();
    let duration = DurationSecs::parse(input.duration_secs.unwrap_or(base.duration_secs.into()));
    let empty = match (&body, &media) {
        (Ok(None), Ok(None)) => Some("a lesson needs a body or a media_url".to_owned()),
        _ => None,
    };
    check(&[
        title.as_ref().err().cloned(),
        body.as_ref().err().cloned(),
        media.as_ref().err().cloned(),
        duration.as_ref().err().cloned(),
        empty,
    ])?;
    if let (Ok(t), Ok(b), Ok(m), Ok(d)) = (title, body, media, duration) {
        base.title = t.as_ref().to_owned();
        base.body = b.map(|b| b.as_ref().to_owned());
        base.media_url = m.map(|m| m.as_ref().to_owned());
        base.duration_secs = d.value();
    }
    base.free_preview = input.free_preview.unwrap_or(base.free_preview);
    Ok(base)
}

/// Appends a lesson to a course the caller manages.
pub fn add_lesson(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    input: &LessonInput,
) -> Result<LessonRow, CatalogError> {
    if input.title.is_none() {
        return Err(CatalogError::Invalid("title is required".into()));
    }
    db::write_transaction(conn, |conn| {
        load_editable(conn, user, course_id)?;
        let position = store::lessons_of(conn, course_id)?.len();
        let now = db::now();
        let base = LessonRow {
            id: uuid::Uuid::now_v7().to_string(),
            course_id: course_id.to_owned(),
            position: i32::try_from(position)
                .map_err(|_| CatalogError::Conflict("too many lessons".into()))?,
            title: String::new(),
            body: None,
            media_url: None,
            duration_secs: 0,
            free_preview: false,
            created_at: now,
            updated_at: now,
        };
        let row = merge_lesson(input, base)?;
        store::insert_lesson(conn, &row)?;
        store::touch_course(conn, course_id, now)?;
        Ok(row)
    })
}

/// Finds a lesson of a course, 404 when it belongs elsewhere.
fn lesson_in(
    lessons: Vec<LessonRow>,
    lesson_id: &str,
) -> Result<(LessonRow, Vec<LessonRow>), CatalogError> {
    let (mut found, rest): (Vec<_>, Vec<_>) = lessons.into_iter().partition(|l| l.id == lesson_id);
    found
        .pop()
        .map(|l| (l, rest))
        .ok_or(CatalogError::NotFound("lesson"))
}

/// Edits a lesson of a course the caller manages.
pub fn update_lesson(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    lesson_id: &str,
    input: &LessonInput,
) -> Result<LessonRow, CatalogError> {
    db::write_transaction(conn, |conn| {
        load_editable(conn, user, course_id)?;
        let (lesson, _) = lesson_in(store::lessons_of(conn, course_id)?, lesson_id)?;
        let now = db::now();
        let mut row = merge_lesson(input, lesson)?;
        row.updated_at = now;
        store::update_lesson(conn, &row)?;
        store::touch_course(conn, course_id, now)?;
        Ok(row)
    })
}

/// Deletes a lesson and closes the gap in positions. A course under review or published keeps
/// at least one lesson.
pub fn delete_lesson(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    lesson_id: &str,
) -> Result<(), CatalogError> {
    db::write_transaction(conn, |conn| {
        let course = load_editable(conn, user, course_id)?;
        let (lesson, rest) = lesson_in(store::lessons_of(conn, course_id)?, lesson_id)?;
        if rest.is_empty() && status_of(&course)? != CourseStatus::Draft {
            return Err(CatalogError::Conflict(
                "a course that is in review or published keeps at least one lesson".into(),
            ));
        }
        store::delete_lesson(conn, &lesson.id)?;
        renumber(
            conn,
            &rest.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        )?;
        Ok(store::touch_course(conn, course_id, db::now())?)
    })
}

/// Gives the lessons `ids` the positions 0, 1, 2… in that order.
fn renumber(conn: &mut DbConnection, ids: &[&str]) -> Result<(), CatalogError> {
    for (i, id) in ids.iter().enumerate() {
        let position =
            i32::try_from(i).map_err(|_| CatalogError::Conflict("too many lessons".into()))?;
        store::set_position(conn, id, position)?;
    }
    Ok(())
}

/// Puts a course's lessons in the given order; `lesson_ids` must name each lesson exactly once.
pub fn reorder_lessons(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    lesson_ids: &[String],
) -> Result<Vec<LessonRow>, CatalogError> {
    db::write_transaction(conn, |conn| {
        load_editable(conn, user, course_id)?;
        let current = store::lessons_of(conn, course_id)?;
        let mut given: Vec<&str> = lesson_ids.iter().map(String::as_str).collect();
        let mut existing: Vec<&str> = current.iter().map(|l| l.id.as_str()).collect();
        given.sort_unstable();
        existing.sort_unstable();
        if given != existing {
            return Err(CatalogError::Invalid(
                "lesson_ids must list every lesson of the course exactly once".into(),
            ));
        }
        let order: Vec<&str> = lesson_ids.iter().map(String::as_str).collect();
        renumber(conn, &order)?;
        store::touch_course(conn, course_id, db::now())?;
        Ok(store::lessons_of(conn, course_id)?)
    })
}

/// A lesson as one viewer may see it.
#[derive(Debug, Clone)]
pub struct VisibleLesson {
    /// The row, with `body` and `media_url` removed when locked.
    pub lesson: LessonRow,
    /// True when the content was withheld: the viewer needs an entitlement.
    pub locked: bool,
}

/// Hides a lesson's content unless the viewer has full access or it is a free preview.
pub fn redact(mut lesson: LessonRow, full_access: bool) -> VisibleLesson {
    let locked = !full_access && !lesson.free_preview;
    if locked {
        lesson.body = None;
        lesson.media_url = None;
    }
    VisibleLesson { lesson, locked }
}

/// A course's detail page, as one viewer may see it.
#[derive(Debug, Clone)]
pub struct CourseDetail {
    /// The course and its card data.
    pub card: CourseCard,
    /// Lessons in order, content withheld where the viewer has no access.
    pub lessons: Vec<VisibleLesson>,
    /// The viewer holds an active entitlement.
    pub entitled: bool,
    /// The viewer owns the course or is an admin (sees drafts and the rejection reason).
    pub can_manage: bool,
}

/// Who may see a course at all: everyone when published; the owner and admins always; holders
/// of an entitlement when archived. Everyone else gets 404, so drafts do not leak.
fn is_visible(status: CourseStatus, can_manage: bool, entitled: bool) -> bool {
    match status {
        CourseStatus::Published => true,
        CourseStatus::Archived => can_manage || entitled,
        CourseStatus::Draft | CourseStatus::InReview => can_manage,
    }
}

/// Loads a course for `viewer`, 404 when they may not see it; returns the row, whether they are
/// entitled and whether they manage it.
fn load_visible(
    conn: &mut DbConnection,
    viewer: Option<&AuthUser>,
    course_id: &str,
) -> Result<(CourseRow, bool, bool), CatalogError> {
    let course = store::find_course(conn, course_id)?.ok_or(CatalogError::NotFound("course"))?;
    let can_manage = viewer.is_some_and(|u| may_manage(&course, u));
    let entitled = match viewer {
        Some(u) => entitlements::has_active(conn, &u.id, course_id)?,
        None => false,
    };
    if !is_visible(status_of(&course)?, can_manage, entitled) {
        return Err(CatalogError::NotFound("course"));
    }
    Ok((course, entitled, can_manage))
}

/// What a viewer may do with a course they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Holds an active entitlement.
    pub entitled: bool,
    /// Teaches it.
    pub teaches: bool,
    /// Teaches it or is an admin.
    pub manages: bool,
}

/// The viewer's access to a course, or "not found" when they may not see it at all (the same
/// answer `GET /courses/{id}` gives, so other features cannot leak drafts).
pub fn access(
    conn: &mut DbConnection,
    viewer: Option<&AuthUser>,
    course_id: &str,
) -> Result<Access, CatalogError> {
    let (course, entitled, manages) = load_visible(conn, viewer, course_id)?;
    Ok(Access {
        entitled,
        teaches: viewer.is_some_and(|u| u.id == course.instructor_id),
        manages,
    })
}

/// Cards of the published courses among `ids`, in the order of `ids`; others are left out.
/// For lists computed elsewhere (recommendations) that must never show a draft or an archived
/// course, whatever their source believed.
pub fn published_cards(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<CourseCard>, CatalogError> {
    let rows = store::published_among(conn, ids)?;
    let mut by_id: HashMap<String, CourseCard> = cards(conn, rows)?
        .into_iter()
        .map(|c| (c.course.id.clone(), c))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The detail of a course for `viewer`. A signed-in viewer's visit is recorded as a
/// `course_view` event, best effort: a failure to record is logged, not returned.
pub fn course_detail(
    conn: &mut DbConnection,
    viewer: Option<&AuthUser>,
    course_id: &str,
) -> Result<CourseDetail, CatalogError> {
    let (course, entitled, can_manage) = load_visible(conn, viewer, course_id)?;
    let full = entitled || can_manage;
    let lessons = store::lessons_of(conn, course_id)?
        .into_iter()
        .map(|l| redact(l, full))
        .collect();
    if let Some(u) = viewer.filter(|u| u.id != course.instructor_id)
        && let Err(e) = events::record(
            conn,
            &u.id,
            course_id,
            EventKind::CourseView,
            EventKind::CourseView.default_weight(),
        )
    {
        tracing::warn!(error = %e, "could not record a course view");
    }
    Ok(CourseDetail {
        card: card(conn, course)?,
        lessons,
        entitled,
        can_manage,
    })
}

/// A page of items and the total number of items.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    /// This page.
    pub items: Vec<T>,
    /// Items across all pages.
    pub total: i64,
}

/// Published courses matching `search`.
pub fn browse(
    conn: &mut DbConnection,
    search: &CourseSearch,
    page: Page,
) -> Result<Listing<CourseCard>, CatalogError> {
    let (rows, total) = store::search(conn, search, page)?;
    Ok(Listing {
        items: cards(conn, rows)?,
        total,
    })
}

/// Every course `user` teaches, in all statuses.
pub fn teaching(
    conn: &mut DbConnection,
    user: &AuthUser,
    page: Page,
) -> Result<Listing<CourseCard>, CatalogError> {
    let (rows, total) = store::list_by_instructor(conn, &user.id, page)?;
    Ok(Listing {
        items: cards(conn, rows)?,
        total,
    })
}

/// Courses in `status`, for admins (the review queue is `in_review`).
pub fn by_status(
    conn: &mut DbConnection,
    user: &AuthUser,
    status: CourseStatus,
    page: Page,
) -> Result<Listing<CourseCard>, CatalogError> {
    if user.role != Role::Admin {
        return Err(CatalogError::Forbidden("this needs the admin role".into()));
    }
    let (rows, total) = store::list_by_status(conn, status.as_str(), page)?;
    Ok(Listing {
        items: cards(conn, rows)?,
        total,
    })
}

/// A course in a learner's library with how they got it.
#[derive(Debug, Clone)]
pub struct LibraryEntry {
    /// The course.
    pub card: CourseCard,
    /// `enroll`, `order` or `admin`.
    pub source: String,
    /// When access started.
    pub granted_at: NaiveDateTime,
}

/// The courses `user` may read because they hold an active entitlement.
pub fn library(
    conn: &mut DbConnection,
    user: &AuthUser,
    page: Page,
) -> Result<Listing<LibraryEntry>, CatalogError> {
    let (rows, total) = store::library(conn, &user.id, page)?;
    let mut grants: HashMap<String, (String, NaiveDateTime)> = HashMap::new();
    let mut courses = Vec::with_capacity(rows.len());
    for (course, source, at) in rows {
        grants.insert(course.id.clone(), (source, at));
        courses.push(course);
    }
    let items = cards(conn, courses)?
        .into_iter()
        .filter_map(|card| {
            grants
                .remove(&card.course.id)
                .map(|(source, granted_at)| LibraryEntry {
                    card,
                    source,
                    granted_at,
                })
        })
        .collect();
    Ok(Listing { items, total })
}

/// Enrols `user` in a free published course. Enrolling again is harmless: the existing
/// entitlement comes back with `false`. Paid courses need an order.
pub fn enroll(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
) -> Result<(EntitlementRow, bool), CatalogError> {
    db::write_transaction(conn, |conn| {
        let course =
            store::find_course(conn, course_id)?.ok_or(CatalogError::NotFound("course"))?;
        check_free_enrolment(&course)?;
        let grant = Grant {
            user_id: &user.id,
            course_id,
            order_id: None,
            granted_at: db::now(),
        };
        let newly = enroll_all(conn, &[grant])? == [true];
        let row = entitlements::active(conn, &user.id, course_id)?
            .ok_or(CatalogError::NotFound("entitlement"))?;
        Ok((row, newly))
    })
}

/// Refuses a course that takes no free enrolment: one learners cannot see (draft, in review),
/// an archived one, or one that costs money.
pub(super) fn check_free_enrolment(course: &CourseRow) -> Result<(), CatalogError> {
    match status_of(course)? {
        CourseStatus::Published => {}
        CourseStatus::Archived => {
            return Err(CatalogError::Conflict(
                "this course is archived and takes no new enrolments".into(),
            ));
        }
        CourseStatus::Draft | CourseStatus::InReview => {
            return Err(CatalogError::NotFound("course"));
        }
    }
    if course.price_minor > 0 {
        return Err(CatalogError::PaymentRequired(format!(
            "{} {}",
            course.price_minor, course.currency
        )));
    }
    Ok(())
}

/// What free enrolments write: the entitlements and, for each that is new, the `enroll`
/// behaviour event with its default weight, dated like the grant (now, or when an imported
/// enrolment happened). Checks no rules ([`check_free_enrolment`] does) and opens no
/// transaction, so an import writes thousands in one. Says, in order, which were new.
pub(super) fn enroll_all(
    conn: &mut DbConnection,
    grants: &[Grant<'_>],
) -> Result<Vec<bool>, diesel::result::Error> {
    let newly = entitlements::grant_all(conn, EntitlementSource::Enroll, grants)?;
    let kind = EventKind::Enroll;
    for (g, _) in grants.iter().zip(&newly).filter(|(_, new)| **new) {
        let (user, course) = (g.user_id, g.course_id);
        events::record_at(
            conn,
            user,
            course,
            kind,
            kind.default_weight(),
            g.granted_at,
        )?;
    }
    Ok(newly)
}

/// A review with its author's name.
#[derive(Debug, Clone)]
pub struct ReviewEntry {
    /// The review.
    pub review: ReviewRow,
    /// The reviewer's display name.
    pub author_name: String,
}

/// Writes or replaces `user`'s review of a course they are entitled to (the instructor cannot
/// review their own course). Aggregates are recomputed in the same transaction; returns the
/// review and whether it was new. A `review` event is recorded with the rating as signal
/// (1 star −1.0 … 5 stars +1.0).
pub fn put_review(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
    rating: Rating,
    text: Option<&ReviewText>,
) -> Result<(ReviewEntry, bool), CatalogError> {
    db::write_transaction(conn, |conn| {
        store::lock_course(conn, course_id)?;
        let (course, entitled, _) = load_visible(conn, Some(user), course_id)?;
        if course.instructor_id == user.id {
            return Err(CatalogError::Forbidden(
                "instructors cannot review their own course".into(),
            ));
        }
        if !entitled {
            return Err(CatalogError::Forbidden(
                "only learners enrolled in this course may review it".into(),
            ));
        }
        let now = db::now();
        let body = text.map(|t| t.as_ref());
        let (review, created) = match store::find_review(conn, course_id, &user.id)? {
            Some(existing) => {
                store::update_review(conn, &existing.id, rating.value(), body, now)?;
                let updated = ReviewRow {
                    rating: rating.value(),
                    body: body.map(str::to_owned),
                    updated_at: now,
                    ..existing
                };
                (updated, false)
            }
            None => {
                let row = ReviewRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    course_id: course_id.to_owned(),
                    user_id: user.id.clone(),
                    rating: rating.value(),
                    body: body.map(str::to_owned),
                    created_at: now,
                    updated_at: now,
                };
                match store::insert_review(conn, &row) {
                    Ok(()) => (row, true),
                    Err(e) if db::is_unique_violation(&e) => {
                        return Err(CatalogError::Conflict(
                            "another request wrote this review at the same time; retry".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        store::refresh_rating(conn, course_id)?;
        let weight = f64::from(rating.value() - 3) / 2.0;
        events::record(conn, &user.id, course_id, EventKind::Review, weight)?;
        let author_name = store::names_for(conn, &[user.id.as_str()])?
            .remove(&user.id)
            .unwrap_or_default();
        Ok((
            ReviewEntry {
                review,
                author_name,
            },
            created,
        ))
    })
}

/// Deletes `user`'s review of a course and recomputes its aggregates.
pub fn delete_review(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
) -> Result<(), CatalogError> {
    db::write_transaction(conn, |conn| {
        store::lock_course(conn, course_id)?;
        let review = store::find_review(conn, course_id, &user.id)?
            .ok_or(CatalogError::NotFound("review"))?;
        store::delete_review(conn, &review.id)?;
        store::refresh_rating(conn, course_id)?;
        Ok(())
    })
}

/// Takes back the review of a learner who no longer owns the course (a full refund), so the
/// rating only counts people who kept what they rated. Runs inside the caller's transaction;
/// true when there was a review.
pub fn withdraw_review(
    conn: &mut DbConnection,
    course_id: &str,
    user_id: &str,
) -> diesel::QueryResult<bool> {
    store::lock_course(conn, course_id)?;
    let Some(review) = store::find_review(conn, course_id, user_id)? else {
        return Ok(false);
    };
    store::delete_review(conn, &review.id)?;
    store::refresh_rating(conn, course_id)?;
    Ok(true)
}

/// A page of a visible course's reviews.
pub fn reviews(
    conn: &mut DbConnection,
    viewer: Option<&AuthUser>,
    course_id: &str,
    page: Page,
) -> Result<Listing<ReviewEntry>, CatalogError> {
    load_visible(conn, viewer, course_id)?;
    let (rows, total) = store::list_reviews(conn, course_id, page)?;
    Ok(Listing {
        items: rows
            .into_iter()
            .map(|(review, author_name)| ReviewEntry {
                review,
                author_name,
            })
            .collect(),
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(free_preview: bool) -> LessonRow {
        let now = db::now();
        LessonRow {
            id: "l".into(),
            course_id: "c".into(),
            position: 0,
            title: "Intro".into(),
            body: Some("secret".into()),
            media_url: Some("https://v.example.org/1".into()),
            duration_secs: 60,
            free_preview,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn lesson_content_is_hidden_without_access_unless_free_preview() {
        let locked = redact(lesson(false), false);
        assert!(locked.locked && locked.lesson.body.is_none() && locked.lesson.media_url.is_none());
        assert_eq!(locked.lesson.title, "Intro");
        assert!(!redact(lesson(true), false).locked);
        assert_eq!(
            redact(lesson(false), true).lesson.body.as_deref(),
            Some("secret")
        );
    }

    #[test]
    fn visibility_rules() {
        use CourseStatus::*;
        assert!(is_visible(Published, false, false));
        assert!(!is_visible(Draft, false, true));
        assert!(!is_visible(InReview, false, false));
        assert!(is_visible(Draft, true, false));
        assert!(is_visible(Archived, false, true));
        assert!(!is_visible(Archived, false, false));
    }

    #[test]
    fn new_courses_need_title_category_and_price() {
        let err = CourseDraft::parse_new(&CourseInput::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("title") && msg.contains("category") && msg.contains("price"));
        let ok = CourseDraft::parse_new(&CourseInput {
            title: Some(" Rust ".into()),
            category: Some("Programming".into()),
            price_minor: Some(0),
            currency: Some("eur".into()),
            tags: Some(vec!["Rust".into(), "rust".into()]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.title.as_ref(), "Rust");
        assert_eq!(ok.level, Level::AllLevels);
        assert_eq!(ok.tags.as_slice(), ["rust"]);
        assert_eq!(ok.price.currency().as_str(), "EUR");
        let bad = CourseDraft::parse_new(&CourseInput {
            title: Some("x".into()),
            category: Some("c".into()),
            price_minor: Some(-5),
            currency: Some("EUR".into()),
            cover_image_url: Some(Some("javascript:alert(1)".into())),
            level: Some("expert".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("negative") && bad.contains("URL") && bad.contains("level"),
            "{bad}"
        );
    }

    #[test]
    fn lessons_need_a_body_or_media() {
        let mut base = lesson(false);
        base.body = None;
        base.media_url = None;
        let input = LessonInput {
            title: Some("T".into()),
            ..Default::default()
        };
        assert!(merge_lesson(&input, base.clone()).is_err());
        let with_body = LessonInput {
            body: Some(Some("text".into())),
            duration_secs: Some(30),
            ..input
        };
        let row = merge_lesson(&with_body, base).unwrap();
        assert_eq!((row.body.as_deref(), row.duration_secs), (Some("text"), 30));
        let clear_both = LessonInput {
            body: Some(None),
            media_url: Some(None),
            ..Default::default()
        };
        assert!(merge_lesson(&clear_both, lesson(false)).is_err());
    }
}
