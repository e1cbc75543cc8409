//! Paid questions: an expert sets a price for written questions; a learner asks and the price
//! is held on their card (a `question` hold); the expert's answer within the deadline captures
//! it (platform fee + expert earning), a passed deadline releases it. A public answered
//! question can be unlocked by other users for a small fixed price (an `unlock` hold, captured
//! as soon as it is authorised), shared between asker and expert by
//! [`crate::ledger::domain::unlock`].
//!
//! `pending_payment → open → answered`, with `expired` (unpaid within the payment window, or
//! unanswered by the deadline) and `payment_failed` as other ends. Money commands run through
//! the order actor: answers and expiry under `question:<id>`, unlock requests under
//! `unlock:<question>:<user>`, provider events under the hold's own key. Every move is a
//! conditional update from the state it was read in, with an audit row.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bookings::ConsultConfig;
use super::experts;
use super::holds::{self, HoldChange, HoldRequest, HoldRow};
use super::routes::expert_refusal;
use super::status::{HoldPurpose, HoldStatus, QuestionStatus, UnlockStatus, stored};
use crate::accounts::{AuthUser, Role};
use crate::db::schema::{expert_question_prices, paid_questions, payment_holds, question_unlocks};
use crate::db::{self, DbConnection};
use crate::ledger;
use crate::money::{Currency, Money};
use crate::orders::service::OrderError;
use crate::orders::store::audit;
use crate::pagination::Page;
use crate::payments::events::ProviderEvent;
use crate::payments::{PaymentProvider, ProviderPayment};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest question body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 8000;
/// Highest question price, in minor units (the same bound as a per-minute rate).
pub const MAX_PRICE_MINOR: i64 = experts::MAX_RATE_MINOR;

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/// Trimmed text of 1–`max` characters, or why not.
fn text(raw: &str, what: &str, max: usize) -> Result<String, OrderError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(OrderError::Invalid(format!(
            "{what} must be 1 to {max} characters"
        )));
    }
    Ok(t.to_owned())
}

/// `POST /experts/{id}/questions` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// 1–4 000 characters.
    #[schema(min_length = 1, max_length = 4000)]
    pub body: String,
    /// Whether others may unlock the answer (default true).
    pub public: Option<bool>,
}

/// A question as validated at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Trimmed title.
    pub title: String,
    /// Trimmed body.
    pub body: String,
    /// Others may unlock the answer.
    pub public: bool,
}

impl Draft {
    /// Parses a request; every field is checked before anything is stored.
    pub fn parse(req: &AskRequest) -> Result<Self, OrderError> {
        Ok(Self {
            title: text(&req.title, "title", MAX_TITLE_CHARS)?,
            body: text(&req.body, "body", MAX_BODY_CHARS)?,
            public: req.public.unwrap_or(true),
        })
    }
}

/// `POST /questions/{id}/answer` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// 1–8 000 characters.
    #[schema(min_length = 1, max_length = 8000)]
    pub answer: String,
}

impl AnswerRequest {
    /// The trimmed answer, 1–8 000 characters.
    pub fn parse(&self) -> Result<String, OrderError> {
        text(&self.answer, "answer", MAX_ANSWER_CHARS)
    }
}

/// `PUT /experts/me/question-price` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRequest {
    /// Minor units of the profile's currency, 1–1 000 000; `null` or 0 stops paid questions.
    #[schema(minimum = 0, maximum = 1000000)]
    pub price_minor: Option<i64>,
}

impl PriceRequest {
    /// The price, or `None` for "no paid questions".
    pub fn parse(&self) -> Result<Option<i64>, OrderError> {
        match self.price_minor {
            None | Some(0) => Ok(None),
            Some(p) if (1..=MAX_PRICE_MINOR).contains(&p) => Ok(Some(p)),
            Some(_) => Err(OrderError::Invalid(format!(
                "price_minor must be from 1 to {MAX_PRICE_MINOR}, or 0/null to stop"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// A row of `paid_questions`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = paid_questions)]
pub struct QuestionRow {
    /// `pq_…`.
    pub id: String,
    /// Who is asked (a user id).
    pub expert_id: String,
    /// Who asks and pays.
    pub asker_id: String,
    /// Title.
    pub title: String,
    /// The question.
    pub body: String,
    /// Held and, on an answer, captured.
    pub price_minor: i64,
    /// The price's currency (the expert's profile currency).
    pub currency: String,
    /// Where the question stands.
    pub status: String,
    /// The expert's answer.
    pub answer: Option<String>,
    /// Others may unlock the answer.
    pub public: bool,
    /// Unpaid: end of the payment window. Open: end of the time to answer.
    pub deadline_at: NaiveDateTime,
    /// When answered.
    pub answered_at: Option<NaiveDateTime>,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

impl QuestionRow {
    /// Where the question stands; a stored name this build does not know is an error.
    pub fn status(&self) -> Result<QuestionStatus, OrderError> {
        stored("question", &self.id, &self.status)
    }
}

/// A row of `question_unlocks`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = question_unlocks)]
pub struct UnlockRow {
    /// The question.
    pub question_id: String,
    /// The reader.
    pub user_id: String,
    /// The hold of the current attempt.
    pub hold_id: String,
    /// An [`UnlockStatus`].
    pub status: String,
    /// First asked.
    pub created_at: NaiveDateTime,
}

/// The question `id`.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<QuestionRow, OrderError> {
    paid_questions::table
        .find(id)
        .select(QuestionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(OrderError::NotFound("question"))
}

fn find_unlock(
    conn: &mut DbConnection,
    question_id: &str,
    user_id: &str,
) -> QueryResult<Option<UnlockRow>> {
    question_unlocks::table
        .find((question_id, user_id))
        .select(UnlockRow::as_select())
        .first(conn)
        .optional()
}

/// Which of `ids` `user` has paid to unlock.
fn unlocked_among(
    conn: &mut DbConnection,
    user: Option<&AuthUser>,
    ids: &[&str],
) -> QueryResult<Vec<String>> {
    let Some(user) = user else {
        return Ok(Vec::new());
    };
    question_unlocks::table
        .filter(question_unlocks::user_id.eq(&user.id))
        .filter(question_unlocks::question_id.eq_any(ids))
        .filter(question_unlocks::status.eq(UnlockStatus::Paid.as_str()))
        .select(question_unlocks::question_id)
        .load(conn)
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// Moves a question `from` → `to` if it is still in `from`, with an audit row; false when
/// someone else moved it first.
fn set_status(
    conn: &mut DbConnection,
    q: &QuestionRow,
    from: QuestionStatus,
    to: QuestionStatus,
    cause: &str,
    now: DateTime<Utc>,
) -> Result<bool, OrderError> {
    let (from, to) = (from.as_str(), to.as_str());
    let n = diesel::update(
        paid_questions::table
            .find(&q.id)
            .filter(paid_questions::status.eq(from)),
    )
    .set((
        paid_questions::status.eq(to),
        paid_questions::updated_at.eq(naive(now)),
    ))
    .execute(conn)?;
    if n == 1 {
        audit(conn, "question", &q.id, Some(from), to, cause)?;
    }
    Ok(n == 1)
}

// ---------------------------------------------------------------------------------------------
// Who sees what
// ---------------------------------------------------------------------------------------------

/// How much of a question a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The asker, the expert and admins: everything.
    Full,
    /// Anyone else, on a public answered question: title and body, and the answer once
    /// `unlocked`.
    Reader {
        /// The caller paid to unlock the answer.
        unlocked: bool,
    },
}

/// What `user` (if signed in) may see of `q`; `None` means the question is hidden (404).
pub fn access(q: &QuestionRow, user: Option<&AuthUser>, unlocked: bool) -> Option<Access> {
    if let Some(u) = user
        && (u.id == q.asker_id || u.id == q.expert_id || u.role == Role::Admin)
    {
        return Some(Access::Full);
    }
    let answered = q.status == QuestionStatus::Answered.as_str();
    (q.public && answered).then_some(Access::Reader { unlocked })
}

/// A question as its caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    /// `pq_…`.
    pub id: String,
    /// The expert asked.
    pub expert_id: String,
    /// The asker; shown to the parties and admins only.
    pub asker_id: Option<String>,
    /// Title.
    pub title: String,
    /// The question.
    pub body: String,
    /// Others may unlock the answer.
    pub public: bool,
    /// `pending_payment`, `open`, `answered`, `expired` or `payment_failed`.
    pub status: String,
    /// What the asker paid (held until answered), in minor units.
    pub price_minor: i64,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Unpaid: when the payment window closes; open: when the time to answer runs out.
    /// Parties only.
    #[schema(value_type = Option<String>)]
    pub deadline_at: Option<DateTime<Utc>>,
    /// When answered.
    #[schema(value_type = Option<String>)]
    pub answered_at: Option<DateTime<Utc>>,
    /// The answer, when the caller may read it.
    pub answer: Option<String>,
    /// Whether the caller may read the answer (the parties, admins, readers who unlocked it).
    pub answer_visible: bool,
    /// What unlocking the answer costs this caller; only for readers who have not unlocked it.
    pub unlock_price_minor: Option<i64>,
    /// Asked.
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl QuestionView {
    /// `q` as seen with `access`; `unlock_price_minor` is shown to readers who have not paid.
    pub fn new(q: QuestionRow, access: Access, unlock_price_minor: i64) -> Self {
        let full = access == Access::Full;
        let visible = full || access == Access::Reader { unlocked: true };
        Self {
            id: q.id,
            expert_id: q.expert_id,
            asker_id: full.then_some(q.asker_id),
            title: q.title,
            body: q.body,
            public: q.public,
            status: q.status,
            price_minor: q.price_minor,
            currency: q.currency,
            deadline_at: full.then(|| q.deadline_at.and_utc()),
            answered_at: q.answered_at.map(|t| t.and_utc()),
            answer: q.answer.filter(|_| visible),
            answer_visible: visible,
            unlock_price_minor: (!visible).then_some(unlock_price_minor),
            created_at: q.created_at.and_utc(),
        }
    }
}

/// The question `id` as `user` may see it; hidden ones are 404.
pub fn show(
    conn: &mut DbConnection,
    cfg: &ConsultConfig,
    user: Option<&AuthUser>,
    id: &str,
) -> Result<QuestionView, OrderError> {
    let q = find(conn, id)?;
    let unlocked = !unlocked_among(conn, user, &[id])?.is_empty();
    let access = access(&q, user, unlocked).ok_or(OrderError::NotFound("question"))?;
    Ok(QuestionView::new(q, access, cfg.unlock_price_minor))
}

/// A page of questions with the total they were taken from.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionPage {
    /// This page.
    pub items: Vec<QuestionView>,
    /// How many there are in all.
    pub total: i64,
    /// Page size asked for.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
    /// What asking this expert costs now (`null`: no paid questions); on expert listings only.
    pub ask_price: Option<crate::money::MoneyView>,
}

/// Views of `rows` for `user`, with one query for what they unlocked.
fn views(
    conn: &mut DbConnection,
    cfg: &ConsultConfig,
    user: Option<&AuthUser>,
    rows: Vec<QuestionRow>,
) -> Result<Vec<QuestionView>, OrderError> {
    let ids: Vec<&str> = rows.iter().map(|q| q.id.as_str()).collect();
    let unlocked = unlocked_among(conn, user, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|q| {
            let access = access(&q, user, unlocked.contains(&q.id))?;
            Some(QuestionView::new(q, access, cfg.unlock_price_minor))
        })
        .collect())
}

/// An expert's public answered questions, latest answers first; answers only where the caller
/// may read them. The expert must have a published profile.
pub fn list_public(
    conn: &mut DbConnection,
    cfg: &ConsultConfig,
    user: Option<&AuthUser>,
    expert_id: &str,
    page: Page,
) -> Result<QuestionPage, OrderError> {
    let profile = experts::find_published(conn, expert_id).map_err(expert_refusal)?;
    let listed = || {
        paid_questions::table
            .filter(paid_questions::expert_id.eq(expert_id))
            .filter(paid_questions::public.eq(true))
            .filter(paid_questions::status.eq(QuestionStatus::Answered.as_str()))
    };
    let total: i64 = listed().count().get_result(conn)?;
    let rows = listed()
        .order((
            paid_questions::answered_at.desc(),
            paid_questions::id.desc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .select(QuestionRow::as_select())
        .load(conn)?;
    let ask_price = price_of(conn, expert_id)?.map(|p| crate::money::MoneyView {
        amount_minor: p,
        currency: profile.currency.clone(),
    });
    Ok(QuestionPage {
        items: views(conn, cfg, user, rows)?,
        total,
        limit: page.limit,
        offset: page.offset,
        ask_price,
    })
}

/// The questions `user` asked or was asked, newest first.
pub fn mine(
    conn: &mut DbConnection,
    cfg: &ConsultConfig,
    user: &AuthUser,
    page: Page,
) -> Result<QuestionPage, OrderError> {
    let listed = || {
        paid_questions::table.filter(
            paid_questions::asker_id
                .eq(&user.id)
                .or(paid_questions::expert_id.eq(&user.id)),
        )
    };
    let total: i64 = listed().count().get_result(conn)?;
    let rows = listed()
        .order((paid_questions::created_at.desc(), paid_questions::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(QuestionRow::as_select())
        .load(conn)?;
    Ok(QuestionPage {
        items: views(conn, cfg, Some(user), rows)?,
        total,
        limit: page.limit,
        offset: page.offset,
        ask_price: None,
    })
}

// ---------------------------------------------------------------------------------------------
// The expert's price
// ---------------------------------------------------------------------------------------------

/// What `expert_id` asks for a question, if they take paid questions.
pub fn price_of(conn: &mut DbConnection, expert_id: &str) -> QueryResult<Option<i64>> {
    expert_question_prices::table
        .find(expert_id)
        .select(expert_question_prices::price_minor)
        .first(conn)
        .optional()
}

/// The caller's question price after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView {
    /// Minor units; `null` when the expert takes no paid questions.
    pub price_minor: Option<i64>,
    /// The profile's currency.
    pub currency: String,
}

/// Sets (or with `None` removes) the caller's question price; they need an expert profile.
pub fn set_price(
    conn: &mut DbConnection,
    user: &AuthUser,
    price: Option<i64>,
) -> Result<PriceView, OrderError> {
    let profile = experts::own_row(conn, user).map_err(expert_refusal)?;
    let mine = expert_question_prices::table.find(&user.id);
    db::write_transaction(conn, |c| {
        match price {
            None => {
                diesel::delete(mine).execute(c)?;
            }
            Some(p) => {
                let row = (
                    expert_question_prices::expert_id.eq(&user.id),
                    expert_question_prices::price_minor.eq(p),
                    expert_question_prices::updated_at.eq(db::now()),
                );
                if crate::insert_or_ignore!(c, expert_question_prices::table, row)? == 0 {
                    diesel::update(mine)
                        .set((
                            expert_question_prices::price_minor.eq(p),
                            expert_question_prices::updated_at.eq(db::now()),
                        ))
                        .execute(c)?;
                }
            }
        }
        Ok::<_, OrderError>(())
    })?;
    Ok(PriceView {
        price_minor: price,
        currency: profile.currency,
    })
}

// ---------------------------------------------------------------------------------------------
// Asking and answering
// ---------------------------------------------------------------------------------------------

/// A new question (or unlock) and the payment its payer must confirm.
#[derive(Debug, Serialize, ToSchema)]
pub struct Asked {
    /// The question, as the asker sees it.
    pub question: QuestionView,
    /// The provider payment holding the price; confirm it to authorise.
    #[schema(value_type = Object)]
    pub payment: ProviderPayment,
}

/// The currency a stored row names.
fn currency_of(raw: &str) -> Result<Currency, OrderError> {
    Currency::parse(raw)
        .map_err(|e| OrderError::Unexpected(anyhow::anyhow!("stored currency: {e}")))
}

/// The question `asker` asked with this title, if any (the demo seed asks each once).
pub fn find_by_title(
    conn: &mut DbConnection,
    asker: &str,
    title: &str,
) -> QueryResult<Option<QuestionRow>> {
    paid_questions::table
        .filter(paid_questions::asker_id.eq(asker))
        .filter(paid_questions::title.eq(title))
        .select(QuestionRow::as_select())
        .first(conn)
        .optional()
}

/// `asker` asks `expert_id` (a published expert with a question price): the question waits
/// for payment until the payment window closes, and the price is held on the asker's card.
pub fn ask(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    asker: &AuthUser,
    expert_id: &str,
    draft: &Draft,
    now: DateTime<Utc>,
) -> Result<Asked, OrderError> {
    if asker.id == expert_id {
        return Err(OrderError::Forbidden(
            "experts cannot ask themselves".into(),
        ));
    }
    let profile = experts::find_published(conn, expert_id).map_err(expert_refusal)?;
    let price = price_of(conn, expert_id)?
        .ok_or_else(|| OrderError::Conflict("this expert does not take paid questions".into()))?;
    let amount = Money::new(price, currency_of(&profile.currency)?)
        .map_err(|e| OrderError::Invalid(e.to_string()))?;
    let (q, hold) = db::write_transaction(conn, |c| {
        let q = QuestionRow {
            id: format!("pq_{}", uuid::Uuid::now_v7().simple()),
            expert_id: expert_id.to_owned(),
            asker_id: asker.id.clone(),
            title: draft.title.clone(),
            body: draft.body.clone(),
            price_minor: price,
            currency: profile.currency.clone(),
            status: QuestionStatus::PendingPayment.as_str().into(),
            answer: None,
            public: draft.public,
            deadline_at: naive(now + cfg.payment_window),
            answered_at: None,
            created_at: naive(now),
            updated_at: naive(now),
        };
        diesel::insert_into(paid_questions::table)
            .values(&q)
            .execute(c)?;
        let hold = holds::insert(
            c,
            &HoldRequest {
                purpose: HoldPurpose::Question,
                subject_id: &q.id,
                payer_id: &asker.id,
                payee_id: expert_id,
                amount,
                fee_bps: cfg.fee_bps,
            },
        )?;
        let pending = QuestionStatus::PendingPayment.as_str();
        audit(c, "question", &q.id, None, pending, "asked")?;
        Ok::<_, OrderError>((q, hold))
    })?;
    match holds::authorize(conn, provider, &hold) {
        Ok(payment) => Ok(Asked {
            question: QuestionView::new(q, Access::Full, cfg.unlock_price_minor),
            payment,
        }),
        Err(e) => {
            set_status(
                conn,
                &q,
                QuestionStatus::PendingPayment,
                QuestionStatus::PaymentFailed,
                "provider refused",
                now,
            )?;
            Err(e)
        }
    }
}

/// The hold that pays for the question itself (not its unlocks).
fn question_hold(conn: &mut DbConnection, q: &QuestionRow) -> Result<HoldRow, OrderError> {
    holds::for_subject(conn, &q.id)?
        .into_iter()
        .rfind(|h| h.purpose == HoldPurpose::Question.as_str())
        .ok_or_else(|| OrderError::Unexpected(anyhow::anyhow!("question {} has no hold", q.id)))
}

/// The expert answers an open question before its deadline: the whole price is captured
/// (platform fee and expert earning to the ledger) and the answer stored.
pub fn answer(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    user: &AuthUser,
    id: &str,
    answer: &str,
    now: DateTime<Utc>,
) -> Result<QuestionView, OrderError> {
    let q = find(conn, id)?;
    if user.id != q.expert_id {
        return Err(match access(&q, Some(user), false) {
            Some(Access::Full) => OrderError::Forbidden("only the expert can answer".into()),
            _ => OrderError::NotFound("question"),
        });
    }
    let status = q.status()?;
    if status != QuestionStatus::Open {
        return Err(OrderError::Conflict(format!(
            "a question that is {status} cannot be answered"
        )));
    }
    if !answerable(&q, now) {
        return Err(OrderError::Conflict(
            "the time to answer this question has passed".into(),
        ));
    }
    let hold = question_hold(conn, &q)?;
    match hold.status()? {
        HoldStatus::Authorized => {
            holds::capture(
                conn,
                provider,
                &hold,
                hold.amount_minor,
                "question answered",
            )?;
        }
        // Captured by an earlier attempt that failed before storing the answer.
        HoldStatus::Captured => {}
        other => {
            return Err(OrderError::Conflict(format!(
                "the question's payment is {other}"
            )));
        }
    }
    db::write_transaction(conn, |c| {
        let n = diesel::update(
            paid_questions::table
                .find(&q.id)
                .filter(paid_questions::status.eq(QuestionStatus::Open.as_str())),
        )
        .set((
            paid_questions::status.eq(QuestionStatus::Answered.as_str()),
            paid_questions::answer.eq(Some(answer)),
            paid_questions::answered_at.eq(Some(naive(now))),
            paid_questions::updated_at.eq(naive(now)),
        ))
        .execute(c)?;
        if n == 1 {
            audit(
                c,
                "question",
                &q.id,
                Some(QuestionStatus::Open.as_str()),
                QuestionStatus::Answered.as_str(),
                "expert answered",
            )?;
        }
        Ok::<_, OrderError>(())
    })?;
    Ok(QuestionView::new(
        find(conn, id)?,
        Access::Full,
        cfg.unlock_price_minor,
    ))
}

// ---------------------------------------------------------------------------------------------
// Unlocking
// ---------------------------------------------------------------------------------------------

/// An unlock waiting for its payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unlocking {
    /// The question.
    pub question_id: String,
    /// `pending` until the payment is authorised (it is then captured at once).
    pub status: String,
    /// The provider payment; confirm it to unlock.
    #[schema(value_type = Object)]
    pub payment: ProviderPayment,
}

/// `user` pays to read the answer of a public answered question: a hold of the unlock price in
/// the question's currency. Asking again while unpaid starts a new payment (the old one is let
/// go); after paying it is a conflict.
pub fn request_unlock(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    user: &AuthUser,
    id: &str,
) -> Result<Unlocking, OrderError> {
    let q = find(conn, id)?;
    match access(&q, Some(user), false) {
        None => return Err(OrderError::NotFound("question")),
        Some(Access::Full) if user.id == q.asker_id || user.id == q.expert_id => {
            return Err(OrderError::Forbidden(
                "the asker and the expert read the answer without unlocking".into(),
            ));
        }
        Some(Access::Full) => {
            return Err(OrderError::Conflict(
                "admins read every answer without unlocking".into(),
            ));
        }
        Some(Access::Reader { .. }) => {}
    }
    let existing = find_unlock(conn, id, &user.id)?;
    if let Some(u) = &existing {
        if u.status == UnlockStatus::Paid.as_str() {
            return Err(OrderError::Conflict(
                "you already unlocked this answer".into(),
            ));
        }
        let old = holds::find(conn, &u.hold_id)?;
        if let Some(old) = old {
            let settled = matches!(
                old.status()?,
                HoldStatus::Pending | HoldStatus::Failed | HoldStatus::Released
            );
            if !settled {
                return Err(OrderError::Conflict(
                    "your unlock payment is being processed; try again shortly".into(),
                ));
            }
            holds::release(conn, provider, &old, "unlock asked again")?;
        }
    }
    let amount = Money::new(cfg.unlock_price_minor, currency_of(&q.currency)?)
        .map_err(|e| OrderError::Invalid(e.to_string()))?;
    let hold = db::write_transaction(conn, |c| {
        let hold = holds::insert(
            c,
            &HoldRequest {
                purpose: HoldPurpose::Unlock,
                subject_id: &q.id,
                payer_id: &user.id,
                payee_id: &q.expert_id,
                amount,
                fee_bps: cfg.fee_bps,
            },
        )?;
        let row = UnlockRow {
            question_id: q.id.clone(),
            user_id: user.id.clone(),
            hold_id: hold.id.clone(),
            status: UnlockStatus::Pending.as_str().into(),
            created_at: db::now(),
        };
        let moved = if existing.is_some() {
            diesel::update(
                question_unlocks::table
                    .find((&q.id, &user.id))
                    .filter(question_unlocks::status.eq(UnlockStatus::Pending.as_str())),
            )
            .set(question_unlocks::hold_id.eq(&hold.id))
            .execute(c)?
        } else {
            crate::insert_or_ignore!(c, question_unlocks::table, &row)?
        };
        if moved != 1 {
            return Err(OrderError::Conflict(
                "another unlock of this answer got there first; try again".into(),
            ));
        }
        Ok(hold)
    })?;
    let payment = holds::authorize(conn, provider, &hold)?;
    Ok(Unlocking {
        question_id: q.id,
        status: UnlockStatus::Pending.as_str().into(),
        payment,
    })
}

/// Completes an unlock whose hold is authorised: captures it at once, posting the unlock
/// split (platform fee, asker, expert), and marks the unlock paid. A hold that no unlock
/// waits for any more is released. Safe to repeat.
pub fn finish_unlock(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    hold_id: &str,
) -> Result<(), OrderError> {
    let Some(hold) = holds::find(conn, hold_id)? else {
        return Ok(());
    };
    let unlock: Option<UnlockRow> = question_unlocks::table
        .filter(question_unlocks::hold_id.eq(&hold.id))
        .select(UnlockRow::as_select())
        .first(conn)
        .optional()?;
    let Some(unlock) = unlock.filter(|u| u.status == UnlockStatus::Pending.as_str()) else {
        return holds::release(conn, provider, &hold, "unlock no longer waiting");
    };
    match hold.status()? {
        HoldStatus::Authorized => {
            let q = find(conn, &unlock.question_id)?;
            let (fee_bps, asker_bps) = (hold.fee_bps as u32, cfg.unlock_asker_bps);
            let split = |paid: Money| {
                ledger::domain::unlock(paid, &q.asker_id, &q.expert_id, fee_bps, asker_bps)
            };
            holds::capture_posting(
                conn,
                provider,
                &hold,
                hold.amount_minor,
                "answer unlocked",
                &split,
            )?;
        }
        HoldStatus::Captured => {}
        _ => return Ok(()),
    }
    db::write_transaction(conn, |c| {
        let n = diesel::update(
            question_unlocks::table
                .find((&unlock.question_id, &unlock.user_id))
                .filter(question_unlocks::hold_id.eq(&hold.id))
                .filter(question_unlocks::status.eq(UnlockStatus::Pending.as_str())),
        )
        .set(question_unlocks::status.eq(UnlockStatus::Paid.as_str()))
        .execute(c)?;
        if n == 1 {
            audit(
                c,
                "unlock",
                &hold.id,
                Some(UnlockStatus::Pending.as_str()),
                UnlockStatus::Paid.as_str(),
                "hold captured",
            )?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Provider events and the sweep
// ---------------------------------------------------------------------------------------------

/// Follows a provider event for a question or unlock hold: an authorised question opens with
/// its deadline `cfg.question_answer_window` from `now` (money for a question no longer
/// waiting is released); a cancelled one fails the question; an authorised unlock is captured
/// at once.
pub fn apply_event(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> Result<(), OrderError> {
    let cause = "question no longer waiting";
    let hold = holds::follow_event(conn, provider, event, cause, |c, hold, change| {
        let q = find(c, &hold.subject_id)?;
        Ok(match (change, hold.purpose()?) {
            (HoldChange::Authorized, HoldPurpose::Question) => {
                let (from, to) = (QuestionStatus::PendingPayment, QuestionStatus::Open);
                let opened = set_status(c, &q, from, to, &event.kind, now)?;
                if opened {
                    let deadline = naive(now + cfg.question_answer_window);
                    diesel::update(paid_questions::table.find(&q.id))
                        .set(paid_questions::deadline_at.eq(deadline))
                        .execute(c)?;
                }
                !opened
            }
            (HoldChange::Failed, HoldPurpose::Question) => {
                let (from, to) = (
                    QuestionStatus::PendingPayment,
                    QuestionStatus::PaymentFailed,
                );
                set_status(c, &q, from, to, &event.kind, now)?;
                false
            }
            _ => false,
        })
    })?;
    if hold.purpose()? == HoldPurpose::Unlock && hold.status()? == HoldStatus::Authorized {
        finish_unlock(conn, provider, cfg, &hold.id)?;
    }
    Ok(())
}

/// Questions whose deadline has passed unpaid or unanswered, for [`expire`].
pub fn due(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Vec<String>> {
    paid_questions::table
        .filter(paid_questions::status.eq_any([
            QuestionStatus::PendingPayment.as_str(),
            QuestionStatus::Open.as_str(),
        ]))
        .filter(paid_questions::deadline_at.lt(naive(now)))
        .order(paid_questions::deadline_at)
        .limit(500)
        .select(paid_questions::id)
        .load(conn)
}

/// Expires the question `id` if its deadline has passed while unpaid or unanswered: the status
/// moves first, then its hold is released, so an answer can no longer capture it. True when
/// it moved.
pub fn expire(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, OrderError> {
    let q = find(conn, id)?;
    let status = q.status()?;
    let waiting = matches!(
        status,
        QuestionStatus::PendingPayment | QuestionStatus::Open
    );
    if !waiting || now <= q.deadline_at.and_utc() {
        return Ok(false);
    }
    let cause = if status == QuestionStatus::Open {
        "not answered in time"
    } else {
        "payment window passed"
    };
    let hold = question_hold(conn, &q)?;
    // An answer whose capture went through but whose write did not is finished by the expert
    // retrying, not expired: the learner paid, so the money is not let go here.
    if hold.status()? == HoldStatus::Captured {
        return Ok(false);
    }
    // Money first: if the provider fails, the question stays open and the sweep retries.
    holds::release(conn, provider, &hold, cause)?;
    set_status(conn, &q, status, QuestionStatus::Expired, cause, now)
}

/// Unlock holds the webhook did not finish (a crash between authorisation and capture): the
/// authorised ones, and captured ones whose unlock is still pending. For [`finish_unlock`].
pub fn unfinished_unlocks(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let pending = question_unlocks::table
        .filter(question_unlocks::status.eq(UnlockStatus::Pending.as_str()))
        .select(question_unlocks::hold_id);
    payment_holds::table
        .filter(payment_holds::purpose.eq(HoldPurpose::Unlock.as_str()))
        .filter(
            payment_holds::status
                .eq(HoldStatus::Authorized.as_str())
                .or(payment_holds::status
                    .eq(HoldStatus::Captured.as_str())
                    .and(payment_holds::id.eq_any(pending))),
        )
        .limit(500)
        .select(payment_holds::id)
        .load(conn)
}

/// Whether the expert may still answer `q` at `now`: while open, up to and including its
/// deadline.
pub fn answerable(q: &QuestionRow, now: DateTime<Utc>) -> bool {
    q.status == QuestionStatus::Open.as_str() && now <= q.deadline_at.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(status: &str, public: bool) -> QuestionRow {
        let t = Utc::now().naive_utc();
        QuestionRow {
            id: "pq_1".into(),
            expert_id: "e".into(),
            asker_id: "a".into(),
            title: "t".into(),
            body: "b".into(),
            price_minor: 500,
            currency: "EUR".into(),
            status: status.into(),
            answer: (status == "answered").then(|| "the answer".into()),
            public,
            deadline_at: t,
            answered_at: (status == "answered").then_some(t),
            created_at: t,
            updated_at: t,
        }
    }

    fn user(id: &str, role: Role) -> AuthUser {
        AuthUser {
            id: id.into(),
            role,
        }
    }

    #[test]
    fn parties_and_admins_see_everything_others_only_public_answers() {
        let learner = user("x", Role::Learner);
        for (status, public) in [("open", true), ("answered", false), ("expired", true)] {
            let q = row(status, public);
            for who in [
                user("a", Role::Learner),
                user("e", Role::Instructor),
                user("z", Role::Admin),
            ] {
                assert_eq!(access(&q, Some(&who), false), Some(Access::Full));
            }
            assert_eq!(access(&q, Some(&learner), true), None, "{status} {public}");
            assert_eq!(access(&q, None, false), None);
        }
        let q = row("answered", true);
        assert_eq!(
            access(&q, Some(&learner), false),
            Some(Access::Reader { unlocked: false })
        );
        assert_eq!(
            access(&q, None, false),
            Some(Access::Reader { unlocked: false })
        );
    }

    #[test]
    fn readers_see_the_answer_only_after_unlocking() {
        let locked = QuestionView::new(
            row("answered", true),
            Access::Reader { unlocked: false },
            200,
        );
        assert_eq!(
            (
                locked.answer,
                locked.asker_id,
                locked.unlock_price_minor,
                locked.deadline_at
            ),
            (None, None, Some(200), None)
        );
        let open = QuestionView::new(
            row("answered", true),
            Access::Reader { unlocked: true },
            200,
        );
        assert_eq!(open.answer.as_deref(), Some("the answer"));
        assert_eq!(open.unlock_price_minor, None);
        let full = QuestionView::new(row("answered", false), Access::Full, 200);
        assert_eq!(full.asker_id.as_deref(), Some("a"));
        assert!(full.answer_visible);
    }

    #[test]
    fn input_is_trimmed_and_bounded() {
        let req = |title: &str, body: &str| AskRequest {
            title: title.into(),
            body: body.into(),
            public: None,
        };
        let d = Draft::parse(&req("  Why?  ", " Because ")).unwrap();
        assert_eq!(
            (d.title.as_str(), d.body.as_str(), d.public),
            ("Why?", "Because", true)
        );
        assert!(Draft::parse(&req("  ", "b")).is_err());
        assert!(Draft::parse(&req(&"x".repeat(201), "b")).is_err());
        assert!(Draft::parse(&req("t", &"é".repeat(4000))).is_ok());
        assert!(Draft::parse(&req("t", &"é".repeat(4001))).is_err());
        let price = |p| PriceRequest { price_minor: p }.parse();
        assert_eq!(price(None).unwrap(), None);
        assert_eq!(price(Some(0)).unwrap(), None);
        assert_eq!(price(Some(500)).unwrap(), Some(500));
        assert!(price(Some(-1)).is_err());
        assert!(price(Some(MAX_PRICE_MINOR + 1)).is_err());
    }

    #[test]
    fn the_deadline_instant_is_still_in_time() {
        let q = row("open", true);
        let at = q.deadline_at.and_utc();
        assert!(answerable(&q, at));
        assert!(!answerable(&q, at + Duration::seconds(1)));
        assert!(!answerable(&row("expired", true), at));
    }
}
