//! Concurrency (catalogue §2 F-09/F-10 at test scale): parallel redemptions of one
//! authorization code (TK-03), parallel refreshes of one refresh token (RT-03, strict
//! and grace mode) and parallel device-code polls at approval (DV-05). Requests are
//! released together behind a barrier, on a multi-threaded runtime, against a real
//! server on loopback over SQLite.

use latchkey_e2e::catalogue_support::*;
use latchkey_e2e::latchkey_core::manage::ClientUpdate;
use latchkey_e2e::latchkey_core::model::GrantType;
use latchkey_e2e::{Harness, TestClient};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

const USER: (&str, &str) = ("alice", "correct horse battery");

struct World {
    h: Arc<Harness>,
    c1: TestClient,
    rs: TestClient,
    tv: TestClient,
}

async fn world() -> World {
    let h = Harness::start().await.expect("server");
    h.user(USER.0, USER.1).await.expect("user");
    h.scope("api", "Read the demo API").await.expect("scope");
    let c1 = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "https://c1.test/cb",
            &["openid", "api"],
        )
        .await
        .expect("C1");
    let rs = h
        .confidential(&[GrantType::ClientCredentials], "", &["api"])
        .await
        .expect("RS");
    let tv = h
        .public(
            &[GrantType::DeviceCode, GrantType::RefreshToken],
            "",
            &["openid", "api"],
        )
        .await
        .expect("TV");
    World {
        h: Arc::new(h),
        c1,
        rs,
        tv,
    }
}

/// Runs `n` copies of `make(i)` at once (released together) and returns every reply.
async fn all_at_once<F, Fut>(n: usize, make: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let b = barrier.clone();
        let fut = make(i);
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

/// (number of 200s, the 200 replies, the non-200 replies); panics on any 5xx.
fn tally(replies: &[Reply]) -> (usize, Vec<Reply>, Vec<Reply>) {
    for r in replies {
        assert!(
            r.status < 500,
            "no 5xx under concurrency: {} {}",
            r.status,
            r.text
        );
    }
    let (ok, rest): (Vec<Reply>, Vec<Reply>) =
        replies.iter().cloned().partition(|r| r.status == 200);
    (ok.len(), ok, rest)
}

// ------------------------------------------------------------------------------------
// TK-03
// ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tk_03_twenty_parallel_redemptions_of_one_code_give_exactly_one_200_no_5xx_and_revoke_the_grant(
) {
    let World { h, c1, rs, .. } = world().await;
    let (code, verifier) = code_with(&h, &h.browser(), &c1, "openid api", &[], USER)
        .await
        .unwrap();

    let replies = all_at_once(20, |_| {
        let (h, c1, code, verifier) = (h.clone(), c1.clone(), code.clone(), verifier.clone());
        async move { redeem(&h, &c1, &code, &verifier).await.expect("redeem") }
    })
    .await;
    let (n_ok, ok, rest) = tally(&replies);
    assert_eq!(n_ok, 1, "exactly one redemption wins");
    assert_eq!(rest.len(), 19);
    for r in &rest {
        assert_oauth_error(r, 400, "invalid_grant");
    }

    // The code was used more than once: what it issued is revoked (as TK-02).
    let winner = &ok[0];
    let (at, rt) = (winner.must("access_token"), winner.must("refresh_token"));
    assert_eq!(
        h.introspect(&rs, &at).await.unwrap(),
        json!({"active": false})
    );
    assert_eq!(
        h.introspect(&c1, &rt).await.unwrap(),
        json!({"active": false})
    );
    assert_oauth_error(
        &refresh(&h, &c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(userinfo_get(&h, &at).await.unwrap().status, 401);
    let (sessions, _, live_rts) = token_rows(&h, &c1.id).await.unwrap();
    assert_eq!(sessions, 1, "one redemption wrote tokens, the others none");
    assert_eq!(live_rts, 0);
    assert!(
        !security_events(&h, "security.authorization_code.reuse_detected")
            .await
            .unwrap()
            .is_empty()
    );
}

// ------------------------------------------------------------------------------------
// RT-03
// ------------------------------------------------------------------------------------

async fn parallel_refreshes(w: &World, n: usize) -> (Vec<Reply>, String, String) {
    let body =
        w.h.code_flow_tokens(&w.c1, "openid api", USER)
            .await
            .expect("code flow");
    let at = body["access_token"].as_str().unwrap().to_string();
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let replies = all_at_once(n, |_| {
        let (h, c1, rt) = (w.h.clone(), w.c1.clone(), rt.clone());
        async move { refresh(&h, &c1, &rt, None).await.expect("refresh") }
    })
    .await;
    (replies, at, rt)
}

async fn strict_storm(n: usize) {
    let w = world().await;
    let (replies, at, rt) = parallel_refreshes(&w, n).await;
    let (n_ok, ok, rest) = tally(&replies);
    assert_eq!(n_ok, 1, "exactly one of {n} parallel refreshes wins");
    assert_eq!(rest.len(), n - 1);
    for r in &rest {
        assert_oauth_error(r, 400, "invalid_grant");
    }
    // Strict mode: the duplicates are reuse, so the family ends revoked.
    let (new_at, new_rt) = (ok[0].must("access_token"), ok[0].must("refresh_token"));
    let h = &w.h;
    assert_oauth_error(
        &refresh(h, &w.c1, &new_rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_oauth_error(
        &refresh(h, &w.c1, &rt, None).await.unwrap(),
        400,
        "invalid_grant",
    );
    for t in [&at, &new_at] {
        assert_eq!(
            h.introspect(&w.rs, t).await.unwrap(),
            json!({"active": false})
        );
    }
    assert_eq!(
        token_rows(h, &w.c1.id).await.unwrap().2,
        0,
        "no live refresh token in the family"
    );
    let events = security_events(h, "security.refresh_token.reuse_detected")
        .await
        .unwrap();
    assert!(!events.is_empty(), "the reuse is a security event");
    let sid = claims_of(&at)["sid"].as_str().unwrap().to_string();
    assert!(events
        .iter()
        .all(|e| e.target.as_deref() == Some(sid.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt_03_two_parallel_refreshes_of_one_token_give_one_200_one_invalid_grant_and_revoke_the_family(
) {
    strict_storm(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt_03_ten_parallel_refreshes_of_one_token_give_one_200_nine_invalid_grant_and_revoke_the_family(
) {
    strict_storm(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt_03_fifty_parallel_refreshes_of_one_token_give_one_200_the_rest_invalid_grant_no_5xx_and_revoke_the_family(
) {
    strict_storm(50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rt_03_in_grace_mode_ten_parallel_refreshes_all_succeed_and_leave_exactly_one_live_refresh_token(
) {
    let w = world().await;
    w.h.manager
        .client_update(
            "test",
            &w.c1.id,
            ClientUpdate {
                refresh_grace_secs: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (replies, _, rt) = parallel_refreshes(&w, 10).await;
    let (n_ok, ok, _) = tally(&replies);
    assert_eq!(
        n_ok, 10,
        "duplicates within the grace window are answered with tokens"
    );
    assert_eq!(
        token_rows(&w.h, &w.c1.id).await.unwrap().2,
        1,
        "at most one live refresh token"
    );
    let mut live = Vec::new();
    for r in &ok {
        let t = r.must("refresh_token");
        if w.h.introspect(&w.c1, &t).await.unwrap()["active"] == true {
            live.push(t);
        }
    }
    assert_eq!(
        live.len(),
        1,
        "exactly one of the returned refresh tokens is live"
    );
    assert!(
        security_events(&w.h, "security.refresh_token.reuse_detected")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        w.h.introspect(&w.c1, &rt).await.unwrap(),
        json!({"active": false})
    );
    let next = refresh(&w.h, &w.c1, &live[0], None).await.unwrap();
    assert_eq!(next.status, 200, "the family lives on: {}", next.text);
}

// ------------------------------------------------------------------------------------
// DV-05
// ------------------------------------------------------------------------------------

async fn approved_device_code(
    w: &World,
    approve_now: bool,
) -> (String, String, reqwest::Client, String) {
    let r = device_start(&w.h, &w.tv, "openid api").await.unwrap();
    assert_eq!(r.status, 200);
    let (device_code, user_code) = (r.must("device_code"), r.must("user_code"));
    let (b, csrf) = device_browser(&w.h, USER).await.unwrap();
    if approve_now {
        let done = device_decide(&w.h, &b, &csrf, &user_code, "approve")
            .await
            .unwrap();
        assert_eq!(done.status, 200);
    }
    (device_code, user_code, b, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dv_05_ten_parallel_polls_of_an_approved_device_code_give_exactly_one_200_and_nine_invalid_grant(
) {
    let w = world().await;
    let (device_code, ..) = approved_device_code(&w, true).await;
    let replies = all_at_once(10, |_| {
        let (h, tv, dc) = (w.h.clone(), w.tv.clone(), device_code.clone());
        async move { device_poll(&h, &tv, &dc).await.expect("poll") }
    })
    .await;
    let (n_ok, ok, rest) = tally(&replies);
    assert_eq!(n_ok, 1, "exactly one poll gets the tokens");
    for r in &rest {
        assert_oauth_error(r, 400, "invalid_grant");
    }
    assert_oauth_error(
        &device_poll(&w.h, &w.tv, &device_code).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(
        token_rows(&w.h, &w.tv.id).await.unwrap().0,
        1,
        "one session issued"
    );
    assert_eq!(
        w.h.introspect(&w.rs, &ok[0].must("access_token"))
            .await
            .unwrap()["active"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dv_05_ten_polls_racing_the_approval_give_exactly_one_200_overall() {
    let w = world().await;
    let (device_code, user_code, b, csrf) = approved_device_code(&w, false).await;
    // Ten pollers and the user's approval, released together.
    let replies = all_at_once(11, |i| {
        let (h, tv, dc) = (w.h.clone(), w.tv.clone(), device_code.clone());
        let (b, csrf, uc) = (b.clone(), csrf.clone(), user_code.clone());
        async move {
            if i == 10 {
                let r = device_decide(&h, &b, &csrf, &uc, "approve")
                    .await
                    .expect("approve");
                assert_eq!(r.status, 200, "the approval");
                Reply {
                    status: 0,
                    headers: Default::default(),
                    text: String::new(),
                    json: json!(null),
                }
            } else {
                device_poll(&h, &tv, &dc).await.expect("poll")
            }
        }
    })
    .await;
    let polls: Vec<Reply> = replies.into_iter().filter(|r| r.status != 0).collect();
    let (mut n_ok, _, rest) = tally(&polls);
    for r in &rest {
        let e = r.error().unwrap_or_default().to_string();
        assert!(
            matches!(
                e.as_str(),
                "authorization_pending" | "slow_down" | "invalid_grant"
            ),
            "{}",
            r.text
        );
        assert_oauth_error(r, 400, &e);
    }
    // Whoever polls next gets the tokens if nobody did yet; never a second set.
    let next = device_poll(&w.h, &w.tv, &device_code).await.unwrap();
    assert!(
        next.status == 200 || next.error() == Some("invalid_grant"),
        "{}",
        next.text
    );
    n_ok += usize::from(next.status == 200);
    assert_eq!(n_ok, 1, "exactly one 200 overall");
    assert_oauth_error(
        &device_poll(&w.h, &w.tv, &device_code).await.unwrap(),
        400,
        "invalid_grant",
    );
    assert_eq!(token_rows(&w.h, &w.tv.id).await.unwrap().0, 1);
}
