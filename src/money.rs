//! Money as the API shows it; the exact arithmetic is the kernel's.
use crate::scalars::Decimal;
use async_graphql::SimpleObject;

pub use crm_core::money::*;

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
            amount: Decimal(rust_decimal::Decimal::new(cents, 2)),
            currency: currency.into(),
        }
    }
}
