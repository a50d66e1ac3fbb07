//! The desktop console's TypeScript types are generated from these Rust types; this
//! fails when the committed file no longer matches (CI's drift check); so is the list of
//! admin operations (`operations.gen.ts`, from `ops.rs`).

use std::path::PathBuf;

fn ui_api(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ui/src/lib/api")
        .join(file)
}

/// Compares `generated` with the committed file, or rewrites the file when asked
/// (`LATCHKEY_UPDATE_TS`, or `LATCHKEY_UPDATE_GEN` which rewrites every generated file).
fn check_or_update(path: PathBuf, generated: &str) {
    if std::env::var_os("LATCHKEY_UPDATE_TS").is_some()
        || std::env::var_os("LATCHKEY_UPDATE_GEN").is_some()
    {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is out of date with crates/latchkey-api-types: run \
         `LATCHKEY_UPDATE_TS=1 cargo test -p latchkey-api-types` and commit the result",
        path.display()
    );
}

#[test]
fn the_committed_typescript_types_match_the_rust_types() {
    check_or_update(
        ui_api("types.gen.ts"),
        &latchkey_api_types::ts::typescript(),
    );
}

#[test]
fn the_committed_operation_list_matches_the_op_table() {
    check_or_update(
        ui_api("operations.gen.ts"),
        &latchkey_api_types::ops::typescript(),
    );
}

#[test]
fn every_dto_becomes_a_typescript_declaration() {
    let ts = latchkey_api_types::ts::typescript();
    for name in [
        "ClientDto",
        "SessionPageDto",
        "RevokeImpactDto",
        "ApiKeyCreated",
        "StatsDto",
    ] {
        assert!(
            ts.contains(&format!("export interface {name} {{")),
            "{name} missing"
        );
    }
    // Optional wire fields are nullable, numbers are numbers, lists are arrays.
    assert!(
        ts.contains("next_cursor?: string | null;") || ts.contains("next_cursor: string | null;")
    );
    assert!(ts.contains("items: SessionDto[];"));
}
