//! Field errors as the GraphQL specification ("Handling Field Errors")
//! and strict clients (Apollo iOS, Apollo Client's cache) expect them: a
//! nullable field that fails is `null` with its key present, its error in
//! `errors` with its `path`, and its siblings keep their data; a non-null
//! field's failure nulls its nearest nullable ancestor, or `data`.
use serde_json::{Value, json};

use crate::dual_test;
use crate::isolation::two_tenants;

/// Every nullable root query that takes an id.
const NULLABLE_ROOTS: &[&str] = &["activity", "pipeline", "contact", "opportunity"];

fn assert_null_with_key(v: &Value, field: &str, what: &str) {
    let data = v["data"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {v}"));
    assert!(data.contains_key(field), "{what}: key present: {v}");
    assert!(data[field].is_null(), "{what}: {v}");
    assert_eq!(
        data["me"]["email"], "admin@a.test",
        "{what}: sibling kept: {v}"
    );
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{what}: {v}");
    assert_eq!(errors[0]["path"], json!([field]), "{what}: {v}");
    assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{what}: {v}");
}

dual_test!(failed_nullable_fields_are_null_with_their_key, |app| {
    let (a, _, _, b) = two_tenants(&app).await;
    let foreign = |root: &str| match root {
        "activity" => b.activity.clone(),
        "pipeline" => b.pipeline.clone(),
        "contact" => b.person.clone(),
        _ => b.opp1.clone(),
    };
    for root in NULLABLE_ROOTS {
        let unknown = "00000000-0000-7000-8000-000000000000".to_string();
        for (what, id) in [("unknown", unknown), ("foreign", foreign(root))] {
            // alone: `data` is an object holding the null, not `null`
            let q = format!("query($id: ID!) {{ {root}(id: $id) {{ id }} }}");
            let v = app.gql(Some(&a.token), &q, json!({ "id": id })).await;
            assert_eq!(v["data"], json!({ *root: null }), "{root} {what}: {v}");
            // beside a sibling, before and after it
            for q in [
                format!("query($id: ID!) {{ {root}(id: $id) {{ id }} me {{ email }} }}"),
                format!("query($id: ID!) {{ me {{ email }} {root}(id: $id) {{ id }} }}"),
            ] {
                let v = app.gql(Some(&a.token), &q, json!({ "id": id })).await;
                assert_null_with_key(&v, root, &format!("{root} {what}"));
            }
        }
    }

    // over the WebSocket, the same answer
    let mut ws = app.ws_ready(&a.token).await;
    ws.subscribe(
        "q",
        "query($id: ID!) { opportunity(id: $id) { id } me { email } }",
        json!({ "id": b.opp1 }),
    )
    .await;
    let m = ws.next().await;
    assert_eq!(m["type"], "next", "{m}");
    assert_null_with_key(&m["payload"], "opportunity", "over the socket");
});

dual_test!(
    a_failed_non_null_field_nulls_its_nearest_nullable_ancestor,
    |app| {
        let (a, wa, _, _) = two_tenants(&app).await;
        // `Stage.opportunities` is non-null; its bad page size nulls the
        // nullable `pipeline`, and `me` keeps its data
        let v = app
        .gql(
            Some(&a.token),
            "query($id: ID!) { pipeline(id: $id) { name stages { opportunities(first: 500) { totalCount } } } me { email } }",
            json!({ "id": wa.pipeline }),
        )
        .await;
        assert!(v["data"]["pipeline"].is_null(), "{v}");
        assert!(
            v["data"].as_object().unwrap().contains_key("pipeline"),
            "{v}"
        );
        assert_eq!(v["data"]["me"]["email"], "admin@a.test", "{v}");
        let errors = v["errors"].as_array().unwrap();
        assert!(!errors.is_empty(), "{v}");
        assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{v}");
        assert_eq!(errors[0]["path"][0], "pipeline", "{v}");

        // a non-null root field's failure reaches the root: `data` is null
        let v = app
            .gql(
                Some(&a.token),
                "{ me { email } opportunities(first: 500) { totalCount } }",
                json!({}),
            )
            .await;
        assert!(v["data"].is_null(), "{v}");
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{v}"
        );
        assert_eq!(v["errors"][0]["path"], json!(["opportunities"]), "{v}");

        // a nullable field that succeeds after a failed sibling deep inside
        // another branch keeps its data
        let v = app
        .gql(
            Some(&a.token),
            "query($id: ID!) { a: pipeline(id: $id) { name } b: pipeline(id: $id) { stages { opportunities(first: 500) { totalCount } } } }",
            json!({ "id": wa.pipeline }),
        )
        .await;
        assert!(v["data"]["a"]["name"].is_string(), "{v}");
        assert!(v["data"]["b"].is_null(), "{v}");
    }
);
