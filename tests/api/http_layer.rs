use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::dual_test;
use crate::helpers::TestApp;

const GQL_RESPONSE: &str = "application/graphql-response+json";

async fn post_raw(
    app: &TestApp,
    ct: Option<&str>,
    accept: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut r = app.client.post(app.url("/graphql")).body(body);
    if let Some(ct) = ct {
        r = r.header(CONTENT_TYPE, ct);
    }
    if let Some(a) = accept {
        r = r.header(ACCEPT, a);
    }
    r.send().await.unwrap()
}

fn ct(res: &reqwest::Response) -> String {
    res.headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

dual_test!(content_negotiation_and_status_codes, |app| {
    let q = r#"{"query":"{ __typename }"}"#;
    let res = post_raw(&app, Some("application/json"), None, q).await;
    assert_eq!(res.status(), 200);
    assert!(ct(&res).starts_with("application/json"));
    assert!(res.headers().get("x-request-id").is_some());

    let res = post_raw(
        &app,
        Some("application/json; charset=utf-8"),
        Some(GQL_RESPONSE),
        q,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(ct(&res).starts_with(GQL_RESPONSE));

    let res = post_raw(&app, Some("application/json"), Some("text/csv"), q).await;
    assert_eq!(res.status(), 406);

    // parse and validation errors: 400 without data under graphql-response+json ...
    for doc in [
        r#"{"query":"{"}"#,
        r#"{"query":"{ noSuchField }"}"#,
        r#"{"query":"query($id: ID!) { __typename }","variables":{"id":null}}"#,
    ] {
        let res = post_raw(&app, Some("application/json"), Some(GQL_RESPONSE), doc).await;
        assert_eq!(res.status(), 400, "{doc}");
        let v: Value = res.json().await.unwrap();
        assert!(v.get("data").is_none(), "{v}");
        assert!(
            v["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap()
                .starts_with("GRAPHQL_")
        );
        // ... and 200 under application/json
        let res = post_raw(
            &app,
            Some("application/json"),
            Some("application/json"),
            doc,
        )
        .await;
        assert_eq!(res.status(), 200, "{doc}");
        let v: Value = res.json().await.unwrap();
        assert!(v["errors"].is_array());
    }
    // a field error is still 200 with data under graphql-response+json
    let res = post_raw(
        &app,
        Some("application/json"),
        Some(GQL_RESPONSE),
        r#"{"query":"{ me { id } }"}"#,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v.get("data").is_some());
    assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // malformed bodies and parameters
    for body in [
        r#"{ "not json"#,
        "",
        "[]",
        r#"[{"query":"{ __typename }"}]"#,
        r#"{"qeury":"{ __typename }"}"#,
        r#"{"query":1}"#,
        r#"{"query":"{ __typename }","variables":"x"}"#,
        r#"{"query":"{ __typename }","operationName":false}"#,
    ] {
        let res = post_raw(&app, Some("application/json"), None, body).await;
        assert_eq!(res.status(), 400, "{body}");
    }
});

dual_test!(non_json_posts_never_execute, |app| {
    let mutation = r#"{"query":"mutation { signUp(input: {tenantName: \"Csrf\", name: \"x\", email: \"x@csrf.co\", password: \"long enough\"}) { accessToken } }"}"#;
    for ctype in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=latin1"),
        None,
    ] {
        let res = post_raw(&app, ctype, None, mutation).await;
        assert_eq!(res.status(), 415, "{ctype:?}");
    }
    let login = app.login("csrf", "x@csrf.co", "long enough").await;
    assert_eq!(login["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
});

dual_test!(oversized_bodies_are_refused, |app| {
    let big = format!(
        r#"{{"query":"{{ __typename }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(256 * 1024)
    );
    let res = post_raw(&app, Some("application/json"), None, big).await;
    assert_eq!(res.status(), 413);
    let fits = format!(
        r#"{{"query":"{{ __typename }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(200 * 1024)
    );
    assert_eq!(
        post_raw(&app, Some("application/json"), None, fits)
            .await
            .status(),
        200
    );
});

dual_test!(get_runs_queries_but_not_mutations, |app| {
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"]["__typename"], "Query");
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query A { __typename } query B { me { id } }"),
            ("operationName", "A"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { logout(refreshToken: \"x\") }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    // operationName picks the mutation out of a mixed document
    let res = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            (
                "query",
                "query A { __typename } mutation B { logout(refreshToken: \"x\") }",
            ),
            ("operationName", "B"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = app.client.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(res.status(), 405);
});

dual_test!(graphiql_is_served_to_browsers, |app| {
    let res = app
        .client
        .get(app.url("/graphql"))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(ct(&res).starts_with("text/html"));
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    // no CDN and no inline script: everything the page loads is ours
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let html = res.text().await.unwrap();
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/graphiql/"))
        .collect();
    assert_eq!(assets.len(), 5, "{html}");
    assert!(!html.contains("https://"), "{html}");
    let mut sizes = Vec::new();
    for a in &assets {
        let res = app.client.get(app.url(a)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{a}");
        let kind = if a.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(ct(&res).starts_with(kind), "{a}: {}", ct(&res));
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let body = res.bytes().await.unwrap();
        assert!(!body.is_empty());
        sizes.push(body.len());
    }
    assert!(sizes.iter().sum::<usize>() > 1_000_000, "{sizes:?}");
    let res = app
        .client
        .get(app.url("/graphiql/0.0.0/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // off: neither the page nor its assets
    let off = TestApp::spawn_with(app.backend, |s| s.graphiql = false)
        .await
        .unwrap();
    let res = off
        .client
        .get(off.url("/graphql"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);
    for a in &assets {
        let res = off.client.get(off.url(a)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{a}");
    }
});

dual_test!(query_limits_are_enforced, |app| {
    let mut deep = String::from("id");
    for _ in 0..7 {
        deep = format!("stages {{ pipeline {{ {deep} }} }}");
    }
    let deep = format!("{{ pipelines {{ {deep} }} }}");
    let v = app.gql(None, &deep, json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit"),
        "{v}"
    );
    let aliases: String = (0..16).map(|i| format!("a{i}: __typename ")).collect();
    let v = app.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases"),
        "{v}"
    );
    let ok: String = (0..15).map(|i| format!("a{i}: __typename ")).collect();
    let v = app.gql(None, &format!("{{ {ok} }}"), json!({})).await;
    assert!(v["errors"].is_null(), "{v}");
});

dual_test!(
    cors_preflights_pass_for_the_headers_common_clients_add,
    |app| {
        let preflight = |headers: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/graphql"))
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", headers)
                .send()
        };
        // what Apollo Client, OpenTelemetry and Sentry add to every request,
        // and a header the deployment listed in CORS_ALLOWED_HEADERS
        for headers in [
            "content-type, apollographql-client-name, apollographql-client-version",
            "traceparent, tracestate, baggage, sentry-trace, x-request-id",
            "authorization, idempotency-key",
            "authorization, x-tenant-hint",
        ] {
            let res = preflight(headers).await.unwrap();
            assert!(res.status().is_success(), "{headers}: {}", res.status());
            // browsers may cache the preflight for an hour
            assert_eq!(res.headers().get("access-control-max-age").unwrap(), "3600");
            let allowed = res
                .headers()
                .get("access-control-allow-headers")
                .unwrap()
                .to_str()
                .unwrap()
                .to_ascii_lowercase();
            for h in headers.split(", ") {
                assert!(allowed.contains(h), "{h} not in {allowed}");
            }
        }
        // the request id stays readable by the page
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("origin", "https://app.example.com")
            .json(&serde_json::json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        let exposed = res
            .headers()
            .get("access-control-expose-headers")
            .unwrap()
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(exposed.contains("x-request-id"), "{exposed}");
        // a header nobody listed is still refused
        let res = preflight("x-unknown-header").await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("access-control-allow-headers").is_none());
    }
);

dual_test!(cors_allows_only_listed_origins, |app| {
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    let evil = preflight("https://evil.example.net").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let res = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://evil.example.net")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
});

dual_test!(health_and_readiness, |app| {
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    if app.backend == Backend::Postgres {
        // with its database gone, the instance reports itself not ready
        use sea_orm::ConnectionTrait;
        let base = std::env::var("TEST_DATABASE_URL").unwrap();
        let name = app
            .database_url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let admin = sea_orm::Database::connect(base.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
        let res = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), 503);
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
});

dual_test!(internal_errors_leak_nothing, |app| {
    // break the storage under a running server: the answer is INTERNAL with no detail
    use sea_orm::ConnectionTrait;
    let s = app.sign_up("Leak Co", "ann@leak.co").await;
    let db = app.db().await;
    db.execute_unprepared("DROP TABLE login_throttles")
        .await
        .unwrap();
    let v = app.login(&s.slug, "ann@leak.co", "wrong password").await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "INTERNAL");
    assert_eq!(v["errors"][0]["message"], "internal error");
    assert!(!v.to_string().to_lowercase().contains("login_throttles"));
});
