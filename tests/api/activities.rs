use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::{TestApp, code, field};
use crate::opportunities::create as create_opportunity;
use crate::pipelines::sales_pipeline;

const FIELDS: &str = "id kind subject note done completedAt isOverdue dueAt startsAt endsAt opportunity { id } contact { id } assignee { id } createdBy { id }";

pub async fn create_activity(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(
        Some(token),
        &format!(
            "mutation($i: CreateActivityInput!) {{ createActivity(input: $i) {{ {FIELDS} }} }}"
        ),
        json!({ "i": input }),
    )
    .await
}

fn ts(d: Duration) -> String {
    (Utc::now() + d).to_rfc3339()
}

dual_test!(activity_kinds_follow_their_rules, |app| {
    let s = app.sign_up("Act Co", "ann@act.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let opp = create_opportunity(
        &app,
        &s.token,
        json!({ "title": "O", "stageId": stages[0], "potential": "1" }),
    )
    .await;
    let bad = [
        (json!({ "kind": "TASK", "subject": "t" }), "dueAt"),
        (
            json!({ "kind": "TASK", "subject": "t", "dueAt": ts(Duration::days(1)), "startsAt": ts(Duration::days(1)) }),
            "startsAt",
        ),
        (
            json!({ "kind": "TASK", "subject": "t", "dueAt": ts(Duration::days(1)), "endsAt": ts(Duration::days(1)) }),
            "endsAt",
        ),
        (json!({ "kind": "EVENT", "subject": "e" }), "startsAt"),
        (
            json!({ "kind": "EVENT", "subject": "e", "startsAt": ts(Duration::days(1)), "dueAt": ts(Duration::days(1)) }),
            "dueAt",
        ),
        (
            json!({ "kind": "EVENT", "subject": "e", "startsAt": ts(Duration::days(2)), "endsAt": ts(Duration::days(1)) }),
            "endsAt",
        ),
        (
            json!({ "kind": "CALL", "subject": "c", "dueAt": ts(Duration::days(1)) }),
            "dueAt",
        ),
        (
            json!({ "kind": "NOTE", "subject": "n", "startsAt": ts(Duration::days(1)) }),
            "startsAt",
        ),
        (json!({ "kind": "NOTE", "subject": "" }), "subject"),
    ];
    for (input, f) in bad {
        let v = create_activity(&app, &s.token, input.clone()).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{input}: {v}");
        assert_eq!(field(&v), f, "{v}");
    }
    for (f, id) in [
        ("opportunityId", "00000000-0000-0000-0000-000000000000"),
        ("contactId", "bad"),
        ("assigneeId", "00000000-0000-0000-0000-000000000000"),
    ] {
        let mut input = json!({ "kind": "NOTE", "subject": "n" });
        input[f] = json!(id);
        assert_eq!(
            code(&create_activity(&app, &s.token, input).await),
            "NOT_FOUND",
            "{f}"
        );
    }
    let v = create_activity(&app, &s.token, json!({ "kind": "EVENT", "subject": "Demo", "opportunityId": opp, "startsAt": ts(Duration::days(2)) })).await;
    let ev = &v["data"]["createActivity"];
    let start = chrono::DateTime::parse_from_rfc3339(ev["startsAt"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(ev["endsAt"].as_str().unwrap()).unwrap();
    assert_eq!(end - start, Duration::hours(1));
    assert_eq!(ev["done"], false);
    assert_eq!(ev["assignee"]["id"], s.user_id.as_str());
    let v = create_activity(&app, &s.token, json!({ "kind": "CALL", "subject": "Called", "note": "They want a demo", "opportunityId": opp })).await;
    assert_eq!(v["data"]["createActivity"]["done"], true);
    assert!(v["data"]["createActivity"]["completedAt"].is_string());
    let v = create_activity(
        &app,
        &s.token,
        json!({ "kind": "NOTE", "subject": "Draft", "done": false }),
    )
    .await;
    assert_eq!(v["data"]["createActivity"]["done"], false);
    // overdue tasks, completion and reopening
    let v = create_activity(&app, &s.token, json!({ "kind": "TASK", "subject": "Late", "opportunityId": opp, "dueAt": ts(-Duration::hours(1)) })).await;
    let task = v["data"]["createActivity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["data"]["createActivity"]["isOverdue"], true);
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { completeActivity(id: $id) { done completedAt isOverdue } }",
            json!({ "id": task }),
        )
        .await;
    assert_eq!(v["data"]["completeActivity"]["done"], true);
    assert_eq!(v["data"]["completeActivity"]["isOverdue"], false);
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { reopenActivity(id: $id) { done completedAt isOverdue } }",
            json!({ "id": task }),
        )
        .await;
    assert_eq!(
        v["data"]["reopenActivity"],
        json!({ "done": false, "completedAt": null, "isOverdue": true })
    );
    // updates are checked against the kind
    let upd = "mutation($id: ID!, $i: UpdateActivityInput!) { updateActivity(id: $id, input: $i) { subject dueAt } }";
    let v = app
        .gql(
            Some(&s.token),
            upd,
            json!({ "id": task, "i": { "startsAt": ts(Duration::days(1)) } }),
        )
        .await;
    assert_eq!(field(&v), "startsAt");
    let v = app
        .gql(
            Some(&s.token),
            upd,
            json!({ "id": task, "i": { "subject": "Renamed", "dueAt": ts(Duration::days(3)) } }),
        )
        .await;
    assert_eq!(v["data"]["updateActivity"]["subject"], "Renamed");
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { deleteActivity(id: $id) }",
            json!({ "id": task }),
        )
        .await;
    assert_eq!(v["data"]["deleteActivity"], true);
    assert_eq!(
        code(
            &app.gql(
                Some(&s.token),
                "query($id: ID!) { activity(id: $id) { id } }",
                json!({ "id": task })
            )
            .await
        ),
        "NOT_FOUND"
    );
});

dual_test!(timeline_next_activity_filters_and_rotting, |app| {
    let s = app.sign_up("Time Co", "ann@time.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    app.gql(
        Some(&s.token),
        "mutation($id: ID!) { updateStage(id: $id, input: { rottenAfterDays: 2 }) { id } }",
        json!({ "id": stages[0] }),
    )
    .await;
    let opp = create_opportunity(
        &app,
        &s.token,
        json!({ "title": "O", "stageId": stages[0], "potential": "1" }),
    )
    .await;
    let mk = |input: Value| create_activity(&app, &s.token, input);
    mk(json!({ "kind": "TASK", "subject": "task in 3d", "opportunityId": opp, "dueAt": ts(Duration::days(3)) })).await;
    mk(json!({ "kind": "EVENT", "subject": "event in 1d", "opportunityId": opp, "startsAt": ts(Duration::days(1)) })).await;
    mk(json!({ "kind": "EVENT", "subject": "past event", "opportunityId": opp, "startsAt": ts(-Duration::days(1)) })).await;
    mk(json!({ "kind": "CALL", "subject": "call 1", "opportunityId": opp })).await;
    mk(json!({ "kind": "NOTE", "subject": "note 2", "opportunityId": opp })).await;
    let q = "query($id: ID!, $k: [ActivityKind!], $n: Int, $a: String) { opportunity(id: $id) { nextActivity { subject } activities(kinds: $k, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor } nodes { subject } } } }";
    let v = app
        .gql(Some(&s.token), q, json!({ "id": opp, "n": 10 }))
        .await;
    let o = &v["data"]["opportunity"];
    // the past event is still open, so it comes first (soonest), then upcoming ones
    assert_eq!(o["nextActivity"]["subject"], "event in 1d");
    let subjects: Vec<&str> = o["activities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "past event",
            "event in 1d",
            "task in 3d",
            "note 2",
            "call 1"
        ]
    );
    // paging through the timeline gives the same order
    let mut paged = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = app
            .gql(Some(&s.token), q, json!({ "id": opp, "n": 2, "a": after }))
            .await;
        let acts = &v["data"]["opportunity"]["activities"];
        paged.extend(
            acts["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["subject"].as_str().unwrap().to_string()),
        );
        if acts["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = acts["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(paged, subjects);
    let v = app
        .gql(
            Some(&s.token),
            q,
            json!({ "id": opp, "k": ["CALL", "NOTE"] }),
        )
        .await;
    assert_eq!(v["data"]["opportunity"]["activities"]["totalCount"], 2);
    // the global list and its filters
    let list = "query($f: ActivityFilter) { activities(filter: $f, first: 50) { totalCount nodes { subject } } }";
    let count = |v: &Value| {
        v["data"]["activities"]["totalCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("{v}"))
    };
    assert_eq!(
        count(
            &app.gql(
                Some(&s.token),
                list,
                json!({ "f": { "opportunityId": opp } })
            )
            .await
        ),
        5
    );
    assert_eq!(
        count(
            &app.gql(Some(&s.token), list, json!({ "f": { "done": true } }))
                .await
        ),
        2
    );
    assert_eq!(
        count(
            &app.gql(Some(&s.token), list, json!({ "f": { "kinds": ["EVENT"] } }))
                .await
        ),
        2
    );
    assert_eq!(
        count(
            &app.gql(
                Some(&s.token),
                list,
                json!({ "f": { "from": ts(Duration::hours(1)), "to": ts(Duration::days(4)) } })
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(
            &app.gql(
                Some(&s.token),
                list,
                json!({ "f": { "assigneeId": s.user_id } })
            )
            .await
        ),
        5
    );
    assert_eq!(
        count(
            &app.gql(Some(&s.token), list, json!({ "f": { "overdue": true } }))
                .await
        ),
        0
    );
    // activity is a sign of life for rotting
    use sea_orm::{EntityTrait, sea_query::Expr};
    let db = app.db().await;
    let old = Utc::now() - Duration::days(5);
    entity::opportunity::Entity::update_many()
        .col_expr(
            entity::opportunity::Column::StageEnteredAt,
            Expr::value(old),
        )
        .col_expr(
            entity::opportunity::Column::LastActivityAt,
            Expr::value(Some(old)),
        )
        .exec(&db)
        .await
        .unwrap();
    let rot = "query($id: ID!) { opportunity(id: $id) { isRotting } }";
    assert_eq!(
        app.gql(Some(&s.token), rot, json!({ "id": opp })).await["data"]["opportunity"]["isRotting"],
        true
    );
    mk(json!({ "kind": "NOTE", "subject": "still alive", "opportunityId": opp })).await;
    assert_eq!(
        app.gql(Some(&s.token), rot, json!({ "id": opp })).await["data"]["opportunity"]["isRotting"],
        false
    );
});

dual_test!(activity_roles, |app| {
    let admin = app.sign_up("ARole Co", "ann@arole.co").await;
    let (_, stages) = sales_pipeline(&app, &admin.token).await;
    let sam = app.create_user(&admin, "sam@arole.co", "SALES").await;
    let sue = app.create_user(&admin, "sue@arole.co", "SALES").await;
    let admins = create_opportunity(
        &app,
        &admin.token,
        json!({ "title": "A", "stageId": stages[0], "potential": "1" }),
    )
    .await;
    let sams = create_opportunity(
        &app,
        &sam.token,
        json!({ "title": "S", "stageId": stages[0], "potential": "1" }),
    )
    .await;
    let v = create_activity(
        &app,
        &sam.token,
        json!({ "kind": "NOTE", "subject": "x", "opportunityId": admins }),
    )
    .await;
    assert_eq!(code(&v), "FORBIDDEN");
    let v = create_activity(
        &app,
        &sam.token,
        json!({ "kind": "NOTE", "subject": "mine", "opportunityId": sams }),
    )
    .await;
    let mine = v["data"]["createActivity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = create_activity(
        &app,
        &admin.token,
        json!({ "kind": "NOTE", "subject": "admin's", "opportunityId": sams }),
    )
    .await;
    let admins_note = v["data"]["createActivity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let upd = "mutation($id: ID!) { updateActivity(id: $id, input: { subject: \"edited\" }) { subject } }";
    assert_eq!(
        code(&app.gql(Some(&sue.token), upd, json!({ "id": mine })).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &app.gql(Some(&sam.token), upd, json!({ "id": admins_note }))
                .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &app.gql(
                Some(&sue.token),
                "mutation($id: ID!) { deleteActivity(id: $id) }",
                json!({ "id": mine })
            )
            .await
        ),
        "FORBIDDEN"
    );
    assert!(app.gql(Some(&sam.token), upd, json!({ "id": mine })).await["errors"].is_null());
    assert!(
        app.gql(Some(&admin.token), upd, json!({ "id": mine }))
            .await["errors"]
            .is_null()
    );
    // everyone reads
    let v = app
        .gql(Some(&sue.token), "{ activities { totalCount } }", json!({}))
        .await;
    assert_eq!(v["data"]["activities"]["totalCount"], 2);
});

const DOC: &str = "id kind title reference amount { amount currency } status url opportunity { id potential { amount currency } version }";

dual_test!(documents_statuses_urls_and_potential, |app| {
    let s = app.sign_up("Doc Co", "ann@doc.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let opp = create_opportunity(
        &app,
        &s.token,
        json!({ "title": "O", "stageId": stages[0], "potential": "100" }),
    )
    .await;
    let create =
        format!("mutation($i: DocumentInput!) {{ createDocument(input: $i) {{ {DOC} }} }}");
    for (input, f) in [
        (
            json!({ "opportunityId": opp, "kind": "QUOTE", "title": "Q", "url": "javascript:alert(1)" }),
            "url",
        ),
        (
            json!({ "opportunityId": opp, "kind": "QUOTE", "title": "" }),
            "title",
        ),
        (
            json!({ "opportunityId": opp, "kind": "QUOTE", "title": "Q", "amount": "-5" }),
            "amount",
        ),
        (
            json!({ "opportunityId": opp, "kind": "QUOTE", "title": "Q", "useAsPotential": true }),
            "amount",
        ),
        (
            json!({ "opportunityId": opp, "kind": "QUOTE", "title": "Q", "amount": "5", "currency": "JPY" }),
            "currency",
        ),
    ] {
        let v = app
            .gql(Some(&s.token), &create, json!({ "i": input }))
            .await;
        assert_eq!(field(&v), f, "{v}");
    }
    let v = app.gql(Some(&s.token), &create, json!({ "i": { "opportunityId": "00000000-0000-0000-0000-000000000000", "kind": "QUOTE", "title": "Q" } })).await;
    assert_eq!(code(&v), "NOT_FOUND");
    let v = app
        .gql(Some(&s.token), &create, json!({ "i": { "opportunityId": opp, "kind": "QUOTE", "title": "Quote 1", "reference": "Q-2026-001", "amount": "1234.565", "url": "https://docs.example.com/q1.pdf", "useAsPotential": true } }))
        .await;
    let d = &v["data"]["createDocument"];
    assert_eq!(d["status"], "DRAFT");
    assert_eq!(
        d["amount"],
        json!({ "amount": "1234.57", "currency": "EUR" })
    );
    assert_eq!(
        d["opportunity"]["potential"],
        json!({ "amount": "1234.57", "currency": "EUR" })
    );
    assert_eq!(d["opportunity"]["version"], 2);
    let doc = d["id"].as_str().unwrap().to_string();
    let h = app.gql(Some(&s.token), "query($id: ID!) { opportunity(id: $id) { documents { id } history { nodes { field from to } } } }", json!({ "id": opp })).await;
    assert_eq!(h["data"]["opportunity"]["documents"][0]["id"], doc.as_str());
    assert_eq!(
        h["data"]["opportunity"]["history"]["nodes"][0],
        json!({ "field": "potential", "from": "100.00", "to": "1234.57" })
    );
    let upd = "mutation($id: ID!, $s: DocumentStatus!) { updateDocument(id: $id, input: { status: $s }) { status } }";
    assert_eq!(
        field(
            &app.gql(Some(&s.token), upd, json!({ "id": doc, "s": "ACCEPTED" }))
                .await
        ),
        "status"
    );
    assert_eq!(
        app.gql(Some(&s.token), upd, json!({ "id": doc, "s": "SENT" }))
            .await["data"]["updateDocument"]["status"],
        "SENT"
    );
    assert_eq!(
        app.gql(Some(&s.token), upd, json!({ "id": doc, "s": "ACCEPTED" }))
            .await["data"]["updateDocument"]["status"],
        "ACCEPTED"
    );
    assert_eq!(
        field(
            &app.gql(Some(&s.token), upd, json!({ "id": doc, "s": "DECLINED" }))
                .await
        ),
        "status"
    );
    assert_eq!(
        field(
            &app.gql(Some(&s.token), upd, json!({ "id": doc, "s": "DRAFT" }))
                .await
        ),
        "status"
    );
    let v = app
        .gql(
            Some(&s.token),
            "mutation($id: ID!) { deleteDocument(id: $id) }",
            json!({ "id": doc }),
        )
        .await;
    assert_eq!(v["data"]["deleteDocument"], true);
    // SALES cannot touch documents of others' opportunities
    let sam = app.create_user(&s, "sam@doc.co", "SALES").await;
    let v = app
        .gql(
            Some(&sam.token),
            &create,
            json!({ "i": { "opportunityId": opp, "kind": "QUOTE", "title": "Q" } }),
        )
        .await;
    assert_eq!(code(&v), "FORBIDDEN");
});

dual_test!(
    statement_count_of_a_page_with_activities_does_not_grow,
    |app| {
        let s = app.sign_up("Count Co", "ann@count.co").await;
        let (_, stages) = sales_pipeline(&app, &s.token).await;
        let mut ids = Vec::new();
        for chunk in 0..6 {
            let calls = (0..10).map(|i| create_opportunity(&app, &s.token, json!({ "title": format!("O{chunk}-{i}"), "stageId": stages[i % 3], "potential": "10" })));
            ids.extend(futures_util::future::join_all(calls).await);
        }
        for (i, id) in ids.iter().enumerate() {
            create_activity(
                &app,
                &s.token,
                json!({ "kind": "NOTE", "subject": format!("n{i}"), "opportunityId": id }),
            )
            .await;
            create_activity(&app, &s.token, json!({ "kind": "TASK", "subject": format!("t{i}"), "opportunityId": id, "dueAt": ts(Duration::days(1)) })).await;
        }
        let q = "query($n: Int) { opportunities(first: $n) { nodes { id owner { name } activities(first: 5) { nodes { subject assignee { name } } } nextActivity { subject } documents { id } } } }";
        let (small, n5) = app.gql_counted(Some(&s.token), q, json!({ "n": 5 })).await;
        let (big, n50) = app.gql_counted(Some(&s.token), q, json!({ "n": 50 })).await;
        assert_eq!(
            small["data"]["opportunities"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            big["data"]["opportunities"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
        assert_eq!(
            big["data"]["opportunities"]["nodes"][0]["activities"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        println!("statements for a page with activities: first 5 → {n5}, first 50 → {n50}");
        assert_eq!(n5, n50);
        assert!(n50 <= 9, "{n50}");
    }
);

dual_test!(calendar_feed, |app| {
    let s = app.sign_up("Cal Co", "ann@cal.co").await;
    let (_, stages) = sales_pipeline(&app, &s.token).await;
    let opp = create_opportunity(
        &app,
        &s.token,
        json!({ "title": "Big, deal; with \\ chars", "stageId": stages[0], "potential": "1" }),
    )
    .await;
    let v = app
        .gql(Some(&s.token), "{ calendarFeedUrl }", json!({}))
        .await;
    assert_eq!(v["data"]["calendarFeedUrl"], Value::Null);
    create_activity(&app, &s.token, json!({ "kind": "EVENT", "subject": "Demo meeting with a rather long subject line that needs folding in the feed", "opportunityId": opp, "startsAt": ts(Duration::days(2)) })).await;
    create_activity(&app, &s.token, json!({ "kind": "TASK", "subject": "Send quote", "opportunityId": opp, "dueAt": ts(Duration::days(1)) })).await;
    create_activity(
        &app,
        &s.token,
        json!({ "kind": "TASK", "subject": "Far future", "dueAt": ts(Duration::days(400)) }),
    )
    .await;
    create_activity(
        &app,
        &s.token,
        json!({ "kind": "CALL", "subject": "Logged call", "opportunityId": opp }),
    )
    .await;
    let v = app
        .gql(Some(&s.token), "mutation { rotateCalendarFeed }", json!({}))
        .await;
    let url = v["data"]["rotateCalendarFeed"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(Some(&s.token), "{ calendarFeedUrl }", json!({}))
        .await;
    assert_eq!(v["data"]["calendarFeedUrl"], url.as_str());
    let path = url.trim_start_matches("http://127.0.0.1");
    let res = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let body = res.text().await.unwrap();
    // an independent parser accepts it
    let cal: icalendar::Calendar = body.parse().unwrap_or_else(|e| panic!("{e}\n{body}"));
    let mut events = 0;
    let mut todos = 0;
    for c in &cal.components {
        use icalendar::Component;
        match c {
            icalendar::CalendarComponent::Event(e) => {
                events += 1;
                assert!(
                    e.get_summary()
                        .unwrap()
                        .contains("OPP-1 Big, deal; with \\ chars"),
                    "{:?}",
                    e.get_summary()
                );
                assert!(e.property_value("URL").unwrap().contains("/graphql?query="));
            }
            icalendar::CalendarComponent::Todo(t) => {
                todos += 1;
                assert!(t.get_summary().unwrap().starts_with("Send quote"));
                assert!(t.property_value("DUE").is_some());
            }
            _ => {}
        }
    }
    assert_eq!((events, todos), (1, 1), "{body}");
    assert!(body.lines().all(|l| l.len() <= 76), "{body}");
    // rotation and disabling kill the old URL
    let v = app
        .gql(Some(&s.token), "mutation { rotateCalendarFeed }", json!({}))
        .await;
    let new_url = v["data"]["rotateCalendarFeed"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_url, url);
    assert_eq!(
        app.client.get(app.url(path)).send().await.unwrap().status(),
        404
    );
    app.gql(
        Some(&s.token),
        "mutation { disableCalendarFeed }",
        json!({}),
    )
    .await;
    let new_path = new_url.trim_start_matches("http://127.0.0.1");
    assert_eq!(
        app.client
            .get(app.url(new_path))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.client
            .get(app.url("/calendar/unknown.ics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
});
