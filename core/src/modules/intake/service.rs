//! Intake keys, and the posts made with them: each post, in one
//! transaction, finds or creates its contact and creates an opportunity
//! (with a note holding the message).
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use entity::{activity, contact, intake_key, intake_request, opportunity, tenant};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::model::IntakeKeyInput;
use crate::auth::{AuthContext, random_token, sha256_hex};
use crate::domain::parse_id;
use crate::domain::{CurrencyCode, Email, Name, TenantId};
use crate::error::{AppError, AppResult};
use crate::modules::activity::model::ActivityKind;
use crate::modules::activity::service::{self as activities, NewActivity, Times};
use crate::modules::contact::model::ContactKind;
use crate::modules::contact::service::{self as contacts, NewContact, phone};
use crate::modules::opportunity::service::{self as opportunities, ContactLink, NewOpportunity};
use crate::modules::pipeline::service::{find_source, find_stage};
use crate::money::parse_amount;
use crate::state::AppState;
use crate::tenancy::{TenantScope, now};

/// Posts one key may make per minute. They are counted in the database, so
/// the limit holds however many instances serve the API.
pub const POSTS_PER_MINUTE: u64 = 60;
/// How long an Idempotency-Key is remembered.
const IDEMPOTENCY_HOURS: i64 = 24;
/// The longest message kept, as for any activity note.
const MAX_MESSAGE_CHARS: usize = 20_000;

pub async fn list(state: &AppState, auth: AuthContext) -> AppResult<Vec<intake_key::Model>> {
    Ok(TenantScope(auth.tenant)
        .find::<intake_key::Entity>()
        .order_by_asc(intake_key::Column::CreatedAt)
        .order_by_asc(intake_key::Column::Id)
        .all(&state.db)
        .await?)
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    id: Uuid,
) -> AppResult<intake_key::Model> {
    scope
        .find_id::<intake_key::Entity>(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("intake key"))
}

/// A new key and its secret, which is not kept.
pub async fn create(
    state: &AppState,
    auth: AuthContext,
    input: IntakeKeyInput,
) -> AppResult<(intake_key::Model, String)> {
    let scope = TenantScope(auth.tenant);
    let db = &state.db;
    let name = Name::parse("name", &input.name)?.into_inner();
    let stage = find_stage(db, scope, parse_id(&input.stage_id, "stage")?).await?;
    let source = match &input.source_id {
        Some(id) => Some(find_source(db, scope, parse_id(id, "source")?).await?.id),
        None => None,
    };
    let secret = random_token(32);
    let key = scope
        .stamp(intake_key::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name),
            stage_id: Set(stage.id),
            source_id: Set(source),
            created_by: Set(auth.user.0),
            secret_hash: Set(sha256_hex(&secret)),
            created_at: Set(now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        })
        .insert(db)
        .await?;
    Ok((key, secret))
}

pub async fn revoke(state: &AppState, auth: AuthContext, id: Uuid) -> AppResult<intake_key::Model> {
    let scope = TenantScope(auth.tenant);
    let key = find(&state.db, scope, id).await?;
    // the first revocation's time is the one that counts
    scope
        .update_many::<intake_key::Entity>()
        .col_expr(intake_key::Column::RevokedAt, Expr::value(Some(now())))
        .filter(intake_key::Column::Id.eq(key.id))
        .filter(intake_key::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    find(&state.db, scope, id).await
}

/// A post to `/intake`, as the transport read it.
pub struct Post<'a> {
    /// The bearer secret.
    pub secret: Option<&'a str>,
    /// The Idempotency-Key header ("" when it is not ASCII).
    pub idempotency_key: Option<&'a str>,
    /// The raw body: "the same body" of an idempotent repeat means this.
    pub body: &'a str,
    /// The body's fields: a JSON object's members, or a form's pairs.
    pub fields: Map<String, Value>,
}

/// What a post is answered with: a status and a JSON body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The HTTP status of a refused post.
pub fn status_of(e: &AppError) -> u16 {
    e.rest_status()
}

fn unauthorized() -> AppError {
    AppError::UnauthenticatedWith("a valid intake key is required")
}

fn in_progress() -> AppError {
    AppError::Conflict("a post with this Idempotency-Key is still being processed".into())
}

/// Handles one post. Everything it writes is one transaction, so a post
/// either happens whole or not at all.
pub async fn submit(state: &AppState, post: Post<'_>) -> AppResult<Answer> {
    let db = &state.db;
    let key = authenticate(db, post.secret).await?;
    let idempotency = post.idempotency_key.map(idempotency_key).transpose()?;
    let scope = TenantScope(TenantId(key.tenant_id));
    let body_hash = sha256_hex(post.body);
    let submission = Submission::parse(&post.fields);

    let txn = crate::db::begin_write(db).await?;
    let ts = now();
    // Claims the key first: the row lock queues this key's other posts
    // behind this one, so the count and the Idempotency-Key lookup below
    // see every earlier post; and a key revoked meanwhile stops here.
    let claimed = scope
        .update_many::<intake_key::Entity>()
        .col_expr(intake_key::Column::LastUsedAt, Expr::value(Some(ts)))
        .filter(intake_key::Column::Id.eq(key.id))
        .filter(intake_key::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(unauthorized());
    }
    forget_old_posts(&txn, scope, key.id, ts).await?;
    check_rate(&txn, scope, key.id, ts).await?;

    if let Some(idem) = &idempotency {
        let first = scope
            .find::<intake_request::Entity>()
            .filter(intake_request::Column::IntakeKeyId.eq(key.id))
            .filter(intake_request::Column::IdempotencyKey.eq(idem.as_str()))
            .one(&txn)
            .await?;
        if let Some(first) = first {
            let answer = replay(&first, &body_hash);
            let status = answer.as_ref().map_or_else(status_of, |a| a.status);
            log_post(&txn, scope, key.id, None, &body_hash, Some(status)).await?;
            txn.commit().await?;
            return answer;
        }
    }
    let submission = match submission {
        Ok(s) => s,
        Err(e) => {
            // still a post for the rate limit; nothing is remembered for
            // its Idempotency-Key, so a corrected body may reuse it
            log_post(&txn, scope, key.id, None, &body_hash, Some(status_of(&e))).await?;
            txn.commit().await?;
            return Err(e);
        }
    };
    let request = log_post(
        &txn,
        scope,
        key.id,
        idempotency.as_deref(),
        &body_hash,
        None,
    )
    .await
    .map_err(|e| AppError::from_unique(e, in_progress))?;
    let (created, note) = create_opportunity(&txn, scope, &key, submission).await?;
    let answer = Answer {
        status: 201,
        body: json!({ "id": created.id.to_string(), "reference": created.reference }).to_string(),
    };
    scope
        .update_many::<intake_request::Entity>()
        .col_expr(
            intake_request::Column::Status,
            Expr::value(Some(i32::from(answer.status))),
        )
        .col_expr(
            intake_request::Column::Response,
            Expr::value(Some(answer.body.clone())),
        )
        .filter(intake_request::Column::Id.eq(request))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    // no user acted: the actor of what intake creates is null
    let mut events = vec![crate::events::Event::opportunity(
        key.tenant_id,
        None,
        crate::events::OpportunityEventKind::Created,
        &created,
    )];
    events.extend(note.iter().map(|n| {
        crate::events::Event::activity(
            key.tenant_id,
            None,
            crate::events::ActivityEventKind::Created,
            n,
        )
    }));
    state.events.publish_all(events).await;
    Ok(answer)
}

/// The live key a secret belongs to. Every failure is the same 401, so a
/// caller learns nothing about keys it does not hold.
async fn authenticate(
    db: &DatabaseConnection,
    secret: Option<&str>,
) -> AppResult<intake_key::Model> {
    let secret = secret.filter(|s| !s.is_empty()).ok_or_else(unauthorized)?;
    // the tenant is not known yet: the one query not scoped to a tenant
    intake_key::Entity::find()
        .filter(intake_key::Column::SecretHash.eq(sha256_hex(secret)))
        .filter(intake_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(unauthorized)
}

fn idempotency_key(raw: &str) -> AppResult<String> {
    let k = raw.trim();
    if k.is_empty() || k.len() > 255 || !k.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(AppError::bad_input(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(k.to_string())
}

fn replay(first: &intake_request::Model, body_hash: &str) -> AppResult<Answer> {
    if first.body_hash != body_hash {
        return Err(AppError::bad_input(
            "Idempotency-Key",
            "this Idempotency-Key was already used with a different body",
        ));
    }
    match (first.status, &first.response) {
        (Some(status), Some(body)) => Ok(Answer {
            status: u16::try_from(status).unwrap_or(500),
            body: body.clone(),
        }),
        _ => Err(in_progress()),
    }
}

/// Posts past the rate window matter only for their Idempotency-Key, and
/// that only for a while.
async fn forget_old_posts<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    key: Uuid,
    ts: DateTime<Utc>,
) -> AppResult<()> {
    scope
        .delete_many::<intake_request::Entity>()
        .filter(intake_request::Column::IntakeKeyId.eq(key))
        .filter(
            Condition::any()
                .add(intake_request::Column::CreatedAt.lt(ts - Duration::hours(IDEMPOTENCY_HOURS)))
                .add(
                    Condition::all()
                        .add(intake_request::Column::IdempotencyKey.is_null())
                        .add(intake_request::Column::CreatedAt.lt(ts - Duration::minutes(1))),
                ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

async fn check_rate<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    key: Uuid,
    ts: DateTime<Utc>,
) -> AppResult<()> {
    let window = Duration::minutes(1);
    let recent: Vec<DateTime<Utc>> = scope
        .find::<intake_request::Entity>()
        .select_only()
        .column(intake_request::Column::CreatedAt)
        .filter(intake_request::Column::IntakeKeyId.eq(key))
        .filter(intake_request::Column::CreatedAt.gt(ts - window))
        .order_by_desc(intake_request::Column::CreatedAt)
        .limit(POSTS_PER_MINUTE)
        .into_tuple()
        .all(conn)
        .await?;
    if (recent.len() as u64) < POSTS_PER_MINUTE {
        return Ok(());
    }
    // a post is allowed again once the oldest of these leaves the window
    let oldest = recent.last().copied().unwrap_or(ts);
    let wait_ms = (oldest + window - ts).num_milliseconds();
    Err(AppError::RateLimited {
        retry_after_secs: std::cmp::max((wait_ms + 999) / 1000, 1),
    })
}

async fn log_post<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    key: Uuid,
    idempotency_key: Option<&str>,
    body_hash: &str,
    status: Option<u16>,
) -> Result<Uuid, sea_orm::DbErr> {
    let id = Uuid::new_v4();
    scope
        .stamp(intake_request::ActiveModel {
            id: Set(id),
            intake_key_id: Set(key),
            idempotency_key: Set(idempotency_key.map(str::to_string)),
            body_hash: Set(body_hash.to_string()),
            status: Set(status.map(i32::from)),
            response: Set(None),
            created_at: Set(now()),
            ..Default::default()
        })
        .insert(conn)
        .await?;
    Ok(id)
}

/// A post's fields, validated.
struct Submission {
    name: String,
    email: Option<Email>,
    phone: Option<String>,
    company: Option<String>,
    message: Option<String>,
    title: Option<String>,
    potential_cents: i64,
}

impl Submission {
    fn parse(fields: &Map<String, Value>) -> AppResult<Self> {
        let name =
            text(fields, "name")?.ok_or_else(|| AppError::bad_input("name", "name is required"))?;
        let message = text(fields, "message")?.map(|m| m.trim().to_string());
        if message
            .as_ref()
            .is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS)
        {
            return Err(AppError::bad_input(
                "message",
                format!("message must be at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        Ok(Self {
            name: Name::parse("name", &name)?.into_inner(),
            email: text(fields, "email")?
                .map(|e| Email::parse("email", &e))
                .transpose()?,
            phone: text(fields, "phone")?.map(|p| phone(&p)).transpose()?,
            company: text(fields, "company")?
                .map(|c| Name::parse("company", &c).map(Name::into_inner))
                .transpose()?,
            message,
            title: text(fields, "title")?
                .map(|t| opportunities::title(&t))
                .transpose()?,
            potential_cents: potential(fields)?,
        })
    }
}

/// An optional text field. Blank is absent, since a form sends all of its
/// inputs, filled or not.
fn text(fields: &Map<String, Value>, field: &'static str) -> AppResult<Option<String>> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if !crate::domain::clean_text(s) => Err(AppError::bad_input(
            field,
            format!("{field} must not contain control characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AppError::bad_input(
            field,
            format!("{field} must be a string"),
        )),
    }
}

/// A JSON number or a decimal string (forms have only strings); 0 when
/// absent.
fn potential(fields: &Map<String, Value>) -> AppResult<i64> {
    let bad = || AppError::bad_input("potential", "potential must be a decimal number");
    let raw = match fields.get("potential") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(0),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(_) => return Err(bad()),
    };
    let amount = Decimal::from_str(&raw)
        .or_else(|_| Decimal::from_scientific(&raw))
        .map_err(|_| bad())?;
    parse_amount("potential", amount)
}

fn default_title(name: &str) -> String {
    // a 200-character name must not make the title too long
    format!("Web request from {name}")
        .chars()
        .take(200)
        .collect()
}

async fn create_opportunity<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    key: &intake_key::Model,
    s: Submission,
) -> AppResult<(opportunity::Model, Option<activity::Model>)> {
    let stage = match find_stage(conn, scope, key.stage_id).await {
        Err(AppError::NotFound(_)) => {
            return Err(AppError::Conflict(
                "this intake key's stage was deleted: the site owner needs a new key".into(),
            ));
        }
        other => other?,
    };
    let tenant = tenant::Entity::find_by_id(scope.0.0)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("tenant"))?;
    let currency = CurrencyCode::parse("currency", &tenant.currency)
        .map_err(|_| AppError::Internal("the tenant's stored currency is invalid".into()))?;
    let person = person(conn, scope, key, &s).await?;
    let title = s.title.unwrap_or_else(|| default_title(&s.name));
    let created = opportunities::create_in(
        conn,
        scope,
        Some(key.created_by),
        NewOpportunity {
            title,
            stage,
            potential_cents: s.potential_cents,
            currency,
            probability_override: None,
            due_date: None,
            owner: key.created_by,
            source: key.source_id,
            team: Vec::new(),
            contacts: vec![ContactLink {
                contact: person.id,
                role: None,
                primary: true,
            }],
        },
    )
    .await?;
    let mut note = None;
    if let Some(message) = s.message {
        // like any activity, the note is a sign of life (see isRotting)
        let (inserted, _) = activities::insert_in(
            conn,
            scope,
            NewActivity {
                kind: ActivityKind::Note,
                subject: "Web form message".into(),
                note: Some(message),
                opportunity: Some(created.id),
                contact: Some(person.id),
                assignee: key.created_by,
                created_by: key.created_by,
                times: Times::default(),
                done: true,
            },
        )
        .await?;
        note = Some(inserted);
    }
    Ok((created, note))
}

/// The contact with the post's email, or a new PERSON (working for the
/// named company, found or created). A contact found is left as it is.
async fn person<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    key: &intake_key::Model,
    s: &Submission,
) -> AppResult<contact::Model> {
    if let Some(email) = &s.email {
        // emails are stored lower-cased, so equality is case-insensitive
        // and can use the (tenant, email) index
        let found = scope
            .find::<contact::Entity>()
            .filter(contact::Column::Email.eq(email.as_str()))
            .order_by_asc(contact::Column::CreatedAt)
            .order_by_asc(contact::Column::Id)
            .one(conn)
            .await?;
        if let Some(found) = found {
            return Ok(found);
        }
    }
    let company = match &s.company {
        Some(name) => Some(company(conn, scope, key, name).await?),
        None => None,
    };
    contacts::insert_in(
        conn,
        scope,
        NewContact {
            kind: ContactKind::Person,
            name: s.name.clone(),
            email: s.email.clone(),
            phone: s.phone.clone(),
            company,
            source: key.source_id,
        },
    )
    .await
}

/// The COMPANY of that name (case-insensitive), or a new one.
async fn company<C: ConnectionTrait>(
    conn: &C,
    scope: TenantScope,
    key: &intake_key::Model,
    name: &str,
) -> AppResult<Uuid> {
    let lower_name: Expr = Func::lower(Expr::col((contact::Entity, contact::Column::Name))).into();
    let found = scope
        .find::<contact::Entity>()
        .filter(contact::Column::Kind.eq(ContactKind::Company.as_str()))
        .filter(lower_name.eq(name.to_lowercase()))
        .order_by_asc(contact::Column::CreatedAt)
        .order_by_asc(contact::Column::Id)
        .one(conn)
        .await?;
    if let Some(found) = found {
        return Ok(found.id);
    }
    let created = contacts::insert_in(
        conn,
        scope,
        NewContact {
            kind: ContactKind::Company,
            name: name.to_string(),
            email: None,
            phone: None,
            company: None,
            source: key.source_id,
        },
    )
    .await?;
    Ok(created.id)
}
