//! The states consultations store, each a closed set: bookings (shared by the booking flow
//! and the settlement rule, which decides an end state without touching the database), payment
//! holds and what they pay for, paid questions and unlocks. Rows keep the stored text; their
//! `status()` reads it through [`stored`], so an unknown name is an error, never a guess.

use std::str::FromStr;

use crate::catalog::domain::text_enum;
use crate::orders::service::OrderError;

/// Reads a stored state name of row `id` (a `kind`, for the message).
pub(crate) fn stored<T: FromStr<Err = String>>(
    kind: &str,
    id: &str,
    text: &str,
) -> Result<T, OrderError> {
    text.parse()
        .map_err(|e| OrderError::Unexpected(anyhow::anyhow!("{kind} {id}: {e}")))
}

text_enum!(
    /// A booking's life: `pending_payment → confirmed → in_progress → completed`, or one of
    /// the other end states.
    BookingStatus, "booking status" {
        /// Booked; waiting for the learner to authorise the payment.
        PendingPayment = "pending_payment",
        /// The provider refused or the payer cancelled the payment. Terminal.
        PaymentFailed = "payment_failed",
        /// Paid (the money is held) and waiting for its start.
        Confirmed = "confirmed",
        /// Both parties were in the room together: metering has started.
        InProgress = "in_progress",
        /// Settled by metered time. Terminal.
        Completed = "completed",
        /// The learner cancelled (in time or late). Terminal.
        Canceled = "canceled",
        /// The expert declined. Terminal.
        Declined = "declined",
        /// The expert did not come. Terminal.
        ExpertNoShow = "expert_no_show",
        /// The learner did not come. Terminal.
        LearnerNoShow = "learner_no_show",
        /// Nobody paid in time. Terminal.
        Expired = "expired",
    }
);

impl BookingStatus {
    /// Whether the consultation may take place now: paid and not over.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Confirmed | Self::InProgress)
    }

    /// Whether the learner may still cancel (or the expert decline): not started, not over.
    pub fn is_unstarted(self) -> bool {
        matches!(self, Self::PendingPayment | Self::Confirmed)
    }
}

text_enum!(
    /// Where a hold is in its life: `pending → authorized → captured`, or `released` (let go
    /// without taking anything) from either of the first two, or `failed` (the payment was
    /// cancelled before authorisation).
    HoldStatus, "hold status" {
        /// Stored; waiting for the payer to authorise it.
        Pending = "pending",
        /// The money is held on the payer's card.
        Authorized = "authorized",
        /// Taken, in whole or in part. Terminal.
        Captured = "captured",
        /// Let go without taking anything. Terminal.
        Released = "released",
        /// Cancelled before authorisation. Terminal.
        Failed = "failed",
    }
);

text_enum!(
    /// What a hold pays for.
    HoldPurpose, "hold purpose" {
        /// A booking's first block of time.
        Booking = "booking",
        /// More time asked for during a consultation.
        Extension = "extension",
        /// A paid question.
        Question = "question",
        /// Reading someone else's public answer.
        Unlock = "unlock",
    }
);

text_enum!(
    /// A paid question's life: `pending_payment → open → answered`, or `payment_failed`, or
    /// `expired` (unpaid or unanswered when its deadline passed).
    QuestionStatus, "question status" {
        /// Asked; waiting for the learner to authorise the payment.
        PendingPayment = "pending_payment",
        /// The payment was refused or cancelled. Terminal.
        PaymentFailed = "payment_failed",
        /// Paid (the money is held); the expert may answer until the deadline.
        Open = "open",
        /// Answered; the price was captured. Terminal.
        Answered = "answered",
        /// The deadline passed unpaid or unanswered; the hold was released. Terminal.
        Expired = "expired",
    }
);

text_enum!(
    /// Where a reader's unlock of a public answer stands.
    UnlockStatus, "unlock status" {
        /// Its hold is being paid.
        Pending = "pending",
        /// Paid: the reader sees the answer.
        Paid = "paid",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_unknown_ones_are_errors() {
        for status in BookingStatus::ALL {
            assert_eq!(status.as_str().parse::<BookingStatus>(), Ok(*status));
        }
        assert!("settled".parse::<BookingStatus>().is_err());
        let live: Vec<_> = BookingStatus::ALL.iter().filter(|s| s.is_live()).collect();
        assert_eq!(
            live,
            [&BookingStatus::Confirmed, &BookingStatus::InProgress]
        );
    }
}
