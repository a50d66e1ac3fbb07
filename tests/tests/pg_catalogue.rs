//! The whole security catalogue suite again, on PostgreSQL: the same test files as
//! `catalogue_*.rs`, compiled into this one binary, whose name makes the harness
//! (`latchkey_e2e::on_postgres`) give every test a database of its own on the
//! throwaway cluster instead of a SQLite file. Tests that are about SQLite itself
//! (its file lock) say so and return early here.

#[path = "catalogue_admin_audience.rs"]
mod admin_audience;
#[path = "catalogue_admin_holes.rs"]
mod admin_holes;
#[path = "catalogue_admin_limits.rs"]
mod admin_limits;
#[path = "catalogue_admin_reliability.rs"]
mod admin_reliability;
#[path = "catalogue_admin_signin.rs"]
mod admin_signin;
#[path = "catalogue_authorize.rs"]
mod authorize;
#[path = "catalogue_device.rs"]
mod device;
#[path = "catalogue_dpop.rs"]
mod dpop;
#[path = "catalogue_hardening.rs"]
mod hardening;
#[path = "catalogue_oidc.rs"]
mod oidc;
#[path = "catalogue_par.rs"]
mod par;
#[path = "catalogue_refresh.rs"]
mod refresh;
#[path = "catalogue_registration.rs"]
mod registration;
#[path = "catalogue_revoke_introspect.rs"]
mod revoke_introspect;
#[path = "catalogue_token.rs"]
mod token;
#[path = "catalogue_token_exchange.rs"]
mod token_exchange;
