//! The attacks of the hardening review, one test each, named for the
//! attack: the server answers each with a clear error and keeps serving.
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Backend, PASSWORD, Session, TestApp, code, field};
use crate::opportunities::create;
use crate::pipelines::sales_pipeline;

/// `query { ...fN }` where each fragment spreads the previous one twice:
/// 2^n fields once expanded, in under 1 KB.
fn fragment_bomb(n: usize) -> String {
    let mut q = format!("query {{ ...f{n} }} fragment f0 on Query {{ __typename }} ");
    for i in 1..=n {
        q.push_str(&format!(
            "fragment f{i} on Query {{ ...f{p} ...f{p} }} ",
            p = i - 1
        ));
    }
    q
}

async fn post_raw(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = app.client.post(app.url("/graphql")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Every error of an answer carries a code.
fn all_coded(v: &Value) -> bool {
    v["errors"]
        .as_array()
        .is_none_or(|errs| errs.iter().all(|e| e["extensions"]["code"].is_string()))
}

dual_test!(fragment_bomb_is_refused_on_post_get_and_websocket, |app| {
    let q = fragment_bomb(30);
    let started = Instant::now();
    let (status, v) = post_raw(&app, None, json!({ "query": q })).await;
    let post_time = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expanded")
    );

    let started = Instant::now();
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", q.as_str())])
        .send()
        .await
        .unwrap();
    let get_time = started.elapsed();
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");

    let s = app.sign_up("Bomb Co", "ann@bomb.co").await;
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe("b", &q, json!({})).await;
    let m = ws.next().await;
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    // 20 in flight at once: the health check is still answered, and so is
    // an ordinary query
    let bombs = (0..20).map(|_| post_raw(&app, None, json!({ "query": q })));
    let health = async {
        let started = Instant::now();
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        (res.status().as_u16(), started.elapsed())
    };
    let (answers, (health_status, health_time)) = tokio::join!(join_all(bombs), health);
    assert_eq!(health_status, 200);
    assert!(
        answers
            .iter()
            .all(|(s, v)| *s == 200 && code(v) == "GRAPHQL_VALIDATION_FAILED")
    );
    eprintln!(
        "fragment bomb f30 ({:?}): POST {post_time:?}, GET {get_time:?}; /healthz among 20 bombs: {health_time:?}",
        app.backend
    );
});

dual_test!(
    oversized_documents_unknown_directives_and_password_aliases_are_refused,
    |app| {
        let many = format!("{{ {} }}", "__typename ".repeat(2_100));
        let (_, v) = post_raw(&app, None, json!({ "query": many })).await;
        assert_eq!(code(&v), "GRAPHQL_VALIDATION_FAILED");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("tokens")
        );

        let (_, v) = post_raw(&app, None, json!({ "query": "{ __typename @evil }" })).await;
        assert_eq!(code(&v), "GRAPHQL_VALIDATION_FAILED");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("@evil")
        );

        let two_logins = "mutation { a: login(input: {tenantSlug: \"x\", email: \"a@b.co\", password: \"whatever1\"}) { accessToken } b: login(input: {tenantSlug: \"x\", email: \"a@b.co\", password: \"whatever2\"}) { accessToken } }";
        let (_, v) = post_raw(&app, None, json!({ "query": two_logins })).await;
        assert_eq!(code(&v), "GRAPHQL_VALIDATION_FAILED");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("one login")
        );
    }
);

dual_test!(huge_amounts_answer_bad_user_input_not_a_panic, |app| {
    let s = app.sign_up("Huge Co", "ann@huge.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let stage = &stages[0];
    for amount in ["1e27", "79228162514264337593543950335", "1e20"] {
        let v = crate::opportunities::create_full(
            &app,
            &s.token,
            json!({ "title": "Huge", "stageId": stage, "potential": amount }),
        )
        .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{amount}: {v}");
    }
    // the server is still here
    let v = app.gql(Some(&s.token), "{ me { id } }", json!({})).await;
    assert!(v["errors"].is_null());
});

dual_test!(nul_and_control_characters_are_bad_user_input, |app| {
    let s = app.sign_up("Nul Co", "ann@nul.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let stage = &stages[0];
    let v = crate::opportunities::create_full(
        &app,
        &s.token,
        json!({ "title": "a\u{0}b", "stageId": stage, "potential": "1" }),
    )
    .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert_eq!(field(&v), "i.title");
    // in a literal too, and in an anonymous login
    let v = app
        .gql(
            None,
            "mutation { login(input: {tenantSlug: \"a\\u0000\", email: \"x@y.co\", password: \"whatever\"}) { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert_eq!(field(&v), "input.tenantSlug");
    // line breaks and tabs are text
    let id = create(
        &app,
        &s.token,
        json!({ "title": "line\nbreak\ttab", "stageId": stage, "potential": "1" }),
    )
    .await;
    assert!(!id.is_empty());
});

dual_test!(
    out_of_range_dates_long_searches_and_bad_scalars_carry_codes,
    |app| {
        let s = app.sign_up("Range Co", "ann@range.co").await;
        let (_, stages) = sales_pipeline(&app, &s.token).await;
        let stage = &stages[0];
        for due in ["-5000-01-01", "10000-01-01", "2026-02-30", "0000-12-31"] {
            let v = crate::opportunities::create_full(
                &app,
                &s.token,
                json!({ "title": "Dated", "stageId": stage, "potential": "1", "dueDate": due }),
            )
            .await;
            assert_eq!(code(&v), "BAD_USER_INPUT", "{due}: {v}");
        }
        let v = app
            .gql(
                Some(&s.token),
                "query($s: String) { opportunities(filter: { search: $s }) { totalCount } }",
                json!({ "s": "x".repeat(100_000) }),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        assert_eq!(field(&v), "search");
        for (query, vars) in [
            (
                "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
                json!({ "i": { "title": "x", "stageId": stage, "potential": "abc" } }),
            ),
            (
                "query($n: Int) { opportunities(first: $n) { totalCount } }",
                json!({ "n": 3_000_000_000u64 }),
            ),
            (
                "{ opportunities(first: 3000000000) { totalCount } }",
                json!({}),
            ),
        ] {
            let v = app.gql(Some(&s.token), query, vars).await;
            assert!(v["errors"].is_array(), "{v}");
            assert!(all_coded(&v), "{v}");
        }
    }
);

/// Demotes `target` as `actor`; the answer.
async fn demote(app: &TestApp, actor: &str, target: &str) -> Value {
    app.gql(
        Some(actor),
        "mutation($id: ID!) { updateUser(id: $id, input: { role: SALES }) { id } }",
        json!({ "id": target }),
    )
    .await
}

dual_test!(two_admins_demoting_each_other_leave_one_admin, |app| {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let db = app.db().await;
    let mut zero_admin_rounds = 0;
    for round in 0..10 {
        let a = app
            .sign_up(&format!("Admins {round}"), &format!("ann{round}@admins.co"))
            .await;
        let b = app
            .create_user(&a, &format!("bob{round}@admins.co"), "ADMIN")
            .await;
        // each demotes the other at the same moment
        let (x, y) = tokio::join!(
            demote(&app, &a.token, &b.user_id),
            demote(&app, &b.token, &a.user_id)
        );
        let tenant: uuid::Uuid = a.tenant_id.parse().unwrap();
        let admins = entity::user::Entity::find()
            .filter(entity::user::Column::TenantId.eq(tenant))
            .filter(entity::user::Column::Role.eq("ADMIN"))
            .filter(entity::user::Column::Active.eq(true))
            .count(&db)
            .await
            .unwrap();
        if admins == 0 {
            zero_admin_rounds += 1;
        }
        // one demotion lands, the other is refused with a reason
        let refused: Vec<_> = [&x, &y]
            .into_iter()
            .filter(|v| !v["errors"].is_null())
            .collect();
        assert_eq!(refused.len(), 1, "round {round}: {x} {y}");
        assert!(
            matches!(
                code(refused[0]),
                "BAD_USER_INPUT" | "UNAUTHENTICATED" | "FORBIDDEN"
            ),
            "{}",
            refused[0]
        );
    }
    assert_eq!(zero_admin_rounds, 0);
});

/// A client whose connections come from another loopback address.
fn client_from(addr: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(addr))
        .build()
        .unwrap()
}

async fn login_from(app: &TestApp, client: &reqwest::Client, s: &Session, pw: &str) -> Value {
    client
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            "variables": { "i": { "tenantSlug": s.slug, "email": "ann@guess.co", "password": pw } }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

dual_test!(
    parallel_password_guesses_are_capped_and_cannot_lock_the_owner_out,
    |app| {
        let s = app.sign_up("Guess Co", "ann@guess.co").await;
        let attacker = client_from([127, 0, 0, 1]);
        let guesses = (0..40).map(|i| {
            let attacker = &attacker;
            let app = &app;
            let s = &s;
            async move { login_from(app, attacker, s, &format!("wrong guess {i}")).await }
        });
        let answers = join_all(guesses).await;
        let evaluated = answers
            .iter()
            .filter(|v| code(v) == "UNAUTHENTICATED")
            .count();
        let limited = answers.iter().filter(|v| code(v) == "RATE_LIMITED").count();
        eprintln!(
            "{:?}: 40 parallel guesses, {evaluated} evaluated",
            app.backend
        );
        assert!(evaluated <= 5, "{evaluated} guesses were evaluated");
        assert_eq!(evaluated + limited, 40);
        // the attacker's address is now refused, even with the right password
        let v = login_from(&app, &attacker, &s, PASSWORD).await;
        assert_eq!(code(&v), "RATE_LIMITED");
        // the owner, elsewhere, logs in
        let owner = client_from([127, 0, 0, 2]);
        let v = login_from(&app, &owner, &s, PASSWORD).await;
        assert!(v["errors"].is_null(), "{v}");

        // changePassword with a wrong current password is throttled as well
        let q = "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"a brand new one\") }";
        let mut codes = Vec::new();
        for i in 0..7 {
            let v = app
                .gql(Some(&s.token), q, json!({ "c": format!("wrong {i}") }))
                .await;
            codes.push(code(&v).to_string());
        }
        assert_eq!(codes[0], "BAD_USER_INPUT");
        assert_eq!(codes[6], "RATE_LIMITED", "{codes:?}");
    }
);

dual_test!(hundreds_of_concurrent_logins_are_budgeted, |app| {
    let s = app.sign_up("Flood Co", "ann@flood.co").await;
    // many addresses, so that the per-address budget is not what stops them
    let clients: Vec<_> = (0..50u8).map(|i| client_from([127, 0, 1, i + 1])).collect();
    let logins = (0..300).map(|i| {
        let client = &clients[i % clients.len()];
        let app = &app;
        let slug = s.slug.clone();
        async move {
            client
                .post(app.url("/graphql"))
                .json(&json!({
                    "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                    "variables": { "i": { "tenantSlug": slug, "email": format!("x{i}@flood.co"), "password": "not the password" } }
                }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    let answers = join_all(logins).await;
    let mut by_code = std::collections::BTreeMap::<String, usize>::new();
    for v in &answers {
        *by_code.entry(code(v).to_string()).or_default() += 1;
    }
    eprintln!("{:?}: 300 concurrent logins: {by_code:?}", app.backend);
    assert!(
        by_code
            .keys()
            .all(|c| c == "UNAUTHENTICATED" || c == "RATE_LIMITED"),
        "{by_code:?}"
    );
    assert!(by_code.get("RATE_LIMITED").is_some_and(|n| *n > 0));
    let limited = answers.iter().find(|v| code(v) == "RATE_LIMITED").unwrap();
    assert!(
        limited["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_i64()
            .unwrap()
            >= 1
    );
});

dual_test!(concurrent_admin_edits_keep_stages_consistent, |app| {
    let s = app.sign_up("Stages Co", "ann@stages.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let add = "mutation($p: ID!, $n: String!) { addStage(pipelineId: $p, input: { name: $n, probability: 10 }, position: 0) { id } }";
    let adds = (0..10).map(|i| {
        app.gql(
            Some(&s.token),
            add,
            json!({ "p": pid, "n": format!("New {i}") }),
        )
    });
    let answers = join_all(adds).await;
    assert!(answers.iter().all(|v| v["errors"].is_null()), "{answers:?}");
    // the same name ten times: one wins, the others are told why
    let same = (0..10).map(|_| app.gql(Some(&s.token), add, json!({ "p": pid, "n": "Twin" })));
    let answers = join_all(same).await;
    assert_eq!(answers.iter().filter(|v| v["errors"].is_null()).count(), 1);
    for v in answers.iter().filter(|v| !v["errors"].is_null()) {
        assert_eq!(code(v), "BAD_USER_INPUT", "{v}");
        assert_eq!(field(v), "name");
    }
    let renames = (0..20).map(|i| {
        app.gql(
            Some(&s.token),
            "mutation($id: ID!, $n: String!) { updateStage(id: $id, input: { name: $n }) { id } }",
            json!({ "id": stages[i % stages.len()], "n": format!("Renamed {i}") }),
        )
    });
    let answers = join_all(renames).await;
    assert!(answers.iter().all(|v| v["errors"].is_null()), "{answers:?}");
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { pipeline(id: $id) { stages { position } } }",
            json!({ "id": pid }),
        )
        .await;
    let positions: Vec<i64> = v["data"]["pipeline"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["position"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (0..positions.len() as i64).collect();
    assert_eq!(positions, expected);
});

dual_test!(concurrent_writes_to_one_opportunity_all_land, |app| {
    let s = app.sign_up("Race Co", "ann@race.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let stage = &stages[0];
    let id = create(
        &app,
        &s.token,
        json!({ "title": "Raced", "stageId": stage, "potential": "1" }),
    )
    .await;
    let contact = app
        .gql(
            Some(&s.token),
            "mutation { createContact(input: { kind: PERSON, name: \"Dup\" }) { id } }",
            json!({}),
        )
        .await;
    let contact = contact["data"]["createContact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let adds = (0..10).map(|_| {
        app.gql(
            Some(&s.token),
            "mutation($o: ID!, $c: ID!) { addOpportunityContact(opportunityId: $o, input: { contactId: $c }) { id } }",
            json!({ "o": id, "c": contact }),
        )
    });
    let answers = join_all(adds).await;
    assert_eq!(
        answers.iter().filter(|v| v["errors"].is_null()).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|v| !v["errors"].is_null())
            .all(|v| matches!(code(v), "BAD_USER_INPUT" | "CONFLICT")),
        "{answers:?}"
    );
    let updates = (0..30).map(|i| {
        app.gql(
            Some(&s.token),
            "mutation($id: ID!, $t: String!) { updateOpportunity(id: $id, input: { title: $t }) { version } }",
            json!({ "id": id, "t": format!("Title {i}") }),
        )
    });
    let answers = join_all(updates).await;
    let failed: Vec<_> = answers.iter().filter(|v| !v["errors"].is_null()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let o = crate::opportunities::get(&app, &s.token, &id).await;
    // one version per update, plus the contact
    assert_eq!(o["version"].as_i64().unwrap(), 32, "{o}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_answers_timeout_and_frees_the_worker() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.request_timeout = Duration::from_nanos(1);
    })
    .await
    .unwrap();
    // anything that waits on the database misses a 1 ns deadline
    let v = app.login("acme", "ann@acme.co", "whatever pw").await;
    assert_eq!(code(&v), "TIMEOUT", "{v}");
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn a_database_outage_is_unavailable_not_unauthenticated() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    use sea_orm::ConnectionTrait;
    let s = app.sign_up("Outage Co", "ann@outage.co").await;
    let name = app.database_url.rsplit('/').next().unwrap().to_string();
    let admin = sea_orm::Database::connect(std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .unwrap();
    let res = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&s.token)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap();
    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    assert_eq!(code(&v), "UNAVAILABLE", "{v}");
    assert_eq!(status, 503);
    assert!(
        v["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_i64()
            .is_some()
    );
    // once it is back, the same token works: nobody was signed out
    let v = app.gql(Some(&s.token), "{ me { id } }", json!({})).await;
    assert!(v["errors"].is_null(), "{v}");
}

dual_test!(security_headers_origin_checks_and_private_files, |app| {
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().contains_key("referrer-policy"));
    let res = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("content-security-policy"));
    assert_eq!(res.headers()["x-frame-options"], "DENY");

    // a WebSocket from a foreign page is refused; from an allowed one, not
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/graphql", app.address.replacen("http://", "ws://", 1));
    let mut req = url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    req.headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    req.headers_mut()
        .insert("Origin", "https://app.example.com".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());

    if app.backend == Backend::Sqlite {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        crm_server::db::connect(&url, 1, Duration::from_secs(5))
            .await
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
});

dual_test!(access_tokens_die_with_their_session, |app| {
    let s = app.sign_up("Session Co", "ann@session.co").await;
    let q = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "c": PASSWORD, "n": "another good one" }),
        )
        .await;
    assert_eq!(v["data"]["changePassword"], true);
    let me = app.gql(Some(&s.token), "{ me { id } }", json!({})).await;
    assert_eq!(code(&me), "UNAUTHENTICATED");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: the PostgreSQL half is skipped"
)]
async fn the_database_refuses_a_cross_tenant_reference() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    use sea_orm::ConnectionTrait;
    let a = app.sign_up("Ref A", "ann@ref-a.co").await;
    let b = app.sign_up("Ref B", "bob@ref-b.co").await;
    let (_, a_stages) = sales_pipeline(&app, &a.token).await;
    let (_, b_stages) = sales_pipeline(&app, &b.token).await;
    let id = create(
        &app,
        &a.token,
        json!({ "title": "Mine", "stageId": a_stages[0], "potential": "1" }),
    )
    .await;
    // straight to the database, as the owner: the application is not
    // in the way, only the composite key is
    let db = app.db().await;
    let cross = db
        .execute_unprepared(&format!(
            "UPDATE opportunities SET stage_id = '{}' WHERE id = '{id}'",
            b_stages[0]
        ))
        .await;
    let err = cross.expect_err("a cross-tenant stage was accepted");
    assert!(err.to_string().contains("foreign key"), "{err}");
    let same = db
        .execute_unprepared(&format!(
            "UPDATE opportunities SET stage_id = '{}' WHERE id = '{id}'",
            a_stages[1]
        ))
        .await;
    assert!(same.is_ok(), "{same:?}");
}

dual_test!(
    intake_refuses_control_characters_and_huge_amounts_with_422,
    |app| {
        let s = app.sign_up("Form Co", "ann@form.co").await;
        let (_, stages) = sales_pipeline(&app, &s.token).await;
        let v = app
            .gql(
                Some(&s.token),
                "mutation($i: IntakeKeyInput!) { createIntakeKey(input: $i) { secret } }",
                json!({ "i": { "name": "Web", "stageId": stages[0] } }),
            )
            .await;
        let secret = v["data"]["createIntakeKey"]["secret"]
            .as_str()
            .unwrap()
            .to_string();
        for (body, field) in [
            (json!({ "name": "Eve\u{0}", "email": "eve@x.co" }), "name"),
            (
                json!({ "name": "Eve", "email": "eve@x.co", "potential": "1e27" }),
                "potential",
            ),
            (
                json!({ "name": "Eve", "email": "eve@x.co", "message": "hi\u{7}" }),
                "message",
            ),
        ] {
            let res = app
                .client
                .post(app.url("/intake"))
                .bearer_auth(&secret)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 422, "{body}");
            let answer: Value = res.json().await.unwrap();
            assert_eq!(answer["field"], field, "{answer}");
        }
    }
);

dual_test!(nested_plain_lists_count_in_the_cost, |app| {
    let s = app.sign_up("Cost Co", "ann@cost.co").await;
    // every pipeline, every stage, 60 cards each: far more than a screen
    let q = "{ pipelines { stages { opportunities(first: 60) { nodes { id title reference status potential { amount currency } owner { id name } } } } } }";
    let v = app.gql(Some(&s.token), q, json!({})).await;
    assert_eq!(code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
    // one board, as a client shows it, passes
    let q = "{ pipelines { stages { opportunities(first: 10) { nodes { id title } } } } }";
    let v = app.gql(Some(&s.token), q, json!({})).await;
    assert!(v["errors"].is_null(), "{v}");
});
