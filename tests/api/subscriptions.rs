//! Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws),
//! events of every command, tenant isolation, server-raised events, slow
//! subscribers, and several instances on one PostgreSQL database.
use std::time::Duration;

use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Backend, Session, TestApp, code};

const OPP_EVENTS: &str = "subscription($p: ID) { opportunityEvents(pipelineId: $p) { kind opportunityId opportunity { id title status stage { id } } actor { id } at } }";
/// The lightest subscription: event kinds only.
const KINDS: &str = "subscription { opportunityEvents { kind } }";
const ACTIVITY_EVENTS: &str = "subscription($o: ID) { activityEvents(opportunityId: $o) { kind activityId opportunityId activity { id subject done isOverdue } actor { id } at } }";

async fn create_opp(
    app: &TestApp,
    s: &Session,
    stage: &str,
    title: &str,
    due: Option<&str>,
) -> String {
    let v = app
        .gql(
            Some(&s.token),
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
            json!({ "i": { "title": title, "stageId": stage, "potential": "100", "dueDate": due } }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["createOpportunity"]["id"]
        .as_str()
        .unwrap()
        .into()
}

async fn ok(app: &TestApp, s: &Session, query: &str, vars: Value) -> Value {
    let v = app.gql(Some(&s.token), query, vars).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"].clone()
}

fn yesterday() -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(2)).to_string()
}

dual_test!(
    every_opportunity_command_publishes_its_event_after_commit,
    |app| {
        let s = app.sign_up("Live", "live@example.com").await;
        let (_, stages) = crate::pipelines::sales_pipeline(&app, &s.token).await;
        let mut ws = app.ws_ready(&s.token).await;
        ws.subscribe_live("o", OPP_EVENTS, json!({})).await;
        // the subscription is registered once a first event gets through
        let id = create_opp(&app, &s, &stages[0], "Deal", None).await;
        let e = ws.event("o").await;
        let e = &e["opportunityEvents"];
        assert_eq!(e["kind"], "CREATED");
        assert_eq!(e["opportunityId"], id.as_str());
        assert_eq!(e["opportunity"]["title"], "Deal");
        assert_eq!(e["actor"]["id"], s.user_id.as_str());
        assert!(e["at"].is_string());

        let update = "mutation($id: ID!, $v: Int) { updateOpportunity(id: $id, input: { title: \"Bigger deal\" }, expectedVersion: $v) { version } }";
        ok(&app, &s, update, json!({ "id": id })).await;
        let e = ws.event("o").await;
        assert_eq!(e["opportunityEvents"]["kind"], "UPDATED");
        assert_eq!(
            e["opportunityEvents"]["opportunity"]["title"],
            "Bigger deal"
        );

        // a change that fails (stale version) commits nothing and publishes
        // nothing: the next event is the move that follows it
        let stale = app
            .gql(Some(&s.token), update, json!({ "id": id, "v": 1 }))
            .await;
        assert_eq!(code(&stale), "CONFLICT");
        ok(
            &app,
            &s,
            "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
            json!({ "id": id, "s": stages[1] }),
        )
        .await;
        let e = ws.event("o").await;
        assert_eq!(e["opportunityEvents"]["kind"], "STAGE_CHANGED");
        assert_eq!(
            e["opportunityEvents"]["opportunity"]["stage"]["id"],
            stages[1].as_str()
        );

        for (mutation, kind, status) in [
            (
                "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
                "WON",
                "WON",
            ),
            (
                "mutation($id: ID!) { reopenOpportunity(id: $id) { id } }",
                "REOPENED",
                "OPEN",
            ),
            (
                "mutation($id: ID!) { markOpportunityLost(id: $id, reason: \"Budget\") { id } }",
                "LOST",
                "LOST",
            ),
        ] {
            ok(&app, &s, mutation, json!({ "id": id })).await;
            let e = ws.event("o").await;
            assert_eq!(e["opportunityEvents"]["kind"], kind);
            assert_eq!(e["opportunityEvents"]["opportunity"]["status"], status);
        }
        // refused (already lost): nothing is published
        let again = app
            .gql(
                Some(&s.token),
                "mutation($id: ID!) { markOpportunityLost(id: $id, reason: \"x\") { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(code(&again), "BAD_USER_INPUT");
        ok(
            &app,
            &s,
            "mutation($id: ID!) { deleteOpportunity(id: $id) }",
            json!({ "id": id }),
        )
        .await;
        let e = ws.event("o").await;
        assert_eq!(e["opportunityEvents"]["kind"], "DELETED");
        assert_eq!(e["opportunityEvents"]["opportunityId"], id.as_str());
        assert!(e["opportunityEvents"]["opportunity"].is_null());
        ws.silent_for(Duration::from_millis(300)).await;
    }
);

dual_test!(every_activity_command_publishes_its_event, |app| {
    let s = app.sign_up("Timeline", "tl@example.com").await;
    let (_, stages) = crate::pipelines::sales_pipeline(&app, &s.token).await;
    let opp = create_opp(&app, &s, &stages[0], "Deal", None).await;
    let other = create_opp(&app, &s, &stages[0], "Other", None).await;
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live("a", ACTIVITY_EVENTS, json!({ "o": opp }))
        .await;
    let create = "mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }";
    let due = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    // another opportunity's timeline is filtered out
    ok(
        &app,
        &s,
        create,
        json!({ "i": { "kind": "NOTE", "subject": "elsewhere", "opportunityId": other } }),
    )
    .await;
    let a = ok(&app, &s, create, json!({ "i": { "kind": "TASK", "subject": "Call back", "opportunityId": opp, "dueAt": due } })).await;
    let aid = a["createActivity"]["id"].as_str().unwrap().to_string();
    let e = ws.event("a").await;
    let e = &e["activityEvents"];
    assert_eq!(e["kind"], "CREATED");
    assert_eq!(e["activityId"], aid.as_str());
    assert_eq!(e["opportunityId"], opp.as_str());
    assert_eq!(e["activity"]["subject"], "Call back");
    assert_eq!(e["actor"]["id"], s.user_id.as_str());

    ok(&app, &s, "mutation($id: ID!) { updateActivity(id: $id, input: { subject: \"Call back soon\" }) { id } }", json!({ "id": aid })).await;
    let e = ws.event("a").await;
    assert_eq!(e["activityEvents"]["kind"], "UPDATED");
    assert_eq!(e["activityEvents"]["activity"]["subject"], "Call back soon");
    ok(
        &app,
        &s,
        "mutation($id: ID!) { completeActivity(id: $id) { id } }",
        json!({ "id": aid }),
    )
    .await;
    let e = ws.event("a").await;
    assert_eq!(e["activityEvents"]["kind"], "COMPLETED");
    assert_eq!(e["activityEvents"]["activity"]["done"], true);
    ok(
        &app,
        &s,
        "mutation($id: ID!) { deleteActivity(id: $id) }",
        json!({ "id": aid }),
    )
    .await;
    let e = ws.event("a").await;
    assert_eq!(e["activityEvents"]["kind"], "DELETED");
    assert!(e["activityEvents"]["activity"].is_null());
    ws.silent_for(Duration::from_millis(300)).await;

    // deleting the opportunity deletes its timeline: each activity says so
    let n = ok(
        &app,
        &s,
        create,
        json!({ "i": { "kind": "NOTE", "subject": "Kept?", "opportunityId": opp } }),
    )
    .await;
    assert_eq!(ws.event("a").await["activityEvents"]["kind"], "CREATED");
    ok(
        &app,
        &s,
        "mutation($id: ID!) { deleteOpportunity(id: $id) }",
        json!({ "id": opp }),
    )
    .await;
    let e = ws.event("a").await;
    assert_eq!(e["activityEvents"]["kind"], "DELETED");
    assert_eq!(e["activityEvents"]["activityId"], n["createActivity"]["id"]);
});

dual_test!(events_reach_only_their_tenant_and_filters, |app| {
    let a = app.sign_up("Tenant A", "a@example.com").await;
    let b = app.sign_up("Tenant B", "b@example.com").await;
    let (pa, stages_a) = crate::pipelines::sales_pipeline(&app, &a.token).await;
    let (pb, stages_b) = crate::pipelines::sales_pipeline(&app, &b.token).await;
    let second = ok(
        &app,
        &a,
        "mutation { createPipeline(input: { name: \"Partners\", stages: [{ name: \"New\", probability: 10 }] }) { id stages { id } } }",
        json!({}),
    )
    .await;
    let pa2 = second["createPipeline"]["id"].as_str().unwrap().to_string();
    let pa2_stage = second["createPipeline"]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut all_b = app.ws_ready(&b.token).await;
    all_b.subscribe_live("b", OPP_EVENTS, json!({})).await;
    let mut board_a = app.ws_ready(&a.token).await;
    board_a
        .subscribe_live("p1", OPP_EVENTS, json!({ "p": pa }))
        .await;
    board_a
        .subscribe_live("p2", OPP_EVENTS, json!({ "p": pa2 }))
        .await;

    // a foreign or unknown pipeline is NOT_FOUND when subscribing
    let mut probe = app.ws_ready(&b.token).await;
    probe.subscribe("x", OPP_EVENTS, json!({ "p": pa })).await;
    let m = probe.next().await;
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["payload"][0]["extensions"]["code"], "NOT_FOUND");
    probe
        .subscribe(
            "y",
            ACTIVITY_EVENTS,
            json!({ "o": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    let m = probe.next().await;
    assert_eq!(m["payload"][0]["extensions"]["code"], "NOT_FOUND");
    probe
        .subscribe("z", OPP_EVENTS, json!({ "p": "not-an-id" }))
        .await;
    let m = probe.next().await;
    assert_eq!(m["type"], "error", "{m}");

    let id = create_opp(&app, &a, &stages_a[0], "A's deal", None).await;
    let e = board_a.event("p1").await;
    assert_eq!(e["opportunityEvents"]["opportunityId"], id.as_str());
    // a move to the other pipeline reaches both boards
    ok(
        &app,
        &a,
        "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
        json!({ "id": id, "s": pa2_stage }),
    )
    .await;
    let mut boards = Vec::new();
    for _ in 0..2 {
        let m = board_a.next().await;
        assert_eq!(
            m["payload"]["data"]["opportunityEvents"]["kind"], "STAGE_CHANGED",
            "{m}"
        );
        boards.push(m["id"].as_str().unwrap().to_string());
    }
    boards.sort();
    assert_eq!(
        boards,
        ["p1", "p2"],
        "the board it left and the one it entered"
    );

    // B's own change is the first thing B sees: none of A's came through
    let own = create_opp(&app, &b, &stages_b[0], "B's deal", None).await;
    let e = all_b.event("b").await;
    assert_eq!(e["opportunityEvents"]["opportunityId"], own.as_str());
    all_b.silent_for(Duration::from_millis(300)).await;
    board_a.silent_for(Duration::from_millis(300)).await;
    let _ = pb;
});

dual_test!(intake_created_opportunities_are_published, |app| {
    let s = app.sign_up("Web", "web@example.com").await;
    let (_, stages) = crate::pipelines::sales_pipeline(&app, &s.token).await;
    let key = ok(
        &app,
        &s,
        "mutation($i: IntakeKeyInput!) { createIntakeKey(input: $i) { secret } }",
        json!({ "i": { "name": "Site", "stageId": stages[0] } }),
    )
    .await;
    let secret = key["createIntakeKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live("o", OPP_EVENTS, json!({})).await;
    let mut notes = app.ws_ready(&s.token).await;
    notes.subscribe_live("a", ACTIVITY_EVENTS, json!({})).await;
    let res = app
        .client
        .post(app.url("/intake"))
        .bearer_auth(&secret)
        .json(&json!({ "name": "Ada Lovelace", "email": "ada@example.com", "message": "A quote please" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let e = ws.event("o").await;
    assert_eq!(e["opportunityEvents"]["kind"], "CREATED");
    assert_eq!(e["opportunityEvents"]["opportunityId"], body["id"]);
    assert!(e["opportunityEvents"]["actor"].is_null());
    // and its NOTE with the message, on the new opportunity's timeline
    let n = notes.event("a").await;
    assert_eq!(n["activityEvents"]["kind"], "CREATED");
    assert_eq!(n["activityEvents"]["opportunityId"], body["id"]);
});

dual_test!(the_server_raises_late_and_overdue_once, |app| {
    let s = app.sign_up("Clock", "clock@example.com").await;
    let (_, stages) = crate::pipelines::sales_pipeline(&app, &s.token).await;
    // the sweep is off on `app`: these transitions happen "while down"
    let late = create_opp(&app, &s, &stages[0], "Overdue deal", Some(&yesterday())).await;
    let on_time = create_opp(&app, &s, &stages[0], "Fine deal", Some("2999-01-01")).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let task = ok(
        &app,
        &s,
        "mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }",
        json!({ "i": { "kind": "TASK", "subject": "Send quote", "opportunityId": on_time, "dueAt": past } }),
    )
    .await;
    let task = task["createActivity"]["id"].as_str().unwrap().to_string();

    // the sweep then runs (here, when the test says so) and raises them
    let live = &app;
    let mut ws = live.ws_ready(&s.token).await;
    ws.subscribe_live("o", OPP_EVENTS, json!({})).await;
    ws.subscribe_live("a", ACTIVITY_EVENTS, json!({})).await;
    assert_eq!(
        app.sweep_now().await,
        2,
        "one BECAME_LATE, one BECAME_OVERDUE"
    );
    // and once only: a second sweep finds nothing left to raise
    assert_eq!(app.sweep_now().await, 0);
    let mut got = vec![ws.next().await, ws.next().await];
    got.sort_by_key(|m| m["id"].as_str().map(str::to_string));
    let o = &got[1]["payload"]["data"]["opportunityEvents"];
    assert_eq!(o["kind"], "BECAME_LATE", "{got:?}");
    assert_eq!(o["opportunityId"], late.as_str());
    assert_eq!(o["opportunity"]["status"], "LATE");
    assert!(o["actor"].is_null());
    let a = &got[0]["payload"]["data"]["activityEvents"];
    assert_eq!(a["kind"], "BECAME_OVERDUE", "{got:?}");
    assert_eq!(a["activityId"], task.as_str());
    assert_eq!(a["activity"]["isOverdue"], true);
    assert!(a["actor"].is_null());

    // moving the due date to another past day re-arms the transition
    ok(
        live,
        &s,
        "mutation($id: ID!, $d: Date) { updateOpportunity(id: $id, input: { dueDate: $d }) { id } }",
        json!({ "id": late, "d": (chrono::Utc::now().date_naive() - chrono::Duration::days(5)).to_string() }),
    )
    .await;
    assert_eq!(ws.event("o").await["opportunityEvents"]["kind"], "UPDATED");
    assert_eq!(app.sweep_now().await, 1);
    assert_eq!(
        ws.event("o").await["opportunityEvents"]["kind"],
        "BECAME_LATE"
    );

    // won, then reopened while past due: it becomes LATE again
    for (m, kind) in [
        (
            "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
            "WON",
        ),
        (
            "mutation($id: ID!) { reopenOpportunity(id: $id) { id } }",
            "REOPENED",
        ),
    ] {
        ok(live, &s, m, json!({ "id": late })).await;
        assert_eq!(ws.event("o").await["opportunityEvents"]["kind"], kind);
    }
    assert_eq!(app.sweep_now().await, 1);
    assert_eq!(
        ws.event("o").await["opportunityEvents"]["kind"],
        "BECAME_LATE"
    );
});

// ---------------------------------------------------------------- protocol

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await.unwrap()
}

#[tokio::test]
async fn init_must_come_within_three_seconds() {
    let app = app().await;
    let mut ws = app.ws().await;
    let started = std::time::Instant::now();
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4408, "{reason}");
    assert!(started.elapsed() >= Duration::from_millis(2900));
}

#[tokio::test]
async fn bad_or_missing_tokens_are_forbidden() {
    let app = app().await;
    let s = app.sign_up("Auth", "auth@example.com").await;
    for payload in [
        json!({ "type": "connection_init" }),
        json!({ "type": "connection_init", "payload": {} }),
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer nope" } }),
        json!({ "type": "connection_init", "payload": { "authorization": s.token } }),
    ] {
        let mut ws = app.ws().await;
        ws.send(payload.clone()).await;
        assert_eq!(ws.closed().await.0, 4403, "{payload}");
    }
    // a token in the URL is ignored
    let mut ws = app
        .ws_at(
            &format!(
                "/graphql?token={}&authorization=Bearer%20{}",
                s.token, s.token
            ),
            Some(crm_server::http::ws::PROTOCOL),
        )
        .await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.closed().await.0, 4403);
}

#[tokio::test]
async fn protocol_violations_close_with_their_codes() {
    let app = app().await;
    let s = app.sign_up("Proto", "proto@example.com").await;

    let mut ws = app.ws().await;
    ws.subscribe("1", KINDS, json!({})).await;
    assert_eq!(ws.closed().await.0, 4401, "subscribe before ack");

    let mut ws = app.ws_ready(&s.token).await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", s.token) } }))
        .await;
    assert_eq!(ws.closed().await.0, 4429, "second init");

    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe("1", KINDS, json!({})).await;
    ws.subscribe("1", "subscription { activityEvents { kind } }", json!({}))
        .await;
    assert_eq!(ws.closed().await.0, 4409, "reused id");

    for bad in [
        "{not json",
        r#"{"type":"next","id":"1","payload":{}}"#,
        r#"{"type":"connection_ack"}"#,
        r#"{"type":"subscribe","payload":{"query":"{ me { id } }"}}"#,
        r#"{"type":"subscribe","id":"1"}"#,
        r#"{"id":"1"}"#,
    ] {
        let mut ws = app.ws_ready(&s.token).await;
        ws.send_text(bad).await;
        assert_eq!(ws.closed().await.0, 4400, "{bad}");
    }
    let mut ws = app.ws_ready(&s.token).await;
    {
        use futures_util::SinkExt;
        ws.stream
            .send(tokio_tungstenite::tungstenite::Message::binary(vec![
                1u8, 2, 3,
            ]))
            .await
            .unwrap();
    }
    assert_eq!(ws.closed().await.0, 4400, "binary frame");

    // over 64 KiB
    let mut ws = app.ws_ready(&s.token).await;
    let big = format!(
        r#"{{"type":"subscribe","id":"1","payload":{{"query":"{{ me {{ id }} }} #{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    ws.send_text(&big).await;
    assert_eq!(ws.closed().await.0, 1009, "message too big");

    // without the subprotocol
    let mut ws = app.ws_at("/graphql", None).await;
    assert_eq!(ws.closed().await.0, 4406);
}

#[tokio::test]
async fn queries_pings_limits_and_completion() {
    let app = app().await;
    let s = app.sign_up("Ops", "ops@example.com").await;
    let mut ws = app.ws_ready(&s.token).await;

    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await["type"], "pong");

    // queries run over the socket too: next, then complete
    ws.subscribe("q", "{ me { id } }", json!({})).await;
    assert_eq!(ws.event("q").await["me"]["id"], s.user_id.as_str());
    let done = ws.next().await;
    assert_eq!(done, json!({ "id": "q", "type": "complete" }));

    // an invalid operation is an `error` message, the socket stays open
    ws.subscribe(
        "v",
        "subscription { opportunityEvents { nope } }",
        json!({}),
    )
    .await;
    let m = ws.next().await;
    assert_eq!(m["type"], "error");
    assert_eq!(m["id"], "v");
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    ws.subscribe("u", "subscription {", json!({})).await;
    assert_eq!(
        ws.next().await["payload"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    // at most 20 operations at once
    for i in 0..20 {
        ws.subscribe(&format!("s{i}"), KINDS, json!({})).await;
    }
    ws.subscribe("s20", KINDS, json!({})).await;
    let m = ws.next().await;
    assert_eq!(m["type"], "error");
    assert_eq!(m["id"], "s20");
    assert_eq!(m["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    // completing one frees a place, and its id may be used again
    ws.send(json!({ "type": "complete", "id": "s0" })).await;
    ws.subscribe_live("s0", KINDS, json!({})).await;
    let (_, stages) = crate::pipelines::sales_pipeline(&app, &s.token).await;
    create_opp(&app, &s, &stages[0], "Ping", None).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let m = ws
            .next_within(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("only {i} events: {ids:?}"));
        assert_eq!(m["type"], "next", "{m}");
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert!(!ids.contains(&"s20".to_string()));
}

#[tokio::test]
async fn an_expired_token_closes_the_socket_with_4403() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.jwt.access_ttl = Duration::from_secs(2);
    })
    .await
    .unwrap();
    let s = app.sign_up("Short", "short@example.com").await;
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live("o", KINDS, json!({})).await;
    let started = std::time::Instant::now();
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn a_slow_subscriber_is_dropped_without_slowing_others() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.ws_send_queue = 8;
    })
    .await
    .unwrap();
    let s = app.sign_up("Slow", "slow@example.com").await;
    let (_, stages) = crate::pipelines::sales_pipeline(&app, &s.token).await;
    let id = create_opp(&app, &s, &stages[0], &"t".repeat(200), None).await;

    // 20 operations, each selecting the 200-character title 14 times:
    // every change sends this client about 60 KB it never reads
    let mut slow = app.ws_ready(&s.token).await;
    let fields: String = (0..14)
        .map(|i| format!("t{i}: opportunity {{ title }} "))
        .collect();
    let heavy = format!("subscription {{ opportunityEvents {{ {fields} }} }}");
    for i in 0..20 {
        slow.subscribe(&format!("h{i}"), &heavy, json!({})).await;
    }
    let mut fast = app.ws_ready(&s.token).await;
    fast.subscribe_live(
        "f",
        "subscription { opportunityEvents { kind opportunityId } }",
        json!({}),
    )
    .await;

    let n = 150;
    for i in 0..n {
        ok(
            &app,
            &s,
            "mutation($id: ID!, $t: String!) { updateOpportunity(id: $id, input: { title: $t }) { id } }",
            json!({ "id": id, "t": format!("{i:03}{}", "t".repeat(197)) }),
        )
        .await;
    }
    for _ in 0..n {
        let e = fast.event("f").await;
        assert_eq!(e["opportunityEvents"]["kind"], "UPDATED");
    }
    let (code, reason) = slow.closed().await;
    assert_eq!(code, 1013, "{reason}");
}

// ------------------------------------------------------- several instances

/// Two instances on one PostgreSQL database: what is committed through one
/// reaches the other's subscribers (within 2 s), of the right tenant only,
/// and the LISTEN connection comes back after it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn events_cross_instances_through_postgres() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let b = a.sibling(|_| {}).await;
    let t1 = a.sign_up("One", "one@example.com").await;
    let t2 = a.sign_up("Two", "two@example.com").await;
    let (_, stages1) = crate::pipelines::sales_pipeline(&a, &t1.token).await;
    let (_, stages2) = crate::pipelines::sales_pipeline(&a, &t2.token).await;
    let mut sub1 = b.ws_ready(&t1.token).await;
    sub1.subscribe_live("o", OPP_EVENTS, json!({})).await;
    let mut sub2 = b.ws_ready(&t2.token).await;
    sub2.subscribe_live("o", OPP_EVENTS, json!({})).await;

    for i in 0..5 {
        let id = create_opp(&a, &t1, &stages1[0], &format!("Deal {i}"), None).await;
        let e = sub1
            .next_within(Duration::from_secs(2))
            .await
            .expect("the event crossed instances within 2 s");
        assert_eq!(
            e["payload"]["data"]["opportunityEvents"]["opportunityId"],
            id.as_str()
        );
        assert_eq!(e["payload"]["data"]["opportunityEvents"]["kind"], "CREATED");
    }
    // tenant two saw none of that: its first event is its own
    let own = create_opp(&a, &t2, &stages2[0], "Mine", None).await;
    let e = sub2.event("o").await;
    assert_eq!(e["opportunityEvents"]["opportunityId"], own.as_str());
    sub2.silent_for(Duration::from_millis(300)).await;

    // kill both instances' LISTEN connections and commit while they are
    // down: the subscribers stay, and hear of it from the log once the
    // listeners are back (or the backstop reads it first)
    let db = a.db().await;
    let listeners = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'crm-events-listener'";
    let count = |db: &sea_orm::DatabaseConnection| {
        let db = db.clone();
        async move {
            use sea_orm::{ConnectionTrait, Statement};
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), listeners))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    assert_eq!(count(&db).await, 2);
    {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'crm-events-listener'",
        )
        .await
        .unwrap();
    }
    let during = create_opp(&a, &t1, &stages1[0], "During the outage", None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if count(&db).await == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listeners did not come back"
        );
    }
    let e = sub1.event("o").await;
    assert_eq!(e["opportunityEvents"]["opportunityId"], during.as_str());
    let id = create_opp(&a, &t1, &stages1[0], "After the outage", None).await;
    let e = sub1.event("o").await;
    assert_eq!(e["opportunityEvents"]["opportunityId"], id.as_str());
    sub2.silent_for(Duration::from_millis(300)).await;

    // both instances sweep; each transition is raised exactly once
    let late = create_opp(&a, &t1, &stages1[0], "Late", Some(&yesterday())).await;
    assert_eq!(
        sub1.event("o").await["opportunityEvents"]["kind"],
        "CREATED"
    );
    let c = a
        .sibling(|s| s.event_sweep_interval = Duration::from_millis(300))
        .await;
    let d = b
        .sibling(|s| s.event_sweep_interval = Duration::from_millis(300))
        .await;
    let mut seen = Vec::new();
    while let Some(m) = sub1.next_within(Duration::from_secs(3)).await {
        seen.push(m);
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0]["payload"]["data"]["opportunityEvents"]["kind"],
        "BECAME_LATE"
    );
    assert_eq!(
        seen[0]["payload"]["data"]["opportunityEvents"]["opportunityId"],
        late.as_str()
    );
    db.close().await.ok();
    drop((c, d));
}

#[tokio::test]
async fn subscriptions_over_plain_http_are_refused_clearly() {
    let app = app().await;
    let s = app.sign_up("Plain", "plain@example.com").await;
    let v = app.gql(Some(&s.token), KINDS, json!({})).await;
    assert_eq!(code(&v), "BAD_REQUEST");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("WebSocket")
    );
    let res = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .bearer_auth(&s.token)
        .json(&json!({ "query": KINDS }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_deactivated_user_is_closed_out() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.ws_recheck_interval = Duration::from_secs(1);
    })
    .await
    .unwrap();
    let admin = app.sign_up("Team", "boss@example.com").await;
    let rep = app.create_user(&admin, "rep@example.com", "SALES").await;
    let mut ws = app.ws_ready(&rep.token).await;
    ws.subscribe_live("o", KINDS, json!({})).await;
    let v = app
        .gql(
            Some(&admin.token),
            "mutation($id: ID!) { updateUser(id: $id, input: { active: false }) { id } }",
            json!({ "id": rep.user_id }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4403, "{reason}");
}

/// A backlog larger than one batch (after a long downtime) is worked off
/// in batches, each transition raised exactly once.
#[tokio::test]
async fn a_backlog_is_swept_in_batches_exactly_once() {
    use crm_server::seed::{self, SeedOptions};
    use sea_orm::{ConnectionTrait, Statement};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let db = crm_server::db::connect(&url, 2, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    crm_server::db::migrate(&db).await.unwrap();
    seed::run(
        &db,
        SeedOptions {
            scale: Some(5000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // forget every mark: as if nothing had been raised yet
    db.execute_unprepared("UPDATE opportunities SET late_marked_due = NULL")
        .await
        .unwrap();
    db.execute_unprepared("UPDATE activities SET overdue_marked_due = NULL")
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap() as usize
        }
    };
    let bus = std::sync::Arc::new(crm_server::events::EventBus::new(&db, 16));
    let raised = crm_server::jobs::sweep(&db, &bus).await.unwrap();
    assert!(raised > 2 * 500, "several batches: {raised}");
    // every claimed transition is marked, and only those
    let marked = count("SELECT count(*) AS n FROM opportunities WHERE late_marked_due IS NOT NULL")
        .await
        + count("SELECT count(*) AS n FROM activities WHERE overdue_marked_due IS NOT NULL").await;
    assert_eq!(raised, marked);
    assert_eq!(crm_server::jobs::sweep(&db, &bus).await.unwrap(), 0);
}

/// A stopping instance (SIGTERM) tells its sockets to go elsewhere (1001)
/// rather than leaving them to time out.
#[tokio::test]
async fn a_stopping_instance_closes_its_sockets_with_1001() {
    let app = app().await;
    let s = app.sign_up("Bye", "bye@example.com").await;
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live("o", KINDS, json!({})).await;
    (app.close_sockets)();
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 1001, "{reason}");
}
