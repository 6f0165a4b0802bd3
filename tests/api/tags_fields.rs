//! Tags and custom fields: defined per tenant, written on opportunities
//! and contacts, checked against their definitions, recorded in history,
//! filtered on.
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp, code, field};
use crate::pipelines::sales_pipeline;

const CREATE_FIELD: &str = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id key kind required options { id label } } }";
const CREATE_OPP: &str = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id version tags { name } customFields { field { key } value { __typename ... on TextValue { text } ... on NumberValue { number } ... on MoneyValue { money { amount currency } } ... on DateValue { date } ... on BooleanValue { boolean } ... on SelectValue { option { label } } ... on MultiSelectValue { options { label } } } } } }";
const UPDATE_OPP: &str = "mutation($id: ID!, $i: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $i) { id tags { name } customFields { field { key } value { __typename ... on TextValue { text } ... on NumberValue { number } ... on SelectValue { option { label } } ... on MultiSelectValue { options { label } } } } history(first: 20) { nodes { field from to } } } }";
const LIST: &str =
    "query($f: OpportunityFilter) { opportunities(filter: $f, first: 50) { nodes { title } } }";

async fn define(app: &TestApp, s: &Session, input: Value) -> Value {
    let v = app
        .gql(Some(&s.token), CREATE_FIELD, json!({ "i": input }))
        .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["createCustomField"].clone()
}

async fn tag(app: &TestApp, s: &Session, name: &str) -> String {
    let v = app
        .gql(
            Some(&s.token),
            "mutation($n: String!) { createTag(input: { name: $n, color: \"#F0a\" }) { id color } }",
            json!({ "n": name }),
        )
        .await;
    assert_eq!(v["data"]["createTag"]["color"], "#ff00aa", "{v}");
    v["data"]["createTag"]["id"].as_str().unwrap().to_string()
}

fn titles(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = v["data"]["opportunities"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

dual_test!(
    custom_fields_are_typed_checked_recorded_and_filtered,
    |app| {
        let s = app.sign_up("Fields Co", "ann@fields.co").await;
        let (_, stages) = sales_pipeline(&app, &s.token).await;
        let region = define(&app, &s, json!({ "entity": "OPPORTUNITY", "key": "region", "label": "Region", "kind": "SELECT", "options": ["EMEA", "APAC"] })).await;
        let emea = region["options"][0]["id"].as_str().unwrap().to_string();
        let apac = region["options"][1]["id"].as_str().unwrap().to_string();
        define(
            &app,
            &s,
            json!({ "entity": "OPPORTUNITY", "key": "seats", "label": "Seats", "kind": "NUMBER" }),
        )
        .await;
        define(
            &app,
            &s,
            json!({ "entity": "OPPORTUNITY", "key": "arr", "label": "ARR", "kind": "MONEY" }),
        )
        .await;
        define(&app, &s, json!({ "entity": "OPPORTUNITY", "key": "renewal", "label": "Renewal", "kind": "DATE" })).await;
        define(&app, &s, json!({ "entity": "OPPORTUNITY", "key": "competitor", "label": "Competitor", "kind": "TEXT", "required": true })).await;
        define(&app, &s, json!({ "entity": "OPPORTUNITY", "key": "products", "label": "Products", "kind": "MULTI_SELECT", "options": ["CRM", "ERP", "BI"] })).await;

        // a required field must be given on create
        let base =
            |title: &str| json!({ "title": title, "stageId": stages[0], "potential": "100" });
        let mut i = base("No competitor");
        let v = app.gql(Some(&s.token), CREATE_OPP, json!({ "i": i })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("competitor"),
            "{v}"
        );

        // a wrong member, an unknown key, a foreign option: errors naming the key
        for (bad, key) in [
            (
                json!([{ "key": "competitor", "text": "Acme" }, { "key": "seats", "text": "ten" }]),
                "seats",
            ),
            (
                json!([{ "key": "competitor", "text": "Acme" }, { "key": "nope", "text": "x" }]),
                "nope",
            ),
            (
                json!([{ "key": "competitor", "text": "Acme" }, { "key": "region", "optionIds": [emea, apac] }]),
                "region",
            ),
            (
                json!([{ "key": "competitor", "text": "Acme" }, { "key": "seats", "number": "1e20" }]),
                "seats",
            ),
            (
                json!([{ "key": "competitor", "text": "x".repeat(501) }]),
                "competitor",
            ),
        ] {
            i["customFields"] = bad;
            let v = app.gql(Some(&s.token), CREATE_OPP, json!({ "i": i })).await;
            assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
            assert_eq!(field(&v), "customFields", "{v}");
            assert!(
                v["errors"][0]["message"].as_str().unwrap().contains(key),
                "{key}: {v}"
            );
        }

        i["customFields"] = json!([{ "key": "competitor", "text": "Acme" }, { "key": "region", "optionIds": [stages[0]] }]);
        let v = app.gql(Some(&s.token), CREATE_OPP, json!({ "i": i })).await;
        assert_eq!(
            code(&v),
            "NOT_FOUND",
            "an id that names no option of the tenant: {v}"
        );

        let t_hot = tag(&app, &s, "Hot").await;
        let t_q4 = tag(&app, &s, "Q4").await;
        let mut i = base("Big");
        i["tagIds"] = json!([t_hot, t_q4]);
        i["customFields"] = json!([
            { "key": "competitor", "text": "  Acme " },
            { "key": "region", "optionIds": [emea] },
            { "key": "seats", "number": "12.5" },
            { "key": "arr", "amount": "1200.456" },
            { "key": "renewal", "date": "2027-03-01" },
            { "key": "products", "optionIds": [region["options"][0]["id"]] },
        ]);
        // an option of another field is unknown here
        let v = app.gql(Some(&s.token), CREATE_OPP, json!({ "i": i })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        i["customFields"][5] = json!({ "key": "products", "optionIds": [] });
        let v = app.gql(Some(&s.token), CREATE_OPP, json!({ "i": i })).await;
        assert!(v["errors"].is_null(), "{v}");
        let big = v["data"]["createOpportunity"].clone();
        assert_eq!(big["tags"], json!([{ "name": "Hot" }, { "name": "Q4" }]));
        let cf = &big["customFields"];
        assert_eq!(cf[0]["field"]["key"], "region", "{cf}");
        assert_eq!(cf[0]["value"]["option"]["label"], "EMEA");
        assert_eq!(cf[1]["value"]["number"], "12.5", "{cf}");
        assert_eq!(
            cf[2]["value"]["money"],
            json!({ "amount": "1200.46", "currency": "EUR" }),
            "{cf}"
        );
        assert_eq!(cf[3]["value"]["date"], "2027-03-01");
        assert_eq!(cf[4]["value"]["text"], "Acme");
        assert_eq!(
            cf.as_array().unwrap().len(),
            5,
            "a cleared field is left out: {cf}"
        );

        let mut i = base("Small");
        i["customFields"] = json!([{ "key": "competitor", "text": "Other" }, { "key": "seats", "number": "3" }, { "key": "region", "optionIds": [apac] }]);
        let v = app.gql(Some(&s.token), CREATE_OPP, json!({ "i": i })).await;
        let small = v["data"]["createOpportunity"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string();

        // an update changes what differs, and the history says so
        let products = app
            .gql(
                Some(&s.token),
                "{ customFields(entity: OPPORTUNITY) { key options { id label } } }",
                json!({}),
            )
            .await;
        let prods = products["data"]["customFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "products")
            .unwrap()
            .clone();
        let v = app
        .gql(
            Some(&s.token),
            UPDATE_OPP,
            json!({ "id": small, "i": { "tagIds": [t_q4], "customFields": [
                { "key": "seats", "number": "3.0000" },
                { "key": "products", "optionIds": [prods["options"][2]["id"], prods["options"][0]["id"]] },
                { "key": "region" },
            ] } }),
        )
        .await;
        assert!(v["errors"].is_null(), "{v}");
        let u = &v["data"]["updateOpportunity"];
        assert_eq!(u["tags"], json!([{ "name": "Q4" }]));
        assert_eq!(u["customFields"][0]["field"]["key"], "seats", "{u}");
        assert_eq!(
            u["customFields"][2]["value"]["options"],
            json!([{ "label": "CRM" }, { "label": "BI" }]),
            "{u}"
        );
        let hist: Vec<(String, Value, Value)> = u["history"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["field"].as_str().unwrap().to_string(),
                    n["from"].clone(),
                    n["to"].clone(),
                )
            })
            .collect();
        assert!(
            hist.contains(&("tags".into(), json!(""), json!("Q4"))),
            "{hist:?}"
        );
        assert!(
            hist.contains(&("custom.region".into(), json!("APAC"), Value::Null)),
            "{hist:?}"
        );
        assert!(
            hist.contains(&("custom.products".into(), Value::Null, json!("CRM, BI"))),
            "{hist:?}"
        );
        assert!(
            !hist.iter().any(|h| h.0 == "custom.seats"),
            "3 and 3.0000 are the same: {hist:?}"
        );

        // a required field cannot be cleared
        let v = app.gql(Some(&s.token), UPDATE_OPP, json!({ "id": small, "i": { "customFields": [{ "key": "competitor", "text": " " }] } })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");

        // filters: tags any/all, select, range, text, isSet
        let list = |f: Value| {
            let app = &app;
            let token = s.token.clone();
            async move { titles(&app.gql(Some(&token), LIST, json!({ "f": f })).await) }
        };
        assert_eq!(
            list(json!({ "tags": { "anyOf": [t_hot, t_q4] } })).await,
            ["Big", "Small"]
        );
        assert_eq!(
            list(json!({ "tags": { "allOf": [t_hot, t_q4] } })).await,
            ["Big"]
        );
        assert_eq!(
            list(json!({ "customFields": [{ "key": "region", "anyOptionIds": [emea] }] })).await,
            ["Big"]
        );
        assert_eq!(
            list(json!({ "customFields": [{ "key": "seats", "min": "4", "max": "100" }] })).await,
            ["Big"]
        );
        assert_eq!(
            list(json!({ "customFields": [{ "key": "arr", "min": "1200.46" }] })).await,
            ["Big"]
        );
        assert_eq!(
            list(json!({ "customFields": [{ "key": "competitor", "equals": "Other" }] })).await,
            ["Small"]
        );
        assert_eq!(list(json!({ "customFields": [{ "key": "renewal", "from": "2027-01-01", "to": "2027-12-31" }] })).await, ["Big"]);
        assert_eq!(
            list(json!({ "customFields": [{ "key": "region", "isSet": false }] })).await,
            ["Small"]
        );
        let v = app
            .gql(
                Some(&s.token),
                LIST,
                json!({ "f": { "customFields": [{ "key": "seats", "equals": "x" }] } }),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        let v = app
            .gql(
                Some(&s.token),
                LIST,
                json!({ "f": { "customFields": [{ "key": "seats" }] } }),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");

        // a kind cannot change once values exist; options rename and archive
        let fields = app
            .gql(Some(&s.token), "{ customFields { id key } }", json!({}))
            .await;
        let seats = fields["data"]["customFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "seats")
            .unwrap()["id"]
            .clone();
        let v = app.gql(Some(&s.token), "mutation($id: ID!) { updateCustomField(id: $id, input: { kind: MONEY }) { kind } }", json!({ "id": seats })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        let v = app.gql(Some(&s.token), "mutation($id: ID!) { updateCustomFieldOption(id: $id, input: { label: \"Europe\", archived: true }) { label archived } }", json!({ "id": emea })).await;
        assert_eq!(
            v["data"]["updateCustomFieldOption"],
            json!({ "label": "Europe", "archived": true }),
            "{v}"
        );
        let v = app.gql(Some(&s.token), "query($id: ID!) { opportunity(id: $id) { customFields { value { ... on SelectValue { option { label archived } } } } } }", json!({ "id": big["id"] })).await;
        assert_eq!(
            v["data"]["opportunity"]["customFields"][0]["value"]["option"],
            json!({ "label": "Europe", "archived": true }),
            "{v}"
        );
        let v = app.gql(Some(&s.token), UPDATE_OPP, json!({ "id": small, "i": { "customFields": [{ "key": "region", "optionIds": [emea] }] } })).await;
        assert_eq!(
            code(&v),
            "BAD_USER_INPUT",
            "an archived option cannot be chosen: {v}"
        );

        // keys are unique per entity; SALES cannot define fields
        let v = app.gql(Some(&s.token), CREATE_FIELD, json!({ "i": { "entity": "OPPORTUNITY", "key": "seats", "label": "Again", "kind": "TEXT" } })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        assert_eq!(field(&v), "key", "{v}");
        let v = app.gql(Some(&s.token), CREATE_FIELD, json!({ "i": { "entity": "OPPORTUNITY", "key": "Bad Key", "label": "x", "kind": "TEXT" } })).await;
        assert_eq!(field(&v), "key", "{v}");
        let sales = app.create_user(&s, "sam@fields.co", "SALES").await;
        let v = app
            .gql(
                Some(&sales.token),
                CREATE_FIELD,
                json!({ "i": { "entity": "CONTACT", "key": "x", "label": "x", "kind": "TEXT" } }),
            )
            .await;
        assert_eq!(code(&v), "FORBIDDEN", "{v}");
    }
);

dual_test!(tags_rename_merge_and_slice_contacts, |app| {
    let s = app.sign_up("Tags Co", "ann@tags.co").await;
    let a = tag(&app, &s, "Trade show").await;
    let b = tag(&app, &s, "tradeshow").await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createTag(input: { name: \"TRADE SHOW\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code(&v),
        "BAD_USER_INPUT",
        "names are unique ignoring case: {v}"
    );
    let v = app
        .gql(
            Some(&s.token),
            "mutation { createTag(input: { name: \"x\", color: \"blue\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(field(&v), "color", "{v}");
    define(
        &app,
        &s,
        json!({ "entity": "CONTACT", "key": "vip", "label": "VIP", "kind": "BOOLEAN" }),
    )
    .await;
    let mk = "mutation($i: ContactInput!) { createContact(input: $i) { id tags { name } customFields { value { ... on BooleanValue { boolean } } } } }";
    let v = app.gql(Some(&s.token), mk, json!({ "i": { "kind": "PERSON", "name": "Ann", "tagIds": [a, b], "customFields": [{ "key": "vip", "boolean": true }] } })).await;
    assert_eq!(
        v["data"]["createContact"]["customFields"][0]["value"]["boolean"], true,
        "{v}"
    );
    let ann = v["data"]["createContact"]["id"].clone();
    let v = app
        .gql(
            Some(&s.token),
            mk,
            json!({ "i": { "kind": "PERSON", "name": "Bob", "tagIds": [b] } }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");

    // merge: both contacts end with the target once; the source is gone
    let v = app
        .gql(
            Some(&s.token),
            "mutation($s: [ID!]!, $t: ID!) { mergeTags(sourceIds: $s, targetId: $t) { name } }",
            json!({ "s": [b], "t": a }),
        )
        .await;
    assert_eq!(v["data"]["mergeTags"]["name"], "Trade show", "{v}");
    let v = app
        .gql(
            Some(&s.token),
            "query($f: ContactFilter) { contacts(filter: $f) { nodes { name tags { name } } } }",
            json!({ "f": { "tags": { "anyOf": [a] } } }),
        )
        .await;
    assert_eq!(
        v["data"]["contacts"]["nodes"],
        json!([{ "name": "Ann", "tags": [{ "name": "Trade show" }] }, { "name": "Bob", "tags": [{ "name": "Trade show" }] }]),
        "{v}"
    );
    let v = app
        .gql(
            Some(&s.token),
            "query($f: ContactFilter) { contacts(filter: $f) { nodes { name } } }",
            json!({ "f": { "customFields": [{ "key": "vip", "boolean": true }] } }),
        )
        .await;
    assert_eq!(
        v["data"]["contacts"]["nodes"],
        json!([{ "name": "Ann" }]),
        "{v}"
    );
    let v = app
        .gql(Some(&s.token), "{ tags { name } }", json!({}))
        .await;
    assert_eq!(v["data"]["tags"], json!([{ "name": "Trade show" }]), "{v}");

    // rename shows everywhere; delete takes it off
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { updateTag(id: $id, input: { name: \"Salon 2026\" }) { name } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(v["data"]["updateTag"]["name"], "Salon 2026", "{v}");
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { contact(id: $id) { tags { name } } }",
            json!({ "id": ann }),
        )
        .await;
    assert_eq!(
        v["data"]["contact"]["tags"],
        json!([{ "name": "Salon 2026" }]),
        "{v}"
    );
    let sales = app.create_user(&s, "sam@tags.co", "SALES").await;
    let v = app
        .gql(
            Some(&sales.token),
            "mutation($id: ID!) { deleteTag(id: $id) }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { deleteTag(id: $id) }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(v["data"]["deleteTag"], true, "{v}");
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { contact(id: $id) { tags { name } } }",
            json!({ "id": ann }),
        )
        .await;
    assert_eq!(v["data"]["contact"]["tags"], json!([]), "{v}");
});
