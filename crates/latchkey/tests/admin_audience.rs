//! Catalogue AD-29 … AD-30 with the real `latchkey` binary: `latchkey admin --server URL
//! login` sends nothing to an admin API its issuer does not vouch for, and `latchkey
//! serve` refuses a non-loopback admin listener over plain HTTP.

use latchkey_core::crypto::Kek;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use common::{free_port, wait_listening};

fn latchkey(kek: &str, home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.env_clear()
        .env("LATCHKEY_KEK", kek)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    c
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `latchkey serve` on loopback; returns it, its issuer and its admin API URL once
/// the admin health answers.
fn serve(dir: &std::path::Path, kek: &str) -> (Killed, String, String) {
    let (port, admin_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port}");
    let admin = format!("http://127.0.0.1:{admin_port}");
    let child = latchkey(kek, dir)
        .args(["serve", "--db"])
        .arg(dir.join("real.db"))
        .args(["--issuer", &issuer])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latchkey serve");
    let mut child = Killed(child);
    wait_listening(&mut child.0);
    // Requests that need keys wait for the first ones; after this, health is ok too.
    assert_eq!(get_status(&format!("127.0.0.1:{port}"), "/jwks"), Some(200));
    (child, issuer, admin)
}

/// A blocking one-request HTTP GET; the status code, if anything answered.
fn get_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split(' ').nth(1)?.parse().ok()
}

/// A fake admin API: answers `/admin/v1/health` naming `issuer`, 404 to everything
/// else, and keeps every request head it receives.
fn fake_admin_api(issuer: &str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (seen, issuer) = (log.clone(), issuer.to_string());
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                match sock.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let health = head.starts_with("GET /admin/v1/health ");
            seen.lock().unwrap().push(head);
            let resp = if health {
                let body =
                    format!(r#"{{"status":"ok","version":"0","time":0,"issuer":"{issuer}"}}"#);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            };
            let _ = sock.write_all(resp.as_bytes());
        }
    });
    (url, log)
}

/// AD-29: `latchkey admin --server FAKE login` (browser or device flow), where FAKE's
/// health names the real issuer, stops with a non-zero exit naming both the given URL
/// and the admin API the issuer vouches for; the fake never sees an `Authorization`
/// header, and the real server's admin API is accepted by the same check.
#[test]
fn login_to_an_admin_api_the_issuer_does_not_vouch_for_stops_and_shows_both_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kek = Kek::generate().encode();
    let (_server, issuer, admin) = serve(dir.path(), &kek);
    let (fake, log) = fake_admin_api(&issuer);
    for flow in [&["login"][..], &["login", "--device"][..]] {
        let out = latchkey(&kek, dir.path())
            .args(["admin", "--server", &fake])
            .args(flow)
            .output()
            .expect("run latchkey");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert!(err.contains(&fake), "{err}");
        assert!(err.contains(&admin), "{err}");
    }
    let seen = log.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the fake was asked for its health");
    assert!(
        seen.iter()
            .all(|h| !h.to_ascii_lowercase().contains("\nauthorization:")),
        "{seen:?}"
    );
    // The real admin API passes the check: what stops it here is only the missing
    // keyring service of the test machine, not the vouching.
    let out = latchkey(&kek, dir.path())
        .args(["admin", "--server", &admin, "login", "--device"])
        .output()
        .expect("run latchkey");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("untrusted_server"), "{err}");
    assert!(!err.contains("is not the admin API"), "{err}");
}

/// AD-30: `latchkey serve --admin-addr 0.0.0.0:…` without TLS exits at once with a
/// message naming `--tls-cert` and `--admin-insecure-http`; with
/// `--admin-insecure-http` it starts.
#[test]
fn serve_refuses_a_non_loopback_admin_listener_over_plain_http_unless_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kek = Kek::generate().encode();
    let (port, admin_port) = (free_port(), free_port());
    let base = |c: &mut Command| {
        c.args(["serve", "--db"])
            .arg(dir.path().join("open.db"))
            .args(["--issuer", &format!("http://127.0.0.1:{port}")])
            .args(["--public-addr", &format!("127.0.0.1:{port}")])
            .args(["--admin-addr", &format!("0.0.0.0:{admin_port}")])
            .stdout(Stdio::null());
    };
    let mut c = latchkey(&kek, dir.path());
    base(&mut c);
    let out = c.output().expect("run latchkey serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("--admin-insecure-http"), "{err}");
    assert!(err.contains("--tls-cert"), "{err}");

    let mut c = latchkey(&kek, dir.path());
    base(&mut c);
    let mut running = Killed(
        c.arg("--admin-insecure-http")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn latchkey serve"),
    );
    wait_listening(&mut running.0);
    assert_eq!(get_status(&format!("127.0.0.1:{port}"), "/jwks"), Some(200));
    assert_eq!(
        get_status(&format!("127.0.0.1:{admin_port}"), "/admin/v1/health"),
        Some(200)
    );
}
