//! `latchkey-desktop`: the Latchkey desktop console's shell.
//!
//! Owns: opening the connection the console administers (an embedded SQLite file,
//! created, migrated and seeded on first start, with the authorization server running
//! in this process on 127.0.0.1; or a remote server's admin API), switching between
//! saved connections with their credentials in the OS keyring, "Try it", the IPC commands — each a thin call
//! on [`AdminBackend`], named exactly like the trait method — and the window's security
//! (navigation lock, external links, the ACL in `capabilities/main.json`).
//!
//! Does not own: any admin rule or SQL (`latchkey-admin`, `latchkey-core`), the OAuth
//! endpoints (`latchkey-server`) or any presentation (`ui/`). Secrets stay here: the
//! only ones that ever cross into the webview are those the spec shows once — a new
//! client secret, and the first admin's generated password — and the tokens "Try it"
//! obtains for the inspector. Remote API keys and sign-ins go the other way only.

mod command_names;
pub mod commands;
pub mod connections;
pub mod console;
pub mod navigation;
pub mod try_it;

pub use console::{Console, ConsoleOptions};

use tauri::{Runtime, WebviewUrl, WebviewWindowBuilder};

/// Every IPC command, as the app manifest (`build.rs`) lists them.
pub use command_names::COMMANDS;

/// The command handlers on `builder`; shared by the real app and the `MockRuntime`
/// tests so both see the same IPC surface.
pub fn builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::console_status,
        commands::first_admin_password_take,
        commands::connections_list,
        commands::connection_open,
        commands::connection_add,
        commands::connection_update,
        commands::connection_remove,
        commands::clients_list,
        commands::client_get,
        commands::client_create,
        commands::client_update,
        commands::client_delete,
        commands::client_rotate_secret,
        commands::client_try,
        commands::client_set_disabled,
        commands::client_clone,
        commands::scopes_list,
        commands::scope_create,
        commands::scope_delete,
        commands::users_list,
        commands::user_get,
        commands::user_create,
        commands::user_disable,
        commands::user_enable,
        commands::keys_list,
        commands::keys_rotate,
        commands::key_revoke,
        commands::keys_schedule_get,
        commands::jwks_get,
        commands::sessions_list,
        commands::session_get,
        commands::session_revoke,
        commands::sessions_revoke,
        commands::token_inspect,
        commands::token_introspect,
        commands::token_revoke,
        commands::audit_list,
        commands::security_events_list,
        commands::stats_get,
        commands::health_get,
        commands::events_subscribe,
        commands::api_keys_list,
        commands::api_key_create,
        commands::api_key_revoke,
        commands::settings_get,
        commands::settings_update,
    ])
}

/// Runs the console: builds the window at once (the UI shows "starting" and progress)
/// while the store is opened and the server started in the background.
pub fn run(opts: ConsoleOptions) -> Result<(), tauri::Error> {
    let console = Console::new(opts);
    let nav = console.navigation();
    let app = builder(tauri::Builder::default())
        .manage(console)
        .setup(move |app| {
            let nav = nav.clone();
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                .title("Latchkey console")
                .inner_size(1280.0, 820.0)
                .min_inner_size(960.0, 600.0)
                .on_navigation(move |url| nav.allow(url))
                .build()?;
            let console = tauri::Manager::state::<Console>(app).inner().clone();
            tauri::async_runtime::spawn(async move { console.start().await });
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let console = tauri::Manager::state::<Console>(handle).inner().clone();
            tauri::async_runtime::block_on(console.shutdown());
        }
    });
    Ok(())
}
