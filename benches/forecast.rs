//! Times `forecast` on PostgreSQL over 50,000 seeded opportunities, three
//! ways: the service function, a GraphQL request over HTTP, and the bare
//! SQL statements the service runs (with their EXPLAIN ANALYZE).
//!
//!     cargo bench --bench forecast
//!
//! BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
//! names a server on which a scratch database is created, seeded with
//! `crm-server seed --scale 50000` (10 tenants of 5,000), and dropped. A
//! second round copies one tenant's rows until it alone has 50,000.
//! BENCH_ITERATIONS (default 30) sets the samples per figure.
#![allow(clippy::indexing_slicing)]
use std::error::Error;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{Months, Utc};
use crm_core::modules::analytics::model::ForecastGroupBy;
use crm_server::auth::{AuthContext, TenantSettings};
use crm_server::config::Settings;
use crm_server::domain::{CurrencyCode, Role, TenantId, Timezone, UserId};
use crm_server::modules::analytics::service::{self, ForecastParams};
use crm_server::seed::{self, SeedOptions};
use crm_server::startup::Application;
use crm_server::tenancy::TenantScope;
use entity::{tenant, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, Statement,
};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error>>;

const SCALE: u32 = 50_000;

#[tokio::main]
async fn main() -> Res<()> {
    let base = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let admin = match Database::connect(base.as_str()).await {
        Ok(db) => db,
        Err(e) => {
            println!("forecast bench skipped: cannot reach {base}: {e}");
            return Ok(());
        }
    };
    let name = format!("crm_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let result = run(&url_with_db(&base, &name), iterations).await;
    // the scratch database goes whatever happened
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    result
}

fn url_with_db(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let root = head.rsplit_once('/').map_or(head, |(r, _)| r);
    format!("{root}/{name}{query}")
}

struct Caller {
    auth: AuthContext,
    settings: TenantSettings,
    slug: String,
    email: String,
}

async fn run(url: &str, iterations: usize) -> Res<()> {
    let db = crm_server::db::connect(url, 5, std::time::Duration::from_secs(3600)).await?;
    crm_server::db::migrate(&db).await?;
    let started = Instant::now();
    let report = seed::run(
        &db,
        SeedOptions {
            scale: Some(SCALE),
            ..Default::default()
        },
    )
    .await?;
    println!(
        "seeded {} opportunities over {} tenants in {:.1}s",
        report.totals().opportunities,
        report.tenants.len(),
        started.elapsed().as_secs_f64()
    );
    db.execute_unprepared("ANALYZE").await?;
    let first = report.tenants.first().ok_or("the seed made no tenant")?;
    let caller = caller(&db, first.tenant_id, &first.slug, &first.admin_email).await?;

    let mut settings = Settings::from_env()?;
    settings.database_url = url.to_string();
    settings.bind_address = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.workers = 2;
    let password = report.password.clone();
    let app = Application::build(settings.clone()).await?;
    let address = format!("http://127.0.0.1:{}/graphql", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let login: Value = http
        .post(&address)
        .json(&json!({
            "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            "variables": { "i": { "tenantSlug": caller.slug, "email": caller.email, "password": password } }
        }))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .ok_or_else(|| format!("login failed: {login}"))?
        .to_string();
    // the service gets a pool of its own, as the server has
    let pool = crm_server::db::connect(url, 5, std::time::Duration::from_secs(3600)).await?;
    let bench = Bench {
        db: &pool,
        http: &http,
        address: &address,
        token: &token,
        caller: &caller,
        iterations,
    };

    let count = opportunity_count(&db, &caller).await?;
    println!(
        "\n== one tenant of {} ({count} opportunities)",
        report.tenants.len()
    );
    bench.all().await?;

    // the same tenant, its opportunities copied nine times: 50,000 in one tenant
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO opportunities (id, tenant_id, number, reference, title, pipeline_id, stage_id, status, probability_override, potential_cents, currency, due_date, owner_id, source_id, lost_reason, closed_at, stage_entered_at, last_activity_at, version, created_at, updated_at) \
         SELECT gen_random_uuid(), tenant_id, number + k * 1000000, reference || '-' || k, title, pipeline_id, stage_id, status, probability_override, potential_cents, currency, due_date + (k * 7 - 35), owner_id, source_id, lost_reason, closed_at - make_interval(days => k * 7 - 35), stage_entered_at, last_activity_at, version, created_at, updated_at \
         FROM opportunities, generate_series(1, 9) AS k WHERE tenant_id = $1",
        [caller.auth.tenant.0.into()],
    ))
    .await?;
    db.execute_unprepared("ANALYZE").await?;
    let count = opportunity_count(&db, &caller).await?;
    println!("\n== one tenant holding {count} opportunities (its rows copied 9 times)");
    bench.all().await?;

    drop(handle.stop(true));
    pool.close().await?;
    db.close().await?;
    Ok(())
}

async fn caller(
    db: &DatabaseConnection,
    tenant_id: uuid::Uuid,
    slug: &str,
    email: &str,
) -> Res<Caller> {
    let t = tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or("no tenant")?;
    let u = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
        .ok_or("no admin")?;
    Ok(Caller {
        auth: AuthContext {
            user: UserId(u.id),
            tenant: TenantId(t.id),
            role: Role::Admin,
        },
        settings: TenantSettings {
            currency: CurrencyCode::parse("currency", &t.currency)?,
            timezone: Timezone::parse("timezone", &t.timezone)?,
        },
        slug: slug.to_string(),
        email: email.to_string(),
    })
}

async fn opportunity_count(db: &DatabaseConnection, c: &Caller) -> Res<i64> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM opportunities WHERE tenant_id = $1",
            [c.auth.tenant.0.into()],
        ))
        .await?
        .ok_or("no count")?;
    Ok(row.try_get::<i64>("", "n")?)
}

struct Bench<'a> {
    db: &'a DatabaseConnection,
    http: &'a reqwest::Client,
    address: &'a str,
    token: &'a str,
    caller: &'a Caller,
    iterations: usize,
}

impl Bench<'_> {
    async fn all(&self) -> Res<()> {
        let today = Utc::now().date_naive();
        let from = today
            .checked_sub_months(Months::new(6))
            .ok_or("date out of range")?;
        let to = today
            .checked_add_months(Months::new(6))
            .ok_or("date out of range")?;
        for group_by in [ForecastGroupBy::Month, ForecastGroupBy::Stage] {
            let params = ForecastParams {
                from,
                to,
                group_by,
                pipeline_id: None,
                owner_id: None,
            };
            println!("\n-- forecast {from}..{to} by {group_by:?}");
            self.one(params).await?;
        }
        Ok(())
    }

    async fn one(&self, params: ForecastParams) -> Res<()> {
        let c = self.caller;
        let db = self.db;
        let data = service::forecast(self.db, c.auth, &c.settings, params).await?;
        println!(
            "{} buckets; total: {} open, {} won",
            data.buckets.len(),
            data.total.open_count,
            data.total.won_count
        );

        let service_times = sample(self.iterations, || async {
            service::forecast(self.db, c.auth, &c.settings, params)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await?;
        report("service::forecast", &service_times);

        let query = "query($i: ForecastInput!) { forecast(input: $i) { currency total { openCount potential { amount } weightedPotential { amount } wonCount wonAmount { amount } } buckets { key label openCount potential { amount } weightedPotential { amount } wonCount wonAmount { amount } } } }";
        let group = match params.group_by {
            ForecastGroupBy::Month => "MONTH",
            _ => "STAGE",
        };
        let vars = json!({ "i": { "from": params.from.to_string(), "to": params.to.to_string(), "groupBy": group } });
        let http_times = sample(self.iterations, || async {
            let v: Value = self
                .http
                .post(self.address)
                .bearer_auth(self.token)
                .json(&json!({ "query": query, "variables": vars }))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            if v["errors"].is_null() {
                Ok(())
            } else {
                Err(v.to_string())
            }
        })
        .await?;
        report("HTTP POST /graphql", &http_times);

        let statements = service::forecast_statements(
            db.get_database_backend(),
            TenantScope(c.auth.tenant),
            &c.settings,
            &params,
        )?;
        let sql_times = sample(self.iterations, || async {
            for s in &statements {
                db.query_all_raw(s.clone())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await?;
        report("bare SQL (both statements)", &sql_times);
        for (what, s) in ["open", "won"].iter().zip(&statements) {
            let explain = Statement {
                sql: format!("EXPLAIN (ANALYZE, BUFFERS) {}", s.sql),
                ..s.clone()
            };
            let rows = db.query_all_raw(explain).await?;
            println!("   EXPLAIN ANALYZE, {what} statement:");
            for r in rows {
                println!("     {}", r.try_get::<String>("", "QUERY PLAN")?);
            }
        }
        Ok(())
    }
}

async fn sample<F, Fut>(n: usize, mut f: F) -> Res<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    for _ in 0..3 {
        f().await?;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

fn report(what: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = sorted.iter().map(|d| ms(*d)).sum::<f64>() / sorted.len().max(1) as f64;
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let min = sorted.first().copied().unwrap_or_default();
    println!(
        "   {what:<28} min {:>7.2} ms   median {:>7.2} ms   mean {:>7.2} ms   (n={})",
        ms(min),
        ms(median),
        mean,
        sorted.len()
    );
}
