//! The limits fit real screens and still stop abuse. `screens.graphql`
//! holds what the SPA and mobile screens send; each must pass, and each
//! cost is printed (`cargo test limits -- --nocapture`) so a change of the
//! limits is made with the figures in view.
use serde_json::{Value, json};

use crate::dual_test;
use crate::isolation::two_tenants;

const SCREENS: &str = include_str!("screens.graphql");
const INTROSPECTION: &str = include_str!("introspection.graphql");

fn message(v: &Value) -> String {
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

dual_test!(realistic_screens_pass_and_report_their_cost, |app| {
    let (a, wa, _, _) = two_tenants(&app).await;
    // each operation with the fragments it may use, as a client sends it
    let (fragments, ops) = SCREENS.split_at(SCREENS.find("\n# The board").unwrap());
    let op_text = |name: &str| {
        let start = ops.find(&format!("query {name}(")).unwrap();
        let end = ops[start + 1..]
            .find("\nquery ")
            .map_or(ops.len(), |e| start + 1 + e);
        let op = &ops[start..end];
        // only the fragments it spreads: an unused one is a validation error
        let card = fragments.find("fragment Card").unwrap();
        let (amount, card) = fragments.split_at(card);
        let card = if op.contains("...Card") { card } else { "" };
        format!("{amount}\n{card}\n{op}")
    };
    for (op, vars) in [
        ("Board", json!({ "pipelineId": wa.pipeline })),
        ("OpportunitiesTable", json!({ "pipelineId": wa.pipeline })),
        ("OpportunityPage", json!({ "id": wa.opp1 })),
        ("Forecast", json!({ "pipelineId": wa.pipeline })),
    ] {
        let res = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&a.token)
            .json(&json!({ "query": op_text(op), "variables": vars }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{op}");
        let v: Value = res.json().await.unwrap();
        assert!(v["errors"].is_null(), "{op}: {v}");
        let cost = &v["extensions"]["cost"];
        let (requested, limit) = (
            cost["requested"].as_u64().unwrap(),
            cost["limit"].as_u64().unwrap(),
        );
        assert!(requested <= limit, "{op}: {v}");
        println!("screen {op}: cost {requested} of {limit}");
    }
});

dual_test!(abuse_is_refused_with_its_figures, |app| {
    let a = app.sign_up("Abuse", "abuse@example.com").await;
    // three connections of 100 nested in one another: a million nodes
    let million = "{ opportunities(first: 100) { nodes { primaryContact { opportunities(first: 100) { nodes { primaryContact { opportunities(first: 100) { nodes { id title } } } } } } } } }";
    let v = app.gql(Some(&a.token), million, json!({})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{v}"
    );
    let m = message(&v);
    assert!(
        m.starts_with("query cost ") && m.contains("exceeds the limit of 20,000"),
        "{m}"
    );
    println!("abuse million-nodes: {m}");

    // deeper than the limit
    let mut deep = String::from("id");
    for _ in 0..6 {
        deep = format!("stages {{ pipeline {{ {deep} }} }}");
    }
    let deep = format!("{{ pipelines {{ {deep} }} }}");
    let v = app.gql(Some(&a.token), &deep, json!({})).await;
    let m = message(&v);
    assert!(m.contains("query depth 14 exceeds the limit of 12"), "{v}");
    println!("abuse depth: {m}");

    // an alias flood
    let flood: String = (0..200).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let v = app
        .gql(Some(&a.token), &format!("{{ {flood} }}"), json!({}))
        .await;
    let m = message(&v);
    assert!(m.contains("200 aliases"), "{v}");
    println!("abuse aliases: {m}");

    // a page above 100 is the client's input at fault, as the contract says
    for q in [
        "{ opportunities(first: 101) { totalCount } }",
        "{ contacts(first: 1000) { totalCount } }",
    ] {
        let v = app.gql(Some(&a.token), q, json!({})).await;
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{q}: {v}"
        );
        assert!(message(&v).contains("100"), "{v}");
    }
});

dual_test!(
    the_standard_introspection_query_passes_and_deeper_ones_do_not,
    |app| {
        let v = app.gql(None, INTROSPECTION, json!({})).await;
        assert!(v["errors"].is_null(), "{v}");
        let types = v["data"]["__schema"]["types"].as_array().unwrap();
        assert!(types.iter().any(|t| t["name"] == "Opportunity"), "{v}");
        let date = types.iter().find(|t| t["name"] == "Date").unwrap();
        assert!(date["specifiedByURL"].is_string(), "{date}");

        // 30 levels of ofType
        let mut deep = String::from("name");
        for _ in 0..30 {
            deep = format!("ofType {{ {deep} }}");
        }
        let q = format!("{{ __schema {{ types {{ fields {{ type {{ {deep} }} }} }} }} }}");
        let v = app.gql(None, &q, json!({})).await;
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{v}"
        );
        assert!(
            message(&v).contains("exceeds the limit of 16 for an introspection query"),
            "{v}"
        );
    }
);

dual_test!(introspection_can_be_turned_off, |app| {
    let off = TestApp::spawn_with(app.backend, |s| s.introspection = false)
        .await
        .unwrap();
    let v = off.gql(None, INTROSPECTION, json!({})).await;
    assert!(v["data"].is_null(), "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{v}"
    );
    assert!(message(&v).contains("introspection is turned off"), "{v}");
    // and no suggestions of field names
    let v = off.gql(None, "{ pipelinez { id } }", json!({})).await;
    assert!(!message(&v).contains("Did you mean"), "{v}");
    let v = app.gql(None, "{ pipelinez { id } }", json!({})).await;
    assert!(message(&v).contains("Did you mean"), "{v}");
});
