use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{TestApp, code, field};
use crate::pipelines::{sales_pipeline, source_ids};

pub const FIELDS: &str = "id reference title status probability probabilityOverride probabilitySource potential { amount currency } weightedPotential { amount currency } dueDate version isRotting lostReason closedAt pipeline { id } stage { id name } owner { id } team { id } source { id } primaryContact { id name } contacts { contact { id } role isPrimary }";

/// Creates an opportunity and returns its id (panics on errors).
pub async fn create(app: &TestApp, token: &str, input: Value) -> String {
    let v = create_full(app, token, input).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["createOpportunity"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn create_full(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), &format!("mutation($i: CreateOpportunityInput!) {{ createOpportunity(input: $i) {{ {FIELDS} }} }}"), json!({ "i": input })).await
}

pub async fn get(app: &TestApp, token: &str, id: &str) -> Value {
    let v = app
        .gql(
            Some(token),
            &format!("query($id: ID!) {{ opportunity(id: $id) {{ {FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    v["data"]["opportunity"].clone()
}

async fn contact(
    app: &TestApp,
    token: &str,
    kind: &str,
    name: &str,
    company: Option<&str>,
) -> String {
    let v = app
        .gql(
            Some(token),
            "mutation($i: ContactInput!) { createContact(input: $i) { id } }",
            json!({ "i": { "kind": kind, "name": name, "companyId": company } }),
        )
        .await;
    v["data"]["createContact"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

dual_test!(creation_defaults_probability_and_weighting, |app| {
    let s = app.sign_up("Opp Co", "ann@opp.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let v = create_full(
        &app,
        &s.token,
        json!({ "title": "  Website redesign ", "stageId": stages[1], "potential": "1001.005" }),
    )
    .await;
    let o = &v["data"]["createOpportunity"];
    assert_eq!(o["reference"], "OPP-1");
    assert_eq!(o["title"], "Website redesign");
    assert_eq!(o["pipeline"]["id"], pid.as_str());
    assert_eq!(o["status"], "OPEN");
    assert_eq!(o["probability"], 50);
    assert_eq!(o["probabilitySource"], "STAGE");
    // 1001.005 rounds half away from zero to 1001.01; × 50% = 500.505 → 500.51
    assert_eq!(
        o["potential"],
        json!({ "amount": "1001.01", "currency": "EUR" })
    );
    assert_eq!(o["weightedPotential"]["amount"], "500.51");
    assert_eq!(o["version"], 1);
    assert_eq!(o["owner"]["id"], s.user_id.as_str());

    let v = create_full(&app, &s.token, json!({ "title": "B", "stageId": stages[0], "potential": "999", "probabilityOverride": 33 })).await;
    let o = &v["data"]["createOpportunity"];
    assert_eq!(o["reference"], "OPP-2");
    assert_eq!(o["probability"], 33);
    assert_eq!(o["probabilitySource"], "MANUAL");
    assert_eq!(o["weightedPotential"]["amount"], "329.67");
    let id = o["id"].as_str().unwrap();
    let won = app
        .gql(Some(&s.token), "mutation($id: ID!) { markOpportunityWon(id: $id) { status probability probabilitySource weightedPotential { amount } closedAt } }", json!({ "id": id }))
        .await;
    assert_eq!(won["data"]["markOpportunityWon"]["probability"], 100);
    assert_eq!(
        won["data"]["markOpportunityWon"]["probabilitySource"],
        "CLOSED"
    );
    assert_eq!(
        won["data"]["markOpportunityWon"]["weightedPotential"]["amount"],
        "999.00"
    );
    assert!(won["data"]["markOpportunityWon"]["closedAt"].is_string());
    let again = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { markOpportunityWon(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&again), "BAD_USER_INPUT");
    let lost = app
        .gql(Some(&s.token), "mutation($id: ID!, $r: String!) { markOpportunityLost(id: $id, reason: $r) { status probability lostReason } }", json!({ "id": id, "r": "   " }))
        .await;
    assert_eq!(field(&lost), "reason");
    let lost = app
        .gql(Some(&s.token), "mutation($id: ID!, $r: String!) { markOpportunityLost(id: $id, reason: $r) { status probability lostReason } }", json!({ "id": id, "r": "Too expensive" }))
        .await;
    assert_eq!(
        lost["data"]["markOpportunityLost"],
        json!({ "status": "LOST", "probability": 0, "lostReason": "Too expensive" })
    );
    let re = app.gql(Some(&s.token), "mutation($id: ID!) { reopenOpportunity(id: $id) { status probability lostReason closedAt } }", json!({ "id": id })).await;
    assert_eq!(
        re["data"]["reopenOpportunity"],
        json!({ "status": "OPEN", "probability": 33, "lostReason": null, "closedAt": null })
    );
});

dual_test!(creation_validates_input, |app| {
    let s = app.sign_up("Val Co", "ann@val.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let base = json!({ "title": "T", "stageId": stages[0], "potential": "10" });
    let cases = [
        ("title", json!("")),
        ("title", json!("x".repeat(201))),
        ("potential", json!("-1")),
        ("potential", json!("1000000000.01")),
        ("currency", json!("USD")),
        ("currency", json!("EURO")),
        ("probabilityOverride", json!(101)),
    ];
    for (f, value) in cases {
        let mut input = base.clone();
        input[f] = value;
        let v = create_full(&app, &s.token, input).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{f}: {v}");
        assert_eq!(field(&v), f);
    }
    let mut input = base.clone();
    input["contacts"] = json!([]);
    input["potential"] = json!("abc");
    let v = create_full(&app, &s.token, input).await;
    assert!(!v["errors"].is_null());
    for (f, id) in [
        ("stageId", "00000000-0000-0000-0000-000000000000"),
        ("ownerId", "nope"),
        ("sourceId", "00000000-0000-0000-0000-000000000000"),
    ] {
        let mut input = base.clone();
        input[f] = json!(id);
        assert_eq!(
            code(&create_full(&app, &s.token, input).await),
            "NOT_FOUND",
            "{f}"
        );
    }
    // another currency works once it has a rate, and totals convert it
    app.gql(
        Some(&s.token),
        "mutation { setExchangeRate(currency: \"USD\", rate: \"0.5\") { rate } }",
        json!({}),
    )
    .await;
    let mut input = base.clone();
    input["currency"] = json!("usd");
    input["potential"] = json!("10.01");
    let v = create_full(&app, &s.token, input).await;
    assert_eq!(
        v["data"]["createOpportunity"]["potential"],
        json!({ "amount": "10.01", "currency": "USD" })
    );
    // 10.01 USD × 0.5 = 5.005 → 5.01 EUR; 10 EUR at 10% = 1.00, 10.01 USD at 10% = 1.00 USD → 0.50 EUR
    let v = app.gql(Some(&s.token), "{ opportunities { totalCount totalPotential { amount currency } totalWeightedPotential { amount } } }", json!({})).await;
    assert_eq!(v["data"]["opportunities"]["totalCount"], 1);
    assert_eq!(
        v["data"]["opportunities"]["totalPotential"],
        json!({ "amount": "5.01", "currency": "EUR" })
    );
    assert_eq!(
        v["data"]["opportunities"]["totalWeightedPotential"]["amount"],
        "0.50"
    );
});

dual_test!(totals_add_up_to_the_rows, |app| {
    let s = app.sign_up("Sum Co", "ann@sum.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    app.gql(
        Some(&s.token),
        "mutation { setExchangeRate(currency: \"GBP\", rate: \"1.173456789\") { rate } }",
        json!({}),
    )
    .await;
    // amounts chosen so that rounding each row differs from rounding the sum
    let amounts = [
        "0.01", "0.03", "1.05", "2.15", "10.25", "3.33", "7.77", "0.99",
    ];
    for (i, a) in amounts.iter().enumerate() {
        let currency = if i % 2 == 0 { "EUR" } else { "GBP" };
        create(&app, &s.token, json!({ "title": format!("R{i}"), "stageId": stages[i % 2], "potential": a, "currency": currency })).await;
    }
    let v = app.gql(Some(&s.token), "{ opportunities(first: 100) { nodes { potential { amount currency } weightedPotential { amount currency } } totalPotential { amount } totalWeightedPotential { amount } } }", json!({})).await;
    let rate = rust_decimal::Decimal::new(1_173_456_789, 9);
    let conv = |m: &Value| {
        let a: rust_decimal::Decimal = m["amount"].as_str().unwrap().parse().unwrap();
        let a = if m["currency"] == "GBP" { a * rate } else { a };
        a.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    };
    let nodes = v["data"]["opportunities"]["nodes"].as_array().unwrap();
    let p: rust_decimal::Decimal = nodes.iter().map(|n| conv(&n["potential"])).sum();
    let w: rust_decimal::Decimal = nodes.iter().map(|n| conv(&n["weightedPotential"])).sum();
    assert_eq!(
        v["data"]["opportunities"]["totalPotential"]["amount"],
        format!("{p:.2}")
    );
    assert_eq!(
        v["data"]["opportunities"]["totalWeightedPotential"]["amount"],
        format!("{w:.2}")
    );
    // the board and the pipeline agree with the list
    let b = app
        .gql(Some(&s.token), "query($id: ID!) { pipeline(id: $id) { openCount openPotential { amount } openWeightedPotential { amount } stages { count totalPotential { amount } weightedPotential { amount } } } }", json!({ "id": pid }))
        .await;
    let board = &b["data"]["pipeline"];
    assert_eq!(board["openCount"], 8);
    assert_eq!(board["openPotential"]["amount"], format!("{p:.2}"));
    assert_eq!(board["openWeightedPotential"]["amount"], format!("{w:.2}"));
    let stage_sum: rust_decimal::Decimal = board["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["totalPotential"]["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(format!("{stage_sum:.2}"), format!("{p:.2}"));
    assert_eq!(board["stages"][0]["count"], 4);
});

dual_test!(references_are_unique_under_concurrent_creation, |app| {
    let s = app.sign_up("Race Co", "ann@race.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let calls = (0..12).map(|i| {
        create_full(
            &app,
            &s.token,
            json!({ "title": format!("C{i}"), "stageId": stages[0], "potential": "1" }),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let mut refs: Vec<String> = results
        .iter()
        .map(|v| {
            v["data"]["createOpportunity"]["reference"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_string()
        })
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 12);
    let mut nums: Vec<i64> = refs
        .iter()
        .map(|r| r.trim_start_matches("OPP-").parse().unwrap())
        .collect();
    nums.sort_unstable();
    assert_eq!(nums, (1..=12).collect::<Vec<_>>());
});

dual_test!(late_follows_the_tenant_time_zone, |app| {
    // the server's clock is fixed at 23:30 UTC: already tomorrow in Paris
    // and Auckland, still today in UTC, so the zones disagree on "today"
    // on every run, and nothing races midnight
    use chrono::TimeZone;
    let at = Utc.with_ymd_and_hms(2026, 6, 15, 23, 30, 0).unwrap();
    let app = app
        .sibling(|s| s.clock = crm_server::clock::Clock::Fixed(at))
        .await;
    for tz in ["Pacific/Auckland", "Europe/Paris", "UTC"] {
        let email = format!("ann@{}.co", tz.replace('/', "-").to_lowercase());
        let v = app.gql(None, crate::helpers::SIGN_UP, json!({ "input": { "tenantName": format!("TZ {tz}"), "name": "Ann", "email": email, "password": crate::helpers::PASSWORD, "timezone": tz } })).await;
        let token = v["data"]["signUp"]["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, stages) = sales_pipeline(&app, &token).await;
        let zone: chrono_tz::Tz = tz.parse().unwrap();
        let today = at.with_timezone(&zone).date_naive();
        let utc_today = at.date_naive();
        let dates = [
            today - Duration::days(1),
            today,
            today + Duration::days(1),
            utc_today,
            utc_today - Duration::days(1),
        ];
        let mut expected_late = 0;
        for (i, d) in dates.iter().enumerate() {
            let id = create(&app, &token, json!({ "title": format!("D{i}"), "stageId": stages[0], "potential": "1", "dueDate": d.to_string() })).await;
            let o = get(&app, &token, &id).await;
            let late = *d < today;
            expected_late += usize::from(late);
            assert_eq!(o["status"], if late { "LATE" } else { "OPEN" }, "{tz} {d}");
        }
        create(
            &app,
            &token,
            json!({ "title": "No due date", "stageId": stages[0], "potential": "1" }),
        )
        .await;
        let q = "query($s: [OpportunityStatus!]) { opportunities(filter: { statuses: $s }) { totalCount nodes { status } } }";
        let late = app.gql(Some(&token), q, json!({ "s": ["LATE"] })).await;
        assert_eq!(
            late["data"]["opportunities"]["totalCount"], expected_late,
            "{tz}"
        );
        assert!(
            late["data"]["opportunities"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["status"] == "LATE")
        );
        let open = app.gql(Some(&token), q, json!({ "s": ["OPEN"] })).await;
        assert_eq!(
            open["data"]["opportunities"]["totalCount"],
            dates.len() + 1 - expected_late,
            "{tz}"
        );
        let none = app
            .gql(Some(&token), q, json!({ "s": ["WON", "LOST"] }))
            .await;
        assert_eq!(none["data"]["opportunities"]["totalCount"], 0);
    }
});

dual_test!(expected_version_detects_concurrent_edits, |app| {
    let s = app.sign_up("Ver Co", "ann@ver.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let id = create(
        &app,
        &s.token,
        json!({ "title": "V", "stageId": stages[0], "potential": "100" }),
    )
    .await;
    let upd = "mutation($id: ID!, $i: UpdateOpportunityInput!, $v: Int) { updateOpportunity(id: $id, input: $i, expectedVersion: $v) { title version potential { amount } } }";
    let v = app
        .gql(
            Some(&s.token),
            upd,
            json!({ "id": id, "i": { "title": "V2" }, "v": 1 }),
        )
        .await;
    assert_eq!(v["data"]["updateOpportunity"]["version"], 2);
    let stale = app
        .gql(
            Some(&s.token),
            upd,
            json!({ "id": id, "i": { "title": "Lost update", "potential": "5" }, "v": 1 }),
        )
        .await;
    assert_eq!(code(&stale), "CONFLICT");
    let o = get(&app, &s.token, &id).await;
    assert_eq!(o["title"], "V2");
    assert_eq!(o["potential"]["amount"], "100.00");
    for m in [
        "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s, expectedVersion: 1) { id } }",
    ] {
        let v = app
            .gql(Some(&s.token), m, json!({ "id": id, "s": stages[1] }))
            .await;
        assert_eq!(code(&v), "CONFLICT");
    }
    for m in [
        "markOpportunityWon(id: $id, expectedVersion: 1) { id }",
        "reopenOpportunity(id: $id, expectedVersion: 1) { id }",
        "markOpportunityLost(id: $id, reason: \"x\", expectedVersion: 1) { id }",
    ] {
        let v = app
            .gql(
                Some(&s.token),
                &format!("mutation($id: ID!) {{ {m} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(code(&v), "CONFLICT", "{m}");
    }
    assert_eq!(get(&app, &s.token, &id).await["version"], 2);
    // concurrent writers with the same expected version: exactly one wins
    let calls = (0..5).map(|i| {
        app.gql(
            Some(&s.token),
            upd,
            json!({ "id": id, "i": { "title": format!("W{i}") }, "v": 2 }),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|v| v["errors"].is_null()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|v| !v["errors"].is_null())
            .all(|v| code(v) == "CONFLICT")
    );
    assert_eq!(get(&app, &s.token, &id).await["version"], 3);
});

dual_test!(history_records_every_change, |app| {
    let s = app.sign_up("Hist Co", "ann@hist.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let sources = source_ids(&app, &s.token).await;
    let id = create(
        &app,
        &s.token,
        json!({ "title": "H", "stageId": stages[0], "potential": "100", "dueDate": "2030-01-01" }),
    )
    .await;
    app.gql(
        Some(&s.token),
        "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
        json!({ "id": id, "s": stages[1] }),
    )
    .await;
    let upd = "mutation($id: ID!, $i: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $i) { version dueDate source { id } probabilityOverride } }";
    let v = app.gql(Some(&s.token), upd, json!({ "id": id, "i": { "title": "H2", "potential": "250.5", "dueDate": null, "sourceId": sources[0], "probabilityOverride": 20 } })).await;
    assert_eq!(v["data"]["updateOpportunity"]["dueDate"], Value::Null);
    assert_eq!(v["data"]["updateOpportunity"]["probabilityOverride"], 20);
    let v = app
        .gql(
            Some(&s.token),
            upd,
            json!({ "id": id, "i": { "clearProbabilityOverride": true } }),
        )
        .await;
    assert_eq!(
        v["data"]["updateOpportunity"]["probabilityOverride"],
        Value::Null
    );
    app.gql(
        Some(&s.token),
        "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    let h = app
        .gql(Some(&s.token), "query($id: ID!) { opportunity(id: $id) { version stageHistory { fromStage { id } toStage { id } changedBy { id } changedAt } history(first: 50) { totalCount nodes { field from to changedBy { id } } } } }", json!({ "id": id }))
        .await;
    let o = &h["data"]["opportunity"];
    let sh = o["stageHistory"].as_array().unwrap();
    assert_eq!(sh.len(), 2);
    assert!(sh[0]["fromStage"].is_null());
    assert_eq!(sh[0]["toStage"]["id"], stages[0].as_str());
    assert_eq!(sh[1]["fromStage"]["id"], stages[0].as_str());
    assert_eq!(sh[1]["changedBy"]["id"], s.user_id.as_str());
    let fields: Vec<&str> = o["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap())
        .collect();
    for f in [
        "stage",
        "title",
        "potential",
        "dueDate",
        "source",
        "probabilityOverride",
        "status",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let pot = o["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["field"] == "potential")
        .unwrap();
    assert_eq!(pot["from"], "100.00");
    assert_eq!(pot["to"], "250.50");
    assert_eq!(o["version"], 5);
    // history pages are stable
    let p1 = app.gql(Some(&s.token), "query($id: ID!) { opportunity(id: $id) { history(first: 3) { pageInfo { hasNextPage endCursor } nodes { field } } } }", json!({ "id": id })).await;
    let cursor = p1["data"]["opportunity"]["history"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap();
    let p2 = app.gql(Some(&s.token), "query($id: ID!, $a: String) { opportunity(id: $id) { history(first: 50, after: $a) { nodes { field } } } }", json!({ "id": id, "a": cursor })).await;
    let n = p1["data"]["opportunity"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .len()
        + p2["data"]["opportunity"]["history"]["nodes"]
            .as_array()
            .unwrap()
            .len();
    assert_eq!(n as i64, o["history"]["totalCount"].as_i64().unwrap());
});

dual_test!(roles_decide_who_changes_what, |app| {
    let admin = app.sign_up("Role Co", "ann@role.co").await;
    let (_, stages) = sales_pipeline(&app, &admin.token).await;
    let manager = app.create_user(&admin, "max@role.co", "MANAGER").await;
    let sam = app.create_user(&admin, "sam@role.co", "SALES").await;
    let sue = app.create_user(&admin, "sue@role.co", "SALES").await;
    // SALES owns what it creates, whatever ownerId says
    let v = create_full(&app, &sam.token, json!({ "title": "Sam's", "stageId": stages[0], "potential": "1", "ownerId": admin.user_id })).await;
    assert_eq!(
        v["data"]["createOpportunity"]["owner"]["id"],
        sam.user_id.as_str()
    );
    let sams = v["data"]["createOpportunity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admins = create(&app, &admin.token, json!({ "title": "Admin's", "stageId": stages[0], "potential": "1", "ownerId": manager.user_id, "teamIds": [sue.user_id] })).await;
    assert_eq!(
        get(&app, &admin.token, &admins).await["owner"]["id"],
        manager.user_id.as_str()
    );
    let upd = "mutation($id: ID!) { updateOpportunity(id: $id, input: { title: \"changed\" }) { title } }";
    // Sam may not change the admin's opportunity; Sue is on its team
    assert_eq!(
        code(
            &app.gql(Some(&sam.token), upd, json!({ "id": admins }))
                .await
        ),
        "FORBIDDEN"
    );
    let mv = "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }";
    assert_eq!(
        code(
            &app.gql(
                Some(&sam.token),
                mv,
                json!({ "id": admins, "s": stages[1] })
            )
            .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &app.gql(
                Some(&sam.token),
                "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
                json!({ "id": admins })
            )
            .await
        ),
        "FORBIDDEN"
    );
    assert!(
        app.gql(Some(&sue.token), upd, json!({ "id": admins }))
            .await["errors"]
            .is_null()
    );
    assert!(app.gql(Some(&sam.token), upd, json!({ "id": sams })).await["errors"].is_null());
    assert!(
        app.gql(Some(&manager.token), upd, json!({ "id": sams }))
            .await["errors"]
            .is_null()
    );
    // everyone reads everything
    let all = app
        .gql(
            Some(&sam.token),
            "{ opportunities { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(all["data"]["opportunities"]["totalCount"], 2);
    // only ADMIN and MANAGER delete
    let del = "mutation($id: ID!) { deleteOpportunity(id: $id) }";
    assert_eq!(
        code(&app.gql(Some(&sam.token), del, json!({ "id": sams })).await),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(Some(&manager.token), del, json!({ "id": sams }))
            .await["data"]["deleteOpportunity"],
        true
    );
    assert_eq!(
        code(
            &app.gql(Some(&admin.token), del, json!({ "id": sams }))
                .await
        ),
        "NOT_FOUND"
    );
    let gone = app
        .gql(
            Some(&admin.token),
            "query($id: ID!) { opportunity(id: $id) { id } }",
            json!({ "id": sams }),
        )
        .await;
    assert_eq!(code(&gone), "NOT_FOUND");
});

dual_test!(filters_and_search, |app| {
    let s = app.sign_up("Filter Co", "ann@filter.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let sources = source_ids(&app, &s.token).await;
    let bob = app.create_user(&s, "bob@filter.co", "SALES").await;
    let acme = contact(&app, &s.token, "COMPANY", "Acme Industries", None).await;
    let jane = contact(&app, &s.token, "PERSON", "Jane Zoë Doe", Some(&acme)).await;
    let v = app.gql(Some(&s.token), "mutation { createPipeline(input: { name: \"Other\", stages: [{ name: \"X\", probability: 40 }] }) { id stages { id } } }", json!({})).await;
    let other_stage = v["data"]["createPipeline"]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = create(&app, &s.token, json!({ "title": "Alpha roof", "stageId": stages[0], "potential": "10", "dueDate": "2030-01-10", "sourceId": sources[0], "contacts": [{ "contactId": jane, "role": "buyer" }] })).await;
    let b = create(&app, &s.token, json!({ "title": "Beta 100%_deal", "stageId": stages[1], "potential": "20", "dueDate": "2030-02-10", "ownerId": bob.user_id })).await;
    let c = create(
        &app,
        &s.token,
        json!({ "title": "Gamma", "stageId": other_stage, "potential": "30" }),
    )
    .await;
    let ids = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v["data"]["opportunities"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    };
    let sorted = |mut v: Vec<&String>| -> Vec<String> {
        v.sort();
        v.into_iter().cloned().collect()
    };
    let q = "query($f: OpportunityFilter) { opportunities(filter: $f) { nodes { id } } }";
    let cases = [
        (json!({ "pipelineId": pid }), sorted(vec![&a, &b])),
        (
            json!({ "stageIds": [stages[1], other_stage] }),
            sorted(vec![&b, &c]),
        ),
        (json!({ "ownerId": bob.user_id }), sorted(vec![&b])),
        (json!({ "sourceId": sources[0] }), sorted(vec![&a])),
        (json!({ "contactId": jane }), sorted(vec![&a])),
        (json!({ "dueAfter": "2030-01-10" }), sorted(vec![&a, &b])),
        (json!({ "dueBefore": "2030-01-10" }), sorted(vec![&a])),
        (
            json!({ "dueAfter": "2030-01-11", "dueBefore": "2030-02-10" }),
            sorted(vec![&b]),
        ),
        (json!({ "search": "ALPHA" }), sorted(vec![&a])),
        (json!({ "search": "opp-2" }), sorted(vec![&b])),
        (json!({ "search": "jane" }), sorted(vec![&a])),
        (json!({ "search": "100%_" }), sorted(vec![&b])),
        (json!({ "search": "%" }), sorted(vec![&b])),
        (json!({ "pipelineId": pid, "search": "gamma" }), vec![]),
    ];
    for (f, expected) in cases {
        let v = app.gql(Some(&s.token), q, json!({ "f": f })).await;
        assert_eq!(ids(&v), expected, "{f}");
    }
    let v = app
        .gql(
            Some(&s.token),
            "{ opportunities(first: 101) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert_eq!(field(&v), "first");
    let v = app
        .gql(
            Some(&s.token),
            "{ opportunities(after: \"garbage\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(field(&v), "after");
    // contact side
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { contact(id: $id) { opportunities { totalCount nodes { id } } } }",
            json!({ "id": jane }),
        )
        .await;
    assert_eq!(v["data"]["contact"]["opportunities"]["totalCount"], 1);
});

// Pages through every sort order with small pages and checks the result
// against one big page: nothing lost, nothing repeated, ties stable.
dual_test!(keyset_pagination_is_complete_under_ties, |app| {
    let s = app.sign_up("Page Co", "ann@page.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    for i in 0..9 {
        let due = if i % 3 == 0 {
            Value::Null
        } else {
            json!(format!("2030-01-0{}", 1 + i % 2))
        };
        create(&app, &s.token, json!({ "title": if i % 2 == 0 { "same" } else { "Same" }, "stageId": stages[i % 3], "potential": if i % 2 == 0 { "5" } else { "7" }, "dueDate": due })).await;
    }
    let q = "query($o: OpportunityOrder, $a: String, $n: Int) { opportunities(orderBy: $o, first: $n, after: $a) { pageInfo { hasNextPage endCursor } nodes { id } } }";
    for f in [
        "DUE_DATE",
        "CREATED_AT",
        "UPDATED_AT",
        "POTENTIAL",
        "WEIGHTED_POTENTIAL",
        "TITLE",
    ] {
        for d in ["ASC", "DESC"] {
            let order = json!({ "field": f, "direction": d });
            let all = app
                .gql(Some(&s.token), q, json!({ "o": order, "n": 100 }))
                .await;
            let full: Vec<String> = all["data"]["opportunities"]["nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{all}"))
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(full.len(), 9);
            let mut paged = Vec::new();
            let mut after = Value::Null;
            loop {
                let v = app
                    .gql(Some(&s.token), q, json!({ "o": order, "n": 2, "a": after }))
                    .await;
                let page = &v["data"]["opportunities"];
                paged.extend(
                    page["nodes"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{f} {d}: {v}"))
                        .iter()
                        .map(|n| n["id"].as_str().unwrap().to_string()),
                );
                if page["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(paged, full, "{f} {d}");
        }
    }
    // a cursor from one order is refused by another
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "o": { "field": "TITLE" }, "n": 2 }),
        )
        .await;
    let cursor = v["data"]["opportunities"]["pageInfo"]["endCursor"].clone();
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "o": { "field": "POTENTIAL" }, "n": 2, "a": cursor }),
        )
        .await;
    assert_eq!(field(&v), "after");
});

dual_test!(contacts_on_opportunities_and_lifecycle, |app| {
    let s = app.sign_up("Link Co", "ann@link.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let acme = contact(&app, &s.token, "COMPANY", "Acme", None).await;
    let jane = contact(&app, &s.token, "PERSON", "Jane", Some(&acme)).await;
    let joe = contact(&app, &s.token, "PERSON", "Joe", None).await;
    let id = create(&app, &s.token, json!({ "title": "L", "stageId": stages[0], "potential": "1", "contacts": [{ "contactId": jane, "role": "buyer" }] })).await;
    let o = get(&app, &s.token, &id).await;
    assert_eq!(o["primaryContact"]["id"], jane.as_str());
    let add = "mutation($id: ID!, $c: ID!, $p: Boolean) { addOpportunityContact(opportunityId: $id, input: { contactId: $c, role: \"decision maker\", isPrimary: $p }) { version primaryContact { id } contacts { contact { id } isPrimary role } } }";
    let v = app
        .gql(
            Some(&s.token),
            add,
            json!({ "id": id, "c": joe, "p": true }),
        )
        .await;
    assert_eq!(
        v["data"]["addOpportunityContact"]["primaryContact"]["id"],
        joe.as_str()
    );
    assert_eq!(v["data"]["addOpportunityContact"]["version"], 2);
    let dup = app
        .gql(Some(&s.token), add, json!({ "id": id, "c": joe }))
        .await;
    assert_eq!(field(&dup), "contactId");
    let rm = "mutation($id: ID!, $c: ID!) { removeOpportunityContact(opportunityId: $id, contactId: $c) { primaryContact { id } contacts { contact { id } } } }";
    let v = app
        .gql(Some(&s.token), rm, json!({ "id": id, "c": joe }))
        .await;
    assert_eq!(
        v["data"]["removeOpportunityContact"]["primaryContact"]["id"],
        jane.as_str()
    );
    let v = app
        .gql(Some(&s.token), rm, json!({ "id": id, "c": joe }))
        .await;
    assert_eq!(code(&v), "NOT_FOUND");
    let two_primaries = create_full(&app, &s.token, json!({ "title": "P", "stageId": stages[0], "potential": "1", "contacts": [{ "contactId": jane, "isPrimary": true }, { "contactId": joe, "isPrimary": true }] })).await;
    assert_eq!(field(&two_primaries), "contacts");
    // winning makes the contact and its company clients
    app.gql(
        Some(&s.token),
        "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    let v = app
        .gql(
            Some(&s.token),
            "{ contacts { nodes { name lifecycle } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["contacts"]["nodes"],
        json!([{ "name": "Acme", "lifecycle": "CLIENT" }, { "name": "Jane", "lifecycle": "CLIENT" }, { "name": "Joe", "lifecycle": "PROSPECT" }])
    );
    // a referenced contact cannot be deleted
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { deleteContact(id: $id) }",
            json!({ "id": jane }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("1 opportunities")
    );
});

dual_test!(moving_across_pipelines_and_the_board, |app| {
    let s = app.sign_up("Board Co", "ann@board.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let v = app.gql(Some(&s.token), "mutation { createPipeline(input: { name: \"Other\", stages: [{ name: \"X\", probability: 40 }] }) { id stages { id } } }", json!({})).await;
    let other = v["data"]["createPipeline"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let x = v["data"]["createPipeline"]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = create(
        &app,
        &s.token,
        json!({ "title": "M", "stageId": stages[0], "potential": "100" }),
    )
    .await;
    for i in 0..3 {
        create(
            &app,
            &s.token,
            json!({ "title": format!("N{i}"), "stageId": stages[1], "potential": "10" }),
        )
        .await;
    }
    let v = app.gql(Some(&s.token), "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { pipeline { id } stage { id } probability } }", json!({ "id": id, "s": x })).await;
    assert_eq!(
        v["data"]["moveOpportunity"],
        json!({ "pipeline": { "id": other }, "stage": { "id": x }, "probability": 40 })
    );
    let board = "query($id: ID!) { pipeline(id: $id) { name stages { name count totalPotential { amount } weightedPotential { amount } opportunities(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { title } } } } }";
    let v = app.gql(Some(&s.token), board, json!({ "id": pid })).await;
    let st = &v["data"]["pipeline"]["stages"];
    assert_eq!(st[0]["count"], 0);
    assert_eq!(st[1]["count"], 3);
    assert_eq!(st[1]["totalPotential"]["amount"], "30.00");
    assert_eq!(st[1]["weightedPotential"]["amount"], "15.00");
    assert_eq!(
        st[1]["opportunities"]["nodes"],
        json!([{ "title": "N2" }, { "title": "N1" }])
    );
    assert_eq!(st[1]["opportunities"]["totalCount"], 3);
    assert_eq!(st[1]["opportunities"]["pageInfo"]["hasNextPage"], true);
    // the column's next page continues where the board stopped
    let cursor = st[1]["opportunities"]["pageInfo"]["endCursor"].clone();
    let column = "query($id: ID!, $st: ID!, $a: String, $o: OpportunityOrder) { pipeline(id: $id) { stage(id: $st) { name opportunities(first: 2, after: $a, orderBy: $o) { pageInfo { endCursor } nodes { title } } } } }";
    let more = app
        .gql(
            Some(&s.token),
            column,
            json!({ "id": pid, "st": stages[1], "a": cursor }),
        )
        .await;
    assert_eq!(
        more["data"]["pipeline"]["stage"]["opportunities"]["nodes"],
        json!([{ "title": "N0" }]),
        "{more}"
    );
    // a cursor from one column is refused by another, not answered with
    // an overlapping page; the rest of the answer stands
    let v = app
        .gql(
            Some(&s.token),
            column,
            json!({ "id": pid, "st": stages[0], "a": cursor }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert_eq!(field(&v), "after");
    assert_eq!(v["data"]["pipeline"], json!({ "stage": null }), "{v}");
    // so is one from the same column in another order
    let by_title = json!({ "field": "TITLE", "direction": "ASC" });
    let v = app
        .gql(
            Some(&s.token),
            column,
            json!({ "id": pid, "st": stages[1], "a": cursor, "o": by_title }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    // a column in its own order, paged on
    let v = app
        .gql(
            Some(&s.token),
            column,
            json!({ "id": pid, "st": stages[1], "o": by_title }),
        )
        .await;
    let col = &v["data"]["pipeline"]["stage"]["opportunities"];
    assert_eq!(
        col["nodes"],
        json!([{ "title": "N0" }, { "title": "N1" }]),
        "{v}"
    );
    let v = app
        .gql(
            Some(&s.token),
            column,
            json!({ "id": pid, "st": stages[1], "o": by_title, "a": col["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        v["data"]["pipeline"]["stage"]["opportunities"]["nodes"],
        json!([{ "title": "N2" }]),
        "{v}"
    );
    // a stage of another pipeline is not one of this pipeline's
    let v = app
        .gql(Some(&s.token), column, json!({ "id": pid, "st": x }))
        .await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    assert_eq!(v["data"]["pipeline"]["stage"], Value::Null);
    // closed ones leave the column but can be asked for
    let first_n = app
        .gql(
            Some(&s.token),
            "{ opportunities(filter: { search: \"N0\" }) { nodes { id } } }",
            json!({}),
        )
        .await;
    let n0 = first_n["data"]["opportunities"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(&s.token),
        "mutation($id: ID!) { markOpportunityWon(id: $id) { id } }",
        json!({ "id": n0 }),
    )
    .await;
    let v = app.gql(Some(&s.token), "query($id: ID!) { pipeline(id: $id) { openCount stages { count wonCount: count(statuses: [WON]) } } }", json!({ "id": pid })).await;
    assert_eq!(v["data"]["pipeline"]["openCount"], 2);
    assert_eq!(v["data"]["pipeline"]["stages"][1]["count"], 2);
    assert_eq!(v["data"]["pipeline"]["stages"][1]["wonCount"], 1);
});

dual_test!(rotting_counts_idle_days_in_the_stage, |app| {
    let s = app.sign_up("Rot Co", "ann@rot.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    app.gql(
        Some(&s.token),
        "mutation($id: ID!) { updateStage(id: $id, input: { rottenAfterDays: 3 }) { id } }",
        json!({ "id": stages[0] }),
    )
    .await;
    let id = create(
        &app,
        &s.token,
        json!({ "title": "R", "stageId": stages[0], "potential": "1" }),
    )
    .await;
    assert_eq!(get(&app, &s.token, &id).await["isRotting"], false);
    use sea_orm::{EntityTrait, sea_query::Expr};
    let db = app.db().await;
    entity::opportunity::Entity::update_many()
        .col_expr(
            entity::opportunity::Column::StageEnteredAt,
            Expr::value(Utc::now() - Duration::days(4)),
        )
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(get(&app, &s.token, &id).await["isRotting"], true);
    // a stage change is a sign of life
    app.gql(
        Some(&s.token),
        "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
        json!({ "id": id, "s": stages[1] }),
    )
    .await;
    app.gql(
        Some(&s.token),
        "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }",
        json!({ "id": id, "s": stages[0] }),
    )
    .await;
    assert_eq!(get(&app, &s.token, &id).await["isRotting"], false);
});
