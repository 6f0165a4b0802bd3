//! Import rows run in batches, a savepoint each: a later row sees what an
//! earlier one wrote (same external id → updated; same new tag → one tag),
//! a failed row takes back only what it wrote (a tag it created), and the
//! rows' events reach the change feed and live subscribers once the batch
//! commits.
use serde_json::{Value, json};

use crate::dual_test;
use crate::imports::{start, upload};

dual_test!(rows_of_a_batch_see_each_other_and_fail_alone, |app| {
    let s = app.sign_up("Batches", "owner@batches.co").await;
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live(
        "opps",
        "subscription { opportunityEvents { kind opportunity { title } } }",
        json!({}),
    )
    .await;
    // row 2 creates the tag "Neuf" then fails (probability 150): its tag
    // goes with it; row 3 creates it again; row 4 updates row 3's deal
    let csv = "\
Ref,Title,Tags,Probability
X-1,Fails,Neuf,150
X-2,First,Neuf,10
X-2,Second,\"Neuf, Autre\",20
X-3,Third,,
";
    let (st, up) = upload(&app, Some(&s.token), "opportunities", csv.into()).await;
    assert_eq!(st, 201, "{up}");
    let id = up["id"].as_str().unwrap().to_string();
    let mapping = json!([
        { "column": 0, "field": "EXTERNAL_ID" },
        { "column": 1, "field": "TITLE" },
        { "column": 2, "field": "TAGS" },
        { "column": 3, "field": "PROBABILITY" },
    ]);
    let dry = start(&app, &s, &id, mapping.clone(), true, "VALIDATED").await;
    assert_eq!(
        (
            &dry["createdCount"],
            &dry["updatedCount"],
            &dry["errorCount"]
        ),
        (&json!(3), &json!(0), &json!(1)),
        "a dry run writes nothing, so X-2 is new both times: {dry}"
    );
    let v = app
        .gql(Some(&s.token), "{ tags { name } }", json!({}))
        .await;
    assert_eq!(v["data"]["tags"], json!([]), "a dry run creates no tag");

    let done = start(&app, &s, &id, mapping, false, "COMPLETED").await;
    assert_eq!(
        (
            &done["createdCount"],
            &done["updatedCount"],
            &done["errorCount"]
        ),
        (&json!(2), &json!(1), &json!(1)),
        "{done}"
    );
    let v = app
        .gql(
            Some(&s.token),
            "{ tags { name } opportunities(first: 10, orderBy: { field: CREATED_AT, direction: ASC }) { nodes { title externalId probability tags { name } } } }",
            json!({}),
        )
        .await;
    let mut tags: Vec<&str> = v["data"]["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["Autre", "Neuf"]);
    let nodes = &v["data"]["opportunities"]["nodes"];
    assert_eq!(nodes[0]["title"], "Second", "{v}");
    assert_eq!(nodes[0]["externalId"], "X-2");
    assert_eq!(nodes[0]["probability"], 20);
    assert_eq!(nodes[0]["tags"].as_array().map(Vec::len), Some(2));
    assert_eq!(nodes[1]["title"], "Third");

    // the live subscriber heard the rows, in order
    let mut heard = Vec::new();
    for _ in 0..3 {
        let e: Value = ws.event("opps").await;
        heard.push(e["opportunityEvents"]["kind"].clone());
    }
    assert_eq!(
        heard,
        [json!("CREATED"), json!("UPDATED"), json!("CREATED")]
    );
    // and the change feed has them, with the update, gap-free
    let v = app
        .gql(
            Some(&s.token),
            "{ changes(first: 50, kinds: [OPPORTUNITY_CREATED, OPPORTUNITY_UPDATED]) { nodes { kind sequence } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<&str> = v["data"]["changes"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "OPPORTUNITY_CREATED",
            "OPPORTUNITY_UPDATED",
            "OPPORTUNITY_CREATED"
        ]
    );
});

dual_test!(
    a_run_whose_instance_stopped_goes_on_from_its_last_batch,
    |app| {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let s = app.sign_up("Resumed", "owner@resumed.co").await;
        let csv = "Title,Amount\nOne,1\nTwo,2\nbad,x\nFour,4\n";
        let (st, up) = upload(&app, Some(&s.token), "opportunities", csv.into()).await;
        assert_eq!(st, 201, "{up}");
        let id = up["id"].as_str().unwrap().to_string();
        // as an instance leaves a run it was killed in: RUNNING, its first
        // batch (two rows) committed, its heartbeat long silent
        let db = app.db().await;
        let old = chrono::Utc::now() - chrono::Duration::hours(1);
        entity::import_job::Entity::update_many()
            .col_expr(entity::import_job::Column::Status, Expr::value("RUNNING"))
            .col_expr(entity::import_job::Column::DryRun, Expr::value(false))
            .col_expr(entity::import_job::Column::ProcessedRows, Expr::value(2))
            .col_expr(entity::import_job::Column::CreatedCount, Expr::value(2))
            .col_expr(
                entity::import_job::Column::HeartbeatAt,
                Expr::value(Some(old)),
            )
            .filter(entity::import_job::Column::Id.eq(uuid::Uuid::parse_str(&id).unwrap()))
            .exec(&db)
            .await
            .unwrap();
        let v = app
            .gql(
                Some(&s.token),
                "query($id: ID!) { importJob(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(v["data"]["importJob"]["status"], "FAILED", "{v}");
        let mapping =
            json!([{ "column": 0, "field": "TITLE" }, { "column": 1, "field": "POTENTIAL" }]);
        let v = app
            .gql(
                Some(&s.token),
                "mutation($i: StartImportInput!) { startImport(input: $i) { status } }",
                json!({ "i": { "importId": id, "mapping": mapping } }),
            )
            .await;
        assert_eq!(v["data"]["startImport"]["status"], "RUNNING", "{v}");
        // a FAILED job's stream ends at once: follow the run once it is going
        let mut ws = app.ws_ready(&s.token).await;
        ws.subscribe_live(
        "job",
        "subscription($id: ID!) { importJob(id: $id) { status processedRows createdCount errorCount } }",
        json!({ "id": id }),
    )
    .await;
        let done = loop {
            let e = ws.event("job").await;
            if e["importJob"]["status"] == "COMPLETED" {
                break e["importJob"].clone();
            }
        };
        assert_eq!(
            (
                &done["processedRows"],
                &done["createdCount"],
                &done["errorCount"]
            ),
            (&json!(4), &json!(3), &json!(1)),
            "{done}"
        );
        let v = app
            .gql(
                Some(&s.token),
                "{ opportunities(first: 10) { nodes { title } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            v["data"]["opportunities"]["nodes"],
            json!([{ "title": "Four" }]),
            "the rows the first run committed are not imported again"
        );
    }
);
