//! Contact queries and commands.
use entity::{contact, opportunity_contact};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{
    ContactFilter, ContactInput, ContactKind, ContactLifecycle, UpdateContactInput,
};
use crate::auth::AuthContext;
use crate::domain::{ContactId, SourceId};
use crate::domain::{Email, Name, Role, like_pattern};
use crate::error::{AppError, AppResult};
use crate::modules::custom_field::{FieldEntity, value};
use crate::modules::pipeline::service::find_source;
use crate::modules::tag;
use crate::state::{AppState, Store};
use crate::tenancy::{TenantScope, now};

/// A contact of the tenant (NOT_FOUND for any other).
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<contact::Model> {
    scope.get::<contact::Entity, _>(conn, id, "contact").await
}

/// A phone number: digits with the usual separators (intake uses it too).
pub(crate) fn phone(raw: &str) -> AppResult<String> {
    let p = raw.trim();
    let ok = (3..=50).contains(&p.chars().count())
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && p.chars().any(|c| c.is_ascii_digit());
    if !ok {
        return Err(AppError::bad_input(
            "phone",
            "phone must be 3 to 50 characters of digits, spaces and + - ( ) .",
        ));
    }
    Ok(p.to_string())
}

/// The company a person may work for: a COMPANY of the same tenant.
async fn company<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
    kind: ContactKind,
    self_id: Option<Uuid>,
) -> AppResult<Uuid> {
    let c = find(conn, scope, id).await?;
    if kind != ContactKind::Person {
        return Err(AppError::bad_input(
            "companyId",
            "only a PERSON can belong to a company",
        ));
    }
    if c.kind != ContactKind::Company.as_str() || Some(c.id) == self_id {
        return Err(AppError::bad_input(
            "companyId",
            "companyId must be a COMPANY contact",
        ));
    }
    Ok(c.id)
}

/// Creates a PROSPECT contact. A PERSON may belong to a COMPANY of the same
/// tenant; the email and phone are checked and normalised.
pub async fn create<S: Store>(
    state: &S,
    auth: AuthContext,
    input: ContactInput,
) -> AppResult<contact::Model> {
    create_run(state, auth, input, false).await
}

/// `create`; a dry run writes in a transaction it then rolls back.
pub async fn create_run<S: Store>(
    state: &S,
    auth: AuthContext,
    input: ContactInput,
    dry_run: bool,
) -> AppResult<contact::Model> {
    let scope = TenantScope(auth.tenant);
    let name = Name::parse("name", &input.name)?.into_inner();
    let email = input
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| Email::parse("email", e))
        .transpose()?;
    let phone = input
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(phone)
        .transpose()?;
    let company_id = match &input.company_id {
        Some(id) => Some(
            company(
                state.conn(),
                scope,
                ContactId::parse(id)?.0,
                input.kind,
                None,
            )
            .await?,
        ),
        None => None,
    };
    let source_id = match &input.source_id {
        Some(id) => Some(
            find_source(state.conn(), scope, SourceId::parse(id)?.0)
                .await?
                .id,
        ),
        None => None,
    };
    let tags = tag::resolve(
        state.conn(),
        scope,
        input.tag_ids.as_deref().unwrap_or_default(),
    )
    .await?;
    let custom = value::check(
        state.conn(),
        scope,
        FieldEntity::Contact,
        input.custom_fields.as_deref().unwrap_or_default(),
    )
    .await?;
    value::check_required(state.conn(), scope, FieldEntity::Contact, &custom).await?;
    let external_id = input
        .external_id
        .as_deref()
        .map(crate::domain::external_id)
        .transpose()?;
    let txn = crate::db::begin_write(state.conn()).await?;
    let created = insert_in(
        &txn,
        scope,
        NewContact {
            kind: input.kind,
            name,
            email,
            phone,
            company: company_id,
            source: source_id,
            external_id,
        },
    )
    .await?;
    tag::set_contact_in(&txn, scope, created.id, &tags).await?;
    value::set_in(&txn, scope, value::Owner::Contact(created.id), &custom).await?;
    if dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
    }
    Ok(created)
}

/// A contact whose fields are already checked: the name parsed, the email
/// and phone valid, the company and source found in the tenant.
pub struct NewContact {
    pub kind: ContactKind,
    pub name: String,
    pub email: Option<Email>,
    pub phone: Option<String>,
    pub company: Option<Uuid>,
    pub source: Option<Uuid>,
    pub external_id: Option<String>,
}

/// Inserts a new PROSPECT in the caller's transaction. The one place a
/// contact row is created, so that every contact starts the same way
/// whether a user or a web form brought it in.
pub async fn insert_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    new: NewContact,
) -> AppResult<contact::Model> {
    let ts = now();
    Ok(scope
        .stamp(contact::ActiveModel {
            id: Set(Uuid::new_v4()),
            kind: Set(new.kind.as_str().into()),
            lifecycle: Set(ContactLifecycle::Prospect.as_str().into()),
            name: Set(new.name),
            email: Set(new.email.map(|e| e.as_str().to_string())),
            phone: Set(new.phone),
            company_id: Set(new.company),
            source_id: Set(new.source),
            external_id: Set(new.external_id),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        })
        .insert(conn)
        .await?)
}

/// Edits a contact; `null` clears the email, phone or company.
pub async fn update<S: Store>(
    state: &S,
    auth: AuthContext,
    id: crate::domain::ContactId,
    input: UpdateContactInput,
) -> AppResult<contact::Model> {
    let id = id.0;
    let scope = TenantScope(auth.tenant);
    let current = find(state.conn(), scope, id).await?;
    let kind = ContactKind::from_db(&current.kind)?;
    let mut update = scope
        .update_many::<contact::Entity>()
        .col_expr(contact::Column::UpdatedAt, Expr::value(now()))
        .filter(contact::Column::Id.eq(current.id));
    if let Some(n) = &input.name {
        update = update.col_expr(
            contact::Column::Name,
            Expr::value(Name::parse("name", n)?.into_inner()),
        );
    }
    if let Some(e) = input.email.value().filter(|e| !e.trim().is_empty()) {
        update = update.col_expr(
            contact::Column::Email,
            Expr::value(Email::parse("email", e)?.as_str()),
        );
    } else if input.email.is_null() || input.email.value().is_some_and(|e| e.trim().is_empty()) {
        update = update.col_expr(contact::Column::Email, Expr::value(Option::<String>::None));
    }
    if let Some(p) = input.phone.value().filter(|p| !p.trim().is_empty()) {
        update = update.col_expr(contact::Column::Phone, Expr::value(phone(p)?));
    } else if input.phone.is_null() || input.phone.value().is_some_and(|p| p.trim().is_empty()) {
        update = update.col_expr(contact::Column::Phone, Expr::value(Option::<String>::None));
    }
    if let Some(cid) = input.company_id.value() {
        let cid = company(
            state.conn(),
            scope,
            ContactId::parse(cid)?.0,
            kind,
            Some(current.id),
        )
        .await?;
        update = update.col_expr(contact::Column::CompanyId, Expr::value(Some(cid)));
    } else if input.company_id.is_null() {
        update = update.col_expr(
            contact::Column::CompanyId,
            Expr::value(Option::<Uuid>::None),
        );
    }
    if let Some(l) = input.lifecycle {
        update = update.col_expr(contact::Column::Lifecycle, Expr::value(l.as_str()));
    }
    if let Some(x) = input.external_id.value() {
        let x = crate::domain::external_id(x)?;
        update = update.col_expr(contact::Column::ExternalId, Expr::value(Some(x)));
    } else if input.external_id.is_null() {
        update = update.col_expr(
            contact::Column::ExternalId,
            Expr::value(Option::<String>::None),
        );
    }
    let tags = match &input.tag_ids {
        Some(ids) => Some(tag::resolve(state.conn(), scope, ids).await?),
        None => None,
    };
    let custom = value::check(
        state.conn(),
        scope,
        FieldEntity::Contact,
        input.custom_fields.as_deref().unwrap_or_default(),
    )
    .await?;
    let txn = crate::db::begin_write(state.conn()).await?;
    update.exec(&txn).await?;
    if let Some(t) = tags {
        tag::set_contact_in(&txn, scope, id, &t).await?;
    }
    value::set_in(&txn, scope, value::Owner::Contact(id), &custom).await?;
    txn.commit().await?;
    find(state.conn(), scope, id).await
}

/// Refused while opportunities reference the contact (or people work for
/// the company), so that nothing is lost by accident.
pub async fn delete(
    state: &AppState,
    auth: AuthContext,
    id: crate::domain::ContactId,
) -> AppResult<bool> {
    let id = id.0;
    if !matches!(auth.role, Role::Admin | Role::Manager) {
        return Err(AppError::Forbidden);
    }
    let scope = TenantScope(auth.tenant);
    let c = find(&state.db, scope, id).await?;
    let used = scope
        .find::<opportunity_contact::Entity>()
        .filter(opportunity_contact::Column::ContactId.eq(c.id))
        .count(&state.db)
        .await?;
    if used > 0 {
        return Err(AppError::bad_input(
            "id",
            format!("{used} opportunities reference this contact: remove it from them first"),
        ));
    }
    let people = scope
        .find::<contact::Entity>()
        .filter(contact::Column::CompanyId.eq(c.id))
        .count(&state.db)
        .await?;
    if people > 0 {
        return Err(AppError::bad_input(
            "id",
            format!("{people} people work for this company: move them first"),
        ));
    }
    scope
        .delete_many::<contact::Entity>()
        .filter(contact::Column::Id.eq(c.id))
        .exec(&state.db)
        .await?;
    Ok(true)
}

fn lower(col: contact::Column) -> Expr {
    Func::lower(Expr::col((contact::Entity, col))).into()
}

pub use super::list::{ContactPage, list};

/// Makes contacts, and the companies they work for, clients: a won
/// opportunity is what turns a prospect into a client.
pub async fn make_clients_in<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    ids: Vec<Uuid>,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let companies: Vec<Uuid> = scope
        .find::<contact::Entity>()
        .filter(contact::Column::Id.is_in(ids.clone()))
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
        .filter(contact::Column::Id.is_in(ids.into_iter().chain(companies)))
        .exec(conn)
        .await?;
    Ok(())
}

/// The tag and custom-field parts of a contact filter.
async fn extra_conditions(
    db: &sea_orm::DatabaseConnection,
    scope: TenantScope,
    filter: &ContactFilter,
    mut cond: Condition,
) -> AppResult<Condition> {
    let any = tag::resolve(db, scope, filter.tags_any.as_deref().unwrap_or_default()).await?;
    let all = tag::resolve(db, scope, filter.tags_all.as_deref().unwrap_or_default()).await?;
    let id = || Expr::col((contact::Entity, contact::Column::Id));
    if !any.is_empty() || !all.is_empty() {
        cond = cond.add(tag::condition(
            "contact_tags",
            "contact_id",
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
        cond = cond.add(value::condition(db, scope, FieldEntity::Contact, id(), f).await?);
    }
    Ok(cond)
}

/// The SQL of a contact filter, checking every ID it names.
pub async fn condition(
    db: &sea_orm::DatabaseConnection,
    scope: TenantScope,
    filter: &ContactFilter,
) -> AppResult<Condition> {
    let mut cond = Condition::all();
    if let Some(k) = filter.kind {
        cond = cond.add(contact::Column::Kind.eq(k.as_str()));
    }
    if let Some(l) = filter.lifecycle {
        cond = cond.add(contact::Column::Lifecycle.eq(l.as_str()));
    }
    if let Some(s) = crate::domain::search_text("search", filter.search.as_deref())? {
        let pat = like_pattern(s);
        cond = cond.add(
            Condition::any()
                .add(lower(contact::Column::Name).like(LikeExpr::new(pat.clone()).escape('\\')))
                .add(lower(contact::Column::Email).like(LikeExpr::new(pat).escape('\\'))),
        );
    }
    extra_conditions(db, scope, filter, cond).await
}

/// A page of the contacts passing `cond`, by name (case-insensitive) then
/// id, after the (lower-cased name, id) of the last row of the previous
/// page: what an export walks without counting.
pub async fn page_after(
    db: &sea_orm::DatabaseConnection,
    scope: TenantScope,
    cond: Condition,
    after: Option<(String, Uuid)>,
    limit: u64,
) -> AppResult<Vec<contact::Model>> {
    let mut q = scope.find::<contact::Entity>().filter(cond);
    if let Some((n, id)) = after {
        q = q.filter(
            Condition::any()
                .add(lower(contact::Column::Name).gt(n.clone()))
                .add(
                    Condition::all()
                        .add(lower(contact::Column::Name).eq(n))
                        .add(contact::Column::Id.gt(id)),
                ),
        );
    }
    Ok(q.order_by_asc(lower(contact::Column::Name))
        .order_by_asc(contact::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
