//! The embedded backend end to end on a temporary SQLite file: what an administrator
//! does, and that no secret ever reaches a later read or the audit log.

use latchkey_admin::{AdminBackend, Embedded};
use latchkey_api_types::*;
use latchkey_core::crypto::{self, Kek};
use latchkey_core::model::{AccessTokenRecord, AuthCode, RefreshToken, Session};
use latchkey_core::store::Issuance;
use tempfile::TempDir;

async fn open() -> (TempDir, Embedded) {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = Embedded::open(&dir.path().join("admin.db"), Kek::generate())
        .await
        .expect("open embedded backend");
    (dir, backend)
}

fn machine_client(name: &str) -> ClientCreateRequest {
    ClientCreateRequest {
        name: name.into(),
        grant_types: vec!["client_credentials".into()],
        ..Default::default()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A live session of `user_id` at `client_id`, written the way the token endpoint
/// writes one: by redeeming an authorization code.
async fn seed_session(b: &Embedded, user_id: &str, client_id: &str) -> String {
    let store = b.manager().store();
    let t = now();
    let code_hash = crypto::sha256(crypto::random_token().as_bytes());
    store
        .auth_code_insert(&AuthCode {
            dpop_jkt: None,
            hash: code_hash.clone(),
            client_id: client_id.into(),
            user_id: user_id.into(),
            sign_in_id: None,
            redirect_uri: "https://app.example.com/cb".into(),
            redirect_uri_sent: true,
            scopes: vec!["openid".into()],
            nonce: None,
            code_challenge: None,
            auth_time: t,
            created_at: t,
            expires_at: t + 60,
            consumed_at: None,
            session_id: None,
            ip: None,
            user_agent: None,
            resources: Vec::new(),
        })
        .await
        .expect("insert code");
    let session = Session {
        id: crypto::random_id(),
        user_id: user_id.into(),
        client_id: client_id.into(),
        sign_in_id: None,
        scopes: vec!["openid".into()],
        auth_time: t,
        created_at: t,
        last_used_at: t,
        expires_at: t + 3600,
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
        revoked_at: None,
        revoked_reason: None,
        resources: Vec::new(),
        parent_session_id: None,
        parent_jti: None,
    };
    let issue = Issuance {
        refresh: Some(RefreshToken {
            dpop_jkt: None,
            hash: crypto::sha256(crypto::random_token().as_bytes()),
            session_id: session.id.clone(),
            client_id: client_id.into(),
            created_at: t,
            consumed_at: None,
            idle_expires_at: t + 3600,
            ip: None,
            user_agent: None,
        }),
        access: Some(AccessTokenRecord {
            jti: crypto::random_id(),
            session_id: Some(session.id.clone()),
            client_id: client_id.into(),
            issued_at: t,
            expires_at: t + 600,
        }),
        session: Some(session.clone()),
        event: None,
    };
    assert!(store
        .auth_code_redeem(&code_hash, t, &issue)
        .await
        .expect("redeem"));
    session.id
}

async fn web_client(b: &Embedded) -> ClientDto {
    b.client_create(ClientCreateRequest {
        name: "Web".into(),
        redirect_uris: vec!["https://app.example.com/cb".into()],
        ..Default::default()
    })
    .await
    .expect("create web client")
    .client
}

async fn user(b: &Embedded, name: &str) -> UserDto {
    b.user_create(UserCreateRequest {
        username: name.into(),
        password: "correct horse battery".into(),
        ..Default::default()
    })
    .await
    .expect("create user")
}

#[tokio::test]
async fn a_created_client_returns_its_secret_once_and_get_never_shows_it() {
    let (_dir, b) = open().await;
    let created = b.client_create(machine_client("Billing")).await.unwrap();
    let secret = created
        .client_secret
        .clone()
        .expect("a confidential client gets a secret");
    assert!(crypto::b64url_decode(&secret).map(|s| s.len()) == Some(32));
    assert_eq!(created.client.auth_method, "client_secret_basic");

    let got = b.client_get(&created.client.client_id).await.unwrap();
    assert_eq!(got, created.client);
    let listed = serde_json::to_string(&b.clients_list().await.unwrap()).unwrap();
    assert!(listed.contains(&created.client.client_id));
    assert!(!listed.contains(&secret));
    assert!(!serde_json::to_string(&got).unwrap().contains(&secret));

    // Stored as SHA-256 only.
    let stored = b
        .manager()
        .store()
        .client_secrets(&created.client.client_id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].hash, crypto::sha256(secret.as_bytes()));
}

#[tokio::test]
async fn a_public_client_gets_no_secret_and_auth_method_none() {
    let (_dir, b) = open().await;
    let created = b
        .client_create(ClientCreateRequest {
            name: "CLI".into(),
            client_type: Some("public".into()),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.client_secret, None);
    assert_eq!(created.client.auth_method, "none");
    assert_eq!(
        created.client.grant_types,
        vec!["authorization_code", "refresh_token"]
    );
    assert!(created
        .client
        .allowed_scopes
        .contains(&"openid".to_string()));
}

#[tokio::test]
async fn invalid_client_input_is_refused_with_invalid_input() {
    let (_dir, b) = open().await;
    for req in [
        ClientCreateRequest {
            name: "x".into(),
            redirect_uris: vec!["http://localhost/cb".into()],
            ..Default::default()
        },
        ClientCreateRequest {
            name: "x".into(),
            grant_types: vec!["password".into()],
            ..Default::default()
        },
        ClientCreateRequest {
            name: "x".into(),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["no-such-scope".into()],
            ..Default::default()
        },
        ClientCreateRequest {
            name: "".into(),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        },
    ] {
        let e = b.client_create(req).await.unwrap_err();
        assert_eq!(e.code, "invalid_input", "{e:?}");
    }
    assert!(b.clients_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn rotating_a_secret_issues_a_new_one_and_keeps_the_old_for_the_overlap() {
    let (_dir, b) = open().await;
    let created = b.client_create(machine_client("Billing")).await.unwrap();
    let id = created.client.client_id.clone();
    let old = created.client_secret.unwrap();
    let rotated = b
        .client_rotate_secret(
            &id,
            SecretRotateRequest {
                overlap_secs: Some(3600),
            },
        )
        .await
        .unwrap();
    assert_ne!(rotated.client_secret, old);
    let secrets = b.manager().store().client_secrets(&id).await.unwrap();
    assert_eq!(secrets.len(), 2);
    let old_row = secrets
        .iter()
        .find(|s| s.hash == crypto::sha256(old.as_bytes()))
        .expect("old secret kept");
    assert_eq!(old_row.expires_at, Some(rotated.previous_secrets_expire_at));
    assert!((rotated.previous_secrets_expire_at - now() - 3600).abs() <= 5);
    let new_row = secrets
        .iter()
        .find(|s| s.hash == crypto::sha256(rotated.client_secret.as_bytes()))
        .expect("new secret stored");
    assert_eq!(new_row.expires_at, None);
}

#[tokio::test]
async fn a_deleted_client_is_gone() {
    let (_dir, b) = open().await;
    let id = b
        .client_create(machine_client("Temp"))
        .await
        .unwrap()
        .client
        .client_id;
    b.client_delete(&id).await.unwrap();
    assert_eq!(b.client_get(&id).await.unwrap_err().code, "not_found");
    assert_eq!(b.client_delete(&id).await.unwrap_err().code, "not_found");
}

#[tokio::test]
async fn updating_disabling_and_cloning_a_client_keep_it_valid() {
    let (_dir, b) = open().await;
    let c = web_client(&b).await;
    let updated = b
        .client_update(
            &c.client_id,
            ClientUpdateRequest {
                name: Some("Web 2".into()),
                redirect_uris: Some(vec!["http://[::1]:8080/cb".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Web 2");
    assert_eq!(updated.redirect_uris, vec!["http://[::1]:8080/cb"]);
    let bad = b
        .client_update(
            &c.client_id,
            ClientUpdateRequest {
                redirect_uris: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code, "invalid_input");

    assert!(
        b.client_set_disabled(&c.client_id, true)
            .await
            .unwrap()
            .disabled
    );
    let clone = b
        .client_clone(&c.client_id, ClientCloneRequest::default())
        .await
        .unwrap();
    assert_eq!(clone.client.name, "Web 2 (copy)");
    assert!(!clone.client.disabled);
    assert_ne!(clone.client.client_id, c.client_id);
    assert!(clone.client_secret.is_some());
    // A test copy with a loopback redirect, instead of adding one to the original; its
    // redirect URIs pass the same checks as any client's.
    let test_copy = b
        .client_clone(
            &c.client_id,
            ClientCloneRequest {
                name: Some("Web 2 (test)".into()),
                redirect_uris: Some(vec!["http://127.0.0.1/callback".into()]),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        test_copy.client.redirect_uris,
        vec!["http://127.0.0.1/callback"]
    );
    assert_ne!(
        b.client_get(&c.client_id).await.unwrap().redirect_uris,
        test_copy.client.redirect_uris
    );
    let bad = b
        .client_clone(
            &c.client_id,
            ClientCloneRequest {
                name: None,
                redirect_uris: Some(vec!["http://evil.example/cb#x".into()]),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code, "invalid_input");
}

#[tokio::test]
async fn custom_scopes_can_be_created_and_deleted_but_builtin_ones_cannot() {
    let (_dir, b) = open().await;
    let names: Vec<String> = b
        .scopes_list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    for builtin in ["openid", "profile", "email", "offline_access"] {
        assert!(names.iter().any(|n| n == builtin), "{builtin} missing");
    }
    let s = b
        .scope_create(ScopeCreateRequest {
            name: "billing:read".into(),
            description: "Read your invoices".into(),
            claims: vec![],
        })
        .await
        .unwrap();
    assert!(!s.builtin);
    let dup = b
        .scope_create(ScopeCreateRequest {
            name: "billing:read".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code, "conflict");
    b.scope_delete("billing:read").await.unwrap();
    assert_eq!(
        b.scope_delete("billing:read").await.unwrap_err().code,
        "not_found"
    );
    let e = b.scope_delete("openid").await.unwrap_err();
    assert_eq!(e.code, "builtin");
    assert!(e.message.contains("built-in"), "{}", e.message);
}

#[tokio::test]
async fn a_scope_still_allowed_for_a_client_cannot_be_deleted() {
    let (_dir, b) = open().await;
    b.scope_create(ScopeCreateRequest {
        name: "api".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut req = machine_client("Worker");
    req.allowed_scopes = vec!["api".into()];
    b.client_create(req).await.unwrap();
    let e = b.scope_delete("api").await.unwrap_err();
    assert_eq!(e.code, "conflict");
    assert!(e.message.contains("Worker"), "{}", e.message);
}

#[tokio::test]
async fn disabling_a_user_revokes_all_their_sessions() {
    let (_dir, b) = open().await;
    let client = web_client(&b).await;
    let alice = user(&b, "alice").await;
    let bob = user(&b, "bob").await;
    let s1 = seed_session(&b, &alice.id, &client.client_id).await;
    let _s2 = seed_session(&b, &alice.id, &client.client_id).await;
    let bobs = seed_session(&b, &bob.id, &client.client_id).await;

    let live = b
        .sessions_list(SessionFilterDto {
            user: Some("alice".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(live.len(), 2);
    assert_eq!(live[0].username, "alice");
    assert_eq!(live[0].client_name, "Web");
    assert_eq!(live[0].live_refresh_tokens, 1);
    assert_eq!(live[0].live_access_tokens, 1);

    let disabled = b.user_disable("alice").await.unwrap();
    assert!(disabled.disabled);
    let after = b
        .sessions_list(SessionFilterDto {
            user: Some(alice.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert!(after.is_empty(), "alice still has live sessions: {after:?}");
    assert!(b.session_get(&s1).await.unwrap().revoked_at.is_some());
    assert!(b.session_get(&bobs).await.unwrap().revoked_at.is_none());
}

#[tokio::test]
async fn users_are_listed_without_password_hashes_and_duplicates_are_refused() {
    let (_dir, b) = open().await;
    user(&b, "carol").await;
    let e = b
        .user_create(UserCreateRequest {
            username: "carol".into(),
            password: "another password".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, "conflict");
    let short = b
        .user_create(UserCreateRequest {
            username: "dave".into(),
            password: "short".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(short.code, "invalid_input");
    let json = serde_json::to_string(&b.users_list().await.unwrap()).unwrap();
    assert!(json.contains("carol"));
    assert!(!json.contains("argon2"));
}

#[tokio::test]
async fn revoking_sessions_one_by_user_and_by_client() {
    let (_dir, b) = open().await;
    let client = web_client(&b).await;
    let erin = user(&b, "erin").await;
    let s1 = seed_session(&b, &erin.id, &client.client_id).await;
    assert_eq!(b.session_revoke(&s1).await.unwrap().revoked, 1);
    assert_eq!(b.session_revoke(&s1).await.unwrap().revoked, 0);
    assert_eq!(
        b.session_revoke("nope").await.unwrap_err().code,
        "not_found"
    );

    seed_session(&b, &erin.id, &client.client_id).await;
    let by_user = SessionsRevokeRequest {
        user: Some("erin".into()),
        ..Default::default()
    };
    let dry = b
        .sessions_revoke(SessionsRevokeRequest {
            dry_run: true,
            ..by_user.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        (dry.sessions, dry.refresh_families, dry.dry_run),
        (1, 1, true)
    );
    let done = b.sessions_revoke(by_user).await.unwrap();
    assert_eq!(
        (done.sessions, done.refresh_families, done.dry_run),
        (1, 1, false)
    );
    seed_session(&b, &erin.id, &client.client_id).await;
    let by_client = b
        .sessions_revoke(SessionsRevokeRequest {
            client_id: Some(client.client_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_client.sessions, 1);
    let two = b
        .sessions_revoke(SessionsRevokeRequest {
            user: Some("erin".into()),
            client_id: Some(client.client_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(two.code, "invalid_input");
    assert!(
        b.client_get(&client.client_id)
            .await
            .unwrap()
            .tokens_valid_after
            > 0
    );
    let all = b
        .sessions_list(SessionFilterDto {
            state: Some("any".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 3);
}

fn active(keys: &[KeyDto], alg: &str) -> Vec<String> {
    keys.iter()
        .filter(|k| k.alg == alg && k.state == "active")
        .map(|k| k.kid.clone())
        .collect()
}

#[tokio::test]
async fn a_fresh_database_has_an_active_key_for_every_algorithm() {
    let (_dir, b) = open().await;
    let keys = b.keys_list().await.unwrap();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert_eq!(active(&keys, alg).len(), 1, "{alg}: {keys:?}");
        assert!(keys.iter().any(|k| k.alg == alg && k.state == "next"));
    }
    for k in &keys {
        assert!(k.public_jwk.get("d").is_none());
    }
}

#[tokio::test]
async fn rotating_keys_changes_the_active_kid() {
    let (_dir, b) = open().await;
    let before = b.keys_list().await.unwrap();
    let rotated = b
        .keys_rotate(KeysRotateRequest {
            alg: Some("ES256".into()),
        })
        .await
        .unwrap();
    assert_eq!(rotated.len(), 1);
    let r = &rotated[0];
    assert_eq!(
        r.previous_kid.as_deref(),
        active(&before, "ES256").first().map(String::as_str)
    );
    assert_ne!(Some(&r.active_kid), r.previous_kid.as_ref());
    let after = b.keys_list().await.unwrap();
    assert_eq!(active(&after, "ES256"), vec![r.active_kid.clone()]);
    // The old key still verifies tokens it signed; a new successor is published.
    let prev = r.previous_kid.as_deref().unwrap();
    assert!(after.iter().any(|k| k.kid == prev && k.state == "retiring"));
    assert!(after.iter().any(|k| k.alg == "ES256" && k.state == "next"));
    // Other algorithms untouched.
    assert_eq!(active(&after, "RS256"), active(&before, "RS256"));

    let all = b.keys_rotate(KeysRotateRequest::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    let bad = b
        .keys_rotate(KeysRotateRequest {
            alg: Some("HS256".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code, "invalid_input");
}

#[tokio::test]
async fn revoking_the_active_key_promotes_another_so_signing_never_stops() {
    let (_dir, b) = open().await;
    let before = b.keys_list().await.unwrap();
    let kid = active(&before, "EdDSA").remove(0);
    let r = b.key_revoke(&kid).await.unwrap();
    assert_eq!(r.previous_state, "active");
    let after = b.keys_list().await.unwrap();
    let now_active = active(&after, "EdDSA");
    assert_eq!(now_active.len(), 1);
    assert_ne!(now_active[0], kid);
    assert_eq!(r.active_kid.as_deref(), Some(now_active[0].as_str()));
    assert!(after.iter().any(|k| k.kid == kid && k.state == "revoked"));
    assert_eq!(
        b.key_revoke("no-such-kid").await.unwrap_err().code,
        "not_found"
    );
}

#[tokio::test]
async fn the_audit_log_records_every_change_and_never_a_secret() {
    let (_dir, b) = open().await;
    let created = b.client_create(machine_client("Audited")).await.unwrap();
    let id = created.client.client_id.clone();
    let first = created.client_secret.unwrap();
    let second = b
        .client_rotate_secret(&id, SecretRotateRequest::default())
        .await
        .unwrap()
        .client_secret;
    let cloned = b
        .client_clone(&id, ClientCloneRequest::default())
        .await
        .unwrap()
        .client_secret
        .unwrap();
    b.user_create(UserCreateRequest {
        username: "frank".into(),
        password: "frank's long password".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    b.keys_rotate(KeysRotateRequest::default()).await.unwrap();
    b.client_delete(&id).await.unwrap();

    let events = b
        .audit_list(AuditFilterDto {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "client.create",
        "client.rotate_secret",
        "client.clone",
        "client.delete",
        "user.create",
        "key.rotate",
        "scope.create",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    assert!(events
        .iter()
        .filter(|e| e.action.starts_with("client."))
        .all(|e| e.actor == "local-admin"));

    let json = serde_json::to_string(&events).unwrap();
    for secret in [&first, &second, &cloned] {
        assert!(
            !json.contains(secret.as_str()),
            "a client secret reached the audit log"
        );
        let hash_hex: String = crypto::sha256(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!json.contains(&hash_hex));
    }
    assert!(!json.contains("frank's long password"));
    assert!(!json.contains("argon2"));
    assert!(!json.contains("private_enc"));
    assert!(!json.contains("password_hash"));
}

#[tokio::test]
async fn the_actor_is_recorded_as_configured() {
    let (_dir, b) = open().await;
    let b = b.with_actor("api-key:ci");
    b.client_create(machine_client("X")).await.unwrap();
    let ev = b
        .audit_list(AuditFilterDto {
            action_prefix: Some("client.".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(ev[0].actor, "api-key:ci");
}

#[tokio::test]
async fn reopening_with_another_kek_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let b = Embedded::open(&db, Kek::generate()).await.unwrap();
    b.close().await;
    let e = Embedded::open(&db, Kek::generate()).await.unwrap_err();
    assert_eq!(e.code, "internal");
    assert!(e.message.contains("key-encryption key"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_uses_racing_on_a_new_file_leave_one_active_and_one_next_key_per_algorithm() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("race.db");
        let kek = Kek::generate();
        // Each open is its own store (its own writer connection), as two processes are.
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let (db, kek) = (db.clone(), kek.clone());
                tokio::spawn(async move { Embedded::open(&db, kek).await })
            })
            .collect();
        let mut backends = Vec::new();
        for o in opens {
            backends.push(o.await.unwrap().unwrap());
        }
        let keys = backends[0].keys_list().await.unwrap();
        for alg in ["RS256", "ES256", "EdDSA"] {
            let count = |state: &str| {
                keys.iter()
                    .filter(|k| k.alg == alg && k.state == state)
                    .count()
            };
            assert_eq!((count("active"), count("next")), (1, 1), "{alg}: {keys:?}");
        }
        for b in backends {
            b.close().await;
        }
    }
}

#[tokio::test]
async fn the_built_in_console_client_and_scopes_cannot_be_deleted_or_disabled_from_any_layer() {
    let (_dir, b) = open().await;
    b.manager().ensure_console_client().await.unwrap();
    let c = b.client_get("latchkey-console").await.unwrap();
    assert!(c.builtin, "marked in the DTO");
    let del = b.client_delete("latchkey-console").await.unwrap_err();
    assert_eq!(del.code, ErrorCode::Builtin);
    assert!(del.message.contains("built-in"), "{}", del.message);
    let dis = b
        .client_set_disabled("latchkey-console", true)
        .await
        .unwrap_err();
    assert_eq!(dis.code, ErrorCode::Builtin);
    let upd = b
        .client_update(
            "latchkey-console",
            ClientUpdateRequest {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(upd.code, ErrorCode::Builtin);
    assert_eq!(ErrorCode::Builtin.http_status(), 409);
    assert!(!b.client_get("latchkey-console").await.unwrap().disabled);
    for scope in ["openid", "profile", "email", "latchkey:admin"] {
        let e = b.scope_delete(scope).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Builtin, "{scope}");
    }
    // Ordinary clients are not caught by it.
    let web = web_client(&b).await;
    assert!(!web.builtin);
    assert!(
        b.client_set_disabled(&web.client_id, true)
            .await
            .unwrap()
            .disabled
    );
    b.client_delete(&web.client_id).await.unwrap();
}

#[tokio::test]
async fn a_clients_impact_counts_its_live_sessions_families_and_tokens_and_changes_nothing() {
    let (_dir, b) = open().await;
    let web = web_client(&b).await;
    let other = web_client(&b).await;
    let ann = user(&b, "ann").await;
    seed_session(&b, &ann.id, &web.client_id).await;
    let gone = seed_session(&b, &ann.id, &web.client_id).await;
    seed_session(&b, &ann.id, &other.client_id).await;
    b.session_revoke(&gone).await.unwrap();
    let i = b.client_impact_get(&web.client_id).await.unwrap();
    assert_eq!(
        (i.sessions, i.refresh_families, i.live_access_tokens),
        (1, 1, 1),
        "the revoked session's token is already dead; only the live one counts: {i:?}"
    );
    assert!(i.last_token_at.is_some());
    assert!(!i.builtin && !i.disabled);
    assert!(!b.client_get(&web.client_id).await.unwrap().disabled);
    let missing = b.client_impact_get("no-such-client").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
}
