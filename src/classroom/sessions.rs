//! Live sessions of a course: the course's instructor schedules, starts and ends them; whoever
//! may see the course may list them; the instructor, admins and learners entitled to the course
//! may join their room `class:<id>` (unless they were kicked from it).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rules::Action;
use crate::accounts::{AuthUser, MaybeAuthUser, Role};
use crate::catalog::entitlements;
use crate::catalog::service as catalog_service;
use crate::catalog::store as catalog_store;
use crate::catalog::store::CourseRow;
use crate::db::schema::{live_sessions, users};
use crate::db::{self, Db, DbConnection, DbError};
use crate::error::{ApiError, ErrorBody};
use crate::realtime::kind::RoomAction;
use crate::realtime::room::Announce;
use crate::realtime::session::Realtime;

/// A row of `live_sessions`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = live_sessions)]
pub struct LiveSession {
    /// Id; the room is `class:<id>`.
    pub id: String,
    /// The course it belongs to.
    pub course_id: String,
    /// Shown in listings.
    pub title: String,
    /// Planned start (UTC).
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc::serialize")]
    pub starts_at: NaiveDateTime,
    /// `scheduled`, `live` or `ended`.
    pub status: String,
    /// When it went live.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc_opt::serialize")]
    pub started_at: Option<NaiveDateTime>,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc_opt::serialize")]
    pub ended_at: Option<NaiveDateTime>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc::serialize")]
    pub created_at: NaiveDateTime,
}

/// Why a live-session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    /// Input broke a rule.
    #[error("{0}")]
    Invalid(String),
    /// No such session or course (or not visible).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Illegal state change.
    #[error("{0}")]
    Conflict(String),
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ClassError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<ClassError> for ApiError {
    fn from(e: ClassError) -> Self {
        match e {
            ClassError::Invalid(m) => ApiError::Validation(m),
            ClassError::NotFound(w) => ApiError::not_found(w),
            ClassError::Forbidden(m) => ApiError::Forbidden(m),
            ClassError::Conflict(m) => ApiError::Conflict(m),
            ClassError::Db(e) => e.into(),
        }
    }
}

/// The live session `id`.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<LiveSession, ClassError> {
    live_sessions::table
        .find(id)
        .select(LiveSession::as_select())
        .first(conn)
        .optional()?
        .ok_or(ClassError::NotFound("live session"))
}

/// The course's instructor, or an admin; others are refused.
fn require_teacher(
    conn: &mut DbConnection,
    user: &AuthUser,
    course_id: &str,
) -> Result<(), ClassError> {
    let course =
        catalog_store::find_course(conn, course_id)?.ok_or(ClassError::NotFound("course"))?;
    if user.role == Role::Admin || course.instructor_id == user.id {
        Ok(())
    } else {
        Err(ClassError::Forbidden(
            "only the course's instructor runs its live sessions".into(),
        ))
    }
}

/// Whether `user` may join the room of live session `id`: its instructor, admins, and learners
/// entitled to the course. Returns the session and whether the user teaches it.
pub fn may_join(
    conn: &mut DbConnection,
    user: &AuthUser,
    id: &str,
) -> Result<(LiveSession, bool), ClassError> {
    let session = find(conn, id)?;
    let course = catalog_store::find_course(conn, &session.course_id)?
        .ok_or(ClassError::NotFound("course"))?;
    let teaches = user.role == Role::Admin || course.instructor_id == user.id;
    if teaches || entitlements::has_active(conn, &user.id, &course.id)? {
        Ok((session, teaches))
    } else {
        Err(ClassError::Forbidden(
            "you are not enrolled in this course".into(),
        ))
    }
}

/// Who runs the rooms of `course`'s sessions: its instructor and every admin. A room knows them
/// all from the start, so staff who have not joined yet cannot be muted or kicked either.
pub fn staff_of(conn: &mut DbConnection, course: &CourseRow) -> Result<Vec<String>, ClassError> {
    let mut staff: Vec<String> = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .select(users::id)
        .load(conn)?;
    staff.push(course.instructor_id.clone());
    Ok(staff)
}

/// Stores a new scheduled session; callers check who may schedule.
pub fn insert(
    conn: &mut DbConnection,
    course_id: &str,
    title: &str,
    starts_at: NaiveDateTime,
) -> Result<LiveSession, ClassError> {
    let row = LiveSession {
        id: uuid::Uuid::now_v7().to_string(),
        course_id: course_id.to_owned(),
        title: title.to_owned(),
        starts_at,
        status: "scheduled".into(),
        started_at: None,
        ended_at: None,
        created_at: db::now(),
    };
    diesel::insert_into(live_sessions::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// The course's session with this title, if any: the natural key the demo seed uses.
pub fn find_by_title(
    conn: &mut DbConnection,
    course_id: &str,
    title: &str,
) -> Result<Option<LiveSession>, ClassError> {
    Ok(live_sessions::table
        .filter(live_sessions::course_id.eq(course_id))
        .filter(live_sessions::title.eq(title))
        .select(LiveSession::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a scheduled session live now (the demo seed; HTTP goes through `start`).
pub fn go_live(conn: &mut DbConnection, id: &str) -> Result<(), ClassError> {
    diesel::update(
        live_sessions::table
            .find(id)
            .filter(live_sessions::status.eq("scheduled")),
    )
    .set((
        live_sessions::status.eq("live"),
        live_sessions::started_at.eq(Some(db::now())),
    ))
    .execute(conn)?;
    Ok(())
}

/// `POST /courses/{id}/live-sessions` body.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = LiveSessionScheduleRequest)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Planned start.
    pub starts_at: DateTime<Utc>,
}

/// Schedules a live session of a course (its instructor or an admin).
#[utoipa::path(post, path = "/api/v1/courses/{id}/live-sessions", tag = "classroom",
    security(("bearer" = [])), params(("id" = String, Path, description = "Course id")),
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "Scheduled", body = LiveSession),
        (status = 400, description = "Invalid", body = ErrorBody),
        (status = 403, description = "Not the instructor", body = ErrorBody),
        (status = 404, description = "No such course", body = ErrorBody),
    ))]
pub async fn schedule(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let (course_id, body) = (path.into_inner(), body.into_inner());
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError::validation("title must be 1 to 200 characters"));
    }
    let created = db
        .run(move |c| -> Result<LiveSession, ClassError> {
            require_teacher(c, &user, &course_id)?;
            insert(c, &course_id, &title, body.starts_at.naive_utc())
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Moves a session `from` → `to` (start: scheduled → live; end: live → ended) and tells its
/// room, if one is open, so members see the new status as a `session_status` event.
async fn change(
    db: web::Data<Db>,
    realtime: web::Data<Realtime>,
    user: AuthUser,
    id: String,
    from: &'static str,
    to: &'static str,
) -> Result<HttpResponse, ApiError> {
    let updated = db
        .run(move |c| -> Result<LiveSession, ClassError> {
            db::write_transaction(c, |c| {
                let session = find(c, &id)?;
                require_teacher(c, &user, &session.course_id)?;
                let now = db::now();
                let target = live_sessions::table
                    .find(&id)
                    .filter(live_sessions::status.eq(from));
                let n = if to == "live" {
                    diesel::update(target)
                        .set((
                            live_sessions::status.eq(to),
                            live_sessions::started_at.eq(Some(now)),
                        ))
                        .execute(c)?
                } else {
                    diesel::update(target)
                        .set((
                            live_sessions::status.eq(to),
                            live_sessions::ended_at.eq(Some(now)),
                        ))
                        .execute(c)?
                };
                if n == 0 {
                    return Err(ClassError::Conflict(format!(
                        "a session that is {} cannot become {to}",
                        session.status
                    )));
                }
                find(c, &id)
            })
        })
        .await?;
    realtime.rooms.do_send(Announce {
        room: format!("class:{}", updated.id),
        action: RoomAction::Class(Action::Status {
            status: updated.status.clone(),
        }),
    });
    Ok(HttpResponse::Ok().json(updated))
}

/// Starts a scheduled session.
#[utoipa::path(post, path = "/api/v1/live-sessions/{id}/start", tag = "classroom",
    security(("bearer" = [])), params(("id" = String, Path, description = "Live session id")),
    responses((status = 200, description = "Live", body = LiveSession), (status = 409, description = "Not scheduled", body = ErrorBody)))]
pub async fn start(
    db: web::Data<Db>,
    realtime: web::Data<Realtime>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change(db, realtime, user, path.into_inner(), "scheduled", "live").await
}

/// Ends a live session.
#[utoipa::path(post, path = "/api/v1/live-sessions/{id}/end", tag = "classroom",
    security(("bearer" = [])), params(("id" = String, Path, description = "Live session id")),
    responses((status = 200, description = "Ended", body = LiveSession), (status = 409, description = "Not live", body = ErrorBody)))]
pub async fn end(
    db: web::Data<Db>,
    realtime: web::Data<Realtime>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change(db, realtime, user, path.into_inner(), "live", "ended").await
}

/// A course's live sessions (upcoming, live and past), by start time, to those who may see the
/// course: a draft or in-review course's sessions are as hidden as the course itself (404).
#[utoipa::path(get, path = "/api/v1/courses/{id}/live-sessions", tag = "classroom",
    params(("id" = String, Path, description = "Course id")),
    responses(
        (status = 200, description = "Sessions", body = Vec<LiveSession>),
        (status = 401, description = "Invalid token", body = ErrorBody),
        (status = 404, description = "No such course, or not visible to the viewer", body = ErrorBody),
    ))]
pub async fn list(
    db: web::Data<Db>,
    viewer: MaybeAuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let course_id = path.into_inner();
    let rows = db
        .run(move |c| -> Result<Vec<LiveSession>, ApiError> {
            catalog_service::access(c, viewer.0.as_ref(), &course_id)?;
            Ok(live_sessions::table
                .filter(live_sessions::course_id.eq(&course_id))
                .order(live_sessions::starts_at)
                .select(LiveSession::as_select())
                .load(c)
                .map_err(DbError::from)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}
