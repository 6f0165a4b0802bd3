//! HS256 access tokens with the algorithm pinned.
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Role, TenantId, UserId};
use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct JwtSettings {
    pub secret: String,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"***")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub tid: Uuid,
    /// The session (refresh-token family) the token was issued to: the
    /// token dies with its session (logout, password change, reuse).
    pub sid: Uuid,
    /// For clients (to shape their UI); the server never trusts it and
    /// reads the role from the user row on every request.
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub typ: String,
}

/// Verified identity carried by a valid access token.
#[derive(Clone, Copy, Debug)]
pub struct TokenIdentity {
    pub user: UserId,
    pub tenant: TenantId,
    pub session: Uuid,
    pub expires_at: DateTime<Utc>,
}

pub struct JwtService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    settings: JwtSettings,
}

impl JwtService {
    pub fn new(settings: JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // clock skew between instances; expiresAt promises no more than this
        validation.leeway = 5;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(settings.secret.as_bytes()),
            decoding: DecodingKey::from_secret(settings.secret.as_bytes()),
            validation,
            settings,
        }
    }

    /// Issues an access token; returns it with its expiry.
    pub fn issue(
        &self,
        user: UserId,
        tenant: TenantId,
        session: Uuid,
        role: Role,
    ) -> AppResult<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let ttl =
            chrono::Duration::from_std(self.settings.access_ttl).map_err(AppError::internal)?;
        let exp = now + ttl;
        let claims = Claims {
            sub: user.0,
            tid: tenant.0,
            sid: session,
            role: role.as_str().to_string(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            exp: exp.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            typ: "access".into(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        let exp = DateTime::from_timestamp(claims.exp, 0).unwrap_or(exp);
        Ok((token, exp))
    }

    /// Verifies signature, algorithm, expiry, not-before, issuer, audience
    /// and token type. Any failure is simply "no identity".
    pub fn verify(&self, token: &str) -> Option<TokenIdentity> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        if data.claims.typ != "access" {
            return None;
        }
        Some(TokenIdentity {
            user: UserId(data.claims.sub),
            tenant: TenantId(data.claims.tid),
            session: data.claims.sid,
            expires_at: DateTime::from_timestamp(data.claims.exp, 0)?,
        })
    }
}
