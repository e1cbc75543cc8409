//! The rules of a live classroom, as plain functions over `ClassState`:
//!
//! - `decide` checks one command of one member against the state and either refuses it (with a
//!   contract error code) or turns it into an event draft;
//! - `apply` folds a stored event into the state (the room does this for live events and, after
//!   a restart, for the whole log, so state survives restarts);
//! - `snapshot` is the state as one viewer may see it (`joined.state`);
//! - `public_view` is what members other than staff and the event's author see of an event
//!   (anonymous askers, held questions and individual votes are hidden).
//!
//! Ids: a question's id is the seq of its `question_asked` event, a poll's the seq of its
//! `poll_opened`, a chat message's the seq of its `chat` event.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Longest answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 4000;
/// Longest poll question or option, in characters.
pub const MAX_POLL_CHARS: usize = 200;
/// Most options in a poll.
pub const MAX_POLL_OPTIONS: usize = 10;
/// Longest slow mode, in seconds.
pub const MAX_SLOW_MODE_S: u32 = 3600;

/// How far one class may grow, so no member can make every `joined` frame, every transcript and
/// the room's memory as large as they like: open questions per learner and per room, and how
/// many questions `joined.state` carries (the rest are paged through the transcript).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassLimits {
    /// Open questions (neither answered nor dismissed, held ones included) one learner may have
    /// at a time (`LYCEUM_CLASS_OPEN_QUESTIONS_PER_USER`).
    pub open_questions_per_user: usize,
    /// Open questions the whole room may have at a time (`LYCEUM_CLASS_OPEN_QUESTIONS`).
    pub open_questions: usize,
    /// Questions in the board of a `joined.state`, best first (`LYCEUM_CLASS_BOARD_SIZE`).
    pub board: usize,
}

impl Default for ClassLimits {
    /// A learner waits for an answer after five open questions (Slido-like boards cap far
    /// lower than what a flood needs); a room holds 500 open questions, and a `joined` frame
    /// the top 50.
    fn default() -> Self {
        Self {
            open_questions_per_user: 5,
            open_questions: 500,
            board: 50,
        }
    }
}

/// Who sends a command, as the room knows them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// User id.
    pub user: &'a str,
    /// Display name, put into events so clients need no lookups.
    pub name: &'a str,
    /// The course's instructor or an admin: runs the room.
    pub staff: bool,
}

/// A moderation or Q&A-management action (staff only).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    /// Stop a member from chatting and asking.
    Mute {
        /// The member.
        user: String,
    },
    /// Let a muted member speak again.
    Unmute {
        /// The member.
        user: String,
    },
    /// Remove a member; they cannot rejoin this session.
    Kick {
        /// The member.
        user: String,
    },
    /// Delete a chat message.
    Delete {
        /// The message's seq.
        message: i64,
    },
    /// Minimum seconds between two chat messages of a learner; 0 turns it off.
    SlowMode {
        /// Seconds.
        seconds: u32,
    },
    /// Only staff may chat while locked.
    LockChat {
        /// Locked or not.
        locked: bool,
    },
    /// Hold new questions until staff approve them.
    HoldQuestions {
        /// Hold or not.
        held: bool,
    },
    /// Publish a held question.
    Approve {
        /// The question.
        question: i64,
    },
    /// Pin or unpin a question.
    Pin {
        /// The question.
        question: i64,
        /// Pin (default) or unpin.
        #[serde(default = "yes")]
        pinned: bool,
    },
    /// Remove a question from the board.
    Dismiss {
        /// The question.
        question: i64,
    },
    /// Lower a member's raised hand.
    LowerHand {
        /// The member.
        user: String,
    },
}

fn yes() -> bool {
    true
}

/// A room command, already parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Post to the chat.
    Chat {
        /// The message.
        text: String,
    },
    /// Ask a question.
    Ask {
        /// The question.
        text: String,
        /// Hide the asker from other learners.
        anonymous: bool,
    },
    /// Upvote a question (once).
    Vote {
        /// The question.
        question: i64,
    },
    /// Take an upvote back.
    Unvote {
        /// The question.
        question: i64,
    },
    /// Answer a question (staff); no text just marks it answered.
    Answer {
        /// The question.
        question: i64,
        /// The answer.
        text: Option<String>,
    },
    /// Raise or lower one's own hand.
    Hand {
        /// Raised or lowered.
        raised: bool,
    },
    /// Open a poll (staff).
    PollOpen {
        /// The question.
        question: String,
        /// 2 to 10 options.
        options: Vec<String>,
    },
    /// Vote in an open poll, once.
    PollVote {
        /// The poll.
        poll: i64,
        /// Index into its options.
        option: usize,
    },
    /// Close a poll (staff).
    PollClose {
        /// The poll.
        poll: i64,
    },
    /// Staff actions.
    Moderate(Moderation),
    /// The live session changed status (from the HTTP API).
    Status {
        /// `scheduled`, `live` or `ended`.
        status: String,
    },
}

/// Why a command was refused: a contract error code and a message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `forbidden`, `not_found`, `invalid`, `too_large`, `muted`, `slow_mode`, `conflict`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// An event to be given a seq and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Event kind.
    pub kind: &'static str,
    /// Payload.
    pub data: Value,
}

fn draft(kind: &'static str, data: Value) -> Result<Draft, Refusal> {
    Ok(Draft { kind, data })
}

/// Where a question stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuestionStatus {
    Open,
    Answered,
    Dismissed,
}

#[derive(Debug, Clone)]
struct Question {
    asker: String,
    name: String,
    text: String,
    anonymous: bool,
    held: bool,
    status: QuestionStatus,
    pinned: bool,
    voters: HashSet<String>,
    answer: Option<Value>,
}

#[derive(Debug, Clone)]
struct Poll {
    question: String,
    options: Vec<String>,
    votes: HashMap<String, usize>,
    open: bool,
}

impl Poll {
    fn tallies(&self) -> Vec<usize> {
        let mut t = vec![0; self.options.len()];
        for &o in self.votes.values() {
            if let Some(n) = t.get_mut(o) {
                *n += 1;
            }
        }
        t
    }
}

/// A classroom's state, rebuilt from its log.
#[derive(Debug, Clone)]
pub struct ClassState {
    status: String,
    chat_locked: bool,
    slow_mode_s: u32,
    hold_questions: bool,
    questions: BTreeMap<i64, Question>,
    hands: Vec<(String, String)>,
    polls: BTreeMap<i64, Poll>,
    chats: HashMap<i64, String>,
    muted: HashSet<String>,
    kicked: HashSet<String>,
    last_chat: HashMap<String, DateTime<Utc>>,
    staff: HashSet<String>,
    limits: ClassLimits,
    /// Open questions per asker, and in all, kept as events are folded so `ask` checks its
    /// quota without walking the board.
    open_by: HashMap<String, usize>,
    open: usize,
}

fn text_of(text: &str, what: &str, max: usize) -> Result<String, Refusal> {
    let text = text.trim();
    match text.chars().count() {
        0 => Err(refuse("invalid", format!("{what} must not be empty"))),
        n if n > max => Err(refuse(
            "too_large",
            format!("{what} must be at most {max} characters"),
        )),
        _ => Ok(text.to_owned()),
    }
}

impl ClassState {
    /// A fresh room for a session with the given status.
    pub fn new(status: &str) -> Self {
        Self {
            status: status.to_owned(),
            chat_locked: false,
            slow_mode_s: 0,
            hold_questions: false,
            questions: BTreeMap::new(),
            hands: Vec::new(),
            polls: BTreeMap::new(),
            chats: HashMap::new(),
            muted: HashSet::new(),
            kicked: HashSet::new(),
            last_chat: HashMap::new(),
            staff: HashSet::new(),
            limits: ClassLimits::default(),
            open_by: HashMap::new(),
            open: 0,
        }
    }

    /// Sets how far the room may grow (the node's configuration).
    pub fn set_limits(&mut self, limits: ClassLimits) {
        self.limits = limits;
    }

    /// Records that `user` runs this room (its instructor, or an admin), so moderation cannot be
    /// turned against them: staff are never muted or kicked, and a mute or kick an older log
    /// holds against them is void, so what the state says and what they may do agree.
    pub fn add_staff(&mut self, user: &str) {
        self.staff.insert(user.to_owned());
        self.muted.remove(user);
        self.kicked.remove(user);
    }

    /// Overrides the session status with the stored one (the database is the authority; the
    /// log may lag if the status changed while no room was open).
    pub fn set_status(&mut self, status: &str) {
        status.clone_into(&mut self.status);
    }

    /// Whether `user` was kicked (and so may not rejoin).
    pub fn is_kicked(&self, user: &str) -> bool {
        self.kicked.contains(user)
    }

    fn question(&self, id: i64, actor: &Actor) -> Result<&Question, Refusal> {
        match self.questions.get(&id) {
            Some(q) if q.status != QuestionStatus::Dismissed && (!q.held || actor.staff) => Ok(q),
            _ => Err(refuse("not_found", format!("no question {id}"))),
        }
    }

    fn open_poll(&self, id: i64) -> Result<&Poll, Refusal> {
        match self.polls.get(&id) {
            Some(p) if p.open => Ok(p),
            Some(_) => Err(refuse("conflict", format!("poll {id} is closed"))),
            None => Err(refuse("not_found", format!("no poll {id}"))),
        }
    }

    /// Whether chat message `seq` exists (was posted and not deleted).
    pub fn has_message(&self, seq: i64) -> bool {
        self.chats.contains_key(&seq)
    }

    fn not_ended(&self) -> Result<(), Refusal> {
        match self.status.as_str() {
            "ended" => Err(refuse("forbidden", "the session has ended")),
            _ => Ok(()),
        }
    }

    /// A new question of `actor` fits their quota and the room's.
    fn question_quota(&self, actor: &Actor) -> Result<(), Refusal> {
        let mine = self.open_by.get(actor.user).copied().unwrap_or(0);
        let per_user = self.limits.open_questions_per_user;
        if !actor.staff && mine >= per_user {
            return Err(refuse(
                "limit_reached",
                format!("you have {per_user} open questions; ask again once one is answered"),
            ));
        }
        if self.open >= self.limits.open_questions {
            return Err(refuse(
                "limit_reached",
                "the question board is full; ask again once questions are answered",
            ));
        }
        Ok(())
    }

    fn may_speak(&self, actor: &Actor) -> Result<(), Refusal> {
        self.not_ended()?;
        if !actor.staff && self.muted.contains(actor.user) {
            return Err(refuse("muted", "you are muted in this session"));
        }
        Ok(())
    }

    /// Checks `action` by `actor` at `now` and returns the event it makes, or why not.
    pub fn decide(
        &self,
        actor: &Actor,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<Draft, Refusal> {
        let staff_only = |what: &str| {
            if actor.staff {
                Ok(())
            } else {
                Err(refuse(
                    "forbidden",
                    format!("only the instructor can {what}"),
                ))
            }
        };
        match action {
            Action::Chat { text } => {
                self.may_speak(actor)?;
                if self.chat_locked && !actor.staff {
                    return Err(refuse("forbidden", "chat is locked"));
                }
                let text = text_of(&text, "a message", MAX_CHAT_CHARS)?;
                let last = self.last_chat.get(actor.user).filter(|_| !actor.staff);
                if let Some(last) = last.filter(|_| self.slow_mode_s > 0) {
                    let next = *last + chrono::Duration::seconds(self.slow_mode_s.into());
                    if now < next {
                        let wait = (next - now).num_milliseconds().max(1);
                        return Err(refuse(
                            "slow_mode",
                            format!("slow mode: wait {wait} ms before your next message"),
                        ));
                    }
                }
                draft(
                    "chat",
                    json!({"user": actor.user, "name": actor.name, "text": text}),
                )
            }
            Action::Ask { text, anonymous } => {
                self.may_speak(actor)?;
                let text = text_of(&text, "a question", MAX_QUESTION_CHARS)?;
                self.question_quota(actor)?;
                draft(
                    "question_asked",
                    json!({"asker": actor.user, "name": actor.name, "text": text,
                           "anonymous": anonymous, "held": self.hold_questions && !actor.staff}),
                )
            }
            Action::Vote { question } | Action::Unvote { question } => {
                let up = matches!(action, Action::Vote { .. });
                self.not_ended()?;
                let q = self.question(question, actor)?;
                if q.held {
                    return Err(refuse("conflict", "the question is awaiting approval"));
                }
                let voted = q.voters.contains(actor.user);
                if voted == up {
                    let why = if up {
                        "you already voted"
                    } else {
                        "you have not voted"
                    };
                    return Err(refuse("conflict", why));
                }
                let votes = q.voters.len() + usize::from(up) - usize::from(!up);
                let kind = if up {
                    "question_voted"
                } else {
                    "question_unvoted"
                };
                draft(
                    kind,
                    json!({"question": question, "user": actor.user, "votes": votes}),
                )
            }
            Action::Answer { question, text } => {
                staff_only("answer questions")?;
                let q = self.question(question, actor)?;
                if q.held {
                    return Err(refuse("conflict", "approve the question first"));
                }
                let text = match text {
                    Some(t) => Some(text_of(&t, "an answer", MAX_ANSWER_CHARS)?),
                    None => None,
                };
                draft(
                    "question_answered",
                    json!({"question": question, "by": actor.user, "name": actor.name, "text": text}),
                )
            }
            Action::Hand { raised } => {
                self.not_ended()?;
                let up = self.hands.iter().any(|(u, _)| u == actor.user);
                match (raised, up) {
                    (true, true) => Err(refuse("conflict", "your hand is already raised")),
                    (false, false) => Err(refuse("conflict", "your hand is not raised")),
                    (true, false) => draft(
                        "hand_raised",
                        json!({"user": actor.user, "name": actor.name}),
                    ),
                    (false, true) => draft(
                        "hand_lowered",
                        json!({"user": actor.user, "by": actor.user}),
                    ),
                }
            }
            Action::PollOpen { question, options } => {
                staff_only("open polls")?;
                self.not_ended()?;
                let question = text_of(&question, "a poll question", MAX_POLL_CHARS)?;
                if !(2..=MAX_POLL_OPTIONS).contains(&options.len()) {
                    return Err(refuse(
                        "invalid",
                        format!("a poll has 2 to {MAX_POLL_OPTIONS} options"),
                    ));
                }
                let options = options
                    .iter()
                    .map(|o| text_of(o, "an option", MAX_POLL_CHARS))
                    .collect::<Result<Vec<_>, _>>()?;
                draft(
                    "poll_opened",
                    json!({"question": question, "options": options}),
                )
            }
            Action::PollVote { poll, option } => {
                self.not_ended()?;
                let p = self.open_poll(poll)?;
                if option >= p.options.len() {
                    return Err(refuse(
                        "invalid",
                        format!("poll {poll} has no option {option}"),
                    ));
                }
                if p.votes.contains_key(actor.user) {
                    return Err(refuse("conflict", "you already voted in this poll"));
                }
                let mut tallies = p.tallies();
                tallies[option] += 1;
                draft(
                    "poll_voted",
                    json!({"poll": poll, "user": actor.user, "option": option, "tallies": tallies}),
                )
            }
            Action::PollClose { poll } => {
                staff_only("close polls")?;
                let p = self.open_poll(poll)?;
                draft("poll_closed", json!({"poll": poll, "tallies": p.tallies()}))
            }
            Action::Moderate(m) => {
                staff_only("moderate")?;
                self.moderate(actor, m)
            }
            Action::Status { status } => draft("session_status", json!({"status": status})),
        }
    }

    fn moderate(&self, actor: &Actor, m: Moderation) -> Result<Draft, Refusal> {
        let by = actor.user;
        match m {
            Moderation::Mute { user } | Moderation::Unmute { user } | Moderation::Kick { user }
                if user == by =>
            {
                Err(refuse("invalid", "you cannot do that to yourself"))
            }
            Moderation::Mute { user } | Moderation::Kick { user } if self.staff.contains(&user) => {
                Err(refuse("forbidden", "staff cannot be muted or removed"))
            }
            Moderation::Mute { user } => match self.muted.contains(&user) {
                true => Err(refuse("conflict", "already muted")),
                false => draft("member_muted", json!({"user": user, "by": by})),
            },
            Moderation::Unmute { user } => match self.muted.contains(&user) {
                true => draft("member_unmuted", json!({"user": user, "by": by})),
                false => Err(refuse("conflict", "not muted")),
            },
            Moderation::Kick { user } => match self.kicked.contains(&user) {
                true => Err(refuse("conflict", "already removed")),
                false => draft("member_kicked", json!({"user": user, "by": by})),
            },
            Moderation::Delete { message } => match self.chats.contains_key(&message) {
                true => draft("message_deleted", json!({"message": message, "by": by})),
                false => Err(refuse("not_found", format!("no message {message}"))),
            },
            Moderation::SlowMode { seconds } if seconds > MAX_SLOW_MODE_S => Err(refuse(
                "invalid",
                format!("slow mode is at most {MAX_SLOW_MODE_S} seconds"),
            )),
            Moderation::SlowMode { seconds } => draft("slow_mode", json!({"seconds": seconds})),
            Moderation::LockChat { locked } => draft("chat_locked", json!({"locked": locked})),
            Moderation::HoldQuestions { held } => draft("questions_held", json!({"held": held})),
            Moderation::Approve { question } => {
                let q = self.question(question, actor)?;
                if !q.held {
                    return Err(refuse("conflict", "the question is not held"));
                }
                draft(
                    "question_approved",
                    json!({"question": question, "asker": q.asker, "name": q.name,
                           "text": q.text, "anonymous": q.anonymous}),
                )
            }
            Moderation::Pin { question, pinned } => {
                let q = self.question(question, actor)?;
                if q.held {
                    return Err(refuse("conflict", "approve the question first"));
                }
                draft(
                    "question_pinned",
                    json!({"question": question, "pinned": pinned}),
                )
            }
            Moderation::Dismiss { question } => {
                self.question(question, actor)?;
                draft("question_dismissed", json!({"question": question}))
            }
            Moderation::LowerHand { user } => {
                if !self.hands.iter().any(|(u, _)| *u == user) {
                    return Err(refuse("conflict", "that hand is not raised"));
                }
                draft("hand_lowered", json!({"user": user, "by": by}))
            }
        }
    }

    /// Folds event `seq` into the state. Tolerant: an event that no longer fits (say, a vote
    /// on a question that is gone) changes nothing.
    pub fn apply(&mut self, seq: i64, kind: &str, data: &Value, at: DateTime<Utc>) {
        let s = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let b = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
        let id = |k: &str| data.get(k).and_then(Value::as_i64).unwrap_or(-1);
        match kind {
            "chat" => {
                self.chats.insert(seq, s("user"));
                self.last_chat.insert(s("user"), at);
            }
            "message_deleted" => {
                self.chats.remove(&id("message"));
            }
            "question_asked" => {
                *self.open_by.entry(s("asker")).or_default() += 1;
                self.open += 1;
                self.questions.insert(
                    seq,
                    Question {
                        asker: s("asker"),
                        name: s("name"),
                        text: s("text"),
                        anonymous: b("anonymous"),
                        held: b("held"),
                        status: QuestionStatus::Open,
                        pinned: false,
                        voters: HashSet::new(),
                        answer: None,
                    },
                );
            }
            _ if kind.starts_with("question_") => {
                if let Some(q) = self.questions.get_mut(&id("question")) {
                    let was_open = q.status == QuestionStatus::Open;
                    match kind {
                        "question_approved" => q.held = false,
                        "question_voted" => {
                            q.voters.insert(s("user"));
                        }
                        "question_unvoted" => {
                            q.voters.remove(&s("user"));
                        }
                        "question_answered" => {
                            q.status = QuestionStatus::Answered;
                            // Marking answered without text keeps an earlier answer.
                            if let Some(t) = data.get("text").filter(|t| t.is_string()) {
                                q.answer =
                                    Some(json!({"text": t, "by": s("by"), "name": s("name"),
                                                       "at": crate::clock::rfc3339(at)}));
                            }
                        }
                        "question_pinned" => q.pinned = b("pinned"),
                        "question_dismissed" => {
                            q.status = QuestionStatus::Dismissed;
                            q.pinned = false;
                        }
                        _ => {}
                    }
                    if was_open && q.status != QuestionStatus::Open {
                        self.open = self.open.saturating_sub(1);
                        if let Some(n) = self.open_by.get_mut(&q.asker) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                self.open_by.remove(&q.asker);
                            }
                        }
                    }
                }
            }
            "hand_raised" => {
                let user = s("user");
                if !self.hands.iter().any(|(u, _)| *u == user) {
                    self.hands.push((user, s("name")));
                }
            }
            "hand_lowered" => {
                let user = s("user");
                self.hands.retain(|(u, _)| *u != user);
            }
            "poll_opened" => {
                let options = data
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                self.polls.insert(
                    seq,
                    Poll {
                        question: s("question"),
                        options,
                        votes: HashMap::new(),
                        open: true,
                    },
                );
            }
            "poll_voted" => {
                if let Some(p) = self.polls.get_mut(&id("poll")) {
                    let option = data.get("option").and_then(Value::as_u64).unwrap_or(0) as usize;
                    p.votes.entry(s("user")).or_insert(option);
                }
            }
            "poll_closed" => {
                if let Some(p) = self.polls.get_mut(&id("poll")) {
                    p.open = false;
                }
            }
            "member_muted" => {
                let user = s("user");
                if !self.staff.contains(&user) {
                    self.muted.insert(user);
                }
            }
            "member_unmuted" => {
                self.muted.remove(&s("user"));
            }
            "member_kicked" => {
                let user = s("user");
                self.hands.retain(|(u, _)| *u != user);
                self.kicked.insert(user);
            }
            "slow_mode" => {
                self.slow_mode_s = data.get("seconds").and_then(Value::as_u64).unwrap_or(0) as u32
            }
            "chat_locked" => self.chat_locked = b("locked"),
            "questions_held" => self.hold_questions = b("held"),
            "session_status" => self.status = s("status"),
            _ => {}
        }
    }

    /// The questions `viewer` may see, not in any order: dismissed ones are left out, held ones
    /// shown only to staff and their askers.
    fn visible<'a>(
        &'a self,
        viewer: &'a str,
        staff: bool,
    ) -> impl Iterator<Item = (i64, &'a Question)> + 'a {
        self.questions
            .iter()
            .filter(|(_, q)| q.status != QuestionStatus::Dismissed)
            .filter(move |(_, q)| !q.held || staff || q.asker == viewer)
            .map(|(id, q)| (*id, q))
    }

    /// Question `id` as `viewer` sees it (anonymous askers hidden from other learners).
    fn question_view(id: i64, q: &Question, viewer: &str, staff: bool) -> Value {
        let shown = !q.anonymous || staff || q.asker == viewer;
        json!({
            "id": id, "text": q.text, "anonymous": q.anonymous,
            "asker": shown.then_some(&q.asker), "name": shown.then_some(&q.name),
            "votes": q.voters.len(), "voted": q.voters.contains(viewer),
            "status": if q.status == QuestionStatus::Answered { "answered" } else { "open" },
            "held": q.held, "pinned": q.pinned, "answer": q.answer,
        })
    }

    /// Up to `limit` questions `viewer` may see with an id above `after`, by id: the
    /// transcript's pages of the board.
    pub fn questions_after(
        &self,
        viewer: &str,
        staff: bool,
        after: i64,
        limit: usize,
    ) -> Vec<(i64, Value)> {
        self.visible(viewer, staff)
            .filter(|(id, _)| *id > after)
            .take(limit)
            .map(|(id, q)| (id, Self::question_view(id, q, viewer, staff)))
            .collect()
    }

    /// The room as `viewer` sees it: status, settings, the top of the question board (open and
    /// answered, pinned first, then by votes; at most `ClassLimits::board` of them, with the
    /// count of all), raised hands in order, and polls.
    pub fn snapshot(&self, viewer: &str, staff: bool) -> Value {
        let mut board: Vec<(i64, &Question)> = self.visible(viewer, staff).collect();
        board.sort_by_key(|(id, q)| (!q.pinned, std::cmp::Reverse(q.voters.len()), *id));
        let pinned: Vec<i64> = board
            .iter()
            .filter(|(_, q)| q.pinned)
            .map(|(id, _)| *id)
            .collect();
        let count = board.len();
        let questions: Vec<Value> = board
            .iter()
            .take(self.limits.board)
            .map(|(id, q)| Self::question_view(*id, q, viewer, staff))
            .collect();
        let hands: Vec<Value> = self
            .hands
            .iter()
            .map(|(u, n)| json!({"user": u, "name": n}))
            .collect();
        let polls: Vec<Value> = self
            .polls
            .iter()
            .map(|(id, p)| {
                json!({"id": id, "question": p.question, "options": p.options,
                       "tallies": p.tallies(), "open": p.open, "voted": p.votes.get(viewer)})
            })
            .collect();
        let mut state = json!({
            "status": self.status, "chat_locked": self.chat_locked,
            "slow_mode_s": self.slow_mode_s, "questions_held": self.hold_questions,
            "questions": questions, "questions_count": count, "pinned": pinned,
            "hands": hands, "polls": polls,
            "muted": !staff && self.muted.contains(viewer), "staff": staff,
        });
        if staff {
            let mut muted: Vec<&String> = self.muted.iter().collect();
            muted.sort();
            state["muted_users"] = json!(muted);
        }
        state
    }
}

/// Whose event this is for visibility: the asker of a question (also when staff approve it), the
/// voter of a vote, else whoever caused it.
pub fn owner<'a>(data: &'a Value, actor: Option<&'a str>) -> Option<&'a str> {
    ["asker", "user"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str))
        .or(actor)
}

/// What members other than staff and the event's author see of an event, when that differs:
/// anonymous askers and individual votes are removed, held questions reduced to their id.
pub fn public_view(kind: &str, data: &Value) -> Option<Value> {
    let without = |keys: &[&str]| {
        let mut d = data.clone();
        if let Some(o) = d.as_object_mut() {
            for k in keys {
                o.remove(*k);
            }
        }
        d
    };
    let anonymous = data.get("anonymous").and_then(Value::as_bool) == Some(true);
    match kind {
        "question_asked" if data.get("held").and_then(Value::as_bool) == Some(true) => {
            Some(json!({"held": true}))
        }
        "question_asked" | "question_approved" if anonymous => Some(without(&["asker", "name"])),
        "question_voted" | "question_unvoted" | "poll_voted" => Some(without(&["user", "option"])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2026-01-01T10:00:00Z";

    fn at(secs: i64) -> DateTime<Utc> {
        T0.parse::<DateTime<Utc>>().unwrap() + chrono::Duration::seconds(secs)
    }

    fn learner(user: &str) -> Actor<'_> {
        Actor {
            user,
            name: user,
            staff: false,
        }
    }

    const TEACHER: Actor<'static> = Actor {
        user: "t",
        name: "Teacher",
        staff: true,
    };

    /// A tiny room log: decides and applies in turn, numbering events from 1.
    struct Log {
        state: ClassState,
        seq: i64,
    }

    impl Log {
        fn new() -> Self {
            Self {
                state: ClassState::new("live"),
                seq: 0,
            }
        }

        fn run(&mut self, actor: &Actor, action: Action, t: i64) -> Result<(i64, Draft), Refusal> {
            let d = self.state.decide(actor, action, at(t))?;
            self.seq += 1;
            self.state.apply(self.seq, d.kind, &d.data, at(t));
            Ok((self.seq, d))
        }

        fn code(&mut self, actor: &Actor, action: Action) -> &'static str {
            self.run(actor, action, 0).unwrap_err().code
        }
    }

    fn chat(text: &str) -> Action {
        Action::Chat { text: text.into() }
    }

    fn ask(text: &str, anonymous: bool) -> Action {
        Action::Ask {
            text: text.into(),
            anonymous,
        }
    }

    fn moderate(m: Moderation) -> Action {
        Action::Moderate(m)
    }

    #[test]
    fn votes_count_once_per_user_and_can_be_taken_back() {
        let mut log = Log::new();
        let (q, _) = log.run(&learner("a"), ask("Why?", false), 0).unwrap();
        let (_, d) = log
            .run(&learner("b"), Action::Vote { question: q }, 0)
            .unwrap();
        assert_eq!(d.data["votes"], 1);
        assert_eq!(
            log.code(&learner("b"), Action::Vote { question: q }),
            "conflict"
        );
        log.run(&learner("c"), Action::Vote { question: q }, 0)
            .unwrap();
        let (_, d) = log
            .run(&learner("b"), Action::Unvote { question: q }, 0)
            .unwrap();
        assert_eq!(d.data["votes"], 1);
        assert_eq!(
            log.code(&learner("b"), Action::Unvote { question: q }),
            "conflict"
        );
        assert_eq!(
            log.code(&learner("b"), Action::Vote { question: 99 }),
            "not_found"
        );
        assert_eq!(
            log.state.snapshot("c", false)["questions"][0]["voted"],
            true
        );
    }

    #[test]
    fn anonymous_askers_are_hidden_from_learners_only() {
        let mut log = Log::new();
        let (q, d) = log
            .run(&learner("a"), ask("Shy question", true), 0)
            .unwrap();
        let public = public_view(d.kind, &d.data).unwrap();
        assert!(public.get("asker").is_none() && public.get("name").is_none());
        assert_eq!(public["text"], "Shy question");
        let seen_by =
            |v: &str, staff| log.state.snapshot(v, staff)["questions"][0]["asker"].clone();
        assert_eq!(seen_by("b", false), Value::Null);
        assert_eq!(seen_by("t", true), "a");
        assert_eq!(seen_by("a", false), "a");
        assert_eq!(log.state.snapshot("b", false)["questions"][0]["id"], q);
    }

    #[test]
    fn held_questions_wait_for_approval() {
        let mut log = Log::new();
        log.run(
            &TEACHER,
            moderate(Moderation::HoldQuestions { held: true }),
            0,
        )
        .unwrap();
        let (q, d) = log.run(&learner("a"), ask("Held?", false), 0).unwrap();
        assert_eq!(public_view(d.kind, &d.data), Some(json!({"held": true})));
        assert_eq!(log.state.snapshot("b", false)["questions"], json!([]));
        assert_eq!(log.state.snapshot("a", false)["questions"][0]["held"], true);
        assert_eq!(
            log.code(&learner("b"), Action::Vote { question: q }),
            "not_found"
        );
        let pin = moderate(Moderation::Pin {
            question: q,
            pinned: true,
        });
        assert_eq!(log.code(&TEACHER, pin.clone()), "conflict");
        log.run(&TEACHER, moderate(Moderation::Approve { question: q }), 0)
            .unwrap();
        log.run(&TEACHER, pin, 0).unwrap();
        let snap = log.state.snapshot("b", false);
        assert_eq!(snap["questions"][0]["text"], "Held?");
        assert_eq!(snap["pinned"], json!([q]));
    }

    #[test]
    fn staff_answer_pin_and_dismiss_learners_cannot() {
        let mut log = Log::new();
        let (q1, _) = log.run(&learner("a"), ask("One", false), 0).unwrap();
        let (q2, _) = log.run(&learner("a"), ask("Two", false), 0).unwrap();
        log.run(&learner("b"), Action::Vote { question: q2 }, 0)
            .unwrap();
        let answer = Action::Answer {
            question: q1,
            text: Some("Because.".into()),
        };
        assert_eq!(log.code(&learner("b"), answer.clone()), "forbidden");
        log.run(&TEACHER, answer, 0).unwrap();
        let mark = Action::Answer {
            question: q1,
            text: None,
        };
        log.run(&TEACHER, mark, 0).unwrap();
        let snap = log.state.snapshot("b", false);
        assert_eq!(snap["questions"][0]["id"], q2, "most votes first");
        assert_eq!(snap["questions"][1]["status"], "answered");
        assert_eq!(snap["questions"][1]["answer"]["text"], "Because.");
        log.run(
            &TEACHER,
            moderate(Moderation::Pin {
                question: q1,
                pinned: true,
            }),
            0,
        )
        .unwrap();
        assert_eq!(
            log.state.snapshot("b", false)["questions"][0]["id"],
            q1,
            "pinned first"
        );
        log.run(&TEACHER, moderate(Moderation::Dismiss { question: q2 }), 0)
            .unwrap();
        assert_eq!(
            log.state.snapshot("b", false)["questions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            log.code(&learner("b"), Action::Vote { question: q2 }),
            "not_found"
        );
    }

    #[test]
    fn muted_members_cannot_speak_until_unmuted() {
        let mut log = Log::new();
        let mute = moderate(Moderation::Mute { user: "a".into() });
        assert_eq!(log.code(&learner("b"), mute.clone()), "forbidden");
        log.run(&TEACHER, mute.clone(), 0).unwrap();
        assert_eq!(log.code(&TEACHER, mute), "conflict");
        assert_eq!(log.code(&learner("a"), chat("hi")), "muted");
        assert_eq!(log.code(&learner("a"), ask("q", false)), "muted");
        assert_eq!(log.state.snapshot("a", false)["muted"], true);
        log.run(&learner("b"), chat("hi"), 0).unwrap();
        log.run(
            &TEACHER,
            moderate(Moderation::Unmute { user: "a".into() }),
            0,
        )
        .unwrap();
        log.run(&learner("a"), chat("back"), 0).unwrap();
    }

    #[test]
    fn slow_mode_spaces_a_learners_messages_but_not_staffs() {
        let mut log = Log::new();
        log.run(&TEACHER, moderate(Moderation::SlowMode { seconds: 10 }), 0)
            .unwrap();
        log.run(&learner("a"), chat("one"), 0).unwrap();
        let err = log.run(&learner("a"), chat("two"), 9).unwrap_err();
        assert_eq!(err.code, "slow_mode");
        assert!(err.message.contains("1000 ms"), "{}", err.message);
        log.run(&learner("b"), chat("other user"), 9).unwrap();
        log.run(&learner("a"), chat("two"), 10).unwrap();
        log.run(&TEACHER, chat("t1"), 10).unwrap();
        log.run(&TEACHER, chat("t2"), 10).unwrap();
        let too_slow = moderate(Moderation::SlowMode { seconds: 99_999 });
        assert_eq!(log.code(&TEACHER, too_slow), "invalid");
    }

    #[test]
    fn locked_chat_and_ended_sessions_silence_learners() {
        let mut log = Log::new();
        log.run(&TEACHER, moderate(Moderation::LockChat { locked: true }), 0)
            .unwrap();
        assert_eq!(log.code(&learner("a"), chat("hi")), "forbidden");
        log.run(&TEACHER, chat("only me"), 0).unwrap();
        log.run(&learner("a"), ask("may I still ask?", false), 0)
            .unwrap();
        log.run(
            &TEACHER,
            Action::Status {
                status: "ended".into(),
            },
            0,
        )
        .unwrap();
        assert_eq!(log.code(&TEACHER, chat("late")), "forbidden");
        assert_eq!(log.state.snapshot("a", false)["status"], "ended");
    }

    #[test]
    fn deleting_needs_an_existing_message() {
        let mut log = Log::new();
        let (m, _) = log.run(&learner("a"), chat("oops"), 0).unwrap();
        let delete = moderate(Moderation::Delete { message: m });
        log.run(&TEACHER, delete.clone(), 0).unwrap();
        assert_eq!(log.code(&TEACHER, delete), "not_found");
    }

    #[test]
    fn kicks_block_rejoining_and_drop_the_hand() {
        let mut log = Log::new();
        log.run(&learner("a"), Action::Hand { raised: true }, 0)
            .unwrap();
        let kick = moderate(Moderation::Kick { user: "a".into() });
        log.run(&TEACHER, kick.clone(), 0).unwrap();
        assert!(log.state.is_kicked("a"));
        assert_eq!(log.code(&TEACHER, kick), "conflict");
        assert_eq!(log.state.snapshot("t", true)["hands"], json!([]));
        let self_kick = moderate(Moderation::Kick { user: "t".into() });
        assert_eq!(log.code(&TEACHER, self_kick), "invalid");
        log.state.add_staff("admin");
        let kick_admin = moderate(Moderation::Kick {
            user: "admin".into(),
        });
        assert_eq!(log.code(&TEACHER, kick_admin), "forbidden");
        let mute_admin = moderate(Moderation::Mute {
            user: "admin".into(),
        });
        assert_eq!(log.code(&TEACHER, mute_admin), "forbidden");
    }

    #[test]
    fn hands_queue_in_order_and_staff_lower_them() {
        let mut log = Log::new();
        log.run(&learner("a"), Action::Hand { raised: true }, 0)
            .unwrap();
        log.run(&learner("b"), Action::Hand { raised: true }, 0)
            .unwrap();
        assert_eq!(
            log.code(&learner("a"), Action::Hand { raised: true }),
            "conflict"
        );
        let hands = |log: &Log| log.state.snapshot("t", true)["hands"].clone();
        assert_eq!(hands(&log)[0]["user"], "a");
        assert_eq!(hands(&log)[1]["user"], "b");
        let lower_a = moderate(Moderation::LowerHand { user: "a".into() });
        assert_eq!(log.code(&learner("b"), lower_a.clone()), "forbidden");
        log.run(&TEACHER, lower_a.clone(), 0).unwrap();
        assert_eq!(log.code(&TEACHER, lower_a), "conflict");
        log.run(&learner("b"), Action::Hand { raised: false }, 0)
            .unwrap();
        assert_eq!(hands(&log), json!([]));
    }

    #[test]
    fn polls_take_one_vote_each_and_close() {
        let mut log = Log::new();
        let open = Action::PollOpen {
            question: "Pace?".into(),
            options: vec!["slower".into(), "faster".into()],
        };
        assert_eq!(log.code(&learner("a"), open.clone()), "forbidden");
        let (p, _) = log.run(&TEACHER, open, 0).unwrap();
        let vote = |option| Action::PollVote { poll: p, option };
        let (_, d) = log.run(&learner("a"), vote(1), 0).unwrap();
        assert_eq!(d.data["tallies"], json!([0, 1]));
        assert_eq!(
            public_view(d.kind, &d.data),
            Some(json!({"poll": p, "tallies": [0, 1]}))
        );
        assert_eq!(log.code(&learner("a"), vote(0)), "conflict");
        assert_eq!(log.code(&learner("b"), vote(2)), "invalid");
        log.run(&learner("b"), vote(1), 0).unwrap();
        let (_, d) = log.run(&TEACHER, Action::PollClose { poll: p }, 0).unwrap();
        assert_eq!(d.data["tallies"], json!([0, 2]));
        assert_eq!(log.code(&learner("c"), vote(0)), "conflict");
        let snap = log.state.snapshot("a", false);
        assert_eq!(snap["polls"][0]["voted"], 1);
        assert_eq!(snap["polls"][0]["open"], false);
        let one_option = Action::PollOpen {
            question: "?".into(),
            options: vec!["only".into()],
        };
        assert_eq!(log.code(&TEACHER, one_option), "invalid");
    }

    #[test]
    fn text_limits_are_enforced() {
        let mut log = Log::new();
        assert_eq!(log.code(&learner("a"), chat("   ")), "invalid");
        let long = "x".repeat(MAX_CHAT_CHARS + 1);
        assert_eq!(log.code(&learner("a"), chat(&long)), "too_large");
        let long_q = "x".repeat(MAX_QUESTION_CHARS + 1);
        assert_eq!(log.code(&learner("a"), ask(&long_q, false)), "too_large");
    }

    #[test]
    fn open_questions_are_capped_per_learner_and_per_room() {
        let mut log = Log::new();
        log.state.set_limits(ClassLimits {
            open_questions_per_user: 2,
            open_questions: 3,
            board: 2,
        });
        let (q1, _) = log.run(&learner("a"), ask("one", false), 0).unwrap();
        log.run(&learner("a"), ask("two", false), 0).unwrap();
        assert_eq!(
            log.code(&learner("a"), ask("three", false)),
            "limit_reached"
        );
        let answer = Action::Answer {
            question: q1,
            text: None,
        };
        log.run(&TEACHER, answer, 0).unwrap();
        log.run(&learner("a"), ask("three", false), 0).unwrap();
        log.run(&learner("b"), ask("b1", false), 0).unwrap();
        assert_eq!(log.code(&learner("c"), ask("c1", false)), "limit_reached");
        let snap = log.state.snapshot("c", false);
        assert_eq!(
            snap["questions"].as_array().unwrap().len(),
            2,
            "bounded board"
        );
        assert_eq!(snap["questions_count"], 4);
        let page = log.state.questions_after("c", false, q1, 10);
        assert_eq!(page.len(), 3, "the rest is paged by id");
    }

    #[test]
    fn staff_cannot_be_muted_before_joining_and_polls_stay_shut_after_the_end() {
        let mut log = Log::new();
        log.state.add_staff("admin");
        let mute_admin = moderate(Moderation::Mute {
            user: "admin".into(),
        });
        assert_eq!(log.code(&TEACHER, mute_admin), "forbidden");
        // A mute an older log holds against an admin is void.
        let mut old = ClassState::new("live");
        old.apply(1, "member_muted", &json!({"user": "admin"}), at(0));
        old.add_staff("admin");
        assert_eq!(old.snapshot("admin", true)["muted"], false);
        assert_eq!(old.snapshot("admin", true)["staff"], true);
        assert_eq!(old.snapshot("a", false)["staff"], false);
        log.run(
            &TEACHER,
            Action::Status {
                status: "ended".into(),
            },
            0,
        )
        .unwrap();
        let open = Action::PollOpen {
            question: "Late?".into(),
            options: vec!["a".into(), "b".into()],
        };
        assert_eq!(log.code(&TEACHER, open), "forbidden");
    }

    #[test]
    fn replaying_the_log_rebuilds_the_same_state() {
        let mut log = Log::new();
        let mut events = Vec::new();
        let (q, d) = log.run(&learner("a"), ask("Q", true), 0).unwrap();
        events.push((q, d));
        events.push(
            log.run(&learner("b"), Action::Vote { question: q }, 1)
                .unwrap(),
        );
        events.push(
            log.run(&TEACHER, moderate(Moderation::Mute { user: "b".into() }), 2)
                .unwrap(),
        );
        events.push(
            log.run(&learner("c"), Action::Hand { raised: true }, 3)
                .unwrap(),
        );
        let mut rebuilt = ClassState::new("live");
        for (seq, d) in &events {
            rebuilt.apply(*seq, d.kind, &d.data, at(0));
        }
        for (viewer, staff) in [("a", false), ("b", false), ("t", true)] {
            assert_eq!(
                rebuilt.snapshot(viewer, staff),
                log.state.snapshot(viewer, staff)
            );
        }
    }
}
