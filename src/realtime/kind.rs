//! What differs between rooms: a classroom (`class:<live session id>`) runs the classroom
//! rules, a consultation (`consult:<booking id>`) runs the consultation rules and its meter.
//! The room actor keeps the log, members, presence and fan-out; it asks its `RoomKind` what a
//! command means, how an event changes the state and what each member may see.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::broker::Sequenced;
use crate::catalog::events::EventKind;
use crate::classroom::log::{self, StoredEvent};
use crate::classroom::rules::{self, Action, Actor, ClassLimits, ClassState, Draft, Refusal};
use crate::classroom::sessions;
use crate::consultations::bookings;
use crate::consultations::live::{ConsultAction, ConsultState};
use crate::db::DbConnection;

/// A room command, for either kind of room.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomAction {
    /// A classroom command (chat is one, and also works in consultations).
    Class(Action),
    /// A consultation command.
    Consult(ConsultAction),
}

/// The rules and state of one room.
pub enum RoomKind {
    /// A live classroom of a course.
    Class {
        /// Its state (boxed: a class's board is far larger than a consultation's meter).
        state: Box<ClassState>,
        /// The course, for behaviour events.
        course_id: String,
    },
    /// A paid consultation.
    Consult {
        /// Its state and meter.
        state: ConsultState,
        /// The booking.
        booking_id: String,
    },
}

/// A room read from the database: its kind and state before the log, and the log.
pub struct Loaded {
    /// Kind and initial state.
    pub kind: RoomKind,
    /// The log's epoch.
    pub epoch: String,
    /// Every event of the epoch.
    pub events: Vec<StoredEvent>,
    /// Booked seconds stored for a consultation (the log's grants are reconciled with it).
    pub booked_s: Option<i64>,
}

/// Reads the room `name` (`class:…` or `consult:…`) from the database; a class grows within
/// `class`.
pub fn load(
    c: &mut DbConnection,
    name: &str,
    grace_s: i64,
    class: ClassLimits,
) -> Result<Loaded, String> {
    let (epoch, _) = log::open(c, name).map_err(|e| e.to_string())?;
    let events = log::all(c, name, &epoch).map_err(|e| e.to_string())?;
    if let Some(id) = name.strip_prefix("consult:") {
        let b = bookings::find(c, id).map_err(|e| e.to_string())?;
        let (billed, open) = bookings::stored_meter(c, id).map_err(|e| e.to_string())?;
        let mut base = b.clone();
        base.extra_minutes = 0;
        return Ok(Loaded {
            kind: RoomKind::Consult {
                state: ConsultState::new(&base, grace_s, billed, open),
                booking_id: b.id.clone(),
            },
            epoch,
            events,
            booked_s: Some(b.limit_s()),
        });
    }
    let live_id = name.strip_prefix("class:").unwrap_or(name);
    let live = sessions::find(c, live_id).map_err(|e| e.to_string())?;
    let course = crate::catalog::store::find_course(c, &live.course_id)
        .map_err(|e| e.to_string())?
        .ok_or("course not found")?;
    let mut state = ClassState::new(&live.status);
    state.set_limits(class);
    for user in sessions::staff_of(c, &course).map_err(|e| e.to_string())? {
        state.add_staff(&user);
    }
    Ok(Loaded {
        kind: RoomKind::Class {
            state: Box::new(state),
            course_id: live.course_id,
        },
        epoch,
        events,
        booked_s: None,
    })
}

impl RoomKind {
    /// Folds a stored event into the state.
    pub fn apply(&mut self, e: &Sequenced) {
        match self {
            Self::Class { state, .. } => state.apply(e.seq, &e.kind, &e.data, e.at),
            Self::Consult { state, .. } => state.apply(&e.kind, &e.data),
        }
    }

    /// What members other than staff and the event's owner see, when that differs.
    pub fn public_view(&self, kind: &str, data: &Value) -> Option<Value> {
        match self {
            Self::Class { .. } => rules::public_view(kind, data),
            Self::Consult { .. } => crate::consultations::live::public_view(kind, data),
        }
    }

    /// Whether a member-specific view is for the event's owner alone, staff included: in a
    /// consultation the expert is an instructor, yet must not see the learner's payment.
    pub fn views_are_private(&self) -> bool {
        matches!(self, Self::Consult { .. })
    }

    /// Why `user` may not join, if they may not (kicked from a class; staff never are).
    pub fn refuse_join(&self, user: &str, staff: bool) -> Option<Refusal> {
        match self {
            Self::Class { state, .. } if !staff && state.is_kicked(user) => Some(Refusal {
                code: "forbidden",
                message: "you were removed from this session".into(),
            }),
            _ => None,
        }
    }

    /// Notes a joining member (staff of a class cannot be muted or kicked).
    pub fn note_member(&mut self, user: &str, staff: bool) {
        if let (Self::Class { state, .. }, true) = (self, staff) {
            state.add_staff(user);
        }
    }

    /// The room's state as `user` sees it.
    pub fn snapshot(&self, user: &str, staff: bool, now: DateTime<Utc>) -> Value {
        match self {
            Self::Class { state, .. } => state.snapshot(user, staff),
            Self::Consult { state, .. } => state.snapshot(now),
        }
    }

    /// What a member's command means here.
    pub fn decide(
        &self,
        actor: &Actor,
        action: RoomAction,
        now: DateTime<Utc>,
    ) -> Result<Draft, Refusal> {
        match (self, action) {
            (Self::Class { state, .. }, RoomAction::Class(a)) => state.decide(actor, a, now),
            (Self::Consult { state, .. }, RoomAction::Class(Action::Chat { text })) => {
                state.chat(actor.user, actor.name, &text)
            }
            (Self::Consult { state, .. }, RoomAction::Consult(a)) => state.decide(actor.user, a),
            _ => Err(Refusal {
                code: "invalid",
                message: "that command does not apply to this room".into(),
            }),
        }
    }

    /// The behaviour event a stored event means for the recommender, with its course.
    pub fn behaviour(&self, kind: &str) -> Option<(EventKind, String)> {
        let Self::Class { course_id, .. } = self else {
            return None;
        };
        let k = match kind {
            "question_asked" => EventKind::QuestionAsked,
            "question_voted" => EventKind::QuestionUpvoted,
            "poll_voted" => EventKind::PollVoted,
            _ => return None,
        };
        Some((k, course_id.clone()))
    }
}
