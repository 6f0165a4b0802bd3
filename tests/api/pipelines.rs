use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{TestApp, code, field};

pub const PIPELINES: &str = "{ pipelines { id name position archived stages { id name position probability rottenAfterDays } } }";

/// The seeded "Sales" pipeline's id and stage ids, in order.
pub async fn sales_pipeline(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let v = app.gql(Some(token), PIPELINES, json!({})).await;
    let p = &v["data"]["pipelines"][0];
    let stages = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    (p["id"].as_str().unwrap().to_string(), stages)
}

pub async fn source_ids(app: &TestApp, token: &str) -> Vec<String> {
    let v = app
        .gql(Some(token), "{ sources { id name } }", json!({}))
        .await;
    v["data"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

pub const CREATE_PIPELINE: &str = "mutation($i: CreatePipelineInput!) { createPipeline(input: $i) { id name position stages { id name position probability rottenAfterDays } } }";

fn stage_names(p: &Value) -> Vec<String> {
    p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

dual_test!(sign_up_seeds_a_usable_pipeline_and_sources, |app| {
    let s = app.sign_up("Seed Co", "ann@seed.co").await;
    let v = app.gql(Some(&s.token), PIPELINES, json!({})).await;
    let p = &v["data"]["pipelines"][0];
    assert_eq!(p["name"], "Sales");
    assert_eq!(
        stage_names(p),
        ["Request received", "Quote sent", "Quote signed"]
    );
    let probs: Vec<i64> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["probability"].as_i64().unwrap())
        .collect();
    assert_eq!(probs, [10, 50, 100]);
    let v = app
        .gql(Some(&s.token), "{ sources { name archived } }", json!({}))
        .await;
    let mut names: Vec<&str> = v["data"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Email campaign",
            "Phone",
            "Referral",
            "Trade show",
            "Website form"
        ]
    );
});

dual_test!(pipeline_setup_is_for_admins_only, |app| {
    let admin = app.sign_up("Setup Co", "ann@setup.co").await;
    let (pid, stages) = sales_pipeline(&app, &admin.token).await;
    let manager = app.create_user(&admin, "max@setup.co", "MANAGER").await;
    let sales = app.create_user(&admin, "sam@setup.co", "SALES").await;
    let ops = [
        (CREATE_PIPELINE.to_string(), json!({ "i": { "name": "X", "stages": [{ "name": "A", "probability": 10 }] } })),
        ("mutation($id: ID!) { updatePipeline(id: $id, input: { name: \"Y\" }) { id } }".into(), json!({ "id": pid })),
        ("mutation($id: ID!) { archivePipeline(id: $id) { id } }".into(), json!({ "id": pid })),
        ("mutation($id: ID!) { addStage(pipelineId: $id, input: { name: \"Z\", probability: 5 }) { id } }".into(), json!({ "id": pid })),
        ("mutation($id: ID!) { updateStage(id: $id, input: { probability: 5 }) { id } }".into(), json!({ "id": stages[0] })),
        ("mutation($id: ID!, $s: [ID!]!) { reorderStages(pipelineId: $id, stageIds: $s) { id } }".into(), json!({ "id": pid, "s": stages })),
        ("mutation($id: ID!) { deleteStage(id: $id) }".into(), json!({ "id": stages[0] })),
        ("mutation { createSource(name: \"Fair\") { id } }".into(), json!({})),
        ("mutation { setExchangeRate(currency: \"USD\", rate: \"0.9\") { rate } }".into(), json!({})),
    ];
    for who in [&manager, &sales] {
        for (q, vars) in &ops {
            let v = app.gql(Some(&who.token), q, vars.clone()).await;
            assert_eq!(code(&v), "FORBIDDEN", "{q}: {v}");
        }
    }
    let (_, after) = sales_pipeline(&app, &admin.token).await;
    assert_eq!(after, stages);
});

dual_test!(create_pipeline_validates, |app| {
    let s = app.sign_up("Valid Co", "ann@valid.co").await;
    let bad = [
        (json!({ "name": "P", "stages": [] }), "stages"),
        (
            json!({ "name": "P", "stages": [{ "name": "A", "probability": 101 }] }),
            "probability",
        ),
        (
            json!({ "name": "P", "stages": [{ "name": "A", "probability": -1 }] }),
            "probability",
        ),
        (
            json!({ "name": "P", "stages": [{ "name": "A", "probability": 1, "rottenAfterDays": 0 }] }),
            "rottenAfterDays",
        ),
        (
            json!({ "name": "x".repeat(101), "stages": [{ "name": "A", "probability": 1 }] }),
            "name",
        ),
        (
            json!({ "name": "", "stages": [{ "name": "A", "probability": 1 }] }),
            "name",
        ),
        (
            json!({ "name": "P", "stages": [{ "name": "A", "probability": 1 }, { "name": "a", "probability": 2 }] }),
            "stages",
        ),
        (
            json!({ "name": "Sales", "stages": [{ "name": "A", "probability": 1 }] }),
            "name",
        ),
    ];
    for (input, f) in bad {
        let v = app
            .gql(Some(&s.token), CREATE_PIPELINE, json!({ "i": input }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{input}: {v}");
        assert_eq!(field(&v), f, "{v}");
    }
    let v = app
        .gql(Some(&s.token), CREATE_PIPELINE, json!({ "i": { "name": "Partners", "stages": [
            { "name": "Lead", "probability": 5, "rottenAfterDays": 14 }, { "name": "Deal", "probability": 70 } ] } }))
        .await;
    let p = &v["data"]["createPipeline"];
    assert_eq!(p["position"], 1);
    assert_eq!(stage_names(p), ["Lead", "Deal"]);
    assert_eq!(p["stages"][0]["rottenAfterDays"], 14);
    let all = app.gql(Some(&s.token), PIPELINES, json!({})).await;
    assert_eq!(all["data"]["pipelines"].as_array().unwrap().len(), 2);
});

dual_test!(stages_can_be_added_reordered_updated_and_deleted, |app| {
    let s = app.sign_up("Stage Co", "ann@stage.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let v = app
        .gql(Some(&s.token), "mutation($p: ID!) { addStage(pipelineId: $p, input: { name: \"Negotiation\", probability: 75 }, position: 2) { id position } }", json!({ "p": pid }))
        .await;
    let neg = v["data"]["addStage"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["addStage"]["position"], 2);
    let dup = app
        .gql(Some(&s.token), "mutation($p: ID!) { addStage(pipelineId: $p, input: { name: \"quote SENT\", probability: 1 }) { id } }", json!({ "p": pid }))
        .await;
    assert_eq!(field(&dup), "name");
    let bad_pos = app
        .gql(Some(&s.token), "mutation($p: ID!) { addStage(pipelineId: $p, input: { name: \"Far\", probability: 1 }, position: 9) { id } }", json!({ "p": pid }))
        .await;
    assert_eq!(field(&bad_pos), "position");
    let p = app.gql(Some(&s.token), PIPELINES, json!({})).await;
    assert_eq!(
        stage_names(&p["data"]["pipelines"][0]),
        [
            "Request received",
            "Quote sent",
            "Negotiation",
            "Quote signed"
        ]
    );

    // reorder: exactly the pipeline's stages
    let reorder = "mutation($p: ID!, $s: [ID!]!) { reorderStages(pipelineId: $p, stageIds: $s) { stages { name position } } }";
    let order = json!([stages[2], neg, stages[1], stages[0]]);
    let v = app
        .gql(Some(&s.token), reorder, json!({ "p": pid, "s": order }))
        .await;
    assert_eq!(
        stage_names(&v["data"]["reorderStages"]),
        [
            "Quote signed",
            "Negotiation",
            "Quote sent",
            "Request received"
        ]
    );
    let v = app
        .gql(
            Some(&s.token),
            reorder,
            json!({ "p": pid, "s": [stages[0], stages[1]] }),
        )
        .await;
    assert_eq!(field(&v), "stageIds");
    let v = app
        .gql(
            Some(&s.token),
            reorder,
            json!({ "p": pid, "s": [stages[0], stages[0], stages[1], stages[2]] }),
        )
        .await;
    assert_eq!(field(&v), "stageIds");

    let v = app
        .gql(Some(&s.token), "mutation($id: ID!) { updateStage(id: $id, input: { name: \"Negotiating\", probability: 80, rottenAfterDays: 7 }) { name probability rottenAfterDays } }", json!({ "id": neg }))
        .await;
    assert_eq!(
        v["data"]["updateStage"],
        json!({ "name": "Negotiating", "probability": 80, "rottenAfterDays": 7 })
    );
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { updateStage(id: $id, input: { probability: 120 }) { name } }",
            json!({ "id": neg }),
        )
        .await;
    assert_eq!(field(&v), "probability");

    // a stage with opportunities needs a target; they move with history
    let o = crate::opportunities::create(
        &app,
        &s.token,
        json!({ "title": "Deal", "stageId": neg, "potential": "100" }),
    )
    .await;
    let del = "mutation($id: ID!, $to: ID) { deleteStage(id: $id, moveOpportunitiesTo: $to) }";
    let v = app.gql(Some(&s.token), del, json!({ "id": neg })).await;
    assert_eq!(field(&v), "moveOpportunitiesTo");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains('1'));
    let v = app
        .gql(Some(&s.token), del, json!({ "id": neg, "to": stages[0] }))
        .await;
    assert_eq!(v["data"]["deleteStage"], true, "{v}");
    let moved = app
        .gql(Some(&s.token), "query($id: ID!) { opportunity(id: $id) { stage { id } version stageHistory { fromStage { name } toStage { name } } } }", json!({ "id": o }))
        .await;
    assert_eq!(
        moved["data"]["opportunity"]["stage"]["id"],
        stages[0].as_str()
    );
    assert_eq!(moved["data"]["opportunity"]["version"], 2);
    let hist = moved["data"]["opportunity"]["stageHistory"]
        .as_array()
        .unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[1]["fromStage"]["name"], "Negotiating");
    let p = app.gql(Some(&s.token), PIPELINES, json!({})).await;
    assert_eq!(
        p["data"]["pipelines"][0]["stages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // the last stage of a pipeline cannot go
    let v = app
        .gql(
            Some(&s.token),
            CREATE_PIPELINE,
            json!({ "i": { "name": "Solo", "stages": [{ "name": "Only", "probability": 1 }] } }),
        )
        .await;
    let only = v["data"]["createPipeline"]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app.gql(Some(&s.token), del, json!({ "id": only })).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
});

dual_test!(pipelines_can_be_renamed_moved_and_archived, |app| {
    let s = app.sign_up("Arch Co", "ann@arch.co").await;
    let (sales, _) = sales_pipeline(&app, &s.token).await;
    let v = app
        .gql(
            Some(&s.token),
            CREATE_PIPELINE,
            json!({ "i": { "name": "Second", "stages": [{ "name": "A", "probability": 1 }] } }),
        )
        .await;
    let second = v["data"]["createPipeline"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(Some(&s.token), "mutation($id: ID!) { updatePipeline(id: $id, input: { name: \"First\", position: 0 }) { name position } }", json!({ "id": second }))
        .await;
    assert_eq!(
        v["data"]["updatePipeline"],
        json!({ "name": "First", "position": 0 })
    );
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { updatePipeline(id: $id, input: { name: \"Sales\" }) { name } }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(field(&v), "name");
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { archivePipeline(id: $id) { archived } }",
            json!({ "id": sales }),
        )
        .await;
    assert_eq!(v["data"]["archivePipeline"]["archived"], true);
    let v = app
        .gql(Some(&s.token), "{ pipelines { name } }", json!({}))
        .await;
    assert_eq!(v["data"]["pipelines"], json!([{ "name": "First" }]));
    let v = app
        .gql(
            Some(&s.token),
            "{ pipelines(includeArchived: true) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["pipelines"].as_array().unwrap().len(), 2);
});

dual_test!(sources_and_exchange_rates, |app| {
    let s = app.sign_up("Src Co", "ann@src.co").await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createSource(name: \"Partner\") { id name archived } }",
            json!({}),
        )
        .await;
    let id = v["data"]["createSource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dup = app
        .gql(
            Some(&s.token),
            "mutation { createSource(name: \"Partner\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(field(&dup), "name");
    let v = app.gql(Some(&s.token), "mutation($id: ID!) { updateSource(id: $id, name: \"Partners\", archived: true) { name archived } }", json!({ "id": id })).await;
    assert_eq!(
        v["data"]["updateSource"],
        json!({ "name": "Partners", "archived": true })
    );
    let v = app
        .gql(Some(&s.token), "{ sources { name } }", json!({}))
        .await;
    assert_eq!(v["data"]["sources"].as_array().unwrap().len(), 5);
    let v = app
        .gql(
            Some(&s.token),
            "{ sources(includeArchived: true) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["sources"].as_array().unwrap().len(), 6);

    let set = "mutation($c: String!, $r: Decimal!) { setExchangeRate(currency: $c, rate: $r) { currency rate updatedAt } }";
    for (c, r, f) in [
        ("USD", "0", "rate"),
        ("USD", "-1", "rate"),
        ("EUR", "1", "currency"),
        ("XXX1", "1", "currency"),
        ("USD", "100000", "rate"),
    ] {
        let v = app
            .gql(Some(&s.token), set, json!({ "c": c, "r": r }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{c} {r}: {v}");
        assert_eq!(field(&v), f);
    }
    let v = app
        .gql(Some(&s.token), set, json!({ "c": "usd", "r": "0.92" }))
        .await;
    assert_eq!(v["data"]["setExchangeRate"]["rate"], "0.92");
    assert_eq!(v["data"]["setExchangeRate"]["currency"], "USD");
    app.gql(Some(&s.token), set, json!({ "c": "USD", "r": "0.93" }))
        .await;
    let v = app
        .gql(
            Some(&s.token),
            "{ exchangeRates { currency rate } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["exchangeRates"],
        json!([{ "currency": "USD", "rate": "0.93" }])
    );
});

/// The history of an opportunity, as "field:from>to" with stage and
/// pipeline ids replaced by names, oldest first.
async fn history_of(app: &TestApp, token: &str, id: &str) -> (Vec<String>, usize, i64) {
    let v = app
        .gql(
            Some(token),
            "query($id: ID!) { opportunity(id: $id) { version stageHistory { toStage { name } } history(first: 50) { nodes { field } } } }",
            json!({ "id": id }),
        )
        .await;
    let o = &v["data"]["opportunity"];
    let mut fields: Vec<String> = o["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    (
        fields,
        o["stageHistory"].as_array().unwrap().len(),
        o["version"].as_i64().unwrap(),
    )
}

dual_test!(deleting_a_stage_leaves_the_history_a_move_leaves, |app| {
    let s = app.sign_up("Drift Co", "ann@drift.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation($i: CreatePipelineInput!) { createPipeline(input: $i) { stages { id } } }",
            json!({ "i": { "name": "Partners", "stages": [
                { "name": "Lead", "probability": 10 }, { "name": "Deal", "probability": 60 }
            ] } }),
        )
        .await;
    let other = v["data"]["createPipeline"]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let new = |title: &str| {
        crate::opportunities::create(
            &app,
            &s.token,
            json!({ "title": title, "stageId": stages[1], "potential": "1" }),
        )
    };
    let moved = new("Moved").await;
    let swept = new("Swept").await;
    // one moves by hand into the other pipeline...
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!, $st: ID!) { moveOpportunity(id: $id, stageId: $st) { id } }",
            json!({ "id": moved, "st": other }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    // ...the other goes there because its stage is deleted
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!, $to: ID) { deleteStage(id: $id, moveOpportunitiesTo: $to) }",
            json!({ "id": stages[1], "to": other }),
        )
        .await;
    assert_eq!(v["data"]["deleteStage"], true, "{v}");
    let by_hand = history_of(&app, &s.token, &moved).await;
    let by_deletion = history_of(&app, &s.token, &swept).await;
    assert_eq!(by_hand, by_deletion);
    assert!(by_hand.0.contains(&"pipeline".to_string()), "{by_hand:?}");
});
