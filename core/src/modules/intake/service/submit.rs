//! A web form post: authentication by key, rate limit, idempotency, logging.
use super::*;

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

pub(super) fn unauthorized() -> AppError {
    AppError::UnauthenticatedWith("a valid intake key is required")
}

pub(super) fn in_progress() -> AppError {
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
    crate::events::commit_with(&state.events, txn, events).await?;
    Ok(answer)
}

/// The live key a secret belongs to. Every failure is the same 401, so a
/// caller learns nothing about keys it does not hold.
pub(super) async fn authenticate(
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

pub(super) fn idempotency_key(raw: &str) -> AppResult<String> {
    let k = raw.trim();
    if k.is_empty() || k.len() > 255 || !k.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(AppError::bad_input(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(k.to_string())
}

pub(super) fn replay(first: &intake_request::Model, body_hash: &str) -> AppResult<Answer> {
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
pub(super) async fn forget_old_posts<C: ConnectionTrait>(
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

pub(super) async fn check_rate<C: ConnectionTrait>(
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

pub(super) async fn log_post<C: ConnectionTrait>(
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
