//! Exact money. Amounts are integer minor units (cents) in storage and in
//! SQL; the API shows them as 2-decimal `Decimal` strings. Exchange rates
//! are integer billionths.
//!
//! Every aggregate converts each opportunity's rounded amount, rounds the
//! converted amount, and only then sums ("totals add up to the rows").
//! SQLite has no exact decimal type, so the conversion is integer
//! arithmetic laid out to stay inside 64 bits on both backends.
//!
//! Nothing here may panic on input: arithmetic is checked (the lint below
//! refuses any operator that could overflow), and out-of-range values are
//! BAD_USER_INPUT naming the field.
#![deny(clippy::arithmetic_side_effects)]
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

/// Rounds half away from zero to 2 decimals and returns cents. Negative or
/// absurdly large amounts are refused.
pub fn parse_amount(field: &'static str, value: Decimal) -> AppResult<i64> {
    let too_large = || AppError::bad_input(field, format!("{field} must be at most 1000000000.00"));
    // refuse the absurd before any arithmetic: near Decimal's own limit
    // (about 7.9e28) even rounding can overflow
    if value.abs() > Decimal::from(MAX_CENTS) {
        return Err(too_large());
    }
    let rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not be negative"),
        ));
    }
    rounded
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| c.to_i64())
        .filter(|c| *c <= MAX_CENTS)
        .ok_or_else(too_large)
}

/// A rate > 0 with at most 9 decimals (more are rounded), as billionths.
pub fn parse_rate(field: &'static str, value: Decimal) -> AppResult<i64> {
    let nanos = if value.abs() > Decimal::from(MAX_RATE) {
        None
    } else {
        value
            .round_dp_with_strategy(9, RoundingStrategy::MidpointAwayFromZero)
            .checked_mul(Decimal::from(RATE_SCALE))
            .and_then(|n| n.to_i64())
    };
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
/// Computed in 128 bits; a result past i64 (impossible for stored amounts
/// and probabilities) saturates rather than panics.
pub fn weighted_cents(cents: i64, probability: i32) -> i64 {
    let wide = i128::from(cents)
        .saturating_mul(i128::from(probability))
        .saturating_add(50)
        .checked_div(100)
        .unwrap_or_default();
    i64::try_from(wide).unwrap_or(i64::MAX)
}

/// Converts cents with a rate in billionths, rounding half away from zero.
/// Exact in 128 bits; saturates past i64 instead of panicking.
pub fn convert_cents(cents: i64, rate_nanos: i64) -> i64 {
    let half = i128::from(RATE_SCALE / 2);
    let wide = i128::from(cents)
        .saturating_mul(i128::from(rate_nanos))
        .saturating_add(half)
        .checked_div(i128::from(RATE_SCALE))
        .unwrap_or_default();
    i64::try_from(wide).unwrap_or(i64::MAX)
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
        // the panics of the attack: near Decimal's limit
        for huge in ["1e27", "79228162514264337593543950335", "-1e27", "7.9e19"] {
            assert!(parse_amount("p", d(huge)).is_err(), "{huge}");
            assert!(parse_rate("r", d(huge)).is_err(), "{huge}");
        }
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
