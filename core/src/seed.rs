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

/// splitmix64: tiny, fast and well mixed. For test data only, never secrets.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0. Multiply-shift rather than `%`:
    /// no division, and a bias of at most n / 2^64, nothing for test data.
    fn below(&mut self, n: usize) -> usize {
        // a 64-bit draw times n, shifted down by 64, is below n: it always
        // fits, and the fallback is never taken
        usize::try_from((u128::from(self.next_u64()) * n as u128) >> 64).unwrap_or(0)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let width = u128::from(hi.abs_diff(lo)) + 1;
        // below width, so lo + offset is at most hi: neither fallback is taken
        let offset = (u128::from(self.next_u64()) * width) >> 64;
        lo.checked_add_unsigned(u64::try_from(offset).unwrap_or(0))
            .unwrap_or(hi)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    /// A uniform draw from `items`; `T::default()` for an empty list,
    /// which no caller passes.
    fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        nth(items, self.below(items.len()))
    }

    /// A well-formed version 4 UUID made of PRNG bytes.
    fn uuid(&mut self) -> Uuid {
        let high = self.next_u64();
        let low = self.next_u64();
        let bytes = ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// `items[i % len]`, round and round; `T::default()` for an empty list,
/// which no caller passes.
fn nth<T: Copy + Default>(items: &[T], i: usize) -> T {
    i.checked_rem(items.len())
        .and_then(|i| items.get(i))
        .copied()
        .unwrap_or_default()
}

/// Gives each tenant its own stream, so that "demo" and "scale-1" seeded
/// with the same number do not share ids.
fn stream_seed(seed: u64, slug: &str) -> u64 {
    // FNV-1a
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in slug.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    seed ^ h
}

// ---------------------------------------------------------------- plans

#[derive(Clone, Copy)]
struct StageSpec {
    name: &'static str,
    probability: i32,
    rotten_after_days: Option<i32>,
}

const fn st(name: &'static str, probability: i32, rotten_after_days: Option<i32>) -> StageSpec {
    StageSpec {
        name,
        probability,
        rotten_after_days,
    }
}

/// The demo tenant has the pipeline a sign-up gets; its open stages rot
/// after this many days, so that the demo shows rotting too.
const DEMO_ROTTEN_AFTER_DAYS: i32 = 21;

const SCALE_STAGES: &[StageSpec] = &[
    st("Lead in", 10, Some(14)),
    st("Qualified", 25, None),
    st("Demo done", 40, Some(21)),
    st("Proposal sent", 60, None),
    st("Negotiation", 80, Some(30)),
    st("Closing", 100, None),
];

const SCALE_PIPELINES: &[&str] = &[
    "New business",
    "Renewals",
    "Upsell",
    "Partners",
    "Public tenders",
];

/// Role, email local part and name. The admin comes first: the report
/// names it as the tenant's login.
type UserSpec = (Role, &'static str, &'static str);

const SCALE_USERS: &[UserSpec] = &[
    (Role::Admin, "admin", "Alice Martin"),
    (Role::Manager, "manager", "Marc Dubois"),
    (Role::Sales, "sales1", "Sofia Rossi"),
    (Role::Sales, "sales2", "Tom Becker"),
];

/// One user of each role.
const DEMO_USERS: &[UserSpec] = SCALE_USERS.split_at(3).0;

const TIMEZONES: &[&str] = &[
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "UTC",
];

struct TenantPlan {
    slug: String,
    name: String,
    timezone: &'static str,
    users: &'static [UserSpec],
    pipelines: Vec<(&'static str, Vec<StageSpec>)>,
    contacts: usize,
    opportunities: usize,
}

fn plans(opts: &SeedOptions) -> Vec<TenantPlan> {
    let mut out = Vec::new();
    if opts.demo {
        out.push(TenantPlan {
            slug: "demo".into(),
            name: "Demo Company".into(),
            timezone: "Europe/Paris",
            users: DEMO_USERS,
            pipelines: vec![(
                "Sales",
                DEFAULT_STAGES
                    .iter()
                    .map(|&(name, probability)| StageSpec {
                        name,
                        probability,
                        rotten_after_days: (probability < 100).then_some(DEMO_ROTTEN_AFTER_DAYS),
                    })
                    .collect(),
            )],
            contacts: 20,
            opportunities: 30,
        });
    }
    if let Some(n) = opts.scale {
        let n = n as usize;
        let tenants = SCALE_TENANTS as usize;
        for i in 0..tenants {
            let opportunities = n / tenants + usize::from(i < n % tenants);
            out.push(TenantPlan {
                slug: format!("scale-{}", i + 1),
                name: format!("Scale Tenant {}", i + 1),
                timezone: nth(TIMEZONES, i),
                users: SCALE_USERS,
                pipelines: SCALE_PIPELINES
                    .iter()
                    .map(|name| (*name, SCALE_STAGES.to_vec()))
                    .collect(),
                // a handful even for tiny runs, so that opportunities can
                // have two distinct contacts
                contacts: (opportunities / 2).max(4),
                opportunities,
            });
        }
    }
    out
}

// ---------------------------------------------------------------- names

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Oscorp",
    "Monarch",
    "Aperture",
    "Nakatomi",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Wingtip",
];
const COMPANY_TRADES: &[&str] = &[
    "Industries",
    "Logistics",
    "Foods",
    "Systems",
    "Labs",
    "Consulting",
    "Energy",
    "Media",
    "Retail",
    "Pharma",
];
const COMPANY_FORMS: &[&str] = &["GmbH", "SA", "Ltd", "Inc", "SAS", "BV"];
const FIRST_NAMES: &[&str] = &[
    "Emma", "Liam", "Olivia", "Noah", "Chloe", "Lucas", "Mia", "Hugo", "Lea", "Paul", "Anna",
    "Jonas", "Sara", "Louis", "Julia", "Felix", "Ines", "Max", "Clara", "Leon",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Muller", "Dupont", "Garcia", "Rossi", "Jansen", "Novak", "Silva", "Berg", "Moreau",
    "Fischer", "Lambert", "Costa", "Weber", "Laurent", "Kowalski", "Meyer", "Bernard", "Ricci",
    "Schmidt",
];
const PRODUCTS: &[&str] = &[
    "CRM licences",
    "Consulting package",
    "Annual maintenance",
    "Website redesign",
    "Training days",
    "Hardware renewal",
    "Support contract",
    "Cloud migration",
    "Data audit",
    "Custom integration",
];
const CONTACT_ROLES: &[Option<&str>] = &[
    Some("decision maker"),
    Some("buyer"),
    Some("technical contact"),
    Some("champion"),
    None,
];
const LOST_REASONS: &[&str] = &[
    "Price too high",
    "Chose a competitor",
    "No budget this year",
    "Project cancelled",
    "No response",
];
const OVERRIDES: &[i32] = &[15, 35, 65, 90];

/// Foreign currencies used beside the tenant's, with their rate in
/// billionths of a EUR.
const RATES: &[(&str, i64)] = &[("USD", 920_000_000), ("GBP", 1_170_000_000)];

// ---------------------------------------------------------------- generation

struct TenantData {
    tenant: tenant::Model,
    users: Vec<user::Model>,
    pipelines: Vec<pipeline::Model>,
    stages: Vec<stage::Model>,
    sources: Vec<source::Model>,
    exchange_rates: Vec<exchange_rate::Model>,
    contacts: Vec<contact::Model>,
    opportunities: Vec<opportunity::Model>,
    opportunity_contacts: Vec<opportunity_contact::Model>,
    team: Vec<opportunity_team::Model>,
    stage_changes: Vec<stage_change::Model>,
    activities: Vec<activity::Model>,
}

impl TenantData {
    fn counts(&self) -> Counts {
        Counts {
            users: self.users.len(),
            pipelines: self.pipelines.len(),
            stages: self.stages.len(),
            sources: self.sources.len(),
            exchange_rates: self.exchange_rates.len(),
            contacts: self.contacts.len(),
            opportunities: self.opportunities.len(),
            opportunity_contacts: self.opportunity_contacts.len(),
            team_members: self.team.len(),
            stage_changes: self.stage_changes.len(),
            activities: self.activities.len(),
        }
    }
}

fn generate(
    plan: &TenantPlan,
    seed: u64,
    anchor: DateTime<Utc>,
    password_hash: &str,
) -> TenantData {
    let mut rng = Rng::new(stream_seed(seed, &plan.slug));
    let tenant_id = rng.uuid();
    // the tenant predates its oldest opportunity
    let born = anchor - Duration::days(HISTORY_DAYS + 20);
    let history_secs = HISTORY_DAYS * 86_400;

    let users: Vec<user::Model> = plan
        .users
        .iter()
        .map(|&(role, local, name)| user::Model {
            id: rng.uuid(),
            tenant_id,
            email: format!("{local}@{}.test", plan.slug),
            name: name.to_string(),
            role: role.as_str().to_string(),
            active: true,
            password_hash: password_hash.to_string(),
            calendar_token_hash: None,
            calendar_version: 0,
            created_at: born,
            updated_at: born,
        })
        .collect();
    let sales: Vec<usize> = plan
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.0 == Role::Sales)
        .map(|(i, _)| i)
        .collect();

    let mut pipelines = Vec::with_capacity(plan.pipelines.len());
    let mut stages = Vec::new();
    // per pipeline, the range of its stages in `stages`, in board order
    let mut stage_ranges = Vec::with_capacity(plan.pipelines.len());
    for (position, (name, specs)) in plan.pipelines.iter().enumerate() {
        let pipeline_id = rng.uuid();
        pipelines.push(pipeline::Model {
            id: pipeline_id,
            tenant_id,
            name: (*name).to_string(),
            // a plan has a handful of pipelines and stages
            position: i32::try_from(position).unwrap_or(i32::MAX),
            archived: false,
            created_at: born,
            updated_at: born,
        });
        let first = stages.len();
        for (position, spec) in specs.iter().enumerate() {
            stages.push(stage::Model {
                id: rng.uuid(),
                tenant_id,
                pipeline_id,
                name: spec.name.to_string(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
                probability: spec.probability,
                rotten_after_days: spec.rotten_after_days,
                deleted: false,
                created_at: born,
                updated_at: born,
            });
        }
        stage_ranges.push(first..stages.len());
    }

    let sources: Vec<source::Model> = DEFAULT_SOURCES
        .iter()
        .map(|name| source::Model {
            id: rng.uuid(),
            tenant_id,
            name: (*name).to_string(),
            archived: false,
            created_at: born,
        })
        .collect();
    let source_ids: Vec<Uuid> = sources.iter().map(|s| s.id).collect();

    // Contacts in creation order, so that a person's company and an
    // opportunity's contacts are always older than what points at them.
    // The min of two draws leans towards the early months.
    let contact_span = (HISTORY_DAYS + 20) * 86_400;
    let mut contact_offsets: Vec<i64> = (0..plan.contacts)
        .map(|i| {
            if i == 0 {
                0
            } else {
                rng.range(0, contact_span).min(rng.range(0, contact_span))
            }
        })
        .collect();
    contact_offsets.sort_unstable();
    let mut contacts: Vec<contact::Model> = Vec::with_capacity(plan.contacts);
    // the company each contact belongs to (a company belongs to itself)
    let mut company_of: Vec<Option<usize>> = Vec::with_capacity(plan.contacts);
    let mut companies: Vec<usize> = Vec::new();
    // per contact, the email domain its people use (empty for a person)
    let mut domains: Vec<String> = Vec::with_capacity(plan.contacts);
    for (i, offset) in contact_offsets.iter().enumerate() {
        let created_at = born + Duration::seconds(*offset);
        let is_company = i == 0 || rng.percent(30);
        let id = rng.uuid();
        if is_company {
            let word = rng.pick(COMPANY_WORDS);
            let trade = rng.pick(COMPANY_TRADES);
            let form = rng.pick(COMPANY_FORMS);
            let domain = format!("{}-{}.test", word.to_lowercase(), trade.to_lowercase());
            let email = rng.percent(60).then(|| format!("contact@{domain}"));
            let phone = rng.percent(70).then(|| phone(&mut rng));
            let source_id = rng.percent(50).then(|| rng.pick(&source_ids));
            contacts.push(contact::Model {
                id,
                tenant_id,
                kind: "COMPANY".into(),
                lifecycle: "PROSPECT".into(),
                name: format!("{word} {trade} {form}"),
                email,
                phone,
                company_id: None,
                source_id,
                created_at,
                updated_at: created_at,
            });
            company_of.push(Some(i));
            companies.push(i);
            domains.push(domain);
        } else {
            let first = rng.pick(FIRST_NAMES);
            let last = rng.pick(LAST_NAMES);
            let company = (!companies.is_empty() && rng.percent(85)).then(|| rng.pick(&companies));
            let domain = company
                .and_then(|c| domains.get(c).cloned())
                .unwrap_or_else(|| "mail.test".to_string());
            let email = rng
                .percent(80)
                .then(|| format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()));
            let phone = rng.percent(50).then(|| phone(&mut rng));
            let source_id = rng.percent(50).then(|| rng.pick(&source_ids));
            contacts.push(contact::Model {
                id,
                tenant_id,
                kind: "PERSON".into(),
                lifecycle: "PROSPECT".into(),
                name: format!("{first} {last}"),
                email,
                phone,
                company_id: company.and_then(|c| contacts.get(c)).map(|c| c.id),
                source_id,
                created_at,
                updated_at: created_at,
            });
            company_of.push(company);
            domains.push(String::new());
        }
    }
    let mut won_contact = vec![false; contacts.len()];

    // Opportunities in creation order, so that OPP-1 is the oldest.
    let mut ages: Vec<i64> = (0..plan.opportunities)
        .map(|_| rng.range(3_600, history_secs))
        .collect();
    ages.sort_unstable_by(|a, b| b.cmp(a));
    let mut opportunities = Vec::with_capacity(plan.opportunities);
    let mut opportunity_contacts = Vec::with_capacity(plan.opportunities * 3 / 2);
    let mut team = Vec::new();
    let mut stage_changes = Vec::with_capacity(plan.opportunities * 3);
    let mut activities = Vec::with_capacity(plan.opportunities * 4);
    let mut used_currency = [false; RATES.len()];
    let today = anchor.date_naive();

    for (i, &age) in ages.iter().enumerate() {
        let id = rng.uuid();
        let created_at = anchor - Duration::seconds(age);

        let p = if rng.percent(40) {
            0
        } else {
            rng.below(pipelines.len())
        };
        // p is below pipelines.len(), which stage_ranges matches: the
        // fallbacks (no pipeline, no stages) are never taken
        let pipeline_id = pipelines.get(p).map(|p| p.id).unwrap_or_default();
        let pipeline_stages: &[stage::Model] = stage_ranges
            .get(p)
            .and_then(|r| stages.get(r.clone()))
            .unwrap_or_default();
        let n = pipeline_stages.len();
        let last = n.saturating_sub(1);

        // closing takes time: the newest opportunities are nearly all open
        let closed_pct = if age < 7 * 86_400 { 3 } else { 35 };
        let status = if rng.percent(closed_pct) {
            if rng.percent(55) { "WON" } else { "LOST" }
        } else {
            "OPEN"
        };
        let end = match status {
            "WON" => last,
            // an open deal rarely sits in the final (100%) stage unmarked
            _ => rng.below(last).min(rng.below(last)),
        };
        let start = if rng.percent(15) {
            rng.below(end + 1)
        } else {
            0
        };
        let mut path = vec![start];
        for s in start + 1..=end {
            if s == end || !rng.percent(15) {
                path.push(s);
            }
        }

        // seconds after created_at: the stage changes, then the close
        let close_offset = match status {
            "OPEN" => age,
            _ => rng.range((age / 10).max(60), age),
        };
        // drawn below close_offset by the path length, so that making the
        // times strictly increasing cannot push one past the close (a path
        // has at most one step per stage, so the fallback is never taken)
        let steps = i64::try_from(path.len()).unwrap_or(i64::MAX);
        let room = (close_offset - steps).max(1);
        let mut offsets: Vec<i64> = (1..path.len()).map(|_| rng.range(1, room)).collect();
        offsets.sort_unstable();
        offsets.insert(0, 0);
        let mut floor = i64::MIN;
        for offset in &mut offsets {
            *offset = (*offset).max(floor);
            floor = *offset + 1;
        }
        // one offset per step of the path, which is never empty
        let stage_entered_at =
            created_at + Duration::seconds(offsets.last().copied().unwrap_or_default());
        let closed_at = (status != "OPEN").then(|| created_at + Duration::seconds(close_offset));

        let currency_draw = rng.below(100);
        let currency = if currency_draw < 85 {
            TENANT_CURRENCY
        } else {
            let r = usize::from(currency_draw >= 95);
            // r is 0 or 1, and RATES has two entries
            if let Some(used) = used_currency.get_mut(r) {
                *used = true;
            }
            RATES.get(r).map_or(TENANT_CURRENCY, |rate| rate.0)
        };
        // squared draw: many small deals, a few large ones
        // below 50_001: the fallback is never taken
        let u = i64::try_from(rng.below(50_001)).unwrap_or_default();
        let potential_cents = u * u / 50_000 * 100;
        let due_date = rng
            .percent(85)
            .then(|| today + Duration::days(rng.range(-90, 180)));
        let owner = if !sales.is_empty() && rng.percent(75) {
            rng.pick(&sales)
        } else {
            rng.below(users.len())
        };
        // owner indexes users (a sales index or a draw below the count)
        let owner_id = users.get(owner).map(|u| u.id).unwrap_or_default();
        let source_id = rng.percent(80).then(|| rng.pick(&source_ids));
        let probability_override =
            (status == "OPEN" && rng.percent(5)).then(|| rng.pick(OVERRIDES));
        let lost_reason = (status == "LOST").then(|| rng.pick(LOST_REASONS).to_string());

        // only contacts that existed when the opportunity was created
        let known = contacts
            .partition_point(|c| c.created_at <= created_at)
            .max(1);
        let primary = rng.below(known);
        let mut linked = vec![primary];
        if rng.percent(40) {
            let other = match company_of.get(primary).copied().flatten() {
                Some(c) if c != primary && rng.percent(70) => c,
                _ => rng.below(known),
            };
            if other != primary {
                linked.push(other);
            }
        }
        for (k, &c) in linked.iter().enumerate() {
            opportunity_contacts.push(opportunity_contact::Model {
                id: rng.uuid(),
                tenant_id,
                opportunity_id: id,
                contact_id: contacts.get(c).map(|c| c.id).unwrap_or_default(),
                role: rng.pick(CONTACT_ROLES).map(str::to_string),
                is_primary: k == 0,
                created_at,
            });
            if status == "WON"
                && let Some(won) = won_contact.get_mut(c)
            {
                *won = true;
            }
        }
        if users.len() > 1 && rng.percent(15) {
            let mut member = rng.below(users.len() - 1);
            if member >= owner {
                member += 1;
            }
            team.push(opportunity_team::Model {
                id: rng.uuid(),
                tenant_id,
                opportunity_id: id,
                user_id: users.get(member).map(|u| u.id).unwrap_or_default(),
            });
        }

        let mut from = None;
        // path holds stage indices below n, one offset each
        for (&s, &offset) in path.iter().zip(&offsets) {
            let to = pipeline_stages.get(s).map(|s| s.id).unwrap_or_default();
            stage_changes.push(stage_change::Model {
                id: rng.uuid(),
                tenant_id,
                opportunity_id: id,
                from_stage_id: from,
                to_stage_id: to,
                changed_by: Some(owner_id),
                changed_at: created_at + Duration::seconds(offset),
            });
            from = Some(to);
        }

        // four activities per opportunity: the request note, a discovery
        // call, a meeting and a follow-up task (open ones still pending)
        let closed = status != "OPEN";
        let mut last_activity_at: Option<DateTime<Utc>> = None;
        let kinds: [(&str, &str, i64); 4] = [
            ("NOTE", "Initial request", 0),
            ("CALL", "Discovery call", 1),
            ("EVENT", "Meeting", rng.range(-10, 30)),
            ("TASK", "Follow up", rng.range(-5, 20)),
        ];
        for (kind, subject, days) in kinds {
            let at = match kind {
                "NOTE" | "CALL" => created_at + Duration::hours(1 + 24 * days),
                _ if closed => created_at + Duration::days(2 + days.abs()),
                _ => anchor + Duration::days(days),
            };
            let done =
                matches!(kind, "NOTE" | "CALL") || closed || (kind == "EVENT" && at < anchor);
            let completed_at = done.then_some(at);
            if let Some(c) = completed_at {
                last_activity_at = Some(last_activity_at.map_or(c, |l| l.max(c)));
            }
            activities.push(activity::Model {
                id: rng.uuid(),
                tenant_id,
                kind: kind.to_string(),
                subject: subject.to_string(),
                note: (kind == "CALL").then(|| "Talked through needs and budget.".to_string()),
                opportunity_id: Some(id),
                contact_id: contacts.get(primary).map(|c| c.id),
                assignee_id: owner_id,
                created_by: owner_id,
                due_at: (kind == "TASK").then_some(at),
                starts_at: (kind == "EVENT").then_some(at),
                ends_at: (kind == "EVENT").then_some(at + Duration::hours(1)),
                at,
                at_ms: at.timestamp_millis(),
                done,
                completed_at,
                // seeded history is not news: what is already past due is
                // marked, so the first sweep raises nothing for it
                overdue_marked_due: (kind == "TASK" && at < anchor).then_some(at),
                created_at,
                updated_at: completed_at.unwrap_or(created_at),
            });
        }

        let company = company_of
            .get(primary)
            .copied()
            .flatten()
            .unwrap_or(primary);
        let company_name = contacts.get(company).map_or("", |c| c.name.as_str());
        // opportunities number from 1; a plan holds far fewer than i64::MAX
        let number = i64::try_from(i + 1).unwrap_or(i64::MAX);
        opportunities.push(opportunity::Model {
            id,
            tenant_id,
            number,
            reference: format!("OPP-{number}"),
            title: format!("{} for {company_name}", rng.pick(PRODUCTS)),
            pipeline_id,
            stage_id: pipeline_stages.get(end).map(|s| s.id).unwrap_or_default(),
            status: status.to_string(),
            probability_override,
            potential_cents,
            currency: currency.to_string(),
            due_date,
            owner_id,
            source_id,
            lost_reason,
            closed_at,
            stage_entered_at,
            last_activity_at,
            version: 1,
            late_marked_due: due_date.filter(|d| *d < anchor.date_naive()),
            created_at,
            updated_at: closed_at.unwrap_or(stage_entered_at),
        });
    }

    // a contact becomes a client when one of its opportunities is won
    for (c, won) in contacts.iter_mut().zip(&won_contact) {
        if *won {
            c.lifecycle = "CLIENT".into();
        }
    }
    let exchange_rates = RATES
        .iter()
        .zip(used_currency)
        .filter(|(_, used)| *used)
        .map(|(&(currency, rate_nanos), _)| exchange_rate::Model {
            id: rng.uuid(),
            tenant_id,
            currency: currency.to_string(),
            rate_nanos,
            updated_at: anchor,
        })
        .collect();

    TenantData {
        tenant: tenant::Model {
            id: tenant_id,
            name: plan.name.clone(),
            slug: plan.slug.clone(),
            currency: TENANT_CURRENCY.to_string(),
            timezone: plan.timezone.to_string(),
            // later creations continue after the seeded references
            opportunity_seq: i64::try_from(plan.opportunities).unwrap_or(i64::MAX),
            created_at: born,
            updated_at: born,
        },
        users,
        pipelines,
        stages,
        sources,
        exchange_rates,
        contacts,
        opportunities,
        opportunity_contacts,
        team,
        stage_changes,
        activities,
    }
}

fn phone(rng: &mut Rng) -> String {
    format!(
        "+33 1 {:02} {:02} {:02} {:02}",
        rng.below(100),
        rng.below(100),
        rng.below(100),
        rng.below(100)
    )
}

// ---------------------------------------------------------------- writing

/// Writes one tenant in one transaction, parents before children.
async fn write(db: &DatabaseConnection, data: TenantData) -> Result<(), DbErr> {
    let scope = TenantScope(TenantId(data.tenant.id));
    let txn = db.begin().await?;
    tenant::Entity::insert(data.tenant.into_active_model())
        .exec_without_returning(&txn)
        .await?;
    insert_all::<user::Entity, _>(&txn, scope, data.users).await?;
    insert_all::<pipeline::Entity, _>(&txn, scope, data.pipelines).await?;
    insert_all::<stage::Entity, _>(&txn, scope, data.stages).await?;
    insert_all::<source::Entity, _>(&txn, scope, data.sources).await?;
    insert_all::<exchange_rate::Entity, _>(&txn, scope, data.exchange_rates).await?;
    insert_all::<contact::Entity, _>(&txn, scope, data.contacts).await?;
    insert_all::<opportunity::Entity, _>(&txn, scope, data.opportunities).await?;
    insert_all::<opportunity_contact::Entity, _>(&txn, scope, data.opportunity_contacts).await?;
    insert_all::<opportunity_team::Entity, _>(&txn, scope, data.team).await?;
    insert_all::<stage_change::Entity, _>(&txn, scope, data.stage_changes).await?;
    insert_all::<activity::Entity, _>(&txn, scope, data.activities).await?;
    txn.commit().await
}

/// Multi-row INSERTs, each as large as the bind-parameter cap allows.
async fn insert_all<E, C>(conn: &C, scope: TenantScope, rows: Vec<E::Model>) -> Result<(), DbErr>
where
    E: TenantOwned,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let per_statement = MAX_BINDS / E::Column::iter().count().max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<E::ActiveModel> = rows
            .by_ref()
            .take(per_statement)
            .map(|m| scope.stamp(m.into_active_model()))
            .collect();
        E::insert_many(batch).exec_without_returning(conn).await?;
    }
    Ok(())
}

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
