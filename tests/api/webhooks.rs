//! Outgoing webhooks: signed deliveries in order, retries, slow and failing
//! endpoints, disabling, secret rotation, redelivery, SSRF refusals and
//! tenant isolation. A local receiver (actix-web on port 0) plays the
//! endpoint and verifies every delivery with the `standardwebhooks` crate.
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, code, field};
use crate::webhook_receiver::{OK, Received, Receiver, Reply};

fn verify(secret: &str, r: &Received) -> Result<(), String> {
    let wh = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", r.id.parse().unwrap());
    headers.insert("webhook-timestamp", r.timestamp.parse().unwrap());
    headers.insert("webhook-signature", r.signature.parse().unwrap());
    wh.verify(r.body.as_bytes(), &headers)
        .map_err(|e| e.to_string())
}

const CREATE_EP: &str = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id url enabled eventKinds } secret } }";
const EP: &str = "query($id: ID!) { webhookEndpoint(id: $id) { id enabled disabledReason failedAttempts deliveries(first: 50) { id eventId eventKind sequence attempt succeeded responseCode durationMs error } } }";

async fn endpoint(app: &TestApp, s: &Session, url: &str, kinds: Value) -> (String, String) {
    let v = app
        .gql(
            Some(&s.token),
            CREATE_EP,
            json!({ "i": { "url": url, "description": "test", "eventKinds": kinds } }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let p = &v["data"]["createWebhookEndpoint"];
    assert!(p["secret"].as_str().unwrap().starts_with("whsec_"));
    (
        p["endpoint"]["id"].as_str().unwrap().into(),
        p["secret"].as_str().unwrap().into(),
    )
}

/// The endpoint (with its delivery log) once `ready` holds of it: the
/// receiver may see a delivery a moment before the worker logs it.
async fn endpoint_when(
    app: &TestApp,
    s: &Session,
    ep: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = app.gql(Some(&s.token), EP, json!({ "id": ep })).await;
        let e = &v["data"]["webhookEndpoint"];
        if ready(e) {
            return e.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the endpoint never got there: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn logged(e: &Value) -> usize {
    e["deliveries"].as_array().map_or(0, Vec::len)
}

async fn opportunity(app: &TestApp, s: &Session, stage: &str, title: &str) -> String {
    let v = app
        .gql(
            Some(&s.token),
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
            json!({ "i": { "title": title, "stageId": stage, "potential": "100" } }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["createOpportunity"]["id"]
        .as_str()
        .unwrap()
        .into()
}

async fn spawn(
    backend: Backend,
    tweak: impl FnOnce(&mut crm_server::config::Settings),
) -> Option<TestApp> {
    TestApp::spawn_with(backend, |s| {
        s.webhooks.workers = 2;
        tweak(s);
    })
    .await
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
            )]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

both!(deliveries_are_signed_in_order_and_logged);
async fn deliveries_are_signed_in_order_and_logged(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let s = app.sign_up("Hooks", "hooks@example.com").await;
    let st = crate::pipelines::sales_pipeline(&app, &s.token).await.1[0].clone();
    let mut rx = Receiver::start(OK).await;
    let (ep, secret) = endpoint(&app, &s, &rx.url, Value::Null).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(opportunity(&app, &s, &st, &format!("Deal {i}")).await);
    }
    let got = rx.wait_for(5).await;
    let mut seqs = Vec::new();
    for (r, id) in got.iter().zip(&ids) {
        verify(&secret, r).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        let b: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(b["type"], "opportunity.created", "{b}");
        assert_eq!(b["data"]["subjectId"], id.as_str());
        assert_eq!(b["data"]["opportunity"]["id"], id.as_str());
        assert!(
            b["data"]["opportunity"]["title"]
                .as_str()
                .unwrap()
                .starts_with("Deal")
        );
        assert_eq!(
            r.id,
            format!(
                "msg_{}",
                b["data"]["eventId"].as_str().unwrap().replace('-', "")
            )
        );
        seqs.push(b["data"]["sequence"].as_i64().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // only what it asked for: a kinds filter skips the rest
    let mut only = Receiver::start(OK).await;
    let (_, secret2) = endpoint(&app, &s, &only.url, json!(["OPPORTUNITY_DELETED"])).await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { deleteOpportunity(id: $id) }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let got = only.wait_for(1).await;
    verify(&secret2, &got[0]).unwrap();
    let b: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(b["type"], "opportunity.deleted");
    assert_eq!(
        b["data"]["opportunity"],
        Value::Null,
        "a deleted subject is null"
    );
    rx.wait_for(6).await;
    // the delivery log, through GraphQL
    let e = endpoint_when(&app, &s, &ep, |e| logged(e) >= 6).await;
    let d = e["deliveries"].as_array().unwrap();
    assert_eq!(d.len(), 6, "{v}");
    assert!(
        d.iter()
            .all(|d| d["succeeded"] == true && d["responseCode"] == 200 && d["attempt"] == 1)
    );
    // redelivery sends the same event (same webhook-id) again
    let last = d[0]["id"].as_str().unwrap();
    let v = app
        .gql(Some(&s.token), "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { attempt succeeded responseCode eventId } }", json!({ "d": last }))
        .await;
    assert!(v["errors"].is_null(), "{v}");
    assert_eq!(v["data"]["redeliverWebhook"]["succeeded"], true);
    assert_eq!(v["data"]["redeliverWebhook"]["attempt"], 0);
    let again = rx.wait_for(7).await;
    assert_eq!(again[6].id, again[5].id);
    verify(&secret, &again[6]).unwrap();
}

both!(failures_are_retried_and_a_slow_endpoint_delays_no_other);
async fn failures_are_retried_and_a_slow_endpoint_delays_no_other(backend: Backend) {
    let Some(app) = spawn(backend, |s| s.webhooks.timeout = Duration::from_millis(700)).await
    else {
        return;
    };
    let s = app.sign_up("Retry", "retry@example.com").await;
    let st = crate::pipelines::sales_pipeline(&app, &s.token).await.1[0].clone();
    let mut flaky = Receiver::start(OK).await;
    flaky
        .script
        .lock()
        .unwrap()
        .extend([Reply { status: 500, ..OK }, Reply { status: 503, ..OK }]);
    let slow = Receiver::start(Reply {
        delay: Duration::from_secs(5),
        ..OK
    })
    .await;
    let mut fine = Receiver::start(OK).await;
    let (flaky_ep, secret) = endpoint(&app, &s, &flaky.url, Value::Null).await;
    let (slow_ep, _) = endpoint(&app, &s, &slow.url, Value::Null).await;
    endpoint(&app, &s, &fine.url, Value::Null).await;
    let started = std::time::Instant::now();
    opportunity(&app, &s, &st, "Once").await;
    fine.wait_for(1).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the slow endpoint held up another"
    );
    // two failures, then the third try succeeds: the same event each time
    let got = flaky.wait_for(3).await;
    assert_eq!(got[0].id, got[2].id);
    verify(&secret, &got[2]).unwrap();
    let e = endpoint_when(&app, &s, &flaky_ep, |e| logged(e) >= 3).await;
    let mut d: Vec<(i64, bool, Value)> = e["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["succeeded"].as_bool().unwrap(),
                d["responseCode"].clone(),
            )
        })
        .collect();
    d.sort_by_key(|x| x.0);
    assert_eq!(
        d,
        vec![
            (1, false, json!(500)),
            (2, false, json!(503)),
            (3, true, json!(200))
        ]
    );
    // the slow one timed out and waits for its retry
    // (the endpoint row and its log are read by two statements: wait for both)
    let e = endpoint_when(&app, &s, &slow_ep, |e| {
        logged(e) >= 1 && e["failedAttempts"].as_i64().unwrap_or(0) >= 1
    })
    .await;
    let first = &e["deliveries"][0];
    assert_eq!(first["succeeded"], false);
    assert!(
        first["error"].as_str().unwrap().contains("no answer"),
        "{first}"
    );
    assert!(e["failedAttempts"].as_i64().unwrap() >= 1, "{e}");
}

both!(an_endpoint_failing_too_long_is_disabled_and_its_tenant_told);
async fn an_endpoint_failing_too_long_is_disabled_and_its_tenant_told(backend: Backend) {
    let Some(app) = spawn(backend, |s| s.webhooks.give_up_after = Duration::ZERO).await else {
        return;
    };
    let s = app.sign_up("Give up", "giveup@example.com").await;
    let st = crate::pipelines::sales_pipeline(&app, &s.token).await.1[0].clone();
    let mut down = Receiver::start(Reply { status: 500, ..OK }).await;
    let (ep, _) = endpoint(&app, &s, &down.url, Value::Null).await;
    opportunity(&app, &s, &st, "Lost cause").await;
    down.wait_for(1).await;
    let e = endpoint_when(&app, &s, &ep, |e| e["enabled"] == false).await;
    assert!(
        e["disabledReason"].as_str().unwrap().contains("failing"),
        "{e}"
    );
    let v = app
        .gql(
            Some(&s.token),
            "{ changes(kinds: [WEBHOOK_ENDPOINT_DISABLED]) { nodes { subjectType subjectId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["changes"]["nodes"][0]["subjectId"],
        ep.as_str(),
        "{v}"
    );
    assert_eq!(
        v["data"]["changes"]["nodes"][0]["subjectType"],
        "WEBHOOK_ENDPOINT"
    );
}

both!(a_rotated_secret_signs_beside_the_old_one_during_the_overlap);
async fn a_rotated_secret_signs_beside_the_old_one_during_the_overlap(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let s = app.sign_up("Rotate", "rotate@example.com").await;
    let st = crate::pipelines::sales_pipeline(&app, &s.token).await.1[0].clone();
    let mut rx = Receiver::start(OK).await;
    let (ep, old) = endpoint(&app, &s, &rx.url, Value::Null).await;
    let v = app
        .gql(Some(&s.token), "mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapHours: 1) { secret endpoint { id } } }", json!({ "id": ep }))
        .await;
    let new = v["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    opportunity(&app, &s, &st, "Signed twice").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].signature.split(' ').count(), 2, "{:?}", got[0]);
    verify(&old, &got[0]).unwrap();
    verify(&new, &got[0]).unwrap();
    // without overlap only the new one signs
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapHours: 0) { secret } }",
            json!({ "id": ep }),
        )
        .await;
    let newest = v["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    opportunity(&app, &s, &st, "Signed once").await;
    let got = rx.wait_for(2).await;
    verify(&newest, &got[1]).unwrap();
    assert!(verify(&new, &got[1]).is_err());
}

both!(private_and_metadata_targets_are_refused);
async fn private_and_metadata_targets_are_refused(backend: Backend) {
    let Some(app) = spawn(backend, |s| {
        s.webhooks.allow_private = false;
        s.webhooks.allow_http = false;
    })
    .await
    else {
        return;
    };
    let s = app.sign_up("Ssrf", "ssrf@example.com").await;
    for url in [
        "https://127.0.0.1/x",
        "https://localhost:8443/x",
        "https://10.0.0.8/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:192.168.0.1]/x",
        "http://hooks.example.com/x",
        "file:///etc/passwd",
        "https://user:pw@hooks.example.com/",
    ] {
        let v = app
            .gql(Some(&s.token), CREATE_EP, json!({ "i": { "url": url } }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{url}: {v}");
        assert_eq!(field(&v), "url", "{v}");
    }
    // roles and tenants: SALES may not, another tenant's id is NOT_FOUND
    let sales = app.create_user(&s, "rep@ssrf.example.com", "SALES").await;
    let v = app
        .gql(
            Some(&sales.token),
            CREATE_EP,
            json!({ "i": { "url": "https://hooks.example.com/x" } }),
        )
        .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let (ep, _) = endpoint(&app, &s, "https://hooks.example.com/x", Value::Null).await;
    let other = app.sign_up("Other", "other@ssrf.example.com").await;
    for (q, vars) in [
        (EP, json!({ "id": ep })),
        (
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
            json!({ "id": ep }),
        ),
        (
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            json!({ "id": ep }),
        ),
        (
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: false }) { id } }",
            json!({ "id": ep }),
        ),
        (
            "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
            json!({ "id": ep }),
        ),
    ] {
        let v = app.gql(Some(&other.token), q, vars).await;
        assert_eq!(code(&v), "NOT_FOUND", "{q}: {v}");
    }
    let v = app
        .gql(Some(&other.token), "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(v["data"]["webhookEndpoints"], json!([]));
}

/// With private targets allowed (to reach the local receiver), a redirect
/// to the metadata address is not followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let s = app.sign_up("Redirect", "redirect@example.com").await;
    let st = crate::pipelines::sales_pipeline(&app, &s.token).await.1[0].clone();
    let mut rx = Receiver::start(Reply {
        redirect: true,
        ..OK
    })
    .await;
    let (ep, _) = endpoint(&app, &s, &rx.url, Value::Null).await;
    opportunity(&app, &s, &st, "Follow me").await;
    rx.wait_for(1).await;
    let e = endpoint_when(&app, &s, &ep, |e| logged(e) >= 1).await;
    let d = &e["deliveries"][0];
    assert_eq!(d["succeeded"], false, "{d}");
    assert_eq!(d["responseCode"], 302, "{d}");
}

/// Two instances on one PostgreSQL database, both delivering: every event
/// reaches the endpoint exactly once, in order (the lease and `SKIP
/// LOCKED` keep one worker per endpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn two_instances_deliver_each_event_once() {
    let Some(a) = spawn(Backend::Postgres, |_| {}).await else {
        return;
    };
    let b = a.sibling(|s| s.webhooks.workers = 2).await;
    let s = a.sign_up("Pair", "pair@example.com").await;
    let st = crate::pipelines::sales_pipeline(&a, &s.token).await.1[0].clone();
    let mut rx = Receiver::start(OK).await;
    let (_, secret) = endpoint(&a, &s, &rx.url, Value::Null).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        ids.push(opportunity(app, &s, &st, &format!("P{i}")).await);
    }
    let got = rx.wait_for(20).await;
    let seen: Vec<String> = got
        .iter()
        .map(|r| {
            verify(&secret, r).unwrap();
            let b: Value = serde_json::from_str(&r.body).unwrap();
            b["data"]["subjectId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(seen, ids);
    // nothing more comes
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 20);
    drop(b);
}
