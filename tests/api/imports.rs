//! CSV import: upload, suggested mapping (French and English headers), a
//! dry run listing row errors and writing nothing, the run itself followed
//! through the `importJob` subscription, idempotent by external id,
//! contacts deduplicated by email, names matched, both number locales,
//! and bad input answered with a code.
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp, code};

const JOB: &str =
    "id status totalRows processedRows createdCount updatedCount errorCount percent dryRun";

pub async fn upload(app: &TestApp, token: Option<&str>, what: &str, body: Vec<u8>) -> (u16, Value) {
    let mut r = app
        .client
        .post(app.url(&format!("/import/{what}.csv")))
        .query(&[("fileName", "deals.csv")])
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Starts a run with the import's suggested mapping and waits (on the
/// subscription, not a clock) until it reaches `until`.
pub async fn run(app: &TestApp, s: &Session, id: &str, dry_run: bool, until: &str) -> Value {
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { importJob(id: $id) { suggestedMapping { column field customFieldKey } } }",
            json!({ "id": id }),
        )
        .await;
    let mapping: Vec<Value> = v["data"]["importJob"]["suggestedMapping"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .filter(|c| !c["field"].is_null())
        .map(|c| json!({ "column": c["column"], "field": c["field"], "customFieldKey": c["customFieldKey"] }))
        .collect();
    start(app, s, id, json!(mapping), dry_run, until).await
}

pub async fn start(
    app: &TestApp,
    s: &Session,
    id: &str,
    mapping: Value,
    dry_run: bool,
    until: &str,
) -> Value {
    let mut ws = app.ws_ready(&s.token).await;
    ws.subscribe_live(
        "job",
        &format!("subscription($id: ID!) {{ importJob(id: $id) {{ {JOB} }} }}"),
        json!({ "id": id }),
    )
    .await;
    let first = ws.event("job").await;
    assert_eq!(first["importJob"]["id"], id);
    let v = app
        .gql(
            Some(&s.token),
            &format!("mutation($i: StartImportInput!) {{ startImport(input: $i) {{ {JOB} }} }}"),
            json!({ "i": { "importId": id, "mapping": mapping, "dryRun": dry_run } }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    loop {
        let e = ws.event("job").await;
        if e["importJob"]["status"] == until {
            return e["importJob"].clone();
        }
    }
}

async fn errors(app: &TestApp, s: &Session, id: &str) -> Vec<(i64, Value, String)> {
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { importJob(id: $id) { errors { row column code message } } }",
            json!({ "id": id }),
        )
        .await;
    v["data"]["importJob"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].clone(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn windows_1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            'É' => 0xc9,
            'é' => 0xe9,
            'è' => 0xe8,
            'ç' => 0xe7,
            '€' => 0x80,
            c => u8::try_from(u32::from(c)).unwrap(),
        })
        .collect()
}

const OPPS: &str = "\
Réf;Nom de l'affaire;Montant;Échéance;Étape;Commercial;E-mail;Société;Région;Tags;Statut
A-1;Alpha;1 234,56 €;31/12/2030;Quote sent;bob@deals.fr;jo@client.fr;Client SA;EMEA;Hot, VIP;
A-2;Beta;\"1,234.50\";2030-06-30;Request received;Owner;JO@client.fr;;APAC;;gagné
A-3;Gamma;lots;;;;;;;;
A-4;Delta;10;31/02/2030;;;;;;;
A-5;Epsilon;10;;Nowhere;;;;;;
A-6;Zeta;10;;;;;;Mars;;
;;5;;;;;;;;
";

async fn titles(app: &TestApp, s: &Session) -> Vec<Value> {
    let v = app
        .gql(
            Some(&s.token),
            "{ opportunities(first: 50, orderBy: { field: CREATED_AT, direction: ASC }) { nodes { title externalId potential { amount currency } dueDate status stage { name } owner { email } tags { name } contacts { contact { email company { name } } } customFields { field { key } value { ... on SelectValue { option { label } } } } } } }",
            json!({}),
        )
        .await;
    v["data"]["opportunities"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone()
}

dual_test!(opportunities_import_from_a_french_spreadsheet, |app| {
    let s = app.sign_up("Deals FR", "owner@deals.fr").await;
    app.create_user(&s, "bob@deals.fr", "MANAGER").await;
    let v = app.gql(Some(&s.token), "mutation { createCustomField(input: { entity: OPPORTUNITY, key: \"region\", label: \"Région\", kind: SELECT, options: [\"EMEA\", \"APAC\"] }) { id } }", json!({})).await;
    assert!(v["errors"].is_null(), "{v}");

    let (status, up) = upload(&app, Some(&s.token), "opportunities", windows_1252(OPPS)).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["totalRows"], 7);
    assert_eq!(up["headers"][3], "Échéance", "Windows-1252 read as such");
    let id = up["id"].as_str().unwrap().to_string();
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { importJob(id: $id) { status fileName suggestedMapping { header field customFieldKey } } }",
            json!({ "id": id }),
        )
        .await;
    let job = &v["data"]["importJob"];
    assert_eq!(job["status"], "UPLOADED");
    assert_eq!(job["fileName"], "deals.csv");
    let fields: Vec<String> = job["suggestedMapping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["field"].as_str().unwrap_or("-").to_string()
                + c["customFieldKey"].as_str().unwrap_or("")
        })
        .collect();
    assert_eq!(
        fields,
        [
            "EXTERNAL_ID",
            "TITLE",
            "POTENTIAL",
            "DUE_DATE",
            "STAGE",
            "OWNER",
            "CONTACT_EMAIL",
            "COMPANY",
            "CUSTOM_FIELDregion",
            "TAGS",
            "STATUS"
        ]
    );

    // a dry run lists the bad rows and writes nothing
    let done = run(&app, &s, &id, true, "VALIDATED").await;
    assert_eq!(done["dryRun"], true);
    assert_eq!(
        (done["createdCount"].clone(), done["errorCount"].clone()),
        (json!(2), json!(5)),
        "{done}"
    );
    assert_eq!(done["percent"], 100);
    let errs = errors(&app, &s, &id).await;
    let rows: Vec<(i64, Value)> = errs.iter().map(|e| (e.0, e.1.clone())).collect();
    assert_eq!(
        rows,
        [
            (4, json!("Montant")),
            (5, json!("Échéance")),
            (6, json!("Étape")),
            (7, json!("Région")),
            (8, json!("Nom de l'affaire")),
        ]
    );
    assert!(errs.iter().all(|e| e.2 == "BAD_USER_INPUT"), "{errs:?}");
    assert!(
        titles(&app, &s).await.is_empty(),
        "a dry run writes nothing"
    );
    let v = app
        .gql(
            Some(&s.token),
            "{ tags { name } contacts(first: 5) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["tags"], json!([]));
    assert_eq!(v["data"]["contacts"]["nodes"], json!([]));

    // the run itself
    let done = run(&app, &s, &id, false, "COMPLETED").await;
    assert_eq!(
        (
            done["createdCount"].clone(),
            done["updatedCount"].clone(),
            done["errorCount"].clone()
        ),
        (json!(2), json!(0), json!(5)),
        "{done}"
    );
    let opps = titles(&app, &s).await;
    assert_eq!(opps.len(), 2, "{opps:?}");
    let (a, b) = (&opps[0], &opps[1]);
    assert_eq!(a["title"], "Alpha");
    assert_eq!(a["externalId"], "A-1");
    assert_eq!(a["potential"]["amount"], "1234.56");
    assert_eq!(a["potential"]["currency"], "EUR");
    assert_eq!(a["dueDate"], "2030-12-31");
    assert_eq!(a["stage"]["name"], "Quote sent");
    assert_eq!(a["owner"]["email"], "bob@deals.fr");
    assert_eq!(a["tags"], json!([{ "name": "Hot" }, { "name": "VIP" }]));
    assert_eq!(a["customFields"][0]["value"]["option"]["label"], "EMEA");
    assert_eq!(a["contacts"][0]["contact"]["email"], "jo@client.fr");
    assert_eq!(a["contacts"][0]["contact"]["company"]["name"], "Client SA");
    assert_eq!(b["title"], "Beta");
    assert_eq!(b["potential"]["amount"], "1234.50");
    assert_eq!(b["status"], "WON");
    assert_eq!(b["owner"]["email"], "owner@deals.fr", "matched by name");
    assert_eq!(
        b["contacts"][0]["contact"]["email"], "jo@client.fr",
        "one contact per email"
    );
    let v = app
        .gql(
            Some(&s.token),
            "{ contacts(first: 10) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["contacts"]["nodes"].as_array().unwrap().len(),
        2,
        "{v}"
    );

    // once done it cannot run again, and its file is gone
    let v = app
        .gql(
            Some(&s.token),
            "mutation($i: StartImportInput!) { startImport(input: $i) { id } }",
            json!({ "i": { "importId": id, "mapping": [{ "column": 1, "field": "TITLE" }] } }),
        )
        .await;
    assert_eq!(code(&v), "CONFLICT");

    // the same file again: matched by external id, nothing duplicated
    let (_, again) = upload(&app, Some(&s.token), "opportunities", windows_1252(OPPS)).await;
    let again = again["id"].as_str().unwrap().to_string();
    let done = run(&app, &s, &again, false, "COMPLETED").await;
    assert_eq!(
        (done["createdCount"].clone(), done["updatedCount"].clone()),
        (json!(0), json!(2)),
        "{done}"
    );
    assert_eq!(titles(&app, &s).await.len(), 2);
    let v = app
        .gql(Some(&s.token), "{ importJobs { id status } }", json!({}))
        .await;
    assert_eq!(v["data"]["importJobs"].as_array().unwrap().len(), 2, "{v}");
});

dual_test!(contacts_import_dedups_by_email_and_external_id, |app| {
    let s = app.sign_up("Contacts In", "owner@in.co").await;
    let v = app.gql(Some(&s.token), "mutation { createContact(input: { kind: PERSON, name: \"Old Name\", email: \"kim@x.co\" }) { id } }", json!({})).await;
    let kim = v["data"]["createContact"]["id"].clone();
    let csv = "\u{feff}Name,Email,Phone,Company,Type,External ID,Tags\r\n\
        Kim Lee,KIM@x.co,+33 1 23 45 67 89,Acme,person,C-1,Lead\r\n\
        Acme,,,,company,C-2,\r\n\
        \"Lee, Sam\",sam@x.co,,Acme,Personne,C-3,\"Lead|Partner\"\r\n\
        Bad Kind,,,,robot,C-4,\r\n\
        No Mail,not-an-email,,,,C-5,\r\n";
    let (status, up) = upload(&app, Some(&s.token), "contacts", csv.as_bytes().to_vec()).await;
    assert_eq!(status, 201, "{up}");
    let id = up["id"].as_str().unwrap().to_string();
    let done = run(&app, &s, &id, false, "COMPLETED").await;
    assert_eq!(
        (
            done["createdCount"].clone(),
            done["updatedCount"].clone(),
            done["errorCount"].clone()
        ),
        (json!(1), json!(2), json!(2)),
        "{done}"
    );
    let errs = errors(&app, &s, &id).await;
    assert_eq!(
        errs.iter().map(|e| (e.0, e.1.clone())).collect::<Vec<_>>(),
        [(5, json!("Type")), (6, json!("Email"))]
    );
    let v = app
        .gql(
            Some(&s.token),
            "query($id: ID!) { contact(id: $id) { name email phone externalId company { name } tags { name } } }",
            json!({ "id": kim }),
        )
        .await;
    let c = &v["data"]["contact"];
    assert_eq!(c["name"], "Kim Lee", "updated, found by email: {v}");
    assert_eq!(c["company"]["name"], "Acme");
    assert_eq!(c["tags"], json!([{ "name": "Lead" }]));
    let v = app
        .gql(
            Some(&s.token),
            "{ contacts(first: 10, filter: { kind: COMPANY }) { nodes { name externalId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["contacts"]["nodes"],
        json!([{ "name": "Acme", "externalId": "C-2" }]),
        "one Acme, matched by name: {v}"
    );

    // cancelled before it runs: it can no longer start
    let (_, up) = upload(&app, Some(&s.token), "contacts", csv.as_bytes().to_vec()).await;
    let id = up["id"].as_str().unwrap().to_string();
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { cancelImport(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(v["data"]["cancelImport"]["status"], "CANCELLED", "{v}");
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { cancelImport(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&v), "CONFLICT");
    let v = app
        .gql(
            Some(&s.token),
            "mutation($i: StartImportInput!) { startImport(input: $i) { id } }",
            json!({ "i": { "importId": id, "mapping": [{ "column": 0, "field": "NAME" }] } }),
        )
        .await;
    assert_eq!(code(&v), "CONFLICT");
});

dual_test!(
    a_large_file_is_stored_in_chunks_and_rows_keep_their_numbers,
    |app| {
        let s = app.sign_up("Big File", "owner@big.co").await;
        // ~1.2 MB: three chunks; the last row is bad
        let mut csv = String::from("Name,Email,Notes\n");
        for i in 0..4_000 {
            csv.push_str(&format!("Person {i},p{i}@big.co,\"{}\"\n", "x".repeat(280)));
        }
        csv.push_str(",nobody@big.co,\n");
        let (status, up) = upload(&app, Some(&s.token), "contacts", csv.into_bytes()).await;
        assert_eq!(status, 201, "{up}");
        assert_eq!(up["totalRows"], 4_001);
        let id = up["id"].as_str().unwrap().to_string();
        let mapping = json!([{ "column": 0, "field": "NAME" }, { "column": 1, "field": "EMAIL" }]);
        let done = start(&app, &s, &id, mapping, true, "VALIDATED").await;
        assert_eq!(
            (done["createdCount"].clone(), done["errorCount"].clone()),
            (json!(4_000), json!(1)),
            "{done}"
        );
        let errs = errors(&app, &s, &id).await;
        assert_eq!(errs[0].0, 4_002, "the header is row 1");
    }
);
