//! Each user's secret iCalendar (RFC 5545) feed of their events and open
//! tasks, for the calendar apps reps live in.
//!
//! The token is an HMAC of (tenant, user, version) under a server key, so
//! the URL can be shown again at any time while only its SHA-256 is stored
//! (for lookup); rotating bumps the version, disabling clears the hash.
use std::fmt::Write;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use entity::{activity, opportunity, user};
use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use sha2::Sha256;
use uuid::Uuid;

use crate::auth::{AuthContext, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::modules::account::service as accounts;
use crate::state::AppState;
use crate::tenancy::TenantScope;

fn token(state: &AppState, tenant: Uuid, user: Uuid, version: i32) -> AppResult<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.calendar_key)
        .map_err(|e| AppError::Internal(e.to_string().into()))?;
    mac.update(format!("calendar:{tenant}:{user}:{version}").as_bytes());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn feed_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/calendar/{token}.ics",
        state.public_url.trim_end_matches('/')
    )
}

async fn me(state: &AppState, auth: AuthContext) -> AppResult<user::Model> {
    TenantScope(auth.tenant)
        .find_id::<user::Entity>(auth.user.0)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// The caller's feed URL, or None while the feed is off.
pub async fn url(state: &AppState, auth: AuthContext) -> AppResult<Option<String>> {
    let u = me(state, auth).await?;
    if u.calendar_token_hash.is_none() {
        return Ok(None);
    }
    Ok(Some(feed_url(
        state,
        &token(state, auth.tenant.0, u.id, u.calendar_version)?,
    )))
}

/// Turns the feed on with a new token; the previous URL stops working.
pub async fn rotate(state: &AppState, auth: AuthContext) -> AppResult<String> {
    let u = me(state, auth).await?;
    let version = u.calendar_version + 1;
    let t = token(state, auth.tenant.0, u.id, version)?;
    let hash = sha256_hex(&t);
    accounts::set_calendar_token(
        &state.db,
        TenantScope(auth.tenant),
        u.id,
        Some((version, hash)),
    )
    .await?;
    Ok(feed_url(state, &t))
}

/// Turns the caller's feed off: its URL stops working at once.
pub async fn disable(state: &AppState, auth: AuthContext) -> AppResult<bool> {
    accounts::set_calendar_token(&state.db, TenantScope(auth.tenant), auth.user.0, None).await?;
    Ok(true)
}

/// Escapes TEXT values (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// Writes one content line, folded at 75 octets (§3.1).
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for ch in content.chars() {
        let n = ch.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += n;
    }
    out.push_str("\r\n");
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The iCalendar (RFC 5545) text of a user's tasks and events.
pub fn render(
    state: &AppState,
    items: &[(activity::Model, Option<opportunity::Model>)],
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//crm-server//calendar feed//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:CRM",
    ] {
        line(&mut out, l);
    }
    let base = state.public_url.trim_end_matches('/');
    for (a, opp) in items {
        let summary = match opp {
            Some(o) => format!("{} — {} {}", a.subject, o.reference, o.title),
            None => a.subject.clone(),
        };
        let (begin, end) = if a.kind == "EVENT" {
            ("BEGIN:VEVENT", "END:VEVENT")
        } else {
            ("BEGIN:VTODO", "END:VTODO")
        };
        line(&mut out, begin);
        line(&mut out, &format!("UID:{}@crm-server", a.id));
        line(&mut out, &format!("DTSTAMP:{}", stamp(now)));
        line(&mut out, &format!("LAST-MODIFIED:{}", stamp(a.updated_at)));
        if a.kind == "EVENT" {
            if let Some(s) = a.starts_at {
                line(&mut out, &format!("DTSTART:{}", stamp(s)));
            }
            if let Some(e) = a.ends_at {
                line(&mut out, &format!("DTEND:{}", stamp(e)));
            }
        } else {
            if let Some(d) = a.due_at {
                line(&mut out, &format!("DUE:{}", stamp(d)));
            }
            line(&mut out, "STATUS:NEEDS-ACTION");
        }
        line(&mut out, &format!("SUMMARY:{}", text(&summary)));
        if let Some(n) = &a.note {
            line(&mut out, &format!("DESCRIPTION:{}", text(n)));
        }
        let mut url = String::new();
        let _ = write!(
            url,
            "{base}/graphql?query=%7Bactivity(id%3A%22{}%22)%7Bid%20subject%20opportunity%7Bid%20reference%7D%7D%7D",
            a.id
        );
        line(&mut out, &format!("URL:{url}"));
        line(&mut out, end);
    }
    line(&mut out, "END:VCALENDAR");
    out
}

/// The feed behind a calendar token, or `None` for an unknown, rotated or
/// disabled token (or an inactive user).
pub async fn load_feed(state: &AppState, token: &str) -> AppResult<Option<String>> {
    // looked up by hash before the tenant is known, as for refresh tokens
    let Some(u) = user::Entity::find()
        .filter(user::Column::CalendarTokenHash.eq(sha256_hex(token)))
        .filter(user::Column::Active.eq(true))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let scope = TenantScope(crate::domain::TenantId(u.tenant_id));
    let now = crate::clock::now();
    let (from, to) = (
        (now - Duration::days(30)).timestamp_millis(),
        (now + Duration::days(180)).timestamp_millis(),
    );
    let rows = scope
        .find::<activity::Entity>()
        .filter(activity::Column::AssigneeId.eq(u.id))
        .filter(activity::Column::AtMs.gte(from))
        .filter(activity::Column::AtMs.lte(to))
        .filter(
            Condition::any()
                .add(activity::Column::Kind.eq("EVENT"))
                .add(
                    Condition::all()
                        .add(activity::Column::Kind.eq("TASK"))
                        .add(activity::Column::Done.eq(false)),
                ),
        )
        .order_by_asc(activity::Column::AtMs)
        .all(&state.db)
        .await?;
    let opp_ids: Vec<Uuid> = rows.iter().filter_map(|a| a.opportunity_id).collect();
    let opps = scope
        .find::<opportunity::Entity>()
        .filter(opportunity::Column::Id.is_in(opp_ids))
        .all(&state.db)
        .await?;
    let items: Vec<_> = rows
        .into_iter()
        .map(|a| {
            let o = a
                .opportunity_id
                .and_then(|id| opps.iter().find(|o| o.id == id).cloned());
            (a, o)
        })
        .collect();
    Ok(Some(render(state, &items, now)))
}
