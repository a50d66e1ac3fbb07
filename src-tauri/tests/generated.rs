//! The files generated from the command list (`COMMANDS`: the shell's own commands plus
//! the op table of `latchkey-api-types`) and committed: the window's capability
//! (`capabilities/main.json`) and the isolation hook's allow-list
//! (`ui/isolation/index.html`). They cannot be derived at build time — tauri-build reads
//! the capability as a file, and the hook's inline script is hashed into the CSP — so
//! they are checked in, and this fails when either drifts from `COMMANDS`.
//! `LATCHKEY_UPDATE_GEN=1 cargo test -p latchkey-desktop --test generated` rewrites them.

use latchkey_desktop::COMMANDS;
use std::path::PathBuf;

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn check_or_update(rel: &str, generated: &str) {
    let p = path(rel);
    if std::env::var_os("LATCHKEY_UPDATE_GEN").is_some() {
        std::fs::write(&p, generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&p).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is out of date with COMMANDS (src-tauri/src/command_names.rs and the op table): \
         run `LATCHKEY_UPDATE_GEN=1 cargo test -p latchkey-desktop --test generated` and \
         commit the result",
        p.display()
    );
}

/// One capability for the one window: exactly the console's commands, each as the
/// `allow-<command>` permission tauri-build makes for it (hyphens for underscores).
fn capability() -> String {
    let permissions: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("    \"allow-{}\"", c.replace('_', "-")))
        .collect();
    format!(
        "{{\n  \"$schema\": \"../gen/schemas/desktop-schema.json\",\n  \"identifier\": \"main\",\n  \
         \"description\": \"The console's only window: exactly the console's own commands, no core or plugin permissions (the UI uses none). Generated from COMMANDS by src-tauri/tests/generated.rs.\",\n  \
         \"windows\": [\n    \"main\"\n  ],\n  \"permissions\": [\n{}\n  ]\n}}\n",
        permissions.join(",\n")
    )
}

const LIST_START: &str = "const COMMANDS = [\n";
const LIST_END: &str = "];\n";

/// The hook with its `COMMANDS` list replaced by the generated one; the rest of the
/// file (the argument checks) stays hand-written.
fn isolation_hook(current: &str) -> String {
    let start = current
        .find(LIST_START)
        .expect("ui/isolation/index.html has a `const COMMANDS = [` list")
        + LIST_START.len();
    let end = start
        + current[start..]
            .find(LIST_END)
            .expect("the hook's list ends with `];`");
    let mut out = current[..start].to_string();
    for c in COMMANDS {
        out.push_str(&format!("  '{c}',\n"));
    }
    out.push_str(&current[end..]);
    out
}

#[test]
fn the_capability_grants_exactly_the_commands() {
    check_or_update("capabilities/main.json", &capability());
}

#[test]
fn the_isolation_hook_lets_exactly_the_commands_through() {
    let current = std::fs::read_to_string(path("../ui/isolation/index.html")).unwrap();
    check_or_update("../ui/isolation/index.html", &isolation_hook(&current));
}

#[test]
fn every_admin_operation_is_a_command() {
    for op in latchkey_api_types::ops::ADMIN_OPS {
        assert!(COMMANDS.contains(&op.name), "{} is not a command", op.name);
    }
    let mut sorted = COMMANDS.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), COMMANDS.len(), "a command is listed twice");
}
