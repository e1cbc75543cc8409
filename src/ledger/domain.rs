//! Posting rules: how each money movement becomes balanced journal lines. Pure functions, so
//! the arithmetic is tested without a database; `service` writes what they return.
//!
//! Accounts (a line's amount is positive for a debit, negative for a credit):
//! - `provider_clearing` — money held for us by the payment provider (asset).
//! - `platform_revenue` — the platform's fees (income).
//! - `instructor_payable:<user id>` — what we owe an instructor or expert (liability).
//! - `coupon_discounts` — discounts the platform granted (contra-income).
//!
//! A sale of list price L paid P (discount D = L − P) with fee F = share(P) posts
//! `+P clearing, +D discounts, −(F + D) revenue, −(P − F) instructor`: the platform absorbs the
//! discount and the instructor earns on what was actually paid. A refund reverses fee and
//! earning in proportion, computed on cumulative amounts so that refunding everything in parts
//! reverses exactly what the sale posted.

use crate::money::{Money, MoneyError};

/// Money at the payment provider.
pub const CLEARING: &str = "provider_clearing";
/// The platform's income.
pub const PLATFORM_REVENUE: &str = "platform_revenue";
/// Discounts granted through coupons.
pub const COUPON_DISCOUNTS: &str = "coupon_discounts";

/// The payable account of one instructor or expert.
pub fn instructor_account(user_id: &str) -> String {
    format!("instructor_payable:{user_id}")
}

/// One journal line: debit when positive, credit when negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Account name.
    pub account: String,
    /// Signed amount in minor units.
    pub amount_minor: i64,
}

fn line(account: impl Into<String>, amount_minor: i64) -> Line {
    Line {
        account: account.into(),
        amount_minor,
    }
}

/// The platform fee and the instructor's earning of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Platform fee.
    pub fee: i64,
    /// Instructor earning (`paid − fee`).
    pub earning: i64,
}

/// Splits `paid` by `fee_bps` basis points, rounding the fee half up.
pub fn split(paid: Money, fee_bps: u32) -> Result<Split, MoneyError> {
    let fee = paid.share_bps(fee_bps)?.minor();
    Ok(Split {
        fee,
        earning: paid.minor() - fee,
    })
}

/// Lines for a sale: `list` price, `paid` after discount, to `instructor_id`.
pub fn sale(
    list: Money,
    paid: Money,
    instructor_id: &str,
    fee_bps: u32,
) -> Result<Vec<Line>, MoneyError> {
    let discount = list.checked_sub(&paid)?.minor();
    if discount < 0 {
        return Err(MoneyError::Negative);
    }
    let s = split(paid, fee_bps)?;
    let mut lines = vec![line(CLEARING, paid.minor())];
    if discount > 0 {
        lines.push(line(COUPON_DISCOUNTS, discount));
    }
    lines.push(line(PLATFORM_REVENUE, -(s.fee + discount)));
    lines.push(line(instructor_account(instructor_id), -s.earning));
    Ok(drop_zero(lines))
}

/// Lines for an unlock of a public answer: `paid` by a reader, the platform fee (`fee_bps` of
/// `paid`, half up) first, then the rest split between the asker (`asker_bps` of the rest,
/// half up) and the expert (the remainder). Both earnings go to the users' payable accounts.
pub fn unlock(
    paid: Money,
    asker_id: &str,
    expert_id: &str,
    fee_bps: u32,
    asker_bps: u32,
) -> Result<Vec<Line>, MoneyError> {
    if paid.minor() < 0 {
        return Err(MoneyError::Negative);
    }
    let s = split(paid, fee_bps)?;
    let rest = Money::new(s.earning, paid.currency())?;
    let asker = rest.share_bps(asker_bps)?.minor();
    Ok(drop_zero(vec![
        line(CLEARING, paid.minor()),
        line(PLATFORM_REVENUE, -s.fee),
        line(instructor_account(asker_id), -asker),
        line(instructor_account(expert_id), -(s.earning - asker)),
    ]))
}

/// Lines for refunding `amount` of a payment of which `already_refunded` was refunded before.
/// Fee and earning are reversed by the difference of the cumulative splits.
pub fn refund(
    amount: Money,
    already_refunded: Money,
    instructor_id: &str,
    fee_bps: u32,
) -> Result<Vec<Line>, MoneyError> {
    let before = split(already_refunded, fee_bps)?;
    let after = split(already_refunded.checked_add(&amount)?, fee_bps)?;
    let fee = after.fee - before.fee;
    let earning = after.earning - before.earning;
    Ok(drop_zero(vec![
        line(PLATFORM_REVENUE, fee),
        line(instructor_account(instructor_id), earning),
        line(CLEARING, -amount.minor()),
    ]))
}

fn drop_zero(lines: Vec<Line>) -> Vec<Line> {
    lines.into_iter().filter(|l| l.amount_minor != 0).collect()
}

/// True when debits equal credits.
pub fn balanced(lines: &[Line]) -> bool {
    lines
        .iter()
        .map(|l| i128::from(l.amount_minor))
        .sum::<i128>()
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn balance(lines: &[Line], account: &str) -> i64 {
        lines
            .iter()
            .filter(|l| l.account == account)
            .map(|l| l.amount_minor)
            .sum()
    }

    #[test]
    fn a_sale_without_discount_splits_fee_and_earning() {
        let lines = sale(eur(5000), eur(5000), "i1", 2000).unwrap();
        assert!(balanced(&lines));
        assert_eq!(balance(&lines, CLEARING), 5000);
        assert_eq!(balance(&lines, PLATFORM_REVENUE), -1000);
        assert_eq!(balance(&lines, &instructor_account("i1")), -4000);
        assert_eq!(balance(&lines, COUPON_DISCOUNTS), 0);
    }

    #[test]
    fn a_discount_is_absorbed_by_the_platform() {
        let lines = sale(eur(5000), eur(4000), "i1", 2000).unwrap();
        assert!(balanced(&lines));
        assert_eq!(balance(&lines, COUPON_DISCOUNTS), 1000);
        assert_eq!(balance(&lines, &instructor_account("i1")), -3200);
        // Platform net: revenue 1800 minus discounts 1000 = its 800 fee on what was paid.
        assert_eq!(
            -balance(&lines, PLATFORM_REVENUE) - balance(&lines, COUPON_DISCOUNTS),
            800
        );
        assert!(
            sale(eur(100), eur(200), "i1", 2000).is_err(),
            "paid above list"
        );
    }

    #[test]
    fn an_unlock_takes_the_fee_first_and_splits_the_rest_exactly() {
        // (paid, fee bps, asker bps) → (fee, asker, expert)
        for (paid, fee_bps, asker_bps, want) in [
            (200, 2000, 5000, (40, 80, 80)),
            (199, 2000, 5000, (40, 80, 79)),
            (201, 2000, 5000, (40, 81, 80)),
            (1, 2000, 5000, (0, 1, 0)),
            (3, 5000, 5000, (2, 1, 0)),
            (200, 0, 10_000, (0, 200, 0)),
            (200, 10_000, 5000, (200, 0, 0)),
            (999, 1500, 3333, (150, 283, 566)),
        ] {
            let lines = unlock(eur(paid), "a1", "e1", fee_bps, asker_bps).unwrap();
            assert!(balanced(&lines), "{paid} {fee_bps} {asker_bps}");
            let got = (
                -balance(&lines, PLATFORM_REVENUE),
                -balance(&lines, &instructor_account("a1")),
                -balance(&lines, &instructor_account("e1")),
            );
            assert_eq!(got, want, "{paid} {fee_bps} {asker_bps}");
            assert_eq!(balance(&lines, CLEARING), paid);
        }
    }

    #[test]
    fn unlock_parts_always_sum_to_what_was_paid() {
        for paid in 0..500 {
            for (fee_bps, asker_bps) in [(2000, 5000), (1234, 6667), (0, 0), (9999, 1)] {
                let lines = unlock(eur(paid), "a1", "e1", fee_bps, asker_bps).unwrap();
                assert!(balanced(&lines));
                assert!(lines.iter().skip(1).all(|l| l.amount_minor <= 0));
            }
        }
    }

    #[test]
    fn refunds_in_parts_reverse_exactly_what_the_sale_posted() {
        for (paid, parts) in [
            (999, vec![333, 333, 333]),
            (1001, vec![1, 1000]),
            (7, vec![3, 4]),
        ] {
            let mut all = sale(eur(paid), eur(paid), "i1", 2000).unwrap();
            let mut refunded = eur(0);
            for p in parts {
                let lines = refund(eur(p), refunded, "i1", 2000).unwrap();
                assert!(balanced(&lines));
                all.extend(lines);
                refunded = refunded.checked_add(&eur(p)).unwrap();
            }
            for account in [CLEARING, PLATFORM_REVENUE, "instructor_payable:i1"] {
                assert_eq!(
                    balance(&all, account),
                    0,
                    "{account} after refunding {paid}"
                );
            }
        }
    }
}
