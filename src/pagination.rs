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

/// A GraphQL node built from one storage row: what a `Connection` lists.
pub trait Node: async_graphql::OutputType + Send + Sync + 'static {
    type Row: Clone + Send + Sync + 'static;
    fn from_row(row: Self::Row) -> Self;
}

/// How a list counts all its matches: already counted, or counted by the
/// database only when a client asks for `totalCount`.
pub trait Total: Send + Sync + 'static {
    fn count(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> impl std::future::Future<Output = crate::error::AppResult<i64>> + Send;
}

impl Total for i64 {
    async fn count(&self, _: &async_graphql::Context<'_>) -> crate::error::AppResult<i64> {
        Ok(*self)
    }
}

/// One item of a page, with the cursor to continue after it.
#[derive(SimpleObject)]
#[graphql(concrete(name = "ContactEdge", params(crate::modules::contact::types::Contact)))]
#[graphql(concrete(
    name = "ActivityEdge",
    params(crate::modules::activity::types::Activity)
))]
#[graphql(concrete(
    name = "OpportunityChangeEdge",
    params(crate::modules::opportunity::types::OpportunityChange)
))]
pub struct Edge<N: async_graphql::OutputType> {
    pub cursor: String,
    pub node: N,
}

/// A keyset page of a list as Relay clients read it: `edges` (or just
/// `nodes`), `pageInfo` and the list's `totalCount`. One type serves every
/// list; only the opportunity list, whose totals are money, has its own.
pub struct Connection<N: Node, T: Total = i64>(pub Page<N::Row, T>);

impl<N: Node, T: Total> From<Page<N::Row, T>> for Connection<N, T> {
    fn from(page: Page<N::Row, T>) -> Self {
        Self(page)
    }
}

#[async_graphql::Object(
    concrete(
        name = "ContactConnection",
        params(crate::modules::contact::types::Contact, i64)
    ),
    concrete(
        name = "ActivityConnection",
        params(
            crate::modules::activity::types::Activity,
            crm_core::modules::activity::service::TotalSource
        )
    ),
    concrete(
        name = "OpportunityChangeConnection",
        params(crate::modules::opportunity::types::OpportunityChange, i64)
    )
)]
impl<N: Node, T: Total> Connection<N, T>
where
    Edge<N>: async_graphql::OutputType,
{
    async fn edges(&self) -> Vec<Edge<N>> {
        self.0
            .rows
            .iter()
            .map(|(c, m)| Edge {
                cursor: c.clone(),
                node: N::from_row(m.clone()),
            })
            .collect()
    }
    async fn nodes(&self) -> Vec<N> {
        self.0
            .rows
            .iter()
            .map(|(_, m)| N::from_row(m.clone()))
            .collect()
    }
    async fn page_info(&self) -> PageInfo {
        PageInfo::from(&self.0.page_info)
    }
    /// Every match, not just this page.
    async fn total_count(&self, ctx: &async_graphql::Context<'_>) -> crate::error::GqlResult<i32> {
        Ok(count_i32(self.0.total.count(ctx).await?))
    }
}
