//! Catalogue §1.7 RV (revocation, RFC 7009) and §1.8 IN (introspection, RFC 7662), end
//! to end against a real server on loopback.
//!
//! Policies under test: any authenticated confidential client may introspect access
//! tokens, refresh tokens only their own client; revoking a JWT access token puts its
//! `jti` on a denylist (RV-06); revoking another client's token is 400
//! `invalid_request` and changes nothing (RV-05).

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::{Harness, TestClient};
use serde_json::{json, Value};

const USER: (&str, &str) = ("alice", "correct horse battery");
const T0: i64 = 1_700_000_000;

type World = latchkey_e2e::catalogue::Catalogue;

async fn world() -> World {
    World::start().await
}

async fn world_on(h: Harness) -> World {
    World::on(h).await
}

/// (access token, refresh token) of a fresh code flow.
async fn grant(h: &Harness, client: &TestClient) -> (String, String) {
    let body = h
        .code_flow_tokens(client, "openid api", USER)
        .await
        .expect("code flow");
    (
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string(),
        body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
    )
}

fn inactive() -> Value {
    json!({"active": false})
}

async fn revoke(h: &Harness, client: &TestClient, form: &[(&str, &str)]) -> Reply {
    post_form(h, "/revoke", Some(client), form)
        .await
        .expect("revoke")
}

/// RFC 7009 §2.2: 200, and nothing in the body worth reading.
fn assert_revoked_ok(r: &Reply) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.is_empty(), "empty body: {:?}", r.text);
}

async fn introspect(h: &Harness, by: &TestClient, token: &str) -> Reply {
    let r = post_form(h, "/introspect", Some(by), &[("token", token)])
        .await
        .expect("introspect");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    r
}

async fn is_active(h: &Harness, by: &TestClient, token: &str) -> bool {
    let r = introspect(h, by, token).await;
    match r.json["active"].as_bool() {
        Some(true) => true,
        Some(false) => {
            assert_eq!(
                r.json,
                inactive(),
                "an inactive answer has no other members"
            );
            false
        }
        None => panic!("no active member: {}", r.text),
    }
}

// ------------------------------------------------------------------------------------
// RV
// ------------------------------------------------------------------------------------

#[tokio::test]
async fn rv_01_revoking_a_refresh_token_without_a_hint_ends_it_and_every_access_token_of_its_grant()
{
    let World { h, c1, rs, .. } = world().await;
    let (at1, rt1) = grant(&h, &c1).await;
    let r = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_eq!(r.status, 200);
    let (at2, rt2) = (r.must("access_token"), r.must("refresh_token"));
    // An unrelated grant of the same user and client survives.
    let (other_at, other_rt) = grant(&h, &c1).await;

    let r = revoke(&h, &c1, &[("token", rt2.as_str())]).await;
    assert_revoked_ok(&r);
    assert_eq!(r.header("cache-control"), Some("no-store"));

    assert_oauth_error(
        &refresh(&h, &c1, &rt2, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert!(!is_active(&h, &c1, &rt2).await);
    assert!(!is_active(&h, &rs, &at1).await);
    assert!(!is_active(&h, &rs, &at2).await);
    assert_eq!(userinfo_get(&h, &at2).await.unwrap().status, 401);
    // Revoking is idempotent, and is not mistaken for refresh-token reuse.
    assert_revoked_ok(&revoke(&h, &c1, &[("token", rt2.as_str())]).await);
    assert!(security_events(&h, "security.refresh_token.reuse_detected")
        .await
        .unwrap()
        .is_empty());

    assert!(is_active(&h, &rs, &other_at).await);
    assert!(is_active(&h, &c1, &other_rt).await);
}

#[tokio::test]
async fn rv_02_revoking_an_access_token_under_a_wrong_or_unknown_hint_still_revokes_it() {
    let World { h, c1, rs, .. } = world().await;
    let (at_a, rt_a) = grant(&h, &c1).await;
    let (at_b, _) = grant(&h, &c1).await;
    let (_, rt_c) = grant(&h, &c1).await;

    assert_revoked_ok(
        &revoke(
            &h,
            &c1,
            &[
                ("token", at_a.as_str()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await,
    );
    assert!(!is_active(&h, &rs, &at_a).await);
    assert_revoked_ok(
        &revoke(
            &h,
            &c1,
            &[("token", at_b.as_str()), ("token_type_hint", "foo")],
        )
        .await,
    );
    assert!(!is_active(&h, &rs, &at_b).await);
    // And the other way round: a refresh token under the access-token hint.
    assert_revoked_ok(
        &revoke(
            &h,
            &c1,
            &[
                ("token", rt_c.as_str()),
                ("token_type_hint", "access_token"),
            ],
        )
        .await,
    );
    assert!(!is_active(&h, &c1, &rt_c).await);
    assert_oauth_error(
        &refresh(&h, &c1, &rt_c, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    // Revoking only the access token leaves its grant's refresh token alone.
    assert!(is_active(&h, &c1, &rt_a).await);
}

#[tokio::test]
async fn rv_03_revoking_a_garbage_or_unknown_token_is_200_and_changes_nothing() {
    let World { h, c1, rs, .. } = world().await;
    let (at, rt) = grant(&h, &c1).await;
    let forged_jwt = {
        // A well-formed JWT the server never issued: our header, claims edited.
        let parts: Vec<&str> = at.split('.').collect();
        let mut claims = claims_of(&at);
        claims["jti"] = json!("someone-elses-jti");
        let enc = latchkey_e2e::latchkey_core::crypto::b64url(claims.to_string().as_bytes());
        format!("{}.{}.{}", parts[0], enc, parts[2])
    };
    let rows = token_rows(&h, &c1.id).await.unwrap();
    for token in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.",
        &latchkey_e2e::latchkey_core::crypto::random_token(),
        forged_jwt.as_str(),
        &"x".repeat(4000),
    ] {
        for hint in [None, Some("access_token"), Some("refresh_token")] {
            let mut form = vec![("token", token)];
            if let Some(hn) = hint {
                form.push(("token_type_hint", hn));
            }
            assert_revoked_ok(&revoke(&h, &c1, &form).await);
        }
    }
    assert_eq!(token_rows(&h, &c1.id).await.unwrap(), rows);
    assert!(
        is_active(&h, &rs, &at).await,
        "the real token was not touched"
    );
    assert!(is_active(&h, &c1, &rt).await);
}

#[tokio::test]
async fn rv_04_a_revocation_without_a_token_parameter_is_invalid_request() {
    let World { h, c1, .. } = world().await;
    for form in [
        vec![],
        vec![("token", "")],
        vec![("token_type_hint", "refresh_token")],
    ] {
        let r = revoke(&h, &c1, &form).await;
        assert_oauth_error(&r, 400, "invalid_request");
    }
    // Client authentication still comes first.
    let anonymous = post_form(&h, "/revoke", None, &[]).await.unwrap();
    assert_oauth_error(&anonymous, 401, "invalid_client");
}

#[tokio::test]
async fn rv_05_a_client_revoking_another_clients_token_gets_invalid_request_and_the_token_stays_active(
) {
    let World { h, c1, c2, rs, .. } = world().await;
    let (at, rt) = grant(&h, &c1).await;
    for token in [&rt, &at] {
        for hint in [None, Some("refresh_token"), Some("access_token")] {
            let mut form = vec![("token", token.as_str())];
            if let Some(hn) = hint {
                form.push(("token_type_hint", hn));
            }
            let r = revoke(&h, &c2, &form).await;
            assert_oauth_error(&r, 400, "invalid_request");
        }
    }
    assert!(is_active(&h, &rs, &at).await);
    assert!(is_active(&h, &c1, &rt).await);
    assert_eq!(
        refresh(&h, &c1, &rt, None).await.unwrap().status,
        200,
        "the owner is unaffected"
    );
    // A resource server cannot revoke a user's tokens either.
    let (at, _) = grant(&h, &c1).await;
    assert_oauth_error(
        &revoke(&h, &rs, &[("token", at.as_str())]).await,
        400,
        "invalid_request",
    );
    assert!(is_active(&h, &rs, &at).await);
}

#[tokio::test]
async fn rv_06_revoking_a_jwt_access_token_denylists_its_jti_so_introspection_and_userinfo_refuse_it(
) {
    let World { h, c1, rs, .. } = world().await;
    let (at, _) = grant(&h, &c1).await;
    assert_eq!(userinfo_get(&h, &at).await.unwrap().status, 200);

    assert_revoked_ok(
        &revoke(
            &h,
            &c1,
            &[("token", at.as_str()), ("token_type_hint", "access_token")],
        )
        .await,
    );
    assert!(!is_active(&h, &rs, &at).await);
    assert!(!is_active(&h, &c1, &at).await);
    let ui = userinfo_get(&h, &at).await.unwrap();
    assert_eq!(ui.status, 401);
    assert!(ui
        .header("www-authenticate")
        .is_some_and(|w| w.contains("error=\"invalid_token\"")));
    // Still a valid signature: only the server-side state makes it inactive.
    assert!(verify_with_jwks(&h, &at).await.is_ok());
    // Revoking it again is fine.
    assert_revoked_ok(&revoke(&h, &c1, &[("token", at.as_str())]).await);
}

#[tokio::test]
async fn rv_07_revocation_while_the_database_is_locked_answers_503_with_retry_after_and_revokes_nothing(
) {
    if latchkey_e2e::on_postgres() {
        // It holds SQLite's file write lock from another connection; on PostgreSQL the
        // mapping of lock and connection failures to 503 is covered by the store suite.
        eprintln!("SQLite-specific: skipped on PostgreSQL");
        return;
    }
    use sqlx::{Connection, Executor};
    let World { h, c1, rs, .. } = world().await;
    let (at, rt) = grant(&h, &c1).await;

    // Another process holds the write lock longer than the store's busy_timeout (5 s).
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", h.db.display()))
        .await
        .expect("second connection");
    locker
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("take the write lock");
    // Answered while the lock is still held: the store gave up after its busy timeout
    // rather than waiting for the lock (no bound on how long that took: machine speed).
    let r = revoke(&h, &c1, &[("token", rt.as_str())]).await;
    locker.execute("ROLLBACK").await.expect("release");
    locker.close().await.ok();

    assert_oauth_error(&r, 503, "temporarily_unavailable");
    let retry = r.header("retry-after").expect("Retry-After");
    assert!(retry.parse::<u64>().is_ok_and(|s| s > 0), "{retry}");

    // The client must not assume it happened: indeed it did not.
    assert!(is_active(&h, &c1, &rt).await);
    assert!(is_active(&h, &rs, &at).await);
    // Once the lock is gone, the retry works at once.
    assert_revoked_ok(&revoke(&h, &c1, &[("token", rt.as_str())]).await);
    assert!(!is_active(&h, &c1, &rt).await);
    assert!(!is_active(&h, &rs, &at).await);
}

// ------------------------------------------------------------------------------------
// IN
// ------------------------------------------------------------------------------------

#[tokio::test]
async fn in_01_introspection_without_client_authentication_is_401_invalid_client() {
    let World { h, c1, rs, .. } = world().await;
    let (at, _) = grant(&h, &c1).await;
    let wrong_secret = TestClient {
        id: rs.id.clone(),
        secret: Some("not-the-secret".into()),
        redirect_uri: String::new(),
    };
    let id_only = [("token", at.as_str()), ("client_id", rs.id.as_str())];
    for r in [
        post_form(&h, "/introspect", None, &[("token", at.as_str())])
            .await
            .unwrap(),
        post_form(&h, "/introspect", None, &id_only).await.unwrap(),
        post_form(
            &h,
            "/introspect",
            Some(&wrong_secret),
            &[("token", at.as_str())],
        )
        .await
        .unwrap(),
    ] {
        assert_oauth_error(&r, 401, "invalid_client");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|w| w.starts_with("Basic")),
            "WWW-Authenticate"
        );
        assert!(r.json.get("active").is_none(), "nothing about the token");
    }
    let failed = security_events(&h, "security.client_auth_failed.introspect")
        .await
        .unwrap();
    assert!(!failed.is_empty());
}

#[tokio::test]
async fn in_02_an_active_access_token_introspects_with_its_scope_client_type_times_subject_audience_issuer_and_jti(
) {
    let World { h, c1, rs, .. } = world().await;
    let (at, _) = grant(&h, &c1).await;
    let claims = verify_with_jwks(&h, &at).await.unwrap();
    let alice = h.manager.user_get(USER.0).await.unwrap();
    for by in [&rs, &c1] {
        let r = introspect(&h, by, &at).await;
        let j = &r.json;
        assert_eq!(j["active"], true);
        assert_eq!(j["scope"], "openid api");
        assert_eq!(j["client_id"], c1.id.as_str());
        assert_eq!(j["token_type"], "Bearer");
        assert_eq!(j["sub"], alice.id.as_str());
        assert_eq!(j["iss"], h.issuer.as_str());
        assert!(j.get("aud").is_some());
        for k in ["exp", "iat", "jti", "aud", "sub", "scope", "client_id"] {
            assert_eq!(j[k], claims[k], "{k} as in the token");
        }
        assert!(j["exp"].as_i64().unwrap() > j["iat"].as_i64().unwrap());
        assert!(j.get("cnf").is_none(), "not DPoP-bound");
    }
}

#[tokio::test]
async fn in_03_expired_revoked_unknown_consumed_or_not_permitted_tokens_introspect_as_exactly_active_false(
) {
    let World { h, c1, c2, rs, .. } =
        world_on(Harness::start_with_clock(T0).await.expect("server")).await;
    let b = h.browser();

    // Consumed code: redeemed once, then introspected.
    let (code, verifier) = code_with(&h, &b, &c1, "openid api", &[], USER)
        .await
        .unwrap();
    let first = redeem(&h, &c1, &code, &verifier).await.unwrap();
    assert_eq!(first.status, 200);
    let (at, rt1) = (first.must("access_token"), first.must("refresh_token"));
    let id_token = first.must("id_token");
    // Rotated (spent) refresh token.
    let r = refresh(&h, &c1, &rt1, None).await.unwrap();
    let rt2 = r.must("refresh_token");
    // Revoked access token.
    let (revoked_at, _) = grant(&h, &c1).await;
    assert_eq!(
        post_form(&h, "/revoke", Some(&c1), &[("token", revoked_at.as_str())])
            .await
            .unwrap()
            .status,
        200
    );

    let cases: Vec<(&str, &TestClient, String)> = vec![
        ("consumed code", &c1, code.clone()),
        ("spent refresh token", &c1, rt1.clone()),
        ("revoked access token", &rs, revoked_at.clone()),
        (
            "unknown opaque token",
            &rs,
            latchkey_e2e::latchkey_core::crypto::random_token(),
        ),
        ("garbage", &rs, "garbage".into()),
        ("JWT-shaped garbage", &rs, "a.b.c".into()),
        ("an ID token is no access token", &rs, id_token),
        ("C1's refresh token asked by C2", &c2, rt2.clone()),
        (
            "C1's refresh token asked by a resource server",
            &rs,
            rt2.clone(),
        ),
    ];
    for (what, by, token) in &cases {
        let r = introspect(&h, by, token).await;
        assert_eq!(r.json, inactive(), "{what}: {}", r.text);
    }
    // Controls: the live ones are active for the right callers.
    assert!(is_active(&h, &c1, &rt2).await);
    assert!(is_active(&h, &rs, &at).await);

    // Expired: one second past the access token's lifetime.
    let exp = claims_of(&at)["exp"].as_i64().unwrap();
    h.clock.as_ref().unwrap().set(exp + 1);
    let r = introspect(&h, &rs, &at).await;
    assert_eq!(r.json, inactive(), "expired access token: {}", r.text);
}

#[tokio::test]
async fn in_04_introspection_without_a_token_parameter_is_invalid_request() {
    let World { h, rs, .. } = world().await;
    for form in [
        vec![],
        vec![("token", "")],
        vec![("token_type_hint", "access_token")],
    ] {
        let r = post_form(&h, "/introspect", Some(&rs), &form)
            .await
            .unwrap();
        assert_oauth_error(&r, 400, "invalid_request");
        assert!(r.json.get("active").is_none());
    }
}
