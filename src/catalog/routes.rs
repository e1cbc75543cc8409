//! HTTP handlers for the catalog: parse the input into domain types, call one service function
//! on the blocking pool, shape the answer.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::domain::{
    CourseSearch, CourseStatus, Level, Rating, RejectionReason, ReviewText, SearchParams,
    Transition,
};
use super::entitlements::EntitlementRow;
use super::service::{
    self, CourseCard, CourseDetail, CourseDraft, CourseInput, LessonInput, LibraryEntry, Listing,
    ReviewEntry, VisibleLesson,
};
use super::store::LessonRow;
use crate::accounts::{AuthUser, MaybeAuthUser};
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::money::MoneyView;
use crate::pagination::{Page, PageQuery};
use crate::recommend::service::Recommendations;

/// Tells "field absent" (`None`) from "field is null" (`Some(None)`) in PATCH bodies.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// `POST /courses` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCourseRequest {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Up to 20 000 characters (default empty).
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// Slug such as `programming` (lower-cased, spaces become hyphens).
    #[schema(min_length = 1, max_length = 50)]
    pub category: String,
    /// At most 10 tags of at most 30 characters, normalised like categories.
    #[schema(max_items = 10)]
    pub tags: Option<Vec<String>>,
    /// http(s) URL.
    #[schema(max_length = 2000)]
    pub cover_image_url: Option<String>,
    /// Price; `amount_minor` 0 makes the course free.
    pub price: MoneyView,
    /// `beginner`, `intermediate`, `advanced` or `all_levels` (default).
    pub level: Option<Level>,
    /// Language tag such as `en` (default) or `pt-BR`.
    pub language: Option<String>,
}

/// `PATCH /courses/{id}` body: every field optional; `cover_image_url: null` removes the cover.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCourseRequest {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Up to 20 000 characters.
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// Category slug.
    #[schema(min_length = 1, max_length = 50)]
    pub category: Option<String>,
    /// Replaces all tags.
    #[schema(max_items = 10)]
    pub tags: Option<Vec<String>>,
    /// http(s) URL, or null to remove.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub cover_image_url: Option<Option<String>>,
    /// New price.
    pub price: Option<MoneyView>,
    /// New level.
    pub level: Option<Level>,
    /// New language tag.
    pub language: Option<String>,
}

/// `POST /courses/{id}/lessons` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLessonRequest {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Text content; a lesson needs a body or a media URL.
    #[schema(min_length = 1, max_length = 100000)]
    pub body: Option<String>,
    /// http(s) URL of a video or other media.
    #[schema(max_length = 2000)]
    pub media_url: Option<String>,
    /// Length in seconds, 0–86 400 (default 0).
    #[schema(minimum = 0, maximum = 86400)]
    pub duration_secs: Option<i64>,
    /// Readable by everyone (default false).
    pub free_preview: Option<bool>,
}

/// `PATCH /courses/{id}/lessons/{lesson_id}` body; `null` clears `body` or `media_url`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLessonRequest {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Text content, or null to remove.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100000)]
    pub body: Option<Option<String>>,
    /// Media URL, or null to remove.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub media_url: Option<Option<String>>,
    /// Length in seconds.
    #[schema(minimum = 0, maximum = 86400)]
    pub duration_secs: Option<i64>,
    /// Readable by everyone.
    pub free_preview: Option<bool>,
}

/// `PUT /courses/{id}/lesson-order` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderRequest {
    /// Every lesson id of the course exactly once, in the new order.
    pub lesson_ids: Vec<String>,
}

/// `POST /courses/{id}/reject` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why; shown to the instructor. 1–2 000 characters.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// `PUT /courses/{id}/review` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 1–5 stars.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// Optional text, up to 5 000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub text: Option<String>,
}

/// Who teaches a course.
#[derive(Serialize, ToSchema)]
pub struct InstructorView {
    /// User id.
    pub id: String,
    /// Public name.
    pub display_name: String,
}

/// Review aggregates.
#[derive(Serialize, ToSchema)]
pub struct RatingView {
    /// Mean rating (0 without reviews).
    pub average: f64,
    /// Number of reviews.
    pub count: i64,
}

/// A course as lists and edits show it.
#[derive(Serialize, ToSchema)]
pub struct CourseView {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category slug.
    pub category: String,
    /// Tags, alphabetically.
    pub tags: Vec<String>,
    /// Cover image.
    pub cover_image_url: Option<String>,
    /// Price; 0 means free.
    pub price: MoneyView,
    /// Level.
    pub level: String,
    /// Language tag.
    pub language: String,
    /// `draft`, `in_review`, `published` or `archived`.
    pub status: String,
    /// Why an admin sent the course back to draft (drafts are visible only to their owner and
    /// admins).
    pub rejection_reason: Option<String>,
    /// Who teaches it.
    pub instructor: InstructorView,
    /// Reviews.
    pub rating: RatingView,
    /// Learners with access.
    pub enrollment_count: i64,
    /// Number of lessons.
    pub lesson_count: i64,
    /// First publication.
    pub published_at: Option<DateTime<Utc>>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<CourseCard> for CourseView {
    fn from(card: CourseCard) -> Self {
        let c = card.course;
        Self {
            id: c.id,
            title: c.title,
            description: c.description,
            category: c.category,
            tags: card.tags,
            cover_image_url: c.cover_image_url,
            price: MoneyView {
                amount_minor: c.price_minor,
                currency: c.currency,
            },
            level: c.level,
            language: c.language,
            status: c.status,
            rejection_reason: c.rejection_reason,
            instructor: InstructorView {
                id: c.instructor_id,
                display_name: card.instructor_name,
            },
            rating: RatingView {
                average: c.rating_avg,
                count: c.rating_count,
            },
            enrollment_count: c.enrollment_count,
            lesson_count: card.lesson_count,
            published_at: c.published_at.map(utc),
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A lesson. `body` and `media_url` are present only for those with access (entitled
/// learners, the instructor, admins) and for free previews; `locked` says they were withheld.
#[derive(Serialize, ToSchema)]
pub struct LessonView {
    /// Stable id.
    pub id: String,
    /// 0-based place in the course.
    pub position: i32,
    /// Title.
    pub title: String,
    /// Text content.
    pub body: Option<String>,
    /// Media URL.
    pub media_url: Option<String>,
    /// Length in seconds.
    pub duration_secs: i32,
    /// Readable by everyone.
    pub free_preview: bool,
    /// True when the content was withheld.
    pub locked: bool,
}

impl From<VisibleLesson> for LessonView {
    fn from(v: VisibleLesson) -> Self {
        let l = v.lesson;
        Self {
            id: l.id,
            position: l.position,
            title: l.title,
            body: l.body,
            media_url: l.media_url,
            duration_secs: l.duration_secs,
            free_preview: l.free_preview,
            locked: v.locked,
        }
    }
}

impl From<LessonRow> for LessonView {
    fn from(l: LessonRow) -> Self {
        service::redact(l, true).into()
    }
}

/// A course's detail page.
#[derive(Serialize, ToSchema)]
pub struct CourseDetailView {
    /// The course.
    #[serde(flatten)]
    pub course: CourseView,
    /// Lessons in order.
    pub lessons: Vec<LessonView>,
    /// The caller holds an active entitlement.
    pub entitled: bool,
    /// The caller is the instructor or an admin.
    pub can_manage: bool,
}

impl From<CourseDetail> for CourseDetailView {
    fn from(d: CourseDetail) -> Self {
        Self {
            course: d.card.into(),
            lessons: d.lessons.into_iter().map(LessonView::from).collect(),
            entitled: d.entitled,
            can_manage: d.can_manage,
        }
    }
}

/// A page of courses.
#[derive(Serialize, ToSchema)]
pub struct CourseList {
    /// This page.
    pub items: Vec<CourseView>,
    /// Matches across all pages.
    pub total: i64,
    /// The limit applied.
    pub limit: i64,
    /// The offset applied.
    pub offset: i64,
}

impl CourseList {
    fn new(listing: Listing<CourseCard>, page: Page) -> Self {
        Self {
            items: listing.items.into_iter().map(CourseView::from).collect(),
            total: listing.total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

/// An entitlement: who may read which course, since when, and why.
#[derive(Serialize, ToSchema)]
pub struct EntitlementView {
    /// The course.
    pub course_id: String,
    /// The learner.
    pub user_id: String,
    /// `enroll`, `order` or `admin`.
    pub source: String,
    /// The paying order, for `order`.
    pub order_id: Option<String>,
    /// When access started.
    pub granted_at: DateTime<Utc>,
}

impl From<EntitlementRow> for EntitlementView {
    fn from(e: EntitlementRow) -> Self {
        Self {
            course_id: e.course_id,
            user_id: e.user_id,
            source: e.source,
            order_id: e.order_id,
            granted_at: utc(e.granted_at),
        }
    }
}

/// A course in the caller's library.
#[derive(Serialize, ToSchema)]
pub struct LibraryItem {
    /// The course.
    pub course: CourseView,
    /// `enroll`, `order` or `admin`.
    pub source: String,
    /// When access started.
    pub granted_at: DateTime<Utc>,
}

impl From<LibraryEntry> for LibraryItem {
    fn from(e: LibraryEntry) -> Self {
        Self {
            course: e.card.into(),
            source: e.source,
            granted_at: utc(e.granted_at),
        }
    }
}

/// A page of the caller's library.
#[derive(Serialize, ToSchema)]
pub struct LibraryList {
    /// This page, most recently granted first.
    pub items: Vec<LibraryItem>,
    /// Courses across all pages.
    pub total: i64,
    /// The limit applied.
    pub limit: i64,
    /// The offset applied.
    pub offset: i64,
}

/// A review.
#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    /// Stable id.
    pub id: String,
    /// Reviewed course.
    pub course_id: String,
    /// Reviewer.
    pub author: InstructorView,
    /// 1–5 stars.
    pub rating: i32,
    /// Optional text.
    pub text: Option<String>,
    /// First written.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ReviewEntry> for ReviewView {
    fn from(e: ReviewEntry) -> Self {
        let r = e.review;
        Self {
            id: r.id,
            course_id: r.course_id,
            author: InstructorView {
                id: r.user_id,
                display_name: e.author_name,
            },
            rating: r.rating,
            text: r.body,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

/// A page of reviews.
#[derive(Serialize, ToSchema)]
pub struct ReviewList {
    /// This page, most recently changed first.
    pub items: Vec<ReviewView>,
    /// Reviews across all pages.
    pub total: i64,
    /// The limit applied.
    pub limit: i64,
    /// The offset applied.
    pub offset: i64,
}

/// `GET /admin/courses` filter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusFilter {
    /// `draft`, `in_review` (default), `published` or `archived`.
    pub status: Option<String>,
}

/// Creates a draft course owned by the caller (instructors and admins).
#[utoipa::path(post, path = "/api/v1/courses", tag = "catalog",
    security(("bearer" = [])),
    request_body = CreateCourseRequest,
    responses(
        (status = 201, description = "Draft created", body = CourseView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Not an instructor", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_course(
    db: web::Data<Db>,
    user: AuthUser,
    body: web::Json<CreateCourseRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let draft = CourseDraft::parse_new(&CourseInput {
        title: Some(b.title),
        description: b.description,
        category: Some(b.category),
        tags: b.tags,
        cover_image_url: b.cover_image_url.map(Some),
        price_minor: Some(b.price.amount_minor),
        currency: Some(b.price.currency),
        level: b.level.map(|l| l.as_str().to_owned()),
        language: b.language,
    })?;
    let card = db
        .run(move |c| service::create_course(c, &user, &draft))
        .await?;
    Ok(HttpResponse::Created().json(CourseView::from(card)))
}

/// Edits a course (its instructor or an admin). A published course stays published; archived
/// courses cannot change.
#[utoipa::path(patch, path = "/api/v1/courses/{id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    request_body = UpdateCourseRequest,
    responses(
        (status = 200, description = "The updated course", body = CourseView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Archived", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn update_course(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<UpdateCourseRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let (price_minor, currency) = b
        .price
        .map_or((None, None), |p| (Some(p.amount_minor), Some(p.currency)));
    let input = CourseInput {
        title: b.title,
        description: b.description,
        category: b.category,
        tags: b.tags,
        cover_image_url: b.cover_image_url,
        price_minor,
        currency,
        level: b.level.map(|l| l.as_str().to_owned()),
        language: b.language,
    };
    let id = path.into_inner();
    let card = db
        .run(move |c| service::update_course(c, &user, &id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(CourseView::from(card)))
}

/// Runs one status transition and answers with the course.
async fn change_status(
    db: web::Data<Db>,
    user: AuthUser,
    id: String,
    action: Transition,
    reason: Option<RejectionReason>,
) -> Result<HttpResponse, ApiError> {
    let card = db
        .run(move |c| service::transition(c, &user, &id, action, reason.as_ref()))
        .await?;
    tracing::info!(course = %card.course.id, status = %card.course.status, "course status changed");
    Ok(HttpResponse::Ok().json(CourseView::from(card)))
}

/// Submits a draft for review (its instructor or an admin); it needs at least one lesson.
#[utoipa::path(post, path = "/api/v1/courses/{id}/submit", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 200, description = "Now in review", body = CourseView),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Not a draft, or no lessons", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn submit_course(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change_status(db, user, path.into_inner(), Transition::Submit, None).await
}

/// Publishes a course in review (admins); it is recommendable at once.
#[utoipa::path(post, path = "/api/v1/courses/{id}/approve", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 200, description = "Published", body = CourseView),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Not in review", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn approve_course(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let published = change_status(db, user, id.clone(), Transition::Approve, None).await?;
    // Recommendable at once, from its content; the next refit adds what learners do with it.
    recs.published(&id).await;
    Ok(published)
}

/// Sends a course in review back to draft with a reason its instructor sees (admins).
#[utoipa::path(post, path = "/api/v1/courses/{id}/reject", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Back to draft", body = CourseView),
        (status = 400, description = "Missing reason", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Not in review", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn reject_course(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = RejectionReason::parse(&body.reason).map_err(ApiError::Validation)?;
    change_status(
        db,
        user,
        path.into_inner(),
        Transition::Reject,
        Some(reason),
    )
    .await
}

/// Archives a course (its instructor or an admin): hidden from browsing, still readable by
/// those entitled. Archiving is final.
#[utoipa::path(post, path = "/api/v1/courses/{id}/archive", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 200, description = "Archived", body = CourseView),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Already archived", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn archive_course(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let archived = change_status(db, user, id.clone(), Transition::Archive, None).await?;
    recs.retired(&id).await;
    Ok(archived)
}

/// Searches published courses. Every word of `q` must occur in the title or description.
#[utoipa::path(get, path = "/api/v1/courses", tag = "catalog",
    params(SearchParams, PageQuery),
    responses(
        (status = 200, description = "A page of courses", body = CourseList),
        (status = 400, description = "Bad filter", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn browse(
    db: web::Data<Db>,
    params: web::Query<SearchParams>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let search = CourseSearch::parse(&params).map_err(ApiError::Validation)?;
    let page = Page::parse(&page)?;
    let listing = db.run(move |c| service::browse(c, &search, page)).await?;
    Ok(HttpResponse::Ok().json(CourseList::new(listing, page)))
}

/// A course with its lessons. Drafts are visible only to their instructor and admins (404 for
/// everyone else); lesson content only to those with access and for free previews.
#[utoipa::path(get, path = "/api/v1/courses/{id}", tag = "catalog",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 200, description = "The course", body = CourseDetailView),
        (status = 401, description = "Invalid token", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn course_detail(
    db: web::Data<Db>,
    viewer: MaybeAuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let detail = db
        .run(move |c| service::course_detail(c, viewer.0.as_ref(), &id))
        .await?;
    Ok(HttpResponse::Ok().json(CourseDetailView::from(detail)))
}

/// Appends a lesson (the course's instructor or an admin).
#[utoipa::path(post, path = "/api/v1/courses/{id}/lessons", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    request_body = CreateLessonRequest,
    responses(
        (status = 201, description = "Lesson added", body = LessonView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Archived", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn add_lesson(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<CreateLessonRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = LessonInput {
        title: Some(b.title),
        body: Some(b.body),
        media_url: Some(b.media_url),
        duration_secs: b.duration_secs,
        free_preview: b.free_preview,
    };
    let id = path.into_inner();
    let lesson = db
        .run(move |c| service::add_lesson(c, &user, &id, &input))
        .await?;
    Ok(HttpResponse::Created().json(LessonView::from(lesson)))
}

/// Edits a lesson (the course's instructor or an admin).
#[utoipa::path(patch, path = "/api/v1/courses/{id}/lessons/{lesson_id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id"),
        ("lesson_id" = String, Path, description = "Lesson id")),
    request_body = UpdateLessonRequest,
    responses(
        (status = 200, description = "The updated lesson", body = LessonView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course or lesson", body = ErrorBody),
        (status = 409, description = "Archived courses cannot be changed", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn update_lesson(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateLessonRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = LessonInput {
        title: b.title,
        body: b.body,
        media_url: b.media_url,
        duration_secs: b.duration_secs,
        free_preview: b.free_preview,
    };
    let (id, lesson_id) = path.into_inner();
    let lesson = db
        .run(move |c| service::update_lesson(c, &user, &id, &lesson_id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(LessonView::from(lesson)))
}

/// Deletes a lesson (the course's instructor or an admin); later lessons move up.
#[utoipa::path(delete, path = "/api/v1/courses/{id}/lessons/{lesson_id}", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id"),
        ("lesson_id" = String, Path, description = "Lesson id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course or lesson", body = ErrorBody),
        (status = 409, description = "Last lesson of a course past draft", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn delete_lesson(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, lesson_id) = path.into_inner();
    db.run(move |c| service::delete_lesson(c, &user, &id, &lesson_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reorders a course's lessons (the course's instructor or an admin).
#[utoipa::path(put, path = "/api/v1/courses/{id}/lesson-order", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    request_body = ReorderRequest,
    responses(
        (status = 200, description = "Lessons in the new order", body = [LessonView]),
        (status = 400, description = "Not a permutation of the lessons", body = ErrorBody),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
        (status = 409, description = "Archived courses cannot be changed", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn reorder_lessons(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<ReorderRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, ids) = (path.into_inner(), body.into_inner().lesson_ids);
    let lessons = db
        .run(move |c| service::reorder_lessons(c, &user, &id, &ids))
        .await?;
    let views: Vec<LessonView> = lessons.into_iter().map(LessonView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Enrols the caller in a free published course: 201 with the new entitlement, or 200 with the
/// existing one when already enrolled. Paid courses answer 402 `payment_required`: create an
/// order instead.
#[utoipa::path(post, path = "/api/v1/courses/{id}/enroll", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 201, description = "Enrolled", body = EntitlementView),
        (status = 200, description = "Already enrolled", body = EntitlementView),
        (status = 402, description = "Paid course: create an order", body = ErrorBody),
        (status = 404, description = "No such published course", body = ErrorBody),
        (status = 409, description = "Archived course", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn enroll(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (entitlement, newly) = db.run(move |c| service::enroll(c, &user, &id)).await?;
    let view = EntitlementView::from(entitlement);
    Ok(if newly {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Writes or replaces the caller's review (entitled learners, not the instructor): 201 when
/// new, 200 when updated.
#[utoipa::path(put, path = "/api/v1/courses/{id}/review", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    request_body = ReviewRequest,
    responses(
        (status = 201, description = "Review written", body = ReviewView),
        (status = 200, description = "Review updated", body = ReviewView),
        (status = 400, description = "Rating not 1–5 or text too long", body = ErrorBody),
        (status = 403, description = "Not entitled, or the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn put_review(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<ReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let rating = Rating::parse(b.rating);
    let text = b.text.as_deref().map(ReviewText::parse).transpose();
    let (rating, text) = match (rating, text) {
        (Ok(r), Ok(t)) => (r, t),
        (r, t) => {
            let msgs: Vec<String> = [r.err(), t.err()].into_iter().flatten().collect();
            return Err(ApiError::Validation(msgs.join("; ")));
        }
    };
    let id = path.into_inner();
    let (entry, created) = db
        .run(move |c| service::put_review(c, &user, &id, rating, text.as_ref()))
        .await?;
    let view = ReviewView::from(entry);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Deletes the caller's review.
#[utoipa::path(delete, path = "/api/v1/courses/{id}/review", tag = "catalog",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No review by the caller", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn delete_review(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    db.run(move |c| service::delete_review(c, &user, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A course's reviews, most recently changed first.
#[utoipa::path(get, path = "/api/v1/courses/{id}/reviews", tag = "catalog",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Course id"), PageQuery),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewList),
        (status = 404, description = "No such course", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn list_reviews(
    db: web::Data<Db>,
    viewer: MaybeAuthUser,
    path: web::Path<String>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(&page)?;
    let id = path.into_inner();
    let listing = db
        .run(move |c| service::reviews(c, viewer.0.as_ref(), &id, page))
        .await?;
    Ok(HttpResponse::Ok().json(ReviewList {
        items: listing.items.into_iter().map(ReviewView::from).collect(),
        total: listing.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// The courses the caller teaches, in every status, newest first.
#[utoipa::path(get, path = "/api/v1/me/courses/teaching", tag = "catalog",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of courses", body = CourseList),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn teaching(
    db: web::Data<Db>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(&page)?;
    let listing = db.run(move |c| service::teaching(c, &user, page)).await?;
    Ok(HttpResponse::Ok().json(CourseList::new(listing, page)))
}

/// The caller's library: courses they hold an active entitlement to.
#[utoipa::path(get, path = "/api/v1/me/courses", tag = "catalog",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the library", body = LibraryList),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn library(
    db: web::Data<Db>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(&page)?;
    let listing = db.run(move |c| service::library(c, &user, page)).await?;
    Ok(HttpResponse::Ok().json(LibraryList {
        items: listing.items.into_iter().map(LibraryItem::from).collect(),
        total: listing.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Courses by status for admins; the review queue is `?status=in_review` (the default).
#[utoipa::path(get, path = "/api/v1/admin/courses", tag = "admin",
    security(("bearer" = [])),
    params(StatusFilter, PageQuery),
    responses(
        (status = 200, description = "A page of courses", body = CourseList),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn admin_courses(
    db: web::Data<Db>,
    user: AuthUser,
    filter: web::Query<StatusFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(&page)?;
    let status = filter
        .status
        .as_deref()
        .map_or(Ok(CourseStatus::InReview), str::parse)
        .map_err(ApiError::Validation)?;
    let listing = db
        .run(move |c| service::by_status(c, &user, status, page))
        .await?;
    Ok(HttpResponse::Ok().json(CourseList::new(listing, page)))
}
