//! The contact module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactKind {
    Person,
    Company,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "PERSON",
            Self::Company => "COMPANY",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "PERSON" => Ok(Self::Person),
            "COMPANY" => Ok(Self::Company),
            _ => Err(AppError::Internal(
                format!("unknown contact kind {s:?}").into(),
            )),
        }
    }
}

/// A contact is a PROSPECT until one of its opportunities is won.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactLifecycle {
    Prospect,
    Client,
}

impl ContactLifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prospect => "PROSPECT",
            Self::Client => "CLIENT",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "PROSPECT" => Ok(Self::Prospect),
            "CLIENT" => Ok(Self::Client),
            _ => Err(AppError::Internal(
                format!("unknown lifecycle {s:?}").into(),
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContactInput {
    pub kind: ContactKind,
    /// 1 to 200 characters.
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// A COMPANY contact, for a PERSON.
    pub company_id: Option<String>,
    pub source_id: Option<String>,
    pub tag_ids: Option<Vec<String>>,
    pub custom_fields: Option<Vec<crate::modules::custom_field::value::RawValue>>,
    /// Its id in the system it comes from: unique in the tenant.
    pub external_id: Option<String>,
}

/// Fields left out stay as they are; `null` clears email, phone or company.
#[derive(Debug, Clone)]
pub struct UpdateContactInput {
    pub name: Option<String>,
    pub email: Patch<String>,
    pub phone: Patch<String>,
    pub company_id: Patch<String>,
    pub lifecycle: Option<ContactLifecycle>,
    /// Replaces every tag.
    pub tag_ids: Option<Vec<String>>,
    /// Sets the fields named; others stay.
    pub custom_fields: Option<Vec<crate::modules::custom_field::value::RawValue>>,
    /// `null` clears it.
    pub external_id: Patch<String>,
}

/// What a contacts list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSortField {
    /// Case-insensitive.
    Name,
    /// The custom field `custom_field_key` names.
    CustomField,
}

#[derive(Debug, Clone)]
pub struct ContactOrder {
    pub field: ContactSortField,
    pub descending: bool,
    pub custom_field_key: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub kind: Option<ContactKind>,
    pub lifecycle: Option<ContactLifecycle>,
    /// Case-insensitive, on name and email.
    pub search: Option<String>,
    pub tags_any: Option<Vec<String>>,
    pub tags_all: Option<Vec<String>>,
    pub custom_fields: Option<Vec<crate::modules::custom_field::value::RawFilter>>,
}
