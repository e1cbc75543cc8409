//! HTTP handlers for paid questions: parse, run the rules of [`super::questions`] (money
//! commands through the order actor, reads on the pool), shape the answer.

use actix::Addr;
use actix_web::{HttpResponse, web};

use super::bookings::ConsultConfig;
use super::questions::{
    self, AnswerRequest, AskRequest, Asked, Draft, PriceRequest, PriceView, QuestionPage,
    QuestionView, Unlocking,
};
use crate::accounts::{AuthUser, MaybeAuthUser};
use crate::clock::Clock;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::orders::actor::{Command, OrderActor};
use crate::orders::routes::run;
use crate::pagination::{Page, PageQuery};

/// Sets the caller's price for a written question in their profile's currency; `null` or 0
/// stops taking paid questions. Needs an expert profile.
#[utoipa::path(put, path = "/api/v1/experts/me/question-price", tag = "consultations",
    security(("bearer" = [])), request_body = PriceRequest,
    responses(
        (status = 200, description = "The price now", body = PriceView),
        (status = 400, description = "Price out of range", body = ErrorBody),
        (status = 403, description = "Not an instructor or admin", body = ErrorBody),
        (status = 404, description = "No expert profile yet", body = ErrorBody),
    ))]
pub async fn put_price(
    db: web::Data<Db>,
    user: AuthUser,
    body: web::Json<PriceRequest>,
) -> Result<HttpResponse, ApiError> {
    let price = body.parse()?;
    let view = db
        .run(move |c| questions::set_price(c, &user, price))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Asks an expert a paid question. The expert's price is held on the caller's card: confirm
/// the returned payment and the question opens, with the expert's time to answer running from
/// then (`LYCEUM_QUESTION_ANSWER_HOURS`).
#[utoipa::path(post, path = "/api/v1/experts/{id}/questions", tag = "consultations",
    security(("bearer" = [])), request_body = AskRequest,
    params(("id" = String, Path, description = "Expert (user) id")),
    responses(
        (status = 201, description = "Asked; confirm the payment", body = Asked),
        (status = 400, description = "Invalid title or body", body = ErrorBody),
        (status = 403, description = "The expert asking themselves", body = ErrorBody),
        (status = 404, description = "No such published expert", body = ErrorBody),
        (status = 409, description = "The expert takes no paid questions", body = ErrorBody),
    ))]
pub async fn ask(
    orders: web::Data<Addr<OrderActor>>,
    cfg: web::Data<ConsultConfig>,
    clock: web::Data<dyn Clock>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<AskRequest>,
) -> Result<HttpResponse, ApiError> {
    let (expert_id, draft) = (path.into_inner(), Draft::parse(&body)?);
    let (cfg, now) = (cfg.into_inner(), clock.now());
    let key = format!("ask:{}:{expert_id}", user.id);
    let asked = run(
        &orders,
        Command::new(key, move |c, p, _| {
            questions::ask(c, p, &cfg, &user, &expert_id, &draft, now)
        }),
    )
    .await?;
    Ok(HttpResponse::Created().json(asked))
}

/// A published expert's public answered questions, latest answers first, with what asking
/// costs. Answers appear only to callers who may read them (unlocked, or a party).
#[utoipa::path(get, path = "/api/v1/experts/{id}/questions", tag = "consultations",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Expert (user) id"), PageQuery),
    responses(
        (status = 200, description = "Questions", body = QuestionPage),
        (status = 400, description = "Bad page", body = ErrorBody),
        (status = 404, description = "No such published expert", body = ErrorBody),
    ))]
pub async fn list_public(
    db: web::Data<Db>,
    cfg: web::Data<ConsultConfig>,
    user: MaybeAuthUser,
    path: web::Path<String>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (expert_id, page, cfg) = (path.into_inner(), Page::parse(&page)?, cfg.into_inner());
    let list = db
        .run(move |c| questions::list_public(c, &cfg, user.0.as_ref(), &expert_id, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The questions the caller asked or was asked, newest first.
#[utoipa::path(get, path = "/api/v1/me/questions", tag = "consultations",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Questions", body = QuestionPage),
        (status = 400, description = "Bad page", body = ErrorBody),
    ))]
pub async fn mine(
    db: web::Data<Db>,
    cfg: web::Data<ConsultConfig>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (page, cfg) = (Page::parse(&page)?, cfg.into_inner());
    let list = db
        .run(move |c| questions::mine(c, &cfg, &user, page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One question: everything for the asker, the expert and admins; for anyone else only a
/// public answered question, with the answer once they unlocked it.
#[utoipa::path(get, path = "/api/v1/questions/{id}", tag = "consultations",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Question id")),
    responses(
        (status = 200, description = "The question", body = QuestionView),
        (status = 404, description = "No such question, or not visible", body = ErrorBody),
    ))]
pub async fn show(
    db: web::Data<Db>,
    cfg: web::Data<ConsultConfig>,
    user: MaybeAuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, cfg) = (path.into_inner(), cfg.into_inner());
    let view = db
        .run(move |c| questions::show(c, &cfg, user.0.as_ref(), &id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The expert answers an open question before its deadline; the held price is captured.
#[utoipa::path(post, path = "/api/v1/questions/{id}/answer", tag = "consultations",
    security(("bearer" = [])), request_body = AnswerRequest,
    params(("id" = String, Path, description = "Question id")),
    responses(
        (status = 200, description = "Answered", body = QuestionView),
        (status = 400, description = "Empty or too long", body = ErrorBody),
        (status = 403, description = "Not the expert", body = ErrorBody),
        (status = 404, description = "No such question", body = ErrorBody),
        (status = 409, description = "Not open, or past the deadline", body = ErrorBody),
    ))]
pub async fn answer(
    orders: web::Data<Addr<OrderActor>>,
    cfg: web::Data<ConsultConfig>,
    clock: web::Data<dyn Clock>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<AnswerRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, text) = (path.into_inner(), body.parse()?);
    let (cfg, now) = (cfg.into_inner(), clock.now());
    let key = format!("question:{id}");
    let view = run(
        &orders,
        Command::new(key, move |c, p, _| {
            questions::answer(c, p, &cfg, &user, &id, &text, now)
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Pays to read the answer of someone else's public answered question
/// (`LYCEUM_QUESTION_UNLOCK_PRICE_MINOR`, shared between asker and expert after the platform
/// fee). Confirm the returned payment; the answer is visible once it is authorised.
#[utoipa::path(post, path = "/api/v1/questions/{id}/unlock", tag = "consultations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Question id")),
    responses(
        (status = 201, description = "Confirm the payment to unlock", body = Unlocking),
        (status = 403, description = "The asker or the expert", body = ErrorBody),
        (status = 404, description = "No such public answered question", body = ErrorBody),
        (status = 409, description = "Already unlocked, or a payment is in progress", body = ErrorBody),
    ))]
pub async fn unlock(
    orders: web::Data<Addr<OrderActor>>,
    cfg: web::Data<ConsultConfig>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, cfg) = (path.into_inner(), cfg.into_inner());
    let key = format!("unlock:{id}:{}", user.id);
    let unlocking = run(
        &orders,
        Command::new(key, move |c, p, _| {
            questions::request_unlock(c, p, &cfg, &user, &id)
        }),
    )
    .await?;
    Ok(HttpResponse::Created().json(unlocking))
}
