//! Ledger reports: an instructor's earnings and payout-ready balance, and the admin revenue
//! summary with a trial balance that proves the books balance.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{self, CLEARING, COUPON_DISCOUNTS, PLATFORM_REVENUE};
use super::service;
use crate::accounts::{AuthUser, Role};
use crate::db::{Db, DbError};
use crate::error::{ApiError, ErrorBody};
use crate::orders::service::{CommerceConfig, payout_cutoff};

/// One currency's earnings.
#[derive(Serialize, ToSchema)]
pub struct Earnings {
    /// ISO 4217 code.
    pub currency: String,
    /// Earned from sales, consultations, paid questions and unlocks (after the platform fee),
    /// before refunds.
    pub earned_minor: i64,
    /// Taken back by refunds.
    pub refunded_minor: i64,
    /// What the platform owes now: earned − refunded.
    pub balance_minor: i64,
    /// The part of the balance no learner can refund any more, ready to pay out.
    pub payout_ready_minor: i64,
}

fn amount_for(rows: &[(String, i64)], currency: &str) -> i64 {
    rows.iter()
        .find(|(c, _)| c == currency)
        .map_or(0, |(_, v)| *v)
}

/// The caller's earnings per currency: instructors and experts, and learners whose paid
/// questions earned a share of unlocks (empty for anyone who earned nothing).
#[utoipa::path(get, path = "/api/v1/me/earnings", tag = "ledger",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Earnings per currency", body = Vec<Earnings>),
    ))]
pub async fn earnings(
    db: web::Data<Db>,
    cfg: web::Data<CommerceConfig>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let cutoff = payout_cutoff(cfg.refund_window);
    let account = domain::instructor_account(&user.id);
    let list = db
        .run(move |c| -> Result<Vec<Earnings>, DbError> {
            let balance = service::balances(c, &account, None)?;
            let settled = service::balances(c, &account, Some(cutoff))?;
            let earned = service::earned(c, &account)?;
            Ok(balance
                .iter()
                .map(|(currency, bal)| {
                    let balance_minor = -bal;
                    let earned_minor = amount_for(&earned, currency);
                    Earnings {
                        currency: currency.clone(),
                        earned_minor,
                        refunded_minor: earned_minor - balance_minor,
                        balance_minor,
                        payout_ready_minor: (-amount_for(&settled, currency))
                            .clamp(0, balance_minor.max(0)),
                    }
                })
                .collect())
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One currency's revenue summary.
#[derive(Serialize, ToSchema)]
pub struct Revenue {
    /// ISO 4217 code.
    pub currency: String,
    /// Money collected net of refunds (held at the provider).
    pub collected_minor: i64,
    /// Platform fees net of refunds, after coupon discounts.
    pub platform_net_minor: i64,
    /// Coupon discounts granted.
    pub discounts_minor: i64,
    /// Owed to instructors and experts.
    pub instructors_payable_minor: i64,
    /// Sum of every ledger line in this currency; always 0.
    pub trial_balance_minor: i64,
}

/// Revenue per currency and the trial balance (admins only).
#[utoipa::path(get, path = "/api/v1/admin/revenue", tag = "ledger",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revenue per currency", body = Vec<Revenue>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn revenue(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let list = db
        .run(|c| -> Result<Vec<Revenue>, DbError> {
            let all = service::all_balances(c)?;
            let trial = service::trial_balance(c)?;
            let sum = |currency: &str, pick: &dyn Fn(&str) -> bool| -> i64 {
                all.iter()
                    .filter(|(a, c, _)| c == currency && pick(a))
                    .map(|(_, _, v)| *v)
                    .sum()
            };
            Ok(trial
                .iter()
                .map(|(currency, total)| Revenue {
                    currency: currency.clone(),
                    collected_minor: sum(currency, &|a| a == CLEARING),
                    platform_net_minor: -sum(currency, &|a| a == PLATFORM_REVENUE)
                        - sum(currency, &|a| a == COUPON_DISCOUNTS),
                    discounts_minor: sum(currency, &|a| a == COUPON_DISCOUNTS),
                    instructors_payable_minor: -sum(currency, &|a| {
                        a.starts_with("instructor_payable:")
                    }),
                    trial_balance_minor: *total,
                })
                .collect())
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
