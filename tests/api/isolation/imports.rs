//! The isolation walk's probes for CSV imports.
use serde_json::{Value, json};

use super::{BAD, Kind, Probe, World};
use crate::helpers::TestApp;

/// The ID positions of imports.
pub(super) const COVERED: &[&str] = &[
    "Query.importJob(id)",
    "Subscription.importJob(id)",
    "Mutation.startImport(input.importId)",
    "Mutation.startImport(input.defaultStageId)",
    "Mutation.cancelImport(id)",
];

/// One tenant's uploaded imports: one each for the start probes, one the
/// walk cancels.
pub(crate) struct Imports {
    first: String,
    second: String,
    doomed: String,
}

impl Imports {
    pub(super) fn ids(&self) -> Vec<String> {
        vec![self.first.clone(), self.second.clone()]
    }
}

pub(super) async fn populate(app: &TestApp, token: &str) -> Imports {
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, v) = crate::imports::upload(
            app,
            Some(token),
            "opportunities",
            b"Title,Amount\nProbe,1\n".to_vec(),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let [first, second, doomed] = <[String; 3]>::try_from(ids).unwrap();
    Imports {
        first,
        second,
        doomed,
    }
}

pub(super) fn probes(a: &World) -> Vec<Probe> {
    let d = &a.imports;
    let probe = |pos, kind, query, vars: Value, good: &String| Probe {
        pos,
        kind,
        query,
        vars,
        good: good.clone(),
    };
    let start = "mutation($i: StartImportInput!) { startImport(input: $i) { id } }";
    let title = json!([{ "column": 0, "field": "TITLE" }]);
    vec![
        probe(
            "Query.importJob(id)",
            Kind::ImportJob,
            "query($id: ID!) { importJob(id: $id) { id status } }",
            json!({ "id": BAD }),
            &d.first,
        ),
        probe(
            "Subscription.importJob(id)",
            Kind::ImportJob,
            "subscription($id: ID!) { importJob(id: $id) { status } }",
            json!({ "id": BAD }),
            &d.first,
        ),
        // the controls start dry runs: nothing is written
        probe(
            "Mutation.startImport(input.defaultStageId)",
            Kind::Stage,
            start,
            json!({ "i": { "importId": d.first, "mapping": title, "defaultStageId": BAD, "dryRun": true } }),
            &a.stages[0],
        ),
        probe(
            "Mutation.startImport(input.importId)",
            Kind::ImportJob,
            start,
            json!({ "i": { "importId": BAD, "mapping": title, "dryRun": true } }),
            &d.second,
        ),
        probe(
            "Mutation.cancelImport(id)",
            Kind::ImportJob,
            "mutation($id: ID!) { cancelImport(id: $id) { status } }",
            json!({ "id": BAD }),
            &d.doomed,
        ),
    ]
}
