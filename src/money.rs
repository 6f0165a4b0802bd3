//! Exact money. Amounts are integer minor units (cents) in storage and in
//! SQL; the API shows them as 2-decimal `Decimal` strings. Exchange rates
//! are integer billionths.
//!
//! Every aggregate converts each opportunity's rounded amount, rounds the
//! converted amount, and only then sums ("totals add up to the rows").
//! SQLite has no exact decimal type, so the conversion is integer
//! arithmetic laid out to stay inside 64 bits on both backends.
use async_graphql::SimpleObject;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::CurrencyCode;
use crate::error::{AppError, AppResult};

/// Largest accepted amount: one billion currency units.
pub const MAX_CENTS: i64 = 100_000_000_000;
/// Rates are stored with 9 decimals.
pub const RATE_SCALE: i64 = 1_000_000_000;
/// Largest accepted rate (units of tenant currency per unit of foreign).
pub const MAX_RATE: i64 = 10_000;

/// An amount with its currency.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// Exact, with 2 decimals: "12500.00".
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
}

impl Money {
    pub fn from_cents(cents: i64, currency: impl Into<String>) -> Self {
        Self {
            amount: Decimal::new(cents, 2),
            currency: currency.into(),
        }
    }
}

/// Rounds half away from zero to 2 decimals and returns cents. Negative or
/// absurdly large amounts are refused.
pub fn parse_amount(field: &'static str, value: Decimal) -> AppResult<i64> {
    let rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not be negative"),
        ));
    }
    (rounded * Decimal::ONE_HUNDRED)
        .to_i64()
        .filter(|c| *c <= MAX_CENTS)
        .ok_or_else(|| AppError::bad_input(field, format!("{field} must be at most 1000000000.00")))
}

/// A rate > 0 with at most 9 decimals (more are rounded), as billionths.
pub fn parse_rate(field: &'static str, value: Decimal) -> AppResult<i64> {
    let rounded = value.round_dp_with_strategy(9, RoundingStrategy::MidpointAwayFromZero);
    let nanos = (rounded * Decimal::from(RATE_SCALE)).to_i64();
    match nanos {
        Some(n) if n > 0 && n <= MAX_RATE * RATE_SCALE => Ok(n),
        _ => Err(AppError::bad_input(
            field,
            format!("{field} must be greater than 0 and at most {MAX_RATE}"),
        )),
    }
}

pub fn rate_to_decimal(nanos: i64) -> Decimal {
    Decimal::new(nanos, 9).normalize()
}

/// potential × probability / 100, rounded half away from zero (amounts are
/// never negative, so adding half and truncating is exactly that).
pub fn weighted_cents(cents: i64, probability: i32) -> i64 {
    (cents * i64::from(probability) + 50) / 100
}

/// Converts cents with a rate in billionths, rounding half away from zero.
pub fn convert_cents(cents: i64, rate_nanos: i64) -> i64 {
    let s = RATE_SCALE;
    cents * (rate_nanos / s)
        + (cents / s) * (rate_nanos % s)
        + ((cents % s) * (rate_nanos % s) + s / 2) / s
}

/// The SQL twin of [`convert_cents`]: the same integer steps, so that each
/// term stays below 2^63 for amounts up to [`MAX_CENTS`] and rates up to
/// [`MAX_RATE`].
pub fn convert_sql(cents: &str, rate: &str) -> String {
    format!(
        "(({c}) * (({r}) / 1000000000) + (({c}) / 1000000000) * (({r}) % 1000000000) + ((({c}) % 1000000000) * (({r}) % 1000000000) + 500000000) / 1000000000)",
        c = cents,
        r = rate
    )
}

/// The rate (billionths) of the row's currency into the tenant currency:
/// 1 for the tenant's own currency, the stored rate otherwise. Needs the
/// `exchange_rates` table joined on tenant and currency.
pub fn rate_sql(tenant_currency: &CurrencyCode) -> String {
    // CurrencyCode is exactly three ASCII capitals, so inlining is safe
    format!(
        "CASE WHEN opportunities.currency = '{}' THEN 1000000000 ELSE COALESCE(exchange_rates.rate_nanos, 0) END",
        tenant_currency.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_round_half_away_from_zero() {
        assert_eq!(parse_amount("p", d("10.005")).unwrap(), 1001);
        assert_eq!(parse_amount("p", d("10.004")).unwrap(), 1000);
        assert_eq!(parse_amount("p", d("0.001")).unwrap(), 0);
        assert_eq!(parse_amount("p", d("-0.001")).unwrap(), 0);
        assert!(parse_amount("p", d("-0.01")).is_err());
        assert!(parse_amount("p", d("1000000000.01")).is_err());
        assert_eq!(
            Money::from_cents(1250000, "EUR").amount.to_string(),
            "12500.00"
        );
    }

    #[test]
    fn weighting_and_conversion_are_exact() {
        assert_eq!(weighted_cents(1001, 50), 501); // 500.5 -> 501
        assert_eq!(weighted_cents(999, 10), 100); // 99.9 -> 100
        assert_eq!(convert_cents(100, 1_085_000_000), 109); // 108.5 -> 109
        assert_eq!(
            convert_cents(MAX_CENTS, MAX_RATE * RATE_SCALE),
            MAX_CENTS * MAX_RATE
        );
        let r = 1_234_567_891;
        let c = 98_765_432_109;
        let exact = (i128::from(c) * i128::from(r) + 500_000_000) / 1_000_000_000;
        assert_eq!(i128::from(convert_cents(c, r)), exact);
        assert!(parse_rate("r", d("0")).is_err());
        assert_eq!(parse_rate("r", d("1.0850000004")).unwrap(), 1_085_000_000);
        assert_eq!(rate_to_decimal(1_085_000_000).to_string(), "1.085");
    }
}
