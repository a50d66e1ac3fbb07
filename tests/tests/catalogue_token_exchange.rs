//! Catalogue §1.12 TX (token exchange, RFC 8693) and the RFC 8707 audience of the other
//! grants, end to end against a real server on loopback — and on PostgreSQL, since
//! `pg_catalogue.rs` compiles this file a second time.
//!
//! Each RFC 8693 §5 / RFC 9700 pitfall of issue 13 is a named test. Time is the fixed
//! clock, started at the wall clock's "now" so that a relying party using the real
//! clock (the JWKS test) agrees with the server.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::jwt;
use latchkey_e2e::latchkey_core::manage::NewExchangePolicy;
use latchkey_e2e::latchkey_core::model::{Alg, AuditFilter, GrantType};
use latchkey_e2e::*;
use serde_json::{json, Value};

const ALICE: (&str, &str) = ("alice", "correct horse battery");
const TARGET: &str = "https://billing.example/api";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const IDT: &str = "urn:ietf:params:oauth:token-type:id_token";
const RT: &str = "urn:ietf:params:oauth:token-type:refresh_token";
const BAD_SUBJECT: &str = "the subject token is invalid or may not be exchanged by this client";

struct Tx {
    h: Harness,
    /// The user's application (holds the subject tokens).
    web: TestClient,
    /// The service that exchanges (the policy's requester).
    orders: TestClient,
    /// A confidential client no policy names.
    stranger: TestClient,
    public: TestClient,
    alice: String,
    policy: String,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(1_700_000_000)
}

async fn tx() -> Tx {
    let h = Harness::start_with_clock(now()).await.expect("server");
    let alice = h.user(ALICE.0, ALICE.1).await.expect("alice");
    h.scope("billing:read", "Read invoices")
        .await
        .expect("scope");
    h.scope("orders:write", "Place orders")
        .await
        .expect("scope");
    let web = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "https://web.test/cb",
            &["openid", "profile", "billing:read", "orders:write"],
        )
        .await
        .expect("web");
    let orders = h
        .confidential(&[GrantType::ClientCredentials], "", &["billing:read"])
        .await
        .expect("orders");
    let stranger = h
        .confidential(&[GrantType::ClientCredentials], "", &["billing:read"])
        .await
        .expect("stranger");
    let public = h
        .public(
            &[GrantType::AuthorizationCode],
            "http://127.0.0.1/cb",
            &["openid"],
        )
        .await
        .expect("public");
    let policy = h
        .provider
        .manager()
        .exchange_policy_create(
            "test",
            NewExchangePolicy {
                requester_client_id: orders.id.clone(),
                subject_client_ids: vec![web.id.clone(), orders.id.clone()],
                subject_token_types: Some(vec!["access_token".into(), "id_token".into()]),
                targets: vec![TARGET.into(), "billing".into()],
                mode: Some("either".into()),
                issued_token_types: Some(vec!["access_token".into(), "id_token".into()]),
                max_act_depth: Some(2),
                ..Default::default()
            },
        )
        .await
        .expect("policy");
    Tx {
        h,
        web,
        orders,
        stranger,
        public,
        alice,
        policy: policy.id,
    }
}

/// Alice signs in to `web`, which asks for a token for the `orders` service (RFC 8707
/// `audience`), as a front end does before calling its backend.
async fn user_tokens(t: &Tx, scope: &str) -> Value {
    let b = t.h.browser();
    let (code, verifier) = code_with(&t.h, &b, &t.web, scope, &[], ALICE)
        .await
        .expect("code");
    let r = token(
        &t.h,
        &t.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", t.web.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("audience", t.orders.id.as_str()),
        ],
    )
    .await
    .expect("token");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

async fn subject(t: &Tx) -> String {
    user_tokens(t, "openid profile billing:read orders:write").await["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

async fn exchange(t: &Tx, client: &TestClient, form: &[(&str, &str)]) -> Reply {
    let mut f = vec![("grant_type", GRANT)];
    f.extend_from_slice(form);
    token(&t.h, client, &f).await.expect("exchange request")
}

async fn exchange_for(t: &Tx, client: &TestClient, subject: &str, extra: &[(&str, &str)]) -> Reply {
    let mut f = vec![
        ("subject_token", subject),
        ("subject_token_type", AT),
        ("audience", TARGET),
    ];
    f.extend_from_slice(extra);
    exchange(t, client, &f).await
}

async fn client_credentials(t: &Tx, client: &TestClient) -> String {
    let r = token(&t.h, client, &[("grant_type", "client_credentials")])
        .await
        .expect("cc");
    assert_eq!(r.status, 200, "{}", r.text);
    r.must("access_token")
}

fn advance(h: &Harness, secs: i64) {
    h.clock.as_ref().expect("fixed clock").advance(secs);
}

async fn mint(h: &Harness, claims: Value) -> String {
    let key = h.provider.signer(Alg::ES256).await.expect("signer");
    jwt::sign(&key, Some("at+jwt"), &claims).expect("sign")
}

async fn exchange_events(h: &Harness, action: &str) -> Vec<Value> {
    h.store
        .audit_list(&AuditFilter {
            action_prefix: Some(action.to_string()),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| serde_json::from_str(e.after.as_deref().unwrap_or("null")).unwrap_or(Value::Null))
        .collect()
}

fn assert_bad_subject(r: &Reply) {
    assert_oauth_error(r, 400, "invalid_request");
    assert_eq!(r.str("error_description"), Some(BAD_SUBJECT), "{}", r.text);
}

// ------------------------------------------------------------------------------------

/// TX-01: the happy path, and a relying party that knows nothing of Latchkey but its
/// JWKS verifies the exchanged token's signature, issuer and audience on its own.
#[tokio::test]
async fn tx_01_an_exchanged_token_is_narrower_and_a_relying_party_verifies_it_through_jwks() {
    let t = tx().await;
    let subject = subject(&t).await;
    let sub_claims = claims_of(&subject);
    assert_eq!(sub_claims["aud"], json!(t.orders.id), "RFC 8707 audience");

    let r = exchange_for(&t, &t.orders, &subject, &[("scope", "billing:read")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.str("issued_token_type"), Some(AT));
    assert_eq!(r.str("token_type"), Some("Bearer"));
    assert_eq!(r.str("scope"), Some("billing:read"));
    assert!(
        r.json.get("refresh_token").is_none(),
        "never a refresh token"
    );
    let new = r.must("access_token");
    let c = claims_of(&new);
    assert_eq!(c["sub"], json!(t.alice));
    assert_eq!(c["aud"], json!(TARGET));
    assert_eq!(c["client_id"], json!(t.orders.id));
    assert_eq!(
        c["sid"], sub_claims["sid"],
        "inherits the subject's session"
    );
    assert!(c.get("act").is_none(), "impersonation carries no act");
    assert!(c["exp"].as_i64() <= sub_claims["exp"].as_i64());

    // The relying party: JWKS over HTTP, then jsonwebtoken with its own clock.
    let jwks: jsonwebtoken::jwk::JwkSet =
        t.h.http()
            .get(t.h.url("/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let header = jsonwebtoken::decode_header(&new).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[TARGET]);
    v.set_issuer(&[t.h.issuer.as_str()]);
    let data = jsonwebtoken::decode::<Value>(&new, &key, &v).expect("the RP accepts it");
    assert_eq!(data.claims["sub"], json!(t.alice));
    // Another audience is refused by the same relying party.
    let mut other = jsonwebtoken::Validation::new(header.alg);
    other.set_audience(&["https://elsewhere.example"]);
    assert!(jsonwebtoken::decode::<Value>(&new, &key, &other).is_err());
    // And the server's own introspection calls it active, with its lineage for admins.
    let admin = t.h.provider.introspect_as_admin(&new).await.unwrap();
    assert_eq!(admin["active"], json!(true));
    assert_eq!(
        admin["exchanged_from"][0]["parent_jti"], sub_claims["jti"],
        "{admin}"
    );
    assert_eq!(admin["exchanged_from"][0]["policy_id"], json!(t.policy));
}

#[tokio::test]
async fn discovery_advertises_the_token_exchange_grant() {
    let t = tx().await;
    let d: Value =
        t.h.http()
            .get(t.h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(d["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(GRANT)));
}

/// RFC 8693 §2.1: without client authentication a stolen token could be traded by
/// anyone; a public client, and a request without any client, are refused.
#[tokio::test]
async fn a_public_client_or_no_client_at_all_is_refused() {
    let t = tx().await;
    let subject = subject(&t).await;
    let r = exchange_for(&t, &t.public, &subject, &[]).await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    let anonymous = post_form(
        &t.h,
        "/token",
        None,
        &[
            ("grant_type", GRANT),
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("audience", TARGET),
        ],
    )
    .await
    .unwrap();
    assert_oauth_error(&anonymous, 401, "invalid_client");
    assert!(exchange_events(&t.h, "token.exchange").await.is_empty());
}

/// Deny by default: a confidential client no policy names may not exchange, and a
/// disabled policy allows nothing.
#[tokio::test]
async fn without_an_enabled_policy_nothing_is_exchanged() {
    let t = tx().await;
    let subject = subject(&t).await;
    let r = exchange_for(&t, &t.stranger, &subject, &[]).await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    t.h.provider
        .manager()
        .exchange_policy_update(
            "test",
            &t.policy,
            latchkey_e2e::latchkey_core::manage::ExchangePolicyPatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r = exchange_for(&t, &t.orders, &subject, &[]).await;
    assert_oauth_error(&r, 400, "unauthorized_client");
}

/// A.5 #2: `subject_token_type` must say what the token really is.
#[tokio::test]
async fn a_declared_type_that_is_not_the_real_type_is_refused() {
    let t = tx().await;
    let tokens = user_tokens(&t, "openid billing:read").await;
    let at = tokens["access_token"].as_str().unwrap();
    let id = tokens["id_token"].as_str().unwrap();
    for (token, declared) in [
        (at, IDT),
        (id, AT),
        (at, "urn:ietf:params:oauth:token-type:jwt"),
    ] {
        let r = exchange(
            &t,
            &t.orders,
            &[
                ("subject_token", token),
                ("subject_token_type", declared),
                ("audience", TARGET),
            ],
        )
        .await;
        assert_bad_subject(&r);
    }
    // Declared rightly, the ID token is still refused here: its `aud` is web, and the
    // policy wants the requester named in the subject's audience.
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", id),
            ("subject_token_type", IDT),
            ("audience", TARGET),
        ],
    )
    .await;
    assert_bad_subject(&r);
}

/// A.5 #3: a refresh token is never a subject, whatever it is declared to be.
#[tokio::test]
async fn a_refresh_token_is_never_a_subject() {
    let t = tx().await;
    let tokens = user_tokens(&t, "openid billing:read").await;
    let rt = tokens["refresh_token"].as_str().expect("refresh token");
    for declared in [RT, AT] {
        let r = exchange(
            &t,
            &t.orders,
            &[
                ("subject_token", rt),
                ("subject_token_type", declared),
                ("audience", TARGET),
            ],
        )
        .await;
        assert_bad_subject(&r);
    }
    let r = exchange_for(
        &t,
        &t.orders,
        tokens["access_token"].as_str().unwrap(),
        &[("requested_token_type", RT)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
}

/// A.5 #4: only narrowing — an audience the policy does not name is `invalid_target`, a
/// scope the subject lacks (or an admin scope) `invalid_scope`.
#[tokio::test]
async fn widening_the_audience_or_the_scopes_is_refused() {
    let t = tx().await;
    let subject = user_tokens(&t, "openid billing:read").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut f = vec![
        ("subject_token", subject.as_str()),
        ("subject_token_type", AT),
        ("audience", "https://payroll.example/api"),
    ];
    assert_oauth_error(&exchange(&t, &t.orders, &f).await, 400, "invalid_target");
    f[2] = ("resource", "https://payroll.example/api");
    assert_oauth_error(&exchange(&t, &t.orders, &f).await, 400, "invalid_target");
    for scope in [
        "orders:write",
        "billing:read orders:write",
        "latchkey:admin",
    ] {
        let r = exchange_for(&t, &t.orders, &subject, &[("scope", scope)]).await;
        assert_oauth_error(&r, 400, "invalid_scope");
    }
    // Without `scope`, the new token carries what the subject has, never more.
    let r = exchange_for(&t, &t.orders, &subject, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.str("scope"), Some("openid billing:read"));
}

/// A.5 #5: never longer than the subject (no lifetime laundering by repeated
/// exchange), nor than the policy's cap.
#[tokio::test]
async fn an_exchanged_token_never_outlives_its_subject_nor_the_policy_cap() {
    let t = tx().await;
    let subject = subject(&t).await;
    let sub_exp = claims_of(&subject)["exp"].as_i64().unwrap();
    let r = exchange_for(&t, &t.orders, &subject, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["expires_in"].as_i64().unwrap() <= 300, "policy cap");
    // 100 s of the subject left: the new token gets at most those.
    advance(&t.h, sub_exp - t.h.provider.now() - 100);
    let r = exchange_for(&t, &t.orders, &subject, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["expires_in"], json!(100));
    assert_eq!(claims_of(&r.must("access_token"))["exp"], json!(sub_exp));
    // Exchanging the child again cannot stretch it either.
    let child = r.must("access_token");
    let again = exchange_for(&t, &t.orders, &child, &[]).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(
        claims_of(&again.must("access_token"))["exp"]
            .as_i64()
            .unwrap()
            <= sub_exp
    );
    // Past the subject's exp it is refused like any bad subject.
    advance(&t.h, 101);
    assert_bad_subject(&exchange_for(&t, &t.orders, &subject, &[]).await);
}

/// RFC 8693 §4.1 and A.5 #6: delegation names the actor in `act`, nesting the chain
/// from the subject's own `act`; the policy caps the depth (2 here).
#[tokio::test]
async fn the_act_chain_nests_and_is_capped_in_depth() {
    let t = tx().await;
    let subject = subject(&t).await;
    let actor = client_credentials(&t, &t.orders).await;
    let delegate = |s: String| {
        let t = &t;
        let actor = actor.clone();
        async move {
            exchange_for(
                t,
                &t.orders,
                &s,
                &[("actor_token", actor.as_str()), ("actor_token_type", AT)],
            )
            .await
        }
    };
    let one = delegate(subject.clone()).await;
    assert_eq!(one.status, 200, "{}", one.text);
    let one = one.must("access_token");
    let act = &claims_of(&one)["act"];
    assert_eq!(act["sub"], json!(format!("client:{}", t.orders.id)));
    assert_eq!(act["client_id"], json!(t.orders.id));
    assert!(act.get("act").is_none());
    let two = delegate(one).await;
    assert_eq!(two.status, 200, "{}", two.text);
    let two = two.must("access_token");
    assert_eq!(
        claims_of(&two)["act"]["act"]["client_id"],
        json!(t.orders.id),
        "the previous actor is nested"
    );
    let three = delegate(two.clone()).await;
    assert_bad_subject(&three);
    // Impersonating a delegated token keeps its chain (nothing is laundered).
    let kept = exchange_for(&t, &t.orders, &two, &[]).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(
        claims_of(&kept.must("access_token"))["act"],
        claims_of(&two)["act"]
    );
    // An actor token that is itself delegated is refused.
    let r = exchange_for(
        &t,
        &t.orders,
        &subject,
        &[("actor_token", two.as_str()), ("actor_token_type", AT)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
}

/// RFC 8693 §4.4: a subject's `may_act` names who may act for it; anyone else is
/// refused.
#[tokio::test]
async fn may_act_in_the_subject_is_enforced() {
    let t = tx().await;
    let now = t.h.provider.now();
    let subject_with = |may: Value| {
        let t = &t;
        async move {
            mint(
                &t.h,
                json!({
                    "iss": t.h.issuer, "sub": t.alice, "aud": t.orders.id,
                    "client_id": t.web.id, "iat": now, "exp": now + 300,
                    "jti": format!("may-act-{}", may["sub"]), "scope": "billing:read",
                    "may_act": may,
                }),
            )
            .await
        }
    };
    let actor = client_credentials(&t, &t.orders).await;
    let someone_else = subject_with(json!({"sub": "client:someone-else"})).await;
    let r = exchange_for(
        &t,
        &t.orders,
        &someone_else,
        &[("actor_token", actor.as_str()), ("actor_token_type", AT)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    let named =
        subject_with(json!({"sub": format!("client:{}", t.orders.id), "client_id": t.orders.id}))
            .await;
    let r = exchange_for(
        &t,
        &t.orders,
        &named,
        &[("actor_token", actor.as_str()), ("actor_token_type", AT)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A.5 #9: a revoked subject is refused (RFC 7009 revocation of the token, and the
/// revocation of its session).
#[tokio::test]
async fn a_revoked_subject_is_refused() {
    let t = tx().await;
    let subject = subject(&t).await;
    let revoked =
        t.h.post_basic("/revoke", &t.web, &[("token", subject.as_str())])
            .await
            .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    assert_bad_subject(&exchange_for(&t, &t.orders, &subject, &[]).await);

    let other = subject_after_session_revoke(&t).await;
    assert_bad_subject(&exchange_for(&t, &t.orders, &other, &[]).await);
}

async fn subject_after_session_revoke(t: &Tx) -> String {
    let s = subject(t).await;
    let sid = claims_of(&s)["sid"].as_str().unwrap().to_string();
    t.h.manager.session_revoke("test", &sid).await.unwrap();
    s
}

/// A.5 #9: revoking the subject reaches every token exchanged from it — through the
/// session (`sid` inherited) and through the lineage (the parent's `jti`), down the
/// chain.
#[tokio::test]
async fn revoking_the_subject_reaches_every_token_exchanged_from_it() {
    let t = tx().await;
    // By the parent token: RFC 7009 at /revoke.
    let subject = subject(&t).await;
    let child = exchange_for(&t, &t.orders, &subject, &[])
        .await
        .must("access_token");
    let grandchild = exchange_for(&t, &t.orders, &child, &[])
        .await
        .must("access_token");
    for tok in [&child, &grandchild] {
        assert_eq!(
            t.h.introspect(&t.orders, tok).await.unwrap()["active"],
            json!(true)
        );
    }
    let r =
        t.h.post_basic("/revoke", &t.web, &[("token", subject.as_str())])
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for tok in [&subject, &child, &grandchild] {
        assert_eq!(
            t.h.introspect(&t.orders, tok).await.unwrap(),
            json!({"active": false})
        );
    }
    // By the session (what the console's revoke does), an ID token subject included.
    let tokens = user_tokens(&t, "openid billing:read").await;
    let at = tokens["access_token"].as_str().unwrap();
    let child = exchange_for(&t, &t.orders, at, &[])
        .await
        .must("access_token");
    let delegated = exchange_for(
        &t,
        &t.orders,
        &child,
        &[
            (
                "actor_token",
                client_credentials(&t, &t.orders).await.as_str(),
            ),
            ("actor_token_type", AT),
        ],
    )
    .await
    .must("access_token");
    let sid = claims_of(at)["sid"].as_str().unwrap().to_string();
    t.h.manager.session_revoke("test", &sid).await.unwrap();
    for tok in [&child, &delegated] {
        assert_eq!(
            t.h.introspect(&t.orders, tok).await.unwrap(),
            json!({"active": false})
        );
    }
}

/// RFC 8693 §2.2.1 leaves refresh tokens to policy: none unless the policy names
/// `refresh_token`; then the exchanged access token comes with one whose family is the
/// requester's, for the granted audience only, never wider than the exchange, never with
/// an ID token, and alive only while the subject is: revoking the subject token, or the
/// subject's session, ends it and every token refreshed from it. A delegated exchange
/// (`act`) never gets one, and a policy cannot issue a refresh token on its own.
#[tokio::test]
async fn a_refresh_token_comes_with_an_exchange_only_when_a_policy_says_so_and_dies_with_the_subject(
) -> anyhow::Result<()> {
    use latchkey_e2e::latchkey_core::manage::ExchangePolicyPatch;
    let t = tx().await;
    let m = t.h.provider.manager();
    let subject_token = subject(&t).await;
    let r = exchange_for(&t, &t.orders, &subject_token, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json.get("refresh_token").is_none(), "{}", r.text);

    // A refresh token alone, or as a subject, is never allowed.
    for (issued, subjects) in [
        (Some(vec!["refresh_token".to_string()]), None),
        (None, Some(vec!["refresh_token".to_string()])),
    ] {
        let e = m
            .exchange_policy_update(
                "test",
                &t.policy,
                ExchangePolicyPatch {
                    issued_token_types: issued,
                    subject_token_types: subjects,
                    ..Default::default()
                },
            )
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("accepted"))?;
        assert!(
            matches!(
                e,
                latchkey_e2e::latchkey_core::error::ManageError::InvalidInput(_)
            ),
            "{e}"
        );
    }
    m.exchange_policy_update(
        "test",
        &t.policy,
        ExchangePolicyPatch {
            issued_token_types: Some(vec!["access_token".into(), "refresh_token".into()]),
            ..Default::default()
        },
    )
    .await?;

    let r = exchange_for(&t, &t.orders, &subject_token, &[("scope", "billing:read")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = r.must("refresh_token");
    let refresh = |rt: String, extra: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            let mut f = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt),
            ];
            f.extend(extra);
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(&t.h, &t.orders, &f).await
        }
    };
    let r = refresh(rt, vec![]).await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json.get("id_token").is_none(), "{}", r.text);
    let refreshed = r.must("access_token");
    let c = claims_of(&refreshed);
    assert_eq!(c["aud"], json!(TARGET));
    assert_eq!(c["client_id"], json!(t.orders.id));
    assert_eq!(c["sub"], json!(t.alice));
    assert_eq!(c["scope"], json!("billing:read"));
    let rt = r.must("refresh_token");
    // Neither wider scopes nor another audience than the exchange granted.
    let r = refresh(
        rt.clone(),
        vec![("scope", "billing:read orders:write".into())],
    )
    .await?;
    assert_oauth_error(&r, 400, "invalid_scope");
    let r = refresh(rt.clone(), vec![("audience", "billing".into())]).await?;
    assert_oauth_error(&r, 400, "invalid_target");
    // Another client cannot use it: one without the refresh grant or a policy giving
    // it families is refused for the grant type, whatever the token (TK-14).
    let r = token(
        &t.h,
        &t.stranger,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ],
    )
    .await?;
    assert_oauth_error(&r, 400, "unauthorized_client");

    // Revoking the subject token ends the family and what was refreshed from it.
    let r =
        t.h.post_basic("/revoke", &t.web, &[("token", subject_token.as_str())])
            .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        t.h.introspect(&t.orders, &refreshed).await?,
        json!({"active": false})
    );
    let r = refresh(rt, vec![]).await?;
    assert_oauth_error(&r, 400, "invalid_grant");

    // Revoking the subject's session does too.
    let tokens = user_tokens(&t, "openid billing:read").await;
    let at = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = exchange_for(&t, &t.orders, &at, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = r.must("refresh_token");
    let r = refresh(rt, vec![]).await?;
    assert_eq!(r.status, 200, "{}", r.text);
    let (rt, refreshed) = (r.must("refresh_token"), r.must("access_token"));
    let sid = claims_of(&at)["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    t.h.manager.session_revoke("test", &sid).await?;
    assert_eq!(
        t.h.introspect(&t.orders, &refreshed).await?,
        json!({"active": false})
    );
    let r = refresh(rt, vec![]).await?;
    assert_oauth_error(&r, 400, "invalid_grant");

    // Delegation carries act, which a refresh could not keep: no refresh token.
    let tokens = user_tokens(&t, "openid billing:read").await;
    let at = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = exchange_for(
        &t,
        &t.orders,
        &at,
        &[
            (
                "actor_token",
                client_credentials(&t, &t.orders).await.as_str(),
            ),
            ("actor_token_type", AT),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json.get("refresh_token").is_none(), "{}", r.text);
    Ok(())
}

/// A.5 #8 (CVE-2026-9704): duplicated, empty or missing parameters are refused, the
/// audience never defaults to the requester, and `audience` with `resource` must agree.
#[tokio::test]
async fn duplicated_empty_or_conflicting_parameters_are_refused() {
    let t = tx().await;
    let subject = subject(&t).await;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = |body: String| {
        let t = &t;
        async move {
            Reply::read(
                t.h.http()
                    .post(t.h.url("/token"))
                    .basic_auth(&t.orders.id, t.orders.secret.as_deref())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .unwrap()
        }
    };
    let base = format!(
        "grant_type={}&subject_token_type={}&audience={}",
        enc(GRANT),
        enc(AT),
        enc(TARGET)
    );
    // Two subject tokens: the second must not silently win, nor the first.
    let dup = raw(format!(
        "{base}&subject_token={}&subject_token={}",
        enc(&subject),
        enc(&subject)
    ))
    .await;
    assert_oauth_error(&dup, 400, "invalid_request");
    // A single-valued parameter twice (audience and resource may repeat: RFC 8707 §2).
    let dup_type = raw(format!(
        "{base}&subject_token={}&subject_token_type={}",
        enc(&subject),
        enc(IDT)
    ))
    .await;
    assert_oauth_error(&dup_type, 400, "invalid_request");
    // A repeated audience with an empty value is refused, not skipped.
    let empty_aud = raw(format!("{base}&subject_token={}&audience=", enc(&subject))).await;
    assert_oauth_error(&empty_aud, 400, "invalid_request");
    // Empty and missing subject tokens.
    assert_oauth_error(
        &raw(format!("{base}&subject_token=")).await,
        400,
        "invalid_request",
    );
    assert_oauth_error(&raw(base.clone()).await, 400, "invalid_request");
    // No audience at all: nothing defaults to the requester's own identity.
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    // audience and resource together: only if they agree.
    let r = exchange_for(
        &t,
        &t.orders,
        &subject,
        &[("resource", "https://other.example/")],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = exchange_for(&t, &t.orders, &subject, &[("resource", TARGET)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // An empty optional parameter is refused, not ignored.
    let r = exchange_for(&t, &t.orders, &subject, &[("scope", "")]).await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = exchange_for(&t, &t.orders, &subject, &[("actor_token", "")]).await;
    assert_oauth_error(&r, 400, "invalid_request");
}

/// A.5 #11: one answer for every bad subject — unknown key, forged payload, revoked,
/// expired — so the token endpoint is no oracle for whether a token exists.
#[tokio::test]
async fn errors_never_tell_an_unknown_a_forged_a_revoked_or_an_expired_subject_apart() {
    let t = tx().await;
    let good = subject(&t).await;
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims = claims_of(&good);
    claims["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        latchkey_e2e::latchkey_core::crypto::b64url(&serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    let unknown = {
        let kek = latchkey_e2e::latchkey_core::crypto::Kek::generate();
        let k = latchkey_e2e::latchkey_core::keys::new_signing_key(
            Alg::ES256,
            latchkey_e2e::latchkey_core::model::KeyState::Active,
            &kek,
            0,
        )
        .unwrap();
        let k = latchkey_e2e::latchkey_core::keys::load(&k, &kek).unwrap();
        jwt::sign(&k, Some("at+jwt"), &claims_of(&good)).unwrap()
    };
    let revoked = subject(&t).await;
    t.h.post_basic("/revoke", &t.web, &[("token", revoked.as_str())])
        .await
        .unwrap();
    let expiring = subject(&t).await;
    let mut bodies = Vec::new();
    for s in [&unknown, &forged, &revoked, &"not-even-a-jwt".to_string()] {
        let r = exchange_for(&t, &t.orders, s, &[]).await;
        bodies.push((r.status, r.text.clone()));
    }
    advance(&t.h, 3600);
    let r = exchange_for(&t, &t.orders, &expiring, &[]).await;
    bodies.push((r.status, r.text.clone()));
    let first = bodies[0].clone();
    assert_eq!(first.0, 400);
    assert!(first.1.contains(BAD_SUBJECT), "{}", first.1);
    for b in &bodies {
        assert_eq!(b, &first, "every bad subject reads the same");
    }
}

/// A.5 #10 (ZITADEL's rule): a token carrying `act` is never an admin credential, even
/// with the admin scope and the admin API as audience; the same token without `act` is.
#[tokio::test]
async fn the_admin_api_refuses_tokens_that_carry_act() {
    let t = tx().await;
    let admin =
        t.h.admin_user("root", "a long admin passphrase")
            .await
            .unwrap();
    let api = t.h.provider.admin_api().expect("admin API").to_string();
    let now = t.h.provider.now();
    let claims = |act: bool, jti: &str| {
        let mut c = json!({
            "iss": t.h.issuer, "sub": admin, "aud": api, "client_id": t.web.id,
            "iat": now, "exp": now + 300, "jti": jti, "scope": "latchkey:admin",
        });
        if act {
            c["act"] = json!({"sub": format!("client:{}", t.orders.id)});
        }
        c
    };
    let get = |token: String| {
        let t = &t;
        async move {
            t.h.http()
                .get(t.h.admin_url("/admin/v1/clients"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        get(mint(&t.h, claims(false, "plain-admin")).await).await,
        200
    );
    assert_eq!(
        get(mint(&t.h, claims(true, "acting-admin")).await).await,
        401
    );
    // And no policy may make the admin API (or admin scopes) a target in the first place.
    let refused =
        t.h.provider
            .manager()
            .exchange_policy_create(
                "test",
                NewExchangePolicy {
                    requester_client_id: t.orders.id.clone(),
                    targets: vec![api.clone()],
                    ..Default::default()
                },
            )
            .await;
    assert!(refused.is_err(), "{refused:?}");
    let refused =
        t.h.provider
            .manager()
            .exchange_policy_create(
                "test",
                NewExchangePolicy {
                    requester_client_id: t.orders.id.clone(),
                    targets: vec![TARGET.into()],
                    scopes: vec!["latchkey:admin".into()],
                    ..Default::default()
                },
            )
            .await;
    assert!(refused.is_err(), "{refused:?}");
}

/// Issued types: an ID token only when the policy allows it, answered with
/// `token_type=N_A` (RFC 8693 §2.2.1).
#[tokio::test]
async fn an_id_token_is_issued_when_a_policy_allows_it_with_token_type_n_a() {
    let t = tx().await;
    let subject = subject(&t).await;
    let r = exchange_for(&t, &t.orders, &subject, &[("requested_token_type", IDT)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.str("issued_token_type"), Some(IDT));
    assert_eq!(r.str("token_type"), Some("N_A"));
    let (header, c) = jwt_parts(&r.must("access_token"));
    assert_eq!(header["typ"], json!("JWT"));
    assert_eq!(c["aud"], json!(TARGET));
    assert_eq!(c["azp"], json!(t.orders.id));
    verify_with_jwks(&t.h, &r.must("access_token"))
        .await
        .unwrap();
    t.h.provider
        .manager()
        .exchange_policy_update(
            "test",
            &t.policy,
            latchkey_e2e::latchkey_core::manage::ExchangePolicyPatch {
                issued_token_types: Some(vec!["access_token".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r = exchange_for(&t, &t.orders, &subject, &[("requested_token_type", IDT)]).await;
    assert_oauth_error(&r, 400, "invalid_request");
}

/// Every exchange is audited: requester, subject and its client, actor, audience and
/// scopes asked and granted, and the policy — or why none matched.
#[tokio::test]
async fn every_exchange_is_audited_with_what_was_asked_granted_and_why() {
    let t = tx().await;
    let subject = subject(&t).await;
    let actor = client_credentials(&t, &t.orders).await;
    let ok = exchange_for(
        &t,
        &t.orders,
        &subject,
        &[
            ("scope", "billing:read"),
            ("actor_token", actor.as_str()),
            ("actor_token_type", AT),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let granted = exchange_events(&t.h, "token.exchange").await;
    assert_eq!(granted.len(), 1);
    let e = &granted[0];
    assert_eq!(e["requester"], json!(t.orders.id));
    assert_eq!(e["subject"], json!(t.alice));
    assert_eq!(e["subject_client"], json!(t.web.id));
    assert_eq!(e["actor"], json!(format!("client:{}", t.orders.id)));
    assert_eq!(e["audience_asked"], json!(TARGET));
    assert_eq!(e["audience_granted"], json!(TARGET));
    assert_eq!(e["scopes_asked"], json!(["billing:read"]));
    assert_eq!(e["scopes_granted"], json!(["billing:read"]));
    assert_eq!(e["policy"], json!(t.policy));
    let _ = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("audience", "nowhere"),
        ],
    )
    .await;
    let refused = exchange_events(&t.h, "token.exchange_refused").await;
    assert!(!refused.is_empty());
    let e = &refused[0];
    assert_eq!(e["rule"], json!("policy.target"));
    assert!(e["reason"].as_str().unwrap().contains("nowhere"), "{e}");
    assert!(
        !e.to_string().contains(&subject),
        "no token in the audit log"
    );
}

/// The explain tool runs the grant's own evaluation: what it says /token would answer
/// is what /token answers, and it issues, records and audits nothing.
#[tokio::test]
async fn explain_agrees_with_the_token_endpoint_and_issues_nothing() {
    let t = tx().await;
    let subject = subject(&t).await;
    let (_, key) = t.h.api_key(true).await.unwrap();
    let explain = |body: Value| {
        let t = &t;
        let key = key.clone();
        async move {
            let r =
                t.h.http()
                    .post(t.h.admin_url("/admin/v1/exchange-policies/explain"))
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
            assert_eq!(r.status().as_u16(), 200, "a read-only key may explain");
            r.json::<Value>().await.unwrap()
        }
    };
    let rows_before = t.h.grant_rows().await.unwrap();
    let yes = explain(json!({
        "requester_client_id": t.orders.id, "subject_token": subject,
        "audience": TARGET, "scope": "billing:read",
    }))
    .await;
    assert_eq!(yes["allowed"], json!(true), "{yes}");
    assert_eq!(yes["policy_id"], json!(t.policy));
    assert_eq!(yes["claims"]["aud"], json!(TARGET));
    assert_eq!(yes["claims"]["sub"], json!(t.alice));
    assert_eq!(yes["token_type"], json!("Bearer"));
    let no = explain(json!({
        "requester_client_id": t.orders.id, "subject_token": subject, "audience": "nowhere",
    }))
    .await;
    assert_eq!(no["allowed"], json!(false));
    assert_eq!(no["rule"], json!("policy.target"));
    assert_eq!(no["error"], json!("invalid_target"));
    assert_eq!(
        t.h.grant_rows().await.unwrap(),
        rows_before,
        "nothing issued"
    );
    assert!(exchange_events(&t.h, "token.exchange").await.is_empty());
    assert!(exchange_events(&t.h, "token.exchange_refused")
        .await
        .is_empty());
    // The same requests at /token answer the same.
    let r = exchange_for(&t, &t.orders, &subject, &[("scope", "billing:read")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        claims_of(&r.must("access_token"))["aud"],
        yes["claims"]["aud"]
    );
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("audience", "nowhere"),
        ],
    )
    .await;
    assert_eq!(r.error(), no["error"].as_str());
    assert_eq!(r.str("error_description"), no["error_description"].as_str());
    // A stranger's explain says exactly why it is refused.
    let stranger = explain(json!({
        "requester_client_id": t.stranger.id, "subject_token": subject, "audience": TARGET,
    }))
    .await;
    assert_eq!(stranger["rule"], json!("policy.none_for_requester"));
}

/// RFC 8707 at the other grants: an audience this server knows (here, a policy's
/// target) becomes the token's `aud`; an unknown one is `invalid_target`; the admin
/// scopes never travel to another audience.
#[tokio::test]
async fn a_resource_indicator_sets_the_audience_of_the_other_grants() {
    let t = tx().await;
    let r = token(
        &t.h,
        &t.orders,
        &[("grant_type", "client_credentials"), ("resource", TARGET)],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims_of(&r.must("access_token"))["aud"], json!(TARGET));
    let r = token(
        &t.h,
        &t.orders,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://unknown.example/"),
        ],
    )
    .await
    .unwrap();
    assert_oauth_error(&r, 400, "invalid_target");
    let r = token(
        &t.h,
        &t.orders,
        &[
            ("grant_type", "client_credentials"),
            ("resource", TARGET),
            ("audience", "billing"),
        ],
    )
    .await
    .unwrap();
    assert_oauth_error(&r, 400, "invalid_request");
    // A token for another audience is not for userinfo (OI-08).
    let tokens = user_tokens(&t, "openid billing:read").await;
    let r = userinfo_get(&t.h, tokens["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, 401);
}

/// RFC 8707 §2 and §2.2: a `resource` named at /authorize travels with the code and
/// then with the session. Redeeming the code without `resource` gives a token for that
/// resource, and so does every refresh; a token request may only narrow the grant's
/// resources, never name another (known) audience instead.
#[tokio::test]
async fn a_resource_named_at_authorize_travels_with_the_code_and_bounds_every_refresh(
) -> anyhow::Result<()> {
    let t = tx().await;
    let b = t.h.browser();
    let (code, verifier) = code_with(
        &t.h,
        &b,
        &t.web,
        "openid billing:read",
        &[("resource", TARGET)],
        ALICE,
    )
    .await?;
    let r = redeem(&t.h, &t.web, &code, &verifier).await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims_of(&r.must("access_token"))["aud"], json!(TARGET));
    let rt = r.must("refresh_token");

    let refresh = |rt: String, extra: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            let mut f = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt),
            ];
            f.extend(extra);
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(&t.h, &t.web, &f).await
        }
    };
    let r = refresh(rt, vec![]).await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims_of(&r.must("access_token"))["aud"], json!(TARGET));
    let rt = r.must("refresh_token");
    // Another audience the server knows, but not one this grant was made for.
    let r = refresh(rt.clone(), vec![("audience", t.orders.id.clone())]).await?;
    assert_oauth_error(&r, 400, "invalid_target");
    // The refused request spent nothing: the same token still refreshes, naming the
    // grant's own resource explicitly.
    let r = refresh(rt, vec![("resource", format!("{TARGET}/"))]).await?;
    assert_eq!(r.status, 200, "{}", r.text);

    // The first redemption cannot swap the resource either.
    let (code, verifier) = code_with(
        &t.h,
        &b,
        &t.web,
        "openid billing:read",
        &[("resource", TARGET)],
        ALICE,
    )
    .await?;
    let r = token(
        &t.h,
        &t.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", t.web.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("audience", t.orders.id.as_str()),
        ],
    )
    .await?;
    assert_oauth_error(&r, 400, "invalid_target");

    // A resource the server does not know is refused at /authorize already, on the
    // redirect (RFC 8707 §2).
    let (_, challenge) = pkce();
    let url = authorize_url(
        &t.h,
        &t.web,
        "openid",
        &challenge,
        &[("resource", "https://unknown.example/")],
    );
    let loc = t.h.browser_authorize(&b, &url, ALICE.0, ALICE.1).await?;
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_target"),
        "{loc}"
    );
    Ok(())
}

/// RFC 8707 §2 / RFC 8693 §2.1: several `audience` (or `resource`) values give one
/// token for all of them (`aud` an array), only if the one policy that matches allows
/// every one; a single unknown one refuses the whole request, and `resource` with
/// `audience` must name the same set.
#[tokio::test]
async fn several_audiences_give_one_multi_audience_token_only_if_the_policy_allows_each() {
    let t = tx().await;
    let subject = subject(&t).await;
    let two = [
        ("subject_token", subject.as_str()),
        ("subject_token_type", AT),
        ("audience", TARGET),
        ("audience", "billing"),
        ("scope", "billing:read"),
    ];
    let r = exchange(&t, &t.orders, &two).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = claims_of(&r.must("access_token"));
    assert_eq!(c["aud"], json!([TARGET, "billing"]));
    assert_eq!(c["scope"], json!("billing:read"));
    // One of them outside the policy: nothing is issued, not a token for the rest.
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("audience", TARGET),
            ("audience", "https://other.example/api"),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_target");
    // resource and audience together: the same set passes, a different one does not.
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("resource", TARGET),
            ("audience", TARGET),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("resource", TARGET),
            ("audience", TARGET),
            ("audience", "billing"),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    // An audience holding a space would read as two: refused.
    let r = exchange(
        &t,
        &t.orders,
        &[
            ("subject_token", subject.as_str()),
            ("subject_token_type", AT),
            ("audience", "billing other"),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    // The audit says what was granted, as the token's aud does.
    let granted = exchange_events(&t.h, "token.exchange").await;
    assert!(
        granted
            .iter()
            .any(|e| e["audience_granted"] == json!([TARGET, "billing"])),
        "{granted:?}"
    );
}

/// RFC 8707 §2 for the other grants: several resources give one token naming them all,
/// each must be known to the server, and the admin API shares a token with nobody.
#[tokio::test]
async fn several_resources_at_the_token_endpoint_each_checked_and_the_admin_api_alone() {
    let t = tx().await;
    let r = token(
        &t.h,
        &t.orders,
        &[
            ("grant_type", "client_credentials"),
            ("resource", TARGET),
            ("resource", "https://billing.example/api/"),
            ("audience", TARGET),
        ],
    )
    .await
    .unwrap();
    // The same resource twice (trailing slash) is one audience; audience agrees.
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims_of(&r.must("access_token"))["aud"], json!(TARGET));
    let r = token(
        &t.h,
        &t.orders,
        &[
            ("grant_type", "client_credentials"),
            ("audience", TARGET),
            ("audience", t.orders.id.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        claims_of(&r.must("access_token"))["aud"],
        json!([TARGET, t.orders.id])
    );
    let r = token(
        &t.h,
        &t.orders,
        &[
            ("grant_type", "client_credentials"),
            ("resource", TARGET),
            ("resource", "https://unknown.example/"),
        ],
    )
    .await
    .unwrap();
    assert_oauth_error(&r, 400, "invalid_target");
    if let Some(api) = t.h.provider.admin_api().map(str::to_string) {
        let r = token(
            &t.h,
            &t.orders,
            &[
                ("grant_type", "client_credentials"),
                ("resource", api.as_str()),
                ("resource", TARGET),
            ],
        )
        .await
        .unwrap();
        assert_oauth_error(&r, 400, "invalid_target");
    }
}

/// A client-credentials subject belongs to no session, and the exchanged token's own
/// `client_id` is the requester's: revoking the subject client's tokens (its watermark),
/// disabling it or deleting it must still reach every token exchanged from its tokens,
/// down the chain (issue 13: "exchanged tokens die with what they came from").
#[tokio::test]
async fn a_client_credentials_subject_s_client_revoked_disabled_or_deleted_takes_its_exchanged_tokens_along(
) {
    let t = tx().await;
    // Three service clients whose own tokens `orders` may trade (they are not in its aud).
    let mut services = Vec::new();
    for _ in 0..3 {
        services.push(
            t.h.confidential(&[GrantType::ClientCredentials], "", &["billing:read"])
                .await
                .expect("service"),
        );
    }
    t.h.provider
        .manager()
        .exchange_policy_create(
            "test",
            NewExchangePolicy {
                requester_client_id: t.orders.id.clone(),
                subject_client_ids: services.iter().map(|s| s.id.clone()).collect(),
                requester_must_be_in_subject_aud: Some(false),
                targets: vec![TARGET.into()],
                ..Default::default()
            },
        )
        .await
        .expect("policy");
    let chain = |svc: usize| {
        let t = &t;
        let svc = &services[svc];
        async move {
            let subject = client_credentials(t, svc).await;
            let child = exchange_for(t, &t.orders, &subject, &[]).await;
            assert_eq!(child.status, 200, "{}", child.text);
            let child = child.must("access_token");
            let grandchild = exchange_for(t, &t.orders, &child, &[])
                .await
                .must("access_token");
            for tok in [&child, &grandchild] {
                assert_eq!(
                    t.h.introspect(&t.orders, tok).await.unwrap()["active"],
                    json!(true)
                );
            }
            [child, grandchild]
        }
    };
    let dead = |toks: [String; 2], how: &'static str| {
        let t = &t;
        async move {
            for tok in &toks {
                assert_eq!(
                    t.h.introspect(&t.orders, tok).await.unwrap(),
                    json!({"active": false}),
                    "{how}"
                );
            }
        }
    };
    let m = t.h.provider.manager();
    let revoked = chain(0).await;
    let disabled = chain(1).await;
    let deleted = chain(2).await;
    // The requester's own tokens and an unrelated chain stay alive throughout.
    let unrelated = exchange_for(&t, &t.orders, &client_credentials(&t, &t.orders).await, &[])
        .await
        .must("access_token");
    m.sessions_revoke_client("test", &services[0].id)
        .await
        .expect("revoke");
    dead(revoked, "watermark").await;
    m.client_set_disabled("test", &services[1].id, true)
        .await
        .expect("disable");
    dead(disabled, "disabled").await;
    m.client_delete("test", &services[2].id)
        .await
        .expect("delete");
    dead(deleted, "deleted").await;
    assert_eq!(
        t.h.introspect(&t.orders, &unrelated).await.unwrap()["active"],
        json!(true)
    );
}
