//! Opportunity commands. Every change is a conditional UPDATE on the row's
//! version (never read-then-write), and its history rows are written in
//! the same transaction.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{
    contact, opportunity, opportunity_change, opportunity_contact, opportunity_team, stage_change,
    tenant, user,
};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    CreateOpportunityInput, OpportunityContactInput, OpportunityFilter, OpportunityOrder,
    OpportunitySortField, SortDirection, UpdateOpportunityInput, status_mask,
};
use super::query::{ListQuery, contact_condition, search_condition, status_condition};
use crate::auth::{AuthContext, TenantSettings};
use crate::domain::parse_id;
use crate::domain::{CurrencyCode, Role};
use crate::error::{AppError, AppResult};
use crate::events::{Event, OpportunityEventKind as Kind};
use crate::modules::contact::model::ContactLifecycle;
use crate::modules::contact::service as contacts;
use crate::modules::pipeline::service::{find_pipeline, find_source, find_stage, has_rate};
use crate::money::parse_amount;
use crate::pagination::{Page, decode_cursor, encode_cursor, page_size, split_page};
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<opportunity::Model> {
    scope
        .find_id::<opportunity::Entity>(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("opportunity"))
}

/// ADMIN and MANAGER change anything; SALES only what it owns or is on the
/// team of.
pub async fn ensure_can_change<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    o: &opportunity::Model,
) -> AppResult<()> {
    if auth.role != Role::Sales || o.owner_id == auth.user.0 {
        return Ok(());
    }
    let on_team = TenantScope(auth.tenant)
        .find::<opportunity_team::Entity>()
        .filter(opportunity_team::Column::OpportunityId.eq(o.id))
        .filter(opportunity_team::Column::UserId.eq(auth.user.0))
        .count(conn)
        .await?;
    if on_team > 0 {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// Records a sign of life (an activity) on an opportunity, in the
/// caller's transaction, and answers it changed (see isRotting). Not a
/// change of the opportunity's own fields: no version bump, no history.
pub async fn touch_activity_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Option<opportunity::Model>> {
    let changed = scope
        .update_many::<opportunity::Entity>()
        .col_expr(opportunity::Column::LastActivityAt, Expr::value(Some(at)))
        .filter(opportunity::Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    Ok(changed.into_iter().next())
}

/// An active user of the tenant (NOT_FOUND otherwise, like any foreign ID).
async fn active_user<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: &str,
    field: &'static str,
) -> AppResult<user::Model> {
    let u = scope
        .find_id::<user::Entity>(parse_id(id, "user")?)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if !u.active {
        return Err(AppError::bad_input(
            field,
            format!("{field} names an inactive user"),
        ));
    }
    Ok(u)
}

pub fn title(raw: &str) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(AppError::bad_input(
            "title",
            "title must be 1 to 200 characters",
        ));
    }
    Ok(t.to_string())
}

fn probability(field: &'static str, p: i32) -> AppResult<i32> {
    if (0..=100).contains(&p) {
        Ok(p)
    } else {
        Err(AppError::bad_input(
            field,
            format!("{field} must be between 0 and 100"),
        ))
    }
}

async fn currency<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    settings: &TenantSettings,
    raw: Option<&str>,
) -> AppResult<CurrencyCode> {
    let c = match raw {
        Some(c) => CurrencyCode::parse("currency", c)?,
        None => settings.currency.clone(),
    };
    if !has_rate(conn, scope, settings, &c).await? {
        return Err(AppError::bad_input(
            "currency",
            format!("no exchange rate for {}: set one first", c.as_str()),
        ));
    }
    Ok(c)
}

async fn team_ids<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    ids: &[String],
) -> AppResult<Vec<Uuid>> {
    let mut out = Vec::new();
    for id in ids {
        let u = active_user(conn, scope, id, "teamIds").await?;
        if !out.contains(&u.id) {
            out.push(u.id);
        }
    }
    Ok(out)
}

pub struct ContactLink {
    pub contact: Uuid,
    pub role: Option<String>,
    pub primary: bool,
}

async fn contact_links<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    input: &[OpportunityContactInput],
) -> AppResult<Vec<ContactLink>> {
    let mut links: Vec<ContactLink> = Vec::new();
    for c in input {
        let found = contacts::find(conn, scope, parse_id(&c.contact_id, "contact")?).await?;
        if links.iter().any(|l| l.contact == found.id) {
            return Err(AppError::bad_input("contacts", "a contact is listed twice"));
        }
        links.push(ContactLink {
            contact: found.id,
            role: role(c.role.as_deref())?,
            primary: c.is_primary.unwrap_or(false),
        });
    }
    match links.iter().filter(|l| l.primary).count() {
        0 => {
            if let Some(first) = links.first_mut() {
                first.primary = true;
            }
        }
        1 => {}
        _ => {
            return Err(AppError::bad_input(
                "contacts",
                "only one contact can be primary",
            ));
        }
    }
    Ok(links)
}

fn role(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > 100 => Err(AppError::bad_input(
            "role",
            "role must be at most 100 characters",
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// An UPDATE of opportunities that bumps their version and `updatedAt`:
/// every change to an opportunity is one of these, so clients holding a
/// version always see it move.
fn bumped(scope: TenantScope, ts: DateTime<Utc>) -> sea_orm::UpdateMany<opportunity::Entity> {
    scope
        .update_many::<opportunity::Entity>()
        .col_expr(
            opportunity::Column::Version,
            Expr::col(opportunity::Column::Version).add(1),
        )
        .col_expr(opportunity::Column::UpdatedAt, Expr::value(ts))
}

fn history_row(
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

fn stage_row(
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

/// Moves every opportunity of stage `from` into `to` inside the caller's
/// transaction (a stage deletion), writing exactly the history a
/// `moveOpportunity` writes for each: a stage change, a "stage" field
/// change, a "pipeline" one when the pipeline changes, and a version bump.
/// Answers the events to publish once the caller has committed. Refused
/// when there are opportunities and no (other) stage to take them.
pub async fn move_all_from_stage_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    actor: Option<Uuid>,
    from: &entity::stage::Model,
    to: Option<&entity::stage::Model>,
) -> AppResult<Vec<Event>> {
    let affected = scope
        .find::<opportunity::Entity>()
        .filter(opportunity::Column::StageId.eq(from.id))
        .all(conn)
        .await?;
    if affected.is_empty() {
        return Ok(Vec::new());
    }
    let Some(to) = to else {
        return Err(AppError::bad_input(
            "moveOpportunitiesTo",
            format!(
                "{} opportunities are in this stage: name a stage to move them to",
                affected.len()
            ),
        ));
    };
    if to.id == from.id {
        return Err(AppError::bad_input(
            "moveOpportunitiesTo",
            "cannot move opportunities into the stage being deleted",
        ));
    }
    let ts = now();
    bumped(scope, ts)
        .col_expr(opportunity::Column::StageId, Expr::value(to.id))
        .col_expr(opportunity::Column::PipelineId, Expr::value(to.pipeline_id))
        .col_expr(opportunity::Column::StageEnteredAt, Expr::value(ts))
        .filter(opportunity::Column::StageId.eq(from.id))
        .exec(conn)
        .await?;
    let mut stage_rows = Vec::with_capacity(affected.len());
    let mut field_rows = Vec::with_capacity(affected.len());
    for o in &affected {
        stage_rows.push(stage_row(scope, o.id, Some(from.id), to.id, actor, ts));
        field_rows.push(history_row(
            scope,
            o.id,
            actor,
            ts,
            "stage",
            Some(from.id.to_string()),
            Some(to.id.to_string()),
        ));
        if o.pipeline_id != to.pipeline_id {
            field_rows.push(history_row(
                scope,
                o.id,
                actor,
                ts,
                "pipeline",
                Some(o.pipeline_id.to_string()),
                Some(to.pipeline_id.to_string()),
            ));
        }
    }
    for chunk in stage_rows.chunks(500) {
        stage_change::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    for chunk in field_rows.chunks(500) {
        opportunity_change::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    Ok(affected
        .iter()
        .map(|o| {
            Event::opportunity(scope.0.0, actor, Kind::StageChanged, o)
                .moved(o.pipeline_id, to.pipeline_id)
        })
        .collect())
}

async fn link_contacts<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    opp: Uuid,
    links: &[ContactLink],
    at: DateTime<Utc>,
) -> AppResult<()> {
    if links.is_empty() {
        return Ok(());
    }
    let rows: Vec<opportunity_contact::ActiveModel> = links
        .iter()
        .map(|l| {
            scope.stamp(opportunity_contact::ActiveModel {
                id: Set(Uuid::new_v4()),
                opportunity_id: Set(opp),
                contact_id: Set(l.contact),
                role: Set(l.role.clone()),
                is_primary: Set(l.primary),
                created_at: Set(at),
                ..Default::default()
            })
        })
        .collect();
    opportunity_contact::Entity::insert_many(rows)
        .exec(conn)
        .await?;
    Ok(())
}

async fn set_team<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    opp: Uuid,
    team: &[Uuid],
) -> AppResult<()> {
    scope
        .delete_many::<opportunity_team::Entity>()
        .filter(opportunity_team::Column::OpportunityId.eq(opp))
        .exec(conn)
        .await?;
    if team.is_empty() {
        return Ok(());
    }
    let rows: Vec<opportunity_team::ActiveModel> = team
        .iter()
        .map(|u| {
            scope.stamp(opportunity_team::ActiveModel {
                id: Set(Uuid::new_v4()),
                opportunity_id: Set(opp),
                user_id: Set(*u),
                ..Default::default()
            })
        })
        .collect();
    opportunity_team::Entity::insert_many(rows)
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn create(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    input: CreateOpportunityInput,
) -> AppResult<opportunity::Model> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let title = title(&input.title)?;
    let stage = find_stage(db, scope, parse_id(&input.stage_id, "stage")?).await?;
    let potential = parse_amount("potential", input.potential)?;
    let currency = currency(db, scope, settings, input.currency.as_deref()).await?;
    // a named owner must exist in the tenant even when SALES, who always
    // own what they create, name one
    let named_owner = match &input.owner_id {
        Some(id) => Some(active_user(db, scope, id, "ownerId").await?.id),
        None => None,
    };
    let owner = match (named_owner, auth.role) {
        (Some(o), Role::Admin | Role::Manager) => o,
        _ => auth.user.0,
    };
    let team = team_ids(db, scope, input.team_ids.as_deref().unwrap_or_default()).await?;
    let source = match &input.source_id {
        Some(id) => Some(find_source(db, scope, parse_id(id, "source")?).await?.id),
        None => None,
    };
    let links = contact_links(db, scope, input.contacts.as_deref().unwrap_or_default()).await?;
    let override_p = input
        .probability_override
        .map(|p| probability("probabilityOverride", p))
        .transpose()?;

    let txn = crate::db::begin_write(db).await?;
    let created = create_in(
        &txn,
        scope,
        Some(auth.user.0),
        NewOpportunity {
            title,
            stage,
            potential_cents: potential,
            currency,
            probability_override: override_p,
            due_date: input.due_date,
            owner,
            source,
            team,
            contacts: links,
        },
    )
    .await?;
    txn.commit().await?;
    publish(state, auth, Kind::Created, &created).await;
    Ok(created)
}

/// Tells subscribers about a committed change.
pub async fn publish(state: &AppState, auth: AuthContext, kind: Kind, o: &opportunity::Model) {
    state
        .events
        .publish(Event::opportunity(
            auth.tenant.0,
            Some(auth.user.0),
            kind,
            o,
        ))
        .await;
}

/// An opportunity whose fields are validated against its tenant.
pub struct NewOpportunity {
    pub title: String,
    pub stage: entity::stage::Model,
    pub potential_cents: i64,
    pub currency: CurrencyCode,
    pub probability_override: Option<i32>,
    pub due_date: Option<chrono::NaiveDate>,
    pub owner: Uuid,
    pub source: Option<Uuid>,
    pub team: Vec<Uuid>,
    pub contacts: Vec<ContactLink>,
}

/// Inserts a validated opportunity, with its reference, first stage
/// history row, team and contacts, in the caller's transaction, so that a
/// command creating more than the opportunity stays all-or-nothing. The
/// tenant row stays locked until that transaction ends.
pub async fn create_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    actor: Option<Uuid>,
    new: NewOpportunity,
) -> AppResult<opportunity::Model> {
    let number = crate::modules::account::service::next_opportunity_number_in(conn, scope).await?;
    let ts = now();
    let id = Uuid::new_v4();
    let created = scope
        .stamp(opportunity::ActiveModel {
            id: Set(id),
            number: Set(number),
            reference: Set(format!("OPP-{number}")),
            title: Set(new.title),
            pipeline_id: Set(new.stage.pipeline_id),
            stage_id: Set(new.stage.id),
            status: Set("OPEN".into()),
            probability_override: Set(new.probability_override),
            potential_cents: Set(new.potential_cents),
            currency: Set(new.currency.as_str().to_string()),
            due_date: Set(new.due_date),
            owner_id: Set(new.owner),
            source_id: Set(new.source),
            lost_reason: Set(None),
            closed_at: Set(None),
            stage_entered_at: Set(ts),
            last_activity_at: Set(None),
            version: Set(1),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    stage_row(scope, id, None, new.stage.id, actor, ts)
        .insert(conn)
        .await?;
    set_team(conn, scope, id, &new.team).await?;
    link_contacts(conn, scope, id, &new.contacts, ts).await?;
    Ok(created)
}

/// What a command changes, worked out against the row as read.
#[derive(Default)]
struct Change {
    sets: Vec<(opportunity::Column, SimpleExpr)>,
    history: Vec<(&'static str, Option<String>, Option<String>)>,
    stage: Option<(Uuid, Uuid)>,
    team: Option<Vec<Uuid>>,
    won: bool,
}

impl Change {
    fn field<T>(
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
                name,
                from.as_ref().map(ToString::to_string),
                to.as_ref().map(ToString::to_string),
            ));
            self.sets.push((col, Expr::value(to)));
        }
    }
    fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.team.is_none() && self.stage.is_none()
    }
}

/// Applies a change with optimistic locking. With `expected` the caller's
/// version must still be current (else CONFLICT, nothing changed); without
/// it a concurrent writer just makes us re-read and re-apply, so that the
/// history always records what was really replaced.
async fn apply<F>(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    expected: Option<i32>,
    kind: Kind,
    build: F,
) -> AppResult<opportunity::Model>
where
    F: Fn(&opportunity::Model) -> AppResult<Change>,
{
    let scope = TenantScope(auth.tenant);
    let txn = crate::db::begin_write(&state.db).await?;
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
    let change = build(&current)?;
    if change.is_empty() {
        return Ok(current);
    }
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
            .map(|(f, from, to)| history_row(scope, id, actor, ts, f, from, to))
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
    txn.commit().await?;
    let event = Event::opportunity(auth.tenant.0, Some(auth.user.0), kind, &changed)
        .moved(current.pipeline_id, changed.pipeline_id);
    state.events.publish(event).await;
    Ok(changed)
}

fn conflict(current: &opportunity::Model) -> AppError {
    AppError::Conflict(format!(
        "the opportunity was changed by someone else: it is now at version {}",
        current.version
    ))
}

/// A won opportunity makes its contacts, and their companies, clients.
async fn make_clients<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    opp: Uuid,
) -> AppResult<()> {
    let linked: Vec<Uuid> = scope
        .find::<opportunity_contact::Entity>()
        .filter(opportunity_contact::Column::OpportunityId.eq(opp))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.contact_id)
        .collect();
    if linked.is_empty() {
        return Ok(());
    }
    let companies: Vec<Uuid> = scope
        .find::<contact::Entity>()
        .filter(contact::Column::Id.is_in(linked.clone()))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|c| c.company_id)
        .collect();
    scope
        .update_many::<contact::Entity>()
        .col_expr(
            contact::Column::Lifecycle,
            Expr::value(ContactLifecycle::Client.as_str()),
        )
        .col_expr(contact::Column::UpdatedAt, Expr::value(now()))
        .filter(contact::Column::Id.is_in(linked.into_iter().chain(companies)))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn update(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    id: Uuid,
    input: UpdateOpportunityInput,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
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
            find_source(db, scope, parse_id(s, "source")?).await?.id,
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
    apply(state, auth, id, expected, Kind::Updated, |cur| {
        let mut c = Change::default();
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
                "potential",
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
                "team",
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

/// The currency an amount may be in: the tenant's or one with a rate.
pub async fn usable_currency<C: ConnectionTrait>(
    conn: &C,
    auth: AuthContext,
    settings: &TenantSettings,
    raw: Option<&str>,
) -> AppResult<CurrencyCode> {
    currency(conn, TenantScope(auth.tenant), settings, raw).await
}

fn cents(c: i64) -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(c, 2)
}

pub async fn move_to(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    stage_id: Uuid,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let target = find_stage(&state.db, TenantScope(auth.tenant), stage_id).await?;
    apply(state, auth, id, expected, Kind::StageChanged, |cur| {
        let mut c = Change::default();
        if cur.stage_id == target.id {
            return Ok(c);
        }
        c.history.push((
            "stage",
            Some(cur.stage_id.to_string()),
            Some(target.id.to_string()),
        ));
        c.sets
            .push((opportunity::Column::StageId, Expr::value(target.id)));
        if cur.pipeline_id != target.pipeline_id {
            c.history.push((
                "pipeline",
                Some(cur.pipeline_id.to_string()),
                Some(target.pipeline_id.to_string()),
            ));
            c.sets.push((
                opportunity::Column::PipelineId,
                Expr::value(target.pipeline_id),
            ));
        }
        c.stage = Some((cur.stage_id, target.id));
        Ok(c)
    })
    .await
}

/// A move to status `to` (WON, LOST or OPEN): refused when the opportunity
/// is already there; sets closedAt (now when closing, cleared when
/// reopening) and lostReason (only LOST keeps one), with history.
fn status_change(
    cur: &opportunity::Model,
    to: &str,
    lost_reason: Option<&str>,
) -> AppResult<Change> {
    if cur.status == to {
        return Err(AppError::bad_input(
            "id",
            format!("the opportunity is already {}", to.to_lowercase()),
        ));
    }
    let mut c = Change::default();
    c.field(
        "status",
        opportunity::Column::Status,
        Some(cur.status.clone()),
        Some(to.to_string()),
    );
    if let Some(r) = lost_reason {
        c.history
            .push(("lostReason", cur.lost_reason.clone(), Some(r.to_string())));
    }
    let closed_at = (to != "OPEN").then(now);
    c.sets
        .push((opportunity::Column::ClosedAt, Expr::value(closed_at)));
    if to == "OPEN" {
        // reopened past its due date, it becomes LATE again
        c.sets.push((
            opportunity::Column::LateMarkedDue,
            Expr::value(Option::<chrono::NaiveDate>::None),
        ));
    }
    c.sets.push((
        opportunity::Column::LostReason,
        Expr::value(lost_reason.map(str::to_string)),
    ));
    c.won = to == "WON";
    Ok(c)
}

pub async fn mark_won(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    apply(state, auth, id, expected, Kind::Won, |cur| {
        status_change(cur, "WON", None)
    })
    .await
}

pub async fn mark_lost(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    reason: &str,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad_input(
            "reason",
            "a reason of 1 to 500 characters is required",
        ));
    }
    apply(state, auth, id, expected, Kind::Lost, |cur| {
        status_change(cur, "LOST", Some(reason))
    })
    .await
}

pub async fn reopen(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    expected: Option<i32>,
) -> AppResult<opportunity::Model> {
    apply(state, auth, id, expected, Kind::Reopened, |cur| {
        status_change(cur, "OPEN", None)
    })
    .await
}

pub async fn delete(state: &AppState, auth: AuthContext, id: Uuid) -> AppResult<bool> {
    let scope = TenantScope(auth.tenant);
    let current = find(&state.db, scope, id).await?;
    // its activities go with it (ON DELETE CASCADE): timelines hear of it
    let activities = scope
        .find::<entity::activity::Entity>()
        .filter(entity::activity::Column::OpportunityId.eq(id))
        .all(&state.db)
        .await?;
    let res = scope
        .delete_many::<opportunity::Entity>()
        .filter(opportunity::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("opportunity"));
    }
    publish(state, auth, Kind::Deleted, &current).await;
    let gone: Vec<Event> = activities
        .iter()
        .map(|a| {
            Event::activity(
                auth.tenant.0,
                Some(auth.user.0),
                crate::events::ActivityEventKind::Deleted,
                a,
            )
        })
        .collect();
    state.events.publish_all(gone).await;
    Ok(true)
}

pub async fn add_contact(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    input: OpportunityContactInput,
) -> AppResult<opportunity::Model> {
    let scope = TenantScope(auth.tenant);
    let c = contacts::find(&state.db, scope, parse_id(&input.contact_id, "contact")?).await?;
    let role = role(input.role.as_deref())?;
    let primary = input.is_primary.unwrap_or(false);
    let current = find(&state.db, scope, id).await?;
    ensure_can_change(&state.db, auth, &current).await?;
    let links = scope
        .find::<opportunity_contact::Entity>()
        .filter(opportunity_contact::Column::OpportunityId.eq(id))
        .all(&state.db)
        .await?;
    if links.iter().any(|l| l.contact_id == c.id) {
        return Err(AppError::bad_input(
            "contactId",
            "this contact is already on the opportunity",
        ));
    }
    let primary = primary || links.is_empty();
    let ts = now();
    let txn = crate::db::begin_write(&state.db).await?;
    if primary {
        scope
            .update_many::<opportunity_contact::Entity>()
            .col_expr(opportunity_contact::Column::IsPrimary, Expr::value(false))
            .filter(opportunity_contact::Column::OpportunityId.eq(id))
            .exec(&txn)
            .await?;
    }
    link_contacts(
        &txn,
        scope,
        id,
        &[ContactLink {
            contact: c.id,
            role,
            primary,
        }],
        ts,
    )
    .await?;
    touch(
        &txn,
        scope,
        id,
        auth,
        ts,
        "contacts",
        None,
        Some(c.id.to_string()),
    )
    .await?;
    if current.status == "WON" {
        make_clients(&txn, scope, id).await?;
    }
    txn.commit().await?;
    let changed = find(&state.db, scope, id).await?;
    publish(state, auth, Kind::Updated, &changed).await;
    Ok(changed)
}

pub async fn remove_contact(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    contact_id: Uuid,
) -> AppResult<opportunity::Model> {
    let scope = TenantScope(auth.tenant);
    let current = find(&state.db, scope, id).await?;
    contacts::find(&state.db, scope, contact_id).await?;
    ensure_can_change(&state.db, auth, &current).await?;
    let ts = now();
    let txn = crate::db::begin_write(&state.db).await?;
    let link = scope
        .find::<opportunity_contact::Entity>()
        .filter(opportunity_contact::Column::OpportunityId.eq(id))
        .filter(opportunity_contact::Column::ContactId.eq(contact_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("contact"))?;
    scope
        .delete_many::<opportunity_contact::Entity>()
        .filter(opportunity_contact::Column::Id.eq(link.id))
        .exec(&txn)
        .await?;
    if link.is_primary {
        // the longest-linked remaining contact becomes primary
        if let Some(next) = scope
            .find::<opportunity_contact::Entity>()
            .filter(opportunity_contact::Column::OpportunityId.eq(id))
            .order_by_asc(opportunity_contact::Column::CreatedAt)
            .one(&txn)
            .await?
        {
            scope
                .update_many::<opportunity_contact::Entity>()
                .col_expr(opportunity_contact::Column::IsPrimary, Expr::value(true))
                .filter(opportunity_contact::Column::Id.eq(next.id))
                .exec(&txn)
                .await?;
        }
    }
    touch(
        &txn,
        scope,
        id,
        auth,
        ts,
        "contacts",
        Some(contact_id.to_string()),
        None,
    )
    .await?;
    txn.commit().await?;
    let changed = find(&state.db, scope, id).await?;
    publish(state, auth, Kind::Updated, &changed).await;
    Ok(changed)
}

/// Bumps version and updated_at for a change made in a child table.
#[allow(clippy::too_many_arguments)]
async fn touch<C: ConnectionTrait>(
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
struct HistoryCursor {
    at: DateTime<Utc>,
    id: Uuid,
}

pub async fn history(
    state: &AppState,
    auth: AuthContext,
    id: Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Page<opportunity_change::Model, i64>> {
    let first = page_size(first)?;
    let scope = TenantScope(auth.tenant);
    let base = scope
        .find::<opportunity_change::Entity>()
        .filter(opportunity_change::Column::OpportunityId.eq(id));
    let total = crate::pagination::saturating_i64(base.clone().count(&state.db).await?);
    let mut q = base;
    if let Some(a) = after {
        let c: HistoryCursor = decode_cursor(&a)?;
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
                encode_cursor(&HistoryCursor {
                    at: m.changed_at,
                    id: m.id,
                }),
                m,
            )
        })
        .collect();
    Ok(Page::new(rows, more, total))
}

/// Turns a client filter into SQL, checking that every ID it names exists
/// in the tenant (a foreign ID is NOT_FOUND, as everywhere).
pub async fn list_query(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    filter: &OpportunityFilter,
    order: Option<OpportunityOrder>,
) -> AppResult<ListQuery> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let mut cond = Condition::all();
    if let Some(p) = &filter.pipeline_id {
        let p = find_pipeline(db, scope, parse_id(p, "pipeline")?).await?;
        cond = cond.add(opportunity::Column::PipelineId.eq(p.id));
    }
    if let Some(ids) = &filter.stage_ids {
        let mut stages = HashSet::new();
        for s in ids {
            stages.insert(find_stage(db, scope, parse_id(s, "stage")?).await?.id);
        }
        cond = cond.add(opportunity::Column::StageId.is_in(stages));
    }
    if let Some(st) = status_condition(status_mask(filter.statuses.as_deref()), settings.today()) {
        cond = cond.add(st);
    }
    if let Some(o) = &filter.owner_id {
        let u = scope
            .find_id::<user::Entity>(parse_id(o, "user")?)
            .one(db)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        cond = cond.add(opportunity::Column::OwnerId.eq(u.id));
    }
    if let Some(s) = &filter.source_id {
        let s = find_source(db, scope, parse_id(s, "source")?).await?;
        cond = cond.add(opportunity::Column::SourceId.eq(s.id));
    }
    if let Some(c) = &filter.contact_id {
        let c = contacts::find(db, scope, parse_id(c, "contact")?).await?;
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
    let (field, direction) = match order {
        Some(o) => (o.field, o.direction.unwrap_or(SortDirection::Asc)),
        None => (OpportunitySortField::CreatedAt, SortDirection::Desc),
    };
    Ok(ListQuery {
        scope,
        condition: cond,
        field,
        direction,
    })
}

/// Claims, for every tenant, up to `limit` (per time zone) open
/// opportunities whose due date has passed in the tenant's time zone and
/// that no BECAME_LATE was raised for yet. The mark is set by a conditional UPDATE, so of several instances
/// sweeping at once exactly one claims each transition. A background job,
/// not a request: it runs across tenants on purpose, and every event it
/// returns names its own tenant.
pub async fn claim_became_late<C: ConnectionTrait>(db: &C, limit: u64) -> AppResult<Vec<Event>> {
    use sea_orm::sea_query::Query;
    let zones: Vec<String> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Timezone)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut events = Vec::new();
    for zone in zones {
        let Ok(tz) = crate::domain::Timezone::parse("timezone", &zone) else {
            continue;
        };
        let today = tz.today_at(crate::clock::now());
        let pending = Condition::all()
            .add(opportunity::Column::Status.eq("OPEN"))
            .add(opportunity::Column::DueDate.lt(today))
            .add(
                opportunity::Column::TenantId.in_subquery(
                    Query::select()
                        .column(tenant::Column::Id)
                        .from(tenant::Entity)
                        .and_where(tenant::Column::Timezone.eq(zone.as_str()))
                        .to_owned(),
                ),
            );
        let claimed = crate::db::claim::<opportunity::Entity, _>(
            db,
            pending,
            opportunity::Column::Id,
            opportunity::Column::LateMarkedDue,
            opportunity::Column::DueDate,
            limit,
        )
        .await?;
        events.extend(
            claimed
                .iter()
                .map(|o| Event::opportunity(o.tenant_id, None, Kind::BecameLate, o)),
        );
    }
    Ok(events)
}
