//! Configuration as code (issue 16) through the embedded backend on temporary SQLite
//! files: export, plan and apply as the CLI, the admin API and the console run them.

use anyhow::{bail, ensure, Context, Result};
use latchkey_admin::{AdminBackend, Embedded};
use latchkey_api_types::*;
use latchkey_core::crypto::Kek;
use latchkey_core::manage::{default_secret_reference, render_plan, ConfigInput};
use latchkey_core::store::ConfigBatch;
use std::collections::BTreeMap;
use tempfile::TempDir;

/// A secret as an operator would keep it in the environment of the apply.
const WEB_SECRET: &str = "s3cr3t-from-the-environment-0123456789-abcdefgh";

async fn open() -> Result<(TempDir, Embedded)> {
    let dir = tempfile::tempdir()?;
    let backend = Embedded::open(&dir.path().join("config.db"), Kek::generate()).await?;
    Ok((dir, backend))
}

fn file(name: &str, yaml: &str) -> ConfigFileDto {
    ConfigFileDto {
        name: name.into(),
        yaml: yaml.into(),
    }
}

fn secrets(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn plan_req(
    files: Vec<ConfigFileDto>,
    s: BTreeMap<String, String>,
    prune: bool,
) -> ConfigPlanRequest {
    ConfigPlanRequest {
        files,
        secrets: s,
        prune,
    }
}

fn apply_req(
    files: Vec<ConfigFileDto>,
    s: BTreeMap<String, String>,
    prune: bool,
) -> ConfigApplyRequest {
    ConfigApplyRequest {
        files,
        secrets: s,
        prune,
        expected_plan: None,
    }
}

/// A store with one of everything a document covers, made through the admin
/// operations. Answers the web client's id.
async fn populate(b: &Embedded) -> Result<String> {
    b.scope_create(ScopeCreateRequest {
        name: "orders:read".into(),
        description: "Read your orders".into(),
        claims: vec![],
    })
    .await?;
    let web = b
        .client_create(ClientCreateRequest {
            name: "Web shop".into(),
            redirect_uris: vec!["https://shop.example/cb".into()],
            allowed_scopes: vec!["openid".into(), "orders:read".into()],
            ..Default::default()
        })
        .await?;
    b.client_create(ClientCreateRequest {
        name: "Phone app".into(),
        client_type: Some("public".into()),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        ..Default::default()
    })
    .await?;
    let api = b
        .client_create(ClientCreateRequest {
            name: "Orders API".into(),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["orders:read".into()],
            ..Default::default()
        })
        .await?;
    b.exchange_policy_create(ExchangePolicyCreateRequest {
        note: Some("the API calls the ledger for the user".into()),
        requester_client_id: api.client.client_id.clone(),
        subject_client_ids: vec![web.client.client_id.clone()],
        targets: vec!["https://ledger.example".into()],
        scopes: vec!["orders:read".into()],
        actor_client_ids: vec![],
        ..Default::default()
    })
    .await?;
    b.user_create(UserCreateRequest {
        username: "alice".into(),
        email: Some("alice@example.com".into()),
        name: None,
        password: "correct horse battery staple".into(),
        is_admin: true,
    })
    .await?;
    b.settings_update(SettingsUpdateRequest {
        access_token_ttl: Some(Some(900)),
        detect_brute_force_mode: Some(Some(2)),
        ..Default::default()
    })
    .await?;
    Ok(web.client.client_id)
}

/// The secrets a document exported from `populate`'s store references, with values.
fn all_secrets(yaml: &str) -> BTreeMap<String, String> {
    yaml.lines()
        .filter_map(|l| l.trim().strip_prefix("secret: "))
        .map(|r| (r.trim_matches('\'').to_string(), WEB_SECRET.to_string()))
        .collect()
}

fn actions(plan: &ConfigPlanDto) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {} {}", c.action, c.kind, c.id))
        .collect()
}

#[tokio::test]
async fn an_export_applied_to_an_empty_store_exports_again_byte_for_byte() -> Result<()> {
    let (_a_dir, a) = open().await?;
    populate(&a).await?;
    let exported = a.config_export().await?;
    ensure!(exported.yaml.contains("orders:read"), "{}", exported.yaml);
    ensure!(
        exported.yaml.contains("detect_brute_force_mode: 2"),
        "{}",
        exported.yaml
    );
    // Deterministic: the same store exports the same bytes.
    ensure!(a.config_export().await?.yaml == exported.yaml);

    let (_b_dir, b) = open().await?;
    let files = vec![file("latchkey.yaml", &exported.yaml)];
    let s = all_secrets(&exported.yaml);
    ensure!(
        s.len() == 2,
        "the two secret clients have references: {s:?}"
    );
    let done = b
        .config_apply(apply_req(files.clone(), s.clone(), false))
        .await?;
    ensure!(done.applied);
    let again = b.config_export().await?;
    ensure!(
        again.yaml == exported.yaml,
        "--- first\n{}\n--- again\n{}",
        exported.yaml,
        again.yaml
    );
    ensure!(again.fingerprint == exported.fingerprint);
    // The user came over without a password: one nobody knows, hashed like any other.
    let alice = b
        .manager()
        .store()
        .user_by_username("alice")
        .await?
        .context("alice")?;
    ensure!(alice.is_admin && alice.password_hash.starts_with("$argon2id$"));
    // The plan said what the store now holds.
    ensure!(done.plan.fingerprint == again.fingerprint);
    let plan = b.config_plan(plan_req(files, s, true)).await?;
    ensure!(plan.changes.is_empty(), "{:?}", actions(&plan));
    ensure!(plan.skipped.is_empty());
    ensure!(!plan.drift.drifted && plan.drift.last_applied_at.is_some());
    Ok(())
}

#[tokio::test]
async fn a_plan_lists_exactly_the_differences_and_deletes_only_with_prune() -> Result<()> {
    let (_dir, b) = open().await?;
    let web = populate(&b).await?;
    let base = b.config_export().await?.yaml;
    // No values for the secret references: the secrets the store generated are left
    // alone (and the plan says they were not compared).
    let s = BTreeMap::new();
    // Rename the web shop and shorten its tokens, add a scope, drop the phone app.
    let phone = b
        .clients_list()
        .await?
        .into_iter()
        .find(|c| c.name == "Phone app")
        .context("phone app")?;
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&base)?;
    let clients = doc["clients"].as_mapping_mut().context("clients")?;
    clients.remove(phone.client_id.as_str());
    let w = &mut doc["clients"][web.as_str()];
    w["name"] = "Web shop (EU)".into();
    w["access_token_ttl"] = 300.into();
    doc["scopes"]["orders:write"] = yaml_serde::from_str("description: Place orders")?;
    let edited = yaml_serde::to_string(&doc)?;

    let plan = b
        .config_plan(plan_req(
            vec![file("edited.yaml", &edited)],
            s.clone(),
            false,
        ))
        .await?;
    ensure!(
        actions(&plan)
            == vec![
                "create scope orders:write".to_string(),
                format!("update client {web}"),
            ],
        "{:?}",
        actions(&plan)
    );
    let update = &plan.changes[1];
    let fields: Vec<(&str, Option<&str>, Option<&str>)> = update
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.old.as_deref(), f.new.as_deref()))
        .collect();
    ensure!(
        fields
            == vec![
                ("access_token_ttl", Some("600"), Some("300")),
                ("name", Some("\"Web shop\""), Some("\"Web shop (EU)\"")),
            ],
        "{fields:?}"
    );
    ensure!(plan.skipped.len() == 1 && plan.skipped[0].id == phone.client_id);
    ensure!(
        plan.notes.iter().any(|n| n.contains("was not compared")),
        "{:?}",
        plan.notes
    );
    let text = render_plan(&plan, &|t| t.to_string());
    ensure!(text.contains("~ access_token_ttl: 600 → 300"), "{text}");
    ensure!(text.contains("Not deleted without --prune"), "{text}");
    ensure!(
        text.contains("Plan: 1 to create, 1 to change, 0 to delete."),
        "{text}"
    );

    let pruned = b
        .config_plan(plan_req(
            vec![file("edited.yaml", &edited)],
            s.clone(),
            true,
        ))
        .await?;
    ensure!(pruned.skipped.is_empty());
    ensure!(
        actions(&pruned).last() == Some(&format!("delete client {}", phone.client_id)),
        "{:?}",
        actions(&pruned)
    );

    // Applied without prune: the phone app stays; with it, it goes.
    b.config_apply(apply_req(
        vec![file("edited.yaml", &edited)],
        s.clone(),
        false,
    ))
    .await?;
    ensure!(b.client_get(&phone.client_id).await.is_ok());
    ensure!(b.client_get(&web).await?.name == "Web shop (EU)");
    b.config_apply(apply_req(vec![file("edited.yaml", &edited)], s, true))
        .await?;
    ensure!(b.client_get(&phone.client_id).await.is_err());
    Ok(())
}

#[tokio::test]
async fn a_failed_apply_leaves_nothing_half_done() -> Result<()> {
    let (_dir, b) = open().await?;
    let yaml = "version: 1\n\
                scopes:\n  billing: {description: Bills}\n  zz-later: {description: Later}\n\
                clients:\n  batch-app:\n    client_type: public\n    redirect_uris: ['http://127.0.0.1/cb']\n";
    let input = ConfigInput {
        files: vec![file("batch.yaml", yaml)],
        secrets: BTreeMap::new(),
        prune: false,
    };
    let prepared = b.manager().config_prepare("tester", &input).await?;
    ensure!(prepared.writes.len() == 3, "{:?}", prepared.plan.changes);
    // Someone creates the second scope between the plan and the write: the batch's
    // second write fails, after the first one ran.
    b.scope_create(ScopeCreateRequest {
        name: "zz-later".into(),
        description: "Created meanwhile".into(),
        claims: vec![],
    })
    .await?;
    let before = b.config_export().await?;
    let r = b
        .manager()
        .store()
        .config_apply(&ConfigBatch {
            writes: prepared.writes,
            meta_key: "config_applied".into(),
            meta_value: "{}".into(),
            audit: latchkey_core::model::NewAuditEvent::new(0, "tester", "config.apply"),
        })
        .await;
    ensure!(r.is_err(), "the conflicting write fails the batch");
    ensure!(
        b.config_export().await? == before,
        "nothing of the batch landed"
    );
    ensure!(b.client_get("batch-app").await.is_err());
    let audit = b
        .audit_list(AuditFilterDto {
            limit: Some(1000),
            ..Default::default()
        })
        .await?
        .items;
    ensure!(
        !audit.iter().any(|e| e.actor == "tester"),
        "no audit event of the failed batch"
    );

    // Through the operation: an invalid last item stops everything before any write.
    let bad = "version: 1\n\
               scopes:\n  aaa-first: {description: First}\n\
               clients:\n  zz-bad:\n    client_type: public\n    redirect_uris: ['http://evil.example/cb#frag']\n";
    let e = b
        .config_apply(apply_req(
            vec![file("bad.yaml", bad)],
            BTreeMap::new(),
            false,
        ))
        .await
        .err()
        .context("refused")?;
    ensure!(e.code == ErrorCode::InvalidInput);
    ensure!(e.message.starts_with("clients.zz-bad"), "{}", e.message);
    ensure!(b.scopes_list().await?.iter().all(|s| s.name != "aaa-first"));
    Ok(())
}

#[tokio::test]
async fn secrets_resolved_from_the_environment_never_appear_in_a_plan_an_answer_or_the_audit(
) -> Result<()> {
    let (_dir, b) = open().await?;
    let reference = default_secret_reference("web");
    let yaml = format!(
        "version: 1\nclients:\n  web:\n    name: Web\n    redirect_uris: ['https://web.example/cb']\n    secret: {reference}\n"
    );
    let files = vec![file("web.yaml", &yaml)];
    let s = secrets(&[(&reference, WEB_SECRET)]);
    let plan = b
        .config_plan(plan_req(files.clone(), s.clone(), false))
        .await?;
    let done = b
        .config_apply(apply_req(files.clone(), s.clone(), false))
        .await?;
    // A new secret value: the plan shows a change and where it comes from, no value.
    let rotated = format!("{WEB_SECRET}-rotated");
    let s2 = secrets(&[(&reference, &rotated)]);
    let plan2 = b
        .config_plan(plan_req(files.clone(), s2.clone(), false))
        .await?;
    ensure!(actions(&plan2) == vec!["update client web".to_string()]);
    ensure!(plan2.changes[0].fields[0].field == "secret");
    ensure!(
        plan2.changes[0].fields[0].new.as_deref() == Some(format!("from {reference}").as_str())
    );
    let done2 = b.config_apply(apply_req(files, s2, false)).await?;
    let export = b.config_export().await?;
    let audit = b
        .audit_list(AuditFilterDto {
            limit: Some(1000),
            ..Default::default()
        })
        .await?;
    let seen = [
        serde_json::to_string(&plan)?,
        render_plan(&plan, &|t| t.to_string()),
        serde_json::to_string(&done)?,
        serde_json::to_string(&plan2)?,
        render_plan(&plan2, &|t| t.to_string()),
        serde_json::to_string(&done2)?,
        export.yaml.clone(),
        serde_json::to_string(&audit)?,
        format!(
            "{:?}",
            apply_req(vec![], secrets(&[(&reference, WEB_SECRET)]), false)
        ),
    ];
    for (i, text) in seen.iter().enumerate() {
        ensure!(
            !text.contains(WEB_SECRET),
            "the secret leaked into output {i}: {text}"
        );
        ensure!(
            !text.contains("rotated"),
            "the new secret leaked into output {i}"
        );
    }
    ensure!(export.yaml.contains(&reference));
    ensure!(audit.items.iter().any(|e| e.action == "config.apply"));
    Ok(())
}

#[tokio::test]
async fn an_overlay_overrides_the_base() -> Result<()> {
    let (_dir, b) = open().await?;
    let base = "version: 1\n\
                clients:\n  app:\n    client_type: public\n    name: App (dev)\n    redirect_uris: ['http://127.0.0.1/cb']\n  \
                dev-tool:\n    client_type: public\n    redirect_uris: ['http://127.0.0.1/tool']\n\
                settings:\n  access_token_ttl: 900\n  login_max_failures: 50\n";
    let staging = "clients:\n  app:\n    name: App (staging)\n  dev-tool: null\n\
                   settings:\n  login_max_failures: null\n  login_window: 600\n";
    let files = vec![
        file("latchkey.yaml", base),
        file("latchkey.staging.yaml", staging),
    ];
    let plan = b
        .config_plan(plan_req(files.clone(), BTreeMap::new(), false))
        .await?;
    ensure!(
        actions(&plan)
            == vec![
                "create setting access_token_ttl",
                "create setting login_window",
                "create client app",
            ],
        "{:?}",
        actions(&plan)
    );
    b.config_apply(apply_req(files, BTreeMap::new(), false))
        .await?;
    let app = b.client_get("app").await?;
    ensure!(app.name == "App (staging)");
    // A new client takes the lifetimes the same document sets.
    ensure!(app.access_token_ttl == 900, "{}", app.access_token_ttl);
    ensure!(b.client_get("dev-tool").await.is_err());
    let settings = b.settings_get().await?;
    ensure!(settings.login_window.value == 600 && settings.login_window.source == "admin");
    ensure!(settings.login_max_failures.source == "default");
    Ok(())
}

#[tokio::test]
async fn a_second_apply_changes_nothing_and_says_so() -> Result<()> {
    let (_dir, b) = open().await?;
    populate(&b).await?;
    let yaml = b.config_export().await?.yaml;
    let files = vec![file("latchkey.yaml", &yaml)];
    let s = all_secrets(&yaml);
    let (_dir2, fresh) = open().await?;
    let first = fresh
        .config_apply(apply_req(files.clone(), s.clone(), true))
        .await?;
    ensure!(first.applied && !first.plan.changes.is_empty());
    let second = fresh.config_apply(apply_req(files, s, true)).await?;
    ensure!(!second.applied, "nothing written the second time");
    ensure!(second.plan.changes.is_empty());
    ensure!(render_plan(&second.plan, &|t| t.to_string()).contains("No changes."));
    let applies = fresh
        .audit_list(AuditFilterDto {
            action_prefix: Some("config.".into()),
            limit: Some(100),
            ..Default::default()
        })
        .await?
        .items;
    ensure!(applies.len() == 1, "one batch event: {applies:?}");
    Ok(())
}

#[tokio::test]
async fn drift_since_the_last_apply_is_reported() -> Result<()> {
    let (_dir, b) = open().await?;
    let yaml = "version: 1\nclients:\n  app:\n    client_type: public\n    name: App\n    redirect_uris: ['http://127.0.0.1/cb']\n";
    let files = vec![file("latchkey.yaml", yaml)];
    let before = b
        .config_plan(plan_req(files.clone(), BTreeMap::new(), false))
        .await?;
    ensure!(before.drift.last_applied_at.is_none() && !before.drift.drifted);
    ensure!(render_plan(&before, &|t| t.to_string()).contains("No apply is recorded"));
    b.config_apply(apply_req(files.clone(), BTreeMap::new(), false))
        .await?;
    let clean = b
        .config_plan(plan_req(files.clone(), BTreeMap::new(), false))
        .await?;
    ensure!(!clean.drift.drifted && clean.drift.last_applied_by.as_deref() == Some("local-admin"));

    // Someone renames the client in the console.
    b.client_update(
        "app",
        ClientUpdateRequest {
            name: Some("Renamed by hand".into()),
            ..Default::default()
        },
    )
    .await?;
    let drifted = b
        .config_plan(plan_req(files, BTreeMap::new(), false))
        .await?;
    ensure!(drifted.drift.drifted);
    ensure!(actions(&drifted) == vec!["update client app".to_string()]);
    ensure!(render_plan(&drifted, &|t| t.to_string())
        .contains("Drift: the target changed outside this configuration"));
    Ok(())
}

#[tokio::test]
async fn an_apply_of_an_older_plan_is_refused() -> Result<()> {
    let (_dir, b) = open().await?;
    let yaml = "version: 1\nscopes:\n  a: {description: A}\n";
    let files = vec![file("latchkey.yaml", yaml)];
    let plan = b
        .config_plan(plan_req(files.clone(), BTreeMap::new(), false))
        .await?;
    b.scope_create(ScopeCreateRequest {
        name: "a".into(),
        description: "Someone else's".into(),
        claims: vec![],
    })
    .await?;
    let mut req = apply_req(files, BTreeMap::new(), false);
    req.expected_plan = Some(plan.plan_id);
    match b.config_apply(req).await {
        Err(e) if e.code == ErrorCode::Conflict => Ok(()),
        other => bail!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_documents_are_refused_with_the_path_of_the_offending_item() -> Result<()> {
    let (_dir, b) = open().await?;
    let cases: Vec<(&str, String, &str)> = vec![
        ("syntax", "version: 1\nclients: [unclosed\n".into(), "bad.yaml: "),
        (
            "unknown field",
            "version: 1\nclients:\n  web:\n    nmae: Web\n".into(),
            "clients.web: unknown field `nmae`",
        ),
        (
            "wrong type",
            "version: 1\nclients:\n  web:\n    access_token_ttl: soon\n".into(),
            "clients.web.access_token_ttl: invalid type",
        ),
        ("no version", "clients: {}\n".into(), "version: missing"),
        ("newer format", "version: 2\n".into(), "version: this is format 2"),
        (
            "unknown setting",
            "version: 1\nsettings:\n  acces_token_ttl: 5\n".into(),
            "settings.acces_token_ttl: not a setting",
        ),
        (
            "setting out of range",
            "version: 1\nsettings:\n  code_ttl: 100000\n".into(),
            "settings: code_ttl must be between",
        ),
        (
            "secret in the file",
            "version: 1\nclients:\n  web:\n    secret: hunter2hunter2\n".into(),
            "clients.web.secret: must be a reference",
        ),
        (
            "missing reference value",
            "version: 1\nclients:\n  web:\n    redirect_uris: ['https://w.example/cb']\n    secret: ${env:LATCHKEY_TEST_UNSET_SECRET}\n".into(),
            "clients.web.secret: the reference has no value here",
        ),
        (
            "no secret for a confidential client",
            "version: 1\nclients:\n  web:\n    redirect_uris: ['https://w.example/cb']\n".into(),
            "clients.web.secret: missing",
        ),
        (
            "unknown grant",
            "version: 1\nclients:\n  web:\n    grant_types: [password]\n".into(),
            "clients.web.grant_types: \"password\" is not a known grant type",
        ),
        (
            "scope that does not exist",
            "version: 1\nclients:\n  m2m:\n    client_type: public\n    redirect_uris: ['http://127.0.0.1/cb']\n    allowed_scopes: [nope]\n".into(),
            "clients.m2m.allowed_scopes: scope \"nope\" does not exist",
        ),
        (
            "the console client",
            "version: 1\nclients:\n  latchkey-console:\n    name: Mine\n".into(),
            "clients.latchkey-console: the built-in console client",
        ),
        (
            "a built-in scope",
            "version: 1\nscopes:\n  openid: {description: Mine}\n".into(),
            "scopes.openid: a built-in scope",
        ),
        (
            "a policy without requester",
            "version: 1\nexchange_policies:\n  p1: {targets: ['https://x.example']}\n".into(),
            "exchange_policies.p1.requester_client_id: missing",
        ),
        ("not a mapping", "- a\n- b\n".into(), "bad.yaml: "),
    ];
    for (what, yaml, expected) in cases {
        let r = b
            .config_apply(apply_req(
                vec![file("bad.yaml", &yaml)],
                BTreeMap::new(),
                false,
            ))
            .await;
        match r {
            Err(e) if e.code == ErrorCode::InvalidInput => ensure!(
                e.message.contains(expected),
                "{what}: expected {expected:?} in {:?}",
                e.message
            ),
            other => bail!("{what}: expected invalid_input, got {other:?}"),
        }
    }
    // Nothing of any of them landed.
    ensure!(b.clients_list().await?.iter().all(|c| c.builtin));
    Ok(())
}

#[tokio::test]
async fn the_backend_never_reads_a_file_or_variable_a_reference_names() -> Result<()> {
    let (dir, b) = open().await?;
    // A file the backend could read, holding a valid secret: only the caller's values
    // count, so without one the plan says it has no value.
    let path = dir.path().join("secret.txt");
    std::fs::write(&path, format!("{WEB_SECRET}\n"))?;
    let yaml = format!(
        "version: 1\nclients:\n  web:\n    redirect_uris: ['https://w.example/cb']\n    secret: ${{file:{}}}\n",
        path.display()
    );
    let plan = b
        .config_plan(plan_req(
            vec![file("f.yaml", &yaml)],
            BTreeMap::new(),
            false,
        ))
        .await?;
    let secret = plan.changes[0]
        .fields
        .iter()
        .find(|f| f.field == "secret")
        .context("secret field")?;
    ensure!(
        secret
            .new
            .as_deref()
            .is_some_and(|n| n.ends_with("(no value here)")),
        "{secret:?}"
    );
    let e = b
        .config_apply(apply_req(
            vec![file("f.yaml", &yaml)],
            BTreeMap::new(),
            false,
        ))
        .await
        .err()
        .context("refused without the value")?;
    ensure!(e.message.contains("clients.web.secret"), "{}", e.message);
    Ok(())
}

#[tokio::test]
async fn a_yaml_alias_bomb_is_refused_not_expanded() -> Result<()> {
    let (_dir, b) = open().await?;
    // Nested in `jwks`, which takes any JSON: 10^12 strings if aliases were expanded.
    let mut yaml =
        String::from("version: 1\nclients:\n  c0:\n    jwks: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        yaml.push_str(&format!(
            "  c{i}:\n    jwks: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let r = b
        .config_plan(plan_req(
            vec![file("bomb.yaml", &yaml)],
            BTreeMap::new(),
            false,
        ))
        .await;
    match r {
        Err(e) if e.code == ErrorCode::InvalidInput => {
            ensure!(e.message.starts_with("bomb.yaml: "), "{}", e.message)
        }
        other => bail!("expected invalid_input, got {other:?}"),
    }
    Ok(())
}
