//! Catalogue §1.4 RT (refresh tokens: rotation and reuse detection) and §1.5 CC
//! (`client_credentials`), end to end against a real server on loopback.
//!
//! The concurrent cases of RT-03 live in `concurrency.rs`; the grace-window policy is
//! exercised sequentially here with the fixed clock.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::manage::{ClientUpdate, NewClient};
use latchkey_e2e::latchkey_core::model::{ClientType, GrantType};
use latchkey_e2e::*;
use serde_json::{json, Value};

const USER: (&str, &str) = ("alice", "correct horse battery");
const BOB: (&str, &str) = ("bob", "another long passphrase");
const T0: i64 = 1_700_000_000;
const REUSE: &str = "security.refresh_token.reuse_detected";

type World = latchkey_e2e::catalogue::Catalogue;

async fn world() -> World {
    World::start().await
}

async fn world_on(h: Harness) -> World {
    World::on(h).await
}

async fn clock_world() -> World {
    world_on(Harness::start_with_clock(T0).await.expect("server")).await
}

fn advance(h: &Harness, secs: i64) {
    h.clock.as_ref().expect("fixed clock").advance(secs);
}

/// Access and refresh token of a fresh code flow by `client` for `user`.
async fn grant(
    h: &Harness,
    client: &TestClient,
    scope: &str,
    user: (&str, &str),
) -> (String, String, Value) {
    let body = h
        .code_flow_tokens(client, scope, user)
        .await
        .expect("code flow");
    let at = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let rt = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    (at, rt, body)
}

fn assert_token_success(r: &Reply) {
    assert_eq!(r.status, 200, "token response: {}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(r.str("token_type"), Some("Bearer"));
    assert!(r.json["expires_in"].as_i64().is_some_and(|e| e > 0));
}

fn inactive() -> Value {
    json!({"active": false})
}

// ------------------------------------------------------------------------------------
// RT
// ------------------------------------------------------------------------------------

#[tokio::test]
async fn rt_01_a_refresh_returns_a_new_refresh_token_with_the_same_scope_and_the_spent_one_is_refused(
) {
    let World { h, c1, .. } = world().await;
    let (_, rt1, first) = grant(&h, &c1, "openid api", USER).await;

    let r = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_token_success(&r);
    let rt2 = r.must("refresh_token");
    assert_ne!(rt2, rt1, "the refresh token is rotated");
    assert_eq!(
        r.str("scope"),
        first["scope"].as_str(),
        "same scope as granted"
    );
    assert_eq!(claims_of(&r.must("access_token"))["scope"], "openid api");

    let rows = token_rows(&h, &c1.id).await.unwrap();
    let again = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_oauth_error(&again, 400, "invalid_grant");
    let (sessions, ats, _) = token_rows(&h, &c1.id).await.unwrap();
    assert_eq!(
        (sessions, ats),
        (rows.0, rows.1),
        "a refused refresh writes no token"
    );
}

#[tokio::test]
async fn rt_02_reusing_a_spent_refresh_token_revokes_the_whole_family() {
    let World { h, c1, .. } = world().await;
    let (at1, rt1, _) = grant(&h, &c1, "openid api", USER).await;
    let sid = claims_of(&at1)["sid"].as_str().expect("sid").to_string();
    let r = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_token_success(&r);
    let (at2, rt2) = (r.must("access_token"), r.must("refresh_token"));
    assert_eq!(h.introspect(&c1, &at2).await.unwrap()["active"], true);
    assert!(security_events(&h, REUSE).await.unwrap().is_empty());

    // The attacker (or the victim, whichever is second) presents the spent token.
    let reuse = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_oauth_error(&reuse, 400, "invalid_grant");

    // The whole family is dead: the current refresh token and every access token.
    assert_oauth_error(
        &refresh(&h, &c1, &rt2, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(h.introspect(&c1, &at1).await.unwrap(), inactive());
    assert_eq!(h.introspect(&c1, &at2).await.unwrap(), inactive());
    assert_eq!(h.introspect(&c1, &rt2).await.unwrap(), inactive());
    assert_eq!(userinfo_get(&h, &at2).await.unwrap().status, 401);
    let (_, _, live_rts) = token_rows(&h, &c1.id).await.unwrap();
    assert_eq!(live_rts, 0, "no refresh token of the family stays live");

    let events = security_events(&h, REUSE).await.unwrap();
    assert_eq!(events.len(), 1, "one reuse event: {events:?}");
    assert_eq!(
        events[0].target.as_deref(),
        Some(sid.as_str()),
        "the event names the family"
    );
    let session = h.manager.session_get(&sid).await.unwrap().session;
    assert!(session.revoked_at.is_some());
}

#[tokio::test]
async fn rt_03_in_grace_mode_a_retry_within_the_window_gets_tokens_and_at_most_one_refresh_token_stays_live(
) {
    let World { h, c1, .. } = clock_world().await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                refresh_grace_secs: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, rt1, _) = grant(&h, &c1, "openid api", USER).await;
    let r2 = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_token_success(&r2);
    let rt2 = r2.must("refresh_token");

    // The response was "lost"; the client retries with rt1 five seconds later.
    advance(&h, 5);
    let r3 = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_token_success(&r3);
    let rt3 = r3.must("refresh_token");
    assert!(rt3 != rt1 && rt3 != rt2);
    assert_eq!(
        token_rows(&h, &c1.id).await.unwrap().2,
        1,
        "at most one live refresh token"
    );
    assert_eq!(
        h.introspect(&c1, &rt2).await.unwrap(),
        inactive(),
        "the retry superseded rt2"
    );
    assert_eq!(h.introspect(&c1, &rt3).await.unwrap()["active"], true);
    assert!(
        security_events(&h, REUSE).await.unwrap().is_empty(),
        "a retry in the window is no reuse"
    );

    // Outside the window a replay is reuse again: the family dies.
    advance(&h, 11);
    let late = refresh(&h, &c1, &rt1, None).await.unwrap();
    assert_oauth_error(&late, 400, "invalid_grant");
    assert_oauth_error(
        &refresh(&h, &c1, &rt3, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(token_rows(&h, &c1.id).await.unwrap().2, 0);
    assert_eq!(security_events(&h, REUSE).await.unwrap().len(), 1);
}

#[tokio::test]
async fn rt_04_another_clients_refresh_token_is_invalid_grant_and_keeps_working_for_its_owner() {
    let World { h, c1, c2, .. } = world().await;
    let (at, rt, _) = grant(&h, &c1, "openid api", USER).await;
    let before = (
        token_rows(&h, &c1.id).await.unwrap(),
        token_rows(&h, &c2.id).await.unwrap(),
    );

    let stolen = refresh(&h, &c2, &rt, None).await.unwrap();
    assert_oauth_error(&stolen, 400, "invalid_grant");
    let after = (
        token_rows(&h, &c1.id).await.unwrap(),
        token_rows(&h, &c2.id).await.unwrap(),
    );
    assert_eq!(before, after, "nothing issued, nothing revoked");

    // No denial of service against the victim.
    assert_eq!(h.introspect(&c1, &at).await.unwrap()["active"], true);
    let own = refresh(&h, &c1, &rt, None).await.unwrap();
    assert_token_success(&own);
    assert!(security_events(&h, REUSE).await.unwrap().is_empty());
}

#[tokio::test]
async fn rt_05_a_wider_scope_is_invalid_scope_and_a_narrower_one_narrows_only_the_access_token() {
    let World { h, c1, .. } = world().await;
    let (_, rt1, _) = grant(&h, &c1, "openid profile api", USER).await;
    let rows = token_rows(&h, &c1.id).await.unwrap();

    // `email` is allowed for the client but was not granted; `admin` is not even allowed.
    for wider in ["openid profile api email", "api admin", "unknown_scope"] {
        let r = refresh(&h, &c1, &rt1, Some(wider)).await.unwrap();
        assert_oauth_error(&r, 400, "invalid_scope");
    }
    assert_eq!(
        token_rows(&h, &c1.id).await.unwrap(),
        rows,
        "nothing issued"
    );

    // The refused requests did not spend the token.
    let narrow = refresh(&h, &c1, &rt1, Some("api")).await.unwrap();
    assert_token_success(&narrow);
    assert_eq!(narrow.str("scope"), Some("api"));
    let at = narrow.must("access_token");
    assert_eq!(claims_of(&at)["scope"], "api");
    assert_eq!(h.introspect(&c1, &at).await.unwrap()["scope"], "api");

    // The new refresh token keeps the whole original grant.
    let rt2 = narrow.must("refresh_token");
    let intro = h.introspect(&c1, &rt2).await.unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["scope"], "openid profile api");
    let full = refresh(&h, &c1, &rt2, None).await.unwrap();
    assert_token_success(&full);
    assert_eq!(full.str("scope"), Some("openid profile api"));
}

#[tokio::test]
async fn rt_06_a_confidential_client_refreshing_without_client_authentication_gets_invalid_client()
{
    let World { h, c1, .. } = world().await;
    let (_, rt, _) = grant(&h, &c1, "openid api", USER).await;
    let rows = token_rows(&h, &c1.id).await.unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];

    let anonymous = post_form(&h, "/token", None, &form).await.unwrap();
    assert_oauth_error(&anonymous, 401, "invalid_client");
    assert!(anonymous
        .header("www-authenticate")
        .is_some_and(|w| w.starts_with("Basic")));

    let mut with_id = form.to_vec();
    with_id.push(("client_id", c1.id.as_str()));
    let id_only = post_form(&h, "/token", None, &with_id).await.unwrap();
    assert_oauth_error(&id_only, 401, "invalid_client");
    assert!(id_only.header("www-authenticate").is_some());

    assert_eq!(
        token_rows(&h, &c1.id).await.unwrap(),
        rows,
        "nothing issued"
    );
    assert!(!security_events(&h, "security.client_auth_failed.token")
        .await
        .unwrap()
        .is_empty());
    // The failed attempts did not spend the token.
    assert_token_success(&refresh(&h, &c1, &rt, None).await.unwrap());
}

#[tokio::test]
async fn rt_07_a_refresh_after_the_absolute_lifetime_or_after_the_idle_timeout_is_invalid_grant() {
    let World { h, c1, .. } = clock_world().await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                access_token_ttl: Some(60),
                refresh_token_ttl: Some(300),
                refresh_idle_ttl: Some(120),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // Absolute: used every 100 s (never idle), still ends 300 s after the grant.
    let (_, rt, _) = grant(&h, &c1, "openid api", USER).await;
    advance(&h, 100);
    let r = refresh(&h, &c1, &rt, None).await.unwrap();
    assert_token_success(&r);
    advance(&h, 100);
    let r = refresh(&h, &c1, &r.must("refresh_token"), None)
        .await
        .unwrap();
    assert_token_success(&r);
    let rt = r.must("refresh_token");
    advance(&h, 101);
    let rows = token_rows(&h, &c1.id).await.unwrap();
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(h.introspect(&c1, &rt).await.unwrap(), inactive());
    assert_eq!(
        token_rows(&h, &c1.id).await.unwrap(),
        rows,
        "nothing issued"
    );

    // Idle: a fresh family left unused for longer than the idle timeout.
    let (_, rt, _) = grant(&h, &c1, "openid api", USER).await;
    advance(&h, 119);
    let r = refresh(&h, &c1, &rt, None).await.unwrap();
    assert_token_success(&r);
    let rt = r.must("refresh_token");
    advance(&h, 121);
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(h.introspect(&c1, &rt).await.unwrap(), inactive());
}

#[tokio::test]
async fn rt_07_the_absolute_refresh_lifetime_holds_even_when_access_tokens_live_longer() {
    let World { h, c1, .. } = clock_world().await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                access_token_ttl: Some(600),
                refresh_token_ttl: Some(120),
                refresh_idle_ttl: Some(60),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, rt, _) = grant(&h, &c1, "openid api", USER).await;
    advance(&h, 59);
    let r = refresh(&h, &c1, &rt, None).await.unwrap();
    assert_token_success(&r);
    advance(&h, 59);
    let r = refresh(&h, &c1, &r.must("refresh_token"), None)
        .await
        .unwrap();
    assert_token_success(&r);
    let rt = r.must("refresh_token");
    // 123 s after the grant: idle time is fine (5 s), the 120 s absolute lifetime is not.
    advance(&h, 5);
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(h.introspect(&c1, &rt).await.unwrap(), inactive());
}

#[tokio::test]
async fn rt_08_a_refresh_after_the_user_is_disabled_or_changes_password_is_invalid_grant() {
    let World { h, c1, .. } = clock_world().await;

    // Disabled.
    let (at, rt, _) = grant(&h, &c1, "openid api", USER).await;
    advance(&h, 10);
    h.manager.user_disable("test", USER.0).await.unwrap();
    let rows = token_rows(&h, &c1.id).await.unwrap();
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(h.introspect(&c1, &at).await.unwrap(), inactive());
    // Enabling the account again does not revive the grant.
    h.manager.user_enable("test", USER.0).await.unwrap();
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(
        token_rows(&h, &c1.id).await.unwrap().1,
        rows.1,
        "nothing issued"
    );

    // Password changed after the sign-in (policy: ends the refresh family).
    let (_, rt, _) = grant(&h, &c1, "openid api", BOB).await;
    advance(&h, 10);
    let r = refresh(&h, &c1, &rt, None).await.unwrap();
    assert_token_success(&r);
    let rt = r.must("refresh_token");
    advance(&h, 10);
    h.manager
        .user_set_password("test", BOB.0, "a brand new passphrase")
        .await
        .unwrap();
    let rows = token_rows(&h, &c1.id).await.unwrap();
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(
        token_rows(&h, &c1.id).await.unwrap().1,
        rows.1,
        "nothing issued"
    );
}

#[tokio::test]
async fn rt_09_a_refresh_with_openid_returns_an_id_token_with_the_same_sub_iss_aud_and_auth_time_and_no_nonce(
) {
    let World { h, c1, .. } = clock_world().await;
    // `get_code` sends nonce=n-1.
    let (_, rt, first) = grant(&h, &c1, "openid profile", USER).await;
    let id1 = verify_with_jwks(&h, first["id_token"].as_str().expect("id_token"))
        .await
        .unwrap();
    assert_eq!(id1["nonce"], "n-1");

    advance(&h, 30);
    let r = refresh(&h, &c1, &rt, None).await.unwrap();
    assert_token_success(&r);
    let id_token = r.must("id_token");
    let id2 = verify_with_jwks(&h, &id_token)
        .await
        .expect("the refreshed ID token verifies");
    for claim in ["sub", "iss", "aud", "azp", "auth_time"] {
        assert_eq!(id2[claim], id1[claim], "{claim} unchanged");
    }
    assert_eq!(id2["iss"], h.issuer.as_str());
    assert_eq!(id2["aud"], c1.id.as_str());
    assert_eq!(id2["iat"].as_i64(), Some(T0 + 30), "a new token");
    assert!(id2.get("nonce").is_none(), "no nonce on refresh: {id2}");
    let (header, _) = jwt_parts(&id_token);
    assert_eq!(header["alg"], "RS256");
    let at_hash = latchkey_e2e::latchkey_core::jwt::half_hash(
        latchkey_e2e::latchkey_core::model::Alg::RS256,
        &r.must("access_token"),
    );
    assert_eq!(
        id2["at_hash"],
        at_hash.as_str(),
        "at_hash binds the new access token"
    );
}

// ------------------------------------------------------------------------------------
// CC
// ------------------------------------------------------------------------------------

/// A confidential client that may use client_credentials next to the user grants, so
/// "no refresh token" is a decision of the grant, not of the client's registration.
async fn machine(h: &Harness) -> TestClient {
    h.confidential(
        &[
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ],
        "https://m2m.test/cb",
        &["openid", "api"],
    )
    .await
    .expect("machine client")
}

#[tokio::test]
async fn cc_01_client_credentials_returns_an_access_token_without_refresh_or_id_token() {
    let World { h, .. } = world().await;
    let m = machine(&h).await;
    for form in [
        vec![("grant_type", "client_credentials"), ("scope", "api")],
        vec![("grant_type", "client_credentials")],
    ] {
        let r = token(&h, &m, &form).await.unwrap();
        assert_token_success(&r);
        assert!(
            r.json.get("refresh_token").is_none(),
            "no refresh token: {}",
            r.text
        );
        assert!(r.json.get("id_token").is_none(), "no ID token: {}", r.text);
        assert_eq!(
            r.str("scope"),
            Some("api"),
            "the default is the client's non-user scopes"
        );
        let intro = h.introspect(&m, &r.must("access_token")).await.unwrap();
        assert_eq!(intro["active"], true);
        assert_eq!(intro["client_id"], m.id.as_str());
    }
    // User scopes make no sense without a user.
    let r = token(
        &h,
        &m,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "openid api"),
        ],
    )
    .await
    .unwrap();
    assert_oauth_error(&r, 400, "invalid_scope");
    assert_eq!(
        token_rows(&h, &m.id).await.unwrap(),
        (0, 0, 0),
        "no session rows for a machine"
    );
}

#[tokio::test]
async fn cc_02_a_public_client_asking_for_client_credentials_gets_unauthorized_client() {
    let World { h, .. } = world().await;
    let p1 = h
        .public(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "http://127.0.0.1/cb",
            &["openid", "api"],
        )
        .await
        .unwrap();
    let r = token(
        &h,
        &p1,
        &[("grant_type", "client_credentials"), ("scope", "api")],
    )
    .await
    .unwrap();
    assert_oauth_error(&r, 400, "unauthorized_client");
    assert_eq!(token_rows(&h, &p1.id).await.unwrap(), (0, 0, 0));

    // And no public client can be registered for the grant in the first place.
    let refused = h
        .manager
        .client_create(
            "test",
            NewClient {
                name: "Public machine".into(),
                client_type: Some(ClientType::Public),
                grant_types: vec![GrantType::ClientCredentials],
                allowed_scopes: vec!["api".into()],
                ..Default::default()
            },
        )
        .await;
    assert!(
        refused.is_err(),
        "a public client_credentials client is refused"
    );
}

#[tokio::test]
async fn cc_03_a_scope_outside_the_clients_allowed_scopes_is_invalid_scope() {
    let World { h, .. } = world().await;
    let m = machine(&h).await;
    // `admin` exists but is not allowed for the client; `profile` is a user scope it
    // does not have; `nope` does not exist.
    for scope in ["admin", "api admin", "profile", "nope", "api\"x"] {
        let r = token(
            &h,
            &m,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await
        .unwrap();
        assert_oauth_error(&r, 400, "invalid_scope");
        assert!(r.json.get("access_token").is_none());
    }
}

#[tokio::test]
async fn cc_04_client_credentials_tokens_carry_a_client_namespaced_sub_that_cannot_collide_with_a_user(
) {
    let World { h, .. } = world().await;
    let alice = h.manager.user_get(USER.0).await.unwrap();
    let m = machine(&h).await;
    // The server, not the client, chooses the client_id (there is no field to ask for one).
    assert_ne!(m.id, alice.id);
    let r = token(
        &h,
        &m,
        &[("grant_type", "client_credentials"), ("scope", "api")],
    )
    .await
    .unwrap();
    assert_token_success(&r);
    let at = r.must("access_token");
    let claims = verify_with_jwks(&h, &at).await.unwrap();
    assert_eq!(claims["client_id"], m.id.as_str());
    assert_eq!(claims["sub"], format!("client:{}", m.id));
    assert!(
        claims.get("sid").is_none() && claims.get("auth_time").is_none(),
        "no user session: {claims}"
    );
    for u in h.manager.users_list().await.unwrap() {
        assert!(
            !u.id.starts_with("client:"),
            "user subs live in another namespace"
        );
        assert_ne!(claims["sub"], u.id.as_str());
    }
    let intro = h.introspect(&m, &at).await.unwrap();
    assert_eq!(intro["sub"], format!("client:{}", m.id));
    assert!(
        intro.get("username").is_none(),
        "not mistaken for a user: {intro}"
    );
    // It is not a user's token: userinfo has nothing to say about it.
    let ui = userinfo_get(&h, &at).await.unwrap();
    assert!(
        ui.status == 401 || ui.status == 403,
        "userinfo refuses a client token: {}",
        ui.status
    );
}
