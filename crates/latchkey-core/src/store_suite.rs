//! The behaviour suite every [`Store`] backend runs, so SQLite and PostgreSQL are held
//! to one contract rather than each to its own tests.
//!
//! Each case is a `pub async fn(&dyn Store)` named as the sentence it checks. A backend
//! runs them as separate tests (fresh store each, failures reported by name) with
//! [`store_suite_tests!`](crate::store_suite_tests), or all on one store with
//! [`run_all`]. Cases keep their ids distinct, so `run_all` works on a shared store.
//!
//! Time is always a fixed instant ([`T0`] and offsets from it), never the wall clock.
//! Concurrency is exercised without an async runtime (the core has none): the racing
//! calls are polled together on one task by [`join_all`], which still interleaves them
//! at every await, i.e. at every round trip to the database.
//!
//! Compiled only with the `store-suite` feature.

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::model::*;
use crate::settings::StoredSettings;
use crate::store::*;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// The suite's "now".
pub const T0: Timestamp = 1_700_000_000;

/// Generates one `#[tokio::test]` per suite case in the calling crate.
///
/// `$fixture` is an expression evaluating to a future whose output has a
/// `store(&self) -> &S` method (`S: Store`); it is evaluated afresh for every case, so
/// each case gets its own database, and the output lives until the case ends (keep the
/// temp dir or test database in it). The calling crate needs `tokio` with the `macros`
/// and `rt-multi-thread` features.
///
/// ```ignore
/// latchkey_core::store_suite_tests!(TestDb::new());
/// ```
#[macro_export]
macro_rules! store_suite_tests {
    ($fixture:expr) => {
        $crate::store_suite_tests!(@list tests ($fixture));
    };
    // The one list of cases; `run_all` expands it too, so the two cannot drift apart.
    (@list $mode:ident $arg:tt) => {
        $crate::store_suite_tests!(@$mode $arg;
            clients_round_trip_with_their_first_secret,
            a_failed_client_write_changes_nothing_and_audits_nothing,
            deleting_a_client_removes_everything_that_hangs_off_it,
            adding_a_secret_cuts_older_secrets_back_to_the_overlap,
            scopes_round_trip_and_builtin_scopes_cannot_be_deleted,
            users_round_trip_and_usernames_are_unique,
            signing_key_changes_apply_with_their_timestamps,
            sign_ins_round_trip_and_end_only_once,
            consent_is_replaced_by_put,
            an_auth_request_can_be_consumed_only_once,
            a_code_round_trips,
            a_code_can_be_redeemed_only_once,
            an_expired_code_cannot_be_redeemed,
            a_failed_issuance_leaves_the_code_unspent,
            concurrent_redemptions_of_one_code_succeed_exactly_once,
            a_refresh_token_rotates_once_then_reports_its_reuse,
            rotation_is_dead_once_the_session_is_revoked,
            rotation_is_dead_once_the_idle_time_or_the_session_runs_out,
            rotating_an_unknown_token_is_not_found,
            concurrent_rotations_of_one_token_succeed_exactly_once,
            reissue_leaves_at_most_one_live_refresh_token,
            device_codes_go_from_pending_to_approved_to_consumed_once,
            denied_or_expired_device_codes_cannot_be_redeemed,
            revoking_a_session_reports_whether_it_was_live,
            revoking_a_users_sessions_ends_their_sign_ins,
            deleting_a_user_removes_their_sessions_sign_ins_and_consents,
            revoking_a_clients_tokens_moves_its_watermark,
            sessions_are_listed_newest_first_with_names_and_live_token_counts,
            the_jti_denylist_remembers_revoked_access_tokens,
            a_jti_can_be_used_only_once,
            audit_events_are_listed_newest_first_and_filtered,
            sessions_page_by_keyset_and_filter_by_ip_time_and_state,
            a_bulk_revoke_cuts_off_exactly_what_its_dry_run_counted,
            a_new_session_is_written_with_its_activity_event,
            api_keys_are_found_by_hash_and_revoked_once,
            token_counts_add_up_per_minute_grant_and_client,
            the_audit_feed_tails_forward_and_pages_back,
            a_second_active_or_next_key_for_one_algorithm_is_refused,
            meta_values_are_upserted,
            purging_removes_expired_rows_and_keeps_live_ones,
            settings_are_replaced_by_a_put_with_its_audit_event,
            a_settings_put_based_on_an_older_version_writes_nothing,
            a_settings_change_moves_the_change_marker,
            exchange_policies_round_trip_update_and_delete_with_their_audit_events,
            deleting_a_client_deletes_the_exchange_policies_it_requests_under,
            revoking_a_token_revokes_every_token_exchanged_from_it_down_the_chain,
            an_exchange_is_not_recorded_once_its_parent_is_revoked,
            a_finding_is_raised_once_per_dedup_key_and_an_open_episode_absorbs_later_raises,
            acknowledging_a_finding_is_audited_once,
            findings_are_listed_newest_first_and_filtered_by_severity_and_rule,
            a_block_keeps_the_later_expiry_and_is_removed_with_its_pair_blocks,
            trimming_findings_keeps_the_newest,
            retention_removes_only_what_ended_before_the_cutoff_in_small_batches,
            a_pushed_request_is_spent_once_with_its_code_and_only_by_its_client,
            concurrent_completions_of_one_pushed_request_write_exactly_one_code,
            purging_removes_expired_pushed_requests_and_keeps_live_ones,
            a_config_batch_that_fails_midway_writes_nothing,
        );
    };
    (@tests ($fixture:expr); $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::store_suite::$case(fixture.store()).await;
            }
        )+
    };
    (@run ($store:expr); $($case:ident),+ $(,)?) => {
        $( $crate::store_suite::$case($store).await; )+
    };
}

/// Every case in turn on one store.
pub async fn run_all(store: &dyn Store) {
    crate::store_suite_tests!(@list run (store));
}

// --- a runtime-free join -------------------------------------------------------------

/// Polls all futures on the current task until every one is done; outputs in input
/// order. Enough to race store calls against each other without an executor crate.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

// --- fixtures ------------------------------------------------------------------------

fn audit(action: &str, target: &str) -> NewAuditEvent {
    NewAuditEvent::new(T0, "local-admin", action).target(target)
}

/// How many audit events with this action name this target.
async fn audited(store: &dyn Store, action: &str, target: &str) -> usize {
    let events = store
        .audit_list(&AuditFilter {
            target: Some(target.to_owned()),
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .expect("audit_list");
    events.iter().filter(|e| e.action == action).count()
}

pub fn client(id: &str) -> Client {
    Client {
        id: id.to_owned(),
        name: format!("Client {id}"),
        client_type: ClientType::Confidential,
        auth_method: AuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: vec![format!("https://{id}.example/cb?x=1&y=two words")],
        post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
        allowed_scopes: vec!["openid".into(), "profile".into(), "email".into()],
        jwks: None,
        jwks_uri: None,
        access_token_ttl: 600,
        refresh_token_ttl: 30 * 86_400,
        refresh_idle_ttl: 86_400,
        refresh_grace_secs: 0,
        require_consent: true,
        admin_tool: false,
        disabled: false,
        assertion_aud_compat: false,
        require_pushed_authorization_requests: false,
        registered: false,
        allowed_origins: None,
        dpop_bound_access_tokens: false,
        tokens_valid_after: 0,
        created_at: T0,
        updated_at: T0,
    }
}

pub fn user(id: &str) -> User {
    User {
        id: id.to_owned(),
        username: format!("name-{id}"),
        email: Some(format!("{id}@example.org")),
        email_verified: true,
        name: Some(format!("User {id}")),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        is_admin: false,
        password_changed_at: T0,
        created_at: T0,
        must_change_password: false,
    }
}

pub fn session(id: &str, user_id: &str, client_id: &str) -> Session {
    Session {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        client_id: client_id.to_owned(),
        sign_in_id: None,
        scopes: vec!["openid".into(), "profile".into()],
        auth_time: T0 - 5,
        created_at: T0,
        last_used_at: T0,
        expires_at: T0 + 30 * 86_400,
        ip: Some("192.0.2.7".into()),
        user_agent: Some("suite/1.0".into()),
        revoked_at: None,
        revoked_reason: None,
        resources: Vec::new(),
        parent_session_id: None,
        parent_jti: None,
    }
}

pub fn refresh(hash: &str, session_id: &str, client_id: &str) -> RefreshToken {
    RefreshToken {
        dpop_jkt: None,
        hash: hash.as_bytes().to_vec(),
        session_id: session_id.to_owned(),
        client_id: client_id.to_owned(),
        created_at: T0,
        consumed_at: None,
        idle_expires_at: T0 + 86_400,
        ip: None,
        user_agent: None,
    }
}

pub fn access(jti: &str, session_id: Option<&str>, client_id: &str) -> AccessTokenRecord {
    AccessTokenRecord {
        jti: jti.to_owned(),
        session_id: session_id.map(str::to_owned),
        client_id: client_id.to_owned(),
        issued_at: T0,
        expires_at: T0 + 600,
    }
}

pub fn code(hash: &str, client_id: &str, user_id: &str) -> AuthCode {
    AuthCode {
        dpop_jkt: None,
        hash: hash.as_bytes().to_vec(),
        client_id: client_id.to_owned(),
        user_id: user_id.to_owned(),
        sign_in_id: None,
        redirect_uri: format!("https://{client_id}.example/cb?x=1&y=two words"),
        redirect_uri_sent: true,
        scopes: vec!["openid".into(), "email".into()],
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        auth_time: T0 - 5,
        created_at: T0,
        expires_at: T0 + 60,
        consumed_at: None,
        session_id: None,
        ip: Some("2001:db8::1".into()),
        user_agent: Some("suite/1.0".into()),
        resources: Vec::new(),
    }
}

pub fn device(hash: &str, user_code_hash: &str, client_id: &str) -> DeviceCode {
    DeviceCode {
        hash: hash.as_bytes().to_vec(),
        user_code_hash: user_code_hash.as_bytes().to_vec(),
        client_id: client_id.to_owned(),
        scopes: vec!["openid".into()],
        status: DeviceStatus::Pending,
        user_id: None,
        sign_in_id: None,
        auth_time: None,
        interval: 5,
        last_polled_at: None,
        created_at: T0,
        expires_at: T0 + 600,
        session_id: None,
        resources: Vec::new(),
    }
}

fn sign_in(id: &str, user_id: &str) -> SignIn {
    SignIn {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        auth_time: T0 - 5,
        ip: Some("192.0.2.7".into()),
        user_agent: Some("suite/1.0".into()),
        created_at: T0 - 5,
        expires_at: T0 + 86_400,
        ended_at: None,
    }
}

/// A client `c-{tag}` and a user `u-{tag}`, the parents most rows need.
async fn seed(store: &dyn Store, tag: &str) -> (String, String) {
    let (c, u) = (format!("c-{tag}"), format!("u-{tag}"));
    store
        .client_insert(&client(&c), None, &audit("client.create", &c))
        .await
        .expect("seed client");
    store
        .user_insert(&user(&u), &audit("user.create", &u))
        .await
        .expect("seed user");
    (c, u)
}

/// A live session `s` with refresh token `rt` (via a redeemed code, as the engine does).
async fn seed_family(store: &dyn Store, c: &str, u: &str, s: &str, rt: &str) {
    let code_hash = format!("code-for-{s}");
    store
        .auth_code_insert(&code(&code_hash, c, u))
        .await
        .expect("seed code");
    let issue = Issuance {
        session: Some(session(s, u, c)),
        refresh: Some(refresh(rt, s, c)),
        access: Some(access(&format!("jti-{rt}"), Some(s), c)),
        event: None,
    };
    assert!(store
        .auth_code_redeem(code_hash.as_bytes(), T0 + 1, &issue)
        .await
        .expect("seed redeem"));
}

fn is_conflict<T: std::fmt::Debug>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::NotFound))
}

// --- clients -------------------------------------------------------------------------

pub async fn clients_round_trip_with_their_first_secret(store: &dyn Store) {
    let mut c = client("c-roundtrip");
    c.jwks = Some(r#"{"keys":[]}"#.into());
    c.grant_types.push(GrantType::DeviceCode);
    let secret = ClientSecret {
        id: "sec-roundtrip".into(),
        client_id: c.id.clone(),
        hash: vec![0, 1, 2, 254, 255],
        created_at: T0,
        expires_at: None,
    };
    store
        .client_insert(&c, Some(&secret), &audit("client.create", &c.id))
        .await
        .expect("client_insert");
    assert_eq!(store.client_get(&c.id).await.expect("get"), Some(c.clone()));
    assert!(store.clients_list().await.expect("list").contains(&c));
    assert_eq!(
        store.client_secrets(&c.id).await.expect("secrets"),
        vec![secret]
    );
    assert_eq!(audited(store, "client.create", &c.id).await, 1);
    assert_eq!(
        store.client_get("c-no-such-client").await.expect("get"),
        None
    );

    let mut changed = c.clone();
    changed.name = "Renamed".into();
    changed.client_type = ClientType::Public;
    changed.auth_method = AuthMethod::None;
    changed.grant_types = vec![GrantType::ClientCredentials];
    changed.redirect_uris.push("http://127.0.0.1/cb".into());
    changed.allowed_scopes.clear();
    changed.jwks = None;
    changed.refresh_grace_secs = 30;
    changed.assertion_aud_compat = true;
    changed.require_consent = false;
    changed.admin_tool = true;
    changed.disabled = true;
    // Issue 15: web origins (a list, or none = derived) and the DPoP requirement.
    changed.allowed_origins = Some(vec!["https://app.example".into()]);
    changed.dpop_bound_access_tokens = true;
    changed.updated_at = T0 + 10;
    store
        .client_update(&changed, &audit("client.update", &c.id))
        .await
        .expect("client_update");
    assert_eq!(store.client_get(&c.id).await.expect("get"), Some(changed));
    assert_eq!(audited(store, "client.update", &c.id).await, 1);
}

pub async fn a_failed_client_write_changes_nothing_and_audits_nothing(store: &dyn Store) {
    let c = client("c-failing");
    store
        .client_insert(&c, None, &audit("client.create", &c.id))
        .await
        .expect("first insert");
    let mut again = c.clone();
    again.name = "Impostor".into();
    let dup = store
        .client_insert(&again, None, &audit("client.create", &c.id))
        .await;
    assert!(is_conflict(&dup), "duplicate client id: {dup:?}");
    assert_eq!(store.client_get(&c.id).await.expect("get"), Some(c));
    assert_eq!(audited(store, "client.create", "c-failing").await, 1);

    let ghost = client("c-failing-ghost");
    let upd = store
        .client_update(&ghost, &audit("client.update", &ghost.id))
        .await;
    assert!(is_not_found(&upd), "update of unknown client: {upd:?}");
    let del = store
        .client_delete(&ghost.id, &audit("client.delete", &ghost.id))
        .await;
    assert!(is_not_found(&del), "delete of unknown client: {del:?}");
    assert_eq!(store.client_get(&ghost.id).await.expect("get"), None);
    assert_eq!(audited(store, "client.update", &ghost.id).await, 0);
    assert_eq!(audited(store, "client.delete", &ghost.id).await, 0);
}

pub async fn deleting_a_client_removes_everything_that_hangs_off_it(store: &dyn Store) {
    let (c, u) = seed(store, "del").await;
    let (other, _) = seed(store, "del-other").await;
    let secret = ClientSecret {
        id: "sec-del".into(),
        client_id: c.clone(),
        hash: vec![9; 32],
        created_at: T0,
        expires_at: None,
    };
    store
        .client_secret_add(&secret, T0, &audit("client.secret.rotate", &c))
        .await
        .expect("secret");
    store
        .consent_put(&u, &c, &["openid".into()], T0)
        .await
        .expect("consent");
    store
        .consent_put(&u, &other, &["openid".into()], T0)
        .await
        .expect("consent other");
    seed_family(store, &c, &u, "s-del", "rt-del").await;
    seed_family(store, &other, &u, "s-del-other", "rt-del-other").await;
    store
        .auth_code_insert(&code("code-del-pending", &c, &u))
        .await
        .expect("code");
    store
        .device_insert(&device("dev-del", "uc-del", &c))
        .await
        .expect("device");

    store
        .client_delete(&c, &audit("client.delete", &c))
        .await
        .expect("client_delete");

    assert_eq!(store.client_get(&c).await.expect("get"), None);
    assert!(store.client_secrets(&c).await.expect("secrets").is_empty());
    assert!(store.consent_get(&u, &c).await.expect("consent").is_empty());
    assert_eq!(
        store
            .auth_code_get(b"code-del-pending")
            .await
            .expect("code"),
        None
    );
    assert_eq!(
        store.auth_code_get(b"code-for-s-del").await.expect("code"),
        None
    );
    assert_eq!(store.session_get("s-del").await.expect("session"), None);
    assert_eq!(store.refresh_get(b"rt-del").await.expect("rt"), None);
    assert_eq!(store.device_get(b"dev-del").await.expect("device"), None);
    assert_eq!(audited(store, "client.delete", &c).await, 1);

    // The user and the other client's rows are untouched.
    assert!(store.user_get(&u).await.expect("user").is_some());
    assert!(store.session_get("s-del-other").await.expect("s").is_some());
    assert!(store
        .refresh_get(b"rt-del-other")
        .await
        .expect("rt")
        .is_some());
    assert_eq!(
        store.consent_get(&u, &other).await.expect("consent"),
        vec!["openid".to_owned()]
    );
}

/// Secrets still valid at the end of the overlap are cut back to it; a secret ending
/// sooner keeps its earlier end (a rotation never extends a secret's life); the new
/// secret and other clients' secrets are untouched.
pub async fn adding_a_secret_cuts_older_secrets_back_to_the_overlap(store: &dyn Store) {
    let c = client("c-secrets");
    let other = client("c-secrets-other");
    let secret = |id: &str, client_id: &str, expires_at: Option<Timestamp>| ClientSecret {
        id: id.into(),
        client_id: client_id.into(),
        hash: id.as_bytes().to_vec(),
        created_at: T0 - 100,
        expires_at,
    };
    let overlap_end = T0 + 3600;
    store
        .client_insert(
            &c,
            Some(&secret("sec-a", &c.id, None)),
            &audit("client.create", &c.id),
        )
        .await
        .expect("client");
    store
        .client_insert(
            &other,
            Some(&secret("sec-other", &other.id, None)),
            &audit("client.create", &other.id),
        )
        .await
        .expect("other client");
    // Setting up three more secrets is itself three rotations; a far overlap end cuts
    // back only the open-ended sec-a.
    let far = T0 + 100_000;
    for (id, exp) in [
        ("sec-b", Some(T0 + 7200)),
        ("sec-c", Some(T0 + 600)),
        ("sec-d", Some(T0 - 10)),
    ] {
        store
            .client_secret_add(
                &secret(id, &c.id, exp),
                far,
                &audit("client.secret.add", &c.id),
            )
            .await
            .expect("add");
    }
    let before = store.client_secrets(&c.id).await.expect("secrets");
    assert_eq!(before.len(), 4);
    let a = before.iter().find(|s| s.id == "sec-a").expect("sec-a");
    assert_eq!(
        a.expires_at,
        Some(far),
        "an open-ended secret gets the overlap end"
    );

    let mut fresh = secret("sec-new", &c.id, None);
    fresh.created_at = T0;
    store
        .client_secret_add(&fresh, overlap_end, &audit("client.secret.rotate", &c.id))
        .await
        .expect("rotate");
    let after: Vec<(String, Option<Timestamp>)> = store
        .client_secrets(&c.id)
        .await
        .expect("secrets")
        .into_iter()
        .map(|s| (s.id, s.expires_at))
        .collect();
    let expiry = |id: &str| after.iter().find(|(i, _)| i == id).map(|(_, e)| *e);
    assert_eq!(expiry("sec-a"), Some(Some(overlap_end)));
    assert_eq!(expiry("sec-b"), Some(Some(overlap_end)));
    assert_eq!(expiry("sec-c"), Some(Some(T0 + 600)));
    assert_eq!(expiry("sec-d"), Some(Some(T0 - 10)));
    assert_eq!(expiry("sec-new"), Some(None));
    assert_eq!(
        store.client_secrets(&other.id).await.expect("other")[0].expires_at,
        None
    );
    assert_eq!(audited(store, "client.secret.rotate", &c.id).await, 1);
}

// --- scopes and users ----------------------------------------------------------------

pub async fn scopes_round_trip_and_builtin_scopes_cannot_be_deleted(store: &dyn Store) {
    let custom = Scope {
        name: "suite:read".into(),
        description: "Read things, \"quoted\"".into(),
        claims: vec![],
        builtin: false,
        created_at: T0,
    };
    let builtin = Scope {
        name: "suite-profile".into(),
        description: "Your profile".into(),
        claims: vec!["name".into(), "given_name".into()],
        builtin: true,
        created_at: T0,
    };
    for s in [&custom, &builtin] {
        store
            .scope_insert(s, &audit("scope.create", &s.name))
            .await
            .expect("scope_insert");
    }
    assert_eq!(
        store.scope_get(&custom.name).await.expect("get"),
        Some(custom.clone())
    );
    assert_eq!(
        store.scope_get(&builtin.name).await.expect("get"),
        Some(builtin.clone())
    );
    let all = store.scopes_list().await.expect("list");
    assert!(all.contains(&custom) && all.contains(&builtin));
    let dup = store
        .scope_insert(&custom, &audit("scope.create", &custom.name))
        .await;
    assert!(is_conflict(&dup), "duplicate scope: {dup:?}");

    let refused = store
        .scope_delete(&builtin.name, &audit("scope.delete", &builtin.name))
        .await;
    assert!(is_conflict(&refused), "builtin scope delete: {refused:?}");
    assert!(store.scope_get(&builtin.name).await.expect("get").is_some());
    assert_eq!(audited(store, "scope.delete", &builtin.name).await, 0);

    store
        .scope_delete(&custom.name, &audit("scope.delete", &custom.name))
        .await
        .expect("delete");
    assert_eq!(store.scope_get(&custom.name).await.expect("get"), None);
    assert_eq!(audited(store, "scope.delete", &custom.name).await, 1);
    let missing = store
        .scope_delete(&custom.name, &audit("scope.delete", &custom.name))
        .await;
    assert!(
        is_not_found(&missing),
        "delete of unknown scope: {missing:?}"
    );
}

pub async fn users_round_trip_and_usernames_are_unique(store: &dyn Store) {
    let u = user("u-rt");
    store
        .user_insert(&u, &audit("user.create", &u.id))
        .await
        .expect("user_insert");
    assert_eq!(store.user_get(&u.id).await.expect("get"), Some(u.clone()));
    assert_eq!(
        store.user_by_username(&u.username).await.expect("by name"),
        Some(u.clone())
    );
    assert_eq!(
        store
            .user_by_username("name-nobody")
            .await
            .expect("by name"),
        None
    );
    assert!(store.users_list().await.expect("list").contains(&u));
    assert_eq!(audited(store, "user.create", &u.id).await, 1);

    let mut twin = user("u-rt-twin");
    twin.username = u.username.clone();
    let dup = store
        .user_insert(&twin, &audit("user.create", &twin.id))
        .await;
    assert!(is_conflict(&dup), "duplicate username: {dup:?}");
    assert_eq!(store.user_get(&twin.id).await.expect("get"), None);
    assert_eq!(audited(store, "user.create", &twin.id).await, 0);

    let mut changed = u.clone();
    changed.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3".into();
    changed.password_changed_at = T0 + 50;
    changed.disabled = true;
    changed.is_admin = true;
    changed.email = None;
    changed.email_verified = false;
    changed.name = None;
    changed.must_change_password = true;
    store
        .user_update(&changed, &audit("user.update", &u.id))
        .await
        .expect("user_update");
    assert_eq!(store.user_get(&u.id).await.expect("get"), Some(changed));
    assert_eq!(audited(store, "user.update", &u.id).await, 1);
    let ghost = store
        .user_update(&user("u-rt-ghost"), &audit("user.update", "u-rt-ghost"))
        .await;
    assert!(is_not_found(&ghost), "update of unknown user: {ghost:?}");
}

// --- signing keys --------------------------------------------------------------------

pub async fn signing_key_changes_apply_with_their_timestamps(store: &dyn Store) {
    let key = |kid: &str, alg: Alg| SigningKey {
        kid: kid.into(),
        alg,
        state: KeyState::Next,
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        private_enc: vec![7, 0, 7, kid.len() as u8],
        created_at: T0,
        activated_at: None,
        retiring_at: None,
        retired_at: None,
        revoked_at: None,
    };
    let find = |keys: &[SigningKey], kid: &str| keys.iter().find(|k| k.kid == kid).cloned();
    let k1 = key("kid-suite-1", Alg::ES256);
    store
        .keys_apply(&[], Some(&k1), Some(&audit("key.create", &k1.kid)))
        .await
        .expect("insert k1");
    assert_eq!(
        find(&store.keys_list().await.expect("list"), &k1.kid),
        Some(k1.clone())
    );

    let k2 = key("kid-suite-2", Alg::RS256);
    store
        .keys_apply(
            &[KeyUpdate {
                kid: k1.kid.clone(),
                state: KeyState::Active,
                at: T0 + 10,
            }],
            Some(&k2),
            None,
        )
        .await
        .expect("activate k1, insert k2");
    store
        .keys_apply(
            &[
                KeyUpdate {
                    kid: k1.kid.clone(),
                    state: KeyState::Retiring,
                    at: T0 + 20,
                },
                KeyUpdate {
                    kid: k2.kid.clone(),
                    state: KeyState::Active,
                    at: T0 + 20,
                },
            ],
            None,
            Some(&audit("key.rotate", &k2.kid)),
        )
        .await
        .expect("rotate");
    store
        .keys_apply(
            &[KeyUpdate {
                kid: k1.kid.clone(),
                state: KeyState::Retired,
                at: T0 + 30,
            }],
            None,
            None,
        )
        .await
        .expect("retire");
    let keys = store.keys_list().await.expect("list");
    let got1 = find(&keys, &k1.kid).expect("k1");
    assert_eq!(got1.state, KeyState::Retired);
    assert_eq!(
        (
            got1.activated_at,
            got1.retiring_at,
            got1.retired_at,
            got1.revoked_at
        ),
        (Some(T0 + 10), Some(T0 + 20), Some(T0 + 30), None)
    );
    assert_eq!(got1.private_enc, k1.private_enc);
    let got2 = find(&keys, &k2.kid).expect("k2");
    assert_eq!(
        (got2.state, got2.alg, got2.activated_at),
        (KeyState::Active, Alg::RS256, Some(T0 + 20))
    );
    assert_eq!(audited(store, "key.rotate", &k2.kid).await, 1);

    // An unknown kid fails the whole call: the revocation and the insert do not happen.
    let k3 = key("kid-suite-3", Alg::EdDSA);
    let bad = store
        .keys_apply(
            &[
                KeyUpdate {
                    kid: k2.kid.clone(),
                    state: KeyState::Revoked,
                    at: T0 + 40,
                },
                KeyUpdate {
                    kid: "kid-suite-missing".into(),
                    state: KeyState::Active,
                    at: T0 + 40,
                },
            ],
            Some(&k3),
            Some(&audit("key.revoke", &k2.kid)),
        )
        .await;
    assert!(bad.is_err(), "update of unknown kid: {bad:?}");
    let keys = store.keys_list().await.expect("list");
    assert_eq!(find(&keys, &k2.kid).expect("k2").state, KeyState::Active);
    assert_eq!(find(&keys, &k3.kid), None);
    assert_eq!(audited(store, "key.revoke", &k2.kid).await, 0);
}

// --- sign-ins, consent, authorization requests ----------------------------------------

pub async fn sign_ins_round_trip_and_end_only_once(store: &dyn Store) {
    let (_, u) = seed(store, "signin").await;
    let si = sign_in("si-rt", &u);
    store.sign_in_insert(&si).await.expect("insert");
    assert_eq!(
        store.sign_in_get(&si.id).await.expect("get"),
        Some(si.clone())
    );
    assert_eq!(store.sign_in_get("si-none").await.expect("get"), None);
    store.sign_in_end(&si.id, T0 + 5).await.expect("end");
    store.sign_in_end(&si.id, T0 + 9).await.expect("end again");
    let ended = store.sign_in_get(&si.id).await.expect("get").expect("row");
    assert_eq!(ended.ended_at, Some(T0 + 5));
}

pub async fn consent_is_replaced_by_put(store: &dyn Store) {
    let (c, u) = seed(store, "consent").await;
    assert!(store.consent_get(&u, &c).await.expect("get").is_empty());
    let both = vec!["openid".to_owned(), "email".to_owned()];
    store.consent_put(&u, &c, &both, T0).await.expect("put");
    assert_eq!(store.consent_get(&u, &c).await.expect("get"), both);
    store
        .consent_put(&u, &c, &["profile".to_owned()], T0 + 1)
        .await
        .expect("put again");
    assert_eq!(
        store.consent_get(&u, &c).await.expect("get"),
        vec!["profile".to_owned()]
    );
}

pub async fn an_auth_request_can_be_consumed_only_once(store: &dyn Store) {
    let req = AuthRequest {
        id: "ar-once".into(),
        params: r#"{"client_id":"x","scope":"openid"}"#.into(),
        sign_in_id: None,
        created_at: T0,
        expires_at: T0 + 600,
        consumed_at: None,
    };
    store.auth_request_insert(&req).await.expect("insert");
    assert_eq!(
        store.auth_request_get(&req.id).await.expect("get"),
        Some(req.clone())
    );
    assert!(store
        .auth_request_consume(&req.id, T0 + 5)
        .await
        .expect("consume"));
    assert!(!store
        .auth_request_consume(&req.id, T0 + 6)
        .await
        .expect("again"));
    let got = store
        .auth_request_get(&req.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(got.consumed_at, Some(T0 + 5));

    let late = AuthRequest {
        id: "ar-late".into(),
        ..req.clone()
    };
    store.auth_request_insert(&late).await.expect("insert");
    assert!(!store
        .auth_request_consume(&late.id, T0 + 600)
        .await
        .expect("expired"));
    assert!(!store
        .auth_request_consume("ar-none", T0)
        .await
        .expect("unknown"));
}

// --- authorization codes -------------------------------------------------------------

pub async fn a_code_round_trips(store: &dyn Store) {
    let (c, u) = seed(store, "code-rt").await;
    let si = sign_in("si-code-rt", &u);
    store.sign_in_insert(&si).await.expect("sign-in");
    let mut ac = code("code-rt", &c, &u);
    ac.sign_in_id = Some(si.id.clone());
    // RFC 9449 §10: the code's DPoP binding is kept.
    ac.dpop_jkt = Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    ac.hash = vec![0, 255, 1, 254, 0];
    store.auth_code_insert(&ac).await.expect("insert");
    assert_eq!(
        store.auth_code_get(&ac.hash).await.expect("get"),
        Some(ac.clone())
    );
    let mut bare = code("code-rt-bare", &c, &u);
    bare.nonce = None;
    bare.code_challenge = None;
    bare.ip = None;
    bare.user_agent = None;
    bare.redirect_uri_sent = false;
    store.auth_code_insert(&bare).await.expect("insert");
    assert_eq!(
        store.auth_code_get(&bare.hash).await.expect("get"),
        Some(bare)
    );
    assert_eq!(store.auth_code_get(b"code-none").await.expect("get"), None);
    let dup = store.auth_code_insert(&ac).await;
    assert!(is_conflict(&dup), "duplicate code: {dup:?}");
}

fn issuance(c: &str, u: &str, s: &str) -> Issuance {
    Issuance {
        session: Some(session(s, u, c)),
        refresh: Some(refresh(&format!("rt-{s}"), s, c)),
        access: Some(access(&format!("jti-{s}"), Some(s), c)),
        event: None,
    }
}

pub async fn a_code_can_be_redeemed_only_once(store: &dyn Store) {
    let (c, u) = seed(store, "once").await;
    store
        .auth_code_insert(&code("code-once", &c, &u))
        .await
        .expect("insert");
    let mut first = issuance(&c, &u, "s-once-1");
    // RFC 9449 §5: a public client's refresh token keeps its key binding.
    if let Some(rt) = first.refresh.as_mut() {
        rt.dpop_jkt = Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    }
    assert!(store
        .auth_code_redeem(b"code-once", T0 + 5, &first)
        .await
        .expect("redeem"));
    let spent = store
        .auth_code_get(b"code-once")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(spent.consumed_at, Some(T0 + 5));
    assert_eq!(spent.session_id.as_deref(), Some("s-once-1"));
    assert_eq!(
        store.session_get("s-once-1").await.expect("s"),
        first.session
    );
    assert_eq!(
        store.refresh_get(b"rt-s-once-1").await.expect("rt"),
        first.refresh
    );

    let second = issuance(&c, &u, "s-once-2");
    assert!(!store
        .auth_code_redeem(b"code-once", T0 + 6, &second)
        .await
        .expect("again"));
    assert_eq!(store.session_get("s-once-2").await.expect("s"), None);
    assert_eq!(store.refresh_get(b"rt-s-once-2").await.expect("rt"), None);
    let still = store
        .auth_code_get(b"code-once")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (still.consumed_at, still.session_id),
        (Some(T0 + 5), Some("s-once-1".into()))
    );
    assert!(!store
        .auth_code_redeem(b"code-never-issued", T0 + 6, &Issuance::default())
        .await
        .expect("unknown"));
}

pub async fn an_expired_code_cannot_be_redeemed(store: &dyn Store) {
    let (c, u) = seed(store, "expired-code").await;
    let ac = code("code-expired", &c, &u);
    store.auth_code_insert(&ac).await.expect("insert");
    let issue = issuance(&c, &u, "s-expired-code");
    assert!(!store
        .auth_code_redeem(&ac.hash, ac.expires_at, &issue)
        .await
        .expect("redeem"));
    assert_eq!(store.session_get("s-expired-code").await.expect("s"), None);
    let row = store
        .auth_code_get(&ac.hash)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.consumed_at, None);
}

/// Consumption and issuance are one transaction: if writing the tokens fails, the code
/// is not spent either (no "consumed without its token rows").
pub async fn a_failed_issuance_leaves_the_code_unspent(store: &dyn Store) {
    let (c, u) = seed(store, "atomic").await;
    seed_family(store, &c, &u, "s-atomic-taken", "rt-atomic-taken").await;
    store
        .auth_code_insert(&code("code-atomic", &c, &u))
        .await
        .expect("insert");
    // Reusing an existing session id makes the session insert fail mid-transaction.
    let clash = Issuance {
        session: Some(session("s-atomic-taken", &u, &c)),
        refresh: Some(refresh("rt-atomic-new", "s-atomic-taken", &c)),
        access: None,
        event: None,
    };
    let r = store.auth_code_redeem(b"code-atomic", T0 + 5, &clash).await;
    assert!(
        r.is_err(),
        "issuance clashing with an existing session: {r:?}"
    );
    let row = store
        .auth_code_get(b"code-atomic")
        .await
        .expect("get")
        .expect("row");
    assert_eq!((row.consumed_at, row.session_id), (None, None));
    assert_eq!(store.refresh_get(b"rt-atomic-new").await.expect("rt"), None);
    // And the code is still good for a correct issuance.
    let ok = issuance(&c, &u, "s-atomic-ok");
    assert!(store
        .auth_code_redeem(b"code-atomic", T0 + 6, &ok)
        .await
        .expect("redeem"));
}

pub async fn concurrent_redemptions_of_one_code_succeed_exactly_once(store: &dyn Store) {
    let (c, u) = seed(store, "race-code").await;
    store
        .auth_code_insert(&code("code-race", &c, &u))
        .await
        .expect("insert");
    let issues: Vec<Issuance> = (0..20)
        .map(|i| issuance(&c, &u, &format!("s-race-{i}")))
        .collect();
    let results = join_all(
        issues
            .iter()
            .map(|issue| store.auth_code_redeem(b"code-race", T0 + 5, issue))
            .collect(),
    )
    .await;
    let wins: Vec<usize> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Ok(true) => Some(i),
            Ok(false) => None,
            Err(e) => panic!("redemption {i} failed instead of losing: {e:?}"),
        })
        .collect();
    assert_eq!(wins.len(), 1, "exactly one redemption wins: {results:?}");
    let winner = format!("s-race-{}", wins[0]);
    let row = store
        .auth_code_get(b"code-race")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.session_id.as_deref(), Some(winner.as_str()));
    for i in 0..20 {
        let s = format!("s-race-{i}");
        let exists = store.session_get(&s).await.expect("session").is_some();
        assert_eq!(exists, s == winner, "session {s}");
    }
}

// --- pushed authorization requests (RFC 9126) ------------------------------------------

fn pushed(hash: &str, client: &str) -> PushedRequest {
    PushedRequest {
        hash: hash.as_bytes().to_vec(),
        client_id: client.to_string(),
        params: r#"{"response_type":"code","scope":"openid"}"#.to_string(),
        created_at: T0,
        expires_at: T0 + 60,
        consumed_at: None,
    }
}

pub async fn a_pushed_request_is_spent_once_with_its_code_and_only_by_its_client(
    store: &dyn Store,
) {
    let (c, u) = seed(store, "par-once").await;
    let (other, _) = seed(store, "par-other").await;
    let p = pushed("par-once", &c);
    store.pushed_request_insert(&p).await.expect("insert");
    assert_eq!(
        store.pushed_request_get(b"par-once").await.expect("get"),
        Some(p.clone())
    );
    assert_eq!(
        store.pushed_request_get(b"par-none").await.expect("get"),
        None
    );

    // Another client cannot spend it, whatever code it brings.
    let foreign = code("code-par-foreign", &other, &u);
    assert!(!store
        .auth_code_insert_pushed(&foreign, b"par-once", &other, T0 + 5)
        .await
        .expect("foreign"));
    assert!(!store
        .auth_code_insert_pushed(
            &code("code-par-mismatch", &c, &u),
            b"par-once",
            &other,
            T0 + 5
        )
        .await
        .expect("mismatch"));
    // After its expiry it writes nothing.
    assert!(!store
        .auth_code_insert_pushed(&code("code-par-late", &c, &u), b"par-once", &c, T0 + 60)
        .await
        .expect("late"));
    for h in ["code-par-foreign", "code-par-mismatch", "code-par-late"] {
        assert_eq!(
            store.auth_code_get(h.as_bytes()).await.expect("get"),
            None,
            "{h}"
        );
    }

    let first = code("code-par-first", &c, &u);
    assert!(store
        .auth_code_insert_pushed(&first, b"par-once", &c, T0 + 5)
        .await
        .expect("spend"));
    assert_eq!(
        store.auth_code_get(b"code-par-first").await.expect("get"),
        Some(first)
    );
    assert!(!store
        .auth_code_insert_pushed(&code("code-par-again", &c, &u), b"par-once", &c, T0 + 6)
        .await
        .expect("again"));
    assert_eq!(
        store.auth_code_get(b"code-par-again").await.expect("get"),
        None
    );
    assert!(!store
        .pushed_request_consume(b"par-once", &c, T0 + 7)
        .await
        .expect("consume spent"));
    let row = store
        .pushed_request_get(b"par-once")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.consumed_at, Some(T0 + 5));

    // A denial spends it too, once.
    store
        .pushed_request_insert(&pushed("par-denied", &c))
        .await
        .expect("insert");
    assert!(!store
        .pushed_request_consume(b"par-denied", &other, T0 + 1)
        .await
        .expect("foreign consume"));
    assert!(store
        .pushed_request_consume(b"par-denied", &c, T0 + 1)
        .await
        .expect("consume"));
    assert!(!store
        .pushed_request_consume(b"par-denied", &c, T0 + 2)
        .await
        .expect("consume again"));
}

/// F-12: the same `request_uri` completed at once (on PostgreSQL: from several
/// connections, as several nodes would) yields exactly one code.
pub async fn concurrent_completions_of_one_pushed_request_write_exactly_one_code(
    store: &dyn Store,
) {
    let (c, u) = seed(store, "par-race").await;
    store
        .pushed_request_insert(&pushed("par-race", &c))
        .await
        .expect("insert");
    let codes: Vec<AuthCode> = (0..20)
        .map(|i| code(&format!("code-par-race-{i}"), &c, &u))
        .collect();
    let results = join_all(
        codes
            .iter()
            .map(|ac| store.auth_code_insert_pushed(ac, b"par-race", &c, T0 + 5))
            .collect(),
    )
    .await;
    let wins: Vec<usize> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Ok(true) => Some(i),
            Ok(false) => None,
            Err(e) => panic!("completion {i} failed instead of losing: {e:?}"),
        })
        .collect();
    assert_eq!(wins.len(), 1, "exactly one completion wins: {results:?}");
    for (i, ac) in codes.iter().enumerate() {
        let exists = store.auth_code_get(&ac.hash).await.expect("get").is_some();
        assert_eq!(exists, i == wins[0], "code {i}");
    }
}

pub async fn purging_removes_expired_pushed_requests_and_keeps_live_ones(store: &dyn Store) {
    let (c, _) = seed(store, "par-purge").await;
    let mut old = pushed("par-purge-old", &c);
    old.expires_at = T0 + 10;
    let mut live = pushed("par-purge-live", &c);
    live.expires_at = T0 + 11;
    store.pushed_request_insert(&old).await.expect("old");
    store.pushed_request_insert(&live).await.expect("live");
    store.purge_expired(T0 + 10).await.expect("purge");
    assert_eq!(
        store
            .pushed_request_get(b"par-purge-old")
            .await
            .expect("get"),
        None
    );
    assert!(store
        .pushed_request_get(b"par-purge-live")
        .await
        .expect("get")
        .is_some());
}

// --- refresh tokens ------------------------------------------------------------------

pub async fn a_refresh_token_rotates_once_then_reports_its_reuse(store: &dyn Store) {
    let (c, u) = seed(store, "rotate").await;
    seed_family(store, &c, &u, "s-rotate", "rt-rotate-1").await;
    let mut rt2 = refresh("rt-rotate-2", "s-rotate", &c);
    rt2.created_at = T0 + 100;
    rt2.idle_expires_at = T0 + 100 + 86_400;
    let at2 = access("jti-rotate-2", Some("s-rotate"), &c);
    let out = store
        .refresh_rotate(b"rt-rotate-1", T0 + 100, &rt2, Some(&at2))
        .await
        .expect("rotate");
    let RotateOutcome::Rotated { session } = out else {
        panic!("expected Rotated, got {out:?}");
    };
    assert_eq!(
        (session.id.as_str(), session.last_used_at),
        ("s-rotate", T0 + 100)
    );
    assert_eq!(
        store
            .session_get("s-rotate")
            .await
            .expect("s")
            .expect("row")
            .last_used_at,
        T0 + 100
    );
    let old = store
        .refresh_get(b"rt-rotate-1")
        .await
        .expect("rt")
        .expect("row");
    assert_eq!(old.consumed_at, Some(T0 + 100));
    assert_eq!(
        store.refresh_get(b"rt-rotate-2").await.expect("rt"),
        Some(rt2)
    );

    let rt3 = refresh("rt-rotate-3", "s-rotate", &c);
    let again = store
        .refresh_rotate(b"rt-rotate-1", T0 + 200, &rt3, None)
        .await
        .expect("reuse");
    assert_eq!(
        again,
        RotateOutcome::AlreadyConsumed {
            session_id: "s-rotate".into(),
            consumed_at: T0 + 100
        }
    );
    assert_eq!(store.refresh_get(b"rt-rotate-3").await.expect("rt"), None);
}

pub async fn rotation_is_dead_once_the_session_is_revoked(store: &dyn Store) {
    let (c, u) = seed(store, "dead-revoked").await;
    seed_family(store, &c, &u, "s-dead-revoked", "rt-dead-revoked").await;
    assert!(store
        .session_revoke("s-dead-revoked", "test", T0 + 10, None)
        .await
        .expect("revoke"));
    let next = refresh("rt-dead-revoked-2", "s-dead-revoked", &c);
    let out = store
        .refresh_rotate(b"rt-dead-revoked", T0 + 20, &next, None)
        .await
        .expect("rotate");
    assert_eq!(out, RotateOutcome::Dead);
    assert_eq!(
        store.refresh_get(b"rt-dead-revoked-2").await.expect("rt"),
        None
    );
    // Nothing was written: the dead token was not spent either.
    let old = store
        .refresh_get(b"rt-dead-revoked")
        .await
        .expect("rt")
        .expect("row");
    assert_eq!(old.consumed_at, None);
}

pub async fn rotation_is_dead_once_the_idle_time_or_the_session_runs_out(store: &dyn Store) {
    let (c, u) = seed(store, "dead-idle").await;
    seed_family(store, &c, &u, "s-dead-idle", "rt-dead-idle").await;
    let idle_end = refresh("x", "s-dead-idle", &c).idle_expires_at;
    let next = refresh("rt-dead-idle-2", "s-dead-idle", &c);
    let out = store
        .refresh_rotate(b"rt-dead-idle", idle_end, &next, None)
        .await
        .expect("rotate");
    assert_eq!(out, RotateOutcome::Dead);
    assert_eq!(
        store.refresh_get(b"rt-dead-idle-2").await.expect("rt"),
        None
    );

    // A token whose idle time is fine but whose session has reached its absolute end.
    seed_family(store, &c, &u, "s-dead-abs", "rt-dead-abs").await;
    let s = store
        .session_get("s-dead-abs")
        .await
        .expect("s")
        .expect("row");
    let mut long_idle = refresh("rt-dead-abs-long", "s-dead-abs", &c);
    long_idle.idle_expires_at = s.expires_at + 1000;
    let out = store
        .refresh_rotate(b"rt-dead-abs", T0 + 50, &long_idle, None)
        .await
        .expect("rotate");
    assert!(matches!(out, RotateOutcome::Rotated { .. }), "{out:?}");
    let next = refresh("rt-dead-abs-2", "s-dead-abs", &c);
    let out = store
        .refresh_rotate(b"rt-dead-abs-long", s.expires_at, &next, None)
        .await
        .expect("rotate");
    assert_eq!(out, RotateOutcome::Dead);
    assert_eq!(store.refresh_get(b"rt-dead-abs-2").await.expect("rt"), None);
}

pub async fn rotating_an_unknown_token_is_not_found(store: &dyn Store) {
    let (c, u) = seed(store, "rt-unknown").await;
    seed_family(store, &c, &u, "s-rt-unknown", "rt-unknown-real").await;
    let next = refresh("rt-unknown-next", "s-rt-unknown", &c);
    let out = store
        .refresh_rotate(b"rt-never-issued", T0 + 5, &next, None)
        .await
        .expect("rotate");
    assert_eq!(out, RotateOutcome::NotFound);
    assert_eq!(
        store.refresh_get(b"rt-unknown-next").await.expect("rt"),
        None
    );
}

pub async fn concurrent_rotations_of_one_token_succeed_exactly_once(store: &dyn Store) {
    let (c, u) = seed(store, "race-rt").await;
    seed_family(store, &c, &u, "s-race-rt", "rt-race").await;
    let news: Vec<RefreshToken> = (0..50)
        .map(|i| refresh(&format!("rt-race-{i}"), "s-race-rt", &c))
        .collect();
    let results = join_all(
        news.iter()
            .map(|n| store.refresh_rotate(b"rt-race", T0 + 5, n, None))
            .collect(),
    )
    .await;
    let mut rotated = 0;
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(RotateOutcome::Rotated { .. }) => rotated += 1,
            Ok(RotateOutcome::AlreadyConsumed {
                session_id,
                consumed_at,
            }) => {
                assert_eq!((session_id.as_str(), *consumed_at), ("s-race-rt", T0 + 5));
            }
            other => panic!("rotation {i}: {other:?}"),
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation wins");
    let mut stored = 0;
    for n in &news {
        if store.refresh_get(&n.hash).await.expect("rt").is_some() {
            stored += 1;
        }
    }
    assert_eq!(stored, 1, "exactly one successor token is stored");
}

/// The grace-window path: every unspent token of the family is spent and one fresh
/// token issued, so the family never has two live tokens.
pub async fn reissue_leaves_at_most_one_live_refresh_token(store: &dyn Store) {
    let (c, u) = seed(store, "reissue").await;
    seed_family(store, &c, &u, "s-reissue", "rt-reissue-1").await;
    let rt2 = refresh("rt-reissue-2", "s-reissue", &c);
    let out = store
        .refresh_rotate(b"rt-reissue-1", T0 + 10, &rt2, None)
        .await
        .expect("rotate");
    assert!(matches!(out, RotateOutcome::Rotated { .. }), "{out:?}");

    let rt3 = refresh("rt-reissue-3", "s-reissue", &c);
    let at3 = access("jti-reissue-3", Some("s-reissue"), &c);
    // rt2 is live, so rt1 is the latest spent token: the only one a retry may present.
    let not_latest = refresh("rt-reissue-x", "s-reissue", &c);
    assert!(!store
        .refresh_reissue("s-reissue", b"rt-reissue-2", T0 + 11, &not_latest, None)
        .await
        .expect("reissue of a token that is not the latest spent"));
    assert!(store
        .refresh_reissue("s-reissue", b"rt-reissue-1", T0 + 12, &rt3, Some(&at3))
        .await
        .expect("reissue"));
    let rt2_row = store
        .refresh_get(b"rt-reissue-2")
        .await
        .expect("rt")
        .expect("row");
    assert_eq!(rt2_row.consumed_at, Some(T0 + 12));
    assert_eq!(
        store.refresh_get(b"rt-reissue-3").await.expect("rt"),
        Some(rt3)
    );
    let listed = store
        .sessions_list(
            &SessionFilter {
                client_id: Some(c.clone()),
                ..Default::default()
            },
            T0 + 13,
        )
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].live_refresh_tokens, 1);
    assert_eq!(listed[0].session.last_used_at, T0 + 12);

    // A revoked family is not revived by a retry.
    store
        .session_revoke("s-reissue", "test", T0 + 20, None)
        .await
        .expect("revoke");
    let rt4 = refresh("rt-reissue-4", "s-reissue", &c);
    assert!(!store
        .refresh_reissue("s-reissue", b"rt-reissue-1", T0 + 21, &rt4, None)
        .await
        .expect("reissue dead"));
    assert_eq!(store.refresh_get(b"rt-reissue-4").await.expect("rt"), None);
    let rt3_row = store
        .refresh_get(b"rt-reissue-3")
        .await
        .expect("rt")
        .expect("row");
    assert_eq!(rt3_row.consumed_at, None);
}

// --- device codes --------------------------------------------------------------------

pub async fn device_codes_go_from_pending_to_approved_to_consumed_once(store: &dyn Store) {
    let (c, u) = seed(store, "device").await;
    let si = sign_in("si-device", &u);
    store.sign_in_insert(&si).await.expect("sign-in");
    let dc = device("dev-flow", "uc-flow", &c);
    store.device_insert(&dc).await.expect("insert");
    assert_eq!(
        store.device_get(b"dev-flow").await.expect("get"),
        Some(dc.clone())
    );
    assert_eq!(
        store.device_by_user_code(b"uc-flow").await.expect("by uc"),
        Some(dc.clone())
    );
    assert_eq!(
        store.device_by_user_code(b"uc-none").await.expect("by uc"),
        None
    );

    store
        .device_touch(b"dev-flow", T0 + 5, 10)
        .await
        .expect("touch");
    let polled = store
        .device_get(b"dev-flow")
        .await
        .expect("get")
        .expect("row");
    assert_eq!((polled.last_polled_at, polled.interval), (Some(T0 + 5), 10));

    let issue = issuance(&c, &u, "s-device");
    assert!(!store
        .device_redeem(b"dev-flow", T0 + 6, &issue)
        .await
        .expect("pending"));
    assert_eq!(store.session_get("s-device").await.expect("s"), None);

    assert!(store
        .device_decide(b"uc-flow", true, &u, Some(&si.id), T0 - 5, T0 + 7)
        .await
        .expect("approve"));
    assert!(!store
        .device_decide(b"uc-flow", false, &u, None, T0 - 5, T0 + 8)
        .await
        .expect("decide twice"));
    let approved = store
        .device_get(b"dev-flow")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(approved.status, DeviceStatus::Approved);
    assert_eq!(approved.user_id.as_deref(), Some(u.as_str()));
    assert_eq!(approved.sign_in_id.as_deref(), Some(si.id.as_str()));
    assert_eq!(approved.auth_time, Some(T0 - 5));

    assert!(store
        .device_redeem(b"dev-flow", T0 + 9, &issue)
        .await
        .expect("redeem"));
    let consumed = store
        .device_get(b"dev-flow")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(consumed.status, DeviceStatus::Consumed);
    assert_eq!(consumed.session_id.as_deref(), Some("s-device"));
    assert_eq!(
        store.session_get("s-device").await.expect("s"),
        issue.session
    );
    assert_eq!(
        store.refresh_get(b"rt-s-device").await.expect("rt"),
        issue.refresh
    );

    let again = issuance(&c, &u, "s-device-2");
    assert!(!store
        .device_redeem(b"dev-flow", T0 + 10, &again)
        .await
        .expect("twice"));
    assert_eq!(store.session_get("s-device-2").await.expect("s"), None);
}

pub async fn denied_or_expired_device_codes_cannot_be_redeemed(store: &dyn Store) {
    let (c, u) = seed(store, "device-no").await;
    let issue = |s: &str| issuance(&c, &u, s);

    store
        .device_insert(&device("dev-denied", "uc-denied", &c))
        .await
        .expect("insert");
    assert!(store
        .device_decide(b"uc-denied", false, &u, None, T0, T0 + 1)
        .await
        .expect("deny"));
    let denied = store
        .device_get(b"dev-denied")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(denied.status, DeviceStatus::Denied);
    assert!(!store
        .device_redeem(b"dev-denied", T0 + 2, &issue("s-dn-1"))
        .await
        .expect("redeem"));

    let late = device("dev-late", "uc-late", &c);
    store.device_insert(&late).await.expect("insert");
    assert!(!store
        .device_decide(b"uc-late", true, &u, None, T0, late.expires_at)
        .await
        .expect("decide expired"));
    assert_eq!(
        store
            .device_get(b"dev-late")
            .await
            .expect("get")
            .expect("row")
            .status,
        DeviceStatus::Pending
    );

    let slow = device("dev-slow", "uc-slow", &c);
    store.device_insert(&slow).await.expect("insert");
    assert!(store
        .device_decide(b"uc-slow", true, &u, None, T0, T0 + 1)
        .await
        .expect("approve"));
    assert!(!store
        .device_redeem(b"dev-slow", slow.expires_at, &issue("s-dn-2"))
        .await
        .expect("redeem expired"));
    for s in ["s-dn-1", "s-dn-2"] {
        assert_eq!(store.session_get(s).await.expect("s"), None);
    }
    assert!(!store
        .device_redeem(b"dev-none", T0, &issue("s-dn-3"))
        .await
        .expect("unknown"));
}

// --- sessions and revocation ---------------------------------------------------------

pub async fn revoking_a_session_reports_whether_it_was_live(store: &dyn Store) {
    let (c, u) = seed(store, "revoke-one").await;
    seed_family(store, &c, &u, "s-revoke-one", "rt-revoke-one").await;
    let ev = audit("session.revoke", "s-revoke-one");
    assert!(store
        .session_revoke("s-revoke-one", "admin", T0 + 10, Some(&ev))
        .await
        .expect("revoke"));
    let s = store
        .session_get("s-revoke-one")
        .await
        .expect("s")
        .expect("row");
    assert_eq!(
        (s.revoked_at, s.revoked_reason.as_deref()),
        (Some(T0 + 10), Some("admin"))
    );
    assert!(!s.is_live(T0 + 10));
    assert_eq!(audited(store, "session.revoke", "s-revoke-one").await, 1);

    assert!(!store
        .session_revoke("s-revoke-one", "again", T0 + 20, None)
        .await
        .expect("revoke again"));
    let s = store
        .session_get("s-revoke-one")
        .await
        .expect("s")
        .expect("row");
    assert_eq!(
        (s.revoked_at, s.revoked_reason.as_deref()),
        (Some(T0 + 10), Some("admin"))
    );
    assert!(!store
        .session_revoke("s-revoke-none", "x", T0, None)
        .await
        .expect("unknown"));

    // An expired session was not live, whatever else happens to it.
    seed_family(store, &c, &u, "s-revoke-old", "rt-revoke-old").await;
    let end = store
        .session_get("s-revoke-old")
        .await
        .expect("s")
        .expect("row")
        .expires_at;
    assert!(!store
        .session_revoke("s-revoke-old", "late", end + 1, None)
        .await
        .expect("revoke expired"));
}

pub async fn revoking_a_users_sessions_ends_their_sign_ins(store: &dyn Store) {
    let (c, u) = seed(store, "revoke-user").await;
    let (_, bystander) = seed(store, "revoke-user-bystander").await;
    for id in ["si-ru-1", "si-ru-2"] {
        store
            .sign_in_insert(&sign_in(id, &u))
            .await
            .expect("sign-in");
    }
    store
        .sign_in_insert(&sign_in("si-ru-bystander", &bystander))
        .await
        .expect("sign-in");
    seed_family(store, &c, &u, "s-ru-1", "rt-ru-1").await;
    seed_family(store, &c, &u, "s-ru-2", "rt-ru-2").await;
    seed_family(store, &c, &u, "s-ru-old", "rt-ru-old").await;
    store
        .session_revoke("s-ru-old", "earlier", T0 + 1, None)
        .await
        .expect("revoke");
    seed_family(store, &c, &bystander, "s-ru-bystander", "rt-ru-bystander").await;

    let ev = audit("user.sessions.revoke", &u);
    let n = store
        .sessions_revoke_user(&u, T0 + 50, Some(&ev))
        .await
        .expect("revoke user");
    assert_eq!(
        n,
        RevokeImpact {
            sessions: 2,
            refresh_families: 2,
            live_access_tokens: 2
        }
    );
    for s in ["s-ru-1", "s-ru-2"] {
        let row = store.session_get(s).await.expect("s").expect("row");
        assert_eq!(row.revoked_at, Some(T0 + 50), "{s}");
    }
    let old = store
        .session_get("s-ru-old")
        .await
        .expect("s")
        .expect("row");
    assert_eq!(
        (old.revoked_at, old.revoked_reason.as_deref()),
        (Some(T0 + 1), Some("earlier"))
    );
    for si in ["si-ru-1", "si-ru-2"] {
        let row = store.sign_in_get(si).await.expect("si").expect("row");
        assert_eq!(row.ended_at, Some(T0 + 50), "{si}");
    }
    assert!(store
        .session_get("s-ru-bystander")
        .await
        .expect("s")
        .expect("row")
        .is_live(T0 + 50));
    assert_eq!(
        store
            .sign_in_get("si-ru-bystander")
            .await
            .expect("si")
            .expect("row")
            .ended_at,
        None
    );
    assert_eq!(audited(store, "user.sessions.revoke", &u).await, 1);
    let out = store
        .refresh_rotate(
            b"rt-ru-1",
            T0 + 51,
            &refresh("rt-ru-1b", "s-ru-1", &c),
            None,
        )
        .await
        .expect("rotate");
    assert_eq!(out, RotateOutcome::Dead);
}

pub async fn deleting_a_user_removes_their_sessions_sign_ins_and_consents(store: &dyn Store) {
    let (c, u) = seed(store, "delete-user").await;
    let (_, bystander) = seed(store, "delete-user-bystander").await;
    let mut late = sign_in("si-du-2", &u);
    late.auth_time = T0 + 7;
    for si in [sign_in("si-du-1", &u), late, sign_in("si-du-b", &bystander)] {
        store.sign_in_insert(&si).await.expect("sign-in");
    }
    seed_family(store, &c, &u, "s-du-1", "rt-du-1").await;
    seed_family(store, &c, &u, "s-du-2", "rt-du-2").await;
    store
        .session_revoke("s-du-2", "earlier", T0 + 1, None)
        .await
        .expect("revoke");
    seed_family(store, &c, &bystander, "s-du-b", "rt-du-b").await;
    store
        .consent_put(&u, &c, &["openid".to_string()], T0)
        .await
        .expect("consent");

    let activity = store.users_activity(T0 + 10).await.expect("activity");
    let of = |id: &str| activity.iter().find(|a| a.user_id == id).cloned();
    assert_eq!(
        of(&u),
        Some(UserActivity {
            user_id: u.clone(),
            last_sign_in_at: Some(T0 + 7),
            live_sessions: 1,
        })
    );
    assert_eq!(of(&bystander).map(|a| a.live_sessions), Some(1));

    assert!(store
        .user_delete(&u, &audit("user.delete", &u))
        .await
        .expect("delete"));
    assert!(store.user_get(&u).await.expect("get").is_none());
    for s in ["s-du-1", "s-du-2"] {
        assert!(store.session_get(s).await.expect("s").is_none(), "{s}");
    }
    assert!(store.sign_in_get("si-du-1").await.expect("si").is_none());
    assert!(store.consent_get(&u, &c).await.expect("consent").is_empty());
    assert_eq!(
        store
            .refresh_rotate(
                b"rt-du-1",
                T0 + 11,
                &refresh("rt-du-1b", "s-du-1", &c),
                None
            )
            .await
            .ok(),
        Some(RotateOutcome::NotFound),
        "the family is gone with its session"
    );
    assert_eq!(audited(store, "user.delete", &u).await, 1);
    assert!(store.session_get("s-du-b").await.expect("s").is_some());
    assert!(store.sign_in_get("si-du-b").await.expect("si").is_some());
    assert!(store
        .users_activity(T0 + 10)
        .await
        .expect("activity")
        .iter()
        .all(|a| a.user_id != u));
    // A second delete finds nobody and writes no second event.
    assert!(!store
        .user_delete(&u, &audit("user.delete", &u))
        .await
        .expect("delete again"));
    assert_eq!(audited(store, "user.delete", &u).await, 1);
}

pub async fn revoking_a_clients_tokens_moves_its_watermark(store: &dyn Store) {
    let (c, u) = seed(store, "revoke-client").await;
    let (bystander, _) = seed(store, "revoke-client-bystander").await;
    seed_family(store, &c, &u, "s-rc-1", "rt-rc-1").await;
    seed_family(store, &c, &u, "s-rc-2", "rt-rc-2").await;
    seed_family(store, &bystander, &u, "s-rc-bystander", "rt-rc-bystander").await;

    let ev = audit("client.tokens.revoke", &c);
    let n = store
        .sessions_revoke_client(&c, T0 + 60, Some(&ev))
        .await
        .expect("revoke client");
    assert_eq!(n.sessions, 2);
    let client = store.client_get(&c).await.expect("get").expect("row");
    assert_eq!(client.tokens_valid_after, T0 + 60);
    for s in ["s-rc-1", "s-rc-2"] {
        assert!(!store
            .session_get(s)
            .await
            .expect("s")
            .expect("row")
            .is_live(T0 + 60));
    }
    assert!(store
        .session_get("s-rc-bystander")
        .await
        .expect("s")
        .expect("row")
        .is_live(T0 + 60));
    assert_eq!(
        store
            .client_get(&bystander)
            .await
            .expect("get")
            .expect("row")
            .tokens_valid_after,
        0
    );
    assert_eq!(audited(store, "client.tokens.revoke", &c).await, 1);

    // Nothing left to revoke: the count is 0 but the watermark still moves.
    let n = store
        .sessions_revoke_client(&c, T0 + 70, None)
        .await
        .expect("again");
    assert_eq!(n, RevokeImpact::default());
    assert_eq!(
        store
            .client_get(&c)
            .await
            .expect("get")
            .expect("row")
            .tokens_valid_after,
        T0 + 70
    );
    let ghost = store
        .sessions_revoke_client("c-no-such-client", T0, None)
        .await;
    assert!(is_not_found(&ghost), "unknown client: {ghost:?}");
}

pub async fn sessions_are_listed_newest_first_with_names_and_live_token_counts(store: &dyn Store) {
    let (c, a) = seed(store, "list").await;
    let b = "u-list-b".to_owned();
    store
        .user_insert(&user(&b), &audit("user.create", &b))
        .await
        .expect("user b");
    let now = T0 + 100;

    // s1 (user a, oldest): its first refresh token spent by a rotation that also
    // recorded an access token already expired at `now`; one live access record (from
    // the redemption) and one live refresh token remain.
    store
        .auth_code_insert(&code("code-list-1", &c, &a))
        .await
        .expect("code");
    let s1 = issuance(&c, &a, "s-list-1");
    assert!(store
        .auth_code_redeem(b"code-list-1", T0 + 1, &s1)
        .await
        .expect("redeem"));
    let mut expired_at = access("jti-list-1-old", Some("s-list-1"), &c);
    expired_at.expires_at = now;
    let out = store
        .refresh_rotate(
            b"rt-s-list-1",
            T0 + 2,
            &refresh("rt-list-1b", "s-list-1", &c),
            Some(&expired_at),
        )
        .await
        .expect("rotate");
    assert!(matches!(out, RotateOutcome::Rotated { .. }), "{out:?}");

    // s2 (user b): its only refresh token's idle time ends exactly at `now`.
    let mut s2 = issuance(&c, &b, "s-list-2");
    if let Some(s) = s2.session.as_mut() {
        s.created_at = T0 + 10;
    }
    if let Some(r) = s2.refresh.as_mut() {
        r.idle_expires_at = now;
    }
    store
        .auth_code_insert(&code("code-list-2", &c, &b))
        .await
        .expect("code");
    assert!(store
        .auth_code_redeem(b"code-list-2", T0 + 10, &s2)
        .await
        .expect("redeem"));

    // s3 (user a, newest): revoked, with an unspent refresh token.
    let mut s3 = issuance(&c, &a, "s-list-3");
    if let Some(s) = s3.session.as_mut() {
        s.created_at = T0 + 20;
    }
    store
        .auth_code_insert(&code("code-list-3", &c, &a))
        .await
        .expect("code");
    assert!(store
        .auth_code_redeem(b"code-list-3", T0 + 20, &s3)
        .await
        .expect("redeem"));
    store
        .session_revoke("s-list-3", "test", T0 + 30, None)
        .await
        .expect("revoke");

    let by_client = SessionFilter {
        client_id: Some(c.clone()),
        ..Default::default()
    };
    let all = store.sessions_list(&by_client, now).await.expect("list");
    let ids: Vec<&str> = all.iter().map(|i| i.session.id.as_str()).collect();
    assert_eq!(ids, ["s-list-3", "s-list-2", "s-list-1"]);
    let one = &all[2];
    assert_eq!(one.username, "name-u-list");
    assert_eq!(one.client_name, "Client c-list");
    assert_eq!((one.live_access_tokens, one.live_refresh_tokens), (1, 1));
    assert_eq!(all[1].username, "name-u-list-b");
    assert_eq!(
        (all[1].live_access_tokens, all[1].live_refresh_tokens),
        (1, 0),
        "a refresh token past its idle time is not live"
    );
    assert_eq!(
        all[0].live_refresh_tokens, 0,
        "a revoked family has no live tokens"
    );
    assert_eq!(all[0].session.revoked_at, Some(T0 + 30));

    let for_a = SessionFilter {
        user_id: Some(a.clone()),
        ..by_client.clone()
    };
    let ids: Vec<String> = store
        .sessions_list(&for_a, now)
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.session.id)
        .collect();
    assert_eq!(ids, ["s-list-3", "s-list-1"]);
    let live = SessionFilter {
        state: SessionStateFilter::Active,
        ..by_client.clone()
    };
    let ids: Vec<String> = store
        .sessions_list(&live, now)
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.session.id)
        .collect();
    assert_eq!(ids, ["s-list-2", "s-list-1"]);
    let first = SessionFilter {
        limit: Some(1),
        ..by_client.clone()
    };
    let ids: Vec<String> = store
        .sessions_list(&first, now)
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.session.id)
        .collect();
    assert_eq!(ids, ["s-list-3"]);
    let none = SessionFilter {
        user_id: Some("u-nobody".into()),
        ..by_client
    };
    assert!(store
        .sessions_list(&none, now)
        .await
        .expect("list")
        .is_empty());
}

pub async fn the_jti_denylist_remembers_revoked_access_tokens(store: &dyn Store) {
    assert!(!store.access_token_revoked("jti-deny").await.expect("check"));
    store
        .access_token_revoke("jti-deny", T0 + 600)
        .await
        .expect("revoke");
    assert!(store.access_token_revoked("jti-deny").await.expect("check"));
    store
        .access_token_revoke("jti-deny", T0 + 300)
        .await
        .expect("revoke twice");
    assert!(store.access_token_revoked("jti-deny").await.expect("check"));
    assert!(!store
        .access_token_revoked("jti-deny-other")
        .await
        .expect("check"));
}

pub async fn a_jti_can_be_used_only_once(store: &dyn Store) {
    assert!(store
        .jti_use("client-a:jti-once", T0 + 60)
        .await
        .expect("first"));
    assert!(!store
        .jti_use("client-a:jti-once", T0 + 60)
        .await
        .expect("second"));
    assert!(store
        .jti_use("client-b:jti-once", T0 + 60)
        .await
        .expect("other key"));
    let results = join_all(
        (0..20)
            .map(|_| store.jti_use("client-a:jti-race", T0 + 60))
            .collect(),
    )
    .await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let firsts = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(firsts, 1, "exactly one concurrent use wins");

    // Concurrent uses of several keys (a backend may gather them into one statement):
    // one winner per key, whichever order they were queued in.
    let keys: Vec<String> = (0..24).map(|i| format!("client-c:jti-{}", i % 6)).collect();
    let results = join_all(keys.iter().map(|k| store.jti_use(k, T0 + 60)).collect()).await;
    let mut winners: Vec<&str> = keys
        .iter()
        .zip(&results)
        .filter(|(_, r)| matches!(r, Ok(true)))
        .map(|(k, _)| k.as_str())
        .collect();
    winners.sort_unstable();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(
        winners,
        (0..6)
            .map(|i| format!("client-c:jti-{i}"))
            .collect::<Vec<_>>(),
        "each key won exactly once"
    );
}

// --- audit and housekeeping ------------------------------------------------------------

pub async fn audit_events_are_listed_newest_first_and_filtered(store: &dyn Store) {
    let actor = "user:audit-suite";
    let events = [
        NewAuditEvent::new(T0, actor, "client.create").target("c-audit-1"),
        NewAuditEvent::new(T0 + 1, actor, "client.update")
            .target("c-audit-1")
            .before(&serde_json::json!({"name": "a"}))
            .after(&serde_json::json!({"name": "b"})),
        NewAuditEvent::new(T0 + 2, actor, "CLIENT.shout").target("c-audit-2"),
        NewAuditEvent::new(T0 + 3, actor, "security.refresh_token.reuse_detected")
            .target("s-audit")
            .ip(Some("198.51.100.4".into()))
            .security(),
        NewAuditEvent::new(T0 + 4, "system", "client.update").target("c-audit-1"),
    ];
    for e in &events {
        store.audit_insert(e).await.expect("audit_insert");
    }
    let by_actor = AuditFilter {
        actor: Some(actor.into()),
        ..Default::default()
    };
    let got = store.audit_list(&by_actor).await.expect("list");
    let actions: Vec<&str> = got.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "security.refresh_token.reuse_detected",
            "CLIENT.shout",
            "client.update",
            "client.create"
        ]
    );
    assert!(
        got.windows(2).all(|w| w[0].id > w[1].id),
        "ids grow with time"
    );
    let reuse = &got[0];
    assert!(reuse.security);
    assert_eq!(
        (reuse.at, reuse.ip.as_deref()),
        (T0 + 3, Some("198.51.100.4"))
    );
    let update = &got[2];
    assert_eq!(update.before.as_deref(), Some(r#"{"name":"a"}"#));
    assert_eq!(update.after.as_deref(), Some(r#"{"name":"b"}"#));

    let prefixed = AuditFilter {
        action_prefix: Some("client.".into()),
        ..by_actor.clone()
    };
    let actions: Vec<String> = store
        .audit_list(&prefixed)
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["client.update", "client.create"],
        "the prefix matches literally, case included"
    );
    let secure = AuditFilter {
        security_only: true,
        ..by_actor.clone()
    };
    assert_eq!(store.audit_list(&secure).await.expect("list").len(), 1);
    let target = AuditFilter {
        target: Some("c-audit-1".into()),
        ..Default::default()
    };
    assert_eq!(store.audit_list(&target).await.expect("list").len(), 3);
    let since = AuditFilter {
        since: Some(T0 + 2),
        ..by_actor.clone()
    };
    assert_eq!(store.audit_list(&since).await.expect("list").len(), 2);
    let page = AuditFilter {
        before_id: Some(got[1].id),
        limit: Some(1),
        ..by_actor.clone()
    };
    let older = store.audit_list(&page).await.expect("list");
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].id, got[2].id);
}

pub async fn meta_values_are_upserted(store: &dyn Store) {
    assert_eq!(store.meta_get("suite.key").await.expect("get"), None);
    store.meta_set("suite.key", "one").await.expect("set");
    assert_eq!(
        store.meta_get("suite.key").await.expect("get").as_deref(),
        Some("one")
    );
    store.meta_set("suite.key", "two").await.expect("set again");
    assert_eq!(
        store.meta_get("suite.key").await.expect("get").as_deref(),
        Some("two")
    );
}

pub async fn purging_removes_expired_rows_and_keeps_live_ones(store: &dyn Store) {
    let (c, u) = seed(store, "purge").await;
    let now = T0 + 1000;

    let mut old_code = code("code-purge-old", &c, &u);
    old_code.expires_at = now;
    let mut live_code = code("code-purge-live", &c, &u);
    live_code.expires_at = now + 1;
    let mut old_dev = device("dev-purge-old", "uc-purge-old", &c);
    old_dev.expires_at = now - 1;
    let mut live_dev = device("dev-purge-live", "uc-purge-live", &c);
    live_dev.expires_at = now + 60;
    for ac in [&old_code, &live_code] {
        store.auth_code_insert(ac).await.expect("code");
    }
    for dc in [&old_dev, &live_dev] {
        store.device_insert(dc).await.expect("device");
    }
    let req = |id: &str, expires_at| AuthRequest {
        id: id.into(),
        params: "{}".into(),
        sign_in_id: None,
        created_at: T0,
        expires_at,
        consumed_at: None,
    };
    store
        .auth_request_insert(&req("ar-purge-old", now))
        .await
        .expect("ar");
    store
        .auth_request_insert(&req("ar-purge-live", now + 60))
        .await
        .expect("ar");

    // A live family with a spent token (kept: reuse detection needs it) and a dead
    // family whose spent token goes.
    seed_family(store, &c, &u, "s-purge-live", "rt-purge-live-1").await;
    let mut rt2 = refresh("rt-purge-live-2", "s-purge-live", &c);
    rt2.idle_expires_at = now + 86_400;
    store
        .refresh_rotate(b"rt-purge-live-1", T0 + 10, &rt2, None)
        .await
        .expect("rotate");
    seed_family(store, &c, &u, "s-purge-dead", "rt-purge-dead-1").await;
    store
        .refresh_rotate(
            b"rt-purge-dead-1",
            T0 + 10,
            &refresh("rt-purge-dead-2", "s-purge-dead", &c),
            None,
        )
        .await
        .expect("rotate");
    store
        .session_revoke("s-purge-dead", "test", T0 + 20, None)
        .await
        .expect("revoke");

    store
        .access_token_revoke("jti-purge-old", now)
        .await
        .expect("deny");
    store
        .access_token_revoke("jti-purge-live", now + 60)
        .await
        .expect("deny");
    assert!(store.jti_use("purge:old", now - 1).await.expect("jti"));
    assert!(store.jti_use("purge:live", now + 60).await.expect("jti"));

    let removed = store.purge_expired(now).await.expect("purge");
    // Old code, device code, auth request, denylist entry, used jti, the dead family's
    // two tokens, and the access records that expired (one per seeded family).
    assert!(removed >= 9, "removed {removed}");

    assert_eq!(
        store.auth_code_get(b"code-purge-old").await.expect("code"),
        None
    );
    assert!(store
        .auth_code_get(b"code-purge-live")
        .await
        .expect("code")
        .is_some());
    assert_eq!(store.device_get(b"dev-purge-old").await.expect("dev"), None);
    assert!(store
        .device_get(b"dev-purge-live")
        .await
        .expect("dev")
        .is_some());
    assert_eq!(
        store.auth_request_get("ar-purge-old").await.expect("ar"),
        None
    );
    assert!(store
        .auth_request_get("ar-purge-live")
        .await
        .expect("ar")
        .is_some());
    assert!(store
        .refresh_get(b"rt-purge-live-1")
        .await
        .expect("rt")
        .is_some());
    assert!(store
        .refresh_get(b"rt-purge-live-2")
        .await
        .expect("rt")
        .is_some());
    assert_eq!(
        store.refresh_get(b"rt-purge-dead-1").await.expect("rt"),
        None
    );
    assert!(!store
        .access_token_revoked("jti-purge-old")
        .await
        .expect("deny"));
    assert!(store
        .access_token_revoked("jti-purge-live")
        .await
        .expect("deny"));
    assert!(store
        .jti_use("purge:old", now + 60)
        .await
        .expect("jti reusable after expiry"));
    assert!(!store
        .jti_use("purge:live", now + 60)
        .await
        .expect("jti still recorded"));
    // Sessions themselves are history and stay.
    assert!(store
        .session_get("s-purge-dead")
        .await
        .expect("s")
        .is_some());
    assert_eq!(store.purge_expired(now).await.expect("purge again"), 0);
}

// --- admin API (issue 3) ---------------------------------------------------------------

/// `n` live sessions of `u` at `c`, created one second apart from `T0 + 1`, with ips
/// `10.0.<i>.1`.
async fn seed_sessions(store: &dyn Store, c: &str, u: &str, tag: &str, n: i64) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("s-{tag}-{i:03}");
        let code_hash = format!("code-{id}");
        store
            .auth_code_insert(&code(&code_hash, c, u))
            .await
            .expect("code");
        let mut sess = session(&id, u, c);
        sess.created_at = T0 + 1 + i;
        sess.last_used_at = T0 + 1000 - i;
        sess.ip = Some(format!("10.0.{i}.1"));
        let issue = Issuance {
            session: Some(sess),
            refresh: Some(refresh(&format!("rt-{id}"), &id, c)),
            access: Some(access(&format!("jti-{id}"), Some(&id), c)),
            event: None,
        };
        assert!(store
            .auth_code_redeem(code_hash.as_bytes(), T0 + 1, &issue)
            .await
            .expect("redeem"));
        ids.push(id);
    }
    ids
}

fn ids_of(list: &[SessionInfo]) -> Vec<String> {
    list.iter().map(|i| i.session.id.clone()).collect()
}

pub async fn sessions_page_by_keyset_and_filter_by_ip_time_and_state(store: &dyn Store) {
    let (c, u) = seed(store, "page").await;
    let ids = seed_sessions(store, &c, &u, "page", 12).await;
    let now = T0 + 100;
    let base = SessionFilter {
        client_id: Some(c.clone()),
        limit: Some(5),
        ..SessionFilter::default()
    };
    // Newest first, three pages, no overlap, no gap.
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..3 {
        let page = store
            .sessions_list(
                &SessionFilter {
                    after: after.clone(),
                    ..base.clone()
                },
                now,
            )
            .await
            .expect("page");
        let last = page.last().expect("non-empty page");
        after = Some(SessionCursor {
            key: last.session.created_at,
            id: last.session.id.clone(),
        });
        seen.extend(ids_of(&page));
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    // Ascending by last use: the last-created session was used longest ago.
    let by_use = store
        .sessions_list(
            &SessionFilter {
                sort: SessionSort::LastUsedAt,
                ascending: true,
                ..base.clone()
            },
            now,
        )
        .await
        .expect("by use");
    assert_eq!(ids_of(&by_use)[0], ids[11]);
    let next = store
        .sessions_list(
            &SessionFilter {
                sort: SessionSort::LastUsedAt,
                ascending: true,
                after: Some(SessionCursor {
                    key: by_use[4].session.last_used_at,
                    id: by_use[4].session.id.clone(),
                }),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("by use, page 2");
    assert_eq!(ids_of(&next)[0], ids[6]);
    // IP: exact and prefix (10.0.1. must not match 10.0.10.1 or 10.0.11.1).
    let exact = store
        .sessions_list(
            &SessionFilter {
                ip: Some("10.0.3.1".into()),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("ip");
    assert_eq!(ids_of(&exact), [ids[3].clone()]);
    let prefix = store
        .sessions_list(
            &SessionFilter {
                ip: Some("10.0.1.".into()),
                limit: Some(50),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("ip prefix");
    assert_eq!(ids_of(&prefix), [ids[1].clone()]);
    let star = store
        .sessions_list(
            &SessionFilter {
                ip: Some("10.0.1*".into()),
                limit: Some(50),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("ip star");
    assert_eq!(
        ids_of(&star),
        [ids[11].clone(), ids[10].clone(), ids[1].clone()]
    );
    // Time range: [T0+3, T0+6) → sessions 2, 3, 4.
    let window = store
        .sessions_list(
            &SessionFilter {
                created_from: Some(T0 + 3),
                created_to: Some(T0 + 6),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("window");
    assert_eq!(
        ids_of(&window),
        [ids[4].clone(), ids[3].clone(), ids[2].clone()]
    );
    // State: one revoked, the rest active; none expired yet; all expired much later.
    store
        .session_revoke(&ids[0], "test", T0 + 50, None)
        .await
        .expect("revoke");
    let revoked = store
        .sessions_list(
            &SessionFilter {
                state: SessionStateFilter::Revoked,
                ..base.clone()
            },
            now,
        )
        .await
        .expect("revoked");
    assert_eq!(ids_of(&revoked), [ids[0].clone()]);
    let active = store
        .sessions_list(
            &SessionFilter {
                state: SessionStateFilter::Active,
                limit: Some(50),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("active");
    assert_eq!(active.len(), 11);
    let expired = store
        .sessions_list(
            &SessionFilter {
                state: SessionStateFilter::Expired,
                ..base.clone()
            },
            now,
        )
        .await
        .expect("expired");
    assert!(expired.is_empty());
    let far = session("x", &u, &c).expires_at + 1;
    let expired = store
        .sessions_list(
            &SessionFilter {
                state: SessionStateFilter::Expired,
                limit: Some(50),
                ..base.clone()
            },
            far,
        )
        .await
        .expect("expired later");
    assert_eq!(
        expired.len(),
        11,
        "the revoked one counts as revoked, not expired"
    );
    // By ids.
    let picked = store
        .sessions_list(
            &SessionFilter {
                ids: Some(vec![ids[5].clone(), ids[7].clone()]),
                ..base.clone()
            },
            now,
        )
        .await
        .expect("ids");
    assert_eq!(ids_of(&picked), [ids[7].clone(), ids[5].clone()]);
    let nothing = store
        .sessions_list(
            &SessionFilter {
                ids: Some(vec![]),
                ..base
            },
            now,
        )
        .await
        .expect("no ids");
    assert!(nothing.is_empty());
}

pub async fn a_bulk_revoke_cuts_off_exactly_what_its_dry_run_counted(store: &dyn Store) {
    let (c, u) = seed(store, "bulk").await;
    let ids = seed_sessions(store, &c, &u, "bulk", 6).await;
    let now = T0 + 100;
    // A session revoked earlier is not counted (or revoked) again.
    store
        .session_revoke(&ids[5], "earlier", T0 + 10, None)
        .await
        .expect("revoke one");
    let filter = SessionFilter {
        client_id: Some(c.clone()),
        ip: Some("10.0.".into()),
        created_from: Some(T0 + 2),
        ..SessionFilter::default()
    };
    let dry = store.sessions_impact(&filter, now).await.expect("dry run");
    assert_eq!(
        dry,
        RevokeImpact {
            sessions: 4,
            refresh_families: 4,
            live_access_tokens: 4
        },
        "sessions 1..=4 are live and match; 0 is too old; 5 is already revoked"
    );
    // The dry run changed nothing.
    assert!(store
        .session_get(&ids[1])
        .await
        .expect("s")
        .expect("row")
        .is_live(now));
    let ev = audit("session.revoke_filter", &c);
    let done = store
        .sessions_revoke_matching(&filter, "bulk", now, &ev)
        .await
        .expect("revoke");
    assert_eq!(done, dry);
    for (i, id) in ids.iter().enumerate() {
        let live = store
            .session_get(id)
            .await
            .expect("s")
            .expect("row")
            .is_live(now);
        assert_eq!(live, i == 0, "session {i}");
    }
    let again = store
        .sessions_impact(&filter, now)
        .await
        .expect("dry run again");
    assert_eq!(again, RevokeImpact::default());
    let events = store
        .audit_list(&AuditFilter {
            action_prefix: Some("session.revoke_filter".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(events.len(), 1);
    let after: serde_json::Value =
        serde_json::from_str(events[0].after.as_deref().expect("after")).expect("json");
    assert_eq!(after["sessions"], 4);
}

pub async fn a_new_session_is_written_with_its_activity_event(store: &dyn Store) {
    let (c, u) = seed(store, "act").await;
    store
        .auth_code_insert(&code("code-act", &c, &u))
        .await
        .expect("code");
    let ev = NewAuditEvent::new(T0 + 1, format!("user:{u}"), "session.create").target("s-act");
    let issue = Issuance {
        session: Some(session("s-act", &u, &c)),
        refresh: None,
        access: None,
        event: Some(ev),
    };
    assert!(store
        .auth_code_redeem(b"code-act", T0 + 1, &issue)
        .await
        .expect("redeem"));
    assert_eq!(audited(store, "session.create", "s-act").await, 1);
    // A redemption that loses (the code is spent) writes no event.
    let issue2 = Issuance {
        session: Some(session("s-act-2", &u, &c)),
        event: Some(
            NewAuditEvent::new(T0 + 2, format!("user:{u}"), "session.create").target("s-act-2"),
        ),
        ..Issuance::default()
    };
    assert!(!store
        .auth_code_redeem(b"code-act", T0 + 2, &issue2)
        .await
        .expect("redeem"));
    assert_eq!(audited(store, "session.create", "s-act-2").await, 0);
}

pub async fn api_keys_are_found_by_hash_and_revoked_once(store: &dyn Store) {
    let key = ApiKey {
        id: "ak-1".into(),
        name: "deploy bot".into(),
        hash: b"hash-ak-1".to_vec(),
        read_only: true,
        created_at: T0,
        created_by: "local-admin".into(),
        expires_at: Some(T0 + 3600),
        revoked_at: None,
        last_used_at: None,
    };
    store
        .api_key_insert(&key, &audit("api_key.create", "ak-1"))
        .await
        .expect("insert");
    let dup = store
        .api_key_insert(&key, &audit("api_key.create", "ak-1"))
        .await;
    assert!(is_conflict(&dup), "duplicate key: {dup:?}");
    assert_eq!(
        store.api_key_by_hash(b"hash-ak-1").await.expect("get"),
        Some(key.clone())
    );
    assert_eq!(store.api_key_by_hash(b"nope").await.expect("get"), None);
    store.api_key_touch("ak-1", T0 + 5).await.expect("touch");
    assert_eq!(
        store
            .api_key_by_hash(b"hash-ak-1")
            .await
            .expect("get")
            .expect("row")
            .last_used_at,
        Some(T0 + 5)
    );
    assert!(store
        .api_key_revoke("ak-1", T0 + 10, &audit("api_key.revoke", "ak-1"))
        .await
        .expect("revoke"));
    assert!(!store
        .api_key_revoke("ak-1", T0 + 20, &audit("api_key.revoke", "ak-1"))
        .await
        .expect("revoke twice"));
    let listed = store.api_keys_list().await.expect("list");
    let row = listed.iter().find(|k| k.id == "ak-1").expect("listed");
    assert_eq!(row.revoked_at, Some(T0 + 10));
    assert!(!row.is_usable(T0 + 11));
    let ghost = store
        .api_key_revoke("ak-none", T0, &audit("api_key.revoke", "ak-none"))
        .await;
    assert!(is_not_found(&ghost), "unknown key: {ghost:?}");
    assert_eq!(audited(store, "api_key.revoke", "ak-1").await, 2);
}

pub async fn token_counts_add_up_per_minute_grant_and_client(store: &dyn Store) {
    let (c, u) = seed(store, "stats").await;
    seed_sessions(store, &c, &u, "stats", 2).await;
    let m = T0 - T0.rem_euclid(60);
    let tc = |minute: i64, grant: &str, n: i64| TokenCount {
        minute,
        grant: grant.into(),
        client_id: c.clone(),
        count: n,
    };
    store
        .stats_record(&[
            tc(m, "client_credentials", 3),
            tc(m + 60, "refresh_token", 1),
        ])
        .await
        .expect("record");
    // A second node (or a later flush) adds to the same minute.
    store
        .stats_record(&[tc(m, "client_credentials", 4)])
        .await
        .expect("record again");
    store.stats_record(&[]).await.expect("nothing");
    store
        .audit_insert(&audit("security.login_failed", "alice").security())
        .await
        .expect("security event");
    let st = store.stats(T0 - 60, T0 + 100).await.expect("stats");
    let mine: Vec<&TokenCount> = st.tokens.iter().filter(|t| t.client_id == c).collect();
    assert_eq!(
        mine,
        [
            &tc(m, "client_credentials", 7),
            &tc(m + 60, "refresh_token", 1)
        ]
    );
    assert!(st.active_sessions >= 2);
    assert!(st.clients >= 1 && st.users >= 1);
    assert!(st
        .security_events
        .iter()
        .any(|(a, n)| a == "security.login_failed" && *n >= 1));
    let later = store.stats(m + 120, T0 + 100).await.expect("stats later");
    assert!(later.tokens.iter().all(|t| t.client_id != c));
}

pub async fn the_audit_feed_tails_forward_and_pages_back(store: &dyn Store) {
    for i in 0..5 {
        let mut ev = audit("feed.step", &format!("feed-{i}"));
        ev.at = T0 + 500 + i;
        store.audit_insert(&ev).await.expect("insert");
    }
    let newest = store
        .audit_list(&AuditFilter {
            action_prefix: Some("feed.".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(newest.len(), 5);
    let first_id = newest[4].id;
    let tail = store
        .audit_list(&AuditFilter {
            action_prefix: Some("feed.".into()),
            after_id: Some(first_id),
            limit: Some(2),
            ..AuditFilter::default()
        })
        .await
        .expect("tail");
    let targets: Vec<_> = tail.iter().filter_map(|e| e.target.clone()).collect();
    assert_eq!(
        targets,
        ["feed-1", "feed-2"],
        "oldest first after the cursor"
    );
    let window = store
        .audit_list(&AuditFilter {
            action_prefix: Some("feed.".into()),
            since: Some(T0 + 501),
            until: Some(T0 + 503),
            ..AuditFilter::default()
        })
        .await
        .expect("window");
    let targets: Vec<_> = window.iter().filter_map(|e| e.target.clone()).collect();
    assert_eq!(targets, ["feed-2", "feed-1"]);
}

fn signing_key_row(kid: &str, state: KeyState) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: Alg::ES256,
        state,
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        private_enc: vec![1, 2, 3],
        created_at: T0,
        activated_at: (state == KeyState::Active).then_some(T0),
        retiring_at: None,
        retired_at: None,
        revoked_at: None,
    }
}

pub async fn a_second_active_or_next_key_for_one_algorithm_is_refused(store: &dyn Store) {
    let mut a = signing_key_row("kid-dup-a", KeyState::Active);
    a.alg = Alg::EdDSA;
    let mut b = signing_key_row("kid-dup-b", KeyState::Active);
    b.alg = Alg::EdDSA;
    // Another test's keys may exist; use an algorithm slot this test owns by checking
    // first that none is active for it.
    let before = store.keys_list().await.expect("list");
    if before
        .iter()
        .any(|k| k.alg == Alg::EdDSA && matches!(k.state, KeyState::Active | KeyState::Next))
    {
        return;
    }
    store
        .keys_apply(&[], Some(&a), None)
        .await
        .expect("first active key");
    let dup = store
        .keys_apply(&[], Some(&b), Some(&audit("key.create", "kid-dup-b")))
        .await;
    assert!(is_conflict(&dup), "a second active key: {dup:?}");
    let keys = store.keys_list().await.expect("list");
    assert!(
        keys.iter().all(|k| k.kid != "kid-dup-b"),
        "nothing of the refused call is stored"
    );
    assert_eq!(audited(store, "key.create", "kid-dup-b").await, 0);
    // A proper successor (next) is fine, a second one is not.
    let mut n1 = signing_key_row("kid-dup-n1", KeyState::Next);
    n1.alg = Alg::EdDSA;
    store
        .keys_apply(&[], Some(&n1), None)
        .await
        .expect("a successor");
    let mut n2 = signing_key_row("kid-dup-n2", KeyState::Next);
    n2.alg = Alg::EdDSA;
    assert!(is_conflict(&store.keys_apply(&[], Some(&n2), None).await));
}

// --- runtime settings ----------------------------------------------------------------
//
// The settings are one record per store, so these cases work from whatever version
// they find: `run_all` runs them on a store other cases (and earlier runs) share.

fn settings_values(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

pub async fn settings_are_replaced_by_a_put_with_its_audit_event(store: &dyn Store) {
    let before = store.settings_get().await.expect("settings_get");
    let audits = audited(store, "settings.update", "settings-suite-put").await;
    let values = settings_values(&[("code_ttl", 120), ("login_max_failures", 3)]);
    assert!(store
        .settings_put(
            &values,
            before.version,
            T0 + 7,
            &audit("settings.update", "settings-suite-put"),
        )
        .await
        .expect("settings_put"));
    let after = store.settings_get().await.expect("settings_get");
    assert_eq!(
        after,
        StoredSettings {
            values: values.clone(),
            version: before.version + 1,
            updated_at: T0 + 7,
        }
    );
    // A put replaces the whole set: a value left out is no longer set.
    let fewer = settings_values(&[("code_ttl", 90)]);
    assert!(store
        .settings_put(
            &fewer,
            after.version,
            T0 + 8,
            &audit("settings.update", "settings-suite-put"),
        )
        .await
        .expect("settings_put"));
    assert_eq!(store.settings_get().await.expect("get").values, fewer);
    assert_eq!(
        audited(store, "settings.update", "settings-suite-put").await,
        audits + 2
    );
}

pub async fn a_settings_put_based_on_an_older_version_writes_nothing(store: &dyn Store) {
    let start = store.settings_get().await.expect("settings_get");
    let target = "settings-suite-race";
    // Two administrators who read the same version: exactly one write lands.
    let a = settings_values(&[("id_token_ttl", 900)]);
    let b = settings_values(&[("id_token_ttl", 1200)]);
    let (audit_a, audit_b) = (
        audit("settings.update", target),
        audit("settings.update", target),
    );
    let results = join_all(vec![
        store.settings_put(&a, start.version, T0, &audit_a),
        store.settings_put(&b, start.version, T0, &audit_b),
    ])
    .await;
    let won: Vec<bool> = results.into_iter().map(|r| r.expect("put")).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let now = store.settings_get().await.expect("get");
    assert_eq!(now.version, start.version + 1);
    assert_eq!(now.values, if won[0] { a } else { b });
    // A stale version changes nothing and audits nothing.
    let stale = store
        .settings_put(
            &settings_values(&[("id_token_ttl", 60)]),
            start.version,
            T0,
            &audit("settings.update", target),
        )
        .await
        .expect("put");
    assert!(!stale);
    assert_eq!(store.settings_get().await.expect("get"), now);
    assert_eq!(audited(store, "settings.update", target).await, 1);
}

pub async fn a_settings_change_moves_the_change_marker(store: &dyn Store) {
    let before = store.change_marker();
    let current = store.settings_get().await.expect("get");
    assert!(store
        .settings_put(
            &settings_values(&[("rotate_every", 7 * 24 * 3600)]),
            current.version,
            T0,
            &audit("settings.update", "settings-suite-marker"),
        )
        .await
        .expect("put"));
    // Stores that cache nothing have no marker; the others must show the change at once
    // in this process (other processes and nodes are each store's own tests).
    if before.is_some() {
        assert_ne!(store.change_marker(), before);
    }
}

// --- token exchange (RFC 8693) -------------------------------------------------------

pub fn exchange_policy(id: &str, requester: &str) -> ExchangePolicy {
    ExchangePolicy {
        id: id.to_owned(),
        enabled: true,
        note: "orders → billing, on the user's behalf".into(),
        requester_client_id: requester.to_owned(),
        subject_client_ids: vec![requester.to_owned(), "other client".into()],
        subject_token_types: vec![TokenTypeUri::AccessToken, TokenTypeUri::IdToken],
        requester_must_be_in_subject_aud: true,
        targets: vec!["https://billing.example/api".into(), "billing".into()],
        scopes: vec!["invoices:read".into()],
        mode: ExchangeMode::Either,
        actor_client_ids: vec![requester.to_owned()],
        max_ttl_secs: 300,
        issued_token_types: vec![TokenTypeUri::AccessToken],
        max_act_depth: 3,
        created_at: T0,
        updated_at: T0,
    }
}

fn lineage(
    jti: &str,
    parent: Option<&str>,
    requester: &str,
    expires_at: Timestamp,
) -> ExchangeLineage {
    ExchangeLineage {
        jti: jti.to_owned(),
        parent_jti: parent.map(str::to_owned),
        actor_jti: None,
        session_id: None,
        requester_client_id: requester.to_owned(),
        subject: "u-x".into(),
        subject_client_id: requester.to_owned(),
        policy_id: "xp-any".into(),
        issued_token_type: TokenTypeUri::AccessToken,
        issued_at: T0,
        expires_at,
    }
}

pub async fn exchange_policies_round_trip_update_and_delete_with_their_audit_events(
    store: &dyn Store,
) {
    let (c, _) = seed(store, "xp-crud").await;
    let p = exchange_policy("xp-crud-1", &c);
    store
        .exchange_policy_insert(&p, &audit("exchange_policy.create", &p.id))
        .await
        .expect("insert");
    assert_eq!(
        store.exchange_policy_get(&p.id).await.expect("get"),
        Some(p.clone())
    );
    assert!(store
        .exchange_policies_list()
        .await
        .expect("list")
        .contains(&p));
    assert!(is_conflict(
        &store
            .exchange_policy_insert(&p, &audit("exchange_policy.create", &p.id))
            .await
    ));
    let mut changed = p.clone();
    changed.enabled = false;
    changed.mode = ExchangeMode::Delegation;
    changed.targets = vec!["billing".into()];
    changed.issued_token_types = vec![TokenTypeUri::IdToken];
    changed.updated_at = T0 + 5;
    store
        .exchange_policy_update(&changed, &audit("exchange_policy.update", &p.id))
        .await
        .expect("update");
    assert_eq!(
        store.exchange_policy_get(&p.id).await.expect("get"),
        Some(changed.clone())
    );
    let mut ghost = changed.clone();
    ghost.id = "xp-crud-ghost".into();
    assert!(is_not_found(
        &store
            .exchange_policy_update(&ghost, &audit("exchange_policy.update", "ghost"))
            .await
    ));
    store
        .exchange_policy_delete(&p.id, &audit("exchange_policy.delete", &p.id))
        .await
        .expect("delete");
    assert_eq!(store.exchange_policy_get(&p.id).await.expect("get"), None);
    assert!(is_not_found(
        &store
            .exchange_policy_delete(&p.id, &audit("exchange_policy.delete", &p.id))
            .await
    ));
    for action in [
        "exchange_policy.create",
        "exchange_policy.update",
        "exchange_policy.delete",
    ] {
        assert_eq!(audited(store, action, &p.id).await, 1, "{action}");
    }
}

pub async fn deleting_a_client_deletes_the_exchange_policies_it_requests_under(store: &dyn Store) {
    let (c, _) = seed(store, "xp-del").await;
    let p = exchange_policy("xp-del-1", &c);
    store
        .exchange_policy_insert(&p, &audit("exchange_policy.create", &p.id))
        .await
        .expect("insert");
    store
        .client_delete(&c, &audit("client.delete", &c))
        .await
        .expect("delete client");
    assert_eq!(store.exchange_policy_get(&p.id).await.expect("get"), None);
}

pub async fn revoking_a_token_revokes_every_token_exchanged_from_it_down_the_chain(
    store: &dyn Store,
) {
    let (c, _) = seed(store, "xp-chain").await;
    // root → a → b, root → c; "other" is unrelated.
    for (jti, parent) in [
        ("xp-chain-a", Some("xp-chain-root")),
        ("xp-chain-b", Some("xp-chain-a")),
        ("xp-chain-c", Some("xp-chain-root")),
        ("xp-chain-other", Some("xp-chain-elsewhere")),
        // A subject without a jti (an ID token from elsewhere): recorded, no parent.
        ("xp-chain-orphan", None),
    ] {
        let rec = access(jti, None, &c);
        assert!(store
            .exchange_record(
                &lineage(jti, parent, &c, T0 + 300),
                Some(&rec),
                None,
                &audit("token.exchange", jti)
            )
            .await
            .expect("record"));
    }
    assert_eq!(
        store
            .exchange_lineage("xp-chain-b")
            .await
            .expect("lineage")
            .and_then(|l| l.parent_jti),
        Some("xp-chain-a".to_string())
    );
    store
        .access_token_revoke("xp-chain-root", T0 + 600)
        .await
        .expect("revoke root");
    for jti in ["xp-chain-root", "xp-chain-a", "xp-chain-b", "xp-chain-c"] {
        assert!(
            store.access_token_revoked(jti).await.expect("check"),
            "{jti}"
        );
    }
    assert!(!store
        .access_token_revoked("xp-chain-other")
        .await
        .expect("check"));
    assert!(!store
        .access_token_revoked("xp-chain-orphan")
        .await
        .expect("check"));
    assert_eq!(audited(store, "token.exchange", "xp-chain-b").await, 1);
    assert_eq!(audited(store, "token.exchange", "xp-chain-orphan").await, 1);
}

pub async fn an_exchange_is_not_recorded_once_its_parent_is_revoked(store: &dyn Store) {
    let (c, _) = seed(store, "xp-race").await;
    store
        .access_token_revoke("xp-race-parent", T0 + 600)
        .await
        .expect("revoke");
    let recorded = store
        .exchange_record(
            &lineage("xp-race-child", Some("xp-race-parent"), &c, T0 + 300),
            Some(&access("xp-race-child", None, &c)),
            None,
            &audit("token.exchange", "xp-race-child"),
        )
        .await
        .expect("record");
    assert!(!recorded);
    assert_eq!(
        store.exchange_lineage("xp-race-child").await.expect("get"),
        None
    );
    assert_eq!(audited(store, "token.exchange", "xp-race-child").await, 0);
}

// --- monitoring ---------------------------------------------------------------------

fn finding(id: &str, key: &str, rule: &str, subject: &str, at: Timestamp, count: i64) -> Finding {
    Finding {
        id: id.into(),
        dedup_key: key.into(),
        rule: rule.into(),
        severity: "high".into(),
        subject_kind: "address".into(),
        subject: subject.into(),
        evidence: r#"{"failures":3}"#.into(),
        action: "none (monitor mode)".into(),
        status: "open".into(),
        acked_by: None,
        acked_at: None,
        first_seen: at - 10,
        last_seen: at,
        count,
        raised_at: at,
    }
}

pub async fn a_finding_is_raised_once_per_dedup_key_and_an_open_episode_absorbs_later_raises(
    store: &dyn Store,
) {
    let a = finding(
        "fd-1a",
        "suite-dedup|x|1",
        "suite_dedup",
        "192.0.2.1/32",
        T0,
        10,
    );
    // Another node's raise of the same episode, racing: one row.
    let b = finding(
        "fd-1b",
        "suite-dedup|x|1",
        "suite_dedup",
        "192.0.2.1/32",
        T0 + 5,
        12,
    );
    let raced = join_all(vec![
        store.finding_raise(&a, T0 + 1000),
        store.finding_raise(&b, T0 + 1000),
    ])
    .await;
    let new: Vec<bool> = raced.into_iter().map(|r| r.expect("raise")).collect();
    assert_eq!(new.iter().filter(|n| **n).count(), 1, "{new:?}");
    let rows = store
        .findings_list(&FindingFilter {
            rule: Some("suite_dedup".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].count, rows[0].last_seen), (12, T0 + 5));
    // A later raise (another dedup key) within the merge horizon grows the open one.
    let c = finding(
        "fd-1c",
        "suite-dedup|x|2",
        "suite_dedup",
        "192.0.2.1/32",
        T0 + 50,
        20,
    );
    assert!(!store.finding_raise(&c, T0).await.expect("merge"));
    // Past it, a new episode is a new finding.
    let d = finding(
        "fd-1d",
        "suite-dedup|x|3",
        "suite_dedup",
        "192.0.2.1/32",
        T0 + 5000,
        10,
    );
    assert!(store
        .finding_raise(&d, T0 + 4000)
        .await
        .expect("new episode"));
    let rows = store
        .findings_list(&FindingFilter {
            rule: Some("suite_dedup".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(rows.len(), 2);
    let first = rows
        .iter()
        .find(|f| f.dedup_key == "suite-dedup|x|1")
        .expect("first");
    assert_eq!((first.count, first.last_seen), (20, T0 + 50));
}

pub async fn acknowledging_a_finding_is_audited_once(store: &dyn Store) {
    let f = finding("fd-ack", "suite-ack|1", "suite_ack", "192.0.2.2/32", T0, 3);
    assert!(store.finding_raise(&f, T0).await.expect("raise"));
    assert!(store
        .finding_ack("fd-ack", "admin", T0 + 7, &audit("finding.ack", "fd-ack"))
        .await
        .expect("ack"));
    assert!(!store
        .finding_ack("fd-ack", "admin2", T0 + 8, &audit("finding.ack", "fd-ack"))
        .await
        .expect("ack twice"));
    let got = store
        .finding_get("fd-ack")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(got.status, "acknowledged");
    assert_eq!(got.acked_by.as_deref(), Some("admin"));
    assert_eq!(got.acked_at, Some(T0 + 7));
    assert_eq!(audited(store, "finding.ack", "fd-ack").await, 1);
    let ghost = store
        .finding_ack("fd-none", "admin", T0, &audit("finding.ack", "fd-none"))
        .await;
    assert!(is_not_found(&ghost), "{ghost:?}");
    // An acknowledged finding does not absorb the next episode.
    let next = finding(
        "fd-ack2",
        "suite-ack|2",
        "suite_ack",
        "192.0.2.2/32",
        T0 + 9,
        3,
    );
    assert!(store.finding_raise(&next, T0).await.expect("raise"));
}

pub async fn findings_are_listed_newest_first_and_filtered_by_severity_and_rule(store: &dyn Store) {
    for (i, sev) in ["low", "critical", "high"].iter().enumerate() {
        let mut f = finding(
            &format!("fd-list-{i}"),
            &format!("suite-list|{i}"),
            "suite_list",
            &format!("192.0.2.{}/32", 10 + i),
            T0 + i as i64,
            1,
        );
        f.severity = sev.to_string();
        assert!(store.finding_raise(&f, T0 + 100).await.expect("raise"));
    }
    let all = store
        .findings_list(&FindingFilter {
            rule: Some("suite_list".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    let ids: Vec<&str> = all.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["fd-list-2", "fd-list-1", "fd-list-0"]);
    let critical = store
        .findings_list(&FindingFilter {
            rule: Some("suite_list".into()),
            severity: Some("critical".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].id, "fd-list-1");
}

pub async fn a_block_keeps_the_later_expiry_and_is_removed_with_its_pair_blocks(store: &dyn Store) {
    let b = |principal: &str, exp: Option<Timestamp>| Block {
        cidr: "198.51.100.0/24".into(),
        principal: principal.into(),
        reason: "suite".into(),
        created_by: "suite".into(),
        created_at: T0,
        expires_at: exp,
    };
    store
        .block_put(
            &b("", Some(T0 + 600)),
            Some(&audit("block.add", "198.51.100.0/24")),
        )
        .await
        .expect("put");
    // A detection's shorter block does not cut an administrator's short.
    store
        .block_put(&b("", Some(T0 + 60)), None)
        .await
        .expect("put again");
    store
        .block_put(&b("user:alice", Some(T0 + 60)), None)
        .await
        .expect("pair");
    let mine = |v: Vec<Block>| -> Vec<Block> {
        v.into_iter()
            .filter(|b| b.cidr == "198.51.100.0/24")
            .collect()
    };
    let listed = mine(store.blocks_list(T0).await.expect("list"));
    assert_eq!(listed.len(), 2);
    let whole = listed
        .iter()
        .find(|b| b.principal.is_empty())
        .expect("whole");
    assert_eq!(whole.expires_at, Some(T0 + 600));
    assert_eq!(
        mine(store.blocks_list(T0 + 60).await.expect("list")).len(),
        1,
        "the pair expired"
    );
    // No expiry wins over any.
    store
        .block_put(&b("", None), None)
        .await
        .expect("open-ended");
    let listed = mine(store.blocks_list(T0 + 10_000).await.expect("list"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, None);
    assert!(store
        .block_remove("198.51.100.0/24", &audit("block.remove", "198.51.100.0/24"))
        .await
        .expect("remove"));
    assert!(mine(store.blocks_list(T0).await.expect("list")).is_empty());
    assert!(!store
        .block_remove("198.51.100.0/24", &audit("block.remove", "198.51.100.0/24"))
        .await
        .expect("remove twice"));
    assert_eq!(audited(store, "block.remove", "198.51.100.0/24").await, 1);
    assert_eq!(audited(store, "block.add", "198.51.100.0/24").await, 1);
}

pub async fn trimming_findings_keeps_the_newest(store: &dyn Store) {
    for i in 0..5 {
        let f = finding(
            &format!("fd-trim-{i}"),
            &format!("suite-trim|{i}"),
            "suite_trim",
            &format!("192.0.2.{}/32", 100 + i),
            T0 + 100_000 + i,
            1,
        );
        assert!(store.finding_raise(&f, T0 + 200_000).await.expect("raise"));
    }
    store.findings_trim(T0, 3).await.expect("trim");
    let left = store
        .findings_list(&FindingFilter {
            rule: Some("suite_trim".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    let ids: Vec<&str> = left.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["fd-trim-4", "fd-trim-3", "fd-trim-2"]);
}

// --- retention (issue 16) --------------------------------------------------------------

/// A session made by a code redemption (as the engine makes them), with one refresh token.
async fn seed_session(store: &dyn Store, c: &str, u: &str, s: Session) {
    let code_hash = format!("code-for-{}", s.id);
    store
        .auth_code_insert(&code(&code_hash, c, u))
        .await
        .expect("code");
    let id = s.id.clone();
    let issue = Issuance {
        refresh: Some(refresh(&format!("rt-{id}"), &id, c)),
        session: Some(s),
        access: None,
        event: None,
    };
    assert!(store
        .auth_code_redeem(code_hash.as_bytes(), T0 + 1, &issue)
        .await
        .expect("redeem"));
}

pub async fn retention_removes_only_what_ended_before_the_cutoff_in_small_batches(
    store: &dyn Store,
) {
    let (c, u) = seed(store, "retain").await;
    let cutoff = T0 + 100 * 86_400;
    let far = cutoff + 365 * 86_400;
    let with = |id: &str, expires_at: Timestamp, sign_in: Option<&str>| Session {
        expires_at,
        sign_in_id: sign_in.map(str::to_owned),
        ..session(id, &u, &c)
    };

    // Sign-ins: two ended long ago (one ended early, one expired), two inside the window.
    let old_ended = sign_in("si-ret-ended", &u);
    let old_expired = sign_in("si-ret-expired", &u);
    let recent_ended = SignIn {
        expires_at: far,
        ..sign_in("si-ret-recent-ended", &u)
    };
    let live = SignIn {
        expires_at: cutoff + 1,
        ..sign_in("si-ret-live", &u)
    };
    for si in [&old_ended, &old_expired, &recent_ended, &live] {
        store.sign_in_insert(si).await.expect("sign-in");
    }
    store.sign_in_end(&old_ended.id, T0 + 5).await.expect("end");
    store
        .sign_in_end(&recent_ended.id, cutoff + 1)
        .await
        .expect("end");

    // Sessions: revoked and expired long ago (three, to see the batches), revoked and
    // expiring inside the window, and a live one under a long-gone sign-in.
    seed_session(store, &c, &u, with("s-ret-revoked", far, None)).await;
    store
        .session_revoke("s-ret-revoked", "test", T0 + 10, None)
        .await
        .expect("revoke");
    for id in ["s-ret-expired-1", "s-ret-expired-2"] {
        seed_session(store, &c, &u, with(id, T0 + 86_400, None)).await;
    }
    seed_session(store, &c, &u, with("s-ret-recent-revoked", far, None)).await;
    store
        .session_revoke("s-ret-recent-revoked", "test", cutoff + 1, None)
        .await
        .expect("revoke");
    seed_session(
        store,
        &c,
        &u,
        with("s-ret-recent-expired", cutoff + 1, None),
    )
    .await;
    seed_session(store, &c, &u, with("s-ret-live", far, Some("si-ret-ended"))).await;

    store
        .audit_insert(&NewAuditEvent::new(cutoff + 1, "local-admin", "retain.recent").target("x"))
        .await
        .expect("audit");
    store
        .stats_record(&[
            TokenCount {
                minute: T0,
                grant: "client_credentials".into(),
                client_id: c.clone(),
                count: 3,
            },
            TokenCount {
                minute: cutoff + 60,
                grant: "client_credentials".into(),
                client_id: c.clone(),
                count: 4,
            },
        ])
        .await
        .expect("stats");

    // One row per transaction: each call removes at most one, and the calls drain it.
    let mut removed = Vec::new();
    loop {
        let n = store
            .sessions_purge_ended(cutoff, 1)
            .await
            .expect("sessions");
        assert!(n <= 1, "a batch of 1 removed {n}");
        if n == 0 {
            break;
        }
        removed.push(n);
    }
    // At least this case's three: on a file shared with the other cases, their ended
    // sessions go too (which rows go and stay is checked one by one below).
    assert!(removed.len() >= 3, "three sessions ended before the cutoff");
    let mut signins = 0;
    loop {
        let n = store
            .sign_ins_purge_ended(cutoff, 1)
            .await
            .expect("sign-ins");
        assert!(n <= 1);
        if n == 0 {
            break;
        }
        signins += n;
    }
    assert!(signins >= 2);
    while store.audit_purge_before(cutoff, 2).await.expect("audit") > 0 {}

    for gone in ["s-ret-revoked", "s-ret-expired-1", "s-ret-expired-2"] {
        assert_eq!(store.session_get(gone).await.expect("get"), None, "{gone}");
        let rt = format!("rt-{gone}");
        assert_eq!(
            store.refresh_get(rt.as_bytes()).await.expect("rt"),
            None,
            "{rt} goes with its session"
        );
    }
    for kept in ["s-ret-recent-revoked", "s-ret-recent-expired", "s-ret-live"] {
        assert!(
            store.session_get(kept).await.expect("get").is_some(),
            "{kept} is inside the retention window"
        );
    }
    let live_session = store
        .session_get("s-ret-live")
        .await
        .expect("get")
        .expect("live");
    assert_eq!(live_session.sign_in_id, None, "its sign-in went, it stays");
    assert!(store
        .refresh_get(b"rt-s-ret-live")
        .await
        .expect("rt")
        .is_some());
    for gone in [&old_ended.id, &old_expired.id] {
        assert_eq!(store.sign_in_get(gone).await.expect("get"), None, "{gone}");
    }
    for kept in [&recent_ended.id, &live.id] {
        assert!(
            store.sign_in_get(kept).await.expect("get").is_some(),
            "{kept}"
        );
    }
    let events = store
        .audit_list(&AuditFilter {
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(
        events.iter().all(|e| e.at > cutoff),
        "no event at or before the cutoff"
    );
    assert!(events.iter().any(|e| e.action == "retain.recent"));
    let stats = store.stats(T0 - 60, cutoff + 120).await.expect("stats");
    let minutes: Vec<i64> = stats.tokens.iter().map(|t| t.minute).collect();
    assert_eq!(
        minutes,
        vec![cutoff + 60],
        "only the count inside the window stays"
    );
}

// --- configuration as code -------------------------------------------------------------

/// A failure injected at the third write (a scope that exists already) rolls back the
/// client and the scope change written before it, the `meta` row and every audit event.
pub async fn a_config_batch_that_fails_midway_writes_nothing(store: &dyn Store) {
    let taken = Scope {
        name: "cfg-taken".into(),
        description: "there first".into(),
        claims: vec![],
        builtin: false,
        created_at: T0,
    };
    store
        .scope_insert(&taken, &audit("scope.create", "cfg-taken"))
        .await
        .expect("seed scope");
    let c = client("c-cfg-batch");
    let mut changed = taken.clone();
    changed.description = "changed by the batch".into();
    let batch = ConfigBatch {
        writes: vec![
            ConfigWrite::ClientInsert {
                client: c.clone(),
                secret: None,
                audit: audit("client.create", &c.id),
            },
            ConfigWrite::ScopeUpdate {
                scope: changed,
                audit: audit("scope.update", "cfg-taken"),
            },
            ConfigWrite::ScopeInsert {
                scope: taken.clone(),
                audit: audit("scope.create", "cfg-taken"),
            },
        ],
        meta_key: "config_applied_suite".into(),
        meta_value: "{}".into(),
        audit: audit("config.apply", "config-suite"),
    };
    let r = store.config_apply(&batch).await;
    assert!(
        is_conflict(&r),
        "the duplicate scope fails the batch: {r:?}"
    );
    assert_eq!(store.client_get(&c.id).await.expect("get"), None);
    assert_eq!(
        store.scope_get("cfg-taken").await.expect("get"),
        Some(taken)
    );
    assert_eq!(
        store.meta_get("config_applied_suite").await.expect("meta"),
        None
    );
    assert_eq!(audited(store, "client.create", &c.id).await, 0);
    assert_eq!(audited(store, "scope.update", "cfg-taken").await, 0);
    assert_eq!(audited(store, "config.apply", "config-suite").await, 0);

    // The same batch without the failing write lands whole.
    let mut ok = batch.clone();
    ok.writes.pop();
    store.config_apply(&ok).await.expect("the batch applies");
    assert!(store.client_get(&c.id).await.expect("get").is_some());
    assert_eq!(
        store
            .scope_get("cfg-taken")
            .await
            .expect("get")
            .map(|s| s.description),
        Some("changed by the batch".to_string())
    );
    assert_eq!(
        store.meta_get("config_applied_suite").await.expect("meta"),
        Some("{}".to_string())
    );
    assert_eq!(audited(store, "config.apply", "config-suite").await, 1);
}
