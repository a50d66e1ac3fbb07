use super::*;

pub fn validate_client_name(name: &str) -> ManageResult<()> {
    if name.trim().is_empty() {
        return Err(ManageError::invalid("client name must not be empty"));
    }
    if name.chars().count() > CLIENT_NAME_MAX {
        return Err(ManageError::invalid(format!(
            "client name must be at most {CLIENT_NAME_MAX} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ManageError::invalid(
            "client name must not contain control characters",
        ));
    }
    Ok(())
}

/// Parameters an authorization server adds to the redirect; a registered URI that
/// already carries one would let the response be confused or overridden
/// (RFC 6749 §4.1.2, RFC 9207 §2, RFC 9700 §4.1).
const OAUTH_RESPONSE_PARAMS: &[&str] = &[
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// Bound on a client's web origins.
pub const MAX_ORIGINS: usize = 20;

/// A web origin a browser app may call from (RFC 6454 §6.2, as browsers send it in
/// `Origin`): `https://host[:port]`, or `http://` on a loopback host; nothing after the
/// port, no wildcard (CORS answers exactly the origin it allows).
pub fn validate_origin(origin: &str) -> ManageResult<()> {
    let bad = |why: &str| {
        Err(ManageError::invalid(format!(
            "web origin \"{}\" {why}",
            shown(origin)
        )))
    };
    let Some(serialized) = crate::model::web_origin(origin) else {
        return bad("is not an http(s) origin such as https://app.example");
    };
    if serialized != origin {
        return bad(&format!(
            "must be written as the browser sends it: {serialized} (no path, no default port, lower case)"
        ));
    }
    let loopback = url::Url::parse(origin).ok().is_some_and(|u| {
        matches!(
            u.host_str(),
            Some("127.0.0.1") | Some("[::1]") | Some("localhost")
        )
    });
    if origin.starts_with("http://") && !loopback {
        return bad("must use https (http only on a loopback host)");
    }
    Ok(())
}

/// Schemes that execute or read locally instead of navigating to an application.
const DANGEROUS_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "about", "blob"];

/// A redirect URI a client may register:
///
/// * absolute, without a fragment (RFC 6749 §3.1.2), without user info, no wildcards
///   (matching is exact, RFC 9700 §4.1.3);
/// * `https`, or `http` only on the loopback IP literals `127.0.0.1` / `[::1]`
///   (RFC 8252 §7.3; `localhost` is refused, §8.3), or a private-use scheme in
///   reverse-domain form such as `com.example.app:/callback` (RFC 8252 §7.1);
/// * no `javascript:`, `data:`, `file:`; no OAuth response parameters in the query.
pub fn validate_redirect_uri(uri: &str) -> ManageResult<()> {
    let bad = |why: &str| {
        Err(ManageError::invalid(format!(
            "redirect URI \"{}\" {why}",
            shown(uri)
        )))
    };
    if uri.is_empty() {
        return Err(ManageError::invalid("redirect URI must not be empty"));
    }
    if uri.len() > REDIRECT_URI_MAX {
        return bad(&format!("is longer than {REDIRECT_URI_MAX} bytes"));
    }
    // Matching is by exact string; the URL parser would silently trim or re-encode
    // these, so the registered and the presented strings could differ.
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain whitespace or control characters");
    }
    if uri.contains('#') {
        return bad("must not contain a fragment (RFC 6749 §3.1.2)");
    }
    let url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return bad("is not an absolute URI (RFC 6749 §3.1.2)"),
    };
    let scheme = url.scheme();
    if DANGEROUS_SCHEMES.contains(&scheme) {
        return bad(&format!(
            "uses the {scheme}: scheme, which is never allowed"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not contain user information");
    }
    match scheme {
        "https" => match url.host_str() {
            None | Some("") => return bad("has no host"),
            Some(h) if h.contains('*') => {
                return bad("must not contain wildcards (redirect URIs match exactly)")
            }
            Some(_) => {}
        },
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) if ip == std::net::Ipv4Addr::LOCALHOST => {}
            Some(url::Host::Ipv6(ip)) if ip == std::net::Ipv6Addr::LOCALHOST => {}
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                return bad(
                    "uses http://localhost; use http://127.0.0.1 or http://[::1] instead \
                     (RFC 8252 §8.3)",
                )
            }
            _ => {
                return bad(
                    "uses http on a non-loopback host; use https, or http only on \
                     127.0.0.1 or [::1] (RFC 8252 §7.3)",
                )
            }
        },
        other => {
            // RFC 8252 §7.1: private-use schemes for native apps, in reverse domain
            // name notation so they are unlikely to collide with another app's.
            if !other.contains('.') {
                return bad(
                    "uses a custom scheme without a dot; native apps must use a \
                     reverse-domain scheme such as com.example.app:/callback (RFC 8252 §7.1)",
                );
            }
            if !url.path().starts_with('/') {
                return bad("must have a path after the scheme, as in com.example.app:/callback");
            }
        }
    }
    if let Some((k, _)) = url
        .query_pairs()
        .find(|(k, _)| OAUTH_RESPONSE_PARAMS.contains(&k.as_ref()))
    {
        return bad(&format!(
            "must not carry the OAuth response parameter \"{}\" in its query",
            shown(&k)
        ));
    }
    Ok(())
}

/// A JWK Set of public keys for `private_key_jwt` (RFC 7517 §5, RFC 7523 §2.2): an
/// object with a non-empty `keys` array; each key of a type we verify with; no private
/// or symmetric key material (a client must never send us its private key).
pub fn validate_jwks(jwks: &str) -> ManageResult<()> {
    if jwks.len() > JWKS_MAX {
        return Err(ManageError::invalid(format!(
            "jwks must be at most {JWKS_MAX} bytes"
        )));
    }
    let v: Value =
        serde_json::from_str(jwks).map_err(|_| ManageError::invalid("jwks is not valid JSON"))?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| ManageError::invalid("jwks must be a JSON object with a \"keys\" array"))?;
    if keys.is_empty() {
        return Err(ManageError::invalid("jwks must contain at least one key"));
    }
    for (i, k) in keys.iter().enumerate() {
        let obj = k
            .as_object()
            .ok_or_else(|| ManageError::invalid(format!("jwks key #{i} is not an object")))?;
        // Private parts of RSA/EC/OKP keys and the value of symmetric keys.
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if obj.contains_key(private) {
                return Err(ManageError::invalid(format!(
                    "jwks key #{i} contains private key material (\"{private}\"); \
                     register the public key only"
                )));
            }
        }
        if crate::jwt::jwk_alg(k).is_none() {
            return Err(ManageError::invalid(format!(
                "jwks key #{i} is not an RSA, P-256 or Ed25519 public key usable with \
                 RS256, ES256 or EdDSA"
            )));
        }
    }
    Ok(())
}

fn validate_ttls(c: &Client) -> ManageResult<()> {
    if !(1..=MAX_ACCESS_TOKEN_TTL).contains(&c.access_token_ttl) {
        return Err(ManageError::invalid(format!(
            "access_token_ttl must be between 1 and {MAX_ACCESS_TOKEN_TTL} seconds"
        )));
    }
    if !(MIN_REFRESH_TTL..=MAX_REFRESH_TOKEN_TTL).contains(&c.refresh_token_ttl) {
        return Err(ManageError::invalid(format!(
            "refresh_token_ttl must be between {MIN_REFRESH_TTL} and {MAX_REFRESH_TOKEN_TTL} seconds"
        )));
    }
    if !(MIN_REFRESH_TTL..=c.refresh_token_ttl).contains(&c.refresh_idle_ttl) {
        return Err(ManageError::invalid(format!(
            "refresh_idle_ttl must be between {MIN_REFRESH_TTL} seconds and refresh_token_ttl"
        )));
    }
    if !(0..=MAX_REFRESH_GRACE_SECS).contains(&c.refresh_grace_secs) {
        return Err(ManageError::invalid(format!(
            "refresh_grace_secs must be between 0 and {MAX_REFRESH_GRACE_SECS}"
        )));
    }
    Ok(())
}

/// A client's JWK Set URL: absolute `https://` (plain `http://` only on a loopback
/// address, for local development), no credentials, no fragment. Where it may point
/// is checked again at fetch time, against the address it resolves to.
pub fn validate_jwks_uri(uri: &str) -> ManageResult<()> {
    if uri.len() > REDIRECT_URI_MAX {
        return Err(ManageError::invalid("jwks_uri is too long"));
    }
    let u = url::Url::parse(uri)
        .map_err(|_| ManageError::invalid("jwks_uri must be an absolute URL"))?;
    if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(ManageError::invalid(
            "jwks_uri must not carry a fragment or credentials",
        ));
    }
    let loopback = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    match u.scheme() {
        "https" if u.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(ManageError::invalid(
            "jwks_uri must be an https:// URL (http:// only on a loopback address)",
        )),
    }
}

/// Every rule a client must satisfy that needs nothing but the client itself (scope
/// existence is checked against the store separately).
pub fn validate_client(c: &Client) -> ManageResult<()> {
    validate_client_name(&c.name)?;
    if c.grant_types.is_empty() {
        return Err(ManageError::invalid(
            "a client needs at least one grant type",
        ));
    }
    let has = |g| c.grant_types.contains(&g);
    match c.client_type {
        ClientType::Public => {
            // RFC 6749 §2.1: a public client cannot keep a credential, so it cannot
            // authenticate, and client_credentials would be anyone's token.
            if c.auth_method != AuthMethod::None {
                return Err(ManageError::invalid(
                    "public clients cannot authenticate; their auth method must be \"none\"",
                ));
            }
            if has(GrantType::ClientCredentials) {
                return Err(ManageError::invalid(
                    "public clients may not use the client_credentials grant",
                ));
            }
        }
        ClientType::Confidential => {
            if c.auth_method == AuthMethod::None {
                return Err(ManageError::invalid(
                    "confidential clients must authenticate; use client_secret_basic, \
                     client_secret_post or private_key_jwt",
                ));
            }
        }
    }
    if has(GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(ManageError::invalid(
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if has(GrantType::RefreshToken)
        && !has(GrantType::AuthorizationCode)
        && !has(GrantType::DeviceCode)
    {
        return Err(ManageError::invalid(
            "the refresh_token grant is only allowed together with authorization_code \
             or the device_code grant",
        ));
    }
    match (&c.jwks, &c.jwks_uri, c.auth_method) {
        (Some(_), Some(_), _) => {
            // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
            return Err(ManageError::invalid(
                "give the client's keys either inline (jwks) or by URL (jwks_uri), not both",
            ));
        }
        (None, None, AuthMethod::PrivateKeyJwt) => {
            return Err(ManageError::invalid(
                "private_key_jwt needs the client's public keys: a JWK Set (jwks) or its URL (jwks_uri)",
            ))
        }
        (Some(j), None, AuthMethod::PrivateKeyJwt) => validate_jwks(j)?,
        (None, Some(u), AuthMethod::PrivateKeyJwt) => validate_jwks_uri(u)?,
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err(ManageError::invalid(
                "jwks and jwks_uri are only used with the private_key_jwt auth method",
            ))
        }
        (None, None, _) => {}
    }
    for u in &c.redirect_uris {
        validate_redirect_uri(u)?;
    }
    if let Some(origins) = &c.allowed_origins {
        if origins.len() > MAX_ORIGINS {
            return Err(ManageError::invalid(format!(
                "a client may name at most {MAX_ORIGINS} web origins"
            )));
        }
        for o in origins {
            validate_origin(o)?;
        }
    }
    for u in &c.post_logout_redirect_uris {
        validate_redirect_uri(u).map_err(|e| {
            ManageError::invalid(format!("post-logout {}", e.to_string().trim_start()))
        })?;
    }
    for s in &c.allowed_scopes {
        if !is_valid_scope_token(s) {
            return Err(ManageError::invalid(format!(
                "\"{}\" is not a valid scope name (RFC 6749 §3.3)",
                shown(s)
            )));
        }
        if is_admin_scope(s) && !c.may_request_admin_scopes() {
            return Err(ManageError::invalid(format!(
                "\"{s}\" is reserved to {CONSOLE_CLIENT_ID} and to clients marked as admin \
                 tools (admin_tool); an application holding it would hold administrator power"
            )));
        }
    }
    validate_ttls(c)
}

pub fn validate_scope(s: &NewScope) -> ManageResult<()> {
    if !is_valid_scope_token(&s.name) {
        return Err(ManageError::invalid(format!(
            "\"{}\" is not a valid scope name: 1 to 128 printable ASCII characters \
             without spaces, quotes or backslashes (RFC 6749 §3.3)",
            shown(&s.name)
        )));
    }
    if s.description.chars().count() > SCOPE_DESCRIPTION_MAX {
        return Err(ManageError::invalid(format!(
            "scope description must be at most {SCOPE_DESCRIPTION_MAX} characters"
        )));
    }
    if s.description.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ManageError::invalid(
            "scope description must not contain control characters",
        ));
    }
    for c in &s.claims {
        let ok = !c.is_empty()
            && c.len() <= 64
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if !ok {
            return Err(ManageError::invalid(format!(
                "\"{}\" is not a valid claim name",
                shown(c)
            )));
        }
    }
    Ok(())
}

pub fn validate_username(u: &str) -> ManageResult<()> {
    let ok = !u.is_empty()
        && u.len() <= USERNAME_MAX
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ManageError::invalid(format!(
            "username must be 1 to {USERNAME_MAX} characters from A-Z a-z 0-9 . _ @ -"
        )))
    }
}

pub fn validate_password(p: &str) -> ManageResult<()> {
    // Never echo the password, not even its length.
    let n = p.chars().count();
    if n < PASSWORD_MIN {
        return Err(ManageError::invalid(format!(
            "password must be at least {PASSWORD_MIN} characters"
        )));
    }
    if n > PASSWORD_MAX {
        return Err(ManageError::invalid(format!(
            "password must be at most {PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

pub fn validate_email(e: &str) -> ManageResult<()> {
    // Deliberately loose (the only real check is a mail being delivered): one `@` with
    // something on both sides, no spaces, a sane length.
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(ManageError::invalid(format!(
            "\"{}\" is not an email address",
            shown(e)
        )))
    }
}

/// The rules of the runtime settings. Only rules that involve a setting in `changed`
/// are checked, so a questionable configured default never blocks an unrelated edit.
/// `longest_client_ttl`: the longest access-token lifetime of a registered client.
pub fn validate_settings(
    s: &ServerSettings,
    changed: &BTreeSet<&str>,
    jwks_max_age: i64,
    longest_client_ttl: i64,
) -> ManageResult<()> {
    let touched = |names: &[&str]| names.iter().any(|n| changed.contains(n));
    for f in FIELDS.iter().filter(|f| changed.contains(f.name)) {
        let v = f.get(s);
        if !(f.min..=f.max).contains(&v) {
            let unit = if f.name.ends_with("_max_failures") {
                "failures"
            } else {
                "seconds"
            };
            return Err(ManageError::invalid(format!(
                "{} must be between {} and {} {unit}",
                f.name, f.min, f.max
            )));
        }
    }
    if touched(&["refresh_idle_ttl", "refresh_token_ttl"])
        && s.refresh_idle_ttl > s.refresh_token_ttl
    {
        return Err(ManageError::invalid(format!(
            "refresh_idle_ttl ({} s) must not exceed refresh_token_ttl ({} s)",
            s.refresh_idle_ttl, s.refresh_token_ttl
        )));
    }
    // A key must be in every relying party's cached JWKS before it signs.
    if touched(&["prepublish"]) && s.prepublish < jwks_max_age {
        return Err(ManageError::invalid(format!(
            "prepublish ({} s) must be at least the JWKS max-age ({jwks_max_age} s), so \
             relying parties have fetched a key before it signs",
            s.prepublish
        )));
    }
    if touched(&["rotate_every", "prepublish"]) && s.rotate_every < s.prepublish {
        return Err(ManageError::invalid(format!(
            "rotate_every ({} s) must be at least prepublish ({} s)",
            s.rotate_every, s.prepublish
        )));
    }
    // A retiring key stays published until every token it signed has expired and
    // every cached copy of the JWKS without it could be stale (OIDC Core §10.1.1).
    if touched(&["retire_after", "access_token_ttl", "id_token_ttl"]) {
        let longest = s
            .access_token_ttl
            .max(s.id_token_ttl)
            .max(longest_client_ttl);
        if s.retire_after < longest + jwks_max_age {
            return Err(ManageError::invalid(format!(
                "retire_after ({} s) must be at least the longest token lifetime ({longest} s, \
                 access or ID token, registered clients included) plus the JWKS max-age \
                 ({jwks_max_age} s)",
                s.retire_after
            )));
        }
    }
    Ok(())
}
