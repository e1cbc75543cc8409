//! `GET /api/v1/live-sessions/{id}/transcript`: a session's chat and Q&A read back from its
//! room log, for the people who may join it (a kicked learner may not, as they may not rejoin).
//!
//! A transcript is one page of the log: the chat messages and questions with an id after `after`,
//! at most `limit` of them together, in id order. Deleted messages are left out (they still take
//! their place in the page); questions are shown as the room state says they stand now
//! (anonymous askers hidden from other learners, dismissed questions left out, held ones shown
//! only to staff and their askers).
//!
//! The question board and the kicks come from the room state folded from the log. Folding the
//! whole log on every read would make each read as costly as the class is long, so
//! [`Transcripts`] keeps the folded state of recently read rooms and each read folds only the
//! events stored since the previous one; chat pages are read straight from the log's index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::log;
use super::rules::ClassState;
use super::sessions::{self, ClassError};
use crate::accounts::AuthUser;
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, ErrorBody};

/// Most items (messages and questions together) one page holds.
pub const MAX_PAGE: usize = 1000;

/// Rooms whose folded state [`Transcripts`] keeps; the least recently read goes first.
pub const CACHED_ROOMS: usize = 64;

/// Query of the transcript.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TranscriptQuery {
    /// Only messages and questions with an id after this seq (`next_after` of the last page).
    pub after: Option<i64>,
    /// Messages and questions per page together, 1–1000 (default 500).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One chat message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// Its seq in the room log.
    pub id: i64,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
    /// Author's user id.
    pub user: String,
    /// Author's display name.
    pub name: String,
    /// The text.
    pub text: String,
}

/// A session's chat and questions, one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    /// The live session.
    pub session: sessions::LiveSession,
    /// Chat messages of this page, in order.
    pub messages: Vec<Message>,
    /// `after` for the next page, if there is one.
    pub next_after: Option<i64>,
    /// Questions of this page, by id, as they stand now (votes, status, answer).
    #[schema(value_type = Vec<Object>)]
    pub questions: Vec<Value>,
}

/// A room's state folded from its log up to `seq` of `epoch`.
struct Folded {
    epoch: String,
    seq: i64,
    state: ClassState,
}

/// One room's folded state, shared by the reads that bring it up to date (`None` until the first).
type Slot = Arc<Mutex<Option<Folded>>>;

/// The folded states of recently read rooms, shared by every transcript read of this node (at
/// most [`CACHED_ROOMS`] of them, each as bounded as a live room's state).
#[derive(Default)]
pub struct Transcripts {
    // Std mutexes: never held across an await. The map's lock is held for a lookup; a room's
    // while one read brings its state up to date, so two reads never fold the same events.
    rooms: Mutex<HashMap<String, (Instant, Slot)>>,
}

impl Transcripts {
    /// The slot of `room`, made if needed (dropping the least recently read room when full).
    fn slot(&self, room: &str) -> Slot {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((read, slot)) = rooms.get_mut(room) {
            *read = now;
            return slot.clone();
        }
        if rooms.len() >= CACHED_ROOMS {
            let oldest = rooms
                .iter()
                .min_by_key(|(_, (read, _))| *read)
                .map(|(name, _)| name.clone());
            if let Some(name) = oldest {
                rooms.remove(&name);
            }
        }
        let slot = Arc::new(Mutex::new(None));
        rooms.insert(room.to_owned(), (now, slot.clone()));
        slot
    }
}

/// Brings `folded` (or a fresh state, when there is none or the epoch changed) up to the end of
/// the log of `room` in `epoch`.
fn fold(
    conn: &mut DbConnection,
    folded: Option<Folded>,
    room: &str,
    epoch: &str,
    status: &str,
) -> Result<Folded, ClassError> {
    let mut f = match folded {
        Some(f) if f.epoch == epoch => f,
        _ => Folded {
            epoch: epoch.to_owned(),
            seq: 0,
            state: ClassState::new(status),
        },
    };
    for e in log::after(conn, room, epoch, f.seq)? {
        let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
        f.state.apply(e.seq, &e.kind, &data, e.created_at.and_utc());
        f.seq = e.seq;
    }
    f.state.set_status(status);
    Ok(f)
}

/// Reads one page of the transcript of live session `id` as `user` may see it.
pub fn read(
    conn: &mut DbConnection,
    cache: &Transcripts,
    user: &AuthUser,
    id: &str,
    after: i64,
    limit: usize,
) -> Result<Transcript, ClassError> {
    let (session, teaches) = sessions::may_join(conn, user, id)?;
    let room = format!("class:{id}");
    let Some(epoch) = log::epoch(conn, &room)? else {
        return Ok(Transcript {
            session,
            messages: Vec::new(),
            next_after: None,
            questions: Vec::new(),
        });
    };
    let slot = cache.slot(&room);
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    let stale = guard.take();
    let folded = guard.insert(fold(conn, stale, &room, &epoch, &session.status)?);
    if !teaches && folded.state.is_kicked(&user.id) {
        return Err(ClassError::Forbidden(
            "you were removed from this session".into(),
        ));
    }
    let questions = folded
        .state
        .questions_after(&user.id, teaches, after, limit + 1);
    let chats = log::page_of(conn, &room, &epoch, "chat", after, limit + 1)?;
    // The page ends at its `limit`-th item, deleted messages counted, so the next page starts
    // right after it whatever was deleted.
    let mut ids: Vec<i64> = chats.iter().map(|e| e.seq).collect();
    ids.extend(questions.iter().map(|(id, _)| *id));
    ids.sort_unstable();
    let next_after = ids.get(limit).and(ids.get(limit - 1)).copied();
    let within = |seq: i64| next_after.is_none_or(|end| seq <= end);
    // A message stored after the fold cannot have been deleted in what was folded.
    let kept = |seq: i64| seq > folded.seq || folded.state.has_message(seq);
    let messages = chats
        .into_iter()
        .filter(|e| within(e.seq) && kept(e.seq))
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
            let s = |k: &str| data[k].as_str().unwrap_or_default().to_owned();
            Message {
                id: e.seq,
                at: crate::clock::rfc3339(e.created_at.and_utc()),
                user: s("user"),
                name: s("name"),
                text: s("text"),
            }
        })
        .collect();
    let questions = questions
        .into_iter()
        .filter(|(id, _)| within(*id))
        .map(|(_, q)| q)
        .collect();
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
    cache: web::Data<Transcripts>,
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
    let cache = cache.into_inner();
    let t = db
        .run(move |c| read(c, &cache, &user, &id, after, limit))
        .await?;
    Ok(HttpResponse::Ok().json(t))
}
