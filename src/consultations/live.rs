//! The rules of a live consultation room (`consult:<booking id>`), as plain functions like the
//! classroom's: chat between the two parties, ending the session, extensions (the learner asks,
//! the expert accepts, the extra time counts once it is paid for) and the metering that decides
//! what is billed. The room feeds it presence changes and clock ticks; it answers with events
//! to store and announce.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::bookings::{BookingRow, Party, SLOT_MINUTES, party_of};
use super::metering::{Change, Meter};
use super::status::BookingStatus;
use crate::classroom::rules::{Draft, MAX_CHAT_CHARS, Refusal};
use crate::payments::ProviderPayment;

/// Longest extension one request may ask for, in minutes.
pub const MAX_EXTENSION_MINUTES: i64 = 60;

/// Commands only a consultation room knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultAction {
    /// Either party ends the session now.
    End,
    /// The learner asks for more minutes.
    Extend {
        /// Minutes, a multiple of 5.
        minutes: i64,
    },
    /// The expert answers the pending request.
    ExtendAnswer {
        /// Accept (then the learner authorises the extra price) or decline.
        accept: bool,
    },
    /// The extra time was paid for (from the payment webhook, never from a member).
    Granted {
        /// Minutes added.
        minutes: i64,
    },
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

fn draft(kind: &'static str, data: Value) -> Draft {
    Draft { kind, data }
}

/// A consultation's state, rebuilt from its booking, stored intervals and room log.
#[derive(Debug, Clone)]
pub struct ConsultState {
    expert_id: String,
    learner_id: String,
    meter: Meter,
    ended: bool,
    pending_extension: Option<i64>,
    both_present: bool,
}

impl ConsultState {
    /// The room of `booking`, resuming `billed_s` seconds and an interval left open.
    pub fn new(
        booking: &BookingRow,
        grace_s: i64,
        billed_s: i64,
        left_open: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Self {
        Self {
            expert_id: booking.expert_id.clone(),
            learner_id: booking.learner_id.clone(),
            meter: Meter::new(booking.limit_s(), grace_s, billed_s, left_open),
            ended: !booking.status().is_ok_and(BookingStatus::is_live),
            pending_extension: None,
            both_present: false,
        }
    }

    /// Which party `user` is, if any.
    pub fn party(&self, user: &str) -> Option<Party> {
        party_of(&self.expert_id, &self.learner_id, user)
    }

    /// Raises the booked time to what the booking says (extensions granted while the room was
    /// not running, which its log does not show).
    pub fn sync_booked(&mut self, booked_s: i64) {
        let missing = booked_s - self.meter.limit_s();
        if missing > 0 {
            self.meter.extend(missing);
        }
    }

    /// Whether the session is over (no more chat, no more metering).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// A chat message from `user`.
    pub fn chat(&self, user: &str, name: &str, text: &str) -> Result<Draft, Refusal> {
        if self.ended {
            return Err(refuse("forbidden", "the session has ended"));
        }
        if self.party(user).is_none() {
            return Err(refuse("forbidden", "only the two parties chat here"));
        }
        let text = text.trim();
        match text.chars().count() {
            0 => Err(refuse("invalid", "a message must not be empty")),
            n if n > MAX_CHAT_CHARS => Err(refuse(
                "too_large",
                format!("a message must be at most {MAX_CHAT_CHARS} characters"),
            )),
            _ => Ok(draft(
                "chat",
                json!({"user": user, "name": name, "text": text}),
            )),
        }
    }

    /// Checks a consultation command of `user`.
    pub fn decide(&self, user: &str, action: ConsultAction) -> Result<Draft, Refusal> {
        if self.ended {
            return Err(refuse("forbidden", "the session has ended"));
        }
        let party = self.party(user);
        match action {
            ConsultAction::End if party.is_some() => Ok(draft(
                "session_ended",
                json!({"reason": "ended_by_party", "by": user}),
            )),
            ConsultAction::Extend { minutes } if party == Some(Party::Learner) => {
                if self.pending_extension.is_some() {
                    return Err(refuse("conflict", "an extension is already pending"));
                }
                if minutes <= 0 || minutes % SLOT_MINUTES != 0 || minutes > MAX_EXTENSION_MINUTES {
                    return Err(refuse(
                        "invalid",
                        format!(
                            "extensions are multiples of 5 up to {MAX_EXTENSION_MINUTES} minutes"
                        ),
                    ));
                }
                Ok(draft("extension_requested", json!({"minutes": minutes})))
            }
            ConsultAction::ExtendAnswer { accept } if party == Some(Party::Expert) => {
                let Some(minutes) = self.pending_extension else {
                    return Err(refuse("conflict", "no extension is pending"));
                };
                let kind = if accept {
                    "extension_accepted"
                } else {
                    "extension_declined"
                };
                Ok(draft(kind, json!({"minutes": minutes})))
            }
            _ => Err(refuse("forbidden", "not yours to do in this session")),
        }
    }

    /// Folds a stored event into the state.
    pub fn apply(&mut self, kind: &str, data: &Value) {
        let minutes = data["minutes"].as_i64();
        match kind {
            "session_ended" => self.ended = true,
            "extension_requested" => self.pending_extension = minutes,
            "extension_declined" | "extension_accepted" => self.pending_extension = None,
            "extension_granted" => self.meter.extend(minutes.unwrap_or(0) * 60),
            _ => {}
        }
    }

    /// The parties present changed: metering starts, pauses or resumes.
    pub fn presence(&mut self, expert: bool, learner: bool, now: DateTime<Utc>) -> Vec<Change> {
        if self.ended {
            return Vec::new();
        }
        let both = expert && learner;
        if both == self.both_present {
            return self.meter.tick(now);
        }
        self.both_present = both;
        if both {
            self.meter.both_present(now)
        } else {
            self.meter.one_left(now)
        }
    }

    /// Time passed: grace periods run out, warnings fire, the limit ends the session.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        if self.ended {
            return Vec::new();
        }
        self.meter.tick(now)
    }

    /// Closes the meter when the session ends.
    pub fn close(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        self.meter.end(now)
    }

    /// Whether an interval is running and both are present (worth a checkpoint).
    pub fn metering(&self) -> bool {
        self.both_present && self.meter.running()
    }

    /// The `extension_payment` event: the learner confirms `payment` to get `minutes` more. It
    /// names the learner as its owner, so only they receive the payment id (see
    /// [`public_view`]); a payee holding the payer's handle is what payer binding forbids.
    pub fn extension_payment(&self, minutes: i64, payment: &ProviderPayment) -> Draft {
        draft(
            "extension_payment",
            json!({"user": self.learner_id, "minutes": minutes, "payment_id": payment.id,
                   "amount_minor": payment.amount_minor, "currency": payment.currency}),
        )
    }

    /// The room as a party sees it.
    pub fn snapshot(&self, now: DateTime<Utc>) -> Value {
        let billable = self.meter.billable_at(now);
        json!({
            "status": if self.ended { "ended" } else { "open" },
            "booked_s": self.meter.limit_s(),
            "billable_s": billable,
            "remaining_s": self.meter.limit_s() - billable,
            "metering": self.metering(),
            "pending_extension": self.pending_extension,
        })
    }
}

/// What a consultation event looks like to the members who do not own it, when that differs:
/// the expert sees that an extension payment is awaited, never its id.
pub fn public_view(kind: &str, data: &Value) -> Option<Value> {
    if kind != "extension_payment" {
        return None;
    }
    let mut public = data.clone();
    if let Some(o) = public.as_object_mut() {
        o.remove("payment_id");
    }
    Some(public)
}

/// The room event a metering change is announced as.
pub fn announce(change: &Change) -> Draft {
    match change {
        Change::Started { at } => draft(
            "metering_started",
            json!({"at": crate::clock::rfc3339(*at)}),
        ),
        Change::Paused { at } => {
            draft("metering_paused", json!({"at": crate::clock::rfc3339(*at)}))
        }
        Change::Resumed { at } => draft(
            "metering_resumed",
            json!({"at": crate::clock::rfc3339(*at)}),
        ),
        Change::Stopped { at, billed_s } => draft(
            "metering_stopped",
            json!({"at": crate::clock::rfc3339(*at), "billable_s": billed_s}),
        ),
        Change::Warning { remaining_s } => {
            draft("time_warning", json!({"remaining_s": remaining_s}))
        }
        Change::LimitReached => draft("session_ended", json!({"reason": "time_up"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(minutes: i32) -> BookingRow {
        let t = chrono::NaiveDateTime::default();
        BookingRow {
            id: "b".into(),
            expert_id: "e".into(),
            learner_id: "l".into(),
            starts_at: t,
            minutes,
            extra_minutes: 0,
            rate_per_minute_minor: 100,
            currency: "EUR".into(),
            status: BookingStatus::Confirmed.as_str().into(),
            billable_seconds: 0,
            charged_minor: 0,
            expert_joined_at: None,
            learner_joined_at: None,
            ended_at: None,
            settled_at: None,
            expires_at: t,
            created_at: t,
            updated_at: t,
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::default() + chrono::Duration::seconds(s)
    }

    #[test]
    fn only_the_parties_chat_and_nobody_after_the_end() {
        let mut s = ConsultState::new(&booking(30), 30, 0, None);
        assert!(s.chat("e", "E", "hi").is_ok());
        assert_eq!(s.chat("x", "X", "hi").unwrap_err().code, "forbidden");
        assert_eq!(s.chat("l", "L", " ").unwrap_err().code, "invalid");
        let end = s.decide("l", ConsultAction::End).unwrap();
        s.apply(end.kind, &end.data);
        assert_eq!(s.chat("e", "E", "hi").unwrap_err().code, "forbidden");
    }

    #[test]
    fn the_learner_asks_the_expert_answers_and_paid_time_extends() {
        let mut s = ConsultState::new(&booking(30), 30, 0, None);
        let ask = ConsultAction::Extend { minutes: 15 };
        assert_eq!(s.decide("e", ask.clone()).unwrap_err().code, "forbidden");
        let bad = ConsultAction::Extend { minutes: 7 };
        assert_eq!(s.decide("l", bad).unwrap_err().code, "invalid");
        let d = s.decide("l", ask.clone()).unwrap();
        s.apply(d.kind, &d.data);
        assert_eq!(s.decide("l", ask).unwrap_err().code, "conflict");
        let yes = ConsultAction::ExtendAnswer { accept: true };
        assert_eq!(s.decide("l", yes.clone()).unwrap_err().code, "forbidden");
        let d = s.decide("e", yes.clone()).unwrap();
        assert_eq!(d.kind, "extension_accepted");
        s.apply(d.kind, &d.data);
        assert_eq!(s.decide("e", yes).unwrap_err().code, "conflict");
        s.apply("extension_granted", &json!({"minutes": 15}));
        assert_eq!(s.snapshot(t(0))["booked_s"], 45 * 60);
    }

    #[test]
    fn presence_drives_the_meter() {
        let mut s = ConsultState::new(&booking(30), 30, 0, None);
        assert_eq!(s.presence(true, false, t(0)), vec![]);
        assert_eq!(
            s.presence(true, true, t(10)),
            vec![Change::Started { at: t(10) }]
        );
        assert!(s.metering());
        assert_eq!(
            s.presence(true, false, t(70)),
            vec![Change::Paused { at: t(70) }]
        );
        assert_eq!(s.snapshot(t(80))["billable_s"], 70);
        let closed = s.tick(t(101));
        assert_eq!(
            closed,
            vec![Change::Stopped {
                at: t(70),
                billed_s: 60
            }]
        );
        assert_eq!(announce(&closed[0]).kind, "metering_stopped");
    }
}
