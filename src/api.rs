//! The route table: every HTTP route is written once below, and from that one list come the
//! actix registrations, the OpenAPI document served at `/openapi.json`, and the JSON 404/405
//! fallback — so the spec cannot drift from what the server answers.

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{self, ApiError};

/// Declares the route table. Each line is `method "path" => handler`; the handler carries its
/// own `#[utoipa::path]` with the same method and path (a test checks they agree).
macro_rules! route_table {
    ($( $method:ident $path:literal => $($handler:ident)::+ ),* $(,)?) => {
        /// The OpenAPI document, generated from every handler in the route table.
        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "Lyceum",
                description = "Realtime interactive learning server. Errors are always \
                    `{\"error\": {\"code\", \"message\"}}`.",
            ),
            paths($($($handler)::+),*),
            components(schemas(crate::error::ErrorBody)),
            modifiers(&BearerAuth, &ImpliedErrors),
        )]
        pub struct ApiDoc;

        /// Every route as `(method, path pattern)`, in registration order.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers every route of the table. Each route guards on its method, so a request
        /// with a known path and another method falls through to [`fallback`] (405).
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::$method().to($($handler)::+)); )*
        }
    };
}

route_table! {
    get "/healthz" => crate::ops::healthz,
    get "/readyz" => crate::ops::readyz,
    get "/metrics" => crate::ops::metrics,
    get "/openapi.json" => openapi_json,
    post "/api/v1/auth/register" => crate::accounts::routes::register,
    post "/api/v1/auth/login" => crate::accounts::routes::login,
    post "/api/v1/auth/refresh" => crate::accounts::routes::refresh,
    post "/api/v1/auth/logout" => crate::accounts::routes::logout,
    get "/api/v1/me" => crate::accounts::routes::me,
    get "/api/v1/admin/users" => crate::accounts::routes::list_users,
    put "/api/v1/admin/users/{id}/role" => crate::accounts::routes::change_role,
    put "/api/v1/admin/users/{id}/disabled" => crate::accounts::routes::set_disabled,
    get "/api/v1/admin/orders" => crate::orders::routes::list_all,
    get "/api/v1/courses" => crate::catalog::routes::browse,
    post "/api/v1/courses" => crate::catalog::routes::create_course,
    get "/api/v1/courses/{id}" => crate::catalog::routes::course_detail,
    patch "/api/v1/courses/{id}" => crate::catalog::routes::update_course,
    post "/api/v1/courses/{id}/submit" => crate::catalog::routes::submit_course,
    post "/api/v1/courses/{id}/approve" => crate::catalog::routes::approve_course,
    post "/api/v1/courses/{id}/reject" => crate::catalog::routes::reject_course,
    post "/api/v1/courses/{id}/archive" => crate::catalog::routes::archive_course,
    post "/api/v1/courses/{id}/lessons" => crate::catalog::routes::add_lesson,
    patch "/api/v1/courses/{id}/lessons/{lesson_id}" => crate::catalog::routes::update_lesson,
    delete "/api/v1/courses/{id}/lessons/{lesson_id}" => crate::catalog::routes::delete_lesson,
    put "/api/v1/courses/{id}/lesson-order" => crate::catalog::routes::reorder_lessons,
    post "/api/v1/courses/{id}/enroll" => crate::catalog::routes::enroll,
    put "/api/v1/courses/{id}/review" => crate::catalog::routes::put_review,
    delete "/api/v1/courses/{id}/review" => crate::catalog::routes::delete_review,
    get "/api/v1/courses/{id}/reviews" => crate::catalog::routes::list_reviews,
    get "/api/v1/courses/{id}/similar" => crate::recommend::routes::similar,
    get "/api/v1/me/courses" => crate::catalog::routes::library,
    get "/api/v1/me/courses/teaching" => crate::catalog::routes::teaching,
    get "/api/v1/admin/courses" => crate::catalog::routes::admin_courses,
    post "/api/v1/orders" => crate::orders::routes::checkout,
    get "/api/v1/orders" => crate::orders::routes::list,
    get "/api/v1/orders/{id}" => crate::orders::routes::get,
    post "/api/v1/orders/{id}/cancel" => crate::orders::routes::cancel,
    post "/api/v1/orders/{id}/refund" => crate::orders::routes::refund,
    post "/api/v1/coupons" => crate::orders::routes::create_coupon,
    get "/api/v1/coupons" => crate::orders::routes::list_coupons,
    post "/api/v1/payments/webhook" => crate::orders::routes::webhook,
    get "/api/v1/sandbox/payments/{id}" => crate::payments::routes::show,
    post "/api/v1/sandbox/payments/{id}/confirm" => crate::payments::routes::confirm,
    post "/api/v1/sandbox/payments/{id}/authenticate" => crate::payments::routes::authenticate,
    get "/api/v1/me/earnings" => crate::ledger::routes::earnings,
    get "/api/v1/admin/revenue" => crate::ledger::routes::revenue,
    post "/api/v1/courses/{id}/live-sessions" => crate::classroom::sessions::schedule,
    get "/api/v1/courses/{id}/live-sessions" => crate::classroom::sessions::list,
    post "/api/v1/live-sessions/{id}/start" => crate::classroom::sessions::start,
    post "/api/v1/live-sessions/{id}/end" => crate::classroom::sessions::end,
    get "/api/v1/live-sessions/{id}/transcript" => crate::classroom::transcript::transcript,
    get "/api/v1/experts" => crate::consultations::experts::list,
    get "/api/v1/experts/recommended" => crate::recommend::routes::experts,
    get "/api/v1/experts/me" => crate::consultations::experts::my_profile,
    put "/api/v1/experts/me" => crate::consultations::experts::put_profile,
    put "/api/v1/experts/me/availability" => crate::consultations::experts::put_availability,
    post "/api/v1/experts/me/blocked-days" => crate::consultations::experts::block_day,
    delete "/api/v1/experts/me/blocked-days/{date}" => crate::consultations::experts::unblock_day,
    get "/api/v1/experts/{id}" => crate::consultations::experts::get,
    get "/api/v1/experts/{id}/availability" => crate::consultations::experts::get_availability,
    post "/api/v1/experts/{id}/bookings" => crate::consultations::routes::book,
    get "/api/v1/bookings/{id}" => crate::consultations::routes::show,
    get "/api/v1/me/bookings" => crate::consultations::routes::mine,
    post "/api/v1/bookings/{id}/decline" => crate::consultations::routes::decline,
    post "/api/v1/bookings/{id}/cancel" => crate::consultations::routes::cancel,
    get "/api/v1/bookings/{id}/cancellation" => crate::consultations::routes::cancellation,
    put "/api/v1/experts/me/question-price" => crate::consultations::question_routes::put_price,
    post "/api/v1/experts/{id}/questions" => crate::consultations::question_routes::ask,
    get "/api/v1/experts/{id}/questions" => crate::consultations::question_routes::list_public,
    get "/api/v1/me/questions" => crate::consultations::question_routes::mine,
    get "/api/v1/questions/{id}" => crate::consultations::question_routes::show,
    post "/api/v1/questions/{id}/answer" => crate::consultations::question_routes::answer,
    post "/api/v1/questions/{id}/unlock" => crate::consultations::question_routes::unlock,
    post "/api/v1/events" => crate::recommend::routes::report_events,
    get "/api/v1/recommendations" => crate::recommend::routes::recommendations,
    post "/api/v1/recommendations/{course_id}/dismiss" => crate::recommend::routes::dismiss,
    delete "/api/v1/recommendations/{course_id}/dismiss" => crate::recommend::routes::undismiss,
    post "/api/v1/admin/recommendations/rebuild" => crate::recommend::routes::rebuild,
    get "/api/v1/setup" => crate::setup::routes::status,
    post "/api/v1/setup/admin" => crate::setup::routes::create_admin,
    post "/api/v1/setup/demo" => crate::setup::routes::load_demo,
    get "/ws" => crate::realtime::session::connect,
}

/// Declares the bearer scheme the secured routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Documents the error answers every operation gets from its extractors, whatever its handler
/// does: a bearer-secured operation can answer 401, a JSON body 400/413/415, a query string 400
/// and a path id 404. Handlers declare only the answers of their own rules (403, 409, …); this
/// adds the rest from the operation's own declaration, so no handler can forget them.
struct ImpliedErrors;

impl ImpliedErrors {
    /// The statuses the extractors behind `op` can answer, with a description each.
    fn implied(op: &Operation) -> Vec<(&'static str, &'static str)> {
        let mut implied = Vec::new();
        let secured = op.security.iter().flatten().any(|req| {
            serde_json::to_value(req).is_ok_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        });
        if secured {
            implied.push(("401", "Missing, malformed, expired or revoked bearer token"));
        }
        let params = op.parameters.iter().flatten();
        let located = |place: ParameterIn| {
            params
                .clone()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
        };
        if op.request_body.is_some() {
            implied.push(("400", "The body is not valid JSON, or breaks a rule"));
            implied.push(("413", "The body is larger than the configured limit"));
            implied.push(("415", "The body is not `application/json`"));
        } else if located(ParameterIn::Query) {
            implied.push(("400", "A query parameter is invalid"));
        } else if located(ParameterIn::Path) {
            implied.push(("400", "A path parameter is invalid (a NUL character, say)"));
        }
        if located(ParameterIn::Path) {
            implied.push(("404", "Nothing has this id"));
        }
        implied
    }
}

impl Modify for ImpliedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, description) in Self::implied(op) {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content(
                                        "application/json",
                                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                                    )
                                    .build(),
                            )
                        });
                }
            }
        }
    }
}

/// The OpenAPI 3 document for this server, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()));
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.as_str())
}

/// Parsed patterns of [`ROUTES`], built once.
fn route_defs() -> &'static [(&'static str, ResourceDef)] {
    static DEFS: OnceLock<Vec<(&'static str, ResourceDef)>> = OnceLock::new();
    DEFS.get_or_init(|| {
        ROUTES
            .iter()
            .map(|(method, path)| (*method, ResourceDef::new(*path)))
            .collect()
    })
}

/// Answers every request no route took: 405 with `Allow` when the path exists under another
/// method, else 404 — both in the JSON error shape.
pub async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed: Vec<String> = route_defs()
        .iter()
        .filter(|(_, def)| def.is_match(req.path()))
        .map(|(method, _)| method.to_ascii_uppercase())
        .collect();
    if allowed.is_empty() {
        Err(ApiError::NotFound(format!(
            "no route for {} {}",
            req.method(),
            req.path()
        )))
    } else {
        Err(ApiError::MethodNotAllowed { allowed })
    }
}

/// Extractor configuration so malformed bodies, queries and paths fail in the documented shape.
pub fn extractor_config(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(error::json_config(max_body_bytes))
        .app_data(error::query_config())
        .app_data(error::path_config());
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::OpenApi;

    use super::ApiDoc;
    use crate::accounts::domain::{DisplayName, Password};
    use crate::catalog::domain::{
        Category, CourseTitle, Description, DurationSecs, LessonBody, LessonTitle, RejectionReason,
        ReviewText, Tags, WebUrl,
    };
    use crate::consultations::{availability, experts, questions};
    use crate::recommend::ingest;

    /// The limits the spec declares are the ones the validators enforce: a constant changed in
    /// one place and not the other fails here, before a client meets the difference.
    #[test]
    fn declared_limits_are_the_enforced_ones() {
        let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let field = |schema: &str, name: &str, key: &str| -> Value {
            spec["components"]["schemas"][schema]["properties"][name][key].clone()
        };
        let max_len = [
            ("RegisterRequest", "password", Password::MAX_CHARS),
            ("RegisterRequest", "display_name", DisplayName::MAX_CHARS),
            ("CreateCourseRequest", "title", CourseTitle::MAX_CHARS),
            ("UpdateCourseRequest", "title", CourseTitle::MAX_CHARS),
            ("CreateCourseRequest", "description", Description::MAX_CHARS),
            ("CreateCourseRequest", "category", Category::MAX_CHARS),
            ("CreateCourseRequest", "cover_image_url", WebUrl::MAX_CHARS),
            ("CreateLessonRequest", "title", LessonTitle::MAX_CHARS),
            ("CreateLessonRequest", "body", LessonBody::MAX_CHARS),
            ("UpdateLessonRequest", "media_url", WebUrl::MAX_CHARS),
            ("RejectRequest", "reason", RejectionReason::MAX_CHARS),
            ("ReviewRequest", "text", ReviewText::MAX_CHARS),
            ("ProfileRequest", "headline", experts::Headline::MAX_CHARS),
            ("ProfileRequest", "bio", experts::Bio::MAX_CHARS),
            ("AskRequest", "title", questions::MAX_TITLE_CHARS),
            ("AskRequest", "body", questions::MAX_BODY_CHARS),
            ("AnswerRequest", "answer", questions::MAX_ANSWER_CHARS),
        ];
        for (schema, name, max) in max_len {
            assert_eq!(field(schema, name, "maxLength"), max, "{schema}.{name}");
        }
        assert_eq!(
            field("RegisterRequest", "password", "minLength"),
            Password::MIN_CHARS
        );
        let max_items = [
            ("CreateCourseRequest", "tags", Tags::MAX_COUNT),
            ("ProfileRequest", "languages", experts::Languages::MAX_COUNT),
            ("ScheduleRequest", "windows", availability::MAX_WINDOWS),
            ("EventBatch", "events", ingest::MAX_BATCH),
        ];
        for (schema, name, max) in max_items {
            assert_eq!(field(schema, name, "maxItems"), max, "{schema}.{name}");
        }
        let maximum = [
            ("CreateLessonRequest", "duration_secs", DurationSecs::MAX),
            (
                "ProfileRequest",
                "rate_per_minute_minor",
                experts::MAX_RATE_MINOR,
            ),
            ("PriceRequest", "price_minor", questions::MAX_PRICE_MINOR),
            ("BookingRequest", "minutes", experts::MAX_BOOKING_MINUTES),
        ];
        for (schema, name, max) in maximum {
            assert_eq!(field(schema, name, "maximum"), max, "{schema}.{name}");
        }
        assert_eq!(
            field("RoleChange", "role", "$ref"),
            "#/components/schemas/Role"
        );
    }
}
