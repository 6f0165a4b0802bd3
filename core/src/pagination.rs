//! Relay cursor pagination: page sizes and opaque keyset cursors.
use base64::Engine;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

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
    // checked above: 0..=MAX_PAGE, so never negative
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Complexity of a connection field: its page size times what each node costs.
pub fn connection_complexity(child: usize, first: Option<i32>) -> usize {
    // clamped to 0..=MAX_PAGE, so the conversion cannot fail
    let n = usize::try_from(first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE)).unwrap_or(0);
    n.saturating_mul(child).saturating_add(1)
}

/// Complexity of a plain list field: what each item costs times the
/// number of items such a list usually holds. Without it a list counted
/// as one item, and `pipelines { stages { opportunities(first: 60) } }`
/// passed as if it were one board column.
pub fn list_complexity(child: usize, typical: usize) -> usize {
    typical.saturating_mul(child).saturating_add(1)
}

/// Which list a cursor belongs to: a short digest of what defines the list
/// (its kind, parent, filter and order). A cursor carries it, so a cursor
/// from one board column handed to another column, or to the same list
/// filtered or ordered differently, is refused instead of answering an
/// overlapping page. It detects mistakes; it is not a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListKey(String);

impl ListKey {
    /// The key of the list described by `what` (its `Debug` form: a tuple
    /// of the list's name and the inputs that define it).
    pub fn of<T: std::fmt::Debug + ?Sized>(what: &T) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{what:?}").as_bytes());
        Self(hex::encode(digest.get(..6).unwrap_or_default()))
    }
}

#[derive(Serialize)]
struct Sealed<'a, T> {
    l: &'a str,
    k: &'a T,
}

#[derive(Deserialize)]
struct Opened<T> {
    l: String,
    k: T,
}

/// The opaque cursor of the row at `key` in the list `list`.
pub fn encode_cursor<T: Serialize>(list: &ListKey, key: &T) -> String {
    let json = serde_json::to_vec(&Sealed { l: &list.0, k: key }).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// A cursor that does not decode, or that another list issued, is the
/// client's mistake, named as such.
pub fn decode_cursor<T: DeserializeOwned>(list: &ListKey, cursor: &str) -> AppResult<T> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice::<Opened<T>>(&b).ok())
        .filter(|o| o.l == list.0)
        .map(|o| o.k)
        .ok_or_else(|| {
            AppError::bad_input(
                "after",
                "after is not a cursor of this list (same parent, filter and order)",
            )
        })
}

/// Where a forward page stands; the GraphQL layer answers it as `PageInfo`.
#[derive(Clone, Debug, Default)]
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

/// One forward page of a keyset-paged list: each row with its cursor,
/// where the page stands, and the list's total (`()` when the list has
/// none, or a source that counts on demand).
#[derive(Clone, Debug)]
pub struct Page<T, Total = ()> {
    pub rows: Vec<(String, T)>,
    pub page_info: PageInfo,
    pub total: Total,
}

impl<T, Total> Page<T, Total> {
    /// A page of (cursor, row) pairs fetched as `first + 1` rows' worth.
    pub fn new(rows: Vec<(String, T)>, has_next_page: bool, total: Total) -> Self {
        Self {
            page_info: PageInfo::for_page(&rows, has_next_page),
            rows,
            total,
        }
    }
}

/// Splits a fetched `first + 1` rows into the page and whether more follow.
pub fn split_page<T>(mut rows: Vec<T>, first: u64) -> (Vec<T>, bool) {
    let more = rows.len() as u64 > first;
    // a `first` beyond the address space keeps every row
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    (rows, more)
}

/// A row count as a GraphQL `Int` (32 bits): a count beyond `i32::MAX`
/// saturates there instead of wrapping negative (and, symmetrically, one
/// below `i32::MIN` at `i32::MIN`, though `COUNT(*)` is never negative).
pub fn count_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// A `u64` (a `COUNT(*)`, a page size) as the `i64` SQL and the totals
/// use: saturates at `i64::MAX`, which no count or page size reaches.
pub fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_instead_of_wrapping() {
        assert_eq!(count_i32(42), 42);
        assert_eq!(count_i32(i64::from(i32::MAX) + 1), i32::MAX);
        assert_eq!(count_i32(i64::MIN), i32::MIN);
        assert_eq!(saturating_i64(101), 101);
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
        assert_eq!(page_size(None).ok(), Some(20));
        assert!(page_size(Some(-1)).is_err());
        assert_eq!(connection_complexity(2, Some(-5)), 1);
        assert_eq!(split_page(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], u64::MAX), (vec![1, 2], false));
    }

    #[test]
    fn a_cursor_opens_only_in_its_own_list() {
        let a = ListKey::of(&("stage", 1, 3));
        let b = ListKey::of(&("stage", 2, 3));
        let c = encode_cursor(&a, &42_i64);
        assert_eq!(decode_cursor::<i64>(&a, &c).ok(), Some(42));
        assert!(decode_cursor::<i64>(&b, &c).is_err());
        assert!(decode_cursor::<i64>(&a, "not a cursor").is_err());
        assert!(decode_cursor::<String>(&a, &c).is_err());
    }
}
