//! `latchkey admin --server URL …`: the credential for a remote admin API and the
//! sign-in commands (`login`, `logout`).
//!
//! Tokens from a sign-in live in the OS keyring only ([`latchkey_admin_client::keyring`],
//! shared with the desktop console) — never in a file, never on stdout or stderr. Where
//! no keyring service runs, the commands say so and exit non-zero; `--api-key` (or
//! `LATCHKEY_API_KEY`) is the way in then.

use latchkey_admin_client::keyring::{EntryKind, Keyring};
use latchkey_admin_client::signin::{self, ADMIN_SCOPE};
use latchkey_admin_client::{AdminError, Credential, Remote, Secret};
use latchkey_api_types::ErrorCode;
use std::sync::Arc;

/// The remote backend for `--server`: the API key if one was given, else the tokens of
/// an earlier `login`, kept fresh in the keyring.
pub fn backend(server: &str, api_key: Option<String>) -> Result<Remote, AdminError> {
    if let Some(key) = api_key.filter(|k| !k.is_empty()) {
        return Remote::new(server, Credential::ApiKey(Secret::new(key)));
    }
    let ring = Keyring::open(server, EntryKind::SignIn).map_err(with_api_key_hint)?;
    let Some(tokens) = ring.load_tokens()? else {
        return Err(AdminError::new(
            ErrorCode::Unauthorized,
            format!(
                "not signed in to {server}: run `latchkey admin --server {server} login` \
                 (or pass --api-key)"
            ),
        ));
    };
    let ring = Arc::new(ring);
    Ok(
        Remote::new(server, Credential::OAuth(tokens))?.on_refresh(Arc::new(move |t| {
            if let Err(e) = ring.save_tokens(t) {
                eprintln!(
                    "warning: could not store the refreshed tokens: {}",
                    e.message
                );
            }
        })),
    )
}

fn with_api_key_hint(e: AdminError) -> AdminError {
    AdminError::new(e.code, format!("{} (--api-key)", e.message))
}

/// `latchkey admin --server URL login [--device] [--issuer URL]`.
pub async fn login(server: &str, issuer: Option<&str>, device: bool) -> Result<(), AdminError> {
    let http = signin::http_client();
    // An admin API its issuer does not vouch for is refused before anything else
    // (issue 10 §3: no token, not even a sign-in, for it).
    let vouched = signin::endpoints_for(&http, server, issuer).await;
    if let Err(e) = &vouched {
        if e.code == "untrusted_server" {
            return Err(e.clone());
        }
    }
    // Then: is there anywhere to keep the tokens? (No keyring, no sign-in.)
    let ring = Keyring::open(server, EntryKind::SignIn).map_err(with_api_key_hint)?;
    let ep =
        vouched.map_err(|e| AdminError::new(e.code, format!("{} (--issuer URL)", e.message)))?;
    let tokens = if device {
        let auth = signin::device_authorize(&http, &ep, ADMIN_SCOPE).await?;
        eprintln!(
            "To sign in, open {} and enter the code {}",
            auth.verification_uri, auth.user_code
        );
        if let Some(complete) = &auth.verification_uri_complete {
            eprintln!("(or open {complete} directly)");
        }
        eprintln!("Waiting for approval…");
        signin::device_poll(&http, &ep, &auth).await?
    } else {
        signin::browser_sign_in(&http, &ep, |url| {
            if open_browser(url) {
                eprintln!("Opened the browser to sign in. If it did not appear, open:\n  {url}");
            } else {
                eprintln!("Open this address in a browser to sign in:\n  {url}");
            }
        })
        .await?
    };
    ring.save_tokens(&tokens)?;
    eprintln!(
        "Signed in to {server} ({}). The tokens are kept in the OS keyring.",
        tokens.scope.as_deref().unwrap_or(ADMIN_SCOPE)
    );
    Ok(())
}

/// `latchkey admin --server URL logout`: revokes the refresh token (RFC 7009) and
/// deletes the keyring entry, even when the server cannot be reached (then it says so).
pub async fn logout(server: &str) -> Result<(), AdminError> {
    let ring = Keyring::open(server, EntryKind::SignIn).map_err(with_api_key_hint)?;
    let Some(tokens) = ring.load_tokens()? else {
        eprintln!("Not signed in to {server}.");
        return Ok(());
    };
    let revoked = signin::revoke(&signin::http_client(), &tokens).await;
    ring.delete()?;
    match revoked {
        Ok(()) => eprintln!("Signed out of {server}; the refresh token is revoked."),
        Err(e) => eprintln!(
            "Signed out of {server} locally, but the revocation failed: {} — the refresh \
             token stays valid until it expires",
            e.message
        ),
    }
    Ok(())
}

fn open_browser(url: &str) -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("xdg-open").is_file()));
    on_path
        && std::process::Command::new("xdg-open")
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
}
