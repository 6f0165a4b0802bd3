//! Adding and removing an opportunity's contacts.
use super::*;
use crate::domain::ContactId;

/// Adds a contact to an opportunity (or changes its role or primary flag):
/// one primary contact at most, as the list and the board show it.
pub async fn add_contact(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
    input: OpportunityContactInput,
) -> AppResult<opportunity::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let c = contacts::find(&state.db, scope, ContactId::parse(&input.contact_id)?.0).await?;
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
    if current.status == opportunity::Status::Won {
        make_clients(&txn, scope, id).await?;
    }
    let changed = find(&txn, scope, id).await?;
    crate::events::commit_with(
        &state.events,
        txn,
        vec![event(auth, Kind::Updated, &changed)],
    )
    .await?;
    Ok(changed)
}

/// Removes a contact from an opportunity.
pub async fn remove_contact(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::OpportunityId,
    contact_id: crate::domain::ContactId,
) -> AppResult<opportunity::Model> {
    let contact_id = contact_id.0;
    let id = id.0;
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
    let changed = find(&txn, scope, id).await?;
    crate::events::commit_with(
        &state.events,
        txn,
        vec![event(auth, Kind::Updated, &changed)],
    )
    .await?;
    Ok(changed)
}
