use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::accounts::{ME, REFRESH};
use crate::dual_test;
use crate::helpers::{JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, code};

/// The session id a real access token was issued to.
pub fn sid_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["sid"].as_str().unwrap().to_string()
}

fn claims(sub: &str, tid: &str, sid: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": sub, "tid": tid, "sid": sid, "role": "ADMIN", "iss": JWT_ISSUER, "aud": JWT_AUDIENCE,
        "exp": now + 600, "iat": now, "nbf": now, "typ": "access"
    })
}

fn sign(claims: &Value, secret: &str, alg: Algorithm) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(claims)
    )
}

dual_test!(every_bad_token_is_unauthenticated, |app| {
    let s = app.sign_up("Token Co", "ann@token.co").await;
    let good = claims(&s.user_id, &s.tenant_id, &sid_of(&s.token));
    // the control: a token we forge correctly is accepted
    let ok = app
        .gql(
            Some(&sign(&good, JWT_SECRET, Algorithm::HS256)),
            "{ me { email } }",
            json!({}),
        )
        .await;
    assert_eq!(ok["data"]["me"]["email"], "ann@token.co");

    let now = chrono::Utc::now().timestamp();
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let bad_tokens = vec![
        (
            "expired",
            sign(&with("exp", json!(now - 120)), JWT_SECRET, Algorithm::HS256),
        ),
        (
            "not yet valid",
            sign(&with("nbf", json!(now + 600)), JWT_SECRET, Algorithm::HS256),
        ),
        (
            "forged",
            sign(
                &good,
                "another-secret-another-secret-0123456789",
                Algorithm::HS256,
            ),
        ),
        ("alg none", unsigned(&good)),
        ("other algorithm", sign(&good, JWT_SECRET, Algorithm::HS512)),
        (
            "wrong issuer",
            sign(&with("iss", json!("evil")), JWT_SECRET, Algorithm::HS256),
        ),
        (
            "wrong audience",
            sign(
                &with("aud", json!("other-api")),
                JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        (
            "refresh type",
            sign(&with("typ", json!("refresh")), JWT_SECRET, Algorithm::HS256),
        ),
        ("no exp", sign(&no_exp, JWT_SECRET, Algorithm::HS256)),
        (
            "unknown user",
            sign(
                &with("sub", json!(uuid::Uuid::new_v4())),
                JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, token) in bad_tokens {
        for q in [
            "{ me { email } }",
            "{ tenant { name } }",
            "{ users { email } }",
        ] {
            let v = app.gql(Some(&token), q, json!({})).await;
            assert_eq!(code(&v), "UNAUTHENTICATED", "{what}: {v}");
        }
        let m = app
            .gql(
                Some(&token),
                "mutation { updateTenant(input: { name: \"x\" }) { name } }",
                json!({}),
            )
            .await;
        assert_eq!(code(&m), "UNAUTHENTICATED", "{what}: {m}");
    }
    // no token at all
    assert_eq!(
        code(&app.gql(None, "{ me { email } }", json!({})).await),
        "UNAUTHENTICATED"
    );
    // a non-Bearer scheme is no token
    let res = app
        .client
        .post(app.url("/graphql"))
        .header(
            "authorization",
            format!("Basic {}", sign(&good, JWT_SECRET, Algorithm::HS256)),
        )
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "UNAUTHENTICATED");
    // a bad token does not stop the operations that need none
    let login = app
        .login(&s.slug, "ann@token.co", crate::helpers::PASSWORD)
        .await;
    assert!(login["errors"].is_null());
});

dual_test!(tokens_carry_the_required_claims, |app| {
    let s = app.sign_up("Claims Co", "ann@claims.co").await;
    let payload = s.token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let c: Value = serde_json::from_slice(&bytes).unwrap();
    for k in ["sub", "tid", "role", "iss", "aud", "exp", "iat", "typ"] {
        assert!(!c[k].is_null(), "missing claim {k}: {c}");
    }
    assert_eq!(c["typ"], "access");
    assert_eq!(c["sub"], s.user_id.as_str());
    assert_eq!(c["tid"], s.tenant_id.as_str());
    let ttl = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert_eq!(ttl, 900);
    let header = s.token.split('.').next().unwrap();
    let h: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(h["alg"], "HS256");
});

dual_test!(two_tabs_refreshing_at_once_both_stay_signed_in, |app| {
    let s = app.sign_up("Tabs Co", "ann@tabs.co").await;
    // two tabs present the same refresh token at the same moment
    let (a, b) = futures_util::future::join(
        app.gql(None, REFRESH, json!({ "t": s.refresh })),
        app.gql(None, REFRESH, json!({ "t": s.refresh })),
    )
    .await;
    let mut refreshes = Vec::new();
    for v in [&a, &b] {
        assert!(v["errors"].is_null(), "both tabs refresh: {v}");
        let access = v["data"]["refreshSession"]["accessToken"].as_str().unwrap();
        let me = app.gql(Some(access), ME, json!({})).await;
        assert_eq!(me["data"]["me"]["email"], "ann@tabs.co", "{me}");
        refreshes.push(
            v["data"]["refreshSession"]["refreshToken"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_ne!(refreshes[0], refreshes[1]);
    // every returned refresh token rotates on its own
    for r in &refreshes {
        let v = app.gql(None, REFRESH, json!({ "t": r })).await;
        assert!(v["errors"].is_null(), "{v}");
    }
    // logging out ends the whole family, both tabs' tokens included
    let q = "mutation($t: String!) { logout(refreshToken: $t) }";
    let v = app.gql(None, q, json!({ "t": s.refresh })).await;
    assert_eq!(v["data"]["logout"], true, "{v}");
    let v = app.gql(None, REFRESH, json!({ "t": s.refresh })).await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
});
