use serde_json::json;

use crate::dual_test;
use crate::helpers::{PASSWORD, SIGN_UP, code, field};

pub const ME: &str = "{ me { id email name role active } }";

dual_test!(sign_up_creates_tenant_and_admin, |app| {
    let v = app
        .gql(
            None,
            SIGN_UP,
            json!({ "input": {
                "tenantName": "Acme & Söhne GmbH", "name": "Ann Admin",
                "email": " Ann@Acme.COM ", "password": PASSWORD
            }}),
        )
        .await;
    let p = &v["data"]["signUp"];
    assert_eq!(p["tenant"]["slug"], "acme-sohne-gmbh");
    assert_eq!(p["tenant"]["currency"], "EUR");
    assert_eq!(p["tenant"]["timezone"], "UTC");
    assert_eq!(p["user"]["email"], "ann@acme.com");
    assert_eq!(p["user"]["role"], "ADMIN");
    assert!(p["refreshToken"].as_str().unwrap().len() >= 40);
    let token = p["accessToken"].as_str().unwrap();
    let me = app.gql(Some(token), ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "ann@acme.com");
    let t = app
        .gql(
            Some(token),
            "{ tenant { name slug } users { email role } }",
            json!({}),
        )
        .await;
    assert_eq!(t["data"]["tenant"]["name"], "Acme & Söhne GmbH");
    assert_eq!(t["data"]["users"].as_array().unwrap().len(), 1);

    // a second tenant with the same name gets the next free slug
    let again = app.sign_up("Acme & Söhne GmbH", "bob@acme.com").await;
    assert_eq!(again.slug, "acme-sohne-gmbh-2");
});

dual_test!(sign_up_validates_every_field, |app| {
    let base = json!({
        "tenantName": "Valid", "name": "Ann", "email": "ann@valid.com", "password": PASSWORD,
        "currency": "USD", "timezone": "Europe/Paris", "tenantSlug": "valid-co"
    });
    let cases = [
        ("currency", json!("EUX")),
        ("timezone", json!("Mars/Olympus")),
        ("email", json!("not-an-email")),
        ("password", json!("short")),
        ("password", json!("x".repeat(129))),
        ("tenantSlug", json!("-bad-")),
        ("tenantName", json!("   ")),
        ("name", json!("")),
    ];
    for (f, value) in cases {
        let mut input = base.clone();
        input[f] = value;
        let v = app.gql(None, SIGN_UP, json!({ "input": input })).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{f}: {v}");
        assert_eq!(field(&v), f, "{v}");
    }
    let ok = app.gql(None, SIGN_UP, json!({ "input": base })).await;
    assert_eq!(ok["data"]["signUp"]["tenant"]["timezone"], "Europe/Paris");
    assert_eq!(ok["data"]["signUp"]["tenant"]["currency"], "USD");
    // an explicit slug that is taken is refused, and nothing else was created
    let mut dup = base.clone();
    dup["email"] = json!("other@valid.com");
    let v = app.gql(None, SIGN_UP, json!({ "input": dup })).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert_eq!(field(&v), "tenantSlug");
    let login = app.login("valid-co", "other@valid.com", PASSWORD).await;
    assert_eq!(code(&login), "UNAUTHENTICATED");
});

dual_test!(
    login_is_case_insensitive_and_hides_which_part_was_wrong,
    |app| {
        let s = app.sign_up("Login Co", "ann@login.co").await;
        let ok = app
            .login(&s.slug.to_uppercase(), "ANN@Login.Co", PASSWORD)
            .await;
        assert_eq!(ok["data"]["login"]["user"]["email"], "ann@login.co");
        let wrong_pw = app.login(&s.slug, "ann@login.co", "wrong password").await;
        let no_user = app.login(&s.slug, "nobody@login.co", PASSWORD).await;
        let no_tenant = app.login("no-such-tenant", "ann@login.co", PASSWORD).await;
        for v in [&wrong_pw, &no_user, &no_tenant] {
            assert_eq!(code(v), "UNAUTHENTICATED");
            assert_eq!(v["errors"][0]["message"], wrong_pw["errors"][0]["message"]);
        }
        // over-long passwords never reach the hasher
        let long = app.login(&s.slug, "ann@login.co", &"x".repeat(129)).await;
        assert_eq!(code(&long), "BAD_USER_INPUT");
    }
);

dual_test!(login_is_throttled_after_five_failures, |app| {
    let s = app.sign_up("Throttle Co", "ann@throttle.co").await;
    for _ in 0..5 {
        let v = app
            .login(&s.slug, "ann@throttle.co", "wrong password")
            .await;
        assert_eq!(code(&v), "UNAUTHENTICATED");
    }
    // even the right password is refused while the window lasts
    let v = app.login(&s.slug, "ann@throttle.co", PASSWORD).await;
    assert_eq!(code(&v), "RATE_LIMITED", "{v}");
    assert!(
        v["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_i64()
            .unwrap()
            > 0
    );
    // unknown emails are throttled the same way, other emails are not
    for _ in 0..5 {
        app.login(&s.slug, "ghost@throttle.co", "wrong password")
            .await;
    }
    let ghost = app
        .login(&s.slug, "ghost@throttle.co", "wrong password")
        .await;
    assert_eq!(code(&ghost), "RATE_LIMITED");
    // once the window has passed, logging in works again
    use sea_orm::ConnectionTrait;
    let db = app.db().await;
    db.execute_unprepared("UPDATE login_throttles SET window_start = window_start - 16 * 60")
        .await
        .unwrap();
    let ok = app.login(&s.slug, "ann@throttle.co", PASSWORD).await;
    assert!(ok["errors"].is_null(), "{ok}");
});

pub const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { email } tenant { slug } } }";

dual_test!(refresh_rotates_and_reuse_revokes_the_family, |app| {
    // reuse after the grace window (none here) revokes the family
    let app = TestApp::spawn_with(app.backend, |s| {
        s.refresh_reuse_grace = std::time::Duration::ZERO;
    })
    .await
    .unwrap();
    let s = app.sign_up("Refresh Co", "ann@refresh.co").await;
    let first = app.gql(None, REFRESH, json!({ "t": s.refresh })).await;
    let r1 = first["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(r1, s.refresh);
    let access = first["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap();
    assert_eq!(
        app.gql(Some(access), ME, json!({})).await["data"]["me"]["email"],
        "ann@refresh.co"
    );
    // r1 rotates once more fine
    let second = app.gql(None, REFRESH, json!({ "t": r1 })).await;
    let r2 = second["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    // replaying the original token fails and kills the whole family...
    let replay = app.gql(None, REFRESH, json!({ "t": s.refresh })).await;
    assert_eq!(code(&replay), "UNAUTHENTICATED");
    assert!(replay["data"].is_null());
    // ...so the newest token of the family no longer works either
    let after = app.gql(None, REFRESH, json!({ "t": r2 })).await;
    assert_eq!(code(&after), "UNAUTHENTICATED");
    // an unrelated session of the same user is untouched
    let other = app.login(&s.slug, "ann@refresh.co", PASSWORD).await;
    let other_refresh = other["data"]["login"]["refreshToken"].as_str().unwrap();
    let ok = app.gql(None, REFRESH, json!({ "t": other_refresh })).await;
    assert!(ok["errors"].is_null(), "{ok}");
    // garbage
    let bad = app.gql(None, REFRESH, json!({ "t": "nope" })).await;
    assert_eq!(code(&bad), "UNAUTHENTICATED");
});

dual_test!(concurrent_refreshes_let_at_most_one_through, |app| {
    let app = TestApp::spawn_with(app.backend, |s| {
        s.refresh_reuse_grace = std::time::Duration::ZERO;
    })
    .await
    .unwrap();
    let s = app.sign_up("Race Co", "ann@race.co").await;
    let calls = (0..6).map(|_| app.gql(None, REFRESH, json!({ "t": s.refresh })));
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|v| v["errors"].is_null()).count();
    assert!(ok <= 1, "{ok} refreshes succeeded: {results:?}");
    for v in results.iter().filter(|v| !v["errors"].is_null()) {
        assert_eq!(code(v), "UNAUTHENTICATED");
    }
});

dual_test!(logout_revokes_the_session, |app| {
    let s = app.sign_up("Logout Co", "ann@logout.co").await;
    let q = "mutation($t: String!) { logout(refreshToken: $t) }";
    // without an access token, the refresh token alone is the proof
    let anon = app.gql(None, q, json!({ "t": "unknown" })).await;
    assert_eq!(anon["data"]["logout"], false, "{anon}");
    let tab = app.login(&s.slug, "ann@logout.co", PASSWORD).await;
    let tab_refresh = tab["data"]["login"]["refreshToken"].as_str().unwrap();
    let anon = app.gql(None, q, json!({ "t": tab_refresh })).await;
    assert_eq!(anon["data"]["logout"], true, "{anon}");
    let r = app.gql(None, REFRESH, json!({ "t": tab_refresh })).await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    let unknown = app.gql(Some(&s.token), q, json!({ "t": "unknown" })).await;
    assert_eq!(unknown["data"]["logout"], false);
    // another device of the same user keeps its session
    let other = app.login(&s.slug, "ann@logout.co", PASSWORD).await;
    let other_token = other["data"]["login"]["accessToken"].as_str().unwrap();
    let v = app.gql(Some(&s.token), q, json!({ "t": s.refresh })).await;
    assert_eq!(v["data"]["logout"], true);
    let r = app.gql(None, REFRESH, json!({ "t": s.refresh })).await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    // the access token of the ended session dies with it, at once
    let me = app.gql(Some(&s.token), "{ me { id } }", json!({})).await;
    assert_eq!(code(&me), "UNAUTHENTICATED", "{me}");
    let me = app.gql(Some(other_token), "{ me { id } }", json!({})).await;
    assert!(me["errors"].is_null(), "{me}");
});

dual_test!(
    change_password_checks_the_current_one_and_ends_sessions,
    |app| {
        let s = app.sign_up("Pw Co", "ann@pw.co").await;
        let q = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
        let wrong = app
            .gql(
                Some(&s.token),
                q,
                json!({ "c": "not it at all", "n": "a new password" }),
            )
            .await;
        assert_eq!(code(&wrong), "BAD_USER_INPUT");
        assert_eq!(field(&wrong), "currentPassword");
        let short = app
            .gql(Some(&s.token), q, json!({ "c": PASSWORD, "n": "short" }))
            .await;
        assert_eq!(field(&short), "newPassword");
        let ok = app
            .gql(
                Some(&s.token),
                q,
                json!({ "c": PASSWORD, "n": "a new password" }),
            )
            .await;
        assert_eq!(ok["data"]["changePassword"], true);
        assert_eq!(
            code(&app.login(&s.slug, "ann@pw.co", PASSWORD).await),
            "UNAUTHENTICATED"
        );
        assert!(app.login(&s.slug, "ann@pw.co", "a new password").await["errors"].is_null());
        let r = app.gql(None, REFRESH, json!({ "t": s.refresh })).await;
        assert_eq!(code(&r), "UNAUTHENTICATED");
    }
);

const CREATE_USER: &str =
    "mutation($i: CreateUserInput!) { createUser(input: $i) { id email role active } }";
const UPDATE_USER: &str = "mutation($id: ID!, $i: UpdateUserInput!) { updateUser(id: $id, input: $i) { id name role active } }";
const UPDATE_TENANT: &str =
    "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { name currency timezone } }";

dual_test!(admin_only_mutations_are_forbidden_to_others, |app| {
    let admin = app.sign_up("Roles Co", "ann@roles.co").await;
    let manager = app.create_user(&admin, "max@roles.co", "MANAGER").await;
    let sales = app.create_user(&admin, "sam@roles.co", "SALES").await;
    let input =
        json!({ "email": "x@roles.co", "name": "X", "role": "SALES", "password": PASSWORD });
    for who in [&manager, &sales] {
        let v = app
            .gql(Some(&who.token), CREATE_USER, json!({ "i": input }))
            .await;
        assert_eq!(code(&v), "FORBIDDEN", "{v}");
        let v = app
            .gql(
                Some(&who.token),
                UPDATE_USER,
                json!({ "id": who.user_id, "i": { "role": "ADMIN" } }),
            )
            .await;
        assert_eq!(code(&v), "FORBIDDEN");
        let v = app
            .gql(
                Some(&who.token),
                UPDATE_TENANT,
                json!({ "i": { "name": "Mine" } }),
            )
            .await;
        assert_eq!(code(&v), "FORBIDDEN");
        // but they can read
        let me = app
            .gql(
                Some(&who.token),
                "{ me { email } tenant { name } users { email } }",
                json!({}),
            )
            .await;
        assert!(me["errors"].is_null(), "{me}");
    }
    let v = app.gql(None, CREATE_USER, json!({ "i": input })).await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
    let users = app
        .gql(Some(&admin.token), "{ users { email role } }", json!({}))
        .await;
    assert_eq!(users["data"]["users"].as_array().unwrap().len(), 3);
});

dual_test!(create_user_validates_and_refuses_duplicates, |app| {
    let admin = app.sign_up("Users Co", "ann@users.co").await;
    let ok = app
        .gql(Some(&admin.token), CREATE_USER, json!({ "i": { "email": "Bob@Users.co", "name": "Bob", "role": "SALES", "password": PASSWORD } }))
        .await;
    assert_eq!(ok["data"]["createUser"]["email"], "bob@users.co");
    let dup = app
        .gql(Some(&admin.token), CREATE_USER, json!({ "i": { "email": "BOB@users.co", "name": "Bob 2", "role": "SALES", "password": PASSWORD } }))
        .await;
    assert_eq!(code(&dup), "BAD_USER_INPUT");
    assert_eq!(field(&dup), "email");
    let bad = app
        .gql(Some(&admin.token), CREATE_USER, json!({ "i": { "email": "bob", "name": "Bob", "role": "SALES", "password": PASSWORD } }))
        .await;
    assert_eq!(field(&bad), "email");
    let bad_role = app
        .gql(Some(&admin.token), CREATE_USER, json!({ "i": { "email": "c@users.co", "name": "C", "role": "KING", "password": PASSWORD } }))
        .await;
    assert!(!bad_role["errors"].is_null());
    // the same email is fine in another tenant
    let other = app.sign_up("Other Co", "bob@users.co").await;
    assert!(!other.token.is_empty());
});

dual_test!(deactivation_and_role_changes_take_effect_at_once, |app| {
    let admin = app.sign_up("Deact Co", "ann@deact.co").await;
    let sales = app.create_user(&admin, "sam@deact.co", "SALES").await;
    // promotion is visible on the very next request with the same token
    let v = app
        .gql(
            Some(&admin.token),
            UPDATE_USER,
            json!({ "id": sales.user_id, "i": { "role": "ADMIN", "name": "Sam" } }),
        )
        .await;
    assert_eq!(v["data"]["updateUser"]["role"], "ADMIN");
    assert_eq!(v["data"]["updateUser"]["name"], "Sam");
    let me = app
        .gql(Some(&sales.token), "{ me { role } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN");
    let v = app
        .gql(
            Some(&admin.token),
            UPDATE_USER,
            json!({ "id": sales.user_id, "i": { "active": false } }),
        )
        .await;
    assert_eq!(v["data"]["updateUser"]["active"], false);
    assert_eq!(
        code(&app.gql(Some(&sales.token), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "t": sales.refresh })).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.login(&admin.slug, "sam@deact.co", PASSWORD).await),
        "UNAUTHENTICATED"
    );
    let active = app
        .gql(Some(&admin.token), "{ users { email } }", json!({}))
        .await;
    assert_eq!(active["data"]["users"].as_array().unwrap().len(), 1);
    let all = app
        .gql(
            Some(&admin.token),
            "{ users(includeInactive: true) { email active } }",
            json!({}),
        )
        .await;
    assert_eq!(all["data"]["users"].as_array().unwrap().len(), 2);
});

dual_test!(the_last_admin_cannot_be_removed, |app| {
    let admin = app.sign_up("Last Co", "ann@last.co").await;
    let v = app
        .gql(
            Some(&admin.token),
            UPDATE_USER,
            json!({ "id": admin.user_id, "i": { "role": "SALES" } }),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert_eq!(field(&v), "role");
    let v = app
        .gql(
            Some(&admin.token),
            UPDATE_USER,
            json!({ "id": admin.user_id, "i": { "active": false } }),
        )
        .await;
    assert_eq!(field(&v), "active");
    let me = app
        .gql(Some(&admin.token), "{ me { role active } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN");
});

dual_test!(other_tenants_users_are_not_found, |app| {
    let a = app.sign_up("Tenant A", "ann@a.co").await;
    let b = app.sign_up("Tenant B", "bob@b.co").await;
    for id in [
        b.user_id.as_str(),
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let v = app
            .gql(
                Some(&a.token),
                UPDATE_USER,
                json!({ "id": id, "i": { "name": "Hijacked" } }),
            )
            .await;
        assert_eq!(code(&v), "NOT_FOUND", "{v}");
    }
    let me = app
        .gql(Some(&b.token), "{ me { name } users { email } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["name"], "Owner");
    assert_eq!(me["data"]["users"].as_array().unwrap().len(), 1);
});

dual_test!(update_tenant_validates_and_applies, |app| {
    let admin = app.sign_up("Tenant Co", "ann@tenant.co").await;
    let v = app.gql(Some(&admin.token), UPDATE_TENANT, json!({ "i": { "currency": "usd", "timezone": "Pacific/Auckland", "name": "Renamed" } })).await;
    assert_eq!(
        v["data"]["updateTenant"],
        json!({ "name": "Renamed", "currency": "USD", "timezone": "Pacific/Auckland" })
    );
    let v = app
        .gql(
            Some(&admin.token),
            UPDATE_TENANT,
            json!({ "i": { "currency": "DOLLARS" } }),
        )
        .await;
    assert_eq!(field(&v), "currency");
    let v = app
        .gql(
            Some(&admin.token),
            UPDATE_TENANT,
            json!({ "i": { "timezone": "Nowhere/Land" } }),
        )
        .await;
    assert_eq!(field(&v), "timezone");
    let t = app
        .gql(
            Some(&admin.token),
            "{ tenant { currency timezone } }",
            json!({}),
        )
        .await;
    assert_eq!(t["data"]["tenant"]["currency"], "USD");
});
