//! Tags: a tenant's labels, several on each opportunity and contact. The
//! only module that writes `tags`, `opportunity_tags` and `contact_tags`;
//! the opportunity and contact commands set a row's tags through
//! `set_*_in` inside their own transactions.
use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    ExprTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use entity::{contact_tag, opportunity_tag, tag};

use crate::auth::AuthContext;
use crate::domain::TagId;
use crate::error::{AppError, AppResult};
use crate::reader::Reader;
use crate::state::{AppState, Store};
use crate::tenancy::{TenantScope, now};

/// At most this many tags on one row.
pub const MAX_PER_ROW: usize = 50;

/// 1 to 50 characters, trimmed, no control characters.
pub fn name(raw: &str) -> AppResult<String> {
    let n = crate::domain::required_text("name", raw, 50)?;
    if n.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "name",
            "name must not contain control characters",
        ));
    }
    Ok(n)
}

/// `#rrggbb` (or `#RGB`), stored lower case as `#rrggbb`.
pub fn color(raw: &str) -> AppResult<String> {
    let hex = raw.trim().strip_prefix('#').unwrap_or("");
    let ok = hex.chars().all(|c| c.is_ascii_hexdigit());
    let full = match hex.len() {
        6 if ok => hex.to_ascii_lowercase(),
        3 if ok => hex
            .chars()
            .flat_map(|c| [c, c])
            .collect::<String>()
            .to_ascii_lowercase(),
        _ => {
            return Err(AppError::bad_input(
                "color",
                "color must be a hex colour such as #3b82f6",
            ));
        }
    };
    Ok(format!("#{full}"))
}

/// The colour a tag gets when none is given.
pub const DEFAULT_COLOR: &str = "#94a3b8";

/// Every tag of the tenant, by name.
pub async fn list<C: ConnectionTrait>(conn: &C, scope: TenantScope) -> AppResult<Vec<tag::Model>> {
    Ok(scope
        .find::<tag::Entity>()
        .order_by_asc(tag::Column::NameKey)
        .all(conn)
        .await?)
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: TagId,
) -> AppResult<tag::Model> {
    scope.get::<tag::Entity, _>(conn, id.0, "tag").await
}

/// Creates a tag (names are unique ignoring case).
pub async fn create<S: Store>(
    state: &S,
    auth: AuthContext,
    name: String,
    color: String,
) -> AppResult<tag::Model> {
    let ts = now();
    let m = TenantScope(auth.tenant)
        .stamp(tag::ActiveModel {
            id: Set(Uuid::new_v4()),
            name_key: Set(name.to_lowercase()),
            name: Set(name),
            color: Set(color),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(state.conn())
        .await?;
    Ok(m)
}

/// Renames or recolours a tag; rows keep it.
pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: TagId,
    name: Option<String>,
    color: Option<String>,
) -> AppResult<tag::Model> {
    let scope = TenantScope(auth.tenant);
    let cur = find(&state.db, scope, id).await?;
    let mut m: tag::ActiveModel = cur.into();
    if let Some(n) = name {
        m.name_key = Set(n.to_lowercase());
        m.name = Set(n);
    }
    if let Some(c) = color {
        m.color = Set(c);
    }
    m.updated_at = Set(now());
    Ok(m.update(&state.db).await?)
}

/// Deletes a tag and takes it off every row.
pub async fn delete(state: &AppState, auth: AuthContext, id: TagId) -> AppResult<bool> {
    let scope = TenantScope(auth.tenant);
    let t = find(&state.db, scope, id).await?;
    scope
        .delete_many::<tag::Entity>()
        .filter(tag::Column::Id.eq(t.id))
        .exec(&state.db)
        .await?;
    Ok(true)
}

/// Folds `sources` into `target`: every row that had one of them has
/// `target` instead (once), and the sources are deleted. One transaction.
pub async fn merge(
    state: &AppState,
    auth: AuthContext,
    sources: &[TagId],
    target: TagId,
) -> AppResult<tag::Model> {
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(&state.db).await?;
    let into = find(&txn, scope, target).await?;
    let mut from = Vec::new();
    for s in sources {
        let t = find(&txn, scope, *s).await?;
        if t.id == into.id {
            return Err(AppError::bad_input(
                "sourceIds",
                "a tag cannot be merged into itself",
            ));
        }
        from.push(t.id);
    }
    if from.is_empty() {
        return Err(AppError::bad_input(
            "sourceIds",
            "name at least one tag to merge",
        ));
    }
    relink::<opportunity_tag::Entity>(
        &txn,
        scope,
        &from,
        into.id,
        opportunity_tag::Column::OpportunityId,
    )
    .await?;
    relink::<contact_tag::Entity>(&txn, scope, &from, into.id, contact_tag::Column::ContactId)
        .await?;
    scope
        .delete_many::<tag::Entity>()
        .filter(tag::Column::Id.is_in(from))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(into)
}

/// Points the links of `from` at `into`, dropping those whose row already
/// has `into`. The link tables share their shape: (id, tenant_id, owner, tag_id).
async fn relink<E>(
    conn: &impl ConnectionTrait,
    scope: TenantScope,
    from: &[Uuid],
    into: Uuid,
    owner: E::Column,
) -> AppResult<()>
where
    E: crate::tenancy::TenantOwned,
{
    let tag_col = Expr::col(sea_orm::sea_query::Alias::new("tag_id"));
    // rows that already carry the target keep that link only
    let has_target = Query::select()
        .column(owner)
        .from(E::default())
        .and_where(Expr::col(E::tenant_column()).eq(scope.0.0))
        .and_where(tag_col.clone().eq(into))
        .take();
    scope
        .delete_many::<E>()
        .filter(Expr::col(sea_orm::sea_query::Alias::new("tag_id")).is_in(from.iter().copied()))
        .filter(Expr::col(owner).in_subquery(has_target))
        .exec(conn)
        .await?;
    scope
        .update_many::<E>()
        .col_expr(sea_orm::sea_query::Alias::new("tag_id"), Expr::value(into))
        .filter(Expr::col(sea_orm::sea_query::Alias::new("tag_id")).is_in(from.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Client-given tag ids as the tenant's tags (NOT_FOUND for any other),
/// deduplicated, in the given order.
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    ids: &[String],
) -> AppResult<Vec<Uuid>> {
    if ids.len() > MAX_PER_ROW {
        return Err(AppError::bad_input(
            "tagIds",
            format!("at most {MAX_PER_ROW} tags"),
        ));
    }
    let mut wanted = Vec::new();
    for id in ids {
        let id = TagId::parse(id)?.0;
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.is_empty() {
        return Ok(wanted);
    }
    let found = scope
        .find::<tag::Entity>()
        .filter(tag::Column::Id.is_in(wanted.iter().copied()))
        .all(conn)
        .await?;
    if found.len() != wanted.len() {
        return Err(AppError::NotFound("tag"));
    }
    Ok(wanted)
}

/// The names of tags, sorted, as history shows a set of them.
async fn names<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    ids: &[Uuid],
) -> AppResult<String> {
    let mut names: Vec<String> = scope
        .find::<tag::Entity>()
        .filter(tag::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    Ok(names.join(", "))
}

/// The tags of an opportunity, as ids.
pub async fn of_opportunity<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<Vec<Uuid>> {
    Ok(scope
        .find::<opportunity_tag::Entity>()
        .filter(opportunity_tag::Column::OpportunityId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.tag_id)
        .collect())
}

/// The tags of a contact, as ids.
pub async fn of_contact<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<Vec<Uuid>> {
    Ok(scope
        .find::<contact_tag::Entity>()
        .filter(contact_tag::Column::ContactId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.tag_id)
        .collect())
}

/// What a change of a row's tags replaced: None when the set is the same,
/// else the history's (from, to) as tag names.
pub async fn diff<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    current: &[Uuid],
    wanted: &[Uuid],
) -> AppResult<Option<(String, String)>> {
    let mut a = current.to_vec();
    let mut b = wanted.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    if a == b {
        return Ok(None);
    }
    Ok(Some((
        names(conn, scope, current).await?,
        names(conn, scope, wanted).await?,
    )))
}

/// Replaces an opportunity's tags (inside the caller's transaction).
pub async fn set_opportunity_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    tags: &[Uuid],
) -> AppResult<()> {
    scope
        .delete_many::<opportunity_tag::Entity>()
        .filter(opportunity_tag::Column::OpportunityId.eq(id))
        .exec(conn)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|t| {
        scope.stamp(opportunity_tag::ActiveModel {
            id: Set(Uuid::new_v4()),
            opportunity_id: Set(id),
            tag_id: Set(*t),
            ..Default::default()
        })
    });
    opportunity_tag::Entity::insert_many(rows)
        .exec(conn)
        .await?;
    Ok(())
}

/// Replaces a contact's tags (inside the caller's transaction).
pub async fn set_contact_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    tags: &[Uuid],
) -> AppResult<()> {
    scope
        .delete_many::<contact_tag::Entity>()
        .filter(contact_tag::Column::ContactId.eq(id))
        .exec(conn)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|t| {
        scope.stamp(contact_tag::ActiveModel {
            id: Set(Uuid::new_v4()),
            contact_id: Set(id),
            tag_id: Set(*t),
            ..Default::default()
        })
    });
    contact_tag::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Rows (opportunities or contacts, by `owner` column of `links`) with at
/// least one of `any` and every one of `all`.
pub fn condition(
    links: &str,
    owner: &str,
    owner_id: Expr,
    any: &[Uuid],
    all: &[Uuid],
) -> Condition {
    use sea_orm::sea_query::Alias;
    let link = |tags: Vec<Uuid>| {
        Query::select()
            .column((Alias::new(links), Alias::new(owner)))
            .from(Alias::new(links))
            .and_where(Expr::col((Alias::new(links), Alias::new("tag_id"))).is_in(tags))
            .take()
    };
    let mut c = Condition::all();
    if !any.is_empty() {
        c = c.add(owner_id.clone().in_subquery(link(any.to_vec())));
    }
    for t in all {
        c = c.add(owner_id.clone().in_subquery(link(vec![*t])));
    }
    c
}

/// The tags of an opportunity (for its `tags` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpportunityTagsKey(pub Uuid);

/// The tags of a contact (for its `tags` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContactTagsKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `OpportunityTagsKey` loader.
    pub async fn load_opportunity_tags(
        &self,
        keys: &[OpportunityTagsKey],
    ) -> AppResult<HashMap<OpportunityTagsKey, Vec<tag::Model>>> {
        let rows = self
            .scope
            .find::<opportunity_tag::Entity>()
            .filter(opportunity_tag::Column::OpportunityId.is_in(keys.iter().map(|k| k.0)))
            .find_also_related(tag::Entity)
            .order_by_asc(tag::Column::NameKey)
            .all(&self.state.db)
            .await?;
        let mut out: HashMap<_, Vec<_>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for (link, t) in rows {
            if let Some(t) = t {
                out.entry(OpportunityTagsKey(link.opportunity_id))
                    .or_default()
                    .push(t);
            }
        }
        Ok(out)
    }

    /// The batch behind the GraphQL layer's `ContactTagsKey` loader.
    pub async fn load_contact_tags(
        &self,
        keys: &[ContactTagsKey],
    ) -> AppResult<HashMap<ContactTagsKey, Vec<tag::Model>>> {
        let rows = self
            .scope
            .find::<contact_tag::Entity>()
            .filter(contact_tag::Column::ContactId.is_in(keys.iter().map(|k| k.0)))
            .find_also_related(tag::Entity)
            .order_by_asc(tag::Column::NameKey)
            .all(&self.state.db)
            .await?;
        let mut out: HashMap<_, Vec<_>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for (link, t) in rows {
            if let Some(t) = t {
                out.entry(ContactTagsKey(link.contact_id))
                    .or_default()
                    .push(t);
            }
        }
        Ok(out)
    }
}
