//! Bulk operations: each row through the single mutation's rules in its
//! own transaction, a per-row answer, a dry run that writes nothing.
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{code, field};
use crate::pipelines::sales_pipeline;

const BULK: &str = "mutation($ids: [ID!], $f: OpportunityFilter, $c: BulkOpportunityChangeInput!, $dry: Boolean!) { bulkUpdateOpportunities(ids: $ids, filter: $f, change: $c, dryRun: $dry) { dryRun matched succeeded failed rows { id ok changes code opportunity { owner { email } stage { name } status tags { name } version } } } }";
const DELETE: &str = "mutation($ids: [ID!], $f: OpportunityFilter, $dry: Boolean!) { bulkDeleteOpportunities(ids: $ids, filter: $f, dryRun: $dry) { matched succeeded rows { ok changes } } }";

dual_test!(bulk_updates_apply_row_by_row_with_a_dry_run, |app| {
    let admin = app.sign_up("Bulk Co", "ann@bulk.co").await;
    let (_, stages) = sales_pipeline(&app, &admin.token).await;
    let sam = app.create_user(&admin, "sam@bulk.co", "SALES").await;
    let zoe = app.create_user(&admin, "zoe@bulk.co", "SALES").await;
    let mk = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
    let mut ids = Vec::new();
    for (n, token) in [(1, &sam.token), (2, &sam.token), (3, &zoe.token)] {
        let v = app.gql(Some(token), mk, json!({ "i": { "title": format!("Deal {n}"), "stageId": stages[0], "potential": "100" } })).await;
        ids.push(
            v["data"]["createOpportunity"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_string(),
        );
    }
    let hot = app
        .gql(
            Some(&admin.token),
            "mutation { createTag(input: { name: \"Hot\" }) { id } }",
            json!({}),
        )
        .await["data"]["createTag"]["id"]
        .clone();
    let change = json!({ "ownerId": zoe.user_id, "stageId": stages[1], "addTagIds": [hot] });

    // a dry run answers what would change and writes nothing
    let v = app
        .gql(
            Some(&admin.token),
            BULK,
            json!({ "ids": ids, "c": change, "dry": true }),
        )
        .await;
    let r = &v["data"]["bulkUpdateOpportunities"];
    assert_eq!(r["dryRun"], true, "{v}");
    assert_eq!(r["succeeded"], 3, "{v}");
    let changes: Vec<String> = r["rows"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(
        changes.contains(&"owner".into())
            && changes.contains(&"stage".into())
            && changes.contains(&"tags".into()),
        "{changes:?}"
    );
    assert_eq!(
        r["rows"][2]["changes"],
        json!(["stage", "tags"]),
        "zoe already owns deal 3: {v}"
    );
    assert!(r["rows"][0]["opportunity"].is_null());
    let v = app.gql(Some(&admin.token), "query($id: ID!) { opportunity(id: $id) { version owner { email } tags { name } history { nodes { field } } } }", json!({ "id": ids[0] })).await;
    assert_eq!(
        v["data"]["opportunity"]["version"], 1,
        "nothing written: {v}"
    );
    assert_eq!(v["data"]["opportunity"]["tags"], json!([]), "{v}");

    // SALES: its own rows change, another's answer FORBIDDEN, the batch goes on
    let v = app
        .gql(
            Some(&sam.token),
            BULK,
            json!({ "ids": [ids[2], ids[0]], "c": { "addTagIds": [hot] }, "dry": false }),
        )
        .await;
    let r = &v["data"]["bulkUpdateOpportunities"];
    assert_eq!(
        (r["succeeded"].clone(), r["failed"].clone()),
        (json!(1), json!(1)),
        "{v}"
    );
    assert_eq!(r["rows"][0]["code"], "FORBIDDEN", "{v}");
    assert_eq!(
        r["rows"][1]["opportunity"]["tags"],
        json!([{ "name": "Hot" }]),
        "{v}"
    );

    // the real run, by filter; a row already as asked changes nothing more
    let v = app
        .gql(
            Some(&admin.token),
            BULK,
            json!({ "f": { "stageIds": [stages[0]] }, "c": change, "dry": false }),
        )
        .await;
    let r = &v["data"]["bulkUpdateOpportunities"];
    assert_eq!(r["matched"], 3, "{v}");
    assert_eq!(r["succeeded"], 3, "{v}");
    for row in r["rows"].as_array().unwrap() {
        assert_eq!(row["opportunity"]["owner"]["email"], "zoe@bulk.co", "{v}");
        assert_eq!(
            row["opportunity"]["stage"]["name"],
            json!(
                app.gql(
                    Some(&admin.token),
                    "query($id: ID!) { opportunity(id: $id) { stage { name } } }",
                    json!({ "id": row["id"] })
                )
                .await["data"]["opportunity"]["stage"]["name"]
            )
        );
        assert_eq!(row["opportunity"]["tags"], json!([{ "name": "Hot" }]));
    }
    let v = app
        .gql(
            Some(&admin.token),
            "query($id: ID!) { opportunity(id: $id) { history { nodes { field } } } }",
            json!({ "id": ids[0] }),
        )
        .await;
    let fields: Vec<&str> = v["data"]["opportunity"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"owner") && fields.contains(&"stage"),
        "history like the single mutations: {fields:?}"
    );

    // close as lost: a reason is required; then reopen
    let v = app
        .gql(
            Some(&admin.token),
            BULK,
            json!({ "ids": ids, "c": { "status": "LOST" }, "dry": false }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert_eq!(field(&v), "lostReason", "{v}");
    let v = app.gql(Some(&admin.token), BULK, json!({ "ids": ids, "c": { "status": "LOST", "lostReason": "Budget cut" }, "dry": false })).await;
    assert_eq!(
        v["data"]["bulkUpdateOpportunities"]["rows"][1]["opportunity"]["status"], "LOST",
        "{v}"
    );

    // request-level refusals: nothing is done
    let v = app.gql(Some(&admin.token), BULK, json!({ "ids": [ids[0], "00000000-0000-0000-0000-000000000000"], "c": { "status": "OPEN" }, "dry": false })).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let many: Vec<String> = (0..501).map(|_| ids[0].clone()).collect();
    let v = app
        .gql(
            Some(&admin.token),
            BULK,
            json!({ "ids": many, "c": { "status": "OPEN" }, "dry": false }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let v = app
        .gql(
            Some(&admin.token),
            BULK,
            json!({ "ids": ids, "f": {}, "c": {}, "dry": false }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "ids and filter together: {v}");
    let v = app
        .gql(
            Some(&admin.token),
            "query($id: ID!) { opportunity(id: $id) { status } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert_eq!(v["data"]["opportunity"]["status"], "LOST", "{v}");

    // deletion: managers only, per row
    let v = app
        .gql(Some(&sam.token), DELETE, json!({ "ids": ids, "dry": true }))
        .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = app
        .gql(
            Some(&admin.token),
            DELETE,
            json!({ "ids": [ids[0], ids[1]], "dry": true }),
        )
        .await;
    assert_eq!(v["data"]["bulkDeleteOpportunities"]["succeeded"], 2, "{v}");
    let v = app
        .gql(
            Some(&admin.token),
            DELETE,
            json!({ "f": { "statuses": ["LOST"] }, "dry": false }),
        )
        .await;
    assert_eq!(v["data"]["bulkDeleteOpportunities"]["matched"], 3, "{v}");
    let v: Value = app
        .gql(
            Some(&admin.token),
            "{ opportunities { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["opportunities"]["totalCount"], 0, "{v}");
});
