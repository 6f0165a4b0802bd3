//! Scalars of the contract that async-graphql does not name the same way.
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, "2026-11-27".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date without time or zone, "2026-11-27".
#[Scalar(
    name = "Date",
    specified_by_url = "https://scalars.graphql.org/andimarek/local-date.html"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            // both databases store years 1 to 9999 alike; outside that,
            // PostgreSQL refuses and SQLite compares dates as text
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
                .map(Date)
                .ok_or_else(|| {
                    InputValueError::custom(
                        "expected a date between 0001-01-01 and 9999-12-31, such as \"2026-11-27\"",
                    )
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// An exact decimal number, written as a string so that no client rounds
/// it through a binary float: "1234.50", "-0.25".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal(pub rust_decimal::Decimal);

/// An exact decimal number as a string ("1234.50"; answers always use a
/// dot and no exponent). Inputs also take a JSON number, read from its
/// literal digits, never through a binary float.
#[Scalar(
    name = "Decimal",
    specified_by_url = "https://speleotrove.com/decimal/daconvs.html#refnumsyn"
)]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        rust_decimal::Decimal::from_str_exact(&text)
            .or_else(|_| rust_decimal::Decimal::from_scientific(&text))
            .map(Decimal)
            .map_err(|_| InputValueError::custom("expected a decimal number such as \"1234.50\""))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}
