//! Batched reads behind the GraphQL loaders: totals, board columns, team, contacts.
use super::*;

/// Totals of one stage's opportunities with the given statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StageTotalsKey(pub Uuid, pub u8);

impl Reader {
    /// The batch behind the GraphQL layer's `StageTotalsKey` loader.
    pub async fn load_stage_totals(
        &self,
        keys: &[StageTotalsKey],
    ) -> AppResult<HashMap<StageTotalsKey, Totals>> {
        let today = self.settings.today();
        let mut out = HashMap::new();
        let mut masks: Vec<u8> = keys.iter().map(|k| k.1).collect();
        masks.sort_unstable();
        masks.dedup();
        for mask in masks {
            let stages: Vec<Uuid> = keys.iter().filter(|k| k.1 == mask).map(|k| k.0).collect();
            let found = grouped_totals(
                self,
                opportunity::Column::StageId,
                &stages,
                status_condition(mask, today),
            )
            .await?;
            for s in stages {
                out.insert(
                    StageTotalsKey(s, mask),
                    found.get(&s).copied().unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }
}

/// Totals of a pipeline's open (OPEN + LATE) opportunities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PipelineTotalsKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `PipelineTotalsKey` loader.
    pub async fn load_pipeline_totals(
        &self,
        keys: &[PipelineTotalsKey],
    ) -> AppResult<HashMap<PipelineTotalsKey, Totals>> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let open = Condition::all().add(opportunity::Column::Status.eq(opportunity::Status::Open));
        let found = grouped_totals(self, opportunity::Column::PipelineId, &ids, Some(open)).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                (
                    PipelineTotalsKey(id),
                    found.get(&id).copied().unwrap_or_default(),
                )
            })
            .collect())
    }
}

/// The first page of a board column (newest first), for many stages in one
/// statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StageColumnKey {
    pub stage: Uuid,
    pub mask: u8,
    pub first: u64,
}

impl Reader {
    /// The batch behind the GraphQL layer's `StageColumnKey` loader.
    pub async fn load_stage_column(
        &self,
        keys: &[StageColumnKey],
    ) -> AppResult<HashMap<StageColumnKey, Vec<(serde_json::Value, opportunity::Model)>>> {
        let today = self.settings.today();
        let db = &self.state.db;
        let mut out: HashMap<StageColumnKey, Vec<(serde_json::Value, opportunity::Model)>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        let mut groups: Vec<(u8, u64)> = keys.iter().map(|k| (k.mask, k.first)).collect();
        groups.sort_unstable();
        groups.dedup();
        for (mask, first) in groups {
            let stages: Vec<Uuid> = keys
                .iter()
                .filter(|k| k.mask == mask && k.first == first)
                .map(|k| k.stage)
                .collect();
            let mut inner = self
                .scope
                .find::<opportunity::Entity>()
                .filter(opportunity::Column::StageId.is_in(stages));
            if let Some(c) = status_condition(mask, today) {
                inner = inner.filter(c);
            }
            let inner = inner
                .column_as(
                    Expr::cust("ROW_NUMBER() OVER (PARTITION BY opportunities.stage_id ORDER BY opportunities.created_at DESC, opportunities.id DESC)"),
                    "rn",
                )
                .into_query();
            let outer = Query::select()
                .column(Asterisk)
                .from_subquery(inner, Alias::new("t"))
                .and_where(Expr::col(Alias::new("rn")).lte(saturating_i64(first + 1)))
                .order_by(Alias::new("rn"), Order::Asc)
                .take();
            let rows = db.query_all(&outer).await.map_err(AppError::from)?;
            for r in rows {
                let m = opportunity::Model::from_query_result(&r, "").map_err(AppError::from)?;
                let v = serde_json::Value::from(
                    m.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                );
                if let Some(list) = out.get_mut(&StageColumnKey {
                    stage: m.stage_id,
                    mask,
                    first,
                }) {
                    list.push((v, m));
                }
            }
        }
        Ok(out)
    }
}

/// The cursor of a board card, as later pages continue from it.
pub fn column_cursor(list: &ListKey, v: serde_json::Value, id: Uuid) -> String {
    encode_cursor(
        list,
        &Cursor {
            f: field_name(OpportunitySortField::CreatedAt).into(),
            d: dir_name(SortDirection::Desc).into(),
            v,
            id,
        },
    )
}

/// The team of an opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TeamKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `TeamKey` loader.
    pub async fn load_team(
        &self,
        keys: &[TeamKey],
    ) -> AppResult<HashMap<TeamKey, Vec<user::Model>>> {
        let rows = self
            .scope
            .find::<opportunity_team::Entity>()
            .filter(opportunity_team::Column::OpportunityId.is_in(keys.iter().map(|k| k.0)))
            .find_also_related(user::Entity)
            .order_by_asc(user::Column::Name)
            .all(&self.state.db)
            .await
            .map_err(AppError::from)?;
        let mut out: HashMap<TeamKey, Vec<user::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (link, u) in rows {
            if let Some(u) = u {
                out.entry(TeamKey(link.opportunity_id)).or_default().push(u);
            }
        }
        Ok(out)
    }
}

/// The contact links of an opportunity, primary first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpportunityContactsKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `OpportunityContactsKey` loader.
    pub async fn load_opportunity_contacts(
        &self,
        keys: &[OpportunityContactsKey],
    ) -> AppResult<HashMap<OpportunityContactsKey, Vec<opportunity_contact::Model>>> {
        let rows = self
            .scope
            .find::<opportunity_contact::Entity>()
            .filter(opportunity_contact::Column::OpportunityId.is_in(keys.iter().map(|k| k.0)))
            .order_by_desc(opportunity_contact::Column::IsPrimary)
            .order_by_asc(opportunity_contact::Column::CreatedAt)
            .all(&self.state.db)
            .await
            .map_err(AppError::from)?;
        let mut out: HashMap<OpportunityContactsKey, Vec<opportunity_contact::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for l in rows {
            out.entry(OpportunityContactsKey(l.opportunity_id))
                .or_default()
                .push(l);
        }
        Ok(out)
    }
}

/// The primary contact of an opportunity, in one statement for many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrimaryContactKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `PrimaryContactKey` loader.
    pub async fn load_primary_contact(
        &self,
        keys: &[PrimaryContactKey],
    ) -> AppResult<HashMap<PrimaryContactKey, contact::Model>> {
        let rows = self
            .scope
            .find::<opportunity_contact::Entity>()
            .filter(opportunity_contact::Column::OpportunityId.is_in(keys.iter().map(|k| k.0)))
            .filter(opportunity_contact::Column::IsPrimary.eq(true))
            .find_also_related(contact::Entity)
            .all(&self.state.db)
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .into_iter()
            .filter_map(|(l, c)| c.map(|c| (PrimaryContactKey(l.opportunity_id), c)))
            .collect())
    }
}
