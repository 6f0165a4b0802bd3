//! Documents: quotes, proposals and contracts of an opportunity.
use std::collections::HashMap;

use entity::document;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::model::{DocumentInput, DocumentStatus, UpdateDocumentInput};
use crate::auth::{AuthContext, TenantSettings};
use crate::domain::OpportunityId;
use crate::error::{AppError, AppResult};
use crate::modules::opportunity::service as opportunities;
use crate::money::parse_amount;
use crate::reader::Reader;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

/// A document of the tenant (NOT_FOUND for any other).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<document::Model> {
    scope.get::<document::Entity, _>(conn, id, "document").await
}

fn title(raw: &str) -> AppResult<String> {
    crate::domain::required_text("title", raw, 200)
}

fn reference(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > 100 => Err(AppError::bad_input(
            "reference",
            "reference must be at most 100 characters",
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// Only absolute http(s) URLs: anything else (javascript:, file:, …) would
/// be a trap in a client that renders it as a link.
fn url(raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(u) = raw.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let lower = u.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && u.len() <= 2048
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(AppError::bad_input(
            "url",
            "url must be an absolute http(s) URL",
        ));
    }
    Ok(Some(u.to_string()))
}

fn can_move(from: DocumentStatus, to: DocumentStatus) -> bool {
    use DocumentStatus::*;
    from == to
        || matches!(
            (from, to),
            (Draft, Sent) | (Sent, Accepted) | (Sent, Declined)
        )
}

/// Attaches a quote, proposal or contract to an opportunity the caller may
/// change. With `useAsPotential`, its amount becomes the opportunity's
/// potential in the same transaction, so the forecast follows the quote.
pub async fn create(
    state: &AppState,
    auth: AuthContext,
    settings: &TenantSettings,
    input: DocumentInput,
) -> AppResult<document::Model> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let opp =
        opportunities::find(db, scope, OpportunityId::parse(&input.opportunity_id)?.0).await?;
    opportunities::ensure_can_change(db, auth, &opp).await?;
    let title = title(&input.title)?;
    let reference = reference(input.reference.as_deref())?;
    let url = url(input.url.as_deref())?;
    let amount = input
        .amount
        .map(|a| parse_amount("amount", a))
        .transpose()?;
    let currency = opportunities::usable_currency(
        db,
        auth,
        settings,
        Some(input.currency.as_deref().unwrap_or(&opp.currency)),
    )
    .await?;
    let use_as_potential = input.use_as_potential.unwrap_or(false);
    if use_as_potential && amount.is_none() {
        return Err(AppError::bad_input(
            "amount",
            "useAsPotential needs an amount",
        ));
    }
    let ts = now();
    let txn = crate::db::begin_write(db).await?;
    let created = scope
        .stamp(document::ActiveModel {
            id: Set(Uuid::new_v4()),
            opportunity_id: Set(opp.id),
            kind: Set(input.kind.as_str().into()),
            title: Set(title),
            reference: Set(reference),
            amount_cents: Set(amount),
            currency: Set(amount.map(|_| currency.as_str().to_string())),
            status: Set(DocumentStatus::Draft.as_str().into()),
            url: Set(url),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(&txn)
        .await?;
    let moved_potential = match (use_as_potential, amount) {
        (true, Some(cents)) => {
            opportunities::set_potential_in(&txn, auth, opp.id, cents, &currency).await?
        }
        _ => false,
    };
    let mut events = Vec::new();
    if moved_potential {
        let changed = opportunities::find(&txn, scope, opp.id).await?;
        events.push(opportunities::event(
            auth,
            crate::events::OpportunityEventKind::Updated,
            &changed,
        ));
    }
    crate::events::commit_with(&state.events, txn, events).await?;
    Ok(created)
}

/// Edits a document; its status only moves forward (DRAFT → SENT →
/// ACCEPTED or DECLINED), as a signed quote cannot become a draft again.
pub async fn update(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::DocumentId,
    input: UpdateDocumentInput,
) -> AppResult<document::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let doc = find(db, scope, id).await?;
    let opp = opportunities::find(db, scope, doc.opportunity_id).await?;
    opportunities::ensure_can_change(db, auth, &opp).await?;
    let mut update = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::UpdatedAt, Expr::value(now()))
        .filter(document::Column::Id.eq(doc.id));
    if let Some(t) = &input.title {
        update = update.col_expr(document::Column::Title, Expr::value(title(t)?));
    }
    if input.reference.is_some() {
        update = update.col_expr(
            document::Column::Reference,
            Expr::value(reference(input.reference.as_deref())?),
        );
    }
    if input.url.is_some() {
        update = update.col_expr(
            document::Column::Url,
            Expr::value(url(input.url.as_deref())?),
        );
    }
    if let Some(a) = input.amount {
        update = update.col_expr(
            document::Column::AmountCents,
            Expr::value(Some(parse_amount("amount", a)?)),
        );
        if doc.currency.is_none() {
            update = update.col_expr(
                document::Column::Currency,
                Expr::value(Some(opp.currency.clone())),
            );
        }
    }
    if let Some(s) = input.status {
        let from = DocumentStatus::from_db(&doc.status)?;
        if !can_move(from, s) {
            return Err(AppError::bad_input(
                "status",
                format!("a {} document cannot become {}", from.as_str(), s.as_str()),
            ));
        }
        update = update.col_expr(document::Column::Status, Expr::value(s.as_str()));
    }
    update.exec(db).await?;
    find(db, scope, id).await
}

/// Removes a document from an opportunity the caller may change.
pub async fn delete(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::DocumentId,
) -> AppResult<bool> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let doc = find(&state.db, scope, id).await?;
    let opp = opportunities::find(&state.db, scope, doc.opportunity_id).await?;
    opportunities::ensure_can_change(&state.db, auth, &opp).await?;
    scope
        .delete_many::<document::Entity>()
        .filter(document::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    Ok(true)
}

/// The documents of an opportunity, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DocumentsKey(pub Uuid);

impl Reader {
    /// The batch behind the GraphQL layer's `DocumentsKey` loader.
    pub async fn load_documents(
        &self,
        keys: &[DocumentsKey],
    ) -> AppResult<HashMap<DocumentsKey, Vec<document::Model>>> {
        let rows = self
            .scope
            .find::<document::Entity>()
            .filter(document::Column::OpportunityId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(document::Column::CreatedAt)
            .order_by_asc(document::Column::Id)
            .all(&self.state.db)
            .await
            .map_err(AppError::from)?;
        let mut out: HashMap<DocumentsKey, Vec<document::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for d in rows {
            out.entry(DocumentsKey(d.opportunity_id))
                .or_default()
                .push(d);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_moves() {
        assert!(url(Some("https://example.com/q/1.pdf")).is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "http:///x",
            "https://a b",
        ] {
            assert!(url(Some(bad)).is_err(), "{bad}");
        }
        assert!(can_move(DocumentStatus::Draft, DocumentStatus::Sent));
        assert!(!can_move(DocumentStatus::Draft, DocumentStatus::Accepted));
        assert!(!can_move(
            DocumentStatus::Accepted,
            DocumentStatus::Declined
        ));
    }
}
