//! The event log: one event per committed change, gap-free per tenant;
//! resumable subscriptions; the `changes` sync feed; retention.
use std::time::Duration;

use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp, code, field};

const CHANGES: &str = "query($a: String, $f: Int, $k: [EventKind!]) { changes(after: $a, first: $f, kinds: $k) { nodes { cursor sequence kind operation subjectType subjectId version actor { id } at } pageInfo { hasNextPage endCursor } } }";
const EVENTS: &str = "subscription($a: String) { opportunityEvents(after: $a) { kind opportunityId cursor opportunity { title } } }";
const CREATE: &str =
    "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id version } }";
const NOTE: &str = "mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }";

async fn create(app: &TestApp, s: &Session, stage: &str, title: &str) -> String {
    let v = app
        .gql(
            Some(&s.token),
            CREATE,
            json!({ "i": { "title": title, "stageId": stage, "potential": "100" } }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["createOpportunity"]["id"]
        .as_str()
        .unwrap()
        .into()
}

async fn changes(app: &TestApp, s: &Session, vars: Value) -> Value {
    let v = app.gql(Some(&s.token), CHANGES, vars).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["changes"].clone()
}

/// The present position of `s`'s tenant in its log.
async fn now_cursor(app: &TestApp, s: &Session) -> String {
    let c = changes(app, s, json!({ "f": 0 })).await;
    assert_eq!(c["nodes"], json!([]));
    c["pageInfo"]["endCursor"].as_str().unwrap().into()
}

async fn stage(app: &TestApp, s: &Session) -> String {
    crate::pipelines::sales_pipeline(app, &s.token).await.1[0].clone()
}

dual_test!(
    every_committed_command_logs_exactly_one_event_and_a_failed_one_none,
    |app| {
        let s = app.sign_up("Log", "log@example.com").await;
        let other = app.sign_up("Other", "other@example.com").await;
        let st = stage(&app, &s).await;
        let start = now_cursor(&app, &s).await;
        let id = create(&app, &s, &st, "Deal").await;
        let c = changes(&app, &s, json!({ "a": start })).await;
        let nodes = c["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 1, "{c}");
        let e = &nodes[0];
        assert_eq!(e["kind"], "OPPORTUNITY_CREATED");
        assert_eq!(e["operation"], "CREATED");
        assert_eq!(e["subjectType"], "OPPORTUNITY");
        assert_eq!(e["subjectId"], id.as_str());
        assert_eq!(e["version"], 1);
        assert_eq!(e["actor"]["id"], s.user_id.as_str());
        let first = e["sequence"].as_i64().unwrap();
        let after_create = c["pageInfo"]["endCursor"].as_str().unwrap().to_string();
        assert_eq!(after_create, e["cursor"].as_str().unwrap());

        // refused commands (a stale version, a foreign id, a bad input)
        // leave nothing in the log
        let upd = "mutation($id: ID!, $v: Int) { updateOpportunity(id: $id, input: { title: \"x\" }, expectedVersion: $v) { version } }";
        let v = app
            .gql(Some(&s.token), upd, json!({ "id": id, "v": 7 }))
            .await;
        assert_eq!(code(&v), "CONFLICT", "{v}");
        let v = app
            .gql(
                Some(&other.token),
                "mutation($id: ID!) { deleteOpportunity(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(code(&v), "NOT_FOUND", "{v}");
        let v = app
            .gql(
                Some(&s.token),
                CREATE,
                json!({ "i": { "title": "", "stageId": st, "potential": "1" } }),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        let c = changes(&app, &s, json!({ "a": after_create })).await;
        assert_eq!(c["nodes"], json!([]), "{c}");
        assert_eq!(c["pageInfo"]["endCursor"], after_create.as_str());
        assert_eq!(c["pageInfo"]["hasNextPage"], false);

        // the next committed ones take the next numbers; a deletion is a
        // tombstone
        let v = app
            .gql(Some(&s.token), upd, json!({ "id": id, "v": 1 }))
            .await;
        assert!(v["errors"].is_null(), "{v}");
        let v = app
            .gql(
                Some(&s.token),
                "mutation($id: ID!) { deleteOpportunity(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert!(v["errors"].is_null(), "{v}");
        let c = changes(&app, &s, json!({ "a": after_create })).await;
        let nodes = c["nodes"].as_array().unwrap();
        let got: Vec<_> = nodes
            .iter()
            .map(|n| {
                (
                    n["sequence"].as_i64().unwrap(),
                    n["operation"].as_str().unwrap(),
                    n["version"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (first + 1, "UPDATED", json!(2)),
                (first + 2, "DELETED", json!(2))
            ]
        );
        // the other tenant's log holds none of it
        let c = changes(&app, &other, json!({})).await;
        assert_eq!(c["nodes"], json!([]), "{c}");
        // gap-free from 1 in the table itself
        let db = app.db().await;
        use sea_orm::{ConnectionTrait, Statement};
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT tenant_id, seq FROM events ORDER BY tenant_id, seq",
            ))
            .await
            .unwrap();
        let seqs: Vec<i64> = rows.iter().map(|r| r.try_get("", "seq").unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=i64::try_from(seqs.len()).unwrap()).collect::<Vec<_>>()
        );
        db.close().await.ok();
    }
);

dual_test!(a_client_resumes_after_missing_50_mutations, |app| {
    let s = app.sign_up("Resume", "resume@example.com").await;
    let st = stage(&app, &s).await;
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live("o", EVENTS, json!({})).await;
    create(&app, &s, &st, "Seen").await;
    let e = ws.event("o").await;
    let cursor = e["opportunityEvents"]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    drop(ws);

    let mut missed = Vec::new();
    for i in 0..50 {
        missed.push(create(&app, &s, &st, &format!("Missed {i}")).await);
    }
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live("o", EVENTS, json!({ "a": cursor })).await;
    let mut got = Vec::new();
    let mut last = cursor.clone();
    for _ in 0..50 {
        let e = ws.event("o").await;
        let e = &e["opportunityEvents"];
        assert_eq!(e["kind"], "CREATED");
        got.push(e["opportunityId"].as_str().unwrap().to_string());
        last = e["cursor"].as_str().unwrap().to_string();
    }
    assert_eq!(got, missed, "all 50, in commit order");
    // then live, with no duplicate across the switch
    let live = create(&app, &s, &st, "Live").await;
    let e = ws.event("o").await;
    assert_eq!(e["opportunityEvents"]["opportunityId"], live.as_str());
    assert_ne!(e["opportunityEvents"]["cursor"], last.as_str());
    ws.silent_for(Duration::from_millis(300)).await;
});

dual_test!(the_changes_feed_pages_through_1000_changes, |app| {
    let s = app.sign_up("Sync", "sync@example.com").await;
    let st = stage(&app, &s).await;
    let opp = create(&app, &s, &st, "Busy").await;
    // each note is two changes: the note, and its opportunity's
    // lastActivityAt
    let notes = futures_util::stream::iter(0..500)
        .map(|i| {
            let (app, s, opp) = (&app, &s, opp.clone());
            async move {
                let v = app
                    .gql(
                        Some(&s.token),
                        NOTE,
                        json!({ "i": { "kind": "NOTE", "subject": format!("n{i}"), "opportunityId": opp } }),
                    )
                    .await;
                assert!(v["errors"].is_null(), "{v}");
            }
        })
        .buffer_unordered(4);
    use futures_util::StreamExt;
    notes.collect::<Vec<_>>().await;

    let mut after: Option<String> = None;
    let mut seqs = Vec::new();
    let mut pages = 0;
    loop {
        let c = changes(&app, &s, json!({ "a": after, "f": 100 })).await;
        pages += 1;
        for n in c["nodes"].as_array().unwrap() {
            seqs.push(n["sequence"].as_i64().unwrap());
        }
        after = c["pageInfo"]["endCursor"].as_str().map(String::from);
        if c["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert!(pages < 20, "the feed ends");
    }
    assert_eq!(seqs, (1..=1001).collect::<Vec<i64>>());
    assert_eq!(pages, 11);
    // nothing new: the same position comes back
    let c = changes(&app, &s, json!({ "a": after })).await;
    assert_eq!(c["nodes"], json!([]));
    assert_eq!(c["pageInfo"]["endCursor"], json!(after));
    // one kind only
    let c = changes(&app, &s, json!({ "f": 500, "k": ["ACTIVITY_CREATED"] })).await;
    let nodes = c["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 500);
    assert!(nodes.iter().all(|n| n["subjectType"] == "ACTIVITY"));
});

dual_test!(cursors_are_checked_and_expire_with_retention, |app| {
    let s = app.sign_up("Expire", "expire@example.com").await;
    let st = stage(&app, &s).await;
    for bad in ["nope", "ZXY6LTE", ""] {
        let v = app.gql(Some(&s.token), CHANGES, json!({ "a": bad })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{bad}: {v}");
        assert_eq!(field(&v), "after", "{v}");
    }
    // a cursor of a busier tenant is not one of this tenant's
    let busy = app.sign_up("Busy", "busy@example.com").await;
    let busy_stage = stage(&app, &busy).await;
    for i in 0..3 {
        create(&app, &busy, &busy_stage, &format!("B{i}")).await;
    }
    let foreign = now_cursor(&app, &busy).await;
    let v = app
        .gql(Some(&s.token), CHANGES, json!({ "a": foreign }))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe("f", EVENTS, json!({ "a": foreign })).await;
    let m = ws.next().await;
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    drop(ws);
    for f in [-1, 501] {
        let v = app.gql(Some(&s.token), CHANGES, json!({ "f": f })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{f}: {v}");
    }
    let start = now_cursor(&app, &s).await;
    for i in 0..3 {
        create(&app, &s, &st, &format!("Old {i}")).await;
    }
    let head = now_cursor(&app, &s).await;
    // everything is older than a zero retention
    let db = app.db().await;
    let pruned = crm_server::jobs::prune(&db, Duration::ZERO).await.unwrap();
    assert!(pruned >= 3, "{pruned}");
    db.close().await.ok();
    let v = app
        .gql(Some(&s.token), CHANGES, json!({ "a": start }))
        .await;
    assert_eq!(code(&v), "CURSOR_EXPIRED", "{v}");
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe("o", EVENTS, json!({ "a": start })).await;
    let m = ws.next().await;
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["payload"][0]["extensions"]["code"], "CURSOR_EXPIRED");
    // the present is still a good place to continue from
    let c = changes(&app, &s, json!({ "a": head })).await;
    assert_eq!(c["nodes"], json!([]));
    let next = create(&app, &s, &st, "New").await;
    let c = changes(&app, &s, json!({ "a": head })).await;
    assert_eq!(c["nodes"][0]["subjectId"], next.as_str());
});

/// A commit whose hint to other instances is lost (NOTIFY failed, the
/// database was briefly unreachable) is still delivered there: the log
/// is the truth, and the backstop reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn a_lost_hint_only_delays_an_event() {
    let Some(a) =
        TestApp::spawn_with(crate::helpers::Backend::Postgres, |s| s.event_hints = false).await
    else {
        return;
    };
    let b = a.sibling(|_| {}).await;
    let s = a.sign_up("Hintless", "hintless@example.com").await;
    let st = stage(&a, &s).await;
    let mut ws = b.ws_ready(&s.token).await;
    ws.subscribe_live("o", EVENTS, json!({})).await;
    let id = create(&a, &s, &st, "Quiet").await;
    let e = ws
        .next_within(Duration::from_secs(3))
        .await
        .expect("delivered by the backstop");
    assert_eq!(
        e["payload"]["data"]["opportunityEvents"]["opportunityId"],
        id.as_str()
    );
}

/// An instance goes away during a burst: its client resumes on the other
/// instance from the last cursor it saw and misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn a_client_of_a_stopped_instance_resumes_on_another() {
    let Some(a) = TestApp::spawn(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let b = a.sibling(|_| {}).await;
    let s = a.sign_up("Burst", "burst@example.com").await;
    let st = stage(&a, &s).await;
    let mut on_b = b.ws_ready(&s.token).await;
    on_b.subscribe_live("o", EVENTS, json!({})).await;
    let mut watcher = a.ws_ready(&s.token).await;
    watcher.subscribe_live("w", EVENTS, json!({})).await;
    let burst = {
        let (a, s, st) = (a.address.clone(), s.clone(), st.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            for i in 0..40 {
                let v: Value = client
                    .post(format!("{a}/graphql"))
                    .bearer_auth(&s.token)
                    .json(&json!({ "query": CREATE, "variables": { "i": { "title": format!("B{i}"), "stageId": st, "potential": "100" } } }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(
                    v["data"]["createOpportunity"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
            ids
        })
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let e = on_b.event("o").await;
        seen.push(
            e["opportunityEvents"]["opportunityId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        cursor = e["opportunityEvents"]["cursor"].as_str().map(String::from);
    }
    // instance b stops: its sockets close with 1001
    (b.close_sockets)();
    assert_eq!(on_b.closed().await.0, 1001);
    let ids = burst.await.unwrap();
    let mut on_a = a.ws_ready(&s.token).await;
    on_a.subscribe_live("o", EVENTS, json!({ "a": cursor }))
        .await;
    while seen.len() < ids.len() {
        let e = on_a.event("o").await;
        seen.push(
            e["opportunityEvents"]["opportunityId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(seen, ids, "every event once, in order");
    on_a.silent_for(Duration::from_millis(300)).await;
    // the survivor's own subscriber saw the whole burst too
    for id in &ids {
        let e = watcher.event("w").await;
        assert_eq!(e["opportunityEvents"]["opportunityId"], id.as_str());
    }
}

/// `EVENT_TRANSPORT=nats`: two instances on one PostgreSQL database, the
/// events carried by NATS JetStream (the backstop is slowed right down,
/// so only NATS can deliver in time), in order, from both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn two_instances_share_events_through_nats() {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let nats = crm_server::events::nats::NatsSettings {
        url: std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        stream: format!("CRM_TEST_{tag}"),
        subject_prefix: format!("crm.test.{tag}"),
    };
    let tweak = |s: &mut crm_server::config::Settings| {
        s.nats = Some(nats.clone());
        s.event_backstop_interval = Duration::from_secs(600);
    };
    let Some(a) = TestApp::spawn_with(crate::helpers::Backend::Postgres, tweak).await else {
        return;
    };
    let b = a.sibling(tweak).await;
    let s = a.sign_up("Nats", "nats@example.com").await;
    let st = stage(&a, &s).await;
    let mut on_b = b.ws_ready(&s.token).await;
    on_b.subscribe_live("o", EVENTS, json!({})).await;
    let mut on_a = a.ws_ready(&s.token).await;
    on_a.subscribe_live("o", EVENTS, json!({})).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        ids.push(create(app, &s, &st, &format!("N{i}")).await);
    }
    for ws in [&mut on_b, &mut on_a] {
        let mut got = Vec::new();
        for _ in 0..ids.len() {
            let e = ws
                .next_within(Duration::from_secs(5))
                .await
                .expect("delivered through NATS");
            got.push(
                e["payload"]["data"]["opportunityEvents"]["opportunityId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert_eq!(got, ids);
        ws.silent_for(Duration::from_millis(300)).await;
    }
    // the test's stream goes with it
    let client = async_nats::connect(&nats.url).await.unwrap();
    async_nats::jetstream::new(client)
        .delete_stream(&nats.stream)
        .await
        .unwrap();
}
