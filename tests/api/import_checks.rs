//! CSV import input that must be refused with a code: no token, a SALES
//! user, empty, header-only, too wide or runaway files, bad mappings,
//! another tenant's import.
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::code;
use crate::imports::upload;

dual_test!(import_input_is_checked, |app| {
    let s = app.sign_up("Checked", "owner@checked.co").await;
    let sales = app.create_user(&s, "rep@checked.co", "SALES").await;
    let other = app.sign_up("Other", "owner@other.co").await;
    let ok = b"Title,Amount\nA,1\n".to_vec();

    let (st, v) = upload(&app, None, "opportunities", ok.clone()).await;
    assert_eq!(
        (st, v["errors"][0]["extensions"]["code"].clone()),
        (401, json!("UNAUTHENTICATED"))
    );
    let (st, v) = upload(&app, Some(&sales.token), "opportunities", ok.clone()).await;
    assert_eq!(
        (st, v["errors"][0]["extensions"]["code"].clone()),
        (403, json!("FORBIDDEN"))
    );
    for bad in [&b""[..], b"Title,Amount\n", b"\n\n", b",,\n1,2\n"] {
        let (st, v) = upload(&app, Some(&s.token), "opportunities", bad.to_vec()).await;
        assert_eq!(
            (st, v["errors"][0]["extensions"]["code"].clone()),
            (422, json!("BAD_USER_INPUT")),
            "{v}"
        );
    }
    let mut wide = (0..250)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    wide.push_str("\n1\n");
    let (st, _) = upload(&app, Some(&s.token), "opportunities", wide.into_bytes()).await;
    assert_eq!(st, 422);
    // an unclosed quote swallowing the rest of a big file
    let mut runaway = String::from("Title\n\"never closed\n");
    runaway.push_str(&"y".repeat(2 * 1024 * 1024));
    let (st, v) = upload(&app, Some(&s.token), "opportunities", runaway.into_bytes()).await;
    assert_eq!(st, 422, "{v}");

    let (_, up) = upload(&app, Some(&s.token), "opportunities", ok.clone()).await;
    let id = up["id"].as_str().unwrap().to_string();
    let start_with = |mapping: Value| json!({ "i": { "importId": id, "mapping": mapping } });
    const START: &str = "mutation($i: StartImportInput!) { startImport(input: $i) { id } }";
    for mapping in [
        json!([{ "column": 5, "field": "TITLE" }]),
        json!([{ "column": -1, "field": "TITLE" }]),
        json!([{ "column": 1, "field": "POTENTIAL" }]),
        json!([{ "column": 0, "field": "TITLE" }, { "column": 1, "field": "TITLE" }]),
        json!([{ "column": 0, "field": "TITLE" }, { "column": 0, "field": "POTENTIAL" }]),
        json!([{ "column": 0, "field": "TITLE" }, { "column": 1, "field": "CUSTOM_FIELD" }]),
        json!([{ "column": 0, "field": "TITLE" }, { "column": 1, "field": "CUSTOM_FIELD", "customFieldKey": "nope" }]),
        json!([{ "column": 0, "field": "TITLE" }, { "column": 1, "field": "EMAIL" }]),
    ] {
        let v = app
            .gql(Some(&s.token), START, start_with(mapping.clone()))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{mapping}: {v}");
    }
    let v = app
        .gql(
            Some(&sales.token),
            START,
            start_with(json!([{ "column": 0, "field": "TITLE" }])),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND", "SALES do not see imports");
    let v = app
        .gql(
            Some(&other.token),
            START,
            start_with(json!([{ "column": 0, "field": "TITLE" }])),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND");
    for q in [
        "query($id: ID!) { importJob(id: $id) { id } }",
        "mutation($id: ID!) { cancelImport(id: $id) { id } }",
    ] {
        let v = app.gql(Some(&other.token), q, json!({ "id": id })).await;
        assert_eq!(code(&v), "NOT_FOUND", "{q}");
        let v = app
            .gql(Some(&s.token), q, json!({ "id": "not-an-id" }))
            .await;
        assert_eq!(code(&v), "NOT_FOUND", "{q}");
    }
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { importJob(id: $id) { errors(first: 0) { row } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let v = app
        .gql(
            Some(&s.token),
            "{ importJobs(first: 1000) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let v = app
        .gql(Some(&sales.token), "{ importJobs { id } }", json!({}))
        .await;
    assert_eq!(code(&v), "FORBIDDEN");
    let v = app
        .gql(
            Some(&s.token),
            START,
            json!({ "i": { "importId": id, "mapping": [{ "column": 0, "field": "TITLE" }], "defaultStageId": uuid::Uuid::new_v4().to_string() } }),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND");
    // nothing was started by any of these
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { importJob(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(v["data"]["importJob"]["status"], "UPLOADED");
});
