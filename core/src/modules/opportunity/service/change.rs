//! `update` and the conditional, version-bumping UPDATE every change goes through.
use super::*;
use crate::domain::SourceId;

/// An UPDATE of opportunities that bumps their version and `updatedAt`:
/// every change to an opportunity is one of these, so clients holding a
/// version always see it move.
pub(super) fn bumped(
    scope: TenantScope,
    ts: DateTime<Utc>,
) -> sea_orm::UpdateMany<opportunity::Entity> {
    scope
        .update_many::<opportunity::Entity>()
        .col_expr(
            opportunity::Column::Version,
            Expr::col(opportunity::Column::Version).add(1),
        )
        .col_expr(opportunity::Column::UpdatedAt, Expr::value(ts))
}

/// What a command changes, worked out against the row as read.
#[derive(Default)]
pub(super) struct Change {
    pub(super) sets: Vec<(opportunity::Column, SimpleExpr)>,
    pub(super) history: Vec<(String, Option<String>, Option<String>)>,
    pub(super) stage: Option<(Uuid, Uuid)>,
    pub(super) team: Option<Vec<Uuid>>,
    pub(super) won: bool,
    /// Replaces the tags (when the set differs).
    pub(super) tags: Option<Vec<Uuid>>,
    /// Adds the first and removes the second (bulk edits).
    pub(super) tag_edit: Option<(Vec<Uuid>, Vec<Uuid>)>,
    /// Custom-field values to set (those that differ).
    pub(super) custom: Vec<crate::modules::custom_field::value::Checked>,
}

impl Change {
    pub(super) fn field<T>(
        &mut self,
        name: &'static str,
        col: opportunity::Column,
        from: Option<T>,
        to: Option<T>,
    ) where
        T: PartialEq + ToString,
        Option<T>: Into<sea_orm::Value>,
    {
        if from != to {
            self.history.push((
                name.to_string(),
                from.as_ref().map(ToString::to_string),
                to.as_ref().map(ToString::to_string),
            ));
            self.sets.push((col, Expr::value(to)));
        }
    }
    /// Takes on what `other` changes too.
    pub(super) fn merge(&mut self, other: Change) {
        self.sets.extend(other.sets);
        self.history.extend(other.history);
        self.stage = self.stage.or(other.stage);
        self.won |= other.won;
    }
    pub(super) fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.team.is_none() && self.stage.is_none()
    }
}

/// Applies a change with optimistic locking. With `expected` the caller's
/// version must still be current (else CONFLICT, nothing changed); without
/// it a concurrent writer just makes us re-read and re-apply, so that the
/// history always records what was really replaced.
pub(super) async fn apply<S: Store, F>(
    state: &S,
    auth: AuthContext,
    id: Uuid,
    expected: Option<i32>,
    kind: Kind,
    build: F,
) -> AppResult<opportunity::Model>
where
    F: Fn(&opportunity::Model) -> AppResult<Change>,
{
    Ok(apply_run(state, auth, id, expected, kind, false, build)
        .await?
        .0)
}

/// `apply`, answering the fields that changed too; a dry run does all of
/// it, checks included, in a transaction it then rolls back.
pub(super) async fn apply_run<S: Store, F>(
    state: &S,
    auth: AuthContext,
    id: Uuid,
    expected: Option<i32>,
    kind: Kind,
    dry_run: bool,
    build: F,
) -> AppResult<(opportunity::Model, Vec<String>)>
where
    F: Fn(&opportunity::Model) -> AppResult<Change>,
{
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(state.conn()).await?;
    // The row lock (PostgreSQL; SQLite's write transaction is already
    // exclusive) makes concurrent writers take turns, each reading what
    // the one before committed: without `expected` a change always lands,
    // with the history of what it really replaced.
    let current = scope
        .find_id::<opportunity::Entity>(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("opportunity"))?;
    ensure_can_change(&txn, auth, &current).await?;
    if expected.is_some_and(|v| v != current.version) {
        return Err(conflict(&current));
    }
    let mut change = build(&current)?;
    // tags and custom fields live in their own tables: what differs is
    // known once they are read under the row lock, and written first
    let edit = change.tag_edit.take();
    if change.tags.is_some() || edit.is_some() {
        let had = crate::modules::tag::of_opportunity(&txn, scope, id).await?;
        let wanted = match (change.tags.take(), edit) {
            (Some(t), _) => t,
            (None, Some((add, remove))) => {
                let mut w: Vec<Uuid> = had
                    .iter()
                    .filter(|t| !remove.contains(t))
                    .copied()
                    .collect();
                for t in add {
                    if !w.contains(&t) {
                        w.push(t);
                    }
                }
                w
            }
            (None, None) => had.clone(),
        };
        if let Some((from, to)) = crate::modules::tag::diff(&txn, scope, &had, &wanted).await? {
            crate::modules::tag::set_opportunity_in(&txn, scope, id, &wanted).await?;
            change.history.push(("tags".into(), Some(from), Some(to)));
        }
    }
    if !change.custom.is_empty() {
        let owner = crate::modules::custom_field::value::Owner::Opportunity(id);
        let written =
            crate::modules::custom_field::value::set_in(&txn, scope, owner, &change.custom).await?;
        change.history.extend(written);
    }
    if change.is_empty() && change.history.is_empty() {
        return Ok((current, Vec::new()));
    }
    let changed_fields: Vec<String> = change.history.iter().map(|h| h.0.clone()).collect();
    let ts = now();
    let mut update = bumped(scope, ts)
        .filter(opportunity::Column::Id.eq(id))
        .filter(opportunity::Column::Version.eq(current.version));
    for (col, value) in change.sets {
        update = update.col_expr(col, value);
    }
    if change.stage.is_some() {
        update = update.col_expr(opportunity::Column::StageEnteredAt, Expr::value(ts));
    }
    if update.exec(&txn).await?.rows_affected == 0 {
        return Err(conflict(&current));
    }
    let actor = Some(auth.user.0);
    if !change.history.is_empty() {
        let rows: Vec<_> = change
            .history
            .into_iter()
            .map(|(f, from, to)| history_row(scope, id, actor, ts, &f, from, to))
            .collect();
        opportunity_change::Entity::insert_many(rows)
            .exec(&txn)
            .await?;
    }
    if let Some((from, to)) = change.stage {
        stage_row(scope, id, Some(from), to, actor, ts)
            .insert(&txn)
            .await?;
    }
    if let Some(team) = &change.team {
        set_team(&txn, scope, id, team).await?;
    }
    if change.won {
        make_clients(&txn, scope, id).await?;
    }
    let changed = find(&txn, scope, id).await?;
    if dry_run {
        txn.rollback().await?;
        return Ok((changed, changed_fields));
    }
    let event = Event::opportunity(auth.tenant.0, Some(auth.user.0), kind, &changed)
        .moved(current.pipeline_id, changed.pipeline_id);
    crate::events::commit_on(state, txn, vec![event]).await?;
    Ok((changed, changed_fields))
}

/// Edits an opportunity's fields. Each changed field gets a history row in
/// the same transaction, and the write is conditional on the version the
/// client read (`expectedVersion`), so two editors never overwrite each
/// other silently: the second gets CONFLICT.
pub async fn update<S: Store>(
    state: &S,
    auth: AuthContext,
    settings: &TenantSettings,
    id: crate::domain::OpportunityId,
    input: UpdateOpportunityInput,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    Ok(
        update_run(state, auth, settings, id, input, expected, false)
            .await?
            .0,
    )
}

/// `update`, answering the fields that changed too; a dry run rolls back.
pub async fn update_run<S: Store>(
    state: &S,
    auth: AuthContext,
    settings: &TenantSettings,
    id: crate::domain::OpportunityId,
    input: UpdateOpportunityInput,
    expected: Option<i32>,
    dry_run: bool,
) -> AppResult<(opportunity::Model, Vec<String>)> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let db = state.conn();
    let title = input.title.as_deref().map(title).transpose()?;
    let potential = input
        .potential
        .map(|p| parse_amount("potential", p))
        .transpose()?;
    let currency = match &input.currency {
        Some(c) => Some(currency(db, scope, settings, Some(c)).await?),
        None => None,
    };
    let owner = match &input.owner_id {
        Some(o) => Some(active_user(db, scope, o, "ownerId").await?.id),
        None => None,
    };
    let team = match &input.team_ids {
        Some(ids) => Some(team_ids(db, scope, ids).await?),
        None => None,
    };
    let source = match input.source_id.value() {
        Some(s) => Some(Some(
            find_source(db, scope, SourceId::parse(s)?.0).await?.id,
        )),
        None if input.source_id.is_null() => Some(None),
        None => None,
    };
    let override_p =
        if input.clear_probability_override == Some(true) || input.probability_override.is_null() {
            Some(None)
        } else {
            input
                .probability_override
                .value()
                .map(|p| probability("probabilityOverride", *p).map(Some))
                .transpose()?
        };
    let due = match input.due_date.value() {
        Some(d) => Some(Some(*d)),
        None if input.due_date.is_null() => Some(None),
        None => None,
    };
    let tags = match &input.tag_ids {
        Some(ids) => Some(crate::modules::tag::resolve(db, scope, ids).await?),
        None => None,
    };
    let custom = crate::modules::custom_field::value::check(
        db,
        scope,
        crate::modules::custom_field::FieldEntity::Opportunity,
        input.custom_fields.as_deref().unwrap_or_default(),
    )
    .await?;
    apply_run(state, auth, id, expected, Kind::Updated, dry_run, |cur| {
        let mut c = Change {
            tags: tags.clone(),
            custom: custom.clone(),
            ..Change::default()
        };
        if let Some(t) = &title {
            c.field(
                "title",
                opportunity::Column::Title,
                Some(cur.title.clone()),
                Some(t.clone()),
            );
        }
        if let Some(p) = potential.filter(|p| *p != cur.potential_cents) {
            c.history.push((
                "potential".into(),
                Some(format!("{:.2}", cents(cur.potential_cents))),
                Some(format!("{:.2}", cents(p))),
            ));
            c.sets
                .push((opportunity::Column::PotentialCents, Expr::value(p)));
        }
        if let Some(cc) = &currency {
            c.field(
                "currency",
                opportunity::Column::Currency,
                Some(cur.currency.clone()),
                Some(cc.as_str().to_string()),
            );
        }
        if let Some(d) = due {
            c.field("dueDate", opportunity::Column::DueDate, cur.due_date, d);
        }
        if let Some(o) = owner {
            c.field(
                "owner",
                opportunity::Column::OwnerId,
                Some(cur.owner_id),
                Some(o),
            );
        }
        if let Some(s) = source {
            c.field("source", opportunity::Column::SourceId, cur.source_id, s);
        }
        if let Some(p) = override_p {
            c.field(
                "probabilityOverride",
                opportunity::Column::ProbabilityOverride,
                cur.probability_override,
                p,
            );
        }
        if let Some(t) = &team {
            c.history.push((
                "team".into(),
                None,
                Some(t.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",")),
            ));
            c.team = Some(t.clone());
        }
        Ok(c)
    })
    .await
}

/// Sets the potential from inside another command's transaction (a
/// document used as potential): same version check, bump and history as
/// `update`, but a concurrent change is a CONFLICT that rolls back the
/// whole command. Answers whether anything changed.
pub async fn set_potential_in<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    id: Uuid,
    cents_value: i64,
    currency: &CurrencyCode,
) -> AppResult<bool> {
    let scope = TenantScope(auth.tenant);
    let cur = find(conn, scope, id).await?;
    ensure_can_change(conn, auth, &cur).await?;
    if cur.potential_cents == cents_value && cur.currency == currency.as_str() {
        return Ok(false);
    }
    let ts = now();
    let res = scope
        .update_many::<opportunity::Entity>()
        .col_expr(
            opportunity::Column::PotentialCents,
            Expr::value(cents_value),
        )
        .col_expr(
            opportunity::Column::Currency,
            Expr::value(currency.as_str()),
        )
        .col_expr(
            opportunity::Column::Version,
            Expr::col(opportunity::Column::Version).add(1),
        )
        .col_expr(opportunity::Column::UpdatedAt, Expr::value(ts))
        .filter(opportunity::Column::Id.eq(id))
        .filter(opportunity::Column::Version.eq(cur.version))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(conflict(&cur));
    }
    let actor = Some(auth.user.0);
    let mut rows = Vec::new();
    if cur.potential_cents != cents_value {
        rows.push(history_row(
            scope,
            id,
            actor,
            ts,
            "potential",
            Some(format!("{:.2}", cents(cur.potential_cents))),
            Some(format!("{:.2}", cents(cents_value))),
        ));
    }
    if cur.currency != currency.as_str() {
        rows.push(history_row(
            scope,
            id,
            actor,
            ts,
            "currency",
            Some(cur.currency.clone()),
            Some(currency.as_str().to_string()),
        ));
    }
    opportunity_change::Entity::insert_many(rows)
        .exec(conn)
        .await?;
    Ok(true)
}
