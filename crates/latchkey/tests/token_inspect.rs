//! `latchkey token inspect` (issue 12, defect 1): the console inspector's verdict from
//! the same core function, asked of the store with `--db`; its exit codes (0 accepted,
//! 1 rejected, 2 error, 3 undetermined, README "Command line"); a pasted header line;
//! and a reader that has gone away (`| head`) ends it quietly, never with a panic.

use latchkey_e2e::catalogue::{Catalogue, ALICE};
use serde_json::Value;
use std::process::{Command, Output, Stdio};

fn inspect(args: &[&str], kek: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["token", "inspect"])
        .args(args)
        .env("LATCHKEY_KEK", kek)
        .env_remove("LATCHKEY_API_KEY")
        .env_remove("LATCHKEY_KEK_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run latchkey token inspect")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "JSON on stdout: {} / {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_rejects_a_revoked_token_with_the_stores_reason_and_a_non_zero_exit() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let kek = h.kek.encode();
    let db = h.db.to_str().unwrap().to_string();
    let t = h.code_flow_tokens(&cat.c1, "openid", ALICE).await.unwrap();
    let at = t["access_token"].as_str().unwrap().to_string();

    // Pasted as the whole header line: removed, reported, and the store says active.
    let header = format!("Authorization: Bearer {at}");
    let o = inspect(
        &["--db", &db, "--issuer", &h.issuer, "--json", &header],
        &kek,
    );
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["outcome"], "active", "{v}");
    assert_eq!(v["removed"].as_array().unwrap().len(), 2, "{v}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains(&at[..40]));

    // Revoked by an administrator: rejected, with why and by whom, exit 1.
    assert!(h
        .provider
        .revoke_as_admin("local-admin", &at)
        .await
        .unwrap());
    let o = inspect(&["--db", &db, "--issuer", &h.issuer, "--json", &at], &kek);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(1), "{v}");
    assert_eq!(v["outcome"], "rejected");
    assert_eq!(v["server"]["inactive_reason"]["code"], "revoked", "{v}");
    assert_eq!(v["server"]["inactive_reason"]["by"], "local-admin", "{v}");
    let human = inspect(&["--db", &db, "--issuer", &h.issuer, &at], &kek);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.starts_with("Rejected: this token was revoked"),
        "{text}"
    );
    assert_eq!(human.status.code(), Some(1));

    // An ID token: not introspectable, never "inactive", accepted (exit 0).
    let id = t["id_token"].as_str().unwrap();
    let o = inspect(&["--db", &db, "--issuer", &h.issuer, "--json", id], &kek);
    let v = json(&o);
    assert_eq!(v["outcome"], "not_introspectable", "{v}");
    assert_eq!(o.status.code(), Some(0), "{v}");

    // Offline (keys only): nothing failed, revocation unknown — undetermined, exit 3.
    let t2 = h.code_flow_tokens(&cat.c1, "openid", ALICE).await.unwrap();
    let jwks = h.url("/jwks");
    let o = inspect(
        &[
            "--jwks-url",
            &jwks,
            "--json",
            t2["access_token"].as_str().unwrap(),
        ],
        &kek,
    );
    let v = json(&o);
    assert_eq!(v["outcome"], "valid_offline", "{v}");
    assert_eq!(o.status.code(), Some(3), "{v}");

    // No token at all: a usage error, exit 2.
    let o = inspect(&["Bearer "], &kek);
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_ends_quietly_with_the_verdicts_exit_code_when_its_reader_has_gone() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    let t = h.code_flow_tokens(&cat.c1, "openid", ALICE).await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    assert!(h.provider.revoke_as_admin("local-admin", at).await.unwrap());
    // A pipe whose read end is closed before the command starts: every write fails
    // with EPIPE, as under `| head` once head has exited — on any machine, at any speed.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "token",
            "inspect",
            "--db",
            h.db.to_str().unwrap(),
            "--issuer",
            &h.issuer,
            at,
        ])
        .env("LATCHKEY_KEK", h.kek.encode())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty(), "quiet: {err}");
    assert_eq!(o.status.code(), Some(1), "the verdict's code (rejected)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_cannot_delete_or_disable_the_built_in_console_client() {
    let cat = Catalogue::start().await;
    let h = &cat.h;
    for verb in ["delete", "disable"] {
        let o = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args([
                "admin",
                "--db",
                h.db.to_str().unwrap(),
                "clients",
                verb,
                "latchkey-console",
            ])
            .env("LATCHKEY_KEK", h.kek.encode())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{verb}: {err}");
        assert!(
            err.contains("built-in") && err.contains("(builtin)"),
            "{verb}: {err}"
        );
    }
    let c = h.manager.client_get("latchkey-console").await.unwrap();
    assert!(!c.disabled);
}
