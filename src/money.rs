//! Money as integer minor units with an ISO 4217 currency — never floats. Arithmetic refuses to
//! mix currencies or overflow, and splitting by a percentage rounds in one documented direction
//! so the parts always add up to the whole.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An ISO 4217 alphabetic code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses `"EUR"`, `"usd"` (upper-cased) and the like; anything else is refused.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_ascii_uppercase();
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(format!("{raw:?} is not an ISO 4217 currency code")),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in minor units (cents) of one currency. May be negative only as the result of
/// subtraction; prices and payments are parsed as non-negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The two amounts are in different currencies.
    #[error("currency mismatch: {0} vs {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The result does not fit in an i64.
    #[error("amount out of range")]
    Overflow,
    /// A negative amount where only zero or more makes sense.
    #[error("amount must not be negative")]
    Negative,
}

impl Money {
    /// Largest amount accepted from clients (one billion major units of a 2-decimal currency).
    pub const MAX_MINOR: i64 = 100_000_000_000;

    /// A non-negative amount of at most [`Money::MAX_MINOR`].
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        if minor > Self::MAX_MINOR {
            return Err(MoneyError::Overflow);
        }
        Ok(Self { minor, currency })
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// The amount in minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True when the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    fn same_currency(&self, other: &Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// `self + other`, same currency only.
    pub fn checked_add(&self, other: &Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self {
            minor,
            currency: self.currency,
        })
    }

    /// `self - other`, same currency only; the result may be negative.
    pub fn checked_sub(&self, other: &Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self {
            minor,
            currency: self.currency,
        })
    }

    /// The share of `basis_points` (1/100 of a percent) of this amount, rounded half up. Used
    /// for fees and percentage discounts; the remainder is `self - share`, so parts always sum
    /// to the whole.
    pub fn share_bps(&self, basis_points: u32) -> Result<Self, MoneyError> {
        let scaled = i128::from(self.minor) * i128::from(basis_points);
        let share = (scaled + 5_000).div_euclid(10_000);
        let minor = i64::try_from(share).map_err(|_| MoneyError::Overflow)?;
        Ok(Self {
            minor,
            currency: self.currency,
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

/// Money on the wire: `{"amount_minor": 1999, "currency": "EUR"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MoneyView {
    /// Integer minor units (cents).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> Self {
        Self {
            amount_minor: m.minor,
            currency: m.currency.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    #[test]
    fn currencies_parse_strictly() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        for bad in ["", "EU", "EURO", "E1R", "€€€", "ÉUR"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_bounded_and_non_negative() {
        let c = Currency::parse("EUR").unwrap();
        assert_eq!(Money::new(-1, c), Err(MoneyError::Negative));
        assert_eq!(
            Money::new(Money::MAX_MINOR + 1, c),
            Err(MoneyError::Overflow)
        );
        assert!(Money::new(0, c).unwrap().is_zero());
    }

    #[test]
    fn currencies_never_mix() {
        let usd = Money::new(1, Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            eur(1).checked_add(&usd),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert_eq!(eur(5).checked_sub(&eur(7)).unwrap().minor(), -2);
    }

    #[test]
    fn shares_round_half_up_and_parts_sum_to_the_whole() {
        assert_eq!(eur(1000).share_bps(2000).unwrap().minor(), 200);
        assert_eq!(eur(1).share_bps(5000).unwrap().minor(), 1);
        assert_eq!(eur(999).share_bps(2000).unwrap().minor(), 200);
        for minor in [0, 1, 7, 99, 1001, 123_457, Money::MAX_MINOR] {
            let total = eur(minor);
            let fee = total.share_bps(2000).unwrap();
            let rest = total.checked_sub(&fee).unwrap();
            assert_eq!(fee.checked_add(&rest).unwrap(), total);
            assert!(rest.minor() >= 0);
        }
    }
}
