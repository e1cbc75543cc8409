//! Order rules as pure functions: the order state machine, coupon arithmetic and eligibility,
//! and the fingerprint that makes idempotency keys safe.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::money::{Money, MoneyError};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created; waiting for the provider to confirm payment.
    PendingPayment,
    /// Paid; the learner is entitled to the course.
    Paid,
    /// Part of the payment was given back; the entitlement stays.
    PartiallyRefunded,
    /// Everything was given back; the entitlement is revoked.
    Refunded,
    /// The learner cancelled before paying.
    Cancelled,
    /// Nobody paid in time.
    Expired,
}

impl OrderStatus {
    const ALL: [Self; 6] = [
        Self::PendingPayment,
        Self::Paid,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Cancelled,
        Self::Expired,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The legal transitions. A payment that succeeds after the order was cancelled or expired
    /// still makes it paid: the money was taken, so access must follow (a learner must never
    /// see a charge without access); they can ask for a refund.
    pub fn can_become(self, next: Self) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (PendingPayment, Paid | Cancelled | Expired)
                | (Cancelled | Expired, Paid)
                | (Paid | PartiallyRefunded, PartiallyRefunded | Refunded)
        )
    }

    /// True while money may still be given back.
    pub fn is_refundable(self) -> bool {
        matches!(self, Self::Paid | Self::PartiallyRefunded)
    }
}

/// Where a refund is. A refund is recorded `Pending` before the provider is called, so a crash
/// between the provider's answer and our bookkeeping leaves an intent that the sweep, the
/// provider's `refund.succeeded` webhook or a retry lands — exactly once, because landing is
/// the conditional move `Pending → Succeeded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Recorded; the provider may or may not have given the money back yet.
    Pending,
    /// The provider gave the money back and the order, ledger and entitlement reflect it.
    Succeeded,
    /// The provider refused; nothing was given back.
    Failed,
}

impl RefundStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// What a retry may do with an Idempotency-Key that was claimed but has no stored answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnfinishedKey {
    /// Its claimant may still be working on it: answer "in progress".
    Busy,
    /// Its lease ran out (the claimant died or stalled): the retry may take the work over.
    Stale,
}

/// Judges an unfinished key by its lease: a key without one (claimed before leases existed)
/// is stale.
pub fn unfinished_key(lease_until: Option<NaiveDateTime>, now: NaiveDateTime) -> UnfinishedKey {
    match lease_until {
        Some(until) if until > now => UnfinishedKey::Busy,
        _ => UnfinishedKey::Stale,
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// Basis points of the price (1–10000).
    Percent(u32),
    /// A fixed amount, in the coupon's currency.
    Fixed(Money),
}

/// The parts of a coupon that decide whether and how it applies.
#[derive(Debug, Clone)]
pub struct CouponTerms {
    /// What it takes off.
    pub discount: Discount,
    /// Only this course, or any course when `None`.
    pub course_id: Option<String>,
    /// Not valid at or after this time.
    pub expires_at: Option<NaiveDateTime>,
    /// Most uses in total.
    pub max_redemptions: Option<i64>,
    /// Most uses by one learner.
    pub max_per_user: Option<i64>,
}

/// Why a coupon does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    /// Past its expiry.
    #[error("coupon has expired")]
    Expired,
    /// For another course.
    #[error("coupon does not apply to this course")]
    WrongCourse,
    /// Its fixed amount is in another currency.
    #[error("coupon currency does not match the course price")]
    WrongCurrency,
    /// Used up overall.
    #[error("coupon has reached its usage limit")]
    Exhausted,
    /// Used up by this learner.
    #[error("you have already used this coupon the maximum number of times")]
    ExhaustedForUser,
}

impl CouponTerms {
    /// The discount on `price` for `course_id` at `now`, given how often it was used overall
    /// and by this learner. Never more than the price.
    pub fn discount_for(
        &self,
        course_id: &str,
        price: Money,
        now: NaiveDateTime,
        used_total: i64,
        used_by_user: i64,
    ) -> Result<Money, CouponError> {
        if self.expires_at.is_some_and(|at| now >= at) {
            return Err(CouponError::Expired);
        }
        if self.course_id.as_deref().is_some_and(|c| c != course_id) {
            return Err(CouponError::WrongCourse);
        }
        if self.max_redemptions.is_some_and(|max| used_total >= max) {
            return Err(CouponError::Exhausted);
        }
        if self.max_per_user.is_some_and(|max| used_by_user >= max) {
            return Err(CouponError::ExhaustedForUser);
        }
        let off = match self.discount {
            Discount::Percent(bps) => price.share_bps(bps).map_err(|_| CouponError::Exhausted)?,
            Discount::Fixed(amount) if amount.currency() != price.currency() => {
                return Err(CouponError::WrongCurrency);
            }
            Discount::Fixed(amount) => amount,
        };
        Ok(if off.minor() > price.minor() {
            price
        } else {
            off
        })
    }
}

/// `price − discount`, refusing a discount above the price.
pub fn amount_due(price: Money, discount: Money) -> Result<Money, MoneyError> {
    let due = price.checked_sub(&discount)?;
    if due.minor() < 0 {
        return Err(MoneyError::Negative);
    }
    Ok(due)
}

/// The fingerprint stored with an idempotency key: SHA-256 of the request body re-serialised
/// with sorted keys, so formatting differences do not count as a different request.
pub fn request_fingerprint(body: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// Checks an `Idempotency-Key` header value: 1–255 visible ASCII characters.
pub fn parse_idempotency_key(raw: Option<&str>) -> Result<String, String> {
    let key = raw.map(str::trim).unwrap_or_default();
    if key.is_empty() {
        return Err("the Idempotency-Key header is required".into());
    }
    if key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("Idempotency-Key must be 1 to 255 visible ASCII characters".into());
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use serde_json::json;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn at(h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn terms(discount: Discount) -> CouponTerms {
        CouponTerms {
            discount,
            course_id: None,
            expires_at: None,
            max_redemptions: None,
            max_per_user: None,
        }
    }

    #[test]
    fn the_state_machine_allows_only_its_edges() {
        use OrderStatus::*;
        assert!(PendingPayment.can_become(Paid));
        assert!(
            Expired.can_become(Paid),
            "late payment must still grant access"
        );
        assert!(Paid.can_become(Refunded));
        assert!(PartiallyRefunded.can_become(PartiallyRefunded));
        for (from, to) in [
            (Paid, PendingPayment),
            (Refunded, Paid),
            (Refunded, PartiallyRefunded),
            (Cancelled, Expired),
            (Paid, Cancelled),
        ] {
            assert!(!from.can_become(to), "{from:?} -> {to:?}");
        }
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn coupons_discount_and_never_exceed_the_price() {
        assert_eq!(
            terms(Discount::Percent(2500)).discount_for("c", eur(1000), at(0), 0, 0),
            Ok(eur(250))
        );
        assert_eq!(
            terms(Discount::Fixed(eur(300))).discount_for("c", eur(1000), at(0), 0, 0),
            Ok(eur(300))
        );
        assert_eq!(
            terms(Discount::Fixed(eur(5000))).discount_for("c", eur(1000), at(0), 0, 0),
            Ok(eur(1000))
        );
        let usd = Money::new(300, Currency::parse("USD").unwrap()).unwrap();
        assert_eq!(
            terms(Discount::Fixed(usd)).discount_for("c", eur(1000), at(0), 0, 0),
            Err(CouponError::WrongCurrency)
        );
    }

    #[test]
    fn coupon_limits_apply() {
        let mut t = terms(Discount::Percent(1000));
        t.expires_at = Some(at(5));
        t.course_id = Some("c1".into());
        t.max_redemptions = Some(10);
        t.max_per_user = Some(1);
        assert!(t.discount_for("c1", eur(100), at(4), 9, 0).is_ok());
        assert_eq!(
            t.discount_for("c1", eur(100), at(5), 0, 0),
            Err(CouponError::Expired)
        );
        assert_eq!(
            t.discount_for("c2", eur(100), at(4), 0, 0),
            Err(CouponError::WrongCourse)
        );
        assert_eq!(
            t.discount_for("c1", eur(100), at(4), 10, 0),
            Err(CouponError::Exhausted)
        );
        assert_eq!(
            t.discount_for("c1", eur(100), at(4), 0, 1),
            Err(CouponError::ExhaustedForUser)
        );
    }

    #[test]
    fn fingerprints_ignore_formatting_but_not_content() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"course_id":"x","coupon":null}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "coupon": null, "course_id": "x" }"#).unwrap();
        assert_eq!(request_fingerprint(&a), request_fingerprint(&b));
        assert_ne!(
            request_fingerprint(&a),
            request_fingerprint(&json!({"course_id": "y"}))
        );
    }

    #[test]
    fn an_unfinished_key_is_stale_once_its_lease_ran_out() {
        assert_eq!(unfinished_key(Some(at(11)), at(10)), UnfinishedKey::Busy);
        assert_eq!(unfinished_key(Some(at(10)), at(10)), UnfinishedKey::Stale);
        assert_eq!(unfinished_key(Some(at(9)), at(10)), UnfinishedKey::Stale);
        assert_eq!(unfinished_key(None, at(10)), UnfinishedKey::Stale);
    }

    #[test]
    fn idempotency_keys_are_checked() {
        assert_eq!(parse_idempotency_key(Some(" abc-123 ")).unwrap(), "abc-123");
        assert!(parse_idempotency_key(None).is_err());
        assert!(parse_idempotency_key(Some("")).is_err());
        assert!(parse_idempotency_key(Some("has space")).is_err());
        assert!(parse_idempotency_key(Some(&"k".repeat(256))).is_err());
    }
}
