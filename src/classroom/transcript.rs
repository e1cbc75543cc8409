//! `GET /api/v1/live-sessions/{id}/transcript`: a session's chat and Q&A read back from its
//! room log, for the people who may join it. Deleted messages are left out; the question board
//! is the room state folded from the whole log, so it says exactly what the room said (anonymous
//! askers hidden from other learners, dismissed questions left out, held ones shown only to staff
//! and their askers).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::log;
use super::rules::ClassState;
use super::sessions::{self, ClassError};
use crate::accounts::AuthUser;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};

/// Most chat messages one page holds.
pub const MAX_PAGE: usize = 1000;

/// Query of the transcript.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TranscriptQuery {
    /// Only messages after this seq (for the next page).
    pub after: Option<i64>,
    /// Messages per page, 1–1000 (default 500).
    pub limit: Option<usize>,
}

/// One chat message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// Its seq in the room log.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Author's user id.
    pub user: String,
    /// Author's display name.
    pub name: String,
    /// The text.
    pub text: String,
}

/// A session's chat and questions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    /// The live session.
    pub session: sessions::LiveSession,
    /// Chat messages in order, one page.
    pub messages: Vec<Message>,
    /// `after` for the next page of messages, if there is one.
    pub next_after: Option<i64>,
    /// The question board as it stands: answered and open questions with votes and answers.
    #[schema(value_type = Vec<Object>)]
    pub questions: Vec<Value>,
}

/// Reads the transcript of live session `id` as `user` may see it.
pub fn read(
    conn: &mut crate::db::DbConnection,
    user: &AuthUser,
    id: &str,
    after: i64,
    limit: usize,
) -> Result<Transcript, ClassError> {
    let (session, teaches) = sessions::may_join(conn, user, id)?;
    let room = format!("class:{id}");
    let events = match log::epoch(conn, &room)? {
        Some(epoch) => log::all(conn, &room, &epoch)?,
        None => Vec::new(),
    };
    let mut state = ClassState::new(&session.status);
    let mut messages = Vec::new();
    for e in &events {
        let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
        let at = e.created_at.and_utc();
        state.apply(e.seq, &e.kind, &data, at);
        let s = |k: &str| data[k].as_str().unwrap_or_default().to_owned();
        match e.kind.as_str() {
            "chat" => messages.push(Message {
                id: e.seq,
                at: at.to_rfc3339(),
                user: s("user"),
                name: s("name"),
                text: s("text"),
            }),
            "message_deleted" => {
                let gone = data["message"].as_i64();
                messages.retain(|m| Some(m.id) != gone);
            }
            _ => {}
        }
    }
    messages.retain(|m| m.id > after);
    let next_after = (messages.len() > limit).then(|| messages[limit - 1].id);
    messages.truncate(limit);
    let mut questions = match state.snapshot(&user.id, teaches)["questions"].take() {
        Value::Array(q) => q,
        _ => Vec::new(),
    };
    questions.sort_by_key(|q| q["id"].as_i64());
    Ok(Transcript {
        session,
        messages,
        next_after,
        questions,
    })
}

/// The chat and Q&A of a live session, for its instructor, admins and entitled learners.
#[utoipa::path(get, path = "/api/v1/live-sessions/{id}/transcript", tag = "classroom",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Live session id"), TranscriptQuery),
    responses(
        (status = 200, description = "Transcript", body = Transcript),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 403, description = "Not entitled", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    ))]
pub async fn transcript(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<TranscriptQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(500);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let after = query.after.unwrap_or(0);
    let id = path.into_inner();
    let t = db.run(move |c| read(c, &user, &id, after, limit)).await?;
    Ok(HttpResponse::Ok().json(t))
}
