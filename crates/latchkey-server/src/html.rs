//! Server-rendered pages: plain HTML forms, labelled controls, no script, one
//! same-origin stylesheet. Every value from outside goes through [`esc`].

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub const STYLE: &str = r#"
:root{color-scheme:light dark;--accent:#3b5bdb;--fg:#1d2127;--bg:#f6f7f9;--card:#fff;--muted:#5c6470;--danger:#c92a2a}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--bg:#15171a;--card:#1e2125;--muted:#a1a8b3;--accent:#748ffc}}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:26rem;margin:8vh auto;padding:1.5rem 1.75rem;background:var(--card);border-radius:10px;box-shadow:0 1px 3px #0002}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem .6rem;font:inherit;border:1px solid var(--muted);border-radius:6px;background:transparent;color:inherit}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;margin-top:1rem}
button.secondary{background:transparent;color:var(--accent)}button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:var(--danger);font-weight:600}.muted{color:var(--muted)}code{font-family:ui-monospace,monospace}ul{padding-left:1.2rem}
.row{display:flex;gap:.75rem}
"#;

pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{t} · Latchkey</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\
<body><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    )
}

pub fn error_page(message: &str) -> String {
    page(
        "Request refused",
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p><p class=\"muted\">You can close this window.</p>",
            esc(message)
        ),
    )
}

pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

pub fn login_page(hidden_fields: &str, error: Option<&str>, username: &str) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "{err}<form method=\"post\" action=\"/login\">{hidden_fields}\
<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required value=\"{u}\" autofocus>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Sign in</button></form>",
            u = esc(username)
        ),
    )
}

/// After a correct password, when the administrator required a change: the new
/// password twice. Nothing typed before is echoed back.
pub fn password_change_page(hidden_fields: &str, error: Option<&str>, username: &str) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Choose a new password",
        &format!(
            "<p>Your administrator asks you, <strong>{u}</strong>, to choose a new password \
before you continue. It must differ from the one you just used.</p>{err}\
<form method=\"post\" action=\"/login/password\">{hidden_fields}\
<input type=\"text\" name=\"username\" value=\"{u}\" autocomplete=\"username\" hidden>\
<label for=\"new_password\">New password (at least 8 characters)</label>\
<input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\" autofocus>\
<label for=\"repeat_password\">The new password again</label>\
<input id=\"repeat_password\" name=\"repeat_password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\">\
<button type=\"submit\">Change password and continue</button></form>",
            u = esc(username)
        ),
    )
}

/// A sentence on the decision page: a plain note, or a warning (shown as an alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Note(String),
    Warning(String),
}

/// The consent, approval (or device confirmation) page: who asks, for what, what it
/// means, approve or deny.
pub fn decision_page(
    title: &str,
    action: &str,
    client_name: &str,
    scopes: &[(String, String)],
    notices: &[Notice],
    hidden_fields: &str,
    username: &str,
) -> String {
    let notices: String = notices
        .iter()
        .map(|n| match n {
            Notice::Note(t) => format!("<p>{}</p>", esc(t)),
            Notice::Warning(t) => format!("<p class=\"error\" role=\"alert\">{}</p>", esc(t)),
        })
        .collect();
    let items: String = scopes
        .iter()
        .map(|(n, d)| {
            format!(
                "<li><code>{}</code>{}</li>",
                esc(n),
                if d.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", esc(d))
                }
            )
        })
        .collect();
    page(
        title,
        &format!(
            "<p><strong>{c}</strong> asks to access your account <strong>{u}</strong>:</p>\
<ul>{items}</ul>{notices}\
<form method=\"post\" action=\"{a}\">{hidden_fields}\
<div class=\"row\"><button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></div></form>",
            c = esc(client_name),
            u = esc(username),
            a = esc(action)
        ),
    )
}

pub fn device_entry_page(hidden_fields: &str, user_code: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Connect a device",
        &format!(
            "{err}<p>Enter the code shown on your device.</p>\
<form method=\"post\" action=\"/device\">{hidden_fields}\
<label for=\"user_code\">Code</label>\
<input id=\"user_code\" name=\"user_code\" type=\"text\" autocomplete=\"off\" autocapitalize=\"characters\" required value=\"{c}\" autofocus>\
<button type=\"submit\">Continue</button></form>",
            c = esc(user_code)
        ),
    )
}

pub fn message_page(title: &str, message: &str) -> String {
    page(title, &format!("<p>{}</p>", esc(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_user_input_is_escaped() {
        assert_eq!(
            esc("<script>\"x\"&'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;"
        );
        assert!(!error_page("<img src=x>").contains("<img"));
    }
}
