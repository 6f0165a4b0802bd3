//! The opportunity lists are read in index order: on PostgreSQL with a
//! realistic row count, the plan of every list page the board and the
//! table send has no Sort node, and its scan stops near the page size
//! (first page and a page after a cursor alike).
use crm_core::auth::{AuthContext, TenantSettings};
use crm_core::domain::{CurrencyCode, Role, TenantId, Timezone, UserId};
use crm_core::modules::opportunity::model::{
    OpportunityFilter, OpportunityOrder, OpportunitySortField as Field, OpportunityStatus,
    SortDirection as Dir,
};
use crm_core::modules::opportunity::{query, service};
use crm_core::tenancy::TenantScope;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

const ROWS: i64 = 20_000;
const FIRST: u64 = 50;

/// Every node of a plan, depth first.
fn nodes<'a>(plan: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(plan);
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            nodes(c, out);
        }
    }
}

async fn explain(db: &DatabaseConnection, stmt: &Statement) -> Value {
    let sql = format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", stmt.sql);
    let stmt = Statement::from_sql_and_values(stmt.db_backend, sql, stmt.values.clone().unwrap().0);
    let row = db.query_one_raw(stmt).await.unwrap().unwrap();
    let plan: Value = row.try_get("", "QUERY PLAN").unwrap();
    plan[0]["Plan"].clone()
}

/// What is wrong with a page's plan: a sort, or a scan of opportunities
/// that read far more rows than the page.
fn problems(plan: &Value) -> Vec<String> {
    let mut all = Vec::new();
    nodes(plan, &mut all);
    let mut out = Vec::new();
    for n in all {
        let kind = n["Node Type"].as_str().unwrap_or_default();
        if kind.contains("Sort") {
            out.push(format!("{kind} on {}", n["Sort Key"]));
        }
        if n["Relation Name"] == "opportunities" {
            let read = n["Actual Rows"].as_f64().unwrap_or(0.0)
                * n["Actual Loops"].as_f64().unwrap_or(1.0)
                + n["Rows Removed by Filter"].as_f64().unwrap_or(0.0);
            #[allow(clippy::cast_precision_loss)]
            let bound = (FIRST as f64 + 1.0) * 4.0;
            if read > bound {
                out.push(format!(
                    "{kind} read {read} rows of opportunities for a page of {FIRST}"
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn list_pages_are_read_in_index_order() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let s = app.sign_up("Plans Co", "ann@plans.co").await;
    let v = app
        .gql(
            Some(&s.token),
            "{ me { id } tenant { id currency timezone } pipelines { id stages { id } } }",
            json!({}),
        )
        .await;
    let d = &v["data"];
    let (tenant, user) = (
        d["tenant"]["id"].as_str().unwrap(),
        d["me"]["id"].as_str().unwrap(),
    );
    let pipeline = d["pipelines"][0]["id"].as_str().unwrap();
    let stages: Vec<&str> = d["pipelines"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let currency = d["tenant"]["currency"].as_str().unwrap();
    let db = app.db().await;
    let stage_array = stages
        .iter()
        .map(|s| format!("'{s}'::uuid"))
        .collect::<Vec<_>>()
        .join(",");
    db.execute_unprepared(&format!(
        "INSERT INTO opportunities (id, tenant_id, number, reference, title, pipeline_id, stage_id, \
         status, potential_cents, currency, due_date, owner_id, stage_entered_at, version, \
         created_at, updated_at) \
         SELECT gen_random_uuid(), '{tenant}', 1000 + g, 'OPP-' || (1000 + g), 'Deal ' || md5(g::text), \
         '{pipeline}', (ARRAY[{stage_array}])[1 + g % {n}], (ARRAY['OPEN','OPEN','WON','LOST'])[1 + g % 4], \
         g * 100, '{currency}', CASE WHEN g % 5 = 0 THEN NULL ELSE DATE '2026-01-01' + (g % 700) END, \
         '{user}', now(), 1, now() - g * INTERVAL '1 minute', now() - g * INTERVAL '1 second' \
         FROM generate_series(1, {ROWS}) g",
        n = stages.len()
    ))
    .await
    .unwrap();
    db.execute_unprepared("ANALYZE opportunities")
        .await
        .unwrap();

    let auth = AuthContext {
        user: UserId(user.parse().unwrap()),
        tenant: TenantId(tenant.parse().unwrap()),
        role: Role::Admin,
    };
    let settings = TenantSettings {
        currency: CurrencyCode::parse("currency", currency).unwrap(),
        timezone: Timezone::parse("timezone", d["tenant"]["timezone"].as_str().unwrap()).unwrap(),
    };
    let by = |field, direction| {
        Some(OpportunityOrder {
            field,
            direction: Some(direction),
            custom_field_key: None,
        })
    };
    let all = OpportunityFilter::default();
    let in_pipeline = OpportunityFilter {
        pipeline_id: Some(pipeline.into()),
        ..Default::default()
    };
    let open_in_pipeline = OpportunityFilter {
        pipeline_id: Some(pipeline.into()),
        statuses: Some(vec![OpportunityStatus::Open, OpportunityStatus::Late]),
        ..Default::default()
    };
    let mine = OpportunityFilter {
        owner_id: Some(user.into()),
        ..Default::default()
    };
    let in_stage = OpportunityFilter {
        stage_ids: Some(vec![stages[1].into()]),
        ..Default::default()
    };
    let cases = [
        ("table by due date", &all, by(Field::DueDate, Dir::Asc)),
        (
            "table by due date, latest first",
            &all,
            by(Field::DueDate, Dir::Desc),
        ),
        ("table, newest first (default)", &all, None),
        (
            "table by last change",
            &all,
            by(Field::UpdatedAt, Dir::Desc),
        ),
        ("table by title", &all, by(Field::Title, Dir::Asc)),
        (
            "pipeline by due date (Q1)",
            &in_pipeline,
            by(Field::DueDate, Dir::Asc),
        ),
        (
            "open deals of a pipeline by due date",
            &open_in_pipeline,
            by(Field::DueDate, Dir::Asc),
        ),
        ("pipeline, newest first", &in_pipeline, None),
        (
            "pipeline by last change",
            &in_pipeline,
            by(Field::UpdatedAt, Dir::Desc),
        ),
        (
            "pipeline by title",
            &in_pipeline,
            by(Field::Title, Dir::Asc),
        ),
        ("my deals by due date", &mine, by(Field::DueDate, Dir::Asc)),
        ("my deals, newest first", &mine, None),
        (
            "a stage by due date",
            &in_stage,
            by(Field::DueDate, Dir::Asc),
        ),
    ];
    let backend = db.get_database_backend();
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (name, filter, order) in cases {
        let q = service::list_query(&db, auth, &settings, filter, order)
            .await
            .unwrap();
        check(
            &db,
            backend,
            &q,
            &settings,
            name,
            &mut failures,
            &mut report,
        )
        .await;
    }
    // the board: one column of open cards, newest first
    let column = query::stage_column(
        TenantScope(auth.tenant),
        stages[1].parse().unwrap(),
        0b0011,
        settings.today(),
        query::COLUMN_ORDER,
    );
    check(
        &db,
        backend,
        &column,
        &settings,
        "board column",
        &mut failures,
        &mut report,
    )
    .await;
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    db.close().await.ok();
}

/// Explains the first page and the page after it.
async fn check(
    db: &DatabaseConnection,
    backend: sea_orm::DatabaseBackend,
    q: &query::ListQuery,
    settings: &TenantSettings,
    name: &str,
    failures: &mut Vec<String>,
    report: &mut Vec<String>,
) {
    let first = query::page(db, q, settings, FIRST, None).await.unwrap();
    let cursor = first.page_info.end_cursor.clone().unwrap();
    for (which, after) in [("page 1", None), ("page 2", Some(cursor.as_str()))] {
        let stmt = query::page_statement(backend, q, settings, FIRST, after).unwrap();
        let plan = explain(db, &stmt).await;
        let found = problems(&plan);
        report.push(format!(
            "{name}, {which}: {} ms, {}",
            plan["Actual Total Time"],
            if found.is_empty() {
                "no sort".to_string()
            } else {
                found.join("; ")
            }
        ));
        failures.extend(
            found
                .into_iter()
                .map(|p| format!("{name}, {which}: {p}\n{plan:#}")),
        );
    }
}
