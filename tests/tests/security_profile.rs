//! The Security page's drill-down (`security_profile_get`, issue 14): what one account,
//! address or client did, assembled from failed sign-ins and client authentications in
//! the audit log, the sessions opened, the findings and the blocks. Fixed clock; the
//! sign-ins come from distinct loopback addresses as different machines would.
use anyhow::Result;
use latchkey_e2e::latchkey_core::manage::ProfileSubject;
use latchkey_e2e::latchkey_core::model::GrantType;
use latchkey_e2e::*;

const T: i64 = 1_800_000_000;
const PASSWORD: &str = "bob's long password";

/// One failed sign-in through the real form.
async fn wrong_password(h: &Harness, browser: &reqwest::Client, user: &str) -> Result<()> {
    let r = h.form_login(browser, user, "Winter2026!").await?;
    assert_eq!(
        r.status().as_u16(),
        200,
        "a wrong password is the form again"
    );
    Ok(())
}

async fn profile(
    h: &Harness,
    kind: &str,
    subject: &str,
) -> latchkey_e2e::latchkey_core::manage::SecurityProfile {
    h.manager
        .security_profile_get(&ProfileSubject::parse(kind, subject).unwrap(), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_profile_counts_its_failures_users_and_first_and_last_seen_and_no_other_address(
) -> Result<()> {
    let h = Harness::start_with_clock(T).await?;
    h.user("bob", PASSWORD).await?;
    let sprayer = client_from("127.0.0.2");
    for (i, user) in ["alice", "bob", "carol"].iter().enumerate() {
        h.clock.as_ref().unwrap().set(T + 10 * i as i64);
        wrong_password(&h, &sprayer, user).await?;
    }
    h.clock.as_ref().unwrap().set(T + 100);
    wrong_password(&h, &client_from("127.0.0.3"), "bob").await?;

    let p = profile(&h, "address", "127.0.0.2").await;
    assert_eq!(p.subject, "127.0.0.2/32");
    assert_eq!((p.failures, p.successes, p.distinct_users), (3, 0, 3));
    assert_eq!((p.first_seen, p.last_seen), (Some(T), Some(T + 20)));
    let users: Vec<_> = p.timeline.iter().filter_map(|e| e.user.clone()).collect();
    assert_eq!(users, ["carol", "bob", "alice"], "newest first");
    assert!(p.timeline.iter().all(|e| e.kind == "failure"
        && e.what == "wrong username or password"
        && e.address.as_deref() == Some("127.0.0.2")));

    // A network holds both addresses.
    let net = profile(&h, "address", "127.0.0.0/24").await;
    assert_eq!((net.failures, net.distinct_addresses), (4, 2));

    // The account: its failures from both places, and nobody else's.
    let bob = profile(&h, "user", "bob").await;
    assert_eq!(
        (bob.failures, bob.distinct_addresses, bob.distinct_users),
        (2, 2, 1)
    );
    assert_eq!(bob.last_seen, Some(T + 100));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_is_a_success_for_its_user_and_its_client() -> Result<()> {
    let h = Harness::start_with_clock(T).await?;
    h.user("bob", PASSWORD).await?;
    let app = h
        .confidential(
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
            "http://127.0.0.1:9/cb",
            &["openid"],
        )
        .await?;
    h.code_flow_tokens(&app, "openid", ("bob", PASSWORD))
        .await?;

    let bob = profile(&h, "user", "bob").await;
    assert_eq!((bob.failures, bob.successes), (0, 1));
    assert_eq!(bob.timeline[0].kind, "success");
    assert_eq!(bob.timeline[0].client.as_deref(), Some(app.id.as_str()));
    let client = profile(&h, "client", &app.id).await;
    assert_eq!((client.successes, client.distinct_users), (1, 1));
    let nobody = profile(&h, "user", "nobody").await;
    assert_eq!((nobody.failures, nobody.successes), (0, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_profile_counts_failed_client_authentications_and_shows_its_blocks() -> Result<()>
{
    let h = Harness::start_with_clock(T).await?;
    let app = h
        .confidential(
            &[GrantType::ClientCredentials],
            "http://127.0.0.1:9/cb",
            &[],
        )
        .await?;
    for _ in 0..2 {
        let r = client_from("127.0.0.4")
            .post(h.url("/token"))
            .basic_auth(&app.id, Some("not-the-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 401);
    }
    h.manager
        .block_add("test", "127.0.0.4", Some(3600), Some("guessing"))
        .await?;
    let p = profile(&h, "client", &app.id).await;
    assert_eq!(p.failures, 2);
    assert!(p.timeline[0]
        .what
        .starts_with("client authentication failed"));
    assert_eq!(p.timeline[0].client.as_deref(), Some(app.id.as_str()));
    let addr = profile(&h, "address", "127.0.0.4").await;
    assert_eq!(addr.failures, 2);
    assert_eq!(addr.blocks.len(), 1, "the block on the address is shown");
    assert_eq!(addr.blocks[0].reason, "guessing");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_answers_a_profile_and_refuses_a_bad_kind_or_address_as_invalid_input(
) -> Result<()> {
    let h = Harness::start_with_clock(T).await?;
    let (_, key) = h.api_key(true).await?;
    let get = |q: &'static str| {
        let http = h.http();
        let url = h.admin_url(&format!("/admin/v1/security/profile?{q}"));
        let key = key.clone();
        async move { http.get(url).bearer_auth(key).send().await }
    };
    let ok = get("kind=address&subject=127.0.0.9").await?;
    assert_eq!(ok.status().as_u16(), 200);
    let body: serde_json::Value = ok.json().await?;
    assert_eq!(body["subject"], "127.0.0.9/32");
    assert_eq!(body["failures"], 0);
    for q in [
        "kind=planet&subject=x",
        "kind=address&subject=not-an-address",
        "kind=address&subject=0.0.0.0/0",
        "kind=user&subject=",
    ] {
        let r = get(q).await?;
        assert_eq!(r.status().as_u16(), 400, "{q}");
        let e: serde_json::Value = r.json().await?;
        assert_eq!(e["code"], "invalid_input", "{q}: {e}");
    }
    Ok(())
}
