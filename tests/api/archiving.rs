//! An archived pipeline keeps what it holds and takes nothing new until it
//! is unarchived.
use serde_json::json;

use crate::dual_test;
use crate::helpers::{code, field};
use crate::pipelines::{CREATE_PIPELINE, sales_pipeline};

dual_test!(
    an_archived_pipeline_takes_nothing_new_until_unarchived,
    |app| {
        let s = app.sign_up("Shelf Co", "ann@shelf.co").await;
        let (_, stages) = sales_pipeline(&app, &s.token).await;
        let v = app
            .gql(
                Some(&s.token),
                CREATE_PIPELINE,
                json!({ "i": { "name": "Old", "stages": [{ "name": "A", "probability": 10 }] } }),
            )
            .await;
        let old = v["data"]["createPipeline"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let old_stage = v["data"]["createPipeline"]["stages"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let create = "mutation($s: ID!) { createOpportunity(input: { title: \"Deal\", stageId: $s, potential: \"100\" }) { id stage { id } } }";
        let v = app
            .gql(Some(&s.token), create, json!({ "s": stages[0] }))
            .await;
        let opp = v["data"]["createOpportunity"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let archive = |m: &'static str| {
            let q = format!("mutation($id: ID!) {{ {m}(id: $id) {{ archived }} }}");
            let app = &app;
            let (token, old) = (s.token.clone(), old.clone());
            async move { app.gql(Some(&token), &q, json!({ "id": old })).await }
        };
        let v = archive("archivePipeline").await;
        assert_eq!(v["data"]["archivePipeline"]["archived"], true, "{v}");

        // neither a new opportunity nor a move lands in an archived pipeline
        let v = app
            .gql(Some(&s.token), create, json!({ "s": old_stage }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        assert_eq!(field(&v), "stageId");
        let mv = "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { stage { id } } }";
        let v = app
            .gql(Some(&s.token), mv, json!({ "id": opp, "s": old_stage }))
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        let v = app
            .gql(Some(&s.token), "{ pipelines { name } }", json!({}))
            .await;
        assert!(!v.to_string().contains("Old"), "{v}");

        // unarchived, it is back on the board and takes opportunities again
        let v = archive("unarchivePipeline").await;
        assert_eq!(v["data"]["unarchivePipeline"]["archived"], false, "{v}");
        let v = app
            .gql(Some(&s.token), "{ pipelines { name } }", json!({}))
            .await;
        assert!(v.to_string().contains("Old"), "{v}");
        let v = app
            .gql(Some(&s.token), mv, json!({ "id": opp, "s": old_stage }))
            .await;
        assert_eq!(
            v["data"]["moveOpportunity"]["stage"]["id"],
            old_stage.as_str(),
            "{v}"
        );
        let v = app
            .gql(Some(&s.token), create, json!({ "s": old_stage }))
            .await;
        assert!(v["errors"].is_null(), "{v}");

        // only an ADMIN unarchives
        let sales = app.create_user(&s, "sam@shelf.co", "SALES").await;
        let v = app
            .gql(
                Some(&sales.token),
                "mutation($id: ID!) { unarchivePipeline(id: $id) { id } }",
                json!({ "id": old }),
            )
            .await;
        assert_eq!(code(&v), "FORBIDDEN");
    }
);
