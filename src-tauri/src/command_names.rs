// Every IPC command the console exposes: the shell's own commands, listed here, and every
// admin operation, from the op table (`latchkey_api_types::for_each_admin_op!`). `build.rs`
// includes this file for the app manifest (each command gets an `allow-<command>`
// permission); the library registers the handlers from the same list
// (`with_commands!(handler)`) and re-exports `COMMANDS`. The capability and the isolation
// hook are generated from `COMMANDS` (tests/generated.rs).

/// Calls the macro `$cb` with the shell's own commands (not admin operations: the
/// connection switcher, "Try it", the offline token inspector) in parentheses, then every
/// row of the op table.
macro_rules! with_commands {
    ($cb:ident) => {
        latchkey_api_types::for_each_admin_op! {
            $cb console_status first_admin_password_take connections_list connection_open
            connection_add connection_update connection_remove client_try token_inspect
        }
    };
}

macro_rules! command_names {
    (($($own:ident)*) $( $name:ident $method:ident $path:literal $access:ident { $($rest:tt)* } ; )*) => {
        /// Every IPC command's name.
        pub const COMMANDS: &[&str] = &[$(stringify!($own),)* $(stringify!($name),)*];
    };
}

with_commands!(command_names);
