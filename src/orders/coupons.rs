//! Creating and listing coupons. Admins create site-wide or per-course coupons; instructors
//! create coupons for their own courses only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::OrderError;
use super::store::{self, CouponRow};
use crate::accounts::Role;
use crate::catalog::store as catalog_store;
use crate::db::{self, DbConnection};
use crate::money::{Currency, Money, MoneyView};

/// `POST /coupons` body: exactly one of `percent_off_bps` and `amount_off`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCoupon {
    /// 3–32 characters of A–Z, 0–9, `-` and `_` (stored upper-cased).
    #[schema(
        min_length = 3,
        max_length = 32,
        pattern = "^\\s*[A-Za-z0-9_-]{3,32}\\s*$",
        min_length = 3,
        max_length = 32,
        pattern = "^\\s*[A-Za-z0-9_-]{3,32}\\s*$"
    )]
    pub code: String,
    /// Percentage off in basis points, 1–10000 (2500 = 25%).
    #[serde(default)]
    #[schema(maximum = 10000, maximum = 10000)]
    pub percent_off_bps: Option<u32>,
    /// A fixed amount off.
    #[serde(default)]
    pub amount_off: Option<MoneyView>,
    /// Restrict to one course (required for instructors).
    #[serde(default)]
    pub course_id: Option<String>,
    /// Not valid from this time on.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Most uses in total (at least 1).
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    /// Most uses per learner (at least 1).
    #[serde(default)]
    pub max_per_user: Option<i64>,
}

/// A coupon as its creator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponView {
    /// Id.
    pub id: String,
    /// The code learners type.
    pub code: String,
    /// Percentage off in basis points.
    pub percent_off_bps: Option<i32>,
    /// Fixed amount off.
    pub amount_off: Option<MoneyView>,
    /// Course it is limited to.
    pub course_id: Option<String>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Total limit.
    pub max_redemptions: Option<i64>,
    /// Per-learner limit.
    pub max_per_user: Option<i64>,
    /// Uses so far (including orders awaiting payment).
    pub redemptions: i64,
}

impl From<CouponRow> for CouponView {
    fn from(r: CouponRow) -> Self {
        Self {
            amount_off: r
                .amount_minor
                .zip(r.currency.clone())
                .map(|(amount_minor, currency)| MoneyView {
                    amount_minor,
                    currency,
                }),
            id: r.id,
            code: r.code,
            percent_off_bps: r.percent_bps,
            course_id: r.course_id,
            expires_at: r.expires_at.map(|t| t.and_utc()),
            max_redemptions: r.max_redemptions,
            max_per_user: r.max_per_user,
            redemptions: r.redemptions,
        }
    }
}

/// Checks a coupon code's shape and upper-cases it.
pub fn parse_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_uppercase();
    if !(3..=32).contains(&code.len())
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("code must be 3 to 32 characters of A-Z, 0-9, '-' and '_'".into());
    }
    Ok(code)
}

/// Validates and stores a new coupon.
pub fn create(
    conn: &mut DbConnection,
    creator: &str,
    role: Role,
    input: &NewCoupon,
) -> Result<CouponView, OrderError> {
    let invalid = |m: &str| OrderError::Invalid(m.to_owned());
    let code = parse_code(&input.code).map_err(OrderError::Invalid)?;
    let (percent_bps, amount) = match (input.percent_off_bps, &input.amount_off) {
        (Some(bps), None) if (1..=10_000).contains(&bps) => (Some(bps as i32), None),
        (Some(_), None) => return Err(invalid("percent_off_bps must be between 1 and 10000")),
        (None, Some(m)) => {
            let currency = Currency::parse(&m.currency).map_err(OrderError::Invalid)?;
            let money = Money::new(m.amount_minor, currency)
                .map_err(|e| OrderError::Invalid(e.to_string()))?;
            if money.is_zero() {
                return Err(invalid("amount_off must be more than zero"));
            }
            (None, Some(money))
        }
        _ => {
            return Err(invalid(
                "give exactly one of percent_off_bps and amount_off",
            ));
        }
    };
    for limit in [input.max_redemptions, input.max_per_user]
        .into_iter()
        .flatten()
    {
        if limit < 1 {
            return Err(invalid("usage limits must be at least 1"));
        }
    }
    let now = db::now();
    if input.expires_at.is_some_and(|t| t.naive_utc() <= now) {
        return Err(invalid("expires_at must be in the future"));
    }
    match (&input.course_id, role) {
        (Some(course_id), _) => {
            let course = catalog_store::find_course(conn, course_id)?
                .ok_or(OrderError::NotFound("course"))?;
            if role != Role::Admin && course.instructor_id != creator {
                return Err(OrderError::Forbidden(
                    "you can only create coupons for your own courses".into(),
                ));
            }
        }
        (None, Role::Admin) => {}
        (None, _) => {
            return Err(OrderError::Forbidden(
                "only admins create site-wide coupons; give a course_id".into(),
            ));
        }
    }
    let row = CouponRow {
        id: uuid::Uuid::now_v7().to_string(),
        code,
        percent_bps,
        amount_minor: amount.map(|m| m.minor()),
        currency: amount.map(|m| m.currency().to_string()),
        course_id: input.course_id.clone(),
        expires_at: input.expires_at.map(|t| t.naive_utc()),
        max_redemptions: input.max_redemptions,
        max_per_user: input.max_per_user,
        redemptions: 0,
        created_by: creator.to_owned(),
        created_at: now,
    };
    match store::insert_coupon(conn, &row) {
        Ok(()) => Ok(row.into()),
        Err(e) if db::is_unique_violation(&e) => Err(OrderError::Conflict(
            "a coupon with this code exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Coupons visible to the caller: all for admins, their own for instructors.
pub fn list(
    conn: &mut DbConnection,
    user_id: &str,
    role: Role,
) -> Result<Vec<CouponView>, OrderError> {
    let creator = (role != Role::Admin).then_some(user_id);
    Ok(store::list_coupons(conn, creator)?
        .into_iter()
        .map(CouponView::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_cased_and_checked() {
        assert_eq!(parse_code(" spring-25 ").unwrap(), "SPRING-25");
        for bad in ["ab", "has space", "ÜBER", &"x".repeat(33)] {
            assert!(parse_code(bad).is_err(), "{bad}");
        }
    }
}
