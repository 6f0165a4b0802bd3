//! Web intake: intake keys over GraphQL, and `POST /intake` turning a
//! website's form into a contact, an opportunity and a note.
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::dual_test;
use crate::helpers::{Session, TestApp, code, field};
use crate::pipelines::{sales_pipeline, source_ids};

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const KEY_FIELDS: &str =
    "id name pipeline { id } stage { id } source { id } createdAt lastUsedAt revoked";

struct Key {
    id: String,
    secret: String,
}

async fn create_key_full(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(
        Some(token),
        &format!("mutation($i: IntakeKeyInput!) {{ createIntakeKey(input: $i) {{ secret key {{ {KEY_FIELDS} }} }} }}"),
        json!({ "i": input }),
    )
    .await
}

/// A key into the second stage of the tenant's Sales pipeline, with its
/// first seeded source.
async fn create_key(app: &TestApp, s: &Session) -> Key {
    let (_, stages) = sales_pipeline(app, &s.token).await;
    let sources = source_ids(app, &s.token).await;
    let v = create_key_full(
        app,
        &s.token,
        json!({ "name": "Website", "stageId": stages[1], "sourceId": sources[0] }),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    let k = &v["data"]["createIntakeKey"];
    Key {
        id: k["key"]["id"].as_str().unwrap().into(),
        secret: k["secret"].as_str().unwrap().into(),
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn send(
    app: &TestApp,
    secret: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
    idempotency_key: Option<&str>,
) -> Answer {
    let mut r = app
        .client
        .post(app.url("/intake"))
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if let Some(s) = secret {
        r = r.bearer_auth(s);
    }
    if let Some(k) = idempotency_key {
        r = r.header("Idempotency-Key", k);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    Answer {
        status,
        headers,
        body,
    }
}

async fn post_json(app: &TestApp, secret: &str, body: Value) -> Answer {
    send(app, Some(secret), JSON, body.to_string(), None).await
}

async fn opportunity(app: &TestApp, token: &str, id: &str) -> Value {
    let v = app
        .gql(
            Some(token),
            "query($id: ID!) { opportunity(id: $id) { id reference title stage { id } pipeline { id } source { id } owner { id } potential { amount currency } primaryContact { id name kind email phone lifecycle source { id } company { id name kind } } contacts { contact { id } isPrimary } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["opportunity"].clone()
}

async fn opportunity_count(app: &TestApp, token: &str) -> i64 {
    let v = app
        .gql(Some(token), "{ opportunities { totalCount } }", json!({}))
        .await;
    v["data"]["opportunities"]["totalCount"].as_i64().unwrap()
}

async fn contact_count(app: &TestApp, token: &str) -> i64 {
    let v = app
        .gql(Some(token), "{ contacts { totalCount } }", json!({}))
        .await;
    v["data"]["contacts"]["totalCount"].as_i64().unwrap()
}

async fn keys(app: &TestApp, token: &str) -> Value {
    let v = app
        .gql(
            Some(token),
            &format!("{{ intakeKeys {{ {KEY_FIELDS} }} }}"),
            json!({}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["intakeKeys"].clone()
}

async fn notes(app: &TestApp, opportunity: &str) -> Vec<entity::activity::Model> {
    entity::activity::Entity::find()
        .filter(entity::activity::Column::OpportunityId.eq(Uuid::parse_str(opportunity).unwrap()))
        .all(&app.db().await)
        .await
        .unwrap()
}

dual_test!(admins_create_list_and_revoke_keys, |app| {
    let s = app.sign_up("Key Co", "ann@key.co").await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let sources = source_ids(&app, &s.token).await;
    let v = create_key_full(
        &app,
        &s.token,
        json!({ "name": " Website ", "stageId": stages[1], "sourceId": sources[2] }),
    )
    .await;
    let created = &v["data"]["createIntakeKey"];
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.len() >= 40, "{secret}");
    let k = &created["key"];
    assert_eq!(k["name"], "Website");
    assert_eq!(k["pipeline"]["id"], pid.as_str());
    assert_eq!(k["stage"]["id"], stages[1].as_str());
    assert_eq!(k["source"]["id"], sources[2].as_str());
    assert_eq!(k["revoked"], false);
    assert!(k["createdAt"].is_string());
    assert!(k["lastUsedAt"].is_null());

    // only a hash of the secret is stored
    let row = entity::intake_key::Entity::find()
        .one(&app.db().await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.secret_hash, crm_server::auth::sha256_hex(secret));
    assert_eq!(row.created_by.to_string(), s.user_id);

    // without a source
    let v = create_key_full(
        &app,
        &s.token,
        json!({ "name": "Other", "stageId": stages[0] }),
    )
    .await;
    assert!(
        v["data"]["createIntakeKey"]["key"]["source"].is_null(),
        "{v}"
    );

    let listed = keys(&app, &s.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["id"], k["id"]);

    for (input, f) in [
        (json!({ "name": "  ", "stageId": stages[0] }), "name"),
        (
            json!({ "name": "x".repeat(201), "stageId": stages[0] }),
            "name",
        ),
    ] {
        let v = create_key_full(&app, &s.token, input).await;
        assert_eq!(code(&v), "BAD_USER_INPUT");
        assert_eq!(field(&v), f);
    }
    for input in [
        json!({ "name": "N", "stageId": Uuid::new_v4().to_string() }),
        json!({ "name": "N", "stageId": "nope" }),
        json!({ "name": "N", "stageId": stages[0], "sourceId": Uuid::new_v4().to_string() }),
    ] {
        assert_eq!(
            code(&create_key_full(&app, &s.token, input).await),
            "NOT_FOUND"
        );
    }

    let revoke = "mutation($id: ID!) { revokeIntakeKey(id: $id) { id revoked } }";
    for _ in 0..2 {
        let v = app
            .gql(Some(&s.token), revoke, json!({ "id": k["id"] }))
            .await;
        assert_eq!(v["data"]["revokeIntakeKey"]["revoked"], true, "{v}");
    }
    let v = app
        .gql(
            Some(&s.token),
            revoke,
            json!({ "id": Uuid::new_v4().to_string() }),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND");
    assert_eq!(keys(&app, &s.token).await[0]["revoked"], true);
});

dual_test!(key_management_is_for_admins_only, |app| {
    let admin = app.sign_up("Role Co", "ann@role.co").await;
    let key = create_key(&app, &admin).await;
    let (_, stages) = sales_pipeline(&app, &admin.token).await;
    let manager = app.create_user(&admin, "max@role.co", "MANAGER").await;
    let sales = app.create_user(&admin, "sam@role.co", "SALES").await;
    let list = "{ intakeKeys { id } }";
    let create = "mutation($i: IntakeKeyInput!) { createIntakeKey(input: $i) { secret } }";
    let revoke = "mutation($id: ID!) { revokeIntakeKey(id: $id) { id } }";
    let input = json!({ "i": { "name": "Mine", "stageId": stages[0] } });
    for who in [&manager, &sales] {
        assert_eq!(
            code(&app.gql(Some(&who.token), list, json!({})).await),
            "FORBIDDEN"
        );
        assert_eq!(
            code(&app.gql(Some(&who.token), create, input.clone()).await),
            "FORBIDDEN"
        );
        let v = app
            .gql(Some(&who.token), revoke, json!({ "id": key.id }))
            .await;
        assert_eq!(code(&v), "FORBIDDEN");
    }
    assert_eq!(
        code(&app.gql(None, list, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(code(&app.gql(None, create, input).await), "UNAUTHENTICATED");
    // nothing was revoked or added
    let listed = keys(&app, &admin.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["revoked"], false);
});

dual_test!(a_json_post_creates_contact_opportunity_and_note, |app| {
    let s = app.sign_up("Lead Co", "ann@lead.co").await;
    let manager = app.create_user(&s, "max@lead.co", "MANAGER").await;
    let key = create_key(&app, &s).await;
    let (pid, stages) = sales_pipeline(&app, &s.token).await;
    let sources = source_ids(&app, &s.token).await;
    let a = post_json(
        &app,
        &key.secret,
        json!({
            "name": "  Bob Builder ", "email": "Bob@Example.TEST", "phone": "+49 30 1234",
            "company": "Builder GmbH", "message": "Please call me back.\nThanks",
        }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(a.body["reference"], "OPP-1");
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(a.body.as_object().unwrap().len(), 2, "{}", a.body);

    let o = opportunity(&app, &manager.token, id).await;
    assert_eq!(o["reference"], "OPP-1");
    assert_eq!(o["title"], "Web request from Bob Builder");
    assert_eq!(o["stage"]["id"], stages[1].as_str());
    assert_eq!(o["pipeline"]["id"], pid.as_str());
    assert_eq!(o["source"]["id"], sources[0].as_str());
    assert_eq!(o["owner"]["id"], s.user_id.as_str());
    assert_eq!(
        o["potential"],
        json!({ "amount": "0.00", "currency": "EUR" })
    );
    let c = &o["primaryContact"];
    assert_eq!(c["name"], "Bob Builder");
    assert_eq!(c["kind"], "PERSON");
    assert_eq!(c["email"], "bob@example.test");
    assert_eq!(c["phone"], "+49 30 1234");
    assert_eq!(c["lifecycle"], "PROSPECT");
    assert_eq!(c["source"]["id"], sources[0].as_str());
    assert_eq!(c["company"]["name"], "Builder GmbH");
    assert_eq!(c["company"]["kind"], "COMPANY");
    assert_eq!(o["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(o["contacts"][0]["isPrimary"], true);

    let notes = notes(&app, id).await;
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert_eq!(n.kind, "NOTE");
    assert_eq!(n.subject, "Web form message");
    assert_eq!(n.note.as_deref(), Some("Please call me back.\nThanks"));
    assert_eq!(
        n.contact_id.map(|c| c.to_string()),
        c["id"].as_str().map(String::from)
    );
    assert_eq!(n.assignee_id.to_string(), s.user_id);
    assert_eq!(n.created_by.to_string(), s.user_id);
    assert!(n.done);
    assert!(n.completed_at.is_some());
    assert_eq!(n.at, n.created_at);
    assert_eq!(n.at_ms, n.at.timestamp_millis());
    assert_eq!(n.tenant_id.to_string(), s.tenant_id);

    let k = &keys(&app, &s.token).await[0];
    assert!(k["lastUsedAt"].is_string(), "{k}");

    // no message, no note; references keep counting
    let a = post_json(&app, &key.secret, json!({ "name": "Quiet" })).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["reference"], "OPP-2");
    assert!(notes_of(&app, &a).await.is_empty());
});

async fn notes_of(app: &TestApp, a: &Answer) -> Vec<entity::activity::Model> {
    notes(app, a.body["id"].as_str().unwrap()).await
}

dual_test!(a_form_post_works_with_title_and_potential, |app| {
    let s = app.sign_up("Form Co", "ann@form.co").await;
    let key = create_key(&app, &s).await;
    // what a browser sends for a form with every input, some left empty
    let body = "name=Clara+M%C3%BCller&email=clara%40form.test&phone=&company=&message=Hello+there\
                &title=Kitchen+remodel&potential=1500.505&submit=Send";
    let a = send(&app, Some(&key.secret), FORM, body, None).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let o = opportunity(&app, &s.token, a.body["id"].as_str().unwrap()).await;
    assert_eq!(o["title"], "Kitchen remodel");
    assert_eq!(
        o["potential"],
        json!({ "amount": "1500.51", "currency": "EUR" })
    );
    assert_eq!(o["primaryContact"]["name"], "Clara Müller");
    assert!(o["primaryContact"]["phone"].is_null());
    assert!(o["primaryContact"]["company"].is_null());
    assert_eq!(
        notes_of(&app, &a).await[0].note.as_deref(),
        Some("Hello there")
    );

    // a JSON number, and a charset parameter
    let a = send(
        &app,
        Some(&key.secret),
        "application/json; charset=UTF-8",
        json!({ "name": "Dan", "potential": 99.5 }).to_string(),
        None,
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let o = opportunity(&app, &s.token, a.body["id"].as_str().unwrap()).await;
    assert_eq!(o["potential"]["amount"], "99.50");

    // a 200-character name still makes a valid title
    let long = "N".repeat(200);
    let a = post_json(&app, &key.secret, json!({ "name": long })).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let o = opportunity(&app, &s.token, a.body["id"].as_str().unwrap()).await;
    assert_eq!(o["title"].as_str().unwrap().chars().count(), 200);
});

dual_test!(contacts_are_reused_by_email_and_companies_by_name, |app| {
    let s = app.sign_up("Reuse Co", "ann@reuse.co").await;
    let key = create_key(&app, &s).await;
    let existing = app
        .gql(
            Some(&s.token),
            "mutation { createContact(input: { kind: COMPANY, name: \"Globex Inc\" }) { id } }",
            json!({}),
        )
        .await["data"]["createContact"]["id"]
        .clone();

    let first = post_json(
        &app,
        &key.secret,
        json!({ "name": "Eve", "email": "eve@reuse.test", "company": "Acme" }),
    )
    .await;
    let again = post_json(
        &app,
        &key.secret,
        json!({ "name": "Eve Again", "email": "  EVE@Reuse.TEST ", "company": "Other Co", "phone": "123" }),
    )
    .await;
    assert_eq!((first.status, again.status), (201, 201));
    let o1 = opportunity(&app, &s.token, first.body["id"].as_str().unwrap()).await;
    let o2 = opportunity(&app, &s.token, again.body["id"].as_str().unwrap()).await;
    assert_eq!(o1["primaryContact"]["id"], o2["primaryContact"]["id"]);
    // a contact found is left as it was
    assert_eq!(o2["primaryContact"]["name"], "Eve");
    assert!(o2["primaryContact"]["phone"].is_null());
    assert_eq!(o2["title"], "Web request from Eve Again");
    // Eve + Acme + Globex; "Other Co" was not needed
    assert_eq!(contact_count(&app, &s.token).await, 3);

    let frank = post_json(
        &app,
        &key.secret,
        json!({ "name": "Frank", "email": "frank@reuse.test", "company": "ACME" }),
    )
    .await;
    let grace = post_json(
        &app,
        &key.secret,
        json!({ "name": "Grace", "company": "globex inc" }),
    )
    .await;
    let of = opportunity(&app, &s.token, frank.body["id"].as_str().unwrap()).await;
    let og = opportunity(&app, &s.token, grace.body["id"].as_str().unwrap()).await;
    assert_eq!(
        of["primaryContact"]["company"]["id"],
        o1["primaryContact"]["company"]["id"]
    );
    assert_eq!(og["primaryContact"]["company"]["id"], existing);
    assert_eq!(contact_count(&app, &s.token).await, 5);

    // without an email, every post is a new person
    let h1 = post_json(&app, &key.secret, json!({ "name": "Hal" })).await;
    let h2 = post_json(&app, &key.secret, json!({ "name": "Hal" })).await;
    let c1 = opportunity(&app, &s.token, h1.body["id"].as_str().unwrap()).await;
    let c2 = opportunity(&app, &s.token, h2.body["id"].as_str().unwrap()).await;
    assert_ne!(c1["primaryContact"]["id"], c2["primaryContact"]["id"]);
});

dual_test!(invalid_input_names_the_field_and_creates_nothing, |app| {
    let s = app.sign_up("Bad Co", "ann@bad.co").await;
    let key = create_key(&app, &s).await;
    let cases = [
        (json!({ "email": "a@b.test" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": 42 }), "name"),
        (json!({ "name": "A", "email": "not-an-email" }), "email"),
        (json!({ "name": "A", "phone": "call me" }), "phone"),
        (
            json!({ "name": "A", "company": "x".repeat(201) }),
            "company",
        ),
        (json!({ "name": "A", "title": "x".repeat(201) }), "title"),
        (json!({ "name": "A", "potential": "-5" }), "potential"),
        (json!({ "name": "A", "potential": -0.5 }), "potential"),
        (json!({ "name": "A", "potential": "lots" }), "potential"),
        (
            json!({ "name": "A", "potential": "1000000000.01" }),
            "potential",
        ),
        (
            json!({ "name": "A", "message": "x".repeat(20_001) }),
            "message",
        ),
    ];
    for (body, f) in cases {
        let a = post_json(&app, &key.secret, body.clone()).await;
        assert_eq!(a.status, 422, "{body}: {}", a.body);
        assert_eq!(a.body["field"], f, "{body}: {}", a.body);
        assert!(a.body["error"].is_string());
    }
    let a = send(&app, Some(&key.secret), FORM, "email=a%40b.test", None).await;
    assert_eq!((a.status, a.body["field"].as_str()), (422, Some("name")));
    assert_eq!(opportunity_count(&app, &s.token).await, 0);
    assert_eq!(contact_count(&app, &s.token).await, 0);
});

dual_test!(transport_errors_answer_json, |app| {
    let s = app.sign_up("Wire Co", "ann@wire.co").await;
    let key = create_key(&app, &s).await;
    let body = json!({ "name": "Ann" }).to_string();

    let a = send(&app, Some(&key.secret), "text/plain", body.clone(), None).await;
    assert_eq!(a.status, 415, "{}", a.body);
    assert!(a.body["error"].is_string());
    let a = send(
        &app,
        Some(&key.secret),
        "multipart/form-data; boundary=x",
        "--x--",
        None,
    )
    .await;
    assert_eq!(a.status, 415);
    let a = send(
        &app,
        Some(&key.secret),
        "application/json; charset=latin1",
        body.clone(),
        None,
    )
    .await;
    assert_eq!(a.status, 415);

    let big = json!({ "name": "Ann", "message": "x".repeat(64 * 1024) }).to_string();
    let a = send(&app, Some(&key.secret), JSON, big, None).await;
    assert_eq!(a.status, 413, "{}", a.body);
    let a = send(&app, Some(&key.secret), JSON, "{\"name\":", None).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = send(&app, Some(&key.secret), JSON, "[1]", None).await;
    assert_eq!(a.status, 400, "{}", a.body);

    let res = app.client.get(app.url("/intake")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    // missing, wrong and revoked keys are all the same 401
    let wrong = format!("{}x", key.secret);
    for secret in [None, Some(""), Some(wrong.as_str())] {
        let a = send(&app, secret, JSON, body.clone(), None).await;
        assert_eq!(a.status, 401, "{secret:?}: {}", a.body);
        assert_eq!(a.headers["www-authenticate"], "Bearer");
    }
    let res = app
        .client
        .post(app.url("/intake"))
        .header(CONTENT_TYPE, JSON)
        .header("Authorization", format!("Basic {}", key.secret))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let before = post_json(&app, &key.secret, json!({ "name": "Ann" })).await;
    assert_eq!(before.status, 201);
    app.gql(
        Some(&s.token),
        "mutation($id: ID!) { revokeIntakeKey(id: $id) { id } }",
        json!({ "id": key.id }),
    )
    .await;
    let a = post_json(&app, &key.secret, json!({ "name": "Ann" })).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body, json!({ "error": "a valid intake key is required" }));
    assert_eq!(opportunity_count(&app, &s.token).await, 1);

    // a user's access token is no intake key
    let a = post_json(&app, &s.token, json!({ "name": "Ann" })).await;
    assert_eq!(a.status, 401);
});

dual_test!(idempotency_keys_replay_the_first_answer, |app| {
    let s = app.sign_up("Idem Co", "ann@idem.co").await;
    let key = create_key(&app, &s).await;
    let body = json!({ "name": "Ida", "email": "ida@idem.test", "message": "Hi" }).to_string();
    let first = send(&app, Some(&key.secret), JSON, body.clone(), Some("order-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send(&app, Some(&key.secret), JSON, body.clone(), Some("order-1")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(opportunity_count(&app, &s.token).await, 1);
    assert_eq!(notes_of(&app, &first).await.len(), 1);

    // the same key with another body is refused, and changes nothing
    let other = json!({ "name": "Ida", "email": "ida@idem.test", "message": "Hi!" }).to_string();
    let a = send(
        &app,
        Some(&key.secret),
        JSON,
        other.clone(),
        Some("order-1"),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.body["field"], "Idempotency-Key");
    assert_eq!(opportunity_count(&app, &s.token).await, 1);

    // other Idempotency-Keys, or none, create
    let a = send(&app, Some(&key.secret), JSON, other, Some("order-2")).await;
    assert_eq!(a.status, 201);
    assert_ne!(a.body["id"], first.body["id"]);
    let a = send(&app, Some(&key.secret), JSON, body.clone(), None).await;
    assert_eq!(a.status, 201);
    assert_eq!(opportunity_count(&app, &s.token).await, 3);

    // an Idempotency-Key belongs to one intake key
    let second = create_key(&app, &s).await;
    let a = send(
        &app,
        Some(&second.secret),
        JSON,
        body.clone(),
        Some("order-1"),
    )
    .await;
    assert_eq!(a.status, 201);
    assert_ne!(a.body["id"], first.body["id"]);
    assert_eq!(opportunity_count(&app, &s.token).await, 4);

    // an invalid post remembers nothing: corrected, it may reuse its key
    let a = send(
        &app,
        Some(&key.secret),
        JSON,
        "{\"name\":\"\"}",
        Some("order-3"),
    )
    .await;
    assert_eq!(a.status, 422);
    let a = send(
        &app,
        Some(&key.secret),
        JSON,
        "{\"name\":\"Jo\"}",
        Some("order-3"),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);

    let a = send(&app, Some(&key.secret), JSON, body, Some(&"k".repeat(256))).await;
    assert_eq!(
        (a.status, a.body["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );
});

dual_test!(
    concurrent_posts_with_one_idempotency_key_create_once,
    |app| {
        let s = app.sign_up("Race Co", "ann@race.co").await;
        let key = create_key(&app, &s).await;
        let body = json!({ "name": "Rita", "email": "rita@race.test", "company": "Race Ltd", "message": "Quick!" })
        .to_string();
        let posts = (0..8).map(|_| send(&app, Some(&key.secret), JSON, body.clone(), Some("same")));
        let answers = futures_util::future::join_all(posts).await;
        for a in &answers {
            assert_eq!(a.status, 201, "{}", a.body);
            assert_eq!(a.body, answers[0].body);
        }
        assert_eq!(opportunity_count(&app, &s.token).await, 1);
        assert_eq!(contact_count(&app, &s.token).await, 2);
        assert_eq!(notes_of(&app, &answers[0]).await.len(), 1);
    }
);

dual_test!(keys_never_reach_across_tenants, |app| {
    let a = app.sign_up("Alpha Co", "ann@alpha.co").await;
    let b = app.sign_up("Beta Co", "bob@beta.co").await;
    let key_a = create_key(&app, &a).await;
    let key_b = create_key(&app, &b).await;
    // B knows Eve and Acme; A's post must not find them
    app.gql(
        Some(&b.token),
        "mutation { c: createContact(input: { kind: PERSON, name: \"B's Eve\", email: \"eve@x.test\" }) { id } d: createContact(input: { kind: COMPANY, name: \"Acme\" }) { id } }",
        json!({}),
    )
    .await;
    let posted = post_json(
        &app,
        &key_a.secret,
        json!({ "name": "Eve", "email": "eve@x.test", "company": "Acme" }),
    )
    .await;
    assert_eq!(posted.status, 201);
    assert_eq!(posted.body["reference"], "OPP-1");
    let id = posted.body["id"].as_str().unwrap();
    let o = opportunity(&app, &a.token, id).await;
    assert_eq!(o["primaryContact"]["name"], "Eve");
    assert_eq!(contact_count(&app, &a.token).await, 2);
    assert_eq!(contact_count(&app, &b.token).await, 2);
    assert_eq!(opportunity_count(&app, &b.token).await, 0);
    assert!(keys(&app, &b.token).await[0]["lastUsedAt"].is_null());
    let v = app
        .gql(
            Some(&b.token),
            "query($id: ID!) { opportunity(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND");

    // B sees only its own key, and cannot revoke A's
    let listed = keys(&app, &b.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], key_b.id.as_str());
    let v = app
        .gql(
            Some(&b.token),
            "mutation($id: ID!) { revokeIntakeKey(id: $id) { id } }",
            json!({ "id": key_a.id }),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND");
    assert_eq!(keys(&app, &a.token).await[0]["revoked"], false);

    // nor make a key into A's stage or with A's source
    let (_, stages_a) = sales_pipeline(&app, &a.token).await;
    let (_, stages_b) = sales_pipeline(&app, &b.token).await;
    let sources_a = source_ids(&app, &a.token).await;
    for input in [
        json!({ "name": "X", "stageId": stages_a[0] }),
        json!({ "name": "X", "stageId": stages_b[0], "sourceId": sources_a[0] }),
    ] {
        assert_eq!(
            code(&create_key_full(&app, &b.token, input).await),
            "NOT_FOUND"
        );
    }
    assert_eq!(keys(&app, &b.token).await.as_array().unwrap().len(), 1);

    // an Idempotency-Key used by A means nothing to B
    let body = json!({ "name": "Same" }).to_string();
    let ra = send(&app, Some(&key_a.secret), JSON, body.clone(), Some("k1")).await;
    let rb = send(&app, Some(&key_b.secret), JSON, body, Some("k1")).await;
    assert_eq!((ra.status, rb.status), (201, 201));
    assert_eq!(rb.body["reference"], "OPP-1");
    assert_ne!(ra.body["id"], rb.body["id"]);

    assert!(keys(&app, &a.token).await[0]["lastUsedAt"].is_string());
    assert!(keys(&app, &b.token).await[0]["lastUsedAt"].is_string());
});

dual_test!(a_key_is_limited_to_60_posts_a_minute, |app| {
    let s = app.sign_up("Rate Co", "ann@rate.co").await;
    let key = create_key(&app, &s).await;
    let other = create_key(&app, &s).await;
    // every post counts, refused ones (cheaper to send) included
    for i in 0..55 {
        let a = post_json(&app, &key.secret, json!({ "email": "bad" })).await;
        assert_eq!(a.status, 422, "post {i}");
    }
    for i in 55..60 {
        let a = post_json(&app, &key.secret, json!({ "name": format!("Lead {i}") })).await;
        assert_eq!(a.status, 201, "post {i}: {}", a.body);
    }
    let a = post_json(&app, &key.secret, json!({ "name": "One too many" })).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.body["error"].is_string());
    let retry: i64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(opportunity_count(&app, &s.token).await, 5);
    // the limit is per key
    let a = post_json(&app, &other.secret, json!({ "name": "Elsewhere" })).await;
    assert_eq!(a.status, 201);

    // once the posts are a minute old, the key works again
    let db = app.db().await;
    let past = chrono::Utc::now() - chrono::Duration::seconds(61);
    entity::intake_request::Entity::update_many()
        .col_expr(
            entity::intake_request::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(past),
        )
        .exec(&db)
        .await
        .unwrap();
    let a = post_json(&app, &key.secret, json!({ "name": "Later" })).await;
    assert_eq!(a.status, 201, "{}", a.body);
    // and the log of plain posts is pruned as it ages
    let left = entity::intake_request::Entity::find()
        .filter(entity::intake_request::Column::IntakeKeyId.eq(Uuid::parse_str(&key.id).unwrap()))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(left, 1);
});
