//! `latchkey admin --server URL …`: the credential for a remote admin API and the
//! sign-in commands (`login`, `logout`).
//!
//! Tokens from a sign-in live in the OS keyring only (entry service `latchkey`, user
//! `<server origin>|admin`) — never in a file, never on stdout or stderr. Where no
//! keyring service runs, the commands say so and exit non-zero; `--api-key` (or
//! `LATCHKEY_API_KEY`) is the way in then.

use latchkey_admin::signin::{self, Endpoints, ADMIN_SCOPE};
use latchkey_admin::{AdminError, Credential, Remote, Secret, TokenSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEYRING_SERVICE: &str = "latchkey";

/// The OS keyring entry of one server's admin sign-in.
pub struct Keyring {
    entry: keyring::Entry,
}

/// `scheme://host:port` of the admin API, the part that names whose tokens these are.
fn origin(server: &str) -> Result<String, AdminError> {
    Ok(signin::check_transport(server)?
        .origin()
        .ascii_serialization())
}

fn keyring_error(e: keyring::Error) -> AdminError {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            AdminError::new(
                "unavailable",
                format!(
                    "no OS keyring service is running ({inner}); start gnome-keyring/KWallet/\
                     KeePassXC, or pass --api-key"
                ),
            )
        }
        other => AdminError::new("unavailable", format!("the OS keyring failed: {other}")),
    }
}

impl Keyring {
    /// Opens the entry and checks that a keyring service answers, so a sign-in does not
    /// run its whole flow only to find nowhere to keep the tokens.
    pub fn open(server: &str) -> Result<Keyring, AdminError> {
        let user = format!("{}|admin", origin(server)?);
        let entry = keyring::Entry::new(KEYRING_SERVICE, &user).map_err(keyring_error)?;
        let k = Keyring { entry };
        k.load()?;
        Ok(k)
    }

    pub fn load(&self) -> Result<Option<TokenSet>, AdminError> {
        match self.entry.get_password() {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|_| {
                AdminError::new(
                    "unavailable",
                    "the keyring entry for this server is unreadable; run logout, then login",
                )
            }),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    pub fn save(&self, t: &TokenSet) -> Result<(), AdminError> {
        let text = serde_json::to_string(t)
            .map_err(|e| AdminError::new("internal", format!("cannot encode tokens: {e}")))?;
        self.entry.set_password(&text).map_err(keyring_error)
    }

    pub fn delete(&self) -> Result<(), AdminError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// The remote backend for `--server`: the API key if one was given, else the tokens of
/// an earlier `login`, kept fresh in the keyring.
pub fn backend(server: &str, api_key: Option<String>) -> Result<Remote, AdminError> {
    if let Some(key) = api_key.filter(|k| !k.is_empty()) {
        return Remote::new(server, Credential::ApiKey(Secret::new(key)));
    }
    let ring = Keyring::open(server)?;
    let Some(tokens) = ring.load()? else {
        return Err(AdminError::new(
            "unauthorized",
            format!(
                "not signed in to {server}: run `latchkey admin --server {server} login` \
                 (or pass --api-key)"
            ),
        ));
    };
    let ring = Arc::new(ring);
    Ok(
        Remote::new(server, Credential::OAuth(tokens))?.on_refresh(Arc::new(move |t| {
            if let Err(e) = ring.save(t) {
                eprintln!(
                    "warning: could not store the refreshed tokens: {}",
                    e.message
                );
            }
        })),
    )
}

/// Where the sign-in happens: the issuer named on the command line, else the one the
/// admin API's health answer names, else the admin API's own origin (when both are
/// served behind one proxy).
async fn endpoints(
    http: &reqwest::Client,
    server: &str,
    issuer: Option<&str>,
) -> Result<Endpoints, AdminError> {
    let announced = match issuer {
        Some(_) => None,
        None => announced_issuer(http, server).await,
    };
    let issuer = issuer.or(announced.as_deref()).unwrap_or(server);
    signin::discover(http, issuer).await.map_err(|e| {
        if issuer == server {
            AdminError::new(
                e.code,
                format!(
                    "{}; pass the authorization server's URL with --issuer",
                    e.message
                ),
            )
        } else {
            e
        }
    })
}

/// The issuer in `GET /admin/v1/health`, if the server says.
async fn announced_issuer(http: &reqwest::Client, server: &str) -> Option<String> {
    let url = format!("{}/admin/v1/health", server.trim_end_matches('/'));
    let health: latchkey_api_types::HealthDto =
        http.get(url).send().await.ok()?.json().await.ok()?;
    health.issuer
}

/// `latchkey admin --server URL login [--device] [--issuer URL]`.
pub async fn login(server: &str, issuer: Option<&str>, device: bool) -> Result<(), AdminError> {
    // First: is there anywhere to keep the tokens? (No keyring, no sign-in.)
    let ring = Keyring::open(server)?;
    let http = signin::http_client();
    let ep = endpoints(&http, server, issuer).await?;
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
        browser_login(&http, &ep).await?
    };
    ring.save(&tokens)?;
    eprintln!(
        "Signed in to {server} ({}). The tokens are kept in the OS keyring.",
        tokens.scope.as_deref().unwrap_or(ADMIN_SCOPE)
    );
    Ok(())
}

/// `latchkey admin --server URL logout`: revokes the refresh token (RFC 7009) and
/// deletes the keyring entry, even when the server cannot be reached (then it says so).
pub async fn logout(server: &str) -> Result<(), AdminError> {
    let ring = Keyring::open(server)?;
    let Some(tokens) = ring.load()? else {
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

/// RFC 8252 §7.3: authorization code + PKCE in the system browser, redirected to a
/// one-shot listener on 127.0.0.1 (any port: the server accepts loopback redirect URIs
/// with any port for native clients).
async fn browser_login(http: &reqwest::Client, ep: &Endpoints) -> Result<TokenSet, AdminError> {
    use latchkey_core::crypto::{b64url, random_token, sha256};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| AdminError::new("unavailable", format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| AdminError::new("unavailable", format!("loopback listener: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random_token();
    let challenge = b64url(&sha256(verifier.as_bytes()));
    let state = random_token();
    let url = signin::authorization_url(ep, &redirect_uri, &state, &challenge, ADMIN_SCOPE)?;
    if open_browser(&url) {
        eprintln!("Opened the browser to sign in. If it did not appear, open:\n  {url}");
    } else {
        eprintln!("Open this address in a browser to sign in:\n  {url}");
    }
    let params = tokio::time::timeout(Duration::from_secs(300), wait_for_redirect(&listener))
        .await
        .map_err(|_| {
            AdminError::new(
                "unauthorized",
                "no sign-in within 5 minutes; run login again",
            )
        })??;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // RFC 6749 §10.12: the state binds the answer to this request.
    if get("state") != Some(state.as_str()) {
        return Err(AdminError::new(
            "unauthorized",
            "the sign-in answer did not match this request (state mismatch); run login again",
        ));
    }
    if let Some(err) = get("error") {
        return Err(AdminError::new(
            if err == "access_denied" {
                "forbidden"
            } else {
                "unauthorized"
            },
            format!(
                "sign-in refused ({err}{})",
                get("error_description")
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let code = get("code")
        .ok_or_else(|| AdminError::new("unauthorized", "the sign-in answer carried no code"))?;
    signin::exchange_code(http, ep, code, &redirect_uri, &verifier).await
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

/// Serves the loopback listener until a request for `/callback` arrives; returns its
/// query parameters. Other requests (a browser's `/favicon.ico`) get a 404.
async fn wait_for_redirect(
    listener: &tokio::net::TcpListener,
) -> Result<Vec<(String, String)>, AdminError> {
    loop {
        let (mut sock, _) = listener
            .accept()
            .await
            .map_err(|e| AdminError::new("unavailable", format!("loopback listener: {e}")))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        // The request line is all that matters; stop at the end of the head.
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != "/callback" {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        let body = "<!doctype html><title>Latchkey</title><p>Signed in. You may close this \
                    tab and return to the terminal.</p>";
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        let _ = sock.shutdown().await;
        return Ok(url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyring_entry_is_named_after_the_server_origin() {
        assert_eq!(
            origin("https://id.example.com/prefix/").unwrap(),
            "https://id.example.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8081").unwrap(),
            "http://127.0.0.1:8081"
        );
        assert!(origin("http://id.example.com").is_err());
    }

    #[tokio::test]
    async fn the_loopback_listener_returns_the_callback_query_and_ignores_other_paths() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiter = tokio::spawn(async move { wait_for_redirect(&listener).await });
        let http = reqwest::Client::new();
        let r = http
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        let r = http
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=abc&state=x%20y"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let params = waiter.await.unwrap().unwrap();
        assert_eq!(
            params,
            vec![
                ("code".into(), "abc".into()),
                ("state".into(), "x y".into())
            ]
        );
    }
}
