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

#[macro_use]
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

/// `commands::<name>` for every command of [`COMMANDS`], so the handler can miss none.
macro_rules! handler {
    (($($own:ident)*) $( $name:ident $method:ident $path:literal $access:ident { $($rest:tt)* } ; )*) => {
        tauri::generate_handler![$(commands::$own,)* $(commands::$name,)*]
    };
}

/// The command handlers on `builder`; shared by the real app and the `MockRuntime`
/// tests so both see the same IPC surface.
pub fn builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(with_commands!(handler))
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
