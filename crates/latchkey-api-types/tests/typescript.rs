//! The desktop console's TypeScript types are generated from these Rust types; this
//! fails when the committed file no longer matches (CI's drift check).

use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/api/types.gen.ts")
}

#[test]
fn the_committed_typescript_types_match_the_rust_types() {
    let generated = latchkey_api_types::ts::typescript();
    let path = committed();
    if std::env::var_os("LATCHKEY_UPDATE_TS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, &generated).unwrap();
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
