//! The navigation lock: the console's webview only ever shows the bundled UI. A
//! navigation anywhere else is refused; one to the connected server's own pages (its
//! sign-in page, discovery document) is opened in the system browser instead, and
//! anything else is dropped. So a script injected into the UI can neither load a remote
//! page into the privileged webview nor use the console to open arbitrary sites.

use tauri::Url;

#[derive(Debug, Clone)]
pub struct Policy {
    /// `scheme://host:port` of the connected server.
    external_origin: String,
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
        let external_origin = Url::parse(&issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        Policy { external_origin }
    }

    pub fn verdict(&self, url: &Url) -> Verdict {
        if is_app_url(url) {
            Verdict::App
        } else if matches!(url.scheme(), "http" | "https")
            && !self.external_origin.is_empty()
            && url.origin().ascii_serialization() == self.external_origin
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
}
