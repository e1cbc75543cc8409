//! Who may join which room, checked against the database before a session joins:
//!
//! - `class:<live session id>`: the course's instructor, admins, and learners entitled to it;
//! - `consult:<booking id>`: the booking's expert and learner, and admins, while the booking is
//!   confirmed or in progress.
//!
//! And what an accepted join records: a `live_join` behaviour event for a class, the party's
//! arrival (which starts the session) for a consultation.

use chrono::{DateTime, Utc};

use super::room::MemberInfo;
use crate::accounts::{AuthUser, Role};
use crate::catalog::events::{self, EventKind};
use crate::classroom::sessions;
use crate::consultations::bookings::{self, BookingRow, Party};
use crate::consultations::status::BookingStatus;
use crate::db::{DbConnection, DbError};
use crate::error::ApiError;

/// Why a join was refused: a contract error code and a message.
pub type Refused = (&'static str, String);

/// What was admitted, for recording the join once the room accepts it.
pub enum Admission {
    /// A class of `course_id`.
    Class {
        /// For the behaviour event.
        course_id: String,
    },
    /// A consultation; `party` is none for an admin.
    Consult {
        /// The booking.
        booking: Box<BookingRow>,
        /// Which side joins.
        party: Option<Party>,
    },
}

/// A refusal from any error the checks can meet, in its contract code.
pub fn refused(e: impl Into<ApiError>) -> Refused {
    let api = e.into();
    (api.code(), api.to_string())
}

fn display_name(c: &mut DbConnection, user: &str) -> Result<String, Refused> {
    Ok(crate::accounts::store::find_user(c, user)
        .map_err(|e| refused(DbError::from(e)))?
        .map_or_else(String::new, |u| u.display_name))
}

/// Checks that `user` may join `room`, returning who they are there and what to record.
pub fn admit(
    c: &mut DbConnection,
    user: &AuthUser,
    room: &str,
) -> Result<(MemberInfo, Admission), Refused> {
    let (role, admission) = if let Some(id) = room.strip_prefix("class:") {
        let (live, teaches) = sessions::may_join(c, user, id).map_err(refused)?;
        let role = match (teaches, user.role) {
            (true, Role::Admin) => "admin",
            (true, _) => "instructor",
            (false, _) => "learner",
        };
        let course_id = live.course_id;
        (role, Admission::Class { course_id })
    } else if let Some(id) = room.strip_prefix("consult:") {
        let booking = bookings::visible(c, user, id).map_err(refused)?;
        if !booking.status().is_ok_and(BookingStatus::is_live) {
            let why = format!("this consultation is {}", booking.status);
            return Err(("forbidden", why));
        }
        let party = booking.party(&user.id);
        let role = match party {
            Some(Party::Expert) => "expert",
            Some(Party::Learner) => "learner",
            None => "admin",
        };
        let booking = Box::new(booking);
        (role, Admission::Consult { booking, party })
    } else {
        let why = "rooms are named class:<live session id> or consult:<booking id>";
        return Err(("not_found", why.to_owned()));
    };
    let member = MemberInfo {
        user_id: user.id.clone(),
        name: display_name(c, &user.id)?,
        role,
    };
    Ok((member, admission))
}

/// Records an accepted join of `user` at `now`.
pub fn joined(
    c: &mut DbConnection,
    user: &str,
    admission: &Admission,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    match admission {
        Admission::Class { course_id } => {
            let kind = EventKind::LiveJoin;
            events::record(c, user, course_id, kind, kind.default_weight())
                .map_err(|e| ApiError::from(DbError::from(e)))
        }
        Admission::Consult {
            booking,
            party: Some(party),
        } => Ok(bookings::joined(c, booking, *party, now)?),
        Admission::Consult { party: None, .. } => Ok(()),
    }
}
