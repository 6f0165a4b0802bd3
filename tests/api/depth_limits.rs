//! The limits of tags, custom fields and saved views, each answered with
//! BAD_USER_INPUT and nothing stored: a tag merged into itself, more than
//! 200 fields on an entity, more than 10 custom-field filters, a view with
//! more than 50 columns.
use serde_json::json;

use crate::dual_test;
use crate::helpers::code;

dual_test!(depth_limits_are_refused_with_a_code, |app| {
    let s = app.sign_up("Limits", "owner@limits.co").await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createTag(input: { name: \"Solo\" }) { id } }",
            json!({}),
        )
        .await;
    let tag = v["data"]["createTag"]["id"].clone();
    let v = app
        .gql(
            Some(&s.token),
            "mutation($t: ID!) { mergeTags(sourceIds: [$t], targetId: $t) { id } }",
            json!({ "t": tag }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let v = app
        .gql(Some(&s.token), "{ tags { name } }", json!({}))
        .await;
    assert_eq!(
        v["data"]["tags"],
        json!([{ "name": "Solo" }]),
        "still there"
    );

    let create = "mutation($k: String!) { createCustomField(input: { entity: CONTACT, key: $k, label: $k, kind: TEXT }) { id } }";
    for i in 0..200 {
        let v = app
            .gql(Some(&s.token), create, json!({ "k": format!("f{i}") }))
            .await;
        assert!(v["errors"].is_null(), "{v}");
    }
    let v = app
        .gql(Some(&s.token), create, json!({ "k": "one_too_many" }))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createCustomField(input: { entity: OPPORTUNITY, key: \"other_entity\", label: \"Other\", kind: TEXT }) { id } }",
            json!({}),
        )
        .await;
    assert!(v["errors"].is_null(), "the limit is per entity: {v}");

    let filters: Vec<_> = (0..11)
        .map(|i| json!({ "key": format!("f{i}"), "isSet": true }))
        .collect();
    let v = app
        .gql(
            Some(&s.token),
            "query($f: ContactFilter) { contacts(filter: $f) { totalCount } }",
            json!({ "f": { "customFields": filters } }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");

    let columns: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
    let v = app
        .gql(
            Some(&s.token),
            "mutation($c: [String!]) { createSavedView(input: { name: \"Wide\", columns: $c }) { id } }",
            json!({ "c": columns }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let v = app
        .gql(Some(&s.token), "{ savedViews { name } }", json!({}))
        .await;
    assert_eq!(v["data"]["savedViews"], json!([]));
});
