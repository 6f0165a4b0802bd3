//! Writing generated rows in batches that fit SQLite's bind limit.
use super::*;

/// Writes one tenant in one transaction, parents before children.
pub(super) async fn write(db: &DatabaseConnection, data: TenantData) -> Result<(), DbErr> {
    let scope = TenantScope(TenantId(data.tenant.id));
    let txn = db.begin().await?;
    tenant::Entity::insert(data.tenant.into_active_model())
        .exec_without_returning(&txn)
        .await?;
    insert_all::<user::Entity, _>(&txn, scope, data.users).await?;
    insert_all::<pipeline::Entity, _>(&txn, scope, data.pipelines).await?;
    insert_all::<stage::Entity, _>(&txn, scope, data.stages).await?;
    insert_all::<source::Entity, _>(&txn, scope, data.sources).await?;
    insert_all::<exchange_rate::Entity, _>(&txn, scope, data.exchange_rates).await?;
    insert_all::<contact::Entity, _>(&txn, scope, data.contacts).await?;
    insert_all::<opportunity::Entity, _>(&txn, scope, data.opportunities).await?;
    insert_all::<opportunity_contact::Entity, _>(&txn, scope, data.opportunity_contacts).await?;
    insert_all::<opportunity_team::Entity, _>(&txn, scope, data.team).await?;
    insert_all::<stage_change::Entity, _>(&txn, scope, data.stage_changes).await?;
    insert_all::<activity::Entity, _>(&txn, scope, data.activities).await?;
    txn.commit().await
}

/// Multi-row INSERTs, each as large as the bind-parameter cap allows.
pub(super) async fn insert_all<E, C>(
    conn: &C,
    scope: TenantScope,
    rows: Vec<E::Model>,
) -> Result<(), DbErr>
where
    E: TenantOwned,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let per_statement = MAX_BINDS / E::Column::iter().count().max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<E::ActiveModel> = rows
            .by_ref()
            .take(per_statement)
            .map(|m| scope.stamp(m.into_active_model()))
            .collect();
        E::insert_many(batch).exec_without_returning(conn).await?;
    }
    Ok(())
}
