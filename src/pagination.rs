//! Relay paging as GraphQL shows it; cursors, page sizes and keyset pages
//! are the kernel's.
use async_graphql::SimpleObject;

pub use crm_core::pagination::*;

/// Where a page stands in its list.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Always false: lists are paged forward only.
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

impl From<&crm_core::pagination::PageInfo> for PageInfo {
    fn from(p: &crm_core::pagination::PageInfo) -> Self {
        Self {
            has_next_page: p.has_next_page,
            has_previous_page: p.has_previous_page,
            start_cursor: p.start_cursor.clone(),
            end_cursor: p.end_cursor.clone(),
        }
    }
}
