//! Bookings of an expert's time and their money: a learner books a start and a number of
//! minutes; the price (minutes × rate) is held on their card; the booking is confirmed when the
//! hold is authorised. The expert may decline (everything released); the learner may cancel
//! (free until the notice period, then a fee is captured). After the session the billable time
//! metered in `consult_intervals` is captured, never above what was authorised, and the rest
//! released. A sweep handles what nobody else will: unpaid bookings, no-shows, and sessions a
//! crash left unsettled.
//!
//! Each booking owns one `booking_slots` row per 5-minute slot it covers; the primary key
//! (expert, slot) makes two overlapping bookings of one expert impossible on any backend.
//!
//! `pending_payment → confirmed → in_progress → completed`, with `declined`, `canceled`,
//! `expired`, `expert_no_show` and `learner_no_show` as other ends.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::experts::ExpertTerms;
use super::holds::{self, HoldChange, HoldRequest, HoldRow};
use super::metering;
use super::settlement::{self, Facts, Outcome, Timings};
use super::status::{BookingStatus, HoldPurpose, HoldStatus, stored};
use crate::accounts::{AuthUser, Role};
use crate::db::schema::{booking_slots, bookings, consult_intervals};
use crate::db::{self, DbConnection};
use crate::money::Money;
use crate::orders::service::OrderError;
use crate::orders::store::audit;
use crate::payments::events::ProviderEvent;
use crate::payments::{PaymentProvider, ProviderPayment};

/// Bookings are made of slots of this many minutes.
pub const SLOT_MINUTES: i64 = 5;

/// The consultation rules an operator can tune.
#[derive(Debug, Clone)]
pub struct ConsultConfig {
    /// Platform share of captured consultation money, in basis points.
    pub fee_bps: u32,
    /// How long a learner has to authorise the payment of a new booking.
    pub payment_window: Duration,
    /// Unpaid bookings a learner may hold at once, in all and with one expert.
    pub max_unpaid: UnpaidCaps,
    /// Cancelling closer than this to the start costs `late_cancel_fee_bps` of the price.
    pub cancel_notice: Duration,
    /// Share of the booked price captured for a late cancellation.
    pub late_cancel_fee_bps: u32,
    /// How long after the start a party may arrive before they count as a no-show.
    pub no_show_grace: Duration,
    /// Share of the booked price captured when the learner does not show (0 releases all).
    pub learner_no_show_fee_bps: u32,
    /// How long a dropped party may take to reconnect before billing stops at the drop.
    pub reconnect_grace_s: i64,
    /// How long an expert has to answer a paid question once it is paid for.
    pub question_answer_window: Duration,
    /// The price of unlocking a public answer, in minor units of the question's currency.
    pub unlock_price_minor: i64,
    /// The asker's share of an unlock after the platform fee, in basis points.
    pub unlock_asker_bps: u32,
}

impl ConsultConfig {
    /// The rules from the server settings.
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            fee_bps: s.platform_fee_bps,
            payment_window: Duration::minutes(s.consult_payment_minutes as i64),
            max_unpaid: UnpaidCaps {
                total: s.consult_max_unpaid,
                per_expert: s.consult_max_unpaid_per_expert,
            },
            cancel_notice: Duration::hours(s.consult_cancel_notice_hours as i64),
            late_cancel_fee_bps: s.consult_late_cancel_fee_bps,
            no_show_grace: Duration::minutes(s.consult_no_show_grace_minutes as i64),
            learner_no_show_fee_bps: s.consult_learner_no_show_fee_bps,
            reconnect_grace_s: s.consult_reconnect_grace_secs as i64,
            question_answer_window: Duration::hours(i64::from(s.question_answer_hours)),
            unlock_price_minor: s.question_unlock_price_minor,
            unlock_asker_bps: s.question_unlock_asker_bps,
        }
    }
}

/// How many unpaid bookings one learner may hold at a time: without a cap, one account holds a
/// whole day of an expert's calendar with bookings it never pays, renewed as each expires.
#[derive(Debug, Clone, Copy)]
pub struct UnpaidCaps {
    /// In all.
    pub total: u32,
    /// With one expert.
    pub per_expert: u32,
}

/// The lowest free place among `taken` places of unpaid bookings (`None` for rows from before
/// places existed, which still count), or `None` when all `cap` places are taken. The place is
/// stored with the booking and a partial unique index keeps two pending bookings off one place,
/// so the cap holds against concurrent requests on any backend.
pub fn free_place(taken: &[Option<i32>], cap: u32) -> Option<i32> {
    if taken.len() >= cap as usize {
        return None;
    }
    (0..cap as i32).find(|p| !taken.contains(&Some(*p)))
}

/// Why a booking attempt's transaction did not commit.
enum BookFailure {
    /// A refusal or failure to report.
    Order(OrderError),
    /// A concurrent booking took the same unpaid place first; try again.
    PlaceTaken,
}

impl From<diesel::result::Error> for BookFailure {
    fn from(e: diesel::result::Error) -> Self {
        Self::Order(e.into())
    }
}

impl From<OrderError> for BookFailure {
    fn from(e: OrderError) -> Self {
        Self::Order(e)
    }
}

/// How often a booking is retried after losing an unpaid place to a concurrent booking.
const PLACE_ATTEMPTS: usize = 3;

/// Takes an unpaid place (in all, and with the expert) for the new pending booking `row`.
fn take_unpaid_places(
    conn: &mut DbConnection,
    caps: UnpaidCaps,
    row: &BookingRow,
) -> Result<(), BookFailure> {
    let pending: Vec<(String, Option<i32>, Option<i32>)> = bookings::table
        .filter(bookings::learner_id.eq(&row.learner_id))
        .filter(bookings::status.eq(BookingStatus::PendingPayment.as_str()))
        .filter(bookings::id.ne(&row.id))
        .select((
            bookings::expert_id,
            bookings::unpaid_place,
            bookings::unpaid_expert_place,
        ))
        .load(conn)?;
    let all: Vec<Option<i32>> = pending.iter().map(|p| p.1).collect();
    let with_expert: Vec<Option<i32>> = pending
        .iter()
        .filter(|p| p.0 == row.expert_id)
        .map(|p| p.2)
        .collect();
    let refuse = |m: String| BookFailure::Order(OrderError::Conflict(m));
    let place = free_place(&all, caps.total).ok_or_else(|| {
        refuse(format!(
            "you already hold {} unpaid bookings; pay or cancel one first",
            caps.total
        ))
    })?;
    let expert_place = free_place(&with_expert, caps.per_expert).ok_or_else(|| {
        refuse(format!(
            "you already hold {} unpaid booking(s) with this expert; pay or cancel first",
            caps.per_expert
        ))
    })?;
    let taken = diesel::update(bookings::table.find(&row.id))
        .set((
            bookings::unpaid_place.eq(Some(place)),
            bookings::unpaid_expert_place.eq(Some(expert_place)),
        ))
        .execute(conn);
    match taken {
        Ok(_) => Ok(()),
        Err(e) if db::is_unique_violation(&e) => Err(BookFailure::PlaceTaken),
        Err(e) => Err(e.into()),
    }
}

/// A row of `bookings`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = bookings)]
pub struct BookingRow {
    /// Id; the room is `consult:<id>`.
    pub id: String,
    /// The expert (a user id).
    pub expert_id: String,
    /// The learner.
    pub learner_id: String,
    /// Start (UTC).
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc::serialize")]
    pub starts_at: NaiveDateTime,
    /// Booked minutes.
    pub minutes: i32,
    /// Minutes added by accepted extensions.
    pub extra_minutes: i32,
    /// Price per minute in minor units.
    pub rate_per_minute_minor: i64,
    /// Currency of every amount.
    pub currency: String,
    /// Where the booking stands.
    pub status: String,
    /// Metered time with both parties present (set at settlement).
    pub billable_seconds: i64,
    /// What was captured.
    pub charged_minor: i64,
    /// When the expert first joined the room.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc_opt::serialize")]
    pub expert_joined_at: Option<NaiveDateTime>,
    /// When the learner first joined the room.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc_opt::serialize")]
    pub learner_joined_at: Option<NaiveDateTime>,
    /// When the session ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc_opt::serialize")]
    pub ended_at: Option<NaiveDateTime>,
    /// When the money was settled.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc_opt::serialize")]
    pub settled_at: Option<NaiveDateTime>,
    /// Unpaid bookings expire then.
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc::serialize")]
    pub expires_at: NaiveDateTime,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc::serialize")]
    pub created_at: NaiveDateTime,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::clock::utc::serialize")]
    pub updated_at: NaiveDateTime,
}

impl BookingRow {
    /// Where the booking stands; a stored name this build does not know is an error.
    pub fn status(&self) -> Result<BookingStatus, OrderError> {
        stored("booking", &self.id, &self.status)
    }

    /// Booked seconds including extensions.
    pub fn limit_s(&self) -> i64 {
        i64::from(self.minutes + self.extra_minutes) * 60
    }

    /// Whether `user` is a party of this booking.
    pub fn party(&self, user: &str) -> Option<Party> {
        party_of(&self.expert_id, &self.learner_id, user)
    }
}

/// Which side of the consultation between `expert_id` and `learner_id` `user` is on, if any.
pub fn party_of(expert_id: &str, learner_id: &str, user: &str) -> Option<Party> {
    if user == expert_id {
        Some(Party::Expert)
    } else if user == learner_id {
        Some(Party::Learner)
    } else {
        None
    }
}

/// Which side of a consultation someone is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The expert.
    Expert,
    /// The learner.
    Learner,
}

/// The time a booking asks for.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Start (UTC, on a slot boundary).
    pub start: DateTime<Utc>,
    /// Length in minutes (a multiple of the slot).
    pub minutes: i64,
}

/// A running interval: its start and last checkpoint.
pub type OpenInterval = (DateTime<Utc>, DateTime<Utc>);

/// A booking and the payment the learner must confirm.
#[derive(Debug, Serialize, ToSchema)]
pub struct Booked {
    /// The booking.
    pub booking: BookingRow,
    /// The provider payment holding the price; confirm it to authorise.
    #[schema(value_type = Object)]
    pub payment: Option<ProviderPayment>,
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// The UTC intervals in which `expert_id` has booked slots overlapping `[from, to)`, adjacent
/// slots merged.
pub fn busy(
    conn: &mut DbConnection,
    expert_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    let slot = Duration::minutes(SLOT_MINUTES);
    let taken: Vec<NaiveDateTime> = booking_slots::table
        .filter(booking_slots::expert_id.eq(expert_id))
        .filter(booking_slots::slot_at.gt(naive(from - slot)))
        .filter(booking_slots::slot_at.lt(naive(to)))
        .order(booking_slots::slot_at)
        .select(booking_slots::slot_at)
        .load(conn)?;
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for t in taken.into_iter().map(|t| t.and_utc()) {
        match merged.last_mut() {
            Some((_, end)) if *end == t => *end = t + slot,
            _ => merged.push((t, t + slot)),
        }
    }
    Ok(merged)
}

/// The start of every slot of `[start, start + minutes)`.
pub fn slots(start: DateTime<Utc>, minutes: i64) -> Vec<NaiveDateTime> {
    (0..minutes / SLOT_MINUTES)
        .map(|i| naive(start + Duration::minutes(i * SLOT_MINUTES)))
        .collect()
}

/// The booking `id`.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<BookingRow, OrderError> {
    bookings::table
        .find(id)
        .select(BookingRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(OrderError::NotFound("booking"))
}

/// The booking `id` as `user` may see it: its parties and admins.
pub fn visible(
    conn: &mut DbConnection,
    user: &AuthUser,
    id: &str,
) -> Result<BookingRow, OrderError> {
    let b = find(conn, id)?;
    if b.party(&user.id).is_some() || user.role == Role::Admin {
        Ok(b)
    } else {
        Err(OrderError::NotFound("booking"))
    }
}

/// `user`'s bookings, as learner and as expert, soonest first.
pub fn mine(conn: &mut DbConnection, user: &str) -> QueryResult<Vec<BookingRow>> {
    bookings::table
        .filter(
            bookings::learner_id
                .eq(user)
                .or(bookings::expert_id.eq(user)),
        )
        .order((bookings::starts_at, bookings::id))
        .select(BookingRow::as_select())
        .limit(500)
        .load(conn)
}

/// A booking in its parties' list: the booking and both parties' display names.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedBooking {
    /// The booking.
    #[serde(flatten)]
    pub booking: BookingRow,
    /// The expert's display name.
    pub expert_name: String,
    /// The learner's display name (the expert sees who is coming).
    pub learner_name: String,
}

/// [`mine`] with both parties named, the names read in one query.
pub fn mine_named(conn: &mut DbConnection, user: &str) -> QueryResult<Vec<NamedBooking>> {
    let rows = mine(conn, user)?;
    let people: Vec<&str> = rows
        .iter()
        .flat_map(|b| [b.expert_id.as_str(), b.learner_id.as_str()])
        .collect();
    let names = crate::catalog::store::names_for(conn, &people)?;
    let name = |id: &str| names.get(id).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|booking| NamedBooking {
            expert_name: name(&booking.expert_id),
            learner_name: name(&booking.learner_id),
            booking,
        })
        .collect())
}

fn set_status(
    conn: &mut DbConnection,
    b: &BookingRow,
    from: &[BookingStatus],
    to: BookingStatus,
    cause: &str,
) -> Result<bool, OrderError> {
    let (from, to): (Vec<&str>, &str) = (from.iter().map(|s| s.as_str()).collect(), to.as_str());
    let n = diesel::update(
        bookings::table
            .find(&b.id)
            .filter(bookings::status.eq_any(from)),
    )
    .set((bookings::status.eq(to), bookings::updated_at.eq(db::now())))
    .execute(conn)?;
    if n == 1 {
        audit(conn, "booking", &b.id, Some(&b.status), to, cause)?;
    }
    Ok(n == 1)
}

fn free_slots(conn: &mut DbConnection, booking_id: &str) -> QueryResult<usize> {
    diesel::delete(booking_slots::table.filter(booking_slots::booking_id.eq(booking_id)))
        .execute(conn)
}

/// Books `minutes` of `terms`' expert from `start` for `learner` and asks the provider to hold
/// the price. The caller has checked the expert's availability. Booking the same time again
/// while the first is unpaid returns that booking (safe retries); any other overlap is a
/// conflict.
pub fn book(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    learner: &AuthUser,
    terms: &ExpertTerms,
    span: Span,
    now: DateTime<Utc>,
) -> Result<Booked, OrderError> {
    let Span { start, minutes } = span;
    if learner.id == terms.expert_id {
        return Err(OrderError::Forbidden(
            "experts cannot book themselves".into(),
        ));
    }
    let price = Money::new(
        terms.rate_per_minute_minor.saturating_mul(minutes),
        terms.currency,
    )
    .map_err(|e| OrderError::Invalid(e.to_string()))?;
    let mut attempt = 0;
    let created = loop {
        attempt += 1;
        let tried = db::write_transaction(conn, |c| {
            let row = BookingRow {
                id: format!("bkg_{}", uuid::Uuid::now_v7().simple()),
                expert_id: terms.expert_id.clone(),
                learner_id: learner.id.clone(),
                starts_at: naive(start),
                minutes: minutes as i32,
                extra_minutes: 0,
                rate_per_minute_minor: terms.rate_per_minute_minor,
                currency: terms.currency.as_str().to_owned(),
                status: BookingStatus::PendingPayment.as_str().into(),
                billable_seconds: 0,
                charged_minor: 0,
                expert_joined_at: None,
                learner_joined_at: None,
                ended_at: None,
                settled_at: None,
                expires_at: naive(now + cfg.payment_window),
                created_at: naive(now),
                updated_at: naive(now),
            };
            diesel::insert_into(bookings::table)
                .values(&row)
                .execute(c)?;
            take_unpaid_places(c, cfg.max_unpaid, &row)?;
            take_slots(c, &row.expert_id, &row.id, start, minutes)?;
            let hold = holds::insert(
                c,
                &HoldRequest {
                    purpose: HoldPurpose::Booking,
                    subject_id: &row.id,
                    payer_id: &learner.id,
                    payee_id: &terms.expert_id,
                    amount: price,
                    fee_bps: cfg.fee_bps,
                },
            )?;
            let pending = BookingStatus::PendingPayment.as_str();
            audit(c, "booking", &row.id, None, pending, "booked")?;
            Ok::<_, BookFailure>((row, hold))
        });
        match tried {
            Ok(pair) => break Ok(pair),
            Err(BookFailure::Order(e)) => break Err(e),
            Err(BookFailure::PlaceTaken) if attempt < PLACE_ATTEMPTS => continue,
            Err(BookFailure::PlaceTaken) => {
                break Err(OrderError::Conflict(
                    "too many unpaid bookings at once; retry".into(),
                ));
            }
        }
    };
    let (booking, hold) = match created {
        Ok(pair) => pair,
        Err(OrderError::Conflict(m)) => {
            return retry_of_same_booking(conn, learner, &terms.expert_id, start, minutes)
                .unwrap_or(Err(OrderError::Conflict(m)));
        }
        Err(e) => return Err(e),
    };
    match holds::authorize(conn, provider, &hold) {
        Ok(payment) => Ok(Booked {
            booking,
            payment: Some(payment),
        }),
        Err(e) => {
            db::write_transaction(conn, |c| {
                set_status(
                    c,
                    &booking,
                    &[BookingStatus::PendingPayment],
                    BookingStatus::PaymentFailed,
                    "provider refused",
                )?;
                free_slots(c, &booking.id)?;
                Ok::<_, OrderError>(())
            })?;
            Err(e)
        }
    }
}

/// Inserts the slots of `[start, start + minutes)` for a booking; a taken slot is a conflict.
fn take_slots(
    conn: &mut DbConnection,
    expert_id: &str,
    booking_id: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> Result<(), OrderError> {
    // One row at a time: batch inserts are not available on the multi-backend connection.
    for slot in slots(start, minutes) {
        let inserted = diesel::insert_into(booking_slots::table)
            .values((
                booking_slots::expert_id.eq(expert_id),
                booking_slots::slot_at.eq(slot),
                booking_slots::booking_id.eq(booking_id),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(e) if db::is_unique_violation(&e) => {
                return Err(OrderError::Conflict(
                    "the expert is already booked at that time".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The learner's own unpaid booking of exactly this expert, start and length, if there is one:
/// asking again for it returns it (a safe retry), before availability (which it occupies) or the
/// unpaid cap (which it counts towards) could refuse it.
pub fn retry_of_same_booking(
    conn: &mut DbConnection,
    learner: &AuthUser,
    expert_id: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> Option<Result<Booked, OrderError>> {
    let existing: BookingRow = bookings::table
        .filter(bookings::learner_id.eq(&learner.id))
        .filter(bookings::expert_id.eq(expert_id))
        .filter(bookings::starts_at.eq(naive(start)))
        .filter(bookings::minutes.eq(minutes as i32))
        .filter(bookings::status.eq(BookingStatus::PendingPayment.as_str()))
        .select(BookingRow::as_select())
        .first(conn)
        .ok()?;
    Some(Ok(Booked {
        booking: existing,
        payment: None,
    }))
}

/// Follows a provider event for a booking or extension hold: an authorised booking hold
/// confirms the booking; an authorised extension adds its minutes (returned, for the room to
/// announce). Money that arrives for a booking that is no longer waiting (expired, cancelled)
/// is released at once.
pub fn apply_event(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    event: &ProviderEvent,
) -> Result<(BookingRow, Option<i64>), OrderError> {
    let mut granted = None;
    let hold = holds::follow_event(
        conn,
        provider,
        event,
        "booking no longer waiting",
        |c, hold, change| {
            let booking = find(c, &hold.subject_id)?;
            Ok(match (change, hold.purpose()?) {
                (HoldChange::Authorized, HoldPurpose::Booking) => {
                    let (from, to) = (BookingStatus::PendingPayment, BookingStatus::Confirmed);
                    !set_status(c, &booking, &[from], to, &event.kind)?
                }
                (HoldChange::Authorized, HoldPurpose::Extension) => {
                    let live = booking.status()?.is_live();
                    if live {
                        let minutes = hold.amount_minor / booking.rate_per_minute_minor;
                        diesel::update(bookings::table.find(&booking.id))
                            .set(
                                bookings::extra_minutes
                                    .eq(bookings::extra_minutes + minutes as i32),
                            )
                            .execute(c)?;
                        granted = Some(minutes);
                    }
                    !live
                }
                (HoldChange::Failed, HoldPurpose::Booking) => {
                    if set_status(
                        c,
                        &booking,
                        &[BookingStatus::PendingPayment],
                        BookingStatus::PaymentFailed,
                        &event.kind,
                    )? {
                        free_slots(c, &booking.id)?;
                    }
                    false
                }
                _ => false,
            })
        },
    )?;
    Ok((find(conn, &hold.subject_id)?, granted))
}

/// Holds the price of `minutes` more for a running session (the expert accepted the learner's
/// request): takes the slots right after the booked end — a conflict if the expert is booked
/// then — and asks the provider to authorise; the minutes count once the hold is authorised.
pub fn request_extension(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    id: &str,
    minutes: i64,
) -> Result<ProviderPayment, OrderError> {
    let b = find(conn, id)?;
    let status = b.status()?;
    if !status.is_live() {
        return Err(OrderError::Conflict(format!(
            "a {status} booking cannot be extended"
        )));
    }
    let end = b.starts_at.and_utc() + Duration::seconds(b.limit_s());
    let price = Money::new(
        b.rate_per_minute_minor.saturating_mul(minutes),
        crate::money::Currency::parse(&b.currency).map_err(OrderError::Invalid)?,
    )
    .map_err(|e| OrderError::Invalid(e.to_string()))?;
    let hold = db::write_transaction(conn, |c| {
        take_slots(c, &b.expert_id, &b.id, end, minutes)?;
        holds::insert(
            c,
            &HoldRequest {
                purpose: HoldPurpose::Extension,
                subject_id: &b.id,
                payer_id: &b.learner_id,
                payee_id: &b.expert_id,
                amount: price,
                fee_bps: cfg.fee_bps,
            },
        )
    })?;
    holds::authorize(conn, provider, &hold)
}

/// The expert declines a booking that has not started: everything is released.
pub fn decline(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    user: &AuthUser,
    id: &str,
) -> Result<BookingRow, OrderError> {
    let b = visible(conn, user, id)?;
    if b.party(&user.id) != Some(Party::Expert) && user.role != Role::Admin {
        return Err(OrderError::Forbidden("only the expert can decline".into()));
    }
    end_unstarted(
        conn,
        provider,
        &b,
        BookingStatus::Declined,
        0,
        "expert declined",
    )
}

/// The learner cancels: free before the notice period, else the late fee is captured.
pub fn cancel(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    user: &AuthUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<BookingRow, OrderError> {
    let b = visible(conn, user, id)?;
    only_the_learner_cancels(&b, user)?;
    let (late, fee) = cancel_fee(cfg, &b, now);
    end_unstarted(
        conn,
        provider,
        &b,
        BookingStatus::Canceled,
        fee,
        if late {
            "late cancellation"
        } else {
            "cancelled in time"
        },
    )
}

/// What cancelling `b` at `now` costs: whether it is late (a confirmed booking inside the
/// notice period) and the fee, `late_cancel_fee_bps` of the price then, else 0.
pub fn cancel_fee(cfg: &ConsultConfig, b: &BookingRow, now: DateTime<Utc>) -> (bool, i64) {
    let confirmed = b.status == BookingStatus::Confirmed.as_str();
    let late = confirmed && now > b.starts_at.and_utc() - cfg.cancel_notice;
    let fee = if late {
        price(b) * i64::from(cfg.late_cancel_fee_bps) / 10_000
    } else {
        0
    };
    (late, fee)
}

/// What cancelling a booking now would cost, so a client can show it before asking.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CancelQuote {
    /// The booking.
    pub booking_id: String,
    /// Whether the learner may cancel it now (`pending_payment` or `confirmed`).
    pub cancellable: bool,
    /// Whether cancelling now is late: a confirmed booking inside the notice period.
    pub late: bool,
    /// The fee cancelling now would capture, in minor units (0 when free).
    pub fee_minor: i64,
    /// What is held for the booked minutes, in minor units.
    pub price_minor: i64,
    /// Currency of both amounts.
    pub currency: String,
    /// Hours before the start from which cancelling costs the late fee.
    pub notice_hours: i64,
    /// The late fee's share of the price, in basis points.
    pub late_fee_bps: u32,
}

/// Only a booking's learner may cancel it, or ask what cancelling costs.
fn only_the_learner_cancels(b: &BookingRow, user: &AuthUser) -> Result<(), OrderError> {
    if b.party(&user.id) == Some(Party::Learner) {
        Ok(())
    } else {
        Err(OrderError::Forbidden("only the learner can cancel".into()))
    }
}

/// The quote for cancelling `b` at `now` (its learner only), from the same rule [`cancel`]
/// applies.
pub fn cancel_quote(
    cfg: &ConsultConfig,
    user: &AuthUser,
    b: BookingRow,
    now: DateTime<Utc>,
) -> Result<CancelQuote, OrderError> {
    only_the_learner_cancels(&b, user)?;
    let (late, fee_minor) = cancel_fee(cfg, &b, now);
    Ok(CancelQuote {
        cancellable: b.status()?.is_unstarted(),
        late,
        fee_minor,
        price_minor: price(&b),
        notice_hours: cfg.cancel_notice.num_hours(),
        late_fee_bps: cfg.late_cancel_fee_bps,
        booking_id: b.id,
        currency: b.currency,
    })
}

fn price(b: &BookingRow) -> i64 {
    i64::from(b.minutes) * b.rate_per_minute_minor
}

/// Ends a booking before its session: settles its holds to `fee` (0 releases everything), then
/// moves it from the status it was read in — a booking that changed meanwhile (say, a payment
/// confirmed it) is a conflict, not overridden — and frees its slots. Money first, so a failed
/// provider call leaves the booking as it was, to be retried.
fn end_unstarted(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    b: &BookingRow,
    to: BookingStatus,
    fee: i64,
    cause: &str,
) -> Result<BookingRow, OrderError> {
    let status = b.status()?;
    if !status.is_unstarted() {
        return Err(OrderError::Conflict(format!(
            "a booking that is {status} cannot be {to}"
        )));
    }
    let charged = settle_holds(conn, provider, b, fee, cause)?;
    finish(conn, b, to, charged, cause)?;
    find(conn, &b.id)
}

/// Moves a booking from the status it was read in to an end state, records the charge and frees
/// its slots.
fn finish(
    conn: &mut DbConnection,
    b: &BookingRow,
    to: BookingStatus,
    charged: i64,
    cause: &str,
) -> Result<(), OrderError> {
    let from = b.status()?;
    db::write_transaction(conn, |c| {
        if !set_status(c, b, &[from], to, cause)? {
            return Err(OrderError::Conflict(format!(
                "the booking changed while it was being {to}"
            )));
        }
        diesel::update(bookings::table.find(&b.id))
            .set((
                bookings::charged_minor.eq(charged),
                bookings::settled_at.eq(Some(db::now())),
            ))
            .execute(c)?;
        free_slots(c, &b.id)?;
        Ok(())
    })
}

/// Brings what a booking's holds captured in total up to `target` (never above what they
/// authorised): captures the difference across authorised holds, oldest first, and releases
/// the rest and every hold still pending. What an earlier, interrupted attempt captured counts,
/// so a retry never charges twice. Returns the total captured.
fn settle_holds(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    b: &BookingRow,
    target: i64,
    cause: &str,
) -> Result<i64, OrderError> {
    let all = holds::for_subject(conn, &b.id)?;
    let mut taken: i64 = all.iter().map(|h| h.captured_minor).sum();
    for hold in all {
        let take = if hold.status()? == HoldStatus::Authorized {
            (target - taken).clamp(0, hold.amount_minor)
        } else {
            0
        };
        taken += holds::capture(conn, provider, &hold, take, cause)?;
    }
    Ok(taken)
}

/// What a booking's holds authorised in total, captured or still held.
fn authorised(conn: &mut DbConnection, b: &BookingRow) -> Result<i64, OrderError> {
    Ok(holds::for_subject(conn, &b.id)?
        .iter()
        .filter(|h| {
            matches!(
                h.status(),
                Ok(HoldStatus::Authorized | HoldStatus::Captured)
            )
        })
        .map(|h: &HoldRow| h.amount_minor)
        .sum())
}

/// The billable time stored for a booking: seconds in closed intervals, and the running
/// interval (start, last checkpoint) if one was left open.
pub fn stored_meter(
    conn: &mut DbConnection,
    booking_id: &str,
) -> QueryResult<(i64, Option<OpenInterval>)> {
    let rows: Vec<(NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> = consult_intervals::table
        .filter(consult_intervals::booking_id.eq(booking_id))
        .select((
            consult_intervals::started_at,
            consult_intervals::checkpoint_at,
            consult_intervals::ended_at,
        ))
        .load(conn)?;
    let closed = rows
        .iter()
        .filter_map(|(s, _, e)| e.map(|e| (e - *s).num_seconds().max(0)))
        .sum();
    let open = rows
        .iter()
        .find(|(_, _, e)| e.is_none())
        .map(|(s, c, _)| (s.and_utc(), c.and_utc()));
    Ok((closed, open))
}

/// Records a metering change of a booking's session as it happens: an interval starts, is
/// checkpointed, or ends. So a restart neither loses nor double-counts time.
pub fn record_meter(
    conn: &mut DbConnection,
    booking_id: &str,
    change: &metering::Change,
) -> QueryResult<()> {
    use metering::Change;
    let open = consult_intervals::table
        .filter(consult_intervals::booking_id.eq(booking_id))
        .filter(consult_intervals::ended_at.is_null());
    match change {
        Change::Started { at } => {
            let started = diesel::update(
                bookings::table
                    .find(booking_id)
                    .filter(bookings::status.eq(BookingStatus::Confirmed.as_str())),
            )
            .set((
                bookings::status.eq(BookingStatus::InProgress.as_str()),
                bookings::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
            if started == 1 {
                audit(
                    conn,
                    "booking",
                    booking_id,
                    Some(BookingStatus::Confirmed.as_str()),
                    BookingStatus::InProgress.as_str(),
                    "metering started",
                )?;
            }
            diesel::insert_into(consult_intervals::table)
                .values((
                    consult_intervals::id.eq(uuid::Uuid::now_v7().to_string()),
                    consult_intervals::booking_id.eq(booking_id),
                    consult_intervals::started_at.eq(naive(*at)),
                    consult_intervals::checkpoint_at.eq(naive(*at)),
                ))
                .execute(conn)?;
        }
        Change::Paused { at } | Change::Resumed { at } => {
            diesel::update(open)
                .set(consult_intervals::checkpoint_at.eq(naive(*at)))
                .execute(conn)?;
        }
        Change::Stopped { at, .. } => {
            diesel::update(open)
                .set((
                    consult_intervals::checkpoint_at.eq(naive(*at)),
                    consult_intervals::ended_at.eq(Some(naive(*at))),
                ))
                .execute(conn)?;
        }
        Change::Warning { .. } | Change::LimitReached => {}
    }
    Ok(())
}

/// Moves a running interval's checkpoint to `at` (called periodically while both are present).
pub fn checkpoint(conn: &mut DbConnection, booking_id: &str, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(
        consult_intervals::table
            .filter(consult_intervals::booking_id.eq(booking_id))
            .filter(consult_intervals::ended_at.is_null()),
    )
    .set(consult_intervals::checkpoint_at.eq(naive(at)))
    .execute(conn)
    .map(|_| ())
}

/// Notes that a party joined the room at `at` (first time only). Joining early does not start
/// the session: it starts when billable time first runs, so until then the learner may still
/// cancel and the expert decline.
pub fn joined(
    conn: &mut DbConnection,
    b: &BookingRow,
    party: Party,
    at: DateTime<Utc>,
) -> Result<(), OrderError> {
    let at = Some(naive(at));
    let target = bookings::table.find(&b.id);
    match party {
        Party::Expert => diesel::update(target.filter(bookings::expert_joined_at.is_null()))
            .set(bookings::expert_joined_at.eq(at))
            .execute(conn)?,
        Party::Learner => diesel::update(target.filter(bookings::learner_joined_at.is_null()))
            .set(bookings::learner_joined_at.eq(at))
            .execute(conn)?,
    };
    Ok(())
}

impl ConsultConfig {
    /// The timings the settlement rule depends on.
    fn timings(&self) -> Timings {
        Timings {
            cancel_notice: self.cancel_notice,
            no_show_grace: self.no_show_grace,
        }
    }
}

/// Settles a session that has ended (`ended_by` the party who sent `end`, if one did) by the
/// [`settlement`] rule: closes a running interval at its last checkpoint; with billable time,
/// captures ceil(billable minutes) × rate (never above what was authorised), releases the rest
/// and completes the booking; without, ends it as a cancellation, a decline or a no-show with
/// their fees. Settling twice changes nothing.
pub fn settle(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    id: &str,
    now: DateTime<Utc>,
    ended_by: Option<Party>,
) -> Result<BookingRow, OrderError> {
    let b = find(conn, id)?;
    if b.settled_at.is_some() || !b.status()?.is_live() {
        return Ok(b);
    }
    let (closed, open) = stored_meter(conn, id)?;
    if let Some((_, checkpoint)) = open {
        record_meter(
            conn,
            id,
            &metering::Change::Stopped {
                at: checkpoint,
                billed_s: 0,
            },
        )?;
    }
    let billable =
        (closed + open.map_or(0, |(s, c)| (c - s).num_seconds().max(0))).min(b.limit_s());
    let facts = Facts {
        start: b.starts_at.and_utc(),
        now,
        billable_s: billable,
        ended_by,
        expert_joined: b.expert_joined_at.map(|t| t.and_utc()),
        learner_joined: b.learner_joined_at.map(|t| t.and_utc()),
    };
    let outcome = settlement::outcome(&facts, &cfg.timings());
    let fee = |bps: u32| price(&b) * i64::from(bps) / 10_000;
    match outcome {
        Outcome::Completed => {}
        Outcome::Canceled { late } => {
            let fee = if late {
                fee(cfg.late_cancel_fee_bps)
            } else {
                0
            };
            let cause = if late {
                "late cancellation"
            } else {
                "cancelled in time"
            };
            let charged = settle_holds(conn, provider, &b, fee, cause)?;
            finish(conn, &b, outcome.status(), charged, cause)?;
            return find(conn, id);
        }
        Outcome::Declined | Outcome::ExpertNoShow => {
            no_show(conn, provider, &b, outcome.status(), 0)?;
            return find(conn, id);
        }
        Outcome::LearnerNoShow => {
            let fee = fee(cfg.learner_no_show_fee_bps);
            no_show(conn, provider, &b, outcome.status(), fee)?;
            return find(conn, id);
        }
    }
    let amount = metering::charge(billable, b.rate_per_minute_minor, authorised(conn, &b)?);
    let charged = settle_holds(conn, provider, &b, amount, "consultation settled")?;
    db::write_transaction(conn, |c| {
        let live = [BookingStatus::Confirmed, BookingStatus::InProgress];
        if set_status(c, &b, &live, BookingStatus::Completed, "settled")? {
            diesel::update(bookings::table.find(id))
                .set((
                    bookings::billable_seconds.eq(billable),
                    bookings::charged_minor.eq(charged),
                    bookings::ended_at.eq(Some(naive(now))),
                    bookings::settled_at.eq(Some(naive(now))),
                ))
                .execute(c)?;
            free_slots_after(c, &b.id, now)?;
        }
        Ok::<_, OrderError>(())
    })?;
    find(conn, id)
}

/// Frees the slots of a finished booking that lie after `now`, so the expert can be booked for
/// the time a session did not use.
fn free_slots_after(
    conn: &mut DbConnection,
    booking_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        booking_slots::table
            .filter(booking_slots::booking_id.eq(booking_id))
            .filter(booking_slots::slot_at.ge(naive(now))),
    )
    .execute(conn)
}

/// Bookings the sweep should look at: unpaid, confirmed or running ones whose start (or payment
/// window) may have passed. Each is then handled by `sweep_one` under its own order-actor key.
pub fn due(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Vec<String>> {
    bookings::table
        .filter(bookings::status.eq_any([
            BookingStatus::PendingPayment.as_str(),
            BookingStatus::Confirmed.as_str(),
            BookingStatus::InProgress.as_str(),
        ]))
        .filter(
            bookings::expires_at
                .le(naive(now))
                .or(bookings::starts_at.le(naive(now))),
        )
        .select(bookings::id)
        .load(conn)
}

/// Handles what no request will, for one booking: unpaid past its window → expired; the
/// expert not there within the grace after the start → expert no-show (all released); the
/// learner not there → learner no-show (the configured fee, default nothing); booked time long
/// past with no metering for longer than the reconnect grace (the parties left, or a crash, or
/// they were never there together) → settled by the [`settlement`] rule. True when it moved
/// the booking.
pub fn sweep_one(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    cfg: &ConsultConfig,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, OrderError> {
    let b = find(conn, id)?;
    let start = b.starts_at.and_utc();
    let late = now > start + cfg.no_show_grace;
    let over = now > start + Duration::seconds(b.limit_s()) + cfg.no_show_grace;
    let status = b.status()?;
    match status {
        BookingStatus::PendingPayment if now > b.expires_at.and_utc() => {
            let cause = "payment window passed";
            end_unstarted(conn, provider, &b, BookingStatus::Expired, 0, cause)?;
        }
        _ if status.is_live() && late && b.expert_joined_at.is_none() => {
            no_show(conn, provider, &b, BookingStatus::ExpertNoShow, 0)?;
        }
        _ if status.is_live() && late && b.learner_joined_at.is_none() => {
            let fee = price(&b) * i64::from(cfg.learner_no_show_fee_bps) / 10_000;
            no_show(conn, provider, &b, BookingStatus::LearnerNoShow, fee)?;
        }
        // Both came but billable time never ran (they were never there together), or the
        // parties left a running session: once the booked time is over, settle by the rule.
        _ if status.is_live() && over => {
            let (_, open) = stored_meter(conn, id)?;
            let grace = Duration::seconds(cfg.reconnect_grace_s);
            if open.is_some_and(|(_, checkpoint)| now - checkpoint <= grace) {
                return Ok(false);
            }
            settle(conn, provider, cfg, id, now, None)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn no_show(
    conn: &mut DbConnection,
    provider: &dyn PaymentProvider,
    b: &BookingRow,
    to: BookingStatus,
    fee: i64,
) -> Result<(), OrderError> {
    let charged = settle_holds(conn, provider, b, fee, to.as_str())?;
    finish(conn, b, to, charged, "no-show")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaid_places_fill_from_the_lowest_and_stop_at_the_cap() {
        assert_eq!(free_place(&[], 3), Some(0));
        assert_eq!(free_place(&[Some(0), Some(2)], 3), Some(1));
        assert_eq!(free_place(&[Some(1)], 3), Some(0));
        assert_eq!(free_place(&[Some(0), Some(1), Some(2)], 3), None);
        assert_eq!(free_place(&[Some(0)], 1), None);
        // Bookings from before places existed count against the cap.
        assert_eq!(free_place(&[None, None], 2), None);
        assert_eq!(free_place(&[None], 2), Some(0));
    }
}
