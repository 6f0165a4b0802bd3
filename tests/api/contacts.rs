use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{code, field};

const CREATE: &str = "mutation($i: ContactInput!) { createContact(input: $i) { id kind lifecycle name email phone company { id name } source { name } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateContactInput!) { updateContact(id: $id, input: $i) { name email phone company { id } lifecycle } }";

dual_test!(contacts_are_validated_and_linked_to_companies, |app| {
    let s = app.sign_up("Contact Co", "ann@contact.co").await;
    let sources = crate::pipelines::source_ids(&app, &s.token).await;
    let v = app
        .gql(
            Some(&s.token),
            CREATE,
            json!({ "i": { "kind": "COMPANY", "name": "Acme", "sourceId": sources[0] } }),
        )
        .await;
    let acme = v["data"]["createContact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["data"]["createContact"]["lifecycle"], "PROSPECT");
    assert!(v["data"]["createContact"]["source"]["name"].is_string());
    let v = app.gql(Some(&s.token), CREATE, json!({ "i": { "kind": "PERSON", "name": "Jane", "email": " Jane@Acme.COM", "phone": "+33 1 23 45 67 89", "companyId": acme } })).await;
    let jane = v["data"]["createContact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["data"]["createContact"]["email"], "jane@acme.com");
    assert_eq!(v["data"]["createContact"]["company"]["name"], "Acme");
    for (input, f) in [
        (json!({ "kind": "PERSON", "name": "" }), "name"),
        (
            json!({ "kind": "PERSON", "name": "X", "email": "nope" }),
            "email",
        ),
        (
            json!({ "kind": "PERSON", "name": "X", "phone": "call me" }),
            "phone",
        ),
        (
            json!({ "kind": "PERSON", "name": "X", "companyId": jane }),
            "companyId",
        ),
        (
            json!({ "kind": "COMPANY", "name": "X", "companyId": acme }),
            "companyId",
        ),
    ] {
        let v = app.gql(Some(&s.token), CREATE, json!({ "i": input })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{input}: {v}");
        assert_eq!(field(&v), f);
    }
    let v = app.gql(Some(&s.token), CREATE, json!({ "i": { "kind": "PERSON", "name": "X", "companyId": "00000000-0000-0000-0000-000000000000" } })).await;
    assert_eq!(code(&v), "NOT_FOUND");
    let v = app.gql(Some(&s.token), UPDATE, json!({ "id": jane, "i": { "name": "Jane Doe", "email": null, "companyId": null, "lifecycle": "CLIENT" } })).await;
    assert_eq!(
        v["data"]["updateContact"],
        json!({ "name": "Jane Doe", "email": null, "phone": "+33 1 23 45 67 89", "company": null, "lifecycle": "CLIENT" })
    );
    let v = app
        .gql(
            Some(&s.token),
            UPDATE,
            json!({ "id": jane, "i": { "email": "bad" } }),
        )
        .await;
    assert_eq!(field(&v), "email");
    // deletion: a company with people is refused; SALES may not delete
    app.gql(
        Some(&s.token),
        UPDATE,
        json!({ "id": jane, "i": { "companyId": acme } }),
    )
    .await;
    let del = "mutation($id: ID!) { deleteContact(id: $id) }";
    assert_eq!(
        code(&app.gql(Some(&s.token), del, json!({ "id": acme })).await),
        "BAD_USER_INPUT"
    );
    let sales = app.create_user(&s, "sam@contact.co", "SALES").await;
    assert_eq!(
        code(
            &app.gql(Some(&sales.token), del, json!({ "id": jane }))
                .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(Some(&s.token), del, json!({ "id": jane })).await["data"]["deleteContact"],
        true
    );
    assert_eq!(
        code(
            &app.gql(
                Some(&s.token),
                "query($id: ID!) { contact(id: $id) { id } }",
                json!({ "id": jane })
            )
            .await
        ),
        "NOT_FOUND"
    );
});

dual_test!(contacts_list_filters_searches_and_pages, |app| {
    let s = app.sign_up("List Co", "ann@list.co").await;
    let names = ["bravo", "Alpha", "charlie", "Delta", "echo", "alpha"];
    for (i, n) in names.iter().enumerate() {
        let kind = if i % 2 == 0 { "PERSON" } else { "COMPANY" };
        app.gql(Some(&s.token), CREATE, json!({ "i": { "kind": kind, "name": n, "email": format!("{}{i}@Example.org", n.to_lowercase()) } })).await;
    }
    let q = "query($f: ContactFilter, $n: Int, $a: String) { contacts(filter: $f, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor } nodes { name kind } } }";
    let all = app.gql(Some(&s.token), q, json!({ "n": 100 })).await;
    let order: Vec<String> = all["data"]["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(
        order,
        ["alpha", "alpha", "bravo", "charlie", "delta", "echo"]
    );
    let mut paged: Vec<Value> = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = app
            .gql(Some(&s.token), q, json!({ "n": 4, "a": after }))
            .await;
        let c = &v["data"]["contacts"];
        assert_eq!(c["totalCount"], 6);
        paged.extend(c["nodes"].as_array().unwrap().iter().cloned());
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(Value::Array(paged), all["data"]["contacts"]["nodes"]);
    let v = app
        .gql(Some(&s.token), q, json!({ "f": { "search": "ALPHA" } }))
        .await;
    assert_eq!(v["data"]["contacts"]["totalCount"], 2);
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "f": { "search": "EXAMPLE.ORG", "kind": "COMPANY" } }),
        )
        .await;
    assert_eq!(v["data"]["contacts"]["totalCount"], 3);
    let v = app
        .gql(Some(&s.token), q, json!({ "f": { "lifecycle": "CLIENT" } }))
        .await;
    assert_eq!(v["data"]["contacts"]["totalCount"], 0);
    let v = app.gql(Some(&s.token), q, json!({ "n": 101 })).await;
    assert_eq!(field(&v), "first");
});
