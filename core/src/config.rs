//! Configuration from environment variables (and an optional `.env`).
//! Every variable is listed, with its default, in the README.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::auth::jwt::JwtSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("JWT_SECRET must be set when APP_ENV=production")]
    MissingJwtSecret,
    #[error("could not read or write the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind_address: SocketAddr,
    pub database_url: String,
    pub database_max_connections: u32,
    pub jwt: JwtSettings,
    pub refresh_token_ttl: Duration,
    /// `REFRESH_REUSE_GRACE_SECS`: see `AppState::refresh_reuse_grace`.
    pub refresh_reuse_grace: Duration,
    pub cors_allowed_origins: Vec<String>,
    /// Request headers browsers may send cross-origin, beyond the ones
    /// common GraphQL clients and tracers add (see `CORS_DEFAULT_HEADERS`).
    pub cors_allowed_headers: Vec<String>,
    pub graphiql: bool,
    /// Whether the schema answers introspection (`__schema`, `__type`)
    /// and suggests field names in validation errors.
    pub introspection: bool,
    pub workers: usize,
    /// Base URL of this server as clients see it (feed links use it).
    pub public_url: String,
    /// How many events a subscriber may fall behind before it is dropped.
    pub event_buffer: usize,
    /// Messages queued for one WebSocket before its client counts as too
    /// slow and is disconnected.
    pub ws_send_queue: usize,
    /// How often the job raising BECAME_LATE / BECAME_OVERDUE runs
    /// (zero switches it off).
    pub event_sweep_interval: Duration,
    /// How long the event log keeps events (`changes` and resumable
    /// subscriptions reach this far back).
    pub event_retention: Duration,
    /// How often each instance re-reads the log for its subscribers'
    /// tenants, whatever the hints: the most a lost hint delays an event.
    pub event_backstop_interval: Duration,
    /// Whether a commit on PostgreSQL hints other instances through NOTIFY
    /// (otherwise they find its events within their backstop interval).
    pub event_hints: bool,
    /// Outgoing webhooks.
    pub webhooks: WebhookSettings,
    /// `EVENT_TRANSPORT=nats`: events travel between instances through
    /// NATS JetStream (PostgreSQL only); None: PostgreSQL notifications.
    pub nats: Option<crate::events::nats::NatsSettings>,
    /// How often an open WebSocket re-checks its user.
    pub ws_recheck_interval: Duration,
    /// Wall-clock limit of one GraphQL request over HTTP, and PostgreSQL's
    /// `statement_timeout`.
    pub request_timeout: Duration,
    /// Password hashes computed at once (each takes 19 MiB).
    pub hash_threads: usize,
    /// Password checks that may wait for a hashing thread; beyond them,
    /// RATE_LIMITED.
    pub hash_queue: usize,
    /// PostgreSQL role the server's queries run as (created and granted
    /// row access on start when the connecting user may); None runs them
    /// as the connecting user.
    pub database_app_role: Option<String>,
    /// The application's own tenant filter. Always on; tests turn it off
    /// to prove that row-level security alone keeps tenants apart.
    pub tenant_filter: bool,
    /// The business clock (see `clock`): the system's, except in tests.
    pub clock: crate::clock::Clock,
}

/// Outgoing webhooks: who may be called, how often, for how long.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Plain `http://` endpoints (development only).
    pub allow_http: bool,
    /// Endpoints on loopback and private networks (development and tests).
    /// Link-local and cloud metadata addresses stay refused.
    pub allow_private: bool,
    /// Endpoints served at once by one instance.
    pub workers: usize,
    /// The first retry's delay; each next one doubles (with jitter), up
    /// to an hour.
    pub retry_base: Duration,
    /// An endpoint failing for this long is disabled.
    pub give_up_after: Duration,
    /// Per delivery.
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private: false,
            workers: 4,
            retry_base: Duration::from_secs(5),
            give_up_after: Duration::from_secs(24 * 3_600),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Request headers every browser client may send cross-origin: the ones the
/// API reads, and the ones common clients and tracers add (Apollo Client's
/// client awareness, W3C trace context, Sentry, request ids). A preflight
/// that names one missing here fails in the browser before any request.
pub const CORS_DEFAULT_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "traceparent",
    "tracestate",
    "sentry-trace",
    "baggage",
    "x-request-id",
    "idempotency-key",
];

/// `CORS_ALLOWED_HEADERS`: comma-separated header names (token characters
/// only, as HTTP defines them), lower-cased.
fn cors_headers(v: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for h in v.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        let token = h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(ConfigError::Invalid {
                name: "CORS_ALLOWED_HEADERS",
                reason: format!("{h:?} is not a header name"),
            });
        }
        out.push(h.to_ascii_lowercase());
    }
    Ok(out)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

impl Settings {
    /// Reads the process environment. `.env` is loaded first when present.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let environment = match var("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_ENV",
                    reason: format!("expected development or production, got {other:?}"),
                });
            }
        };
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("crm.db").display()));
        let secret = match var("JWT_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET",
                    reason: "must be at least 32 characters".into(),
                });
            }
            Some(s) if environment == Environment::Production && weak_secret(&s) => {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET",
                    reason: "is a placeholder or too predictable for production: generate one with `openssl rand -base64 48`".into(),
                });
            }
            Some(s) => s,
            None if environment == Environment::Production => {
                return Err(ConfigError::MissingJwtSecret);
            }
            None => dev_secret(&data_dir)?,
        };
        let access_ttl: u64 = parse("ACCESS_TOKEN_TTL_SECS", 900)?;
        let refresh_days: u64 = parse("REFRESH_TOKEN_TTL_DAYS", 30)?;
        let cors_allowed_origins = var("CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let cors_allowed_headers = match var("CORS_ALLOWED_HEADERS") {
            None => Vec::new(),
            Some(v) => cors_headers(&v)?,
        };
        let bind_address = parse("BIND_ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        Ok(Self {
            bind_address,
            public_url: var("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind_address}")),
            database_url,
            database_max_connections: parse("DATABASE_MAX_CONNECTIONS", 10)?,
            jwt: JwtSettings {
                secret,
                issuer: var("JWT_ISSUER").unwrap_or_else(|| "crm-server".into()),
                audience: var("JWT_AUDIENCE").unwrap_or_else(|| "crm-api".into()),
                access_ttl: Duration::from_secs(access_ttl),
            },
            refresh_token_ttl: Duration::from_secs(refresh_days * 86_400),
            refresh_reuse_grace: Duration::from_secs(parse("REFRESH_REUSE_GRACE_SECS", 30)?),
            cors_allowed_origins,
            cors_allowed_headers,
            graphiql: parse("GRAPHIQL", environment != Environment::Production)?,
            introspection: parse("INTROSPECTION", true)?,
            workers: parse("WORKERS", 2)?,
            event_buffer: parse("EVENT_BUFFER", 4096)?,
            ws_send_queue: parse("WS_SEND_QUEUE", 256)?,
            event_sweep_interval: Duration::from_millis(parse("EVENT_SWEEP_INTERVAL_MS", 30_000)?),
            event_retention: Duration::from_secs(
                parse::<u64>("EVENT_RETENTION_DAYS", 30)?.saturating_mul(86_400),
            ),
            event_backstop_interval: Duration::from_millis(
                parse("EVENT_BACKSTOP_INTERVAL_MS", 1_000)?.max(50),
            ),
            event_hints: parse("EVENT_HINTS", true)?,
            nats: match var("EVENT_TRANSPORT").as_deref() {
                None | Some("postgres") => None,
                Some("nats") => Some(crate::events::nats::NatsSettings {
                    url: var("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
                    stream: var("NATS_STREAM").unwrap_or_else(|| "CRM_EVENTS".into()),
                    subject_prefix: var("NATS_SUBJECT_PREFIX")
                        .unwrap_or_else(|| "crm.events".into()),
                }),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        name: "EVENT_TRANSPORT",
                        reason: "must be postgres or nats".into(),
                    });
                }
            },
            webhooks: WebhookSettings {
                allow_http: parse("WEBHOOK_ALLOW_HTTP", false)?,
                allow_private: parse("WEBHOOK_ALLOW_PRIVATE", false)?,
                workers: parse("WEBHOOK_WORKERS", 4)?,
                retry_base: Duration::from_millis(parse("WEBHOOK_RETRY_BASE_MS", 5_000)?.max(10)),
                give_up_after: Duration::from_secs(
                    parse("WEBHOOK_GIVE_UP_HOURS", 24u64)?.saturating_mul(3_600),
                ),
                timeout: Duration::from_secs(10),
            },
            ws_recheck_interval: Duration::from_secs(parse("WS_RECHECK_SECS", 60)?),
            request_timeout: Duration::from_secs(parse("REQUEST_TIMEOUT_SECS", 10)?.max(1)),
            hash_threads: parse(
                "HASH_THREADS",
                std::thread::available_parallelism().map_or(2, usize::from),
            )?,
            hash_queue: parse("HASH_QUEUE", 16)?,
            database_app_role: match std::env::var("DATABASE_APP_ROLE") {
                Ok(v) if v.trim().is_empty() => None,
                Ok(v) => Some(v.trim().to_string()),
                Err(_) => Some("crm_app".to_string()),
            },
            tenant_filter: true,
            clock: crate::clock::Clock::System,
        })
    }
}

/// A secret anyone could guess: a documented placeholder, or one built
/// from a handful of distinct characters (`aaaa…`, `abcabc…`, `1234…`).
pub fn weak_secret(secret: &str) -> bool {
    let lower = secret.to_ascii_lowercase();
    let placeholder = [
        "change-me",
        "changeme",
        "change_me",
        "placeholder",
        "example",
        "secret",
        "password",
        "replace",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let distinct = secret
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    placeholder || distinct < 12
}

/// A development run without JWT_SECRET gets a random secret that survives
/// restarts (so sessions do too), kept in the data folder.
fn dev_secret(data_dir: &std::path::Path) -> Result<String, ConfigError> {
    let path = data_dir.join("jwt-secret");
    let io = |source| ConfigError::DataDir {
        path: path.clone(),
        source,
    };
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let secret = crate::auth::random_token(48);
    crate::db::write_private(&path, secret.as_bytes()).map_err(io)?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated a development secret; set JWT_SECRET in production"
    );
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_and_low_entropy_secrets_are_weak() {
        for weak in [
            "change-me-change-me-change-me-change-me",
            "my-super-secret-key-for-jwt-signing-0001",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abcabcabcabcabcabcabcabcabcabcabcabcabc",
            "12345678901234567890123456789012",
        ] {
            assert!(weak_secret(weak), "{weak}");
        }
        assert!(!weak_secret("q3N8vT1zLw0XcY7rBf2KdHs9GmPeJa4U5iRoVn6"));
    }

    #[test]
    fn cors_headers_are_lowercased_and_checked() {
        assert_eq!(
            cors_headers(" X-Tenant-Hint, ,traceparent ").ok(),
            Some(vec!["x-tenant-hint".to_string(), "traceparent".to_string()])
        );
        for bad in ["x bad", "x:bad", "caf\u{e9}", "x\0y", "a(b)"] {
            assert!(cors_headers(bad).is_err(), "{bad:?}");
        }
    }
}
