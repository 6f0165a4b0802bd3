//! CSV export: the list's filter and order, custom fields and tags as
//! columns, RFC 4180 quoting, a BOM, formulas neutralised, the token
//! required and bad input answered with a code.
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp};
use crate::pipelines::sales_pipeline;

async fn get(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    params: &[(&str, String)],
) -> reqwest::Response {
    let mut r = app.client.get(app.url(path)).query(params);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

fn rows(body: &str) -> Vec<Vec<String>> {
    let body = body.strip_prefix('\u{feff}').expect("a BOM first");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

async fn opp(app: &TestApp, s: &Session, stage: &str, title: &str, extra: Value) -> String {
    let mut i =
        json!({ "title": title, "stageId": stage, "potential": "1234.5", "dueDate": "2030-01-02" });
    for (k, v) in extra.as_object().unwrap() {
        i[k] = v.clone();
    }
    let v = app
        .gql(
            Some(&s.token),
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
            json!({ "i": i }),
        )
        .await;
    v["data"]["createOpportunity"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

dual_test!(opportunities_export_as_the_list_shows_them, |app| {
    let s = app.sign_up("Export Co", "ann@export.co").await;
    let (pipeline, stages) = sales_pipeline(&app, &s.token).await;
    let v = app.gql(Some(&s.token), "mutation { createCustomField(input: { entity: OPPORTUNITY, key: \"region\", label: \"Région\", kind: SELECT, options: [\"EMEA\"] }) { options { id } } }", json!({})).await;
    let emea = v["data"]["createCustomField"]["options"][0]["id"].clone();
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createTag(input: { name: \"Hot\" }) { id } }",
            json!({}),
        )
        .await;
    let hot = v["data"]["createTag"]["id"].clone();
    opp(
        &app,
        &s,
        &stages[0],
        "=HYPERLINK(\"http://evil\")",
        json!({ "tagIds": [hot], "customFields": [{ "key": "region", "optionIds": [emea] }] }),
    )
    .await;
    opp(
        &app,
        &s,
        &stages[1],
        "Plain, with \"quotes\"\nand a line",
        json!({}),
    )
    .await;
    opp(&app, &s, &stages[1], "Zed", json!({ "potential": "10" })).await;

    let resp = get(
        &app,
        Some(&s.token),
        "/export/opportunities.csv",
        &[
            ("filter", json!({ "pipelineId": pipeline }).to_string()),
            ("orderBy", json!({ "field": "TITLE" }).to_string()),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("opportunities.csv")
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("\r\n"), "CRLF line ends");
    let r = rows(&body);
    assert_eq!(r[0][0], "Reference");
    assert_eq!(
        r[0].last().unwrap(),
        "Région",
        "custom fields by label: {:?}",
        r[0]
    );
    assert_eq!(r.len(), 4, "{r:?}");
    let col = |name: &str| r[0].iter().position(|h| h == name).unwrap();
    // ordered by title, case-insensitively: '=' < 'P' < 'Z'
    assert_eq!(
        r[1][col("Title")],
        "'=HYPERLINK(\"http://evil\")",
        "formula neutralised"
    );
    assert_eq!(r[1][col("Tags")], "Hot");
    assert_eq!(r[1][col("Région")], "EMEA");
    assert_eq!(r[1][col("Potential")], "1234.50");
    assert_eq!(r[1][col("Status")], "OPEN");
    assert_eq!(r[1][col("Due date")], "2030-01-02");
    assert_eq!(r[1][col("Owner email")], "ann@export.co");
    assert_eq!(
        r[2][col("Title")],
        "Plain, with \"quotes\"\nand a line",
        "quoted per RFC 4180"
    );
    assert_eq!(r[3][col("Title")], "Zed");

    // the same filter as the list: tags
    let resp = get(
        &app,
        Some(&s.token),
        "/export/opportunities.csv",
        &[("filter", json!({ "tags": { "anyOf": [hot] } }).to_string())],
    )
    .await;
    assert_eq!(rows(&resp.text().await.unwrap()).len(), 2);

    // no token, a bad filter, a foreign id: clear errors with a code
    let resp = get(&app, None, "/export/opportunities.csv", &[]).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    for (bad, code) in [
        ("{not json", "BAD_USER_INPUT"),
        ("{\"statuses\": [\"MAYBE\"]}", "BAD_USER_INPUT"),
        (
            "{\"pipelineId\": \"00000000-0000-0000-0000-000000000000\"}",
            "NOT_FOUND",
        ),
    ] {
        let resp = get(
            &app,
            Some(&s.token),
            "/export/opportunities.csv",
            &[("filter", bad.to_string())],
        )
        .await;
        assert!(resp.status().is_client_error(), "{bad}: {}", resp.status());
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errors"][0]["extensions"]["code"], code, "{bad}: {v}");
    }
});

dual_test!(contacts_export_with_tags_and_fields, |app| {
    let s = app.sign_up("Export Contacts", "ann@exc.co").await;
    app.gql(Some(&s.token), "mutation { createCustomField(input: { entity: CONTACT, key: \"seats\", label: \"Seats\", kind: NUMBER }) { id } }", json!({})).await;
    let mk = "mutation($i: ContactInput!) { createContact(input: $i) { id } }";
    for (name, email) in [("@risky", "r@x.co"), ("Bob", "bob@x.co")] {
        let v = app.gql(Some(&s.token), mk, json!({ "i": { "kind": "PERSON", "name": name, "email": email, "customFields": [{ "key": "seats", "number": "-3.5" }] } })).await;
        assert!(v["errors"].is_null(), "{v}");
    }
    let resp = get(
        &app,
        Some(&s.token),
        "/export/contacts.csv",
        &[("filter", json!({ "search": "x.co" }).to_string())],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let r = rows(&resp.text().await.unwrap());
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[1][0], "'@risky");
    assert_eq!(r[1].last().unwrap(), "-3.5", "numbers stay numbers");
    assert_eq!(r[2][0], "Bob");
});
