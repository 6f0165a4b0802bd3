//! Sorting opportunities by a custom field: each kind in both directions,
//! rows without a value last (first descending), keyset pages that walk
//! the whole order once, board columns too, and bad orders refused.
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp, code};
use crate::pipelines::sales_pipeline;

const LIST: &str = "query($o: OpportunityOrder, $a: String) { opportunities(first: 2, after: $a, orderBy: $o) { nodes { title } pageInfo { endCursor hasNextPage } } }";

/// Every title in the order, two per page.
async fn walk(app: &TestApp, s: &Session, order: Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = app
            .gql(Some(&s.token), LIST, json!({ "o": order, "a": after }))
            .await;
        let page = &v["data"]["opportunities"];
        let nodes = page["nodes"].as_array().unwrap_or_else(|| panic!("{v}"));
        out.extend(
            nodes
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_string()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

dual_test!(opportunities_sort_by_a_custom_field, |app| {
    let s = app.sign_up("Sorted", "owner@sorted.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let field = |key: &str, kind: &str, options: Value| json!({ "i": { "entity": "OPPORTUNITY", "key": key, "label": key, "kind": kind, "options": options } });
    let create = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { options { id label } } }";
    app.gql(
        Some(&s.token),
        create,
        field("seats", "NUMBER", json!(null)),
    )
    .await;
    app.gql(Some(&s.token), create, field("code", "TEXT", json!(null)))
        .await;
    app.gql(
        Some(&s.token),
        create,
        field("renewal", "DATE", json!(null)),
    )
    .await;
    let v = app
        .gql(
            Some(&s.token),
            create,
            field("tier", "SELECT", json!(["Gold", "Silver", "Bronze"])),
        )
        .await;
    let opt = |label: &str| {
        v["data"]["createCustomField"]["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["label"] == label)
            .unwrap()["id"]
            .clone()
    };
    let rows = [
        (
            "A",
            json!([{ "key": "seats", "number": "20" }, { "key": "code", "text": "beta" }, { "key": "tier", "optionIds": [opt("Silver")] }]),
        ),
        (
            "B",
            json!([{ "key": "seats", "number": "5.5" }, { "key": "renewal", "date": "2031-01-01" }, { "key": "tier", "optionIds": [opt("Gold")] }]),
        ),
        ("C", json!([])),
        (
            "D",
            json!([{ "key": "seats", "number": "-3" }, { "key": "code", "text": "Alpha" }, { "key": "renewal", "date": "2030-06-01" }]),
        ),
        (
            "E",
            json!([{ "key": "seats", "number": "20" }, { "key": "code", "text": "gamma" }, { "key": "tier", "optionIds": [opt("Bronze")] }]),
        ),
    ];
    let mut ids = Vec::new();
    for (title, custom) in rows {
        let v = app
            .gql(
                Some(&s.token),
                "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
                json!({ "i": { "title": title, "stageId": stages[0], "potential": "1", "customFields": custom } }),
            )
            .await;
        assert!(v["errors"].is_null(), "{v}");
        ids.push(v["data"]["createOpportunity"]["id"].clone());
    }
    let by = |key: &str, dir: &str| json!({ "field": "CUSTOM_FIELD", "customFieldKey": key, "direction": dir });
    // ties (A and E on 20 seats) by id, so only their pair is checked as a set
    let seats = walk(&app, &s, by("seats", "ASC")).await;
    assert_eq!(seats.len(), 5);
    assert_eq!(&seats[..2], ["D", "B"]);
    assert_eq!(seats[4], "C", "no value last");
    let mut tied = seats[2..4].to_vec();
    tied.sort();
    assert_eq!(tied, ["A", "E"]);
    let desc = walk(&app, &s, by("seats", "DESC")).await;
    assert_eq!(desc[0], "C");
    assert_eq!(&desc[3..], ["B", "D"]);
    let code_order = walk(&app, &s, by("code", "ASC")).await;
    assert_eq!(&code_order[..3], ["D", "A", "E"], "case-insensitive");
    let mut none = code_order[3..].to_vec();
    none.sort();
    assert_eq!(none, ["B", "C"]);
    assert_eq!(&walk(&app, &s, by("renewal", "ASC")).await[..2], ["D", "B"]);
    assert_eq!(
        &walk(&app, &s, by("tier", "ASC")).await[..3],
        ["B", "A", "E"],
        "by option position"
    );
    assert_eq!(
        &walk(&app, &s, by("tier", "DESC")).await[2..],
        ["E", "A", "B"]
    );

    // a board column sorts the same way
    let v = app
        .gql(
            Some(&s.token),
            "query($o: OpportunityOrder) { pipelines { stages { opportunities(first: 3, orderBy: $o) { nodes { title } } } } }",
            json!({ "o": by("tier", "ASC") }),
        )
        .await;
    assert_eq!(
        v["data"]["pipelines"][0]["stages"][0]["opportunities"]["nodes"],
        json!([{ "title": "B" }, { "title": "A" }, { "title": "E" }]),
        "{v}"
    );

    for bad in [
        json!({ "field": "CUSTOM_FIELD" }),
        json!({ "field": "TITLE", "customFieldKey": "seats" }),
        json!({ "field": "CUSTOM_FIELD", "customFieldKey": "nope" }),
    ] {
        let v = app
            .gql(Some(&s.token), LIST, json!({ "o": bad, "a": null }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{bad}: {v}");
    }
    // a cursor of one field's order is refused by another's
    let v = app
        .gql(
            Some(&s.token),
            LIST,
            json!({ "o": by("seats", "ASC"), "a": null }),
        )
        .await;
    let cursor = v["data"]["opportunities"]["pageInfo"]["endCursor"].clone();
    let v = app
        .gql(
            Some(&s.token),
            LIST,
            json!({ "o": by("code", "ASC"), "a": cursor }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
});

dual_test!(contacts_sort_by_name_or_a_custom_field, |app| {
    let s = app.sign_up("Sorted People", "owner@people.co").await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createCustomField(input: { entity: CONTACT, key: \"renewal\", label: \"Renewal\", kind: DATE }) { id } }",
            json!({}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    for (name, date) in [
        ("bea", Some("2031-01-01")),
        ("Al", None),
        ("Cy", Some("2030-01-01")),
    ] {
        let custom = date.map_or(json!([]), |d| json!([{ "key": "renewal", "date": d }]));
        let v = app
            .gql(
                Some(&s.token),
                "mutation($n: String!, $c: [CustomFieldValueInput!]) { createContact(input: { kind: PERSON, name: $n, customFields: $c }) { id } }",
                json!({ "n": name, "c": custom }),
            )
            .await;
        assert!(v["errors"].is_null(), "{v}");
    }
    let q = "query($o: ContactOrder, $a: String) { contacts(first: 2, after: $a, orderBy: $o) { nodes { name } pageInfo { endCursor hasNextPage } } }";
    let walk = |order: Value| {
        let app = &app;
        let s = &s;
        async move {
            let mut out = Vec::new();
            let mut after = Value::Null;
            loop {
                let v = app
                    .gql(Some(&s.token), q, json!({ "o": order, "a": after }))
                    .await;
                let page = &v["data"]["contacts"];
                for n in page["nodes"].as_array().unwrap_or_else(|| panic!("{v}")) {
                    out.push(n["name"].as_str().unwrap().to_string());
                }
                if page["pageInfo"]["hasNextPage"] != true {
                    return out;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
        }
    };
    assert_eq!(walk(json!(null)).await, ["Al", "bea", "Cy"]);
    assert_eq!(
        walk(json!({ "field": "NAME", "direction": "DESC" })).await,
        ["Cy", "bea", "Al"]
    );
    let by = |dir: &str| json!({ "field": "CUSTOM_FIELD", "customFieldKey": "renewal", "direction": dir });
    assert_eq!(walk(by("ASC")).await, ["Cy", "bea", "Al"]);
    assert_eq!(walk(by("DESC")).await, ["Al", "bea", "Cy"]);
    for bad in [
        json!({ "field": "CUSTOM_FIELD" }),
        json!({ "field": "NAME", "customFieldKey": "renewal" }),
        json!({ "field": "CUSTOM_FIELD", "customFieldKey": "nope" }),
    ] {
        let v = app
            .gql(Some(&s.token), q, json!({ "o": bad, "a": null }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{bad}: {v}");
    }
});
