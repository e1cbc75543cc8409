//! HTTP handlers for behaviour events and recommendations: parse, call [`super::service`] in a
//! blocking task, shape the answer.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actor::{Rebuild, RefitReport};
use super::ingest::{self, EventBatch};
use super::rank::Reason;
use super::service::{self, MAX_LIMIT, Recommendations};
use crate::accounts::{AuthUser, MaybeAuthUser, Role};
use crate::catalog::routes::CourseView;
use crate::catalog::service::CourseCard;
use crate::consultations::experts::ExpertView;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};

/// `?limit=` of the recommendation lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// Items to return, 1–50 (default 10).
    pub limit: Option<i64>,
}

impl LimitQuery {
    fn parse(&self) -> Result<usize, ApiError> {
        match self.limit.unwrap_or(10) {
            n if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::validation(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            ))),
        }
    }
}

/// What `POST /events` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsAccepted {
    /// Events stored for the recommender.
    pub recorded: usize,
    /// Events about courses the caller teaches: accepted, not stored.
    pub ignored: usize,
}

/// A recommended course.
#[derive(Serialize, ToSchema)]
pub struct RecommendedCourse {
    /// The course as lists show it.
    pub course: CourseView,
    /// Closeness to the query, 0–1 (0 for popular or trending fill-ins).
    pub score: f32,
    /// Why it is here.
    pub reason: Reason,
}

/// A list of recommended courses.
#[derive(Serialize, ToSchema)]
pub struct RecommendedCourses {
    /// Best first.
    pub items: Vec<RecommendedCourse>,
}

impl RecommendedCourses {
    fn new(found: Vec<(CourseCard, super::snapshot::Pick)>) -> Self {
        Self {
            items: found
                .into_iter()
                .map(|(card, pick)| RecommendedCourse {
                    course: CourseView::from(card),
                    score: pick.score,
                    reason: pick.reason,
                })
                .collect(),
        }
    }
}

/// A recommended expert.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedExpert {
    /// The expert as lists show them.
    pub expert: ExpertView,
    /// Closeness to the learner's taste, 0–1 (0 without history).
    pub score: f32,
    /// Why.
    pub reason: Reason,
}

/// A list of recommended experts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedExperts {
    /// Best first.
    pub items: Vec<RecommendedExpert>,
}

/// A dismissal's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dismissal {
    /// The course.
    pub course_id: String,
    /// Always true: the course will not be recommended to the caller.
    pub dismissed: bool,
}

/// Reports behaviour the server cannot see (lesson progress, search clicks, wishlists, views
/// from cached pages). All or nothing: one bad event refuses the batch. Each user may report
/// `LYCEUM_EVENTS_BURST` events at once and `LYCEUM_EVENTS_PER_MINUTE` sustained.
#[utoipa::path(post, path = "/api/v1/events", tag = "recommendations",
    security(("bearer" = [])),
    request_body = EventBatch,
    responses(
        (status = 202, description = "Recorded", body = EventsAccepted),
        (status = 400, description = "Invalid events; nothing stored", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A completed lesson the caller may not open", body = ErrorBody),
        (status = 429, description = "Over the budget; see Retry-After", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn report_events(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    user: AuthUser,
    body: web::Json<EventBatch>,
) -> Result<HttpResponse, ApiError> {
    let reported = ingest::parse(&body, recs.now()).map_err(ApiError::Validation)?;
    let n = reported.len();
    if n > recs.throttle.burst() {
        return Err(ApiError::validation(format!(
            "this server takes at most {} events per request",
            recs.throttle.burst()
        )));
    }
    if let Err(wait) = recs.throttle.take(&user.id, n, Instant::now()) {
        metrics::counter!("behaviour_events_throttled_total").increment(n as u64);
        return Err(ApiError::RateLimited {
            retry_after_secs: wait.as_secs().saturating_add(1).min(3600),
        });
    }
    let who = user.id.clone();
    let outcome = match db.run(move |c| ingest::store(c, &user, reported)).await {
        Ok(outcome) => outcome,
        Err(e) => {
            // Nothing was stored, so the batch costs nothing.
            recs.throttle.give_back(&who, n);
            return Err(e.into());
        }
    };
    let recorded = outcome.recorded.len();
    metrics::counter!("behaviour_events_reported_total").increment(recorded as u64);
    recs.observed(recorded);
    Ok(HttpResponse::Accepted().json(EventsAccepted {
        recorded,
        ignored: outcome.ignored,
    }))
}

/// Courses for the caller: near what they did lately (an event counts from the next request
/// on), never one they own, teach or dismissed, varied across instructors and tags, each with
/// a reason. With no history: popular in their interests, trending, then popular.
#[utoipa::path(get, path = "/api/v1/recommendations", tag = "recommendations",
    security(("bearer" = [])),
    params(LimitQuery),
    responses(
        (status = 200, description = "Best first", body = RecommendedCourses),
        (status = 400, description = "Bad limit", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn recommendations(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    user: AuthUser,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.parse()?;
    let (snapshot, now) = (recs.current(), recs.now());
    let found = db
        .run(move |c| service::for_user(c, &snapshot, &user, limit, now))
        .await?;
    Ok(HttpResponse::Ok().json(RecommendedCourses::new(found)))
}

/// Published courses like this one (which the caller must be allowed to see), each with a
/// reason. Works for a course published a moment ago, from its content alone.
#[utoipa::path(get, path = "/api/v1/courses/{id}/similar", tag = "recommendations",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Course id"), LimitQuery),
    responses(
        (status = 200, description = "Best first", body = RecommendedCourses),
        (status = 400, description = "Bad limit", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn similar(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    viewer: MaybeAuthUser,
    path: web::Path<String>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.parse()?;
    let (id, snapshot) = (path.into_inner(), recs.current());
    let found = db
        .run(move |c| service::similar(c, &snapshot, viewer.0.as_ref(), &id, limit))
        .await?;
    Ok(HttpResponse::Ok().json(RecommendedCourses::new(found)))
}

/// Experts for the caller, by what they teach and what their profile says, each with a reason.
#[utoipa::path(get, path = "/api/v1/experts/recommended", tag = "recommendations",
    security(("bearer" = [])),
    params(LimitQuery),
    responses(
        (status = 200, description = "Best first", body = RecommendedExperts),
        (status = 400, description = "Bad limit", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn experts(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    user: AuthUser,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.parse()?;
    let (snapshot, now) = (recs.current(), recs.now());
    let found = db
        .run(move |c| service::experts_for(c, &snapshot, &user, limit, now))
        .await?;
    Ok(HttpResponse::Ok().json(RecommendedExperts {
        items: found
            .into_iter()
            .map(|(card, pick)| RecommendedExpert {
                expert: ExpertView::from(&card),
                score: pick.score,
                reason: pick.reason,
            })
            .collect(),
    }))
}

/// "Not interested": the course is never recommended to the caller again (until undone).
/// Dismissing twice is fine.
#[utoipa::path(post, path = "/api/v1/recommendations/{course_id}/dismiss", tag = "recommendations",
    security(("bearer" = [])),
    params(("course_id" = String, Path, description = "Course id")),
    responses(
        (status = 200, description = "Dismissed", body = Dismissal),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn dismiss(
    db: web::Data<Db>,
    recs: web::Data<Recommendations>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (course_id, now) = (path.into_inner(), recs.now());
    let id = course_id.clone();
    db.run(move |c| service::dismiss(c, &user, &id, now))
        .await?;
    Ok(HttpResponse::Ok().json(Dismissal {
        course_id,
        dismissed: true,
    }))
}

/// Takes a dismissal back.
#[utoipa::path(delete, path = "/api/v1/recommendations/{course_id}/dismiss", tag = "recommendations",
    security(("bearer" = [])),
    params(("course_id" = String, Path, description = "Course id")),
    responses(
        (status = 204, description = "Undone"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "The course was not dismissed", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn undismiss(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let course_id = path.into_inner();
    let removed = db
        .run(move |c| service::undismiss(c, &user, &course_id))
        .await?;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("dismissal"))
    }
}

/// Refits the model and rebuilds the index now (admins); answers when the new index serves.
#[utoipa::path(post, path = "/api/v1/admin/recommendations/rebuild", tag = "recommendations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rebuilt", body = RefitReport),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The refit failed", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn rebuild(
    recs: web::Data<Recommendations>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let report = recs
        .actor
        .send(Rebuild)
        .await
        .map_err(|e| ApiError::Unavailable(format!("recommender unavailable: {e}")))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report))
}
