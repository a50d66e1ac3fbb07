//! The app manifest: every IPC command the console exposes, each getting an
//! `allow-<command>` permission (underscores become hyphens). With a manifest, a
//! command is callable only from a window whose capability grants it
//! (capabilities/main.json); without one, every command would be callable from every
//! webview. `src/lib.rs` keeps the same list in
//! `COMMANDS`, and a test fails when the two, the handler or the capability drift.

const COMMANDS: &[&str] = &[
    "console_status",
    "first_admin_password_take",
    "connections_list",
    "connection_open",
    "connection_add",
    "connection_update",
    "connection_remove",
    "clients_list",
    "client_get",
    "client_create",
    "client_update",
    "client_delete",
    "client_rotate_secret",
    "client_try",
    "client_set_disabled",
    "client_clone",
    "scopes_list",
    "scope_create",
    "scope_delete",
    "users_list",
    "user_get",
    "user_create",
    "user_disable",
    "user_enable",
    "keys_list",
    "keys_rotate",
    "key_revoke",
    "keys_schedule_get",
    "jwks_get",
    "sessions_list",
    "session_get",
    "session_revoke",
    "sessions_revoke",
    "token_inspect",
    "token_introspect",
    "token_revoke",
    "audit_list",
    "security_events_list",
    "stats_get",
    "health_get",
    "events_subscribe",
    "api_keys_list",
    "api_key_create",
    "api_key_revoke",
    "settings_get",
    "settings_update",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
