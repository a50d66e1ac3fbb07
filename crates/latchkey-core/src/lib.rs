//! `latchkey-core`: the domain model and the OAuth 2.0 / OpenID Connect engine.
//!
//! Owns: the nouns (clients, scopes, users, keys, sessions, codes, tokens, audit), the
//! storage contract every backend implements (`store`), key handling and JWTs, and the
//! protocol logic behind each endpoint (`oauth`), returning RFC-named errors.
//!
//! Does not own: HTTP (that is `latchkey-server`), SQL (the store crates), process
//! wiring or configuration files. No axum, sqlx, tauri or reqwest in here: the engine is
//! driven through plain async calls and a [`clock::Clock`].

pub mod clock;
pub mod crypto;
pub mod error;
pub mod inspect;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod manage;
pub mod model;
pub mod monitor;
pub mod net;
pub mod oauth;
pub mod retention;
pub mod settings;
pub mod store;
#[cfg(feature = "store-suite")]
pub mod store_suite;
pub mod webhook;
