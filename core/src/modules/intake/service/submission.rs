//! What a post holds, and the opportunity, contacts and note it becomes.
use super::*;

/// A post's fields, validated.
pub(super) struct Submission {
    pub(super) name: String,
    pub(super) email: Option<Email>,
    pub(super) phone: Option<String>,
    pub(super) company: Option<String>,
    pub(super) message: Option<String>,
    pub(super) title: Option<String>,
    pub(super) potential_cents: i64,
}

impl Submission {
    pub(super) fn parse(fields: &Map<String, Value>) -> AppResult<Self> {
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
pub(super) fn text(fields: &Map<String, Value>, field: &'static str) -> AppResult<Option<String>> {
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
pub(super) fn potential(fields: &Map<String, Value>) -> AppResult<i64> {
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

pub(super) fn default_title(name: &str) -> String {
    // a 200-character name must not make the title too long
    format!("Web request from {name}")
        .chars()
        .take(200)
        .collect()
}

pub(super) async fn create_opportunity<C: ConnectionTrait>(
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
            tags: Vec::new(),
            custom: Vec::new(),
            external_id: None,
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
pub(super) async fn person<C: ConnectionTrait>(
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
            external_id: None,
        },
    )
    .await
}

/// The COMPANY of that name (case-insensitive), or a new one.
pub(super) async fn company<C: ConnectionTrait>(
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
            external_id: None,
        },
    )
    .await?;
    Ok(created.id)
}
