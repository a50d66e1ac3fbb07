//! The app manifest: every IPC command the console exposes, each getting an
//! `allow-<command>` permission (underscores become hyphens). With a manifest, a
//! command is callable only from a window whose capability grants it
//! (capabilities/main.json); without one, every command would be callable from every
//! webview. The list is `src/command_names.rs` (the shell's own commands plus the op
//! table of `latchkey-api-types`), shared with the library, which registers the handlers
//! from it; the capability and the isolation hook are generated from it and a test
//! (tests/generated.rs) fails when they drift.

include!("src/command_names.rs");
include!("../crates/latchkey/build_commit.rs");

fn main() {
    // The About line (Settings → Connection → Version) names the commit, as
    // `latchkey --version` does.
    emit_commit();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
