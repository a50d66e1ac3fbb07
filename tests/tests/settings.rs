//! Runtime settings through a real server: each change is made with
//! `PATCH /admin/v1/settings` on the admin listener, then observed where it must take
//! effect — the lifetime of the next code, access token, ID token and device code, the
//! brute-force limiter, the key schedule and the key-maintenance job — without a restart.
//! Refused changes store nothing; accepted ones are audited before → after.

use anyhow::Result;
use latchkey_e2e::catalogue_support::{claims_of, device_start, token};
use latchkey_e2e::latchkey_core::crypto::sha256;
use latchkey_e2e::latchkey_core::model::{Alg, GrantType, KeyState};
use latchkey_e2e::{pkce, Harness, TestClient};
use serde_json::{json, Value};

const ALICE: (&str, &str) = ("alice", "alice password 1");

struct Admin {
    key: String,
    http: reqwest::Client,
}

impl Admin {
    async fn of(h: &Harness) -> Admin {
        let (_, key) = h.api_key(false).await.expect("api key");
        Admin {
            key,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        h: &Harness,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, h.admin_url(path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin call");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn patch(&self, h: &Harness, body: Value) -> (u16, Value) {
        self.call(h, reqwest::Method::PATCH, "/admin/v1/settings", Some(body))
            .await
    }

    async fn get(&self, h: &Harness, path: &str) -> Value {
        let (status, v) = self.call(h, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }
}

fn lifetime(claims: &Value) -> i64 {
    claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat")
}

async fn machine_client(h: &Harness) -> TestClient {
    h.scope("api", "API").await.ok();
    h.confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_default_access_token_lifetime_applies_to_clients_registered_after_it() -> Result<()>
{
    let h = Harness::start().await?;
    let admin = Admin::of(&h).await;
    let before = machine_client(&h).await;
    let (status, s) = admin.patch(&h, json!({"access_token_ttl": 300})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["access_token_ttl"]["value"], 300);
    assert_eq!(s["access_token_ttl"]["source"], "admin");

    let after = machine_client(&h).await;
    let cc = [("grant_type", "client_credentials"), ("scope", "api")];
    let r = token(&h, &after, &cc).await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["expires_in"], 300);
    assert_eq!(lifetime(&claims_of(&r.must("access_token"))), 300);
    // A client registered before keeps the lifetime it was registered with.
    let r = token(&h, &before, &cc).await?;
    assert_eq!(r.json["expires_in"], 600);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_code_id_token_and_device_code_lifetimes_apply_to_the_next_ones_issued() -> Result<()> {
    let h = Harness::start().await?;
    let admin = Admin::of(&h).await;
    h.user(ALICE.0, ALICE.1).await?;
    let web = h
        .confidential(
            &[GrantType::AuthorizationCode],
            "http://127.0.0.1:7777/cb",
            &["openid"],
        )
        .await?;
    let (status, s) = admin
        .patch(
            &h,
            json!({"code_ttl": 120, "id_token_ttl": 900, "device_code_ttl": 300}),
        )
        .await;
    assert_eq!(status, 200, "{s}");

    let (_, challenge) = pkce();
    let code = h.get_code(&web, "openid", &challenge, ALICE).await?;
    let stored = h
        .store
        .auth_code_get(&sha256(code.as_bytes()))
        .await?
        .expect("the code is stored");
    assert_eq!(stored.expires_at - stored.created_at, 120);

    let tokens = h.code_flow_tokens(&web, "openid", ALICE).await?;
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    assert_eq!(lifetime(&claims_of(id_token)), 900);

    let tv = h.public(&[GrantType::DeviceCode], "", &["openid"]).await?;
    let r = device_start(&h, &tv, "openid").await?;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["expires_in"], 300);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_client_authentication_limit_blocks_after_the_new_number_of_failures() -> Result<()>
{
    let h = Harness::start().await?;
    let admin = Admin::of(&h).await;
    let c = machine_client(&h).await;
    let wrong = TestClient {
        secret: Some("not the secret".into()),
        ..c.clone()
    };
    let (status, s) = admin
        .patch(
            &h,
            json!({"client_auth_max_failures": 2, "client_auth_block": 45}),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    let cc = [("grant_type", "client_credentials"), ("scope", "api")];
    // The built-in rule allows 20; the new one blocks once 2 are exceeded.
    for i in 1..=3 {
        let r = token(&h, &wrong, &cc).await?;
        assert_eq!(r.status, 401, "failure {i}: {}", r.text);
    }
    let r = token(&h, &c, &cc).await?;
    assert_eq!(r.status, 429, "{}", r.text);
    let wait: u64 = r.header("retry-after").expect("Retry-After").parse()?;
    assert!((40..=45).contains(&wait), "Retry-After {wait}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_policy_change_moves_the_next_rotation_and_drives_the_key_job() -> Result<()> {
    let start = 1_800_000_000;
    let h = Harness::start_with_clock(start).await?;
    let clock = h.clock.clone().expect("fixed clock");
    let admin = Admin::of(&h).await;
    let es256 = |sch: &Value| {
        sch["algorithms"]
            .as_array()
            .expect("algorithms")
            .iter()
            .find(|a| a["alg"] == "ES256")
            .cloned()
            .expect("ES256")
    };
    let before = es256(&admin.get(&h, "/admin/v1/keys/schedule").await);
    let since = before["active_since"].as_i64().expect("active_since");
    assert_eq!(before["next_rotation_at"], since + 30 * 24 * 3600);

    let (status, s) = admin.patch(&h, json!({"rotate_every": 2 * 3600})).await;
    assert_eq!(status, 200, "{s}");
    let sch = admin.get(&h, "/admin/v1/keys/schedule").await;
    assert_eq!(sch["rotate_every"], 2 * 3600);
    assert_eq!(es256(&sch)["next_rotation_at"], since + 2 * 3600);

    // The scheduled job (what the server runs every minute) now rotates at two hours,
    // not thirty days.
    let active = |keys: &[latchkey_e2e::latchkey_core::model::SigningKey]| {
        keys.iter()
            .find(|k| k.alg == Alg::ES256 && k.state == KeyState::Active)
            .map(|k| k.kid.clone())
    };
    let first = active(&h.store.keys_list().await?);
    clock.advance(2 * 3600 + 1);
    h.provider.maintain_keys().await.expect("key job");
    let second = active(&h.store.keys_list().await?);
    assert!(second.is_some());
    assert_ne!(first, second, "the key rotated under the new policy");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_changes_are_refused_as_invalid_input_and_store_nothing() -> Result<()> {
    let h = Harness::start().await?;
    let admin = Admin::of(&h).await;
    let (status, _) = admin.patch(&h, json!({"login_max_failures": 4})).await;
    assert_eq!(status, 200);
    let stored = h.store.settings_get().await?;
    for (body, field) in [
        (json!({"code_ttl": 5, "id_token_ttl": 900}), "code_ttl"),
        (json!({"code_tll": 120}), "code_tll"),
        (json!({"code_ttl": "two minutes"}), "code_ttl"),
        (json!({"code_ttl": 1.5}), "code_ttl"),
        (json!({"retire_after": 60}), "retire_after"),
        (json!({"prepublish": 0}), "prepublish"),
        (json!({"login_max_failures": 0}), "login_max_failures"),
        (json!({"refresh_token_ttl": 120}), "refresh_idle_ttl"),
    ] {
        let (status, e) = admin.patch(&h, body.clone()).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert_eq!(e["code"], "invalid_input", "{body}: {e}");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(h.store.settings_get().await?, stored, "nothing was stored");
    let s = admin.get(&h, "/admin/v1/settings").await;
    assert_eq!(s["login_max_failures"]["value"], 4);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_shows_each_change_before_and_after_with_its_actor() -> Result<()> {
    let h = Harness::start().await?;
    let admin = Admin::of(&h).await;
    assert_eq!(admin.patch(&h, json!({"sign_in_ttl": 3600})).await.0, 200);
    assert_eq!(admin.patch(&h, json!({"sign_in_ttl": null})).await.0, 200);
    let page = admin
        .get(&h, "/admin/v1/audit?action_prefix=settings.")
        .await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{page}");
    let (reset, set) = (&items[0], &items[1]);
    assert!(set["actor"]
        .as_str()
        .unwrap_or_default()
        .starts_with("api-key:"));
    assert_eq!(
        set["before"],
        json!({"sign_in_ttl": {"value": 8 * 3600, "source": "default"}})
    );
    assert_eq!(
        set["after"],
        json!({"sign_in_ttl": {"value": 3600, "source": "admin"}})
    );
    assert_eq!(reset["before"], set["after"]);
    assert_eq!(reset["after"], set["before"]);
    Ok(())
}
