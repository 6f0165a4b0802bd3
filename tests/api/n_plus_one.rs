//! N+1 guards: a board and an opportunities page cost the same small number
//! of SQL statements whether they show 5 or 50 opportunities (per column).
//!
//! A count at n=50 one or two above n=5 is not an N+1 but a DataLoader
//! batch split in two: the loader sends what it has after its time window,
//! and resolving 150 nodes can outlast the window on a busy machine. Counts
//! are therefore the fewest of several runs (`gql_counted`).
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{Session, TestApp};

/// No request below may run more statements than this.
const MAX_STATEMENTS: u64 = 8;
/// Opportunities created in each stage of the "Sales" pipeline.
const PER_STAGE: usize = 52;
const BATCH: usize = 10;

const NODE: &str = "id title owner { name } source { name } primaryContact { name }";

fn board_query(with_totals: bool) -> String {
    let totals = if with_totals {
        "count totalPotential { amount }"
    } else {
        ""
    };
    format!(
        "query($id: ID!, $n: Int) {{ pipeline(id: $id) {{ id name stages {{ id name {totals} \
         opportunities(first: $n) {{ nodes {{ {NODE} }} }} }} }} }}"
    )
}

fn page_query(with_totals: bool) -> String {
    let totals = if with_totals {
        "totalCount totalPotential { amount } totalWeightedPotential { amount }"
    } else {
        ""
    };
    format!(
        "query($n: Int) {{ opportunities(first: $n) {{ nodes {{ {NODE} }} \
         pageInfo {{ hasNextPage endCursor }} {totals} }} }}"
    )
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a mutation and returns its payload; panics on any error.
async fn mutate(app: &TestApp, s: &Session, query: &str, input: Value, name: &str) -> Value {
    let v = app.gql(Some(&s.token), query, json!({ "i": input })).await;
    assert!(v["errors"].is_null(), "{name}: {v}");
    v["data"][name].clone()
}

struct Fixture {
    admin: Session,
    pipeline: String,
    stages: Vec<String>,
}

/// One tenant with several users, companies and people, and PER_STAGE
/// opportunities in each stage of its "Sales" pipeline, made through the API.
async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.sign_up("N Plus One Co", "ann@nplusone.co").await;
    let mut owners = vec![admin.user_id.clone()];
    for (i, role) in ["MANAGER", "SALES", "SALES"].iter().enumerate() {
        let u = app
            .create_user(&admin, &format!("user{i}@nplusone.co"), role)
            .await;
        owners.push(u.user_id);
    }

    let setup = app
        .gql(
            Some(&admin.token),
            "{ pipelines { id name stages { id name } } sources { id name } }",
            json!({}),
        )
        .await;
    assert!(setup["errors"].is_null(), "{setup}");
    let sales = setup["data"]["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Sales")
        .unwrap_or_else(|| panic!("sign-up seeds a Sales pipeline: {setup}"));
    let pipeline = sales["id"].as_str().unwrap().to_string();
    let stages = ids(&sales["stages"]);
    assert_eq!(stages.len(), 3, "{setup}");
    let sources = ids(&setup["data"]["sources"]);
    assert_eq!(sources.len(), 5, "{setup}");

    const CREATE_CONTACT: &str = "mutation($i: ContactInput!) { createContact(input: $i) { id } }";
    let mut companies = Vec::new();
    for i in 0..4 {
        let c = mutate(
            app,
            &admin,
            CREATE_CONTACT,
            json!({ "kind": "COMPANY", "name": format!("Company {i}"), "sourceId": sources[i % 5] }),
            "createContact",
        )
        .await;
        companies.push(c["id"].as_str().unwrap().to_string());
    }
    let mut people = Vec::new();
    for i in 0..8 {
        let c = mutate(
            app,
            &admin,
            CREATE_CONTACT,
            json!({
                "kind": "PERSON", "name": format!("Person {i}"),
                "email": format!("person{i}@client.example"),
                "companyId": companies[i % companies.len()]
            }),
            "createContact",
        )
        .await;
        people.push(c["id"].as_str().unwrap().to_string());
    }
    let contacts: Vec<String> = companies.iter().chain(&people).cloned().collect();

    const CREATE_OPPORTUNITY: &str =
        "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }";
    let total = PER_STAGE * stages.len();
    let inputs: Vec<Value> = (0..total)
        .map(|i| {
            let primary = &contacts[i % contacts.len()];
            let other = &contacts[(i + 5) % contacts.len()];
            json!({
                "title": format!("Deal {i}"),
                "stageId": stages[i % stages.len()],
                "potential": format!("{}.50", 1000 + i * 10),
                "ownerId": owners[i % owners.len()],
                // every sixth one has no source
                "sourceId": if i % 6 == 5 { Value::Null } else { json!(sources[i % sources.len()]) },
                "contacts": [
                    { "contactId": other, "role": "buyer" },
                    { "contactId": primary, "role": "decision maker", "isPrimary": true },
                ],
            })
        })
        .collect();
    for batch in inputs.chunks(BATCH) {
        let created = join_all(batch.iter().map(|i| {
            mutate(
                app,
                &admin,
                CREATE_OPPORTUNITY,
                i.clone(),
                "createOpportunity",
            )
        }))
        .await;
        assert_eq!(created.len(), batch.len());
    }
    Fixture {
        admin,
        pipeline,
        stages,
    }
}

/// Checks a node's relations are all there (the fixture gives each one).
fn assert_node(node: &Value) {
    assert!(node["owner"]["name"].is_string(), "{node}");
    assert!(node["primaryContact"]["name"].is_string(), "{node}");
    assert!(
        node["source"].is_null() || node["source"]["name"].is_string(),
        "{node}"
    );
}

/// The board with `n` opportunities per column: its statement count.
async fn board(app: &TestApp, f: &Fixture, n: usize, with_totals: bool) -> u64 {
    let (v, count) = app
        .gql_counted(
            Some(&f.admin.token),
            &board_query(with_totals),
            json!({ "id": f.pipeline, "n": n }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let stages = v["data"]["pipeline"]["stages"].as_array().unwrap();
    assert_eq!(ids(&v["data"]["pipeline"]["stages"]), f.stages);
    for s in stages {
        let nodes = s["opportunities"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n, "a full column of {n}: {s}");
        nodes.iter().for_each(assert_node);
        if with_totals {
            assert_eq!(s["count"], PER_STAGE, "{s}");
            assert!(s["totalPotential"]["amount"].is_string(), "{s}");
        }
    }
    count
}

/// The first opportunities page of `n`: its statement count.
async fn page(app: &TestApp, f: &Fixture, n: usize, with_totals: bool) -> u64 {
    let (v, count) = app
        .gql_counted(
            Some(&f.admin.token),
            &page_query(with_totals),
            json!({ "n": n }),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let c = &v["data"]["opportunities"];
    let nodes = c["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), n, "a full page of {n}");
    nodes.iter().for_each(assert_node);
    assert_eq!(c["pageInfo"]["hasNextPage"], true);
    assert!(c["pageInfo"]["endCursor"].is_string(), "{}", c["pageInfo"]);
    if with_totals {
        assert_eq!(c["totalCount"], PER_STAGE * f.stages.len());
        assert!(c["totalPotential"]["amount"].is_string(), "{c}");
        assert!(c["totalWeightedPotential"]["amount"].is_string(), "{c}");
    }
    count
}

dual_test!(
    board_and_page_statements_do_not_grow_with_page_size,
    |app| {
        let f = fixture(&app).await;
        let backend = format!("{:?}", app.backend);
        for with_totals in [false, true] {
            let label = if with_totals { "with totals" } else { "plain" };
            let (b5, b50) = (
                board(&app, &f, 5, with_totals).await,
                board(&app, &f, 50, with_totals).await,
            );
            let (p5, p50) = (
                page(&app, &f, 5, with_totals).await,
                page(&app, &f, 50, with_totals).await,
            );
            println!(
                "[{backend}] {label}: board n=5 -> {b5} statements, n=50 -> {b50}; \
             page n=5 -> {p5}, n=50 -> {p50}"
            );
            for (what, count) in [
                ("board n=5", b5),
                ("board n=50", b50),
                ("page n=5", p5),
                ("page n=50", p50),
            ] {
                // 0 would mean the statement counter is not wired up
                assert!(
                    count > 0 && count <= MAX_STATEMENTS,
                    "[{backend}] {label}: {what} ran {count} statements (max {MAX_STATEMENTS})"
                );
            }
            assert_eq!(
                b5, b50,
                "[{backend}] {label}: the board's statements grow with n"
            );
            assert_eq!(
                p5, p50,
                "[{backend}] {label}: the page's statements grow with n"
            );
        }
    }
);
