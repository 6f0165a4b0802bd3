//! Generated data for demos and load tests: `crm-server seed`.
//!
//! Everything, ids included, derives from one `u64` through a small PRNG, so
//! that a data set is named by its seed: a benchmark or a bug report can say
//! "--scale 50000 --seed 42" and another machine gets the same rows. Times
//! are laid out relative to the start of the current UTC day, so due dates
//! and rotting stay meaningful whenever the seed is run; ids, amounts and
//! every other draw do not depend on the day.
use std::fmt;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use entity::{
    activity, contact, exchange_rate, opportunity, opportunity_contact, opportunity_team, pipeline,
    source, stage, stage_change, tenant, user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    Iterable, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::password;
use crate::domain::{Password, Role, TenantId};
use crate::error::AppError;
use crate::modules::pipeline::service::{DEFAULT_SOURCES, DEFAULT_STAGES};
use crate::tenancy::{TenantOwned, TenantScope, now};

mod generate;
mod opportunities;
mod plan;
mod rng;
mod vocabulary;
mod write;
use generate::*;
use plan::*;
use rng::*;
use vocabulary::*;
use write::*;

/// The password of every seeded user unless `--password` says otherwise.
pub const DEFAULT_PASSWORD: &str = "crm-seed-password";

/// Tenants a `--scale` run spreads its opportunities over.
pub const SCALE_TENANTS: u32 = 10;

const TENANT_CURRENCY: &str = "EUR";

/// How far back opportunities are created (about 18 months).
const HISTORY_DAYS: i64 = 540;

/// SQLite's cap on bind parameters in one statement, the lower of the two
/// backends (PostgreSQL allows 65535).
const MAX_BINDS: usize = 32_766;

#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// One small tenant, "demo", to click through.
    pub demo: bool,
    /// This many opportunities over `SCALE_TENANTS` tenants.
    pub scale: Option<u32>,
    pub seed: u64,
    pub password: String,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            demo: false,
            scale: None,
            seed: 42,
            password: DEFAULT_PASSWORD.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("nothing to seed: pass --demo and/or --scale N")]
    Nothing,
    #[error(
        "tenant slug(s) already taken: {0}; nothing was seeded (use a fresh database, or delete those tenants)"
    )]
    SlugTaken(String),
    #[error("invalid seed password: {0}")]
    Password(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// Row counts of what was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub users: usize,
    pub pipelines: usize,
    pub stages: usize,
    pub sources: usize,
    pub exchange_rates: usize,
    pub contacts: usize,
    pub opportunities: usize,
    pub opportunity_contacts: usize,
    pub team_members: usize,
    pub stage_changes: usize,
    pub activities: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.users += o.users;
        self.pipelines += o.pipelines;
        self.stages += o.stages;
        self.sources += o.sources;
        self.exchange_rates += o.exchange_rates;
        self.contacts += o.contacts;
        self.opportunities += o.opportunities;
        self.opportunity_contacts += o.opportunity_contacts;
        self.team_members += o.team_members;
        self.stage_changes += o.stage_changes;
        self.activities += o.activities;
    }
}

#[derive(Clone, Debug)]
pub struct TenantReport {
    pub tenant_id: Uuid,
    pub slug: String,
    pub admin_email: String,
    pub counts: Counts,
}

#[derive(Clone, Debug)]
pub struct SeedReport {
    pub seed: u64,
    /// Shared by every seeded user; printed so that someone can log in.
    pub password: String,
    pub tenants: Vec<TenantReport>,
    pub elapsed: StdDuration,
}

impl SeedReport {
    pub fn totals(&self) -> Counts {
        let mut total = Counts::default();
        for t in &self.tenants {
            total.add(&t.counts);
        }
        total
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tenant slug      admin login")?;
        for t in &self.tenants {
            writeln!(f, "{:<16} {} / {}", t.slug, t.admin_email, self.password)?;
        }
        let c = self.totals();
        writeln!(
            f,
            "every seeded user (admin@, manager@, sales1@, ... <slug>.test) has the password {:?}",
            self.password
        )?;
        writeln!(
            f,
            "totals: {} tenants, {} users, {} pipelines, {} stages, {} sources, {} exchange rates, \
             {} contacts, {} opportunities, {} opportunity contacts, {} team members, {} stage changes, \
             {} activities",
            self.tenants.len(),
            c.users,
            c.pipelines,
            c.stages,
            c.sources,
            c.exchange_rates,
            c.contacts,
            c.opportunities,
            c.opportunity_contacts,
            c.team_members,
            c.stage_changes,
            c.activities
        )?;
        writeln!(
            f,
            "seed {} done in {:.2}s",
            self.seed,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Seeds the tenants `opts` asks for into a migrated database. Fails before
/// writing anything when one of their slugs is taken; each tenant is then
/// written in a transaction of its own.
pub async fn run(db: &DatabaseConnection, opts: SeedOptions) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let plans = plans(&opts);
    if plans.is_empty() {
        return Err(SeedError::Nothing);
    }
    let slugs: Vec<&str> = plans.iter().map(|p| p.slug.as_str()).collect();
    let taken: Vec<String> = tenant::Entity::find()
        .filter(tenant::Column::Slug.is_in(slugs))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.slug)
        .collect();
    if !taken.is_empty() {
        return Err(SeedError::SlugTaken(taken.join(", ")));
    }

    let pw = Password::parse("password", &opts.password).map_err(password_error)?;
    // argon2 is deliberately slow: one hash serves every seeded user
    let password_hash = password::hash_standalone(&pw)
        .await
        .map_err(password_error)?;
    let anchor = now().date_naive().and_time(NaiveTime::MIN).and_utc();

    let mut tenants = Vec::with_capacity(plans.len());
    for plan in &plans {
        let data = generate(plan, opts.seed, anchor, &password_hash);
        let report = TenantReport {
            tenant_id: data.tenant.id,
            slug: data.tenant.slug.clone(),
            admin_email: data
                .users
                .first()
                .map(|u| u.email.clone())
                .unwrap_or_default(),
            counts: data.counts(),
        };
        write(db, data).await?;
        tracing::info!(
            slug = %report.slug,
            opportunities = report.counts.opportunities,
            "seeded tenant"
        );
        tenants.push(report);
    }
    Ok(SeedReport {
        seed: opts.seed,
        password: opts.password,
        tenants,
        elapsed: started.elapsed(),
    })
}

fn password_error(e: AppError) -> SeedError {
    match e {
        AppError::Internal(cause) => SeedError::Password(format!("hashing failed: {cause}")),
        other => SeedError::Password(other.to_string()),
    }
}

// ---------------------------------------------------------------- PRNG

// ---------------------------------------------------------------- plans

// ---------------------------------------------------------------- names

// ---------------------------------------------------------------- generation

// ---------------------------------------------------------------- writing

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(10) < 10);
            let r = a.range(-90, 180);
            assert!((-90..=180).contains(&r));
            b.below(10);
            b.range(-90, 180);
        }
        assert_eq!(a.below(0), 0);
        assert_eq!(a.uuid().get_version_num(), 4);
    }

    #[test]
    fn scale_spreads_every_opportunity() {
        let opts = SeedOptions {
            scale: Some(1_003),
            ..Default::default()
        };
        let p = plans(&opts);
        assert_eq!(p.len(), SCALE_TENANTS as usize);
        assert_eq!(p.iter().map(|t| t.opportunities).sum::<usize>(), 1_003);
    }
}
