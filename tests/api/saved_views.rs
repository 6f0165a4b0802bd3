//! Saved views: private or shared, used directly as a list and an export.
use serde_json::json;

use crate::dual_test;
use crate::helpers::code;
use crate::pipelines::sales_pipeline;

const CREATE: &str = "mutation($i: CreateSavedViewInput!) { createSavedView(input: $i) { id name filter orderBy columns shared mine } }";
const LIST: &str = "query($v: ID, $f: OpportunityFilter) { opportunities(view: $v, filter: $f, first: 10) { nodes { title } } }";

dual_test!(saved_views_are_lists_you_reopen, |app| {
    let admin = app.sign_up("Views Co", "ann@views.co").await;
    let (_, stages) = sales_pipeline(&app, &admin.token).await;
    let sam = app.create_user(&admin, "sam@views.co", "SALES").await;
    let mk = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
    for (t, p) in [("Big", "50000"), ("Small", "500"), ("Huge", "90000")] {
        app.gql(
            Some(&sam.token),
            mk,
            json!({ "i": { "title": t, "stageId": stages[0], "potential": p } }),
        )
        .await;
    }
    // SALES keep their own views; sharing is for ADMIN and MANAGER
    let v = app.gql(Some(&sam.token), CREATE, json!({ "i": { "name": "Mine", "filter": { "ownerId": sam.user_id, "search": "g" }, "orderBy": { "field": "POTENTIAL", "direction": "DESC" }, "columns": ["title", "custom.region"] } })).await;
    let mine = v["data"]["createSavedView"].clone();
    assert_eq!(mine["mine"], true, "{v}");
    assert_eq!(mine["columns"], json!(["title", "custom.region"]));
    let v = app
        .gql(
            Some(&sam.token),
            CREATE,
            json!({ "i": { "name": "Team", "shared": true } }),
        )
        .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = app.gql(Some(&sam.token), CREATE, json!({ "i": { "name": "Bad", "filter": { "pipelineId": "00000000-0000-0000-0000-000000000000" } } })).await;
    assert_eq!(
        code(&v),
        "NOT_FOUND",
        "a filter is checked before it is saved: {v}"
    );
    let v = app
        .gql(Some(&sam.token), CREATE, json!({ "i": { "name": "Mine" } }))
        .await;
    assert_eq!(
        code(&v),
        "BAD_USER_INPUT",
        "names are unique per owner: {v}"
    );

    // used as the list: its filter and order; an explicit filter replaces it
    let v = app
        .gql(Some(&sam.token), LIST, json!({ "v": mine["id"] }))
        .await;
    assert_eq!(
        v["data"]["opportunities"]["nodes"],
        json!([{ "title": "Huge" }, { "title": "Big" }]),
        "{v}"
    );
    let v = app
        .gql(
            Some(&sam.token),
            LIST,
            json!({ "v": mine["id"], "f": { "search": "small" } }),
        )
        .await;
    assert_eq!(
        v["data"]["opportunities"]["nodes"],
        json!([{ "title": "Small" }]),
        "{v}"
    );

    // another user's private view is not found; a shared one is visible
    let v = app
        .gql(Some(&admin.token), LIST, json!({ "v": mine["id"] }))
        .await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let v = app.gql(Some(&admin.token), CREATE, json!({ "i": { "name": "Team", "shared": true, "filter": { "statuses": ["OPEN", "LATE"] } } })).await;
    let team = v["data"]["createSavedView"]["id"].clone();
    let v = app
        .gql(
            Some(&sam.token),
            "{ savedViews { name shared mine } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["savedViews"],
        json!([{ "name": "Mine", "shared": false, "mine": true }, { "name": "Team", "shared": true, "mine": false }]),
        "{v}"
    );
    let v = app
        .gql(
            Some(&sam.token),
            "mutation($id: ID!) { deleteSavedView(id: $id) }",
            json!({ "id": team }),
        )
        .await;
    assert_eq!(
        code(&v),
        "FORBIDDEN",
        "a shared view is read-only to SALES: {v}"
    );

    // export through the view
    let resp = app
        .client
        .get(app.url("/export/opportunities.csv"))
        .query(&[("view", mine["id"].as_str().unwrap())])
        .bearer_auth(&sam.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert_eq!(body.lines().count(), 3, "{body}");

    // update: orderBy null goes back to the default; delete
    let v = app.gql(Some(&sam.token), "mutation($id: ID!) { updateSavedView(id: $id, input: { name: \"Renamed\", orderBy: null }) { name orderBy } }", json!({ "id": mine["id"] })).await;
    assert_eq!(
        v["data"]["updateSavedView"],
        json!({ "name": "Renamed", "orderBy": null }),
        "{v}"
    );
    let v = app
        .gql(
            Some(&sam.token),
            "mutation($id: ID!) { deleteSavedView(id: $id) }",
            json!({ "id": mine["id"] }),
        )
        .await;
    assert_eq!(v["data"]["deleteSavedView"], true, "{v}");
});
