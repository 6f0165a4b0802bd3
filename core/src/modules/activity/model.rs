//! The activity module's domain types: what its commands take and the
//! values it stores.
#![allow(unused_imports)]
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::domain::{Patch, Role};
use crate::error::{AppError, AppResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    /// Something to do by `dueAt`.
    Task,
    /// An appointment from `startsAt` to `endsAt`.
    Event,
    /// A call, with its summary in `note`.
    Call,
    Note,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Task => "TASK",
            Self::Event => "EVENT",
            Self::Call => "CALL",
            Self::Note => "NOTE",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "TASK" => Ok(Self::Task),
            "EVENT" => Ok(Self::Event),
            "CALL" => Ok(Self::Call),
            "NOTE" => Ok(Self::Note),
            _ => Err(AppError::Internal(
                format!("unknown activity kind {s:?}").into(),
            )),
        }
    }
    pub fn bit(self) -> u8 {
        match self {
            Self::Task => 1,
            Self::Event => 2,
            Self::Call => 4,
            Self::Note => 8,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Quote,
    Proposal,
    Contract,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quote => "QUOTE",
            Self::Proposal => "PROPOSAL",
            Self::Contract => "CONTRACT",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "QUOTE" => Ok(Self::Quote),
            "PROPOSAL" => Ok(Self::Proposal),
            "CONTRACT" => Ok(Self::Contract),
            _ => Err(AppError::Internal(
                format!("unknown document kind {s:?}").into(),
            )),
        }
    }
}

/// DRAFT → SENT → ACCEPTED or DECLINED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentStatus {
    Draft,
    Sent,
    Accepted,
    Declined,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Sent => "SENT",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "DRAFT" => Ok(Self::Draft),
            "SENT" => Ok(Self::Sent),
            "ACCEPTED" => Ok(Self::Accepted),
            "DECLINED" => Ok(Self::Declined),
            _ => Err(AppError::Internal(
                format!("unknown document status {s:?}").into(),
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CreateActivityInput {
    pub kind: ActivityKind,
    /// 1 to 200 characters.
    pub subject: String,
    pub note: Option<String>,
    pub opportunity_id: Option<String>,
    pub contact_id: Option<String>,
    /// Default: the caller. An active user of the tenant.
    pub assignee_id: Option<String>,
    /// TASK only, and required for it.
    pub due_at: Option<DateTime<Utc>>,
    /// EVENT only, and required for it.
    pub starts_at: Option<DateTime<Utc>>,
    /// EVENT only; at or after `startsAt`; default one hour after it.
    pub ends_at: Option<DateTime<Utc>>,
    /// A logged CALL or NOTE is done when created unless `done: false`.
    pub done: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct UpdateActivityInput {
    pub subject: Option<String>,
    pub note: Option<String>,
    pub assignee_id: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub kinds: Option<Vec<ActivityKind>>,
    pub opportunity_id: Option<String>,
    pub contact_id: Option<String>,
    pub assignee_id: Option<String>,
    pub done: Option<bool>,
    /// Open TASKs whose dueAt has passed (or, with false, all others).
    pub overdue: Option<bool>,
    /// On dueAt / startsAt / createdAt, whichever the kind uses; inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct DocumentInput {
    pub opportunity_id: String,
    pub kind: DocumentKind,
    pub title: String,
    pub reference: Option<String>,
    /// >= 0, rounded half away from zero to 2 decimals.
    pub amount: Option<Decimal>,
    /// Default: the opportunity's currency.
    pub currency: Option<String>,
    pub url: Option<String>,
    /// Sets the opportunity's potential (and currency) to this amount, in
    /// the same transaction, with history and a version bump.
    pub use_as_potential: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct UpdateDocumentInput {
    pub title: Option<String>,
    pub reference: Option<String>,
    pub amount: Option<Decimal>,
    /// DRAFT → SENT → ACCEPTED or DECLINED; any other move is refused.
    pub status: Option<DocumentStatus>,
    pub url: Option<String>,
}

/// A set of kinds as bits; absent means all four.
pub fn kinds_mask(kinds: Option<&[ActivityKind]>) -> u8 {
    kinds.map_or(15, |ks| ks.iter().fold(0, |m, k| m | k.bit()))
}

/// The stored kinds a set of bits stands for.
pub fn kinds_in_mask(mask: u8) -> Vec<&'static str> {
    [
        ActivityKind::Task,
        ActivityKind::Event,
        ActivityKind::Call,
        ActivityKind::Note,
    ]
    .into_iter()
    .filter(|k| mask & k.bit() != 0)
    .map(ActivityKind::as_str)
    .collect()
}

/// An open TASK whose `dueAt` has passed: the one overdue rule.
pub fn is_overdue(a: &entity::activity::Model, now: DateTime<Utc>) -> bool {
    a.kind == "TASK" && !a.done && a.due_at.is_some_and(|d| d < now)
}
