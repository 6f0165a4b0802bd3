//! Creating opportunities, with their contacts and team.
use super::*;
use crate::domain::{ContactId, SourceId, StageId};

pub struct ContactLink {
    pub contact: Uuid,
    pub role: Option<String>,
    pub primary: bool,
}

pub(super) async fn contact_links<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    input: &[OpportunityContactInput],
) -> AppResult<Vec<ContactLink>> {
    let mut links: Vec<ContactLink> = Vec::new();
    for c in input {
        let found = contacts::find(conn, scope, ContactId::parse(&c.contact_id)?.0).await?;
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

pub(super) async fn link_contacts<C: ConnectionTrait>(
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

pub(super) async fn set_team<C: ConnectionTrait>(
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

/// Creates an opportunity in a stage, numbered OPP-n in its tenant, with
/// its contacts and team. Checks what only a request can (the owner is an
/// active user, the currency has a rate), then writes through `create_in`.
pub async fn create<S: Store>(
    state: &S,
    auth: AuthContext,
    settings: &TenantSettings,
    input: CreateOpportunityInput,
) -> AppResult<opportunity::Model> {
    create_run(state, auth, settings, input, false).await
}

/// `create`; a dry run does all of it, checks and writes, in a transaction
/// it then rolls back (an import's dry run).
pub async fn create_run<S: Store>(
    store: &S,
    auth: AuthContext,
    settings: &TenantSettings,
    input: CreateOpportunityInput,
    dry_run: bool,
) -> AppResult<opportunity::Model> {
    let scope = TenantScope(auth.tenant);
    let db = store.conn();
    let title = title(&input.title)?;
    let stage = find_open_stage(db, scope, StageId::parse(&input.stage_id)?.0, "stageId").await?;
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
        Some(id) => Some(find_source(db, scope, SourceId::parse(id)?.0).await?.id),
        None => None,
    };
    let links = contact_links(db, scope, input.contacts.as_deref().unwrap_or_default()).await?;
    let override_p = input
        .probability_override
        .map(|p| probability("probabilityOverride", p))
        .transpose()?;
    let tags =
        crate::modules::tag::resolve(db, scope, input.tag_ids.as_deref().unwrap_or_default())
            .await?;
    let fields = crate::modules::custom_field::FieldEntity::Opportunity;
    let custom = crate::modules::custom_field::value::check(
        db,
        scope,
        fields,
        input.custom_fields.as_deref().unwrap_or_default(),
    )
    .await?;
    crate::modules::custom_field::value::check_required(db, scope, fields, &custom).await?;
    let external_id = input
        .external_id
        .as_deref()
        .map(crate::domain::external_id)
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
            tags,
            custom,
            external_id,
        },
    )
    .await?;
    if dry_run {
        txn.rollback().await?;
        return Ok(created);
    }
    crate::events::commit_on(store, txn, vec![event(auth, Kind::Created, &created)]).await?;
    Ok(created)
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
    pub tags: Vec<Uuid>,
    pub custom: Vec<crate::modules::custom_field::value::Checked>,
    pub external_id: Option<String>,
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
            status: Set(opportunity::Status::Open),
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
            external_id: Set(new.external_id),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    stage_row(scope, id, None, new.stage.id, actor, ts)
        .insert(conn)
        .await?;
    set_team(conn, scope, id, &new.team).await?;
    link_contacts(conn, scope, id, &new.contacts, ts).await?;
    crate::modules::tag::set_opportunity_in(conn, scope, id, &new.tags).await?;
    crate::modules::custom_field::value::set_in(
        conn,
        scope,
        crate::modules::custom_field::value::Owner::Opportunity(id),
        &new.custom,
    )
    .await?;
    Ok(created)
}

/// A won opportunity makes its contacts, and their companies, clients.
pub(super) async fn make_clients<C: ConnectionTrait>(
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
    contacts::make_clients_in(conn, scope, linked).await
}
