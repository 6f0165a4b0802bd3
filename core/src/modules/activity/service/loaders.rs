//! Batched reads: the first page of many timelines, each opportunity's next activity.
use super::*;

/// The first page of many opportunities' timelines in one statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimelineKey {
    pub opportunity: Uuid,
    pub mask: u8,
    pub first: u64,
}

pub(super) async fn ranked(
    loader: &Reader,
    opps: Vec<Uuid>,
    extra: Condition,
    order: &str,
    limit: u64,
) -> AppResult<Vec<activity::Model>> {
    let inner = loader
        .scope
        .find::<activity::Entity>()
        .filter(activity::Column::OpportunityId.is_in(opps))
        .filter(extra)
        .column_as(
            Expr::cust(format!(
                "ROW_NUMBER() OVER (PARTITION BY activities.opportunity_id ORDER BY {order})"
            )),
            "rn",
        )
        .into_query();
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("t"))
        .and_where(Expr::col(Alias::new("rn")).lte(saturating_i64(limit)))
        .order_by(Alias::new("rn"), Order::Asc)
        .take();
    let rows = loader.state.db.query_all(&outer).await?;
    rows.iter()
        .map(|r| activity::Model::from_query_result(r, "").map_err(AppError::from))
        .collect()
}

impl Reader {
    /// The batch behind the GraphQL layer's `TimelineKey` loader.
    pub async fn load_timeline(
        &self,
        keys: &[TimelineKey],
    ) -> AppResult<HashMap<TimelineKey, Vec<activity::Model>>> {
        let mut out: HashMap<TimelineKey, Vec<activity::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        let mut groups: Vec<(u8, u64)> = keys.iter().map(|k| (k.mask, k.first)).collect();
        groups.sort_unstable();
        groups.dedup();
        for (mask, first) in groups {
            let opps: Vec<Uuid> = keys
                .iter()
                .filter(|k| k.mask == mask && k.first == first)
                .map(|k| k.opportunity)
                .collect();
            let mut extra = Condition::all();
            if mask != 15 {
                extra = extra.add(activity::Column::Kind.is_in(kinds_in_mask(mask)));
            }
            let order = format!("{DONE_SQL}, {KEY_SQL}, activities.id");
            for a in ranked(self, opps, extra, &order, first + 1).await? {
                if let Some(opp) = a.opportunity_id
                    && let Some(list) = out.get_mut(&TimelineKey {
                        opportunity: opp,
                        mask,
                        first,
                    })
                {
                    list.push(a);
                }
            }
        }
        Ok(out)
    }
}

/// The earliest open TASK or upcoming EVENT of an opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NextActivityKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `NextActivityKey` loader.
    pub async fn load_next_activity(
        &self,
        keys: &[NextActivityKey],
    ) -> AppResult<HashMap<NextActivityKey, activity::Model>> {
        let ts = now();
        let pending = Condition::all().add(activity::Column::Done.eq(false)).add(
            Condition::any().add(activity::Column::Kind.eq("TASK")).add(
                Condition::all()
                    .add(activity::Column::Kind.eq("EVENT"))
                    .add(activity::Column::StartsAt.gte(ts)),
            ),
        );
        let rows = ranked(
            self,
            keys.iter().map(|k| k.0).collect(),
            pending,
            "activities.at_ms, activities.id",
            1,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|a| a.opportunity_id.map(|o| (NextActivityKey(o), a)))
            .collect())
    }
}
