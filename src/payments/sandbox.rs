//! The built-in sandbox provider: behaves like a card processor's test mode. Its books live in
//! its own tables (`sandbox_payments`, `sandbox_refunds`) and every state change queues a
//! webhook event in `sandbox_outbox` in the same transaction, which the [`super::dispatcher`]
//! delivers — so no confirmation is lost across a restart.
//!
//! Test cards (any expiry and CVC; spaces allowed):
//!
//! | number | outcome |
//! |---|---|
//! | `4242 4242 4242 4242` | succeeds |
//! | `4000 0000 0000 0002` | declined (`card_declined`) |
//! | `4000 0000 0000 9995` | declined (`insufficient_funds`) |
//! | `4000 0025 0000 3155` | needs an extra confirmation step (3-D Secure), then succeeds or fails |
//! | any other Luhn-valid number | succeeds |

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::json;
use tokio::sync::Notify;

use super::provider::{
    CaptureMethod, PaymentProvider, ProviderError, ProviderPayment, ProviderStatus,
};
use crate::db::schema::{sandbox_outbox, sandbox_payments, sandbox_refunds};
use crate::db::{self, Db, DbConnection};
use crate::money::Money;

/// What a test card does when confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBehaviour {
    /// The charge goes through.
    Succeeds,
    /// Refused with this failure code.
    Declines(&'static str),
    /// Needs the payer to authenticate first.
    RequiresAction,
}

/// Parses a card number (digits and spaces, 12–19 digits, Luhn-valid) into its behaviour.
pub fn card_behaviour(number: &str) -> Result<CardBehaviour, String> {
    let digits: String = number.chars().filter(|c| *c != ' ').collect();
    if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("card_number must be 12 to 19 digits".into());
    }
    if !luhn_valid(&digits) {
        return Err("card_number fails the Luhn check".into());
    }
    Ok(match digits.as_str() {
        "4000000000000002" => CardBehaviour::Declines("card_declined"),
        "4000000000009995" => CardBehaviour::Declines("insufficient_funds"),
        "4000002500003155" => CardBehaviour::RequiresAction,
        _ => CardBehaviour::Succeeds,
    })
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sandbox_payments)]
struct Row {
    id: String,
    reference: String,
    amount_minor: i64,
    currency: String,
    capture_method: String,
    status: String,
    captured_minor: i64,
    refunded_minor: i64,
    card_last4: Option<String>,
    failure_code: Option<String>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    /// Whose page this is: only they may confirm or authenticate it.
    payer_id: Option<String>,
}

impl Row {
    fn status(&self) -> Result<ProviderStatus, ProviderError> {
        ProviderStatus::parse(&self.status).ok_or_else(|| {
            ProviderError::Unavailable(format!("corrupt sandbox status {}", self.status))
        })
    }

    fn view(&self) -> Result<ProviderPayment, ProviderError> {
        Ok(ProviderPayment {
            id: self.id.clone(),
            reference: self.reference.clone(),
            status: self.status()?,
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            captured_minor: self.captured_minor,
            refunded_minor: self.refunded_minor,
            failure_code: self.failure_code.clone(),
        })
    }
}

/// Why the payer's page refused an action. Each state has its own code, so a client tells a
/// second confirmation from a confirmation of a cancelled payment without reading prose. A
/// payment that is not the caller's is `Provider(UnknownPayment)`, as if it did not exist.
#[derive(Debug, thiserror::Error)]
pub enum PayerError {
    /// The card number is malformed.
    #[error("{0}")]
    Card(String),
    /// The payment already went through (authorised or captured).
    #[error("the payment is already confirmed")]
    AlreadyConfirmed,
    /// The payment was cancelled (released) and can no longer be paid.
    #[error("the payment was cancelled")]
    Canceled,
    /// The card asked for the extra step: authenticate, do not confirm again.
    #[error("the payment waits for the payer's authentication")]
    RequiresAction,
    /// Authenticate was called on a payment that did not ask for it.
    #[error("the payment does not require an action")]
    NoActionRequired,
    /// The sandbox itself failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl PayerError {
    /// Why a payment in `status` refuses a payer action.
    fn refused(status: ProviderStatus) -> Self {
        match status {
            ProviderStatus::Authorized | ProviderStatus::Succeeded => Self::AlreadyConfirmed,
            ProviderStatus::Canceled => Self::Canceled,
            ProviderStatus::RequiresAction => Self::RequiresAction,
            ProviderStatus::RequiresConfirmation | ProviderStatus::Failed => Self::NoActionRequired,
        }
    }
}

impl From<diesel::result::Error> for PayerError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Provider(e.into())
    }
}

/// The sandbox provider: a handle on its tables and a bell that wakes the dispatcher.
#[derive(Clone)]
pub struct Sandbox {
    db: Db,
    wake: Arc<Notify>,
}

/// Result of a sandbox operation.
type PResult<T> = Result<T, ProviderError>;

impl From<diesel::result::Error> for ProviderError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<db::DbError> for ProviderError {
    fn from(e: db::DbError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl Sandbox {
    /// A sandbox keeping its books in `db`; `wake` is notified whenever an event is queued.
    pub fn new(db: Db, wake: Arc<Notify>) -> Self {
        Self { db, wake }
    }

    /// Runs one state change: load the payment, let `change` mutate it and name the event to
    /// emit, persist both atomically, then ring the dispatcher.
    fn change<E>(
        &self,
        payment_id: &str,
        payer: Option<&str>,
        change: impl FnOnce(&mut Row, &mut DbConnection) -> Result<Option<&'static str>, E>,
    ) -> Result<ProviderPayment, E>
    where
        E: From<ProviderError> + From<diesel::result::Error>,
    {
        let mut conn = self.db.get().map_err(ProviderError::from)?;
        let (view, emitted) =
            db::write_transaction(&mut conn, |c| -> Result<(ProviderPayment, bool), E> {
                let mut row = load(c, payment_id)?;
                if payer.is_some_and(|p| row.payer_id.as_deref() != Some(p)) {
                    return Err(ProviderError::UnknownPayment(payment_id.to_owned()).into());
                }
                let event = change(&mut row, c)?;
                row.updated_at = db::now();
                diesel::update(sandbox_payments::table.find(&row.id))
                    .set((
                        sandbox_payments::status.eq(&row.status),
                        sandbox_payments::captured_minor.eq(row.captured_minor),
                        sandbox_payments::refunded_minor.eq(row.refunded_minor),
                        sandbox_payments::card_last4.eq(&row.card_last4),
                        sandbox_payments::failure_code.eq(&row.failure_code),
                        sandbox_payments::updated_at.eq(row.updated_at),
                    ))
                    .execute(c)?;
                let view = row.view()?;
                if let Some(kind) = event {
                    enqueue(c, kind, &view, None)?;
                }
                Ok((view, event.is_some()))
            })?;
        if emitted {
            self.wake.notify_one();
        }
        Ok(view)
    }

    /// The payer confirms with a card (the provider's hosted payment page). Only the payer the
    /// payment was created for may: for anyone else it does not exist.
    pub fn confirm(
        &self,
        payment_id: &str,
        payer: &str,
        card_number: &str,
    ) -> Result<ProviderPayment, PayerError> {
        let behaviour = card_behaviour(card_number).map_err(PayerError::Card)?;
        let last4: String = card_number
            .chars()
            .filter(char::is_ascii_digit)
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        self.change(payment_id, Some(payer), |row, _| {
            let status = row.status()?;
            if !matches!(
                status,
                ProviderStatus::RequiresConfirmation | ProviderStatus::Failed
            ) {
                return Err(PayerError::refused(status));
            }
            row.card_last4 = Some(last4);
            Ok(Some(match behaviour {
                CardBehaviour::Succeeds => approve(row),
                CardBehaviour::Declines(code) => decline(row, code),
                CardBehaviour::RequiresAction => {
                    row.failure_code = None;
                    row.status = ProviderStatus::RequiresAction.as_str().into();
                    "payment.requires_action"
                }
            }))
        })
    }

    /// The payer completes (or fails) the extra confirmation step; bound to the payer as
    /// [`Sandbox::confirm`] is.
    pub fn authenticate(
        &self,
        payment_id: &str,
        payer: &str,
        approved: bool,
    ) -> Result<ProviderPayment, PayerError> {
        self.change(payment_id, Some(payer), |row, _| {
            let status = row.status()?;
            if status != ProviderStatus::RequiresAction {
                return Err(PayerError::refused(status));
            }
            Ok(Some(if approved {
                approve(row)
            } else {
                decline(row, "authentication_failed")
            }))
        })
    }

    /// The payment as the sandbox knows it.
    pub fn get(&self, payment_id: &str) -> PResult<ProviderPayment> {
        load(&mut *self.db.get()?, payment_id)?.view()
    }
}

/// The payment with this id, or `UnknownPayment`.
fn load(c: &mut DbConnection, payment_id: &str) -> PResult<Row> {
    sandbox_payments::table
        .find(payment_id)
        .select(Row::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ProviderError::UnknownPayment(payment_id.to_owned()))
}

fn approve(row: &mut Row) -> &'static str {
    row.failure_code = None;
    if row.capture_method == CaptureMethod::Manual.as_str() {
        row.status = ProviderStatus::Authorized.as_str().into();
        "payment.authorized"
    } else {
        row.status = ProviderStatus::Succeeded.as_str().into();
        row.captured_minor = row.amount_minor;
        "payment.succeeded"
    }
}

fn decline(row: &mut Row, code: &str) -> &'static str {
    row.status = ProviderStatus::Failed.as_str().into();
    row.failure_code = Some(code.to_owned());
    "payment.failed"
}

/// Queues a webhook event describing `payment` after a change of kind `kind`.
fn enqueue(
    conn: &mut DbConnection,
    kind: &str,
    payment: &ProviderPayment,
    refund: Option<(&str, i64)>,
) -> QueryResult<()> {
    let now = db::now();
    let event_id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    let payload = json!({
        "id": event_id,
        "type": kind,
        "created": now.and_utc().timestamp(),
        "data": {
            "payment": payment,
            "refund": refund.map(|(id, amount)| json!({"id": id, "amount_minor": amount})),
        },
    });
    diesel::insert_into(sandbox_outbox::table)
        .values((
            sandbox_outbox::event_id.eq(&event_id),
            sandbox_outbox::payload.eq(payload.to_string()),
            sandbox_outbox::attempts.eq(0),
            sandbox_outbox::next_attempt_at.eq(now),
            sandbox_outbox::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

impl PaymentProvider for Sandbox {
    fn create_payment(
        &self,
        reference: &str,
        payer: &str,
        amount: Money,
        capture: CaptureMethod,
    ) -> PResult<ProviderPayment> {
        let mut conn = self.db.get()?;
        db::write_transaction(&mut conn, |c| -> PResult<ProviderPayment> {
            let existing: Option<Row> = sandbox_payments::table
                .filter(sandbox_payments::reference.eq(reference))
                .select(Row::as_select())
                .first(c)
                .optional()?;
            if let Some(row) = existing {
                return row.view();
            }
            let now = db::now();
            let row = Row {
                id: format!("pay_{}", uuid::Uuid::new_v4().simple()),
                reference: reference.to_owned(),
                amount_minor: amount.minor(),
                currency: amount.currency().to_string(),
                capture_method: capture.as_str().into(),
                status: ProviderStatus::RequiresConfirmation.as_str().into(),
                captured_minor: 0,
                refunded_minor: 0,
                card_last4: None,
                failure_code: None,
                created_at: now,
                updated_at: now,
                payer_id: Some(payer.to_owned()),
            };
            diesel::insert_into(sandbox_payments::table)
                .values(&row)
                .execute(c)?;
            row.view()
        })
    }

    fn capture(&self, payment_id: &str, amount: Money) -> PResult<ProviderPayment> {
        self.change(payment_id, None, |row, _| {
            // A repeated capture of what was taken answers the captured payment, as a retry
            // under the same idempotency key would at a processor: a caller that raced another
            // or crashed after the money moved can still finish its own bookkeeping.
            if row.status()? == ProviderStatus::Succeeded
                && row.captured_minor == amount.minor()
                && row.currency == amount.currency().as_str()
            {
                return Ok(None);
            }
            if row.status()? != ProviderStatus::Authorized {
                return Err(ProviderError::Invalid(
                    "only an authorised payment can be captured".into(),
                ));
            }
            if amount.currency().as_str() != row.currency || amount.minor() > row.amount_minor {
                return Err(ProviderError::Invalid(format!(
                    "cannot capture {amount} of an authorisation of {} {}",
                    row.amount_minor, row.currency
                )));
            }
            if amount.is_zero() {
                row.status = ProviderStatus::Canceled.as_str().into();
                return Ok(Some("payment.canceled"));
            }
            row.captured_minor = amount.minor();
            row.status = ProviderStatus::Succeeded.as_str().into();
            Ok(Some("payment.captured"))
        })
    }

    fn release(&self, payment_id: &str) -> PResult<ProviderPayment> {
        self.change(payment_id, None, |row, _| match row.status()? {
            ProviderStatus::Canceled => Ok(None),
            ProviderStatus::Succeeded => Err(ProviderError::Invalid(
                "a captured payment cannot be released; refund it".into(),
            )),
            _ => {
                row.status = ProviderStatus::Canceled.as_str().into();
                Ok(Some("payment.canceled"))
            }
        })
    }

    fn refund(
        &self,
        payment_id: &str,
        amount: Money,
        refund_key: &str,
    ) -> PResult<ProviderPayment> {
        let mut conn = self.db.get()?;
        let (view, emitted) =
            db::write_transaction(&mut conn, |c| -> PResult<(ProviderPayment, bool)> {
                let mut row = load(c, payment_id)?;
                let seen: Option<(String, i64)> = sandbox_refunds::table
                    .find(refund_key)
                    .select((sandbox_refunds::payment_id, sandbox_refunds::amount_minor))
                    .first(c)
                    .optional()?;
                if let Some((pid, amt)) = seen {
                    return if pid == payment_id && amt == amount.minor() {
                        Ok((row.view()?, false))
                    } else {
                        Err(ProviderError::Invalid(
                            "refund key reused for another refund".into(),
                        ))
                    };
                }
                let remaining = row.captured_minor - row.refunded_minor;
                if row.status()? != ProviderStatus::Succeeded
                    || amount.currency().as_str() != row.currency
                    || amount.is_zero()
                    || amount.minor() > remaining
                {
                    return Err(ProviderError::Invalid(format!(
                        "cannot refund {amount}: {remaining} {} refundable",
                        row.currency
                    )));
                }
                let now = db::now();
                row.refunded_minor += amount.minor();
                diesel::update(sandbox_payments::table.find(payment_id))
                    .set((
                        sandbox_payments::refunded_minor.eq(row.refunded_minor),
                        sandbox_payments::updated_at.eq(now),
                    ))
                    .execute(c)?;
                diesel::insert_into(sandbox_refunds::table)
                    .values((
                        sandbox_refunds::refund_key.eq(refund_key),
                        sandbox_refunds::payment_id.eq(payment_id),
                        sandbox_refunds::amount_minor.eq(amount.minor()),
                        sandbox_refunds::created_at.eq(now),
                    ))
                    .execute(c)?;
                let view = row.view()?;
                enqueue(
                    c,
                    "refund.succeeded",
                    &view,
                    Some((refund_key, amount.minor())),
                )?;
                Ok((view, true))
            })?;
        if emitted {
            self.wake.notify_one();
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_behave_as_documented() {
        assert_eq!(
            card_behaviour("4242 4242 4242 4242"),
            Ok(CardBehaviour::Succeeds)
        );
        assert_eq!(
            card_behaviour("4000000000000002"),
            Ok(CardBehaviour::Declines("card_declined"))
        );
        assert_eq!(
            card_behaviour("4000000000009995"),
            Ok(CardBehaviour::Declines("insufficient_funds"))
        );
        assert_eq!(
            card_behaviour("4000002500003155"),
            Ok(CardBehaviour::RequiresAction)
        );
        assert_eq!(
            card_behaviour("5555555555554444"),
            Ok(CardBehaviour::Succeeds)
        );
    }

    #[test]
    fn malformed_cards_are_refused() {
        for bad in [
            "",
            "4242",
            "4242424242424241",
            "abcd abcd abcd abcd",
            "4242-4242-4242-4242",
        ] {
            assert!(card_behaviour(bad).is_err(), "{bad}");
        }
    }
}
