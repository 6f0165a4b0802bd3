//! The change history (field changes and stage changes) and the list query.
use super::*;
use crate::domain::{ContactId, PipelineId, SourceId, StageId, UserId};

pub(super) fn history_row(
    scope: TenantScope,
    opp: Uuid,
    actor: Option<Uuid>,
    at: DateTime<Utc>,
    field: &str,
    from: Option<String>,
    to: Option<String>,
) -> opportunity_change::ActiveModel {
    scope.stamp(opportunity_change::ActiveModel {
        id: Set(Uuid::new_v4()),
        opportunity_id: Set(opp),
        field: Set(field.to_string()),
        from_value: Set(from),
        to_value: Set(to),
        changed_by: Set(actor),
        changed_at: Set(at),
        ..Default::default()
    })
}

pub(super) fn stage_row(
    scope: TenantScope,
    opp: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    actor: Option<Uuid>,
    at: DateTime<Utc>,
) -> stage_change::ActiveModel {
    scope.stamp(stage_change::ActiveModel {
        id: Set(Uuid::new_v4()),
        opportunity_id: Set(opp),
        from_stage_id: Set(from),
        to_stage_id: Set(to),
        changed_by: Set(actor),
        changed_at: Set(at),
        ..Default::default()
    })
}

/// Bumps version and updated_at for a change made in a child table.
#[allow(clippy::too_many_arguments)]
pub(super) async fn touch<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    auth: AuthContext,
    ts: DateTime<Utc>,
    field: &str,
    from: Option<String>,
    to: Option<String>,
) -> AppResult<()> {
    bumped(scope, ts)
        .filter(opportunity::Column::Id.eq(id))
        .exec(conn)
        .await?;
    history_row(scope, id, Some(auth.user.0), ts, field, from, to)
        .insert(conn)
        .await?;
    Ok(())
}

/// Every stage an opportunity entered, oldest first.
pub async fn stage_history(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
) -> AppResult<Vec<stage_change::Model>> {
    Ok(TenantScope(auth.tenant)
        .find::<stage_change::Entity>()
        .filter(stage_change::Column::OpportunityId.eq(id))
        .order_by_asc(stage_change::Column::ChangedAt)
        .order_by_asc(stage_change::Column::Id)
        .all(&state.db)
        .await?)
}

#[derive(Serialize, Deserialize)]
pub(super) struct HistoryCursor {
    pub(super) at: DateTime<Utc>,
    pub(super) id: Uuid,
}

/// Its field changes, newest first, keyset-paged.
pub async fn history(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Page<opportunity_change::Model, i64>> {
    let first = page_size(first)?;
    let scope = TenantScope(auth.tenant);
    let list = ListKey::of(&("history", id));
    let base = scope
        .find::<opportunity_change::Entity>()
        .filter(opportunity_change::Column::OpportunityId.eq(id));
    let total = crate::pagination::saturating_i64(base.clone().count(&state.db).await?);
    let mut q = base;
    if let Some(a) = after {
        let c: HistoryCursor = decode_cursor(&list, &a)?;
        q = q.filter(
            Condition::any()
                .add(opportunity_change::Column::ChangedAt.lt(c.at))
                .add(
                    Condition::all()
                        .add(opportunity_change::Column::ChangedAt.eq(c.at))
                        .add(opportunity_change::Column::Id.lt(c.id)),
                ),
        );
    }
    let rows = q
        .order_by_desc(opportunity_change::Column::ChangedAt)
        .order_by_desc(opportunity_change::Column::Id)
        .limit(first + 1)
        .all(&state.db)
        .await?;
    let (rows, more) = split_page(rows, first);
    let rows: Vec<_> = rows
        .into_iter()
        .map(|m| {
            (
                encode_cursor(
                    &list,
                    &HistoryCursor {
                        at: m.changed_at,
                        id: m.id,
                    },
                ),
                m,
            )
        })
        .collect();
    Ok(Page::new(rows, more, total))
}

/// Turns a client filter into SQL, checking that every ID it names exists
/// in the tenant (a foreign ID is NOT_FOUND, as everywhere).
pub async fn list_query(
    db: &sea_orm::DatabaseConnection,
    auth: AuthContext,
    settings: &TenantSettings,
    filter: &OpportunityFilter,
    order: Option<OpportunityOrder>,
) -> AppResult<ListQuery> {
    let scope = TenantScope(auth.tenant);
    let mut cond = Condition::all();
    if let Some(p) = &filter.pipeline_id {
        let p = find_pipeline(db, scope, PipelineId::parse(p)?.0).await?;
        cond = cond.add(opportunity::Column::PipelineId.eq(p.id));
    }
    if let Some(ids) = &filter.stage_ids {
        let mut stages = HashSet::new();
        for s in ids {
            stages.insert(find_stage(db, scope, StageId::parse(s)?.0).await?.id);
        }
        cond = cond.add(opportunity::Column::StageId.is_in(stages));
    }
    if let Some(st) = status_condition(status_mask(filter.statuses.as_deref()), settings.today()) {
        cond = cond.add(st);
    }
    if let Some(o) = &filter.owner_id {
        let u = scope
            .find_id::<user::Entity>(UserId::parse(o)?.0)
            .one(db)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        cond = cond.add(opportunity::Column::OwnerId.eq(u.id));
    }
    if let Some(s) = &filter.source_id {
        let s = find_source(db, scope, SourceId::parse(s)?.0).await?;
        cond = cond.add(opportunity::Column::SourceId.eq(s.id));
    }
    if let Some(c) = &filter.contact_id {
        let c = contacts::find(db, scope, ContactId::parse(c)?.0).await?;
        cond = cond.add(contact_condition(c.id));
    }
    if let Some(d) = filter.due_after {
        cond = cond.add(opportunity::Column::DueDate.gte(d));
    }
    if let Some(d) = filter.due_before {
        cond = cond.add(opportunity::Column::DueDate.lte(d));
    }
    if let Some(s) = crate::domain::search_text("search", filter.search.as_deref())? {
        cond = cond.add(search_condition(s));
    }
    cond = tag_and_field_conditions(db, scope, filter, cond).await?;
    let (field, direction) = match &order {
        Some(o) => (o.field, o.direction.unwrap_or(SortDirection::Asc)),
        None => (OpportunitySortField::CreatedAt, SortDirection::Desc),
    };
    let custom = custom_sort(db, scope, order.as_ref()).await?;
    Ok(ListQuery {
        scope,
        condition: cond,
        field,
        direction,
        custom,
        list: ListKey::of(&("opportunities", filter, field, direction, custom)),
    })
}

/// The custom field an order sorts by: CUSTOM_FIELD needs the key of an
/// opportunity field (NOT_FOUND for an unknown key); other orders take none.
pub async fn custom_sort<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    order: Option<&OpportunityOrder>,
) -> AppResult<Option<crate::modules::opportunity::query::CustomSort>> {
    use crate::modules::custom_field::{FieldEntity, sort};
    let Some(o) = order else { return Ok(None) };
    match (o.field, o.custom_field_key.as_deref()) {
        (OpportunitySortField::CustomField, Some(key)) => Ok(Some(
            sort::CustomSort::resolve(conn, scope, FieldEntity::Opportunity, key).await?,
        )),
        (OpportunitySortField::CustomField, None) => Err(sort::mismatch(true)),
        (_, Some(_)) => Err(sort::mismatch(false)),
        (_, None) => Ok(None),
    }
}

/// The tag and custom-field parts of a filter.
async fn tag_and_field_conditions(
    db: &sea_orm::DatabaseConnection,
    scope: TenantScope,
    filter: &OpportunityFilter,
    mut cond: Condition,
) -> AppResult<Condition> {
    use crate::modules::custom_field::{FieldEntity, value};
    use crate::modules::tag;
    let any = tag::resolve(db, scope, filter.tags_any.as_deref().unwrap_or_default()).await?;
    let all = tag::resolve(db, scope, filter.tags_all.as_deref().unwrap_or_default()).await?;
    let id = || sea_orm::sea_query::Expr::col((opportunity::Entity, opportunity::Column::Id));
    if !any.is_empty() || !all.is_empty() {
        cond = cond.add(tag::condition(
            "opportunity_tags",
            "opportunity_id",
            id(),
            &any,
            &all,
        ));
    }
    let fields = filter.custom_fields.as_deref().unwrap_or_default();
    if fields.len() > value::MAX_FILTERS {
        return Err(AppError::bad_input(
            "customFields",
            format!("at most {} custom-field filters", value::MAX_FILTERS),
        ));
    }
    for f in fields {
        let c = value::condition(db, scope, FieldEntity::Opportunity, id(), f).await?;
        cond = cond.add(c);
    }
    Ok(cond)
}
