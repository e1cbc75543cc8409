//! Payment holds: money authorised on a learner's card for a booking, an extension or a paid
//! question, later captured in part (the rest released) or released whole. A hold's id is the
//! provider reference, so provider webhooks find it; every status change writes an audit row.
//!
//! `pending → authorized → captured | released`, `pending → failed | released`.
//! Provider calls never run inside our transactions: callers read, call the provider, then
//! record the outcome with a conditional update.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::status::{HoldPurpose, HoldStatus, stored};
use crate::db::schema::payment_holds;
use crate::db::{self, DbConnection};
use crate::ledger;
use crate::money::{Currency, Money, MoneyError};
use crate::orders::service::OrderError;
use crate::orders::store::{audit, first_sighting};
use crate::payments::events::ProviderEvent;
use crate::payments::{CaptureMethod, PaymentProvider, ProviderPayment, ProviderStatus};

/// Prefix of hold ids, which tells provider events for holds from those for orders.
pub const PREFIX: &str = "hold_";

/// A row of `payment_holds`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_holds)]
pub struct HoldRow {
    /// `hold_…`; the provider reference.
    pub id: String,
    /// A [`HoldPurpose`].
    pub purpose: String,
    /// The booking or question it pays for.
    pub subject_id: String,
    /// Whose card.
    pub payer_id: String,
    /// Who earns what is captured.
    pub payee_id: String,
    /// Authorised amount.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: String,
    /// The platform's share of captures, in basis points.
    pub fee_bps: i32,
    /// The provider's payment id, once created.
    pub payment_id: Option<String>,
    /// A [`HoldStatus`]; read it with [`HoldRow::status`].
    pub status: String,
    /// Taken so far.
    pub captured_minor: i64,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

impl HoldRow {
    /// Where the hold is; a stored name this build does not know is an error, not a guess.
    pub fn status(&self) -> Result<HoldStatus, OrderError> {
        stored("hold", &self.id, &self.status)
    }

    /// What the hold pays for, read the same way.
    pub fn purpose(&self) -> Result<HoldPurpose, OrderError> {
        stored("hold", &self.id, &self.purpose)
    }
}

/// What a hold is for and who pays whom.
pub struct HoldRequest<'a> {
    /// What it pays for.
    pub purpose: HoldPurpose,
    /// The booking or question.
    pub subject_id: &'a str,
    /// The learner.
    pub payer_id: &'a str,
    /// The expert.
    pub payee_id: &'a str,
    /// How much to hold.
    pub amount: Money,
    /// Platform fee on captures.
    pub fee_bps: u32,
}

/// Stores a pending hold inside the caller's transaction; `authorize` then asks the provider.
pub fn insert(conn: &mut DbConnection, req: &HoldRequest) -> Result<HoldRow, OrderError> {
    let now = db::now();
    let row = HoldRow {
        id: format!("{PREFIX}{}", uuid::Uuid::now_v7().simple()),
        purpose: req.purpose.as_str().to_owned(),
        subject_id: req.subject_id.to_owned(),
        payer_id: req.payer_id.to_owned(),
        payee_id: req.payee_id.to_owned(),
        amount_minor: req.amount.minor(),
        currency: req.amount.currency().as_str().to_owned(),
        fee_bps: req.fee_bps as i32,
        payment_id: None,
        status: HoldStatus::Pending.as_str().into(),
        captured_minor: 0,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(payment_holds::table)
        .values(&row)
        .execute(conn)?;
    let pending = HoldStatus::Pending.as_str();
    audit(conn, "hold", &row.id, None, pending, req.purpose.as_str())?;
    Ok(row)
}

/// Creates the provider payment (authorise only) for a pending hold; the payer confirms it on
/// the provider's page and the `payment.authorized` event moves the hold on.
pub fn authorize(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    hold: &HoldRow,
) -> Result<ProviderPayment, OrderError> {
    let payment = provider.create_payment(
        &hold.id,
        &hold.payer_id,
        money(hold)?,
        CaptureMethod::Manual,
    )?;
    diesel::update(payment_holds::table.find(&hold.id))
        .set((
            payment_holds::payment_id.eq(&payment.id),
            payment_holds::updated_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(payment)
}

fn money(hold: &HoldRow) -> Result<Money, OrderError> {
    let currency = Currency::parse(&hold.currency)
        .map_err(|e| OrderError::Unexpected(anyhow::anyhow!("stored currency: {e}")))?;
    Money::new(hold.amount_minor, currency)
        .map_err(|e| OrderError::Unexpected(anyhow::anyhow!("stored amount: {e}")))
}

/// The hold `id`.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<HoldRow>> {
    payment_holds::table
        .find(id)
        .select(HoldRow::as_select())
        .first(conn)
        .optional()
}

/// Every hold of a booking or question, oldest first.
pub fn for_subject(conn: &mut DbConnection, subject_id: &str) -> QueryResult<Vec<HoldRow>> {
    payment_holds::table
        .filter(payment_holds::subject_id.eq(subject_id))
        .order((payment_holds::created_at, payment_holds::id))
        .select(HoldRow::as_select())
        .load(conn)
}

/// Moves a hold `from` → `to` if it is still in `from`; false when someone else moved it first.
fn transition(
    conn: &mut DbConnection,
    hold: &HoldRow,
    from: HoldStatus,
    to: HoldStatus,
    captured_minor: i64,
    cause: &str,
) -> Result<bool, OrderError> {
    let (from, to) = (from.as_str(), to.as_str());
    let n = diesel::update(
        payment_holds::table
            .find(&hold.id)
            .filter(payment_holds::status.eq(from)),
    )
    .set((
        payment_holds::status.eq(to),
        payment_holds::captured_minor.eq(captured_minor),
        payment_holds::updated_at.eq(db::now()),
    ))
    .execute(conn)?;
    if n == 1 {
        audit(conn, "hold", &hold.id, Some(from), to, cause)?;
    }
    Ok(n == 1)
}

/// How the money a capture takes is booked: the journal lines for the amount taken.
pub type Posting<'a> = &'a dyn Fn(Money) -> Result<Vec<ledger::domain::Line>, MoneyError>;

/// Takes `amount` (at most the hold) from an authorised hold and releases the rest, posting
/// the platform fee and the payee's earning to the ledger (a `sale` to the payee); nothing
/// taken means a release. Returns what was captured.
pub fn capture(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    hold: &HoldRow,
    amount_minor: i64,
    cause: &str,
) -> Result<i64, OrderError> {
    let fee_bps = hold.fee_bps as u32;
    let sale = |amount: Money| ledger::domain::sale(amount, amount, &hold.payee_id, fee_bps);
    capture_posting(conn, provider, hold, amount_minor, cause, &sale)
}

/// [`capture`] with another posting rule, for money that is not simply the payee's sale (an
/// unlock is shared between asker and expert). The lines are written in the transaction that
/// marks the hold captured, so they are posted exactly once.
pub fn capture_posting(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    hold: &HoldRow,
    amount_minor: i64,
    cause: &str,
    posting: Posting,
) -> Result<i64, OrderError> {
    let amount_minor = amount_minor.clamp(0, hold.amount_minor);
    if amount_minor == 0 {
        release(conn, provider, hold, cause)?;
        return Ok(0);
    }
    let status = hold.status()?;
    if status != HoldStatus::Authorized {
        return Err(OrderError::Conflict(format!(
            "a {status} hold cannot be captured"
        )));
    }
    let payment_id = hold.payment_id.as_deref().unwrap_or_default();
    let amount = Money::new(amount_minor, money(hold)?.currency())
        .map_err(|e| OrderError::Invalid(e.to_string()))?;
    let paid = provider.capture(payment_id, amount)?;
    if paid.status != ProviderStatus::Succeeded {
        return Err(OrderError::Conflict(format!(
            "the provider left the payment {}",
            paid.status.as_str()
        )));
    }
    db::write_transaction(conn, |c| {
        let (from, to) = (HoldStatus::Authorized, HoldStatus::Captured);
        if transition(c, hold, from, to, amount_minor, cause)? {
            let lines = posting(amount).map_err(|e| OrderError::Unexpected(e.into()))?;
            ledger::service::post(c, hold.purpose.as_str(), &hold.id, &hold.currency, &lines)?;
        }
        Ok(amount_minor)
    })
}

/// Lets a pending or authorised hold go without taking anything. Already released, failed or
/// captured holds are left as they are.
pub fn release(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    hold: &HoldRow,
    cause: &str,
) -> Result<(), OrderError> {
    let status = hold.status()?;
    if !matches!(status, HoldStatus::Pending | HoldStatus::Authorized) {
        return Ok(());
    }
    if let Some(payment_id) = &hold.payment_id {
        provider.release(payment_id)?;
    }
    db::write_transaction(conn, |c| {
        transition(c, hold, status, HoldStatus::Released, 0, cause)?;
        Ok(())
    })
}

/// What a provider event did to a hold, for the subject (booking, question) to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldChange {
    /// The money is now held.
    Authorized,
    /// The payment was cancelled before authorisation. (A refused card is not final: the
    /// payer may try another.)
    Failed,
    /// Nothing changed (seen before, or stale).
    None,
}

/// Applies a provider event to its hold inside the caller's transaction; the event id is
/// recorded there too, so redeliveries change nothing.
pub fn apply_event(
    conn: &mut DbConnection,
    event: &ProviderEvent,
) -> Result<(HoldRow, HoldChange), OrderError> {
    let p = &event.data.payment;
    let hold = find(conn, &p.reference)?.ok_or(OrderError::UnknownOrder)?;
    if !first_sighting(conn, &event.id, &event.kind)? {
        return Ok((hold, HoldChange::None));
    }
    if hold.payment_id.as_deref() != Some(p.id.as_str())
        || p.amount_minor != hold.amount_minor
        || p.currency != hold.currency
    {
        return Err(OrderError::EventMismatch(
            "payment, amount or currency".into(),
        ));
    }
    let change = match event.kind.as_str() {
        "payment.authorized"
            if transition(
                conn,
                &hold,
                HoldStatus::Pending,
                HoldStatus::Authorized,
                0,
                &event.kind,
            )? =>
        {
            HoldChange::Authorized
        }
        "payment.canceled"
            if transition(
                conn,
                &hold,
                HoldStatus::Pending,
                HoldStatus::Failed,
                0,
                &event.kind,
            )? =>
        {
            HoldChange::Failed
        }
        _ => HoldChange::None,
    };
    Ok((hold, change))
}

/// Applies a provider event to its hold and lets the subject follow in the same transaction:
/// `follow` gets the hold and what changed and answers whether the money arrived for a subject
/// that no longer waits for it (stale), in which case the hold is released at once (`cause`).
/// Returns the hold as it is now.
pub fn follow_event(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    event: &ProviderEvent,
    cause: &str,
    follow: impl FnOnce(&mut DbConnection, &HoldRow, HoldChange) -> Result<bool, OrderError>,
) -> Result<HoldRow, OrderError> {
    let (hold, stale) = db::write_transaction(conn, |c| {
        let (hold, change) = apply_event(c, event)?;
        let stale = follow(c, &hold, change)?;
        Ok::<_, OrderError>((find(c, &hold.id)?.unwrap_or(hold), stale))
    })?;
    if stale {
        release(conn, provider, &hold, cause)?;
        return Ok(find(conn, &hold.id)?.unwrap_or(hold));
    }
    Ok(hold)
}
