//! Token inspection: take a token apart, explain every claim, and say — check by
//! check — whether it would be accepted and why not, in ONE verdict that combines the
//! offline checks with the server's answer (admin introspection, with its reason).
//! Pure: the caller supplies the JWK Set (fetched from the connected server or from the
//! issuer's discovery), the server's answer if it asked, and the time. Used by
//! `latchkey token inspect` and the console's token page, so both give the same verdict.

use crate::clock::Timestamp;
use crate::jwt::{self, JwtError};
use serde_json::{Map, Value};

// The answer's types are the IPC's (the console shows them as they are), so their
// TypeScript is generated with every other DTO.
pub use latchkey_api_types::shell::{
    ClaimLine, InactiveCode, InactiveReason, Inspection, InspectionCheck as Check,
    InspectionOutcome as Outcome, ServerAnswer, TokenForm,
};

/// A pasted token with what was stripped around it.
#[derive(Clone, PartialEq, Eq)]
pub struct Normalised {
    pub token: String,
    /// What was removed, in words, in the order it was found.
    pub removed: Vec<String>,
}

impl std::fmt::Debug for Normalised {
    // A token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalised")
            .field("token", &"..")
            .field("removed", &self.removed)
            .finish()
    }
}

/// Takes a token out of what people paste: a whole `Authorization: Bearer …` header
/// line, `Bearer …` in any case, the token in quotes (JSON, shell), surrounding
/// whitespace and line breaks inside it (a wrapped terminal).
pub fn normalise(input: &str) -> Normalised {
    let mut removed = Vec::new();
    let mut t = input.trim();
    if t.len() != input.len() {
        removed.push("surrounding whitespace".to_string());
    }
    loop {
        let before = t;
        if let Some(rest) = strip_prefix_ci(t, "authorization:") {
            removed.push("the header name \"Authorization:\"".into());
            t = rest.trim_start();
        }
        if let Some(rest) = strip_prefix_ci(t, "bearer") {
            if rest.starts_with(char::is_whitespace) {
                removed.push("the \"Bearer\" scheme".into());
                t = rest.trim_start();
            }
        }
        for (open, close) in [('"', '"'), ('\'', '\''), ('`', '`')] {
            if t.len() >= 2 && t.starts_with(open) && t.ends_with(close) {
                removed.push("quotes".into());
                t = t[1..t.len() - 1].trim();
            }
        }
        // A trailing comma or semicolon from a copied JSON field or header list.
        if let Some(rest) = t.strip_suffix([',', ';']) {
            removed.push("a trailing separator".into());
            t = rest.trim_end();
        }
        if t == before {
            break;
        }
    }
    let mut token: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if token.len() != t.len() {
        removed.push("whitespace and line breaks inside the token".into());
    }
    // A bare header name with nothing after it leaves nothing to inspect.
    if token.eq_ignore_ascii_case("bearer") {
        token.clear();
    }
    removed.dedup();
    Normalised { token, removed }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The server's answer as the inspector reads it, from an admin introspection
/// (RFC 7662 plus `inactive_reason`).
pub fn server_answer(introspection: &Value) -> ServerAnswer {
    ServerAnswer {
        active: introspection.get("active").and_then(Value::as_bool) == Some(true),
        token_type: introspection
            .get("token_type")
            .and_then(Value::as_str)
            .map(str::to_string),
        inactive_reason: introspection
            .get("inactive_reason")
            .and_then(|r| serde_json::from_value(r.clone()).ok()),
        exchanged_from: introspection
            .get("exchanged_from")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .unwrap_or_default(),
    }
}

/// Plain-words explanation of a registered or OIDC claim.
pub fn claim_meaning(claim: &str) -> &'static str {
    match claim {
        "iss" => "Issuer: the server that created the token",
        "sub" => {
            "Subject: the user (or, with a client: prefix, the application) the token is about"
        }
        "aud" => "Audience: who the token is meant for",
        "exp" => "Expires at: after this the token must be refused",
        "nbf" => "Not before: the token must be refused before this",
        "iat" => "Issued at",
        "jti" => "Token id: unique, used to revoke this one token",
        "client_id" => "The application the token was issued to",
        "scope" => "The permissions granted",
        "sid" => "Session id: revoking the session makes this token inactive",
        "auth_time" => "When the user last entered their password",
        "azp" => "Authorized party: the application the ID token was issued to",
        "nonce" => "Value from the sign-in request, echoed to stop replays",
        "at_hash" => "Hash binding this ID token to its access token",
        "email" => "Email address",
        "email_verified" => "Whether the email address was verified",
        "name" => "Full name",
        "preferred_username" => "Username",
        "updated_at" => "When the profile last changed",
        "cnf" => "Confirmation: the key the token is bound to (DPoP)",
        "act" => "Actor: who acts on the subject's behalf (token exchange)",
        _ => "Custom claim",
    }
}

/// [`claim_meaning`], and for a DPoP binding (RFC 9449 §6.1) which key: the
/// inspector says what a holder needs besides the token.
pub fn claim_line_meaning(claim: &str, value: &Value) -> String {
    match (claim, value.get("jkt").and_then(Value::as_str)) {
        ("cnf", Some(jkt)) => format!(
            "Confirmation: bound to the DPoP key whose RFC 7638 thumbprint is {jkt}; \
             accepted only as Authorization: DPoP with a proof signed by that key, \
             never as a bearer token"
        ),
        _ => claim_meaning(claim).to_string(),
    }
}

fn fmt_relative(secs: i64) -> String {
    let a = secs.abs();
    let s = if a < 90 {
        format!("{a} s")
    } else if a < 90 * 60 {
        format!("{} min", (a + 30) / 60)
    } else if a < 36 * 3600 {
        format!("{} h", (a + 1800) / 3600)
    } else {
        format!("{} days", (a + 43200) / 86400)
    };
    if secs >= 0 {
        format!("in {s}")
    } else {
        format!("{s} ago")
    }
}

/// Inspects `token` offline (no server asked): [`inspect_with`] without an answer.
pub fn inspect(
    token: &str,
    jwks: Option<&Value>,
    issuer: Option<&str>,
    now: Timestamp,
    leeway: i64,
) -> Inspection {
    inspect_with(&normalise(token), jwks, issuer, None, now, leeway)
}

/// Inspects a normalised token. `jwks`: keys to verify against (None: signature not
/// checked). `issuer`: the expected `iss` (None: not checked). `server`: the server's
/// answer about this token (None: not asked). `leeway`: clock skew allowed.
pub fn inspect_with(
    input: &Normalised,
    jwks: Option<&Value>,
    issuer: Option<&str>,
    server: Option<ServerAnswer>,
    now: Timestamp,
    leeway: i64,
) -> Inspection {
    let token = input.token.as_str();
    // Structure only here: a token with a `crit` header or a non-integer time is shown
    // with the reason it is refused (below), not called opaque.
    let parsed = match jwt::parse_structure(token) {
        Ok(p) => p,
        Err(_) => {
            let mut checks = vec![Check {
                name: "format",
                ok: None,
                detail: "not a JWT: an opaque token (e.g. a refresh token) can only be checked by introspection at its issuer".into(),
            }];
            push_server_check(&mut checks, server.as_ref());
            let (outcome, verdict) = decide(TokenForm::Opaque, &checks, false, server.as_ref());
            return Inspection {
                kind: TokenForm::Opaque,
                header: Map::new(),
                claims: Map::new(),
                claim_lines: vec![],
                checks,
                removed: input.removed.clone(),
                valid: is_valid(outcome),
                outcome,
                verdict,
                server,
            };
        }
    };
    let mut checks = Vec::new();
    match jwt::check_profile(&parsed) {
        Err(JwtError::Crit) => checks.push(Check {
            name: "critical headers",
            ok: Some(false),
            detail: "the header has a crit parameter: extensions this server does not implement are refused (RFC 7515 §4.1.11)".into(),
        }),
        Err(_) => checks.push(Check {
            name: "times",
            ok: Some(false),
            detail: "exp, iat or nbf is not an integer number of seconds (RFC 7519 NumericDate); refused".into(),
        }),
        Ok(()) => {}
    }
    let alg = parsed.alg().unwrap_or("").to_string();
    let alg_ok = matches!(alg.as_str(), "RS256" | "ES256" | "EdDSA");
    checks.push(Check {
        name: "algorithm",
        ok: Some(alg_ok),
        detail: if alg_ok {
            format!("{alg} is an accepted asymmetric algorithm")
        } else {
            format!(
                "{alg:?} is refused: only RS256, ES256 and EdDSA are accepted (never none or HMAC)"
            )
        },
    });
    match jwks {
        None => checks.push(Check {
            name: "signature",
            ok: None,
            detail: "no keys available: give --issuer or --jwks-url to verify the signature".into(),
        }),
        Some(keys) => {
            let (ok, detail) = match jwt::verify_with_jwks(&parsed, keys) {
                Ok(k) => (
                    true,
                    format!(
                        "verified with key {}",
                        k.get("kid").and_then(Value::as_str).unwrap_or("(no kid)")
                    ),
                ),
                Err(JwtError::UnknownKey) => (
                    false,
                    format!(
                        "no published key with kid {:?} (retired, revoked, or another issuer's)",
                        parsed.kid().unwrap_or("")
                    ),
                ),
                Err(JwtError::Algorithm) => (
                    false,
                    "the header's algorithm does not match the key's".into(),
                ),
                Err(_) => (
                    false,
                    "the signature does not match: the token was altered or signed by someone else"
                        .into(),
                ),
            };
            checks.push(Check {
                name: "signature",
                ok: Some(ok),
                detail,
            });
        }
    }
    if let Some(expected) = issuer {
        let iss = parsed.str_claim("iss").unwrap_or("");
        checks.push(Check {
            name: "issuer",
            ok: Some(iss == expected),
            detail: if iss == expected {
                format!("iss is {expected}")
            } else {
                format!("iss is {iss:?}, expected {expected:?}")
            },
        });
    }
    match parsed.int_claim("exp") {
        Some(exp) => checks.push(Check {
            name: "expiry",
            ok: Some(exp > now - leeway),
            detail: if exp > now {
                format!("expires {}", fmt_relative(exp - now))
            } else {
                format!("expired {}", fmt_relative(exp - now))
            },
        }),
        None => checks.push(Check {
            name: "expiry",
            ok: Some(false),
            detail: "no exp claim: a token that never expires is refused".into(),
        }),
    }
    if let Some(nbf) = parsed.int_claim("nbf") {
        checks.push(Check {
            name: "not before",
            ok: Some(nbf <= now + leeway),
            detail: format!("valid from {}", fmt_relative(nbf - now)),
        });
    }
    if let Some(iat) = parsed.int_claim("iat") {
        checks.push(Check {
            name: "issued at",
            ok: Some(iat <= now + leeway),
            detail: format!("issued {}", fmt_relative(iat - now)),
        });
    }
    let typ = parsed.typ().unwrap_or("");
    let id_token = match typ {
        "at+jwt" | "application/at+jwt" => false,
        _ => {
            ["nonce", "at_hash", "azp"]
                .iter()
                .any(|c| parsed.claims.contains_key(*c))
                || server
                    .as_ref()
                    .and_then(|s| s.inactive_reason.as_ref())
                    .is_some_and(|r| r.code == InactiveCode::NotIntrospectable)
        }
    };
    checks.push(Check {
        name: "type",
        ok: None,
        detail: match typ {
            "at+jwt" | "application/at+jwt" => "access token (RFC 9068)".into(),
            _ if id_token => "ID token (OpenID Connect): not introspectable".into(),
            other => format!("typ {other:?}"),
        },
    });
    push_server_check(&mut checks, server.as_ref());
    let claim_lines = parsed
        .claims
        .iter()
        .map(|(k, v)| ClaimLine {
            claim: k.clone(),
            value: v.clone(),
            meaning: claim_line_meaning(k, v),
        })
        .collect();
    let (outcome, verdict) = decide(TokenForm::Jwt, &checks, id_token, server.as_ref());
    Inspection {
        kind: TokenForm::Jwt,
        header: parsed.header,
        claims: parsed.claims,
        claim_lines,
        checks,
        removed: input.removed.clone(),
        valid: is_valid(outcome),
        outcome,
        verdict,
        server,
    }
}

fn is_valid(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::Active | Outcome::ValidOffline | Outcome::NotIntrospectable
    )
}

/// The server's answer as one more line of the checklist.
fn push_server_check(checks: &mut Vec<Check>, server: Option<&ServerAnswer>) {
    let Some(s) = server else {
        checks.push(Check {
            name: "server",
            ok: None,
            detail: "not asked: revocation (session, client, user, key, this token) is unknown"
                .into(),
        });
        return;
    };
    let (ok, detail) = match (&s.inactive_reason, s.active) {
        (_, true) => (Some(true), "the server answers active".to_string()),
        (Some(r), false) if r.code == InactiveCode::NotIntrospectable => (None, r.detail.clone()),
        (Some(r), false) => (Some(false), format!("inactive: {}", reason_words(r))),
        (None, false) => (Some(false), "the server answers inactive".to_string()),
    };
    checks.push(Check {
        name: "server",
        ok,
        detail,
    });
}

/// A reason with its when and who: "its client c1 is disabled (since 2026-12-07 15:02:11
/// UTC, by local-admin)".
pub fn reason_words(r: &InactiveReason) -> String {
    let when = r.at.map(utc);
    match (when, &r.by) {
        (Some(w), Some(b)) => format!("{} ({w}, by {b})", r.detail),
        (Some(w), None) => format!("{} ({w})", r.detail),
        (None, Some(b)) => format!("{} (by {b})", r.detail),
        (None, None) => r.detail.clone(),
    }
}

/// `t` as `YYYY-MM-DD hh:mm:ss UTC` (the proleptic Gregorian calendar, no time crate).
pub fn utc(t: Timestamp) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The one verdict: a failed offline check or the server's "inactive" rejects (the
/// server's reason first: it knows about revocation); an active answer with every
/// offline check passing accepts; an ID token is not introspectable (neutral).
fn decide(
    kind: TokenForm,
    checks: &[Check],
    id_token: bool,
    server: Option<&ServerAnswer>,
) -> (Outcome, String) {
    let failed = checks
        .iter()
        .find(|c| c.ok == Some(false) && c.name != "server");
    // The server's "inactive", unless it only says the token is not introspectable.
    let inactive = server.filter(|s| {
        !s.active
            && !s
                .inactive_reason
                .as_ref()
                .is_some_and(|r| r.code == InactiveCode::NotIntrospectable)
    });
    let active = server.is_some_and(|s| s.active);
    let signature_checked = checks
        .iter()
        .any(|c| c.name == "signature" && c.ok == Some(true));
    // The server knows why (revoked, disabled, …): more than an offline check can say.
    if let Some(s) = inactive {
        return (
            Outcome::Rejected,
            match &s.inactive_reason {
                Some(r) => format!("Rejected: {}.", reason_words(r)),
                None => "Rejected: the server answers inactive.".into(),
            },
        );
    }
    if let Some(c) = failed {
        return (
            Outcome::Rejected,
            format!("Rejected: {} — {}.", c.name, c.detail),
        );
    }
    match kind {
        TokenForm::Opaque if active => (
            Outcome::Active,
            format!(
                "Active: the server answers active ({}).",
                match server.and_then(|s| s.token_type.as_deref()) {
                    Some("refresh_token") => "a refresh token",
                    _ => "an opaque token",
                }
            ),
        ),
        TokenForm::Opaque => (
            Outcome::Undetermined,
            "Opaque token: only its issuer can say whether it is active (introspection); no server was asked."
                .into(),
        ),
        TokenForm::Jwt if !signature_checked => (
            Outcome::Undetermined,
            if id_token {
                "ID token, not verified: the signature was not checked (no keys). ID tokens are not introspectable."
            } else {
                "Not verified: the signature was not checked (no keys)."
            }
            .into(),
        ),
        TokenForm::Jwt if id_token => (
            Outcome::NotIntrospectable,
            "ID token: signature, issuer and lifetime check out. ID tokens are not introspectable, so the server has nothing to add."
                .into(),
        ),
        TokenForm::Jwt if active => (
            Outcome::Active,
            "Valid: signature, issuer and lifetime check out, and the server answers active.".into(),
        ),
        TokenForm::Jwt => (
            Outcome::ValidOffline,
            "Valid offline: signature, issuer and lifetime check out; revocation was not checked (no server asked)."
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dpop_binding_is_explained_with_the_key_it_names() {
        let m = super::claim_line_meaning("cnf", &serde_json::json!({"jkt": "abc-123"}));
        assert!(m.contains("abc-123") && m.contains("DPoP"), "{m}");
        assert_eq!(
            super::claim_line_meaning("cnf", &serde_json::json!({"x5t#S256": "z"})),
            super::claim_meaning("cnf")
        );
    }

    use super::*;
    use crate::crypto::Kek;
    use crate::keys::{load, new_signing_key};
    use crate::model::{Alg, KeyState};
    use serde_json::json;
    /// Failures surface as errors (`?`), not as panics on `unwrap`.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn signed(claims: Value) -> (String, Value) {
        let kek = Kek::generate();
        let k = new_signing_key(Alg::ES256, KeyState::Active, &kek, 0).unwrap();
        let jwk: Value = serde_json::from_str(&k.public_jwk).unwrap();
        let t = jwt::sign(&load(&k, &kek).unwrap(), Some("at+jwt"), &claims).unwrap();
        (t, json!({"keys": [jwk]}))
    }

    #[test]
    fn a_good_token_is_valid_and_every_claim_is_explained() {
        let (t, jwks) = signed(json!({"iss":"https://as.test","sub":"u","exp":1300,"iat":1000}));
        let i = inspect(&t, Some(&jwks), Some("https://as.test"), 1060, 0);
        assert!(i.valid, "{}", i.verdict);
        assert!(i
            .checks
            .iter()
            .any(|c| c.name == "expiry" && c.detail == "expires in 4 min"));
        assert_eq!(i.claim_lines.len(), 4);
        assert!(i.claim_lines.iter().all(|l| !l.meaning.is_empty()));
    }

    #[test]
    fn an_expired_token_is_rejected_with_the_reason() {
        let (t, jwks) = signed(json!({"iss":"https://as.test","exp":1000}));
        let i = inspect(&t, Some(&jwks), None, 2000, 0);
        assert!(!i.valid);
        assert!(i.verdict.contains("expiry"), "{}", i.verdict);
    }

    #[test]
    fn a_foreign_signature_or_wrong_issuer_is_rejected() {
        let (t, _) = signed(json!({"iss":"https://as.test","exp":5000}));
        let (_, other_keys) = signed(json!({}));
        let i = inspect(&t, Some(&other_keys), None, 1000, 0);
        assert!(!i.valid);
        let (t, jwks) = signed(json!({"iss":"https://evil.test","exp":5000}));
        let i = inspect(&t, Some(&jwks), Some("https://as.test"), 1000, 0);
        assert!(i.verdict.contains("issuer"));
    }

    #[test]
    fn opaque_tokens_are_recognised_as_such() {
        let i = inspect("abc123", None, None, 0, 0);
        assert_eq!(i.kind, TokenForm::Opaque);
        assert!(!i.valid);
        assert_eq!(i.outcome, Outcome::Undetermined);
    }

    #[test]
    fn the_server_answer_carries_the_exchange_lineage_nearest_first() {
        let a = server_answer(&serde_json::json!({
            "active": true,
            "token_type": "Bearer",
            "exchanged_from": [
                {"jti": "child", "parent_jti": "parent", "policy_id": "p1",
                 "requester_client_id": "orders", "subject_client_id": "web",
                 "issued_token_type": "access_token", "issued_at": 10},
                {"jti": "parent", "parent_jti": null, "policy_id": "p0",
                 "requester_client_id": "web", "subject_client_id": "web",
                 "issued_token_type": "access_token", "issued_at": 5}
            ]
        }));
        let parents: Vec<_> = a
            .exchanged_from
            .iter()
            .map(|s| s.parent_jti.as_deref())
            .collect();
        assert_eq!(parents, vec![Some("parent"), None]);
        assert!(server_answer(&serde_json::json!({"active": true}))
            .exchanged_from
            .is_empty());
    }

    fn answer(active: bool, reason: Option<(InactiveCode, &str)>) -> ServerAnswer {
        ServerAnswer {
            active,
            token_type: active.then(|| "Bearer".to_string()),
            inactive_reason: reason.map(|(code, detail)| InactiveReason {
                code,
                detail: detail.into(),
                at: Some(1_765_119_600),
                by: Some("local-admin".into()),
            }),
            exchanged_from: Vec::new(),
        }
    }

    #[test]
    fn a_header_line_a_bearer_prefix_quotes_and_line_breaks_are_removed_and_reported() {
        let (t, _) = signed(json!({"iss":"https://as.test","exp":5000}));
        let wrapped = format!("{}\n  {}", &t[..20], &t[20..]);
        for pasted in [
            format!("Authorization: Bearer {t}"),
            format!("authorization:bearer {t}"),
            format!("  BEARER   {t}\n"),
            format!("\"{t}\""),
            format!("'Bearer {t}',"),
            format!("Bearer {wrapped}"),
        ] {
            let n = normalise(&pasted);
            assert_eq!(n.token, t, "from {pasted:?}");
            assert!(!n.removed.is_empty(), "{pasted:?} says what it removed");
        }
        let n = normalise(&format!("Authorization: Bearer {t}"));
        assert_eq!(
            n.removed,
            [
                "the header name \"Authorization:\"",
                "the \"Bearer\" scheme"
            ]
        );
        assert!(normalise(&t).removed.is_empty());
        assert_eq!(normalise("Bearer").token, "");
        assert!(
            !format!("{n:?}").contains(&t[..20]),
            "Debug never prints the token"
        );
    }

    #[test]
    fn a_pasted_authorization_header_is_inspected_as_the_jwt_inside_it() {
        let (t, jwks) = signed(json!({"iss":"https://as.test","sub":"u","exp":1300,"iat":1000}));
        let i = inspect(
            &format!("Authorization: Bearer {t}"),
            Some(&jwks),
            None,
            1060,
            0,
        );
        assert_eq!(i.kind, TokenForm::Jwt);
        assert_eq!(i.outcome, Outcome::ValidOffline);
        assert_eq!(i.removed.len(), 2);
    }

    #[test]
    fn a_token_that_checks_out_offline_is_rejected_when_the_server_says_why_it_is_inactive() {
        let (t, jwks) = signed(json!({"iss":"https://as.test","sub":"u","exp":1300,"iat":1000}));
        for code in [
            InactiveCode::Revoked,
            InactiveCode::SessionRevoked,
            InactiveCode::ClientDisabled,
            InactiveCode::UserDisabled,
            InactiveCode::KeyRevoked,
        ] {
            let i = inspect_with(
                &normalise(&t),
                Some(&jwks),
                Some("https://as.test"),
                Some(answer(false, Some((code, "its client c1 is disabled")))),
                1060,
                0,
            );
            assert_eq!(i.outcome, Outcome::Rejected, "{code:?}");
            assert!(!i.valid);
            assert!(
                i.verdict.starts_with(
                    "Rejected: its client c1 is disabled (2025-12-07 15:00:00 UTC, by local-admin)"
                ),
                "{}",
                i.verdict
            );
            assert!(i
                .checks
                .iter()
                .any(|c| c.name == "server" && c.ok == Some(false)));
        }
        // A bare inactive (an older server) still rejects.
        let i = inspect_with(
            &normalise(&t),
            Some(&jwks),
            None,
            Some(answer(false, None)),
            1060,
            0,
        );
        assert_eq!(i.outcome, Outcome::Rejected);
        let i = inspect_with(
            &normalise(&t),
            Some(&jwks),
            None,
            Some(answer(true, None)),
            1060,
            0,
        );
        assert_eq!(i.outcome, Outcome::Active);
        assert!(i.valid && i.verdict.starts_with("Valid"), "{}", i.verdict);
    }

    #[test]
    fn an_offline_failure_rejects_even_when_the_server_answers_active() {
        let (t, jwks) = signed(json!({"iss":"https://evil.test","exp":1300,"iat":1000}));
        let i = inspect_with(
            &normalise(&t),
            Some(&jwks),
            Some("https://as.test"),
            Some(answer(true, None)),
            1060,
            0,
        );
        assert_eq!(i.outcome, Outcome::Rejected);
        assert!(i.verdict.contains("issuer"), "{}", i.verdict);
    }

    #[test]
    fn an_id_token_is_not_introspectable_never_inactive() -> TestResult {
        let kek = Kek::generate();
        let k = new_signing_key(Alg::RS256, KeyState::Active, &kek, 0)?;
        let jwks = json!({"keys": [serde_json::from_str::<Value>(&k.public_jwk)?]});
        let t = jwt::sign(
            &load(&k, &kek)?,
            Some("JWT"),
            &json!({"iss":"https://as.test","sub":"u","aud":"c1","exp":1300,"iat":1000,"nonce":"n"}),
        )?;
        let server = answer(
            false,
            Some((InactiveCode::NotIntrospectable, "not an access token")),
        );
        let i = inspect_with(
            &normalise(&t),
            Some(&jwks),
            Some("https://as.test"),
            Some(server),
            1060,
            0,
        );
        assert_eq!(i.outcome, Outcome::NotIntrospectable, "{}", i.verdict);
        assert!(i.valid);
        assert!(i.verdict.starts_with("ID token"), "{}", i.verdict);
        assert!(
            i.checks.iter().all(|c| c.ok != Some(false)),
            "no red line: {:?}",
            i.checks
        );
        // Expired, it is rejected like any token.
        let i = inspect_with(&normalise(&t), Some(&jwks), None, None, 5000, 0);
        assert_eq!(i.outcome, Outcome::Rejected);
        Ok(())
    }

    #[test]
    fn an_opaque_token_takes_the_servers_verdict() {
        let n = normalise("Bearer rt_abc");
        let i = inspect_with(
            &n,
            None,
            None,
            Some(ServerAnswer {
                active: true,
                token_type: Some("refresh_token".into()),
                inactive_reason: None,
                exchanged_from: Vec::new(),
            }),
            0,
            0,
        );
        assert_eq!(i.outcome, Outcome::Active);
        let i = inspect_with(
            &n,
            None,
            None,
            Some(answer(false, Some((InactiveCode::RefreshSpent, "spent")))),
            0,
            0,
        );
        assert_eq!(i.outcome, Outcome::Rejected);
        assert!(i.verdict.contains("spent"));
    }

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_765_119_600), "2025-12-07 15:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
