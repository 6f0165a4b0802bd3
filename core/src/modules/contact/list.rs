//! The contacts list: by name or by a custom field, keyset-paginated.
use entity::contact;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ConnectionTrait, ExprTrait, FromQueryResult, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ContactFilter, ContactOrder, ContactSortField};
use super::service::condition;
use crate::auth::AuthContext;
use crate::error::{AppError, AppResult};
use crate::modules::custom_field::FieldEntity;
use crate::modules::custom_field::sort::{self, CustomSort, Typed};
use crate::pagination::{
    ListKey, Page, decode_cursor, encode_cursor, page_size, saturating_i64, split_page,
};
use crate::state::AppState;
use crate::tenancy::TenantScope;

#[derive(Serialize, Deserialize)]
struct ContactCursor {
    v: serde_json::Value,
    id: Uuid,
}

/// A page of contacts with the list's total.
pub type ContactPage = Page<contact::Model, i64>;

fn bad_cursor() -> AppError {
    AppError::bad_input("after", "after is not a cursor of this list and order")
}

/// Contacts by name (case-insensitive) or by a custom field, then id,
/// keyset-paginated.
pub async fn list(
    state: &AppState,
    auth: AuthContext,
    filter: ContactFilter,
    order: Option<ContactOrder>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<ContactPage> {
    let first = page_size(first)?;
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let backend = db.get_database_backend();
    let custom = match order
        .as_ref()
        .map(|o| (o.field, o.custom_field_key.as_deref()))
    {
        Some((ContactSortField::CustomField, Some(key))) => {
            Some(CustomSort::resolve(db, scope, FieldEntity::Contact, key).await?)
        }
        Some((ContactSortField::CustomField, None)) => return Err(sort::mismatch(true)),
        Some((_, Some(_))) => return Err(sort::mismatch(false)),
        _ => None,
    };
    let descending = order.as_ref().is_some_and(|o| o.descending);
    let (sort, typed) = match &custom {
        Some(c) => (c.expr(backend), c.typed()),
        None => (
            Expr::from(Func::lower(Expr::col((
                contact::Entity,
                contact::Column::Name,
            )))),
            Typed::Text,
        ),
    };
    let list = ListKey::of(&("contacts", &filter, custom, descending));
    let cond = condition(db, scope, &filter).await?;
    let total = saturating_i64(
        scope
            .find::<contact::Entity>()
            .filter(cond.clone())
            .count(db)
            .await?,
    );
    let mut q = scope
        .find::<contact::Entity>()
        .filter(cond)
        .column_as(sort.clone(), "sort_key");
    if let Some(a) = after {
        let c: ContactCursor = decode_cursor(&list, &a)?;
        let v = sort::cursor_bind(typed, &c.v).ok_or_else(bad_cursor)?;
        // a row comparison, entered at the cursor
        let row = Expr::tuple([
            sort.clone(),
            Expr::col((contact::Entity, contact::Column::Id)),
        ]);
        let at = Expr::tuple([Expr::val(v), Expr::val(c.id)]);
        q = q.filter(if descending { row.lt(at) } else { row.gt(at) });
    }
    let dir = if descending { Order::Desc } else { Order::Asc };
    let stmt = q
        .order_by(sort, dir.clone())
        .order_by(contact::Column::Id, dir)
        .limit(first + 1)
        .build(backend);
    let raw = db.query_all_raw(stmt).await?;
    let (raw, more) = split_page(raw, first);
    let mut rows = Vec::with_capacity(raw.len());
    for r in raw {
        let m = contact::Model::from_query_result(&r, "")?;
        let cursor = ContactCursor {
            v: sort::cursor_json(typed, &r, "sort_key")?,
            id: m.id,
        };
        rows.push((encode_cursor(&list, &cursor), m));
    }
    Ok(Page::new(rows, more, total))
}
