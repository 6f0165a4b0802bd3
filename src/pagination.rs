//! Relay cursor pagination: page sizes and opaque keyset cursors.
use async_graphql::SimpleObject;
use base64::Engine;
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

/// Validates `first`: 0..=100, 20 when absent.
pub fn page_size(first: Option<i32>) -> AppResult<u64> {
    let n = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&n) {
        return Err(AppError::bad_input(
            "first",
            format!("first must be between 0 and {MAX_PAGE}"),
        ));
    }
    Ok(n as u64)
}

/// Complexity of a connection field: its page size times what each node costs.
pub fn connection_complexity(child: usize, first: Option<i32>) -> usize {
    let n = first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize;
    n.saturating_mul(child).saturating_add(1)
}

/// Complexity of a plain list field: what each item costs times the
/// number of items such a list usually holds. Without it a list counted
/// as one item, and `pipelines { stages { opportunities(first: 60) } }`
/// passed as if it were one board column.
pub fn list_complexity(child: usize, typical: usize) -> usize {
    typical.saturating_mul(child).saturating_add(1)
}

pub fn encode_cursor<T: Serialize>(key: &T) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// A cursor that does not decode is the client's mistake, named as such.
pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> AppResult<T> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| AppError::bad_input("after", "after is not a cursor from this list"))
}

#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Always false: lists are paged forward only.
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page info of a forward page of (cursor, row) pairs.
    pub fn for_page<T>(rows: &[(String, T)], has_next_page: bool) -> Self {
        Self {
            has_next_page,
            has_previous_page: false,
            start_cursor: rows.first().map(|r| r.0.clone()),
            end_cursor: rows.last().map(|r| r.0.clone()),
        }
    }
}

/// Splits a fetched `first + 1` rows into the page and whether more follow.
pub fn split_page<T>(mut rows: Vec<T>, first: u64) -> (Vec<T>, bool) {
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    (rows, more)
}
