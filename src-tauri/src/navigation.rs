//! The navigation lock: the console's webview only ever shows the bundled UI. A
//! navigation anywhere else is refused; one to the connected server's own pages (its
//! sign-in page, discovery document) is opened in the system browser instead, and
//! anything else is dropped. So a script injected into the UI can neither load a remote
//! page into the privileged webview nor use the console to open arbitrary sites.

use std::sync::{Arc, RwLock};
use tauri::Url;

/// Cheap to clone: the clones share the origin, which follows the active connection.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `scheme://host:port` of the connected server.
    external_origin: Arc<RwLock<String>>,
}

fn origin_of(issuer: &str) -> String {
    Url::parse(issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Where a navigation request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The bundled app: let the webview load it.
    App,
    /// The connected server: open it in the system browser.
    SystemBrowser,
    Refuse,
}

impl Policy {
    pub fn new(issuer: String) -> Policy {
        Policy {
            external_origin: Arc::new(RwLock::new(origin_of(&issuer))),
        }
    }

    /// The console switched connections: from now on, this server's pages (and no
    /// longer the previous one's) open in the system browser.
    pub fn set_issuer(&self, issuer: &str) {
        if let Ok(mut o) = self.external_origin.write() {
            *o = origin_of(issuer);
        }
    }

    pub fn verdict(&self, url: &Url) -> Verdict {
        let external = self
            .external_origin
            .read()
            .map(|o| o.clone())
            .unwrap_or_default();
        if is_app_url(url) {
            Verdict::App
        } else if matches!(url.scheme(), "http" | "https")
            && !external.is_empty()
            && url.origin().ascii_serialization() == external
        {
            Verdict::SystemBrowser
        } else {
            Verdict::Refuse
        }
    }

    /// The `on_navigation` hook: true only for the app itself.
    pub fn allow(&self, url: &Url) -> bool {
        match self.verdict(url) {
            Verdict::App => true,
            Verdict::SystemBrowser => {
                if let Err(e) = open::that_detached(url.as_str()) {
                    eprintln!("latchkey-desktop: cannot open the system browser: {e}");
                }
                false
            }
            Verdict::Refuse => {
                eprintln!(
                    "latchkey-desktop: refused a navigation away from the console (to {})",
                    url.origin().ascii_serialization()
                );
                false
            }
        }
    }
}

/// The origins the bundled UI is served from: `tauri://localhost` (Linux, macOS),
/// `http(s)://tauri.localhost` (Windows), and the Vite dev server in `tauri dev`.
fn is_app_url(url: &Url) -> bool {
    match (url.scheme(), url.host_str()) {
        ("tauri", Some("localhost")) => true,
        ("http" | "https", Some("tauri.localhost")) => url.port().is_none(),
        #[cfg(dev)]
        ("http", Some("localhost")) => url.port() == Some(5173),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(p: &Policy, u: &str) -> Verdict {
        p.verdict(&Url::parse(u).unwrap())
    }

    #[test]
    fn only_the_bundled_app_loads_in_the_webview() {
        let p = Policy::new("http://127.0.0.1:9280".into());
        assert_eq!(v(&p, "tauri://localhost/index.html"), Verdict::App);
        assert_eq!(v(&p, "tauri://localhost/"), Verdict::App);
        assert_eq!(v(&p, "https://evil.example/"), Verdict::Refuse);
        assert_eq!(v(&p, "tauri://evil/"), Verdict::Refuse);
        assert_eq!(v(&p, "file:///etc/passwd"), Verdict::Refuse);
        assert_eq!(
            v(&p, "http://tauri.localhost.evil.example/"),
            Verdict::Refuse
        );
        assert_eq!(v(&p, "javascript:alert(1)"), Verdict::Refuse);
    }

    #[test]
    fn the_connected_servers_pages_open_in_the_system_browser_and_no_others() {
        let p = Policy::new("http://127.0.0.1:9280".into());
        assert_eq!(
            v(&p, "http://127.0.0.1:9280/.well-known/openid-configuration"),
            Verdict::SystemBrowser
        );
        assert_eq!(v(&p, "http://127.0.0.1:9281/"), Verdict::Refuse);
        assert_eq!(v(&p, "https://127.0.0.1:9280/"), Verdict::Refuse);
        assert_eq!(v(&p, "http://localhost:9280/"), Verdict::Refuse);
    }

    #[test]
    fn after_a_switch_only_the_new_servers_pages_leave_for_the_browser() {
        let p = Policy::new("http://127.0.0.1:9280".into());
        let window_copy = p.clone();
        p.set_issuer("https://id.example.com");
        assert_eq!(
            v(&window_copy, "https://id.example.com/login"),
            Verdict::SystemBrowser
        );
        assert_eq!(v(&window_copy, "http://127.0.0.1:9280/"), Verdict::Refuse);
    }
}
