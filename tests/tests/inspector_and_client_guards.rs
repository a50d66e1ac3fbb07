//! Issue 12 through the admin API: the inspector's reason (admin introspection says why
//! a token is inactive, and when and by whom; the public RFC 7662 endpoint still says
//! only `active:false`), the dry run of a client's Disable/Delete
//! (`GET /admin/v1/clients/{id}/impact`), and the built-in console client and scopes
//! that no credential can disable or delete.

use latchkey_e2e::catalogue::{Catalogue, ALICE, BOB};
use latchkey_e2e::catalogue_support::post_form;
use latchkey_e2e::Harness;
use serde_json::{json, Value};
use std::time::Duration;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn admin(
    h: &Harness,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = http().request(m, h.admin_url(path)).bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn why(h: &Harness, key: &str, token: &str) -> Value {
    let (s, v) = admin(
        h,
        key,
        "POST",
        "/admin/v1/tokens/introspect",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn access(h: &Harness, c: &latchkey_e2e::TestClient, user: (&str, &str)) -> Value {
    h.code_flow_tokens(c, "openid", user).await.unwrap()
}

#[tokio::test]
async fn admin_introspection_says_why_a_token_is_inactive_and_the_public_endpoint_does_not() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let (key_id, key) = h.api_key(false).await.unwrap();

    // Revoked, this one token: who and when come from the audit log.
    let t = access(h, &cat.c1, ALICE).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(why(h, &key, at).await["active"], true);
    let (s, _) = admin(
        h,
        &key,
        "POST",
        "/admin/v1/tokens/revoke",
        Some(json!({"token": at})),
    )
    .await;
    assert_eq!(s, 200);
    let v = why(h, &key, at).await;
    assert_eq!(v["active"], false);
    assert_eq!(v["inactive_reason"]["code"], "revoked", "{v}");
    assert_eq!(
        v["inactive_reason"]["by"],
        format!("api-key:{key_id}"),
        "{v}"
    );
    assert!(v["inactive_reason"]["at"].is_i64(), "{v}");
    // RFC 7662 §2.2: a resource server learns nothing more than inactive.
    let r = post_form(h, "/introspect", Some(&cat.rs), &[("token", at)])
        .await
        .unwrap();
    assert_eq!(r.json, json!({"active": false}));

    // Its session revoked.
    let t = access(h, &cat.c1, ALICE).await;
    let at = t["access_token"].as_str().unwrap();
    let sid = why(h, &key, at).await["sid"].as_str().unwrap().to_string();
    let (s, _) = admin(
        h,
        &key,
        "POST",
        &format!("/admin/v1/sessions/{sid}/revoke"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let v = why(h, &key, at).await;
    assert_eq!(v["inactive_reason"]["code"], "session_revoked", "{v}");
    assert!(v["inactive_reason"]["at"].is_i64(), "{v}");

    // Its client disabled (a second ago): the reason names the client and who did it.
    let t = access(h, &cat.c2, ALICE).await;
    let at = t["access_token"].as_str().unwrap();
    let (s, _) = admin(
        h,
        &key,
        "POST",
        &format!("/admin/v1/clients/{}/disabled", cat.c2.id),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, 200);
    let v = why(h, &key, at).await;
    assert_eq!(v["inactive_reason"]["code"], "client_disabled", "{v}");
    assert_eq!(
        v["inactive_reason"]["by"],
        format!("api-key:{key_id}"),
        "{v}"
    );

    // Its user disabled.
    let t = access(h, &cat.c1, BOB).await;
    let at = t["access_token"].as_str().unwrap();
    h.manager.user_disable("local-admin", "bob").await.unwrap();
    let v = why(h, &key, at).await;
    assert_eq!(v["inactive_reason"]["code"], "user_disabled", "{v}");

    // An ID token is not introspectable: a reason of its own, never a bare inactive.
    let id = t["id_token"].as_str().unwrap();
    let v = why(h, &key, id).await;
    assert_eq!(v["inactive_reason"]["code"], "not_introspectable", "{v}");

    // Its signing key revoked in an emergency (the key set is re-read within a second).
    let t = access(h, &cat.c1, ALICE).await;
    let at = t["access_token"].as_str().unwrap().to_string();
    let kid = latchkey_e2e::latchkey_core::jwt::parse(&at)
        .unwrap()
        .kid()
        .unwrap()
        .to_string();
    let (s, v) = admin(
        h,
        &key,
        "POST",
        &format!("/admin/v1/keys/{kid}/revoke"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The revoke went through this server's own admin API, so it is in force at once.
    let v = why(h, &key, &at).await;
    assert_eq!(v["inactive_reason"]["code"], "key_revoked", "{v}");
    assert_eq!(
        v["inactive_reason"]["by"],
        format!("api-key:{key_id}"),
        "{v}"
    );
}

#[tokio::test]
async fn a_clients_impact_counts_what_disable_or_delete_would_cut_off_and_changes_nothing() {
    // A fixed clock: the server's statistics flush never runs behind the test's back;
    // the test flushes the issuance counts itself, as the flush would.
    let cat = Catalogue::on(Harness::start_with_clock(1_800_000_000).await.unwrap()).await;
    let h = &cat.h;
    let (_, read_only) = h.api_key(true).await.unwrap();
    for _ in 0..2 {
        access(h, &cat.c1, ALICE).await;
    }
    h.store
        .stats_record(&h.provider.take_token_counts())
        .await
        .unwrap();
    let path = format!("/admin/v1/clients/{}/impact", cat.c1.id);
    // A read: a read-only key may ask.
    let (s, v) = admin(h, &read_only, "GET", &path, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["tokens_last_hour"].as_u64().unwrap_or(0) >= 2, "{v}");
    assert_eq!(v["client_id"], cat.c1.id.as_str());
    assert_eq!(v["sessions"], 2, "{v}");
    assert_eq!(v["refresh_families"], 2, "{v}");
    assert_eq!(v["live_access_tokens"], 2, "{v}");
    assert_eq!(v["builtin"], false);
    assert!(v["last_token_at"].is_i64(), "{v}");
    // Nothing was changed by asking.
    let (_, c) = admin(
        h,
        &read_only,
        "GET",
        &format!("/admin/v1/clients/{}", cat.c1.id),
        None,
    )
    .await;
    assert_eq!(c["disabled"], false);
    let (s, _) = admin(
        h,
        &read_only,
        "GET",
        "/admin/v1/clients/no-such-client/impact",
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn no_credential_can_delete_or_disable_the_built_in_console_client_or_scopes() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let (_, key) = h.api_key(false).await.unwrap();
    let console = "/admin/v1/clients/latchkey-console";
    let (s, v) = admin(h, &key, "GET", console, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["builtin"], true);

    for (method, path, body) in [
        ("DELETE", console.to_string(), None),
        (
            "POST",
            format!("{console}/disabled"),
            Some(json!({"disabled": true})),
        ),
        (
            "PATCH",
            console.to_string(),
            Some(json!({"disabled": true})),
        ),
        ("DELETE", "/admin/v1/scopes/openid".to_string(), None),
        (
            "DELETE",
            "/admin/v1/scopes/latchkey:admin".to_string(),
            None,
        ),
    ] {
        let (s, v) = admin(h, &key, method, &path, body).await;
        assert_eq!(s, 409, "{method} {path}: {v}");
        assert_eq!(v["code"], "builtin", "{method} {path}: {v}");
        assert!(v["message"].as_str().unwrap().contains("built-in"), "{v}");
    }
    let (_, v) = admin(h, &key, "GET", console, None).await;
    assert_eq!(v["disabled"], false, "still enabled");
    let (_, impact) = admin(h, &key, "GET", &format!("{console}/impact"), None).await;
    assert_eq!(impact["builtin"], true);
    // Other clients are not protected by mistake.
    let (s, _) = admin(
        h,
        &key,
        "POST",
        &format!("/admin/v1/clients/{}/disabled", cat.c2.id),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, 200);
}
