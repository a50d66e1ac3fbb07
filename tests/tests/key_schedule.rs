//! The key lifecycle on schedule, with a fixed clock: a successor is published before
//! it signs, the scheduled rotation promotes it after 30 days, the old key keeps
//! verifying (retiring, still in the JWKS) and is retired a day later.

use latchkey_e2e::latchkey_core::model::{Alg, GrantType, KeyState};
use latchkey_e2e::*;
use serde_json::Value;

const T0: i64 = 1_800_000_000;
const DAY: i64 = 24 * 3600;

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let bytes = latchkey_e2e::latchkey_core::crypto::b64url_decode(header).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn jwks_kids(h: &Harness) -> Vec<String> {
    let v: Value = h
        .http()
        .get(h.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn cc_token(h: &Harness, c: &TestClient) -> String {
    let r = h
        .post_basic(
            "/token",
            c,
            &[("grant_type", "client_credentials"), ("scope", "api")],
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn state_of(h: &Harness, kid: &str) -> KeyState {
    h.store
        .keys_list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == kid)
        .unwrap()
        .state
}

#[tokio::test]
async fn the_scheduled_rotation_publishes_first_promotes_after_the_period_and_retires_a_day_later()
{
    let h = Harness::start_with_clock(T0).await.unwrap();
    let clock = h.clock.clone().unwrap();
    h.scope("api", "API").await.unwrap();
    let c = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .unwrap();

    let t1 = cc_token(&h, &c).await;
    let k1 = kid_of(&t1);
    // The successor is already published, though not signing.
    let next: Vec<String> = h
        .store
        .keys_list()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.alg == Alg::ES256 && k.state == KeyState::Next)
        .map(|k| k.kid)
        .collect();
    assert_eq!(next.len(), 1);
    assert!(jwks_kids(&h).await.contains(&next[0]));

    // Nothing changes before the period ends.
    clock.set(T0 + 30 * DAY - 120);
    h.provider.maintain_keys().await.unwrap();
    let t_pre = cc_token(&h, &c).await;
    assert_eq!(kid_of(&t_pre), k1);

    // Once the period is over the scheduler promotes the pre-published key.
    clock.set(T0 + 30 * DAY + 1);
    h.provider.maintain_keys().await.unwrap();
    let t2 = cc_token(&h, &c).await;
    assert_eq!(kid_of(&t2), next[0], "new tokens carry the successor's kid");
    assert_eq!(state_of(&h, &k1).await, KeyState::Retiring);
    let kids = jwks_kids(&h).await;
    assert!(
        kids.contains(&k1) && kids.contains(&next[0]),
        "old and new both published"
    );
    // A token the old key signed two minutes ago still verifies: retiring, not retired.
    assert_eq!(h.introspect(&c, &t_pre).await.unwrap()["active"], true);

    // A day later the retiring key is retired: gone from the JWKS.
    clock.advance(DAY + 60);
    h.provider.maintain_keys().await.unwrap();
    assert_eq!(state_of(&h, &k1).await, KeyState::Retired);
    assert!(!jwks_kids(&h).await.contains(&k1));
    let t3 = cc_token(&h, &c).await;
    assert_eq!(kid_of(&t3), next[0]);
    assert_eq!(h.introspect(&c, &t3).await.unwrap()["active"], true);
}
