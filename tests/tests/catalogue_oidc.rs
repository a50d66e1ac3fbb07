//! Catalogue §1.9 OI: discovery, JWKS, ID token, userinfo, key rotation and
//! RP-initiated logout, end to end against a real server on loopback.
//!
//! Not built, so not tested here: OI-05 (dynamic client registration) and OI-08 (token
//! exchange: no access token for another resource server can be issued). OI-11 (a
//! client's `jwks_uri` re-fetched on an unknown kid) is in `client_jwks_uri.rs`.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::manage::ClientUpdate;
use latchkey_e2e::latchkey_core::model::Alg;
use latchkey_e2e::{Harness, TestClient};
use serde_json::{json, Value};
use std::collections::HashSet;

const USER: (&str, &str) = ("alice", "correct horse battery");
const BOB: (&str, &str) = ("bob", "another long passphrase");
const T0: i64 = 1_700_000_000;
const BYE: &str = "https://c1.test/bye";

type World = latchkey_e2e::catalogue::Catalogue;

async fn world() -> World {
    World::start().await
}

async fn world_on(h: Harness) -> World {
    World::on(h).await
}

async fn get(h: &Harness, path: &str) -> Reply {
    Reply::read(h.http().get(h.url(path)).send().await.expect("GET"))
        .await
        .expect("read")
}

/// Every metadata name registered for OpenID Provider / OAuth AS metadata that a server
/// like this one could publish (OIDC Discovery §3, RFC 8414 §2, RFC 8628 §4, RFC 9207 §3,
/// RFC 7009/7662 via RFC 8414 §2, OIDC RP-Initiated Logout §2.1, OIDC Prompt Create).
const KNOWN_METADATA: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "id_token_encryption_alg_values_supported",
    "id_token_encryption_enc_values_supported",
    "userinfo_signing_alg_values_supported",
    "userinfo_encryption_alg_values_supported",
    "userinfo_encryption_enc_values_supported",
    "request_object_signing_alg_values_supported",
    "request_object_encryption_alg_values_supported",
    "request_object_encryption_enc_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    // Latchkey's own member (RFC 8414 §2 allows more): where its admin API lives (AD-20).
    "latchkey_admin_api",
    "display_values_supported",
    "claim_types_supported",
    "claims_supported",
    "service_documentation",
    "claims_locales_supported",
    "ui_locales_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported",
    "device_authorization_endpoint",
    "authorization_response_iss_parameter_supported",
    "end_session_endpoint",
    "prompt_values_supported",
    // RFC 9449 §5.1.
    "dpop_signing_alg_values_supported",
    // RFC 9126 §5.
    "pushed_authorization_request_endpoint",
    "require_pushed_authorization_requests",
];

const ENDPOINTS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "introspection_endpoint",
    "revocation_endpoint",
    "device_authorization_endpoint",
    "end_session_endpoint",
    "pushed_authorization_request_endpoint",
];

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn oi_01_openid_configuration_has_the_exact_issuer_https_endpoints_and_only_known_required_and_safe_values(
) {
    let World { h, .. } = world_on(Harness::start_tls().await.expect("TLS server")).await;
    let r = get(&h, "/.well-known/openid-configuration").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let m = r.json.as_object().expect("an object");

    assert_eq!(
        m["issuer"].as_str(),
        Some(h.issuer.as_str()),
        "byte-equal to the configured issuer"
    );
    assert!(!h.issuer.ends_with('/'));
    for e in ENDPOINTS {
        let u = m[*e].as_str().unwrap_or_else(|| panic!("{e} missing"));
        assert!(
            u.starts_with("https://") && u.starts_with(&h.issuer),
            "{e} = {u}"
        );
    }
    for required in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(m.contains_key(required), "{required} is required");
    }
    assert!(strings(&m["response_types_supported"]).contains(&"code"));
    assert_eq!(
        strings(&m["response_types_supported"]),
        vec!["code"],
        "no implicit or hybrid"
    );
    let algs = strings(&m["id_token_signing_alg_values_supported"]);
    assert!(
        algs.contains(&"RS256") && !algs.contains(&"none"),
        "{algs:?}"
    );
    let assertion_algs = strings(&m["token_endpoint_auth_signing_alg_values_supported"]);
    assert!(
        !assertion_algs
            .iter()
            .any(|a| *a == "none" || a.starts_with("HS")),
        "{assertion_algs:?}"
    );
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        m["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    let grants = strings(&m["grant_types_supported"]);
    assert!(
        !grants.contains(&"implicit") && !grants.contains(&"password"),
        "{grants:?}"
    );
    assert!(!strings(&m["introspection_endpoint_auth_methods_supported"]).contains(&"none"));
    let unknown: Vec<&String> = m
        .keys()
        .filter(|k| !KNOWN_METADATA.contains(&k.as_str()))
        .collect();
    assert!(unknown.is_empty(), "unknown metadata: {unknown:?}");
}

#[tokio::test]
async fn oi_02_oauth_authorization_server_metadata_has_the_same_issuer_and_endpoints() {
    let World { h, .. } = world_on(Harness::start_tls().await.expect("TLS server")).await;
    let oidc = get(&h, "/.well-known/openid-configuration").await.json;
    let r = get(&h, "/.well-known/oauth-authorization-server").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(r.json["issuer"].as_str(), Some(h.issuer.as_str()));
    for e in ENDPOINTS {
        assert_eq!(r.json[*e], oidc[*e], "{e}");
    }
    assert_eq!(r.json["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        r.json["authorization_response_iss_parameter_supported"],
        json!(true)
    );
}

#[tokio::test]
async fn oi_03_the_jwks_has_unique_kids_public_asymmetric_keys_only_and_a_cache_lifetime() {
    let World { h, .. } = world().await;
    let r = get(&h, "/jwks").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let cc = r.header("cache-control").unwrap_or_default().to_string();
    let max_age = cc
        .split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(max_age.is_some_and(|a| a > 0), "Cache-Control: {cc:?}");

    let keys = r.json["keys"].as_array().expect("keys").clone();
    assert!(!keys.is_empty());
    let mut kids = HashSet::new();
    for k in &keys {
        let kid = k["kid"].as_str().expect("kid");
        assert!(kids.insert(kid.to_string()), "duplicate kid {kid}");
        let kty = k["kty"].as_str().expect("kty");
        assert!(
            matches!(kty, "RSA" | "EC" | "OKP"),
            "asymmetric only: {kty}"
        );
        assert!(
            k.get("use").is_some() || k.get("alg").is_some(),
            "use or alg on {kid}"
        );
        if let Some(u) = k.get("use") {
            assert_eq!(u, "sig");
        }
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(k.get(private).is_none(), "{kid} leaks {private}");
        }
        assert_eq!(
            jwt::jwk_alg(k).map(|a| a.as_str().to_string()),
            k["alg"].as_str().map(str::to_string)
        );
    }
    assert!(
        keys.iter().any(|k| k["alg"] == "RS256"),
        "RS256 is always available"
    );
}

#[tokio::test]
async fn oi_04_the_id_token_of_a_code_flow_verifies_and_carries_exact_iss_aud_azp_times_nonce_at_hash_auth_time_and_a_stable_sub(
) {
    let World { h, c1, .. } = world().await;
    let now = latchkey_e2e::latchkey_core::clock::Clock::now(
        &latchkey_e2e::latchkey_core::clock::SystemClock,
    );

    // With nonce and max_age.
    let (code, verifier) = code_with(
        &h,
        &h.browser(),
        &c1,
        "openid profile",
        &[("nonce", "n-0S6_WzA2Mj"), ("max_age", "600")],
        USER,
    )
    .await
    .unwrap();
    let t = redeem(&h, &c1, &code, &verifier).await.unwrap();
    assert_eq!(t.status, 200, "{}", t.text);
    let id_token = t.must("id_token");
    let (header, _) = jwt_parts(&id_token);
    let claims = verify_with_jwks(&h, &id_token)
        .await
        .expect("signature verifies with the JWKS key named by kid");
    let jwks = get(&h, "/jwks").await.json;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid is published")
        .clone();
    assert_eq!(header["alg"], key["alg"], "the algorithm is the key's");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], h.issuer.as_str());
    match &claims["aud"] {
        Value::String(a) => assert_eq!(a, &c1.id),
        Value::Array(a) => assert!(a.contains(&json!(c1.id))),
        other => panic!("aud {other}"),
    }
    assert_eq!(claims["azp"], c1.id.as_str());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(
        exp > iat && (iat - now).abs() <= 60,
        "iat {iat} ≈ now {now}, exp {exp}"
    );
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj", "nonce echoed");
    let at_hash = jwt::half_hash(Alg::RS256, &t.must("access_token"));
    assert_eq!(claims["at_hash"], at_hash.as_str());
    let auth_time = claims["auth_time"]
        .as_i64()
        .expect("auth_time when max_age was sent");
    assert!(auth_time <= iat && (auth_time - now).abs() <= 60);
    let sub = claims["sub"].as_str().expect("sub").to_string();
    assert!(
        !sub.is_empty() && sub.len() <= 255 && sub.is_ascii(),
        "{sub}"
    );

    // Without nonce: none in the token. Same user again: the same sub.
    let (code, verifier) = code_with(&h, &h.browser(), &c1, "openid", &[], USER)
        .await
        .unwrap();
    let t2 = redeem(&h, &c1, &code, &verifier).await.unwrap();
    let c2 = verify_with_jwks(&h, &t2.must("id_token")).await.unwrap();
    assert!(c2.get("nonce").is_none(), "no nonce unless sent: {c2}");
    assert_eq!(c2["sub"], sub.as_str(), "sub is stable per user");

    // Another user: another sub.
    let (code, verifier) = code_with(&h, &h.browser(), &c1, "openid", &[], BOB)
        .await
        .unwrap();
    let t3 = redeem(&h, &c1, &code, &verifier).await.unwrap();
    let c3 = verify_with_jwks(&h, &t3.must("id_token")).await.unwrap();
    assert_ne!(c3["sub"], sub.as_str());

    // A tampered token does not verify.
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut forged = claims.clone();
    forged["sub"] = c3["sub"].clone();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        latchkey_e2e::latchkey_core::crypto::b64url(forged.to_string().as_bytes()),
        parts[2]
    );
    assert!(verify_with_jwks(&h, &forged).await.is_err());
}

/// The access and ID token of a fresh flow.
async fn tokens(h: &Harness, client: &TestClient, scope: &str, user: (&str, &str)) -> Value {
    h.code_flow_tokens(client, scope, user)
        .await
        .expect("code flow")
}

#[tokio::test]
async fn oi_06_userinfo_answers_get_with_header_post_with_header_and_post_with_a_form_body() {
    let World { h, c1, .. } = world().await;
    let t = tokens(&h, &c1, "openid profile email", USER).await;
    let at = t["access_token"].as_str().unwrap();
    let sub = claims_of(t["id_token"].as_str().unwrap())["sub"].clone();
    let http = h.http();
    let replies = [
        Reply::read(
            http.get(h.url("/userinfo"))
                .bearer_auth(at)
                .send()
                .await
                .unwrap(),
        )
        .await
        .unwrap(),
        Reply::read(
            http.post(h.url("/userinfo"))
                .bearer_auth(at)
                .send()
                .await
                .unwrap(),
        )
        .await
        .unwrap(),
        Reply::read(
            http.post(h.url("/userinfo"))
                .form(&[("access_token", at)])
                .send()
                .await
                .unwrap(),
        )
        .await
        .unwrap(),
    ];
    for (how, r) in ["GET header", "POST header", "POST body"]
        .iter()
        .zip(replies)
    {
        assert_eq!(r.status, 200, "{how}: {}", r.text);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{how}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{how}");
        assert_eq!(r.json["sub"], sub, "{how}: the ID token's sub");
        assert_eq!(r.json["email"], "alice@example.test", "{how}");
    }
}

fn www(r: &Reply) -> String {
    r.header("www-authenticate").unwrap_or_default().to_string()
}

#[tokio::test]
async fn oi_07_userinfo_refuses_expired_revoked_missing_scope_less_and_query_string_tokens_with_rfc_6750_errors(
) {
    let World { h, c1, .. } = world_on(Harness::start_with_clock(T0).await.expect("server")).await;
    let good = tokens(&h, &c1, "openid profile", USER).await;
    let good_at = good["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo_get(&h, &good_at).await.unwrap().status, 200);

    // No token at all: a bare challenge, no error code.
    let r = Reply::read(h.http().get(h.url("/userinfo")).send().await.unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(
        www(&r).starts_with("Bearer") && !www(&r).contains("error="),
        "{}",
        www(&r)
    );

    // Garbage and revoked tokens: invalid_token.
    let revoked = tokens(&h, &c1, "openid", USER).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        post_form(&h, "/revoke", Some(&c1), &[("token", revoked.as_str())])
            .await
            .unwrap()
            .status,
        200
    );
    let by_session = tokens(&h, &c1, "openid", USER).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let sid = claims_of(&by_session)["sid"].as_str().unwrap().to_string();
    h.manager.session_revoke("test", &sid).await.unwrap();
    for (what, token) in [
        ("garbage", "garbage"),
        ("revoked by /revoke", &revoked),
        ("session revoked", &by_session),
    ] {
        let r = userinfo_get(&h, token).await.unwrap();
        assert_eq!(r.status, 401, "{what}");
        assert!(
            www(&r).starts_with("Bearer") && www(&r).contains("error=\"invalid_token\""),
            "{what}: {}",
            www(&r)
        );
    }

    // A token without `openid`: 403 insufficient_scope.
    let api_only = tokens(&h, &c1, "api", USER).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = userinfo_get(&h, &api_only).await.unwrap();
    assert_eq!(r.status, 403);
    assert!(
        www(&r).contains("error=\"insufficient_scope\""),
        "{}",
        www(&r)
    );

    // In the query string: refused outright, with or without a header.
    let q = format!("/userinfo?access_token={good_at}");
    for with_header in [false, true] {
        let mut req = h.http().get(h.url(&q));
        if with_header {
            req = req.bearer_auth(&good_at);
        }
        let r = Reply::read(req.send().await.unwrap()).await.unwrap();
        assert_oauth_error(&r, 400, "invalid_request");
        assert!(
            www(&r).starts_with("Bearer") && www(&r).contains("error=\"invalid_request\""),
            "{}",
            www(&r)
        );
    }
    // Two methods at once (RFC 6750 §2): refused.
    let r = Reply::read(
        h.http()
            .post(h.url("/userinfo"))
            .bearer_auth(&good_at)
            .form(&[("access_token", good_at.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_oauth_error(&r, 400, "invalid_request");
    assert!(www(&r).contains("error=\"invalid_request\""), "{}", www(&r));

    // Expired: past the access token's exp on the server's clock.
    let exp = claims_of(&good_at)["exp"].as_i64().unwrap();
    h.clock.as_ref().unwrap().set(exp + 1);
    let r = userinfo_get(&h, &good_at).await.unwrap();
    assert_eq!(r.status, 401);
    assert!(www(&r).contains("error=\"invalid_token\""), "{}", www(&r));
}

#[tokio::test]
async fn oi_09_userinfo_and_the_id_token_release_only_the_claims_of_the_granted_scopes() {
    let World { h, c1, .. } = world().await;
    let profile = ["name", "preferred_username", "updated_at"];
    let email = ["email", "email_verified"];
    for (scope, with_profile, with_email) in [
        ("openid", false, false),
        ("openid email", false, true),
        ("openid profile", true, false),
        ("openid profile email", true, true),
    ] {
        let t = tokens(&h, &c1, scope, USER).await;
        let ui = userinfo_get(&h, t["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(ui.status, 200);
        let id = verify_with_jwks(&h, t["id_token"].as_str().unwrap())
            .await
            .unwrap();
        for (doc, what) in [(&ui.json, "userinfo"), (&id, "ID token")] {
            for c in profile {
                assert_eq!(
                    doc.get(c).is_some(),
                    with_profile,
                    "{what} for {scope:?}: {c}"
                );
            }
            for c in email {
                assert_eq!(
                    doc.get(c).is_some(),
                    with_email,
                    "{what} for {scope:?}: {c}"
                );
            }
        }
        if with_profile {
            assert_eq!(ui.json["preferred_username"], "alice");
        }
        if with_email {
            assert_eq!(ui.json["email"], "alice@example.test");
        }
        if scope == "openid" {
            let keys: Vec<&String> = ui.json.as_object().unwrap().keys().collect();
            assert_eq!(keys, vec!["sub"], "only sub for openid alone");
        }
    }
    // A narrowed access token (refresh with less scope) releases less.
    let t = tokens(&h, &c1, "openid profile email", USER).await;
    let r = refresh(
        &h,
        &c1,
        t["refresh_token"].as_str().unwrap(),
        Some("openid"),
    )
    .await
    .unwrap();
    let ui = userinfo_get(&h, &r.must("access_token")).await.unwrap();
    assert_eq!(ui.status, 200);
    assert!(
        ui.json.get("email").is_none() && ui.json.get("name").is_none(),
        "{}",
        ui.text
    );
    // address and phone are not supported: not advertised, so never released.
    let meta = get(&h, "/.well-known/openid-configuration").await.json;
    for s in ["address", "phone"] {
        assert!(!strings(&meta["scopes_supported"]).contains(&s));
    }
    for c in ["address", "phone_number"] {
        assert!(!strings(&meta["claims_supported"]).contains(&c));
    }
}

#[tokio::test]
async fn oi_10_rotating_keys_during_issuance_publishes_old_and_new_keys_signs_with_the_new_and_old_tokens_stay_valid(
) {
    let World { h, c1, rs, .. } = world().await;
    let before = tokens(&h, &c1, "openid api", USER).await;
    let (old_at, old_id) = (
        before["access_token"].as_str().unwrap().to_string(),
        before["id_token"].as_str().unwrap().to_string(),
    );
    let old_at_kid = jwt_parts(&old_at).0["kid"].as_str().unwrap().to_string();
    let old_id_kid = jwt_parts(&old_id).0["kid"].as_str().unwrap().to_string();

    // Machine tokens are issued continuously while both algorithms rotate.
    let issue = |h: &Harness, rs: &TestClient| {
        let (http, url, id, secret) = (h.http(), h.url("/token"), rs.id.clone(), rs.secret.clone());
        async move {
            let mut out = Vec::new();
            for _ in 0..15 {
                let r = http
                    .post(&url)
                    .basic_auth(&id, secret.as_deref())
                    .form(&[("grant_type", "client_credentials"), ("scope", "api")])
                    .send()
                    .await
                    .expect("token request");
                out.push(Reply::read(r).await.expect("read"));
            }
            out
        }
    };
    let rotate = async {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        h.provider
            .rotate_alg(Alg::ES256, "test")
            .await
            .expect("rotate ES256");
        h.provider
            .rotate_alg(Alg::RS256, "test")
            .await
            .expect("rotate RS256");
    };
    let (a, b, ()) = tokio::join!(issue(&h, &rs), issue(&h, &rs), rotate);

    let jwks = get(&h, "/jwks").await.json;
    let kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_string))
        .collect();
    assert!(
        kids.contains(&old_at_kid) && kids.contains(&old_id_kid),
        "old keys still published: {kids:?}"
    );

    let after = tokens(&h, &c1, "openid api", USER).await;
    let new_at = after["access_token"].as_str().unwrap();
    let new_id = after["id_token"].as_str().unwrap();
    let new_at_kid = jwt_parts(new_at).0["kid"].as_str().unwrap().to_string();
    let new_id_kid = jwt_parts(new_id).0["kid"].as_str().unwrap().to_string();
    assert_ne!(
        new_at_kid, old_at_kid,
        "access tokens are signed with the new ES256 key"
    );
    assert_ne!(
        new_id_kid, old_id_kid,
        "ID tokens are signed with the new RS256 key"
    );
    assert!(
        kids.contains(&new_at_kid) && kids.contains(&new_id_kid),
        "new keys are published"
    );

    // Every token, old, new or issued mid-rotation, verifies against the JWKS and is active.
    for t in [&old_at, &old_id, &new_at.to_string(), &new_id.to_string()] {
        verify_with_jwks(&h, t)
            .await
            .expect("verifies with the published keys");
    }
    assert_eq!(h.introspect(&rs, &old_at).await.unwrap()["active"], true);
    assert_eq!(h.introspect(&rs, new_at).await.unwrap()["active"], true);
    let mut mid_kids = HashSet::new();
    for r in a.iter().chain(b.iter()) {
        assert_eq!(r.status, 200, "no failure during rotation: {}", r.text);
        let at = r.must("access_token");
        verify_with_jwks(&h, &at)
            .await
            .expect("mid-rotation token verifies");
        assert_eq!(h.introspect(&rs, &at).await.unwrap()["active"], true);
        mid_kids.insert(jwt_parts(&at).0["kid"].as_str().unwrap().to_string());
    }
    assert!(
        mid_kids
            .iter()
            .all(|k| *k == old_at_kid || *k == new_at_kid),
        "{mid_kids:?}"
    );
}

/// An RP-initiated logout request; returns the reply (redirects are not followed).
async fn logout(h: &Harness, params: &[(&str, &str)]) -> Reply {
    let mut u = url::Url::parse(&h.url("/logout")).unwrap();
    for (k, v) in params {
        u.query_pairs_mut().append_pair(k, v);
    }
    Reply::read(h.http().get(u.as_str()).send().await.unwrap())
        .await
        .unwrap()
}

fn assert_error_page(r: &Reply, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text);
    assert!(r.header("location").is_none(), "{what}: no redirect");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{what}"
    );
    assert!(r
        .header("content-security-policy")
        .is_some_and(|c| c.contains("frame-ancestors 'none'")));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        !r.text.contains("<script") && !r.text.contains("evil.test"),
        "{what}: input not reflected raw"
    );
}

#[tokio::test]
async fn oi_12_rp_initiated_logout_with_an_unregistered_uri_a_tampered_hint_or_an_added_query_is_an_error_page(
) {
    let World { h, c1, c2, .. } = world().await;
    h.manager
        .client_update(
            "test",
            &c1.id,
            ClientUpdate {
                post_logout_redirect_uris: Some(vec![BYE.into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id_token = tokens(&h, &c1, "openid", USER).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let c2_id_token = tokens(&h, &c2, "openid", USER).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Control: the registered URI, exactly, with a genuine hint.
    let ok = logout(
        &h,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "s-1"),
        ],
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(
        ok.header("location"),
        Some(format!("{BYE}?state=s-1").as_str())
    );
    let ok = logout(
        &h,
        &[("client_id", &c1.id), ("post_logout_redirect_uri", BYE)],
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(ok.header("location"), Some(BYE));

    // Unregistered target.
    for target in [
        "https://evil.test/bye",
        "https://c1.test/cb",
        "https://c1.test/bye/",
        "<script>x</script>",
    ] {
        let r = logout(
            &h,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", target),
            ],
        )
        .await;
        assert_error_page(&r, target);
        let r = logout(
            &h,
            &[("client_id", &c1.id), ("post_logout_redirect_uri", target)],
        )
        .await;
        assert_error_page(&r, target);
    }
    // The registered URI with a query added.
    for target in [format!("{BYE}?x=1"), format!("{BYE}?"), format!("{BYE}#f")] {
        let r = logout(
            &h,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", &target),
            ],
        )
        .await;
        assert_error_page(&r, &target);
    }

    // Tampered hints, each with the registered URI.
    let parts: Vec<&str> = id_token.split('.').collect();
    let b64 = |v: &Value| latchkey_e2e::latchkey_core::crypto::b64url(v.to_string().as_bytes());
    let mut edited = claims_of(&id_token);
    edited["sub"] = json!("someone-else");
    let mut none_header = jwt_parts(&id_token).0;
    none_header["alg"] = json!("none");
    let mut flipped = parts[2].to_string();
    let last = if flipped.ends_with('A') { 'B' } else { 'A' };
    flipped.pop();
    flipped.push(last);
    let tampered = [
        (
            "claims edited",
            format!("{}.{}.{}", parts[0], b64(&edited), parts[2]),
        ),
        (
            "signature altered",
            format!("{}.{}.{}", parts[0], parts[1], flipped),
        ),
        ("signature removed", format!("{}.{}.", parts[0], parts[1])),
        ("alg none", format!("{}.{}.", b64(&none_header), parts[1])),
        ("not a JWT", "garbage".to_string()),
    ];
    for (what, hint) in &tampered {
        let r = logout(
            &h,
            &[("id_token_hint", hint), ("post_logout_redirect_uri", BYE)],
        )
        .await;
        assert_error_page(&r, what);
    }
    // Another client's genuine hint does not unlock C1's URI.
    let r = logout(
        &h,
        &[
            ("id_token_hint", &c2_id_token),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert_error_page(&r, "C2's hint");
    let r = logout(
        &h,
        &[
            ("id_token_hint", &c2_id_token),
            ("client_id", &c1.id),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert_error_page(&r, "C2's hint with C1's client_id");
    // Without a hint or client_id nobody knows whose URI it is.
    let r = logout(&h, &[("post_logout_redirect_uri", BYE)]).await;
    assert_error_page(&r, "no client");
}
