//! `crm-server seed`: the generated data is consistent, and the same seed
//! gives the same rows on either backend.
use std::collections::{HashMap, HashSet};

use crm_server::seed::{self, SeedError, SeedOptions};
use entity::{opportunity, opportunity_contact, stage, stage_change, tenant};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use uuid::Uuid;

use crate::helpers::PgDb;

const SCALE: usize = 200;

fn scale_options() -> SeedOptions {
    SeedOptions {
        scale: Some(SCALE as u32),
        ..Default::default()
    }
}

async fn migrated(url: &str) -> DatabaseConnection {
    let db = crm_server::db::connect(url, 2, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    crm_server::db::migrate(&db).await.unwrap();
    db
}

/// Checks what a `--scale SCALE` run wrote and returns every opportunity's
/// (id, potential), ordered by id.
async fn check_scale(db: &DatabaseConnection) -> Vec<(Uuid, i64)> {
    let tenants = tenant::Entity::find().all(db).await.unwrap();
    assert_eq!(tenants.len(), 10);
    let mut slugs: Vec<&str> = tenants.iter().map(|t| t.slug.as_str()).collect();
    slugs.sort_unstable();
    let mut expected: Vec<String> = (1..=10).map(|i| format!("scale-{i}")).collect();
    expected.sort_unstable();
    assert_eq!(slugs, expected);

    let opps = opportunity::Entity::find()
        .order_by_asc(opportunity::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(opps.len(), SCALE);
    // four activities per opportunity, each on its opportunity
    let acts = entity::activity::Entity::find().all(db).await.unwrap();
    assert_eq!(acts.len(), SCALE * 4);
    let mut per_opp: HashMap<Uuid, usize> = HashMap::new();
    for a in &acts {
        *per_opp.entry(a.opportunity_id.unwrap()).or_default() += 1;
        assert_eq!(a.at_ms, a.at.timestamp_millis());
    }
    assert!(per_opp.values().all(|n| *n == 4));

    let stages: HashMap<Uuid, stage::Model> = stage::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    assert_eq!(stages.len(), 10 * 5 * 6);

    let mut primaries: HashMap<Uuid, usize> = HashMap::new();
    for link in opportunity_contact::Entity::find().all(db).await.unwrap() {
        let n = primaries.entry(link.opportunity_id).or_default();
        *n += usize::from(link.is_primary);
    }

    let mut changes: HashMap<Uuid, Vec<stage_change::Model>> = HashMap::new();
    for c in stage_change::Entity::find()
        .order_by_asc(stage_change::Column::ChangedAt)
        .all(db)
        .await
        .unwrap()
    {
        changes.entry(c.opportunity_id).or_default().push(c);
    }

    let mut references = HashSet::new();
    let mut per_tenant: HashMap<Uuid, i64> = HashMap::new();
    for o in &opps {
        let st = &stages[&o.stage_id];
        assert_eq!(st.pipeline_id, o.pipeline_id, "{}", o.reference);
        assert_eq!(st.tenant_id, o.tenant_id, "{}", o.reference);
        assert_eq!(primaries.get(&o.id), Some(&1), "{}", o.reference);
        assert!(
            references.insert((o.tenant_id, o.reference.clone())),
            "duplicate {}",
            o.reference
        );
        assert_eq!(o.reference, format!("OPP-{}", o.number));
        assert!((0..=5_000_000).contains(&o.potential_cents));
        assert_eq!(o.version, 1);
        *per_tenant.entry(o.tenant_id).or_default() += 1;

        let history = &changes[&o.id];
        assert_eq!(history[0].from_stage_id, None, "{}", o.reference);
        assert_eq!(history[0].changed_at, o.created_at, "{}", o.reference);
        for w in history.windows(2) {
            assert_eq!(w[1].from_stage_id, Some(w[0].to_stage_id));
            assert!(w[1].changed_at > w[0].changed_at);
        }
        let last = history.last().unwrap();
        assert_eq!(last.to_stage_id, o.stage_id, "{}", o.reference);
        assert_eq!(last.changed_at, o.stage_entered_at, "{}", o.reference);

        match o.status.as_str() {
            "OPEN" => assert!(o.closed_at.is_none() && o.lost_reason.is_none()),
            "WON" => assert!(o.closed_at.is_some() && o.lost_reason.is_none()),
            "LOST" => assert!(o.closed_at.is_some() && o.lost_reason.is_some()),
            other => panic!("status {other}"),
        }
        if let Some(closed) = o.closed_at {
            assert!(closed >= o.stage_entered_at && closed <= crm_server::tenancy::now());
        }
    }
    for t in &tenants {
        let count = per_tenant.get(&t.id).copied().unwrap_or(0);
        assert_eq!(t.opportunity_seq, count, "{}", t.slug);
        assert_eq!(count, (SCALE / 10) as i64, "{}", t.slug);
    }
    // the tail of the distributions shows up even in a small run
    assert!(
        opps.iter()
            .any(|o| o.status == entity::opportunity::Status::Won)
    );
    assert!(
        opps.iter()
            .any(|o| o.status == entity::opportunity::Status::Lost)
    );
    assert!(opps.iter().any(|o| o.currency != "EUR"));
    assert!(opps.iter().any(|o| o.due_date.is_none()));

    opps.iter().map(|o| (o.id, o.potential_cents)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_seed_is_consistent_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let url = |f: &str| format!("sqlite://{}?mode=rwc", dir.path().join(f).display());

    let first = migrated(&url("a.db")).await;
    let report = seed::run(&first, scale_options()).await.unwrap();
    assert_eq!(report.tenants.len(), 10);
    assert_eq!(report.totals().opportunities, SCALE);
    assert_eq!(report.tenants[0].admin_email, "admin@scale-1.test");
    let ids = check_scale(&first).await;

    // a second run into the same database refuses before writing anything
    let again = seed::run(&first, scale_options()).await;
    assert!(matches!(again, Err(SeedError::SlugTaken(_))), "{again:?}");
    assert_eq!(
        opportunity::Entity::find().all(&first).await.unwrap().len(),
        SCALE
    );

    let second = migrated(&url("b.db")).await;
    seed::run(&second, scale_options()).await.unwrap();
    assert_eq!(check_scale(&second).await, ids, "same seed, same rows");

    let other = migrated(&url("c.db")).await;
    let opts = SeedOptions {
        seed: 7,
        ..scale_options()
    };
    seed::run(&other, opts).await.unwrap();
    assert_ne!(check_scale(&other).await, ids, "another seed, other rows");

    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    let (_guard, pg_url) = PgDb::create(base).await;
    let pg = migrated(&pg_url).await;
    seed::run(&pg, scale_options()).await.unwrap();
    assert_eq!(check_scale(&pg).await, ids, "PostgreSQL gets the same rows");
    pg.close().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_seed_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = migrated(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("demo.db").display()
    ))
    .await;
    let report = seed::run(
        &db,
        SeedOptions {
            demo: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let c = report.totals();
    assert_eq!(
        (
            c.users,
            c.pipelines,
            c.stages,
            c.sources,
            c.contacts,
            c.opportunities
        ),
        (3, 1, 3, 5, 20, 30)
    );
    assert!(report.to_string().contains("admin@demo.test"));

    let admin = entity::user::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "admin@demo.test")
        .unwrap();
    assert_eq!(admin.role, "ADMIN");
    assert!(
        crm_server::auth::password::PasswordHashing::new(1, 1)
            .unwrap()
            .verify(seed::DEFAULT_PASSWORD, Some(admin.password_hash))
            .await
            .unwrap()
    );

    let nothing = seed::run(&db, SeedOptions::default()).await;
    assert!(matches!(nothing, Err(SeedError::Nothing)), "{nothing:?}");
}
