//! How a consultation ends in money, as one plain rule over the facts of its session, so that
//! every path that ends one — a party's `end`, the booked time running out, the sweep — decides
//! the same way. Without it, joining the room early and sending `end` settled at 0 (skipping the
//! late-cancellation and no-show fees), and a booking whose parties came at different times
//! matched no rule and stayed authorised forever.
//!
//! The policy (documented in the README):
//! - billable time ran (both present): the used minutes are captured, whoever ended it;
//! - no billable time, a party ends the session before `start + no-show grace`: that party
//!   withdrew — the learner is cancelling (free before the notice period, else the late fee),
//!   the expert is declining (everything released);
//! - no billable time otherwise: a party who did not open the room by `start + grace` is the
//!   no-show, the expert first (expert no-show releases everything, learner no-show costs the
//!   learner no-show fee); if both came in time but never together, nothing was delivered and
//!   nothing is charged (settled as an expert no-show).

use chrono::{DateTime, Duration, Utc};

use super::bookings::Party;
use super::status::BookingStatus;

/// Where a session's money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Billable time ran: capture it.
    Completed,
    /// The learner withdrew before the session began; `late` inside the notice period.
    Canceled {
        /// Whether the late-cancellation fee applies.
        late: bool,
    },
    /// The expert withdrew before the session began: release everything.
    Declined,
    /// The expert was not there: release everything.
    ExpertNoShow,
    /// The learner was not there: the learner no-show fee.
    LearnerNoShow,
}

/// What is known about a session when it is settled.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// Booked start.
    pub start: DateTime<Utc>,
    /// Now.
    pub now: DateTime<Utc>,
    /// Metered seconds with both parties present.
    pub billable_s: i64,
    /// The party who sent `end`, if one did (not when time ran out or the sweep settles).
    pub ended_by: Option<Party>,
    /// When the expert first opened the room.
    pub expert_joined: Option<DateTime<Utc>>,
    /// When the learner first opened the room.
    pub learner_joined: Option<DateTime<Utc>>,
}

/// The operator's timings the rule depends on.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// Cancelling closer than this to the start is late.
    pub cancel_notice: Duration,
    /// How long after the start a party may arrive before they count as a no-show.
    pub no_show_grace: Duration,
}

/// The outcome of a session with these facts.
pub fn outcome(f: &Facts, t: &Timings) -> Outcome {
    if f.billable_s > 0 {
        return Outcome::Completed;
    }
    let deadline = f.start + t.no_show_grace;
    match f.ended_by {
        Some(Party::Learner) if f.now <= deadline => {
            return Outcome::Canceled {
                late: f.now > f.start - t.cancel_notice,
            };
        }
        Some(Party::Expert) if f.now <= deadline => return Outcome::Declined,
        _ => {}
    }
    let came = |joined: Option<DateTime<Utc>>| joined.is_some_and(|j| j <= deadline);
    match (came(f.expert_joined), came(f.learner_joined)) {
        (false, _) => Outcome::ExpertNoShow,
        (true, false) => Outcome::LearnerNoShow,
        (true, true) => Outcome::ExpertNoShow,
    }
}

impl Outcome {
    /// The booking status it ends in.
    pub fn status(self) -> BookingStatus {
        match self {
            Self::Completed => BookingStatus::Completed,
            Self::Canceled { .. } => BookingStatus::Canceled,
            Self::Declined => BookingStatus::Declined,
            Self::ExpertNoShow => BookingStatus::ExpertNoShow,
            Self::LearnerNoShow => BookingStatus::LearnerNoShow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        "2026-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(min)
    }

    const T: Timings = Timings {
        cancel_notice: Duration::hours(24),
        no_show_grace: Duration::minutes(10),
    };

    fn facts(now: i64, ended_by: Option<Party>, e: Option<i64>, l: Option<i64>) -> Facts {
        Facts {
            start: at(0),
            now: at(now),
            billable_s: 0,
            ended_by,
            expert_joined: e.map(at),
            learner_joined: l.map(at),
        }
    }

    #[test]
    fn used_time_is_paid_whoever_ends() {
        let mut f = facts(20, Some(Party::Learner), Some(0), Some(0));
        f.billable_s = 1;
        assert_eq!(outcome(&f, &T), Outcome::Completed);
    }

    #[test]
    fn an_early_end_is_a_cancellation_or_a_decline() {
        // The learner joins an hour early and ends: inside the notice period, so late.
        let f = facts(-60, Some(Party::Learner), None, Some(-60));
        assert_eq!(outcome(&f, &T), Outcome::Canceled { late: true });
        // Two days early: outside the notice period, free.
        let f = facts(-48 * 60, Some(Party::Learner), None, Some(-48 * 60));
        assert_eq!(outcome(&f, &T), Outcome::Canceled { late: false });
        // Ending after the start but before the grace, the expert not there yet: still late.
        let f = facts(5, Some(Party::Learner), None, Some(0));
        assert_eq!(outcome(&f, &T), Outcome::Canceled { late: true });
        let f = facts(-5, Some(Party::Expert), Some(-5), Some(-5));
        assert_eq!(outcome(&f, &T), Outcome::Declined);
    }

    #[test]
    fn after_the_grace_the_absent_party_is_the_no_show() {
        let f = facts(15, Some(Party::Learner), None, Some(0));
        assert_eq!(outcome(&f, &T), Outcome::ExpertNoShow);
        let f = facts(15, Some(Party::Expert), Some(0), None);
        assert_eq!(outcome(&f, &T), Outcome::LearnerNoShow);
        // Arriving after the grace is not arriving.
        let f = facts(40, None, Some(0), Some(25));
        assert_eq!(outcome(&f, &T), Outcome::LearnerNoShow);
        let f = facts(40, None, Some(25), Some(0));
        assert_eq!(outcome(&f, &T), Outcome::ExpertNoShow);
    }

    #[test]
    fn both_came_but_never_together_charges_nothing() {
        let f = facts(40, None, Some(0), Some(5));
        assert_eq!(outcome(&f, &T), Outcome::ExpertNoShow);
        assert_eq!(outcome(&f, &T).status(), BookingStatus::ExpertNoShow);
    }
}
