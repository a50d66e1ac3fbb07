//! Security catalogue §1.11 (DP, DPoP, RFC 9449), with TK-01's `token_type` and IN-02's
//! `cnf.jkt`, end to end against a real server on loopback, negative cases first.
//!
//! The proofs are built here, independently of the server's code: keys and signatures
//! on `ring` (the server verifies on `aws-lc-rs` through `jsonwebtoken`), the RFC 7638
//! thumbprint written out by hand. The `oauth2` crate is the real client where it can be
//! (the client-credentials grant, with a DPoP header added by its HTTP function).

use anyhow::{anyhow, Result};
use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::manage::NewExchangePolicy;
use latchkey_e2e::latchkey_core::model::GrantType;
use latchkey_e2e::latchkey_core::oauth::dpop::ProofInput;
use latchkey_e2e::latchkey_core::oauth::{Config, Provider};
use latchkey_e2e::*;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::sync::Arc;

const ALICE: (&str, &str) = ("alice", "correct horse battery");
/// The fixed clock's time: the proofs' `iat` is read from it, never from the machine.
const T0: i64 = 1_900_000_000;

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256_b64(data: &[u8]) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// A client's DPoP key (P-256 on `ring`) and the proofs it signs.
struct DpopKey {
    pair: EcdsaKeyPair,
    x: String,
    y: String,
    rng: SystemRandom,
}

impl DpopKey {
    fn new() -> Result<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| anyhow!("{e:?}"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| anyhow!("{e:?}"))?;
        let point = pair.public_key().as_ref().to_vec();
        Ok(DpopKey {
            x: b64(&point[1..33]),
            y: b64(&point[33..65]),
            pair,
            rng,
        })
    }

    fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    fn thumbprint(&self) -> String {
        sha256_b64(
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                self.x, self.y
            )
            .as_bytes(),
        )
    }

    fn sign(&self, header: &Value, claims: &Value) -> Result<String> {
        let input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(header)?),
            b64(&serde_json::to_vec(claims)?)
        );
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|e| anyhow!("{e:?}"))?;
        Ok(format!("{input}.{}", b64(sig.as_ref())))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }

    fn claims(htm: &str, htu: &str, iat: i64) -> Value {
        json!({"jti": random_jti(), "htm": htm, "htu": htu, "iat": iat})
    }

    /// A good proof for `htm` `htu` at `iat`.
    fn proof(&self, htm: &str, htu: &str, iat: i64) -> Result<String> {
        self.sign(&self.header(), &Self::claims(htm, htu, iat))
    }

    /// A good proof for a resource: with `ath` of `token` (and a nonce if given).
    fn resource_proof(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<String> {
        let mut c = Self::claims(htm, htu, iat);
        c["ath"] = json!(sha256_b64(token.as_bytes()));
        if let Some(n) = nonce {
            c["nonce"] = json!(n);
        }
        self.sign(&self.header(), &c)
    }
}

fn random_jti() -> String {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap_or_default();
    b64(&b)
}

struct Env {
    h: Harness,
    /// Confidential, client credentials, scope `api`.
    service: TestClient,
    /// Public, code + refresh, loopback redirect.
    app: TestClient,
    /// A resource server that may introspect.
    rs: TestClient,
}

impl Env {
    async fn start() -> Result<Env> {
        Self::on(Harness::start_with_clock(T0).await?).await
    }

    async fn on(h: Harness) -> Result<Env> {
        h.scope("api", "The API").await?;
        h.user(ALICE.0, ALICE.1).await?;
        let service = h
            .confidential(&[GrantType::ClientCredentials], "", &["api"])
            .await?;
        let app = h
            .public(
                &[GrantType::AuthorizationCode, GrantType::RefreshToken],
                "http://127.0.0.1/cb",
                &["openid", "offline_access", "api"],
            )
            .await?;
        let rs = h
            .confidential(&[GrantType::ClientCredentials], "", &["api"])
            .await?;
        Ok(Env {
            h,
            service,
            app,
            rs,
        })
    }

    fn now(&self) -> i64 {
        self.h.provider.clock.now()
    }

    fn token_url(&self) -> String {
        self.h.url("/token")
    }

    /// A token request by `client` carrying these `DPoP` headers.
    async fn token(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
        proofs: &[&str],
    ) -> Result<Reply> {
        self.post("/token", client, form, proofs).await
    }

    /// A form POST to `path` authenticated as `client` (Basic with its secret, else its
    /// `client_id` in the body), carrying these `DPoP` headers.
    async fn post(
        &self,
        path: &str,
        client: &TestClient,
        form: &[(&str, &str)],
        proofs: &[&str],
    ) -> Result<Reply> {
        let mut f: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.h.http().post(self.h.url(path));
        match &client.secret {
            Some(s) => req = req.basic_auth(&client.id, Some(s)),
            None => f.push(("client_id", client.id.as_str())),
        }
        for p in proofs {
            req = req.header("DPoP", *p);
        }
        Reply::read(req.form(&f).send().await?).await
    }

    async fn cc(&self, proofs: &[&str]) -> Result<Reply> {
        self.token(
            &self.service,
            &[("grant_type", "client_credentials"), ("scope", "api")],
            proofs,
        )
        .await
    }

    /// `GET /userinfo` with `Authorization: <scheme> <token>` and these proofs.
    async fn userinfo(&self, scheme: &str, token: &str, proofs: &[&str]) -> Result<Reply> {
        let mut req = self
            .h
            .http()
            .get(self.h.url("/userinfo"))
            .header("Authorization", format!("{scheme} {token}"));
        for p in proofs {
            req = req.header("DPoP", *p);
        }
        Reply::read(req.send().await?).await
    }

    /// A code for the public app (openid offline_access) and its verifier.
    async fn app_code(&self, extra: &[(&str, &str)]) -> Result<(String, String)> {
        code_with(
            &self.h,
            &self.h.browser(),
            &self.app,
            "openid offline_access",
            extra,
            ALICE,
        )
        .await
    }

    /// The public app's code redeemed with `proofs`.
    async fn app_tokens(&self, proofs: &[&str]) -> Result<Reply> {
        let (code, verifier) = self.app_code(&[]).await?;
        self.redeem_app(&code, &verifier, proofs).await
    }

    async fn redeem_app(&self, code: &str, verifier: &str, proofs: &[&str]) -> Result<Reply> {
        self.token(
            &self.app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.app.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ],
            proofs,
        )
        .await
    }
}

fn www(r: &Reply) -> String {
    r.header("www-authenticate").unwrap_or_default().to_string()
}

// --- DP-02: every proof check, negative cases first -----------------------------------

/// DP-02: a proof for another method or another URL is refused.
#[tokio::test]
async fn dp02_a_proof_for_another_method_or_url_is_refused() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let now = e.now();
    let other_port = e.token_url().replace("127.0.0.1:", "127.0.0.1:1");
    for proof in [
        k.proof("GET", &e.token_url(), now)?,
        k.proof("post", &e.token_url(), now)?,
        k.proof("POST", &e.h.url("/userinfo"), now)?,
        k.proof("POST", "https://evil.test/token", now)?,
        k.proof("POST", &other_port, now)?,
        k.proof("POST", &e.token_url().replace("http://", "https://"), now)?,
    ] {
        assert_oauth_error(&e.cc(&[&proof]).await?, 400, "invalid_dpop_proof");
    }
    Ok(())
}

/// DP-02: an `iat` an hour (or a minute and more) away is refused; ±10 s passes
/// (FAPI's tests), all on the server's fixed clock.
#[tokio::test]
async fn dp02_a_proof_with_an_old_or_future_iat_is_refused() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let now = e.now();
    for iat in [now - 3600, now + 3600, now - 61, now + 61] {
        let p = k.proof("POST", &e.token_url(), iat)?;
        assert_oauth_error(&e.cc(&[&p]).await?, 400, "invalid_dpop_proof");
    }
    for iat in [now - 10, now + 10, now] {
        let p = k.proof("POST", &e.token_url(), iat)?;
        let r = e.cc(&[&p]).await?;
        assert_eq!(r.status, 200, "iat {} from now: {}", iat - now, r.text);
    }
    Ok(())
}

/// DP-03: the same proof twice is refused the second time.
#[tokio::test]
async fn dp03_a_replayed_proof_jti_is_refused() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let p = k.proof("POST", &e.token_url(), e.now())?;
    assert_eq!(e.cc(&[&p]).await?.status, 200);
    assert_oauth_error(&e.cc(&[&p]).await?, 400, "invalid_dpop_proof");
    Ok(())
}

/// DP-03 / F-12: the replay store is the shared database, not a node's memory: a
/// second engine on the same store (another node) refuses a proof the first accepted.
#[tokio::test]
async fn dp03_a_proof_accepted_by_one_node_is_refused_by_another() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let node_b = Provider::new(
        e.h.store.clone(),
        e.h.provider.clock.clone(),
        e.h.kek.clone(),
        Config::new(&e.h.issuer),
    );
    let p = k.proof("POST", &e.token_url(), e.now())?;
    assert_eq!(e.cc(&[&p]).await?.status, 200);
    let headers = vec![p];
    let url = e.token_url();
    let input = ProofInput {
        headers: &headers,
        method: "POST",
        url: &url,
        access_token: None,
    };
    let err = node_b
        .dpop_proof(&input)
        .await
        .err()
        .ok_or_else(|| anyhow!("node B accepted a replayed proof"))?;
    assert_eq!(err.code.as_str(), "invalid_dpop_proof");
    Ok(())
}

/// DP-02: a `jwk` with private members (`d`) is refused, even with a good signature.
#[tokio::test]
async fn dp02_a_private_key_in_the_proof_header_is_refused() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let mut header = k.header();
    header["jwk"]["d"] = json!(b64(&[7u8; 32]));
    let p = k.sign(&header, &DpopKey::claims("POST", &e.token_url(), e.now()))?;
    assert_oauth_error(&e.cc(&[&p]).await?, 400, "invalid_dpop_proof");
    Ok(())
}

/// DP-02: `typ` missing or `jwt`, `alg` none or HS256, a bad signature, no `jti`, no
/// `jwk`, a symmetric `jwk`, two `DPoP` headers, a value that is no JWT: each refused.
#[tokio::test]
async fn dp02_malformed_proofs_are_each_refused() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let other = DpopKey::new()?;
    let now = e.now();
    let url = e.token_url();
    let claims = || DpopKey::claims("POST", &url, now);
    let with_header = |f: &dyn Fn(&mut Value)| -> Result<String> {
        let mut h = k.header();
        f(&mut h);
        k.sign(&h, &claims())
    };
    let mut cases: Vec<(&str, Vec<String>)> = vec![
        (
            "no typ",
            vec![with_header(&|h| {
                h.as_object_mut().map(|o| o.remove("typ"));
            })?],
        ),
        ("typ jwt", vec![with_header(&|h| h["typ"] = json!("jwt"))?]),
        (
            "alg none",
            vec![with_header(&|h| h["alg"] = json!("none"))?],
        ),
        (
            "alg HS256",
            vec![with_header(&|h| h["alg"] = json!("HS256"))?],
        ),
        (
            "no jwk",
            vec![with_header(&|h| {
                h.as_object_mut().map(|o| o.remove("jwk"));
            })?],
        ),
        (
            "symmetric jwk",
            vec![with_header(&|h| {
                h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})
            })?],
        ),
        // Signed by another key than the one in the header.
        ("bad signature", vec![other.sign(&k.header(), &claims())?]),
        (
            "two headers",
            vec![k.proof("POST", &url, now)?, k.proof("POST", &url, now)?],
        ),
        ("not a JWT", vec!["not-a-jwt".to_string()]),
    ];
    for claim in ["jti", "htm", "htu", "iat"] {
        let mut c = claims();
        c.as_object_mut().map(|o| o.remove(claim));
        cases.push(("missing claim", vec![k.sign(&k.header(), &c)?]));
    }
    for (what, proofs) in &cases {
        let refs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let r = e.cc(&refs).await?;
        assert_eq!(r.error(), Some("invalid_dpop_proof"), "{what}: {}", r.text);
        assert_oauth_error(&r, 400, "invalid_dpop_proof");
    }
    Ok(())
}

/// DP-02: `htu` is compared without query and fragment, after normalisation.
#[tokio::test]
async fn dp02_a_proof_whose_htu_differs_only_by_query_or_case_is_accepted() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let now = e.now();
    for htu in [
        format!("{}?x=1", e.token_url()),
        format!("{}#frag", e.token_url()),
        e.token_url().replace("http://", "HTTP://"),
    ] {
        let r = e.cc(&[&k.proof("POST", &htu, now)?]).await?;
        assert_eq!(r.status, 200, "{htu}: {}", r.text);
    }
    Ok(())
}

// --- DP-05: a bound token at userinfo ---------------------------------------------------

/// DP-05 (a): a DPoP-bound token presented as `Bearer` is refused with a `DPoP`
/// challenge; (b) under `DPoP` without or with a wrong `ath` → `invalid_dpop_proof`;
/// (c) a proof by another key → `invalid_token`; then the right proof passes.
#[tokio::test]
async fn dp05_a_bound_token_is_refused_as_bearer_and_without_its_key() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let now = e.now();
    let tokens = e
        .app_tokens(&[&k.proof("POST", &e.token_url(), now)?])
        .await?;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let at = tokens.must("access_token");
    let ui = e.h.url("/userinfo");

    let r = e.userinfo("Bearer", &at, &[]).await?;
    assert_eq!(r.status, 401);
    assert!(www(&r).starts_with("DPoP "), "{}", www(&r));
    assert!(www(&r).contains("error=\"invalid_token\""), "{}", www(&r));
    assert!(www(&r).contains("algs=\"ES256"), "{}", www(&r));
    // Also with a proof beside it: the scheme says bearer, and a bound token is not one.
    let p = k.resource_proof("GET", &ui, now, &at, None)?;
    let r = e.userinfo("Bearer", &at, &[&p]).await?;
    assert!(www(&r).contains("error=\"invalid_token\""), "{}", www(&r));

    let r = e.userinfo("DPoP", &at, &[]).await?;
    assert_eq!(r.status, 401);
    assert!(
        www(&r).contains("error=\"invalid_dpop_proof\""),
        "{}",
        www(&r)
    );
    let no_ath = k.proof("GET", &ui, now)?;
    let r = e.userinfo("DPoP", &at, &[&no_ath]).await?;
    assert!(
        www(&r).contains("error=\"invalid_dpop_proof\""),
        "{}",
        www(&r)
    );
    let wrong_ath = k.resource_proof("GET", &ui, now, "another token", None)?;
    let r = e.userinfo("DPoP", &at, &[&wrong_ath]).await?;
    assert!(
        www(&r).contains("error=\"invalid_dpop_proof\""),
        "{}",
        www(&r)
    );

    let thief = DpopKey::new()?;
    let r = e
        .userinfo(
            "DPoP",
            &at,
            &[&thief.resource_proof("GET", &ui, now, &at, None)?],
        )
        .await?;
    assert_eq!(r.status, 401);
    assert!(www(&r).contains("error=\"invalid_token\""), "{}", www(&r));

    let r = e
        .userinfo(
            "dpop",
            &at,
            &[&k.resource_proof("GET", &ui, now, &at, None)?],
        )
        .await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.str("sub").is_some());
    Ok(())
}

/// An unbound token under the `DPoP` scheme is not accepted either: the scheme claims a
/// binding the token does not have.
#[tokio::test]
async fn an_unbound_token_under_the_dpop_scheme_is_refused() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let tokens = e.app_tokens(&[]).await?;
    assert_eq!(tokens.str("token_type"), Some("Bearer"));
    let at = tokens.must("access_token");
    let p = k.resource_proof("GET", &e.h.url("/userinfo"), e.now(), &at, None)?;
    let r = e.userinfo("DPoP", &at, &[&p]).await?;
    assert_eq!(r.status, 401);
    assert!(www(&r).contains("error=\"invalid_token\""), "{}", www(&r));
    assert_eq!(e.userinfo("Bearer", &at, &[]).await?.status, 200);
    Ok(())
}

// --- DP-06: refresh tokens of public clients --------------------------------------------

/// DP-06: a public client's refresh token is bound to its key: refreshing without a
/// proof, or with another key's, is `invalid_grant`; the right key refreshes and the
/// family stays bound.
#[tokio::test]
async fn dp06_a_public_clients_refresh_token_needs_a_proof_by_its_key() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let url = e.token_url();
    let tokens = e.app_tokens(&[&k.proof("POST", &url, e.now())?]).await?;
    let rt = tokens.must("refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];

    assert_oauth_error(&e.token(&e.app, &form, &[]).await?, 400, "invalid_grant");
    let other = DpopKey::new()?;
    let r = e
        .token(&e.app, &form, &[&other.proof("POST", &url, e.now())?])
        .await?;
    assert_oauth_error(&r, 400, "invalid_grant");

    let r = e
        .token(&e.app, &form, &[&k.proof("POST", &url, e.now())?])
        .await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.str("token_type"), Some("DPoP"));
    let next = r.must("refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", next.as_str()),
    ];
    assert_oauth_error(&e.token(&e.app, &form, &[]).await?, 400, "invalid_grant");
    Ok(())
}

// --- dpop_bound_access_tokens ------------------------------------------------------------

/// RFC 9449 §5.2: a client marked `dpop_bound_access_tokens` gets no token without a
/// proof.
#[tokio::test]
async fn a_client_requiring_dpop_gets_no_token_without_a_proof() -> Result<()> {
    let e = Env::start().await?;
    e.h.manager
        .client_update(
            "test",
            &e.service.id,
            latchkey_e2e::latchkey_core::manage::ClientUpdate {
                dpop_bound_access_tokens: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let before = e.h.grant_rows().await?;
    assert_oauth_error(&e.cc(&[]).await?, 400, "invalid_dpop_proof");
    assert_eq!(e.h.grant_rows().await?, before, "nothing written");
    let k = DpopKey::new()?;
    let r = e.cc(&[&k.proof("POST", &e.token_url(), e.now())?]).await?;
    assert_eq!(r.str("token_type"), Some("DPoP"), "{}", r.text);
    Ok(())
}

// --- DP-01, TK-01, IN-02: the bound token -------------------------------------------------

/// DP-01 / TK-01 / IN-02: a valid proof gets `token_type: DPoP`, an access token with
/// `cnf.jkt` = the RFC 7638 thumbprint of the proof's key, and introspection says so.
#[tokio::test]
async fn dp01_a_valid_proof_binds_the_token_to_the_key_and_introspection_shows_it() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let r = e.cc(&[&k.proof("POST", &e.token_url(), e.now())?]).await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.str("token_type"), Some("DPoP"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let at = r.must("access_token");
    assert_eq!(claims_of(&at)["cnf"]["jkt"], json!(k.thumbprint()));
    let i = e.h.introspect(&e.rs, &at).await?;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["token_type"], "DPoP", "{i}");
    assert_eq!(i["cnf"]["jkt"], json!(k.thumbprint()), "{i}");
    // Without a proof the same client gets a bearer token, with no cnf.
    let plain = e.cc(&[]).await?;
    assert_eq!(plain.str("token_type"), Some("Bearer"));
    let i = e.h.introspect(&e.rs, &plain.must("access_token")).await?;
    assert_eq!(i["token_type"], "Bearer");
    assert!(i.get("cnf").is_none(), "{i}");
    Ok(())
}

/// The code grant of a public client: DPoP access token, bound refresh token, and
/// the access token works at userinfo with its proof.
#[tokio::test]
async fn dp01_the_code_grant_with_a_proof_issues_bound_tokens_userinfo_accepts() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let r = e
        .app_tokens(&[&k.proof("POST", &e.token_url(), e.now())?])
        .await?;
    assert_eq!(r.str("token_type"), Some("DPoP"), "{}", r.text);
    let at = r.must("access_token");
    let ui = e.h.url("/userinfo");
    let ok = e
        .userinfo(
            "DPoP",
            &at,
            &[&k.resource_proof("GET", &ui, e.now(), &at, None)?],
        )
        .await?;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // POST userinfo needs a proof naming POST.
    let get_proof = k.resource_proof("GET", &ui, e.now(), &at, None)?;
    let r = Reply::read(
        e.h.http()
            .post(&ui)
            .header("Authorization", format!("DPoP {at}"))
            .header("DPoP", get_proof)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(r.status, 401);
    Ok(())
}

// --- DP-04: nonces --------------------------------------------------------------------------

/// DP-04: with nonces required, a proof without one is answered `use_dpop_nonce` with a
/// `DPoP-Nonce` header (token endpoint 400, userinfo 401 with the `DPoP` challenge); the
/// nonce given works; a stale one is refused again. Nonces are derived from the KEK and
/// the minute: another node with the same KEK accepts them (no table).
#[tokio::test]
async fn dp04_without_the_server_nonce_a_proof_is_answered_use_dpop_nonce() -> Result<()> {
    let e = Env::on(Harness::start_dpop_nonce(T0).await?).await?;
    let k = DpopKey::new()?;
    let url = e.token_url();
    let r = e.cc(&[&k.proof("POST", &url, e.now())?]).await?;
    assert_oauth_error(&r, 400, "use_dpop_nonce");
    let nonce = r
        .header("dpop-nonce")
        .ok_or_else(|| anyhow!("no DPoP-Nonce"))?
        .to_string();
    let mut c = DpopKey::claims("POST", &url, e.now());
    c["nonce"] = json!("made-up");
    assert_oauth_error(
        &e.cc(&[&k.sign(&k.header(), &c)?]).await?,
        400,
        "use_dpop_nonce",
    );

    let mut c = DpopKey::claims("POST", &url, e.now());
    c["nonce"] = json!(nonce);
    let ok = e.cc(&[&k.sign(&k.header(), &c)?]).await?;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(
        ok.header("dpop-nonce").is_some(),
        "a fresh nonce comes along"
    );
    let at = ok.must("access_token");

    // Another node (same store, same KEK) derives the same nonce.
    let mut cfg = Config::new(&e.h.issuer);
    cfg.dpop_nonce = true;
    let node_b = Provider::new(
        e.h.store.clone(),
        e.h.provider.clock.clone(),
        e.h.kek.clone(),
        cfg,
    );
    assert_eq!(node_b.dpop_nonce(), nonce);

    // Userinfo: 401, DPoP challenge, nonce header. (The service's token has no openid,
    // but the proof is judged first.)
    let ui = e.h.url("/userinfo");
    let r = e
        .userinfo(
            "DPoP",
            &at,
            &[&k.resource_proof("GET", &ui, e.now(), &at, None)?],
        )
        .await?;
    assert_eq!(r.status, 401);
    assert!(www(&r).contains("error=\"use_dpop_nonce\""), "{}", www(&r));
    assert!(r.header("dpop-nonce").is_some());

    // Five minutes on, the nonce is stale (the clock is the server's).
    if let Some(clock) = &e.h.clock {
        clock.advance(300);
    }
    let mut c = DpopKey::claims("POST", &url, e.now());
    c["nonce"] = json!(nonce);
    assert_oauth_error(
        &e.cc(&[&k.sign(&k.header(), &c)?]).await?,
        400,
        "use_dpop_nonce",
    );
    Ok(())
}

// --- the oauth2 crate as the client ------------------------------------------------------------

/// A real OAuth client library (`oauth2`) runs the client-credentials grant with a DPoP
/// proof added by its HTTP function, and reads `token_type` DPoP.
#[tokio::test]
async fn the_oauth2_crate_gets_a_dpop_token_with_a_proof_header() -> Result<()> {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
    let e = Env::start().await?;
    let k = Arc::new(DpopKey::new()?);
    let client = BasicClient::new(ClientId::new(e.service.id.clone()))
        .set_client_secret(ClientSecret::new(
            e.service.secret.clone().unwrap_or_default(),
        ))
        .set_token_uri(TokenUrl::new(e.token_url())?);
    let http = e.h.http();
    let (key, url, now) = (k.clone(), e.token_url(), e.now());
    let send = move |mut req: oauth2::HttpRequest| {
        let (http, key, url) = (http.clone(), key.clone(), url.clone());
        async move {
            let proof = key
                .proof("POST", &url, now)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if let Ok(v) = proof.parse() {
                req.headers_mut().insert("DPoP", v);
            }
            let resp = http
                .execute(req.try_into().map_err(std::io::Error::other)?)
                .await
                .map_err(std::io::Error::other)?;
            let mut out = oauth2::HttpResponse::new(Vec::new());
            *out.status_mut() = resp.status();
            *out.headers_mut() = resp.headers().clone();
            *out.body_mut() = resp.bytes().await.map_err(std::io::Error::other)?.to_vec();
            Ok::<_, std::io::Error>(out)
        }
    };
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("api".into()))
        .request_async(&send)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    // RFC 6749 §5.1: token_type is case-insensitive (the crate lower-cases it).
    assert!(token.token_type().as_ref().eq_ignore_ascii_case("DPoP"));
    let claims = claims_of(token.access_token().secret());
    assert_eq!(claims["cnf"]["jkt"], json!(k.thumbprint()));
    Ok(())
}

// --- DP-07: dpop_jkt at /authorize ----------------------------------------------------------

/// DP-07: a code requested with `dpop_jkt` is redeemed only with a proof by that key:
/// another key's proof, or none, is `invalid_grant` (and the code survives for its
/// rightful holder); a malformed `dpop_jkt` is refused at the authorization endpoint.
#[tokio::test]
async fn dp07_a_code_bound_by_dpop_jkt_needs_a_proof_by_that_key() -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let url = e.token_url();
    let jkt = k.thumbprint();
    let (code, verifier) = e.app_code(&[("dpop_jkt", jkt.as_str())]).await?;
    let other = DpopKey::new()?;
    let r = e
        .redeem_app(&code, &verifier, &[&other.proof("POST", &url, e.now())?])
        .await?;
    assert_oauth_error(&r, 400, "invalid_grant");
    assert_oauth_error(
        &e.redeem_app(&code, &verifier, &[]).await?,
        400,
        "invalid_grant",
    );
    let r = e
        .redeem_app(&code, &verifier, &[&k.proof("POST", &url, e.now())?])
        .await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims_of(&r.must("access_token"))["cnf"]["jkt"], json!(jkt));

    let (_, challenge) = pkce();
    let bad = authorize_url(
        &e.h,
        &e.app,
        "openid",
        &challenge,
        &[("dpop_jkt", "not-a-thumbprint")],
    );
    let resp = e.h.browser().get(bad).send().await?;
    let loc = location(&resp).ok_or_else(|| anyhow!("no redirect for a bad dpop_jkt"))?;
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request"),
        "{loc}"
    );
    Ok(())
}

// --- the admin API as a DPoP resource --------------------------------------------------------

/// The admin API takes a DPoP-bound admin token under `DPoP` with a proof naming the
/// request, and refuses it as `Bearer` (a stolen bound token is no admin key) or with a
/// proof for another route, each with the `DPoP` challenge.
#[tokio::test]
async fn the_admin_api_accepts_a_bound_admin_token_only_with_its_proof() -> Result<()> {
    const ROOT: (&str, &str) = ("root", "root passphrase long");
    let e = Env::start().await?;
    e.h.admin_user(ROOT.0, ROOT.1).await?;
    let console = e.h.console_client();
    let (code, verifier) = code_with(
        &e.h,
        &e.h.browser(),
        &console,
        latchkey_admin_client::signin::ADMIN_SCOPE,
        &[],
        ROOT,
    )
    .await?;
    let k = DpopKey::new()?;
    let tokens = e
        .token(
            &console,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", console.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ],
            &[&k.proof("POST", &e.token_url(), e.now())?],
        )
        .await?;
    assert_eq!(tokens.str("token_type"), Some("DPoP"), "{}", tokens.text);
    let at = tokens.must("access_token");
    let url = e.h.admin_url("/admin/v1/clients");
    let get = |scheme: &str, proof: Option<String>| {
        let mut req =
            e.h.http()
                .get(&url)
                .header("Authorization", format!("{scheme} {at}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send()
    };
    let r = get("Bearer", None).await?;
    assert_eq!(r.status(), 401);
    let www = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        www.starts_with("DPoP ") && www.contains("invalid_token"),
        "{www}"
    );

    let elsewhere = e.h.admin_url("/admin/v1/users");
    let r = get(
        "DPoP",
        Some(k.resource_proof("GET", &elsewhere, e.now(), &at, None)?),
    )
    .await?;
    assert_eq!(r.status(), 401);

    let r = get(
        "DPoP",
        Some(k.resource_proof("GET", &url, e.now(), &at, None)?),
    )
    .await?;
    assert_eq!(r.status(), 200);
    Ok(())
}

// --- DPoP beside the other grants: token exchange and PAR ----------------------------------

/// An RFC 8693 request trading `subject` (an access token) for a token for `orders`.
fn exchange_form(subject: &str) -> [(&'static str, &str); 4] {
    [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", subject),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("audience", "orders"),
    ]
}

/// RFC 9449 §5 at the exchange grant (RFC 8693): a requester that proves a key gets a
/// token bound to it, and a requester whose tokens must be bound gets none without a
/// proof — the exchange is no way around `dpop_bound_access_tokens`.
#[tokio::test]
async fn an_exchange_with_a_proof_issues_a_bound_token_and_a_bound_requester_needs_one(
) -> Result<()> {
    let e = Env::start().await?;
    // `service` trades its own client-credentials token for one for `orders`.
    e.h.manager
        .exchange_policy_create(
            "test",
            NewExchangePolicy {
                requester_client_id: e.service.id.clone(),
                subject_client_ids: vec![e.service.id.clone()],
                requester_must_be_in_subject_aud: Some(false),
                targets: vec!["orders".into()],
                ..Default::default()
            },
        )
        .await?;
    let subject = e.cc(&[]).await?.must("access_token");
    let form = exchange_form(&subject);
    let k = DpopKey::new()?;
    let r = e
        .token(
            &e.service,
            &form,
            &[&k.proof("POST", &e.token_url(), e.now())?],
        )
        .await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.str("token_type"), Some("DPoP"));
    let at = r.must("access_token");
    assert_eq!(claims_of(&at)["cnf"]["jkt"], json!(k.thumbprint()));
    let i = e.h.introspect(&e.rs, &at).await?;
    assert_eq!(i["cnf"]["jkt"], json!(k.thumbprint()), "{i}");
    // A proof for another URL is refused here as at every grant.
    let wrong = k.proof("POST", &e.h.url("/par"), e.now())?;
    assert_oauth_error(
        &e.token(&e.service, &form, &[&wrong]).await?,
        400,
        "invalid_dpop_proof",
    );

    e.h.manager
        .client_update(
            "test",
            &e.service.id,
            latchkey_e2e::latchkey_core::manage::ClientUpdate {
                dpop_bound_access_tokens: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let subject = e
        .cc(&[&k.proof("POST", &e.token_url(), e.now())?])
        .await?
        .must("access_token");
    let form = exchange_form(&subject);
    assert_oauth_error(
        &e.token(&e.service, &form, &[]).await?,
        400,
        "invalid_dpop_proof",
    );
    Ok(())
}

/// RFC 9449 §10.1: a `DPoP` header at the push binds the code to its key as `dpop_jkt`
/// would (the code is then redeemed only with a proof by that key), and a push whose
/// `dpop_jkt` names another key than its proof is refused.
#[tokio::test]
async fn a_dpop_header_at_the_push_binds_the_code_and_a_mismatched_dpop_jkt_is_refused(
) -> Result<()> {
    let e = Env::start().await?;
    let k = DpopKey::new()?;
    let par = e.h.url("/par");
    let (verifier, challenge) = pkce();
    let request = |extra: Option<&str>| {
        let mut f = vec![
            ("response_type", "code".to_string()),
            ("redirect_uri", e.app.redirect_uri.clone()),
            ("scope", "openid offline_access".to_string()),
            ("state", "st".to_string()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_string()),
        ];
        if let Some(j) = extra {
            f.push(("dpop_jkt", j.to_string()));
        }
        f
    };
    let owned = request(Some(&DpopKey::new()?.thumbprint()));
    let form: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = e
        .post("/par", &e.app, &form, &[&k.proof("POST", &par, e.now())?])
        .await?;
    assert_oauth_error(&r, 400, "invalid_dpop_proof");

    let owned = request(None);
    let form: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = e
        .post("/par", &e.app, &form, &[&k.proof("POST", &par, e.now())?])
        .await?;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut u = url::Url::parse(&e.h.url("/authorize"))?;
    u.query_pairs_mut()
        .append_pair("client_id", &e.app.id)
        .append_pair("request_uri", &r.must("request_uri"));
    let loc =
        e.h.browser_authorize(&e.h.browser(), u.as_str(), ALICE.0, ALICE.1)
            .await?;
    let code = query_param(&loc, "code").ok_or_else(|| anyhow!("no code: {loc}"))?;
    let other = DpopKey::new()?;
    let url = e.token_url();
    assert_oauth_error(
        &e.redeem_app(&code, &verifier, &[&other.proof("POST", &url, e.now())?])
            .await?,
        400,
        "invalid_grant",
    );
    let r = e
        .redeem_app(&code, &verifier, &[&k.proof("POST", &url, e.now())?])
        .await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        claims_of(&r.must("access_token"))["cnf"]["jkt"],
        json!(k.thumbprint())
    );
    Ok(())
}
