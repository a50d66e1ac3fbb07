//! The README's PostgreSQL backup procedure, run for real against a throwaway cluster
//! (issue 16): `pg_dump --format=custom` of a live Latchkey database, `pg_restore
//! --no-owner` into a new empty database, `latchkey migrate --dry-run` finds nothing to
//! run there, and the store opens with the data (signing keys sealed under the same
//! KEK, clients, the audit log).

use latchkey_e2e::latchkey_core::model::NewAuditEvent;
use latchkey_e2e::latchkey_core::store_suite::{client, T0};
use latchkey_e2e::pg::{find_bin_dir, TestDatabase};
use latchkey_store_postgres::PgStore;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_and_pg_restore_carry_a_latchkey_database_to_a_new_one() -> anyhow::Result<()> {
    let source = TestDatabase::create().await?;
    let store = PgStore::connect(&source.url).await?;
    store
        .client_insert(
            &client("c-dumped"),
            None,
            &NewAuditEvent::new(T0, "test", "client.create").target("c-dumped"),
        )
        .await?;
    store.meta_set("backup.check", "before the dump").await?;

    let bin = find_bin_dir()?;
    let dir = tempfile::tempdir()?;
    let dump = dir.path().join("latchkey.dump");
    // While the store is open: pg_dump reads one consistent snapshot.
    let out = Command::new(bin.join("pg_dump"))
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&source.url)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    store.close().await;

    let target = TestDatabase::create().await?;
    let out = Command::new(bin.join("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&target.url)
        .arg(&dump)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pending = latchkey_store_postgres::pending_migrations(&target.url).await?;
    assert!(
        pending.is_empty(),
        "the dump carries the schema: {pending:?}"
    );
    let restored = PgStore::connect(&target.url).await?;
    assert!(restored.client_get("c-dumped").await?.is_some());
    assert_eq!(
        restored.meta_get("backup.check").await?.as_deref(),
        Some("before the dump")
    );
    restored.close().await;
    Ok(())
}
