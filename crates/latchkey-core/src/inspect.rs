//! Token inspection: take a token apart, explain every claim, and say — check by
//! check — whether it would be accepted and why not. Pure: the caller supplies the JWK
//! Set (fetched from the connected server or from the issuer's discovery) and the time.
//! Used by `latchkey token inspect` and, later, the console's token page.

use crate::clock::Timestamp;
use crate::jwt::{self, JwtError};
use serde_json::{Map, Value};

// The answer's types are the IPC's (the console shows them as they are), so their
// TypeScript is generated with every other DTO.
pub use latchkey_api_types::shell::{ClaimLine, Inspection, InspectionCheck as Check, TokenForm};

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

/// Inspects `token`. `jwks`: keys to verify against (None: signature not checked).
/// `issuer`: the expected `iss` (None: not checked). `leeway`: clock skew allowed.
pub fn inspect(
    token: &str,
    jwks: Option<&Value>,
    issuer: Option<&str>,
    now: Timestamp,
    leeway: i64,
) -> Inspection {
    let token = token.trim();
    // Structure only here: a token with a `crit` header or a non-integer time is shown
    // with the reason it is refused (below), not called opaque.
    let parsed = match jwt::parse_structure(token) {
        Ok(p) => p,
        Err(_) => {
            return Inspection {
                kind: TokenForm::Opaque,
                header: Map::new(),
                claims: Map::new(),
                claim_lines: vec![],
                checks: vec![Check {
                    name: "format",
                    ok: None,
                    detail: "not a JWT: an opaque token (e.g. a refresh token) can only be checked by introspection at its issuer".into(),
                }],
                verdict: "Opaque token: ask the issuer (introspection) whether it is active.".into(),
                valid: false,
            }
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
    checks.push(Check {
        name: "type",
        ok: None,
        detail: match typ {
            "at+jwt" | "application/at+jwt" => "access token (RFC 9068)".into(),
            "JWT" | ""
                if parsed.claims.contains_key("nonce")
                    || parsed.claims.contains_key("at_hash")
                    || parsed.claims.contains_key("azp") =>
            {
                "ID token (OpenID Connect)".into()
            }
            other => format!("typ {other:?}"),
        },
    });
    let claim_lines = parsed
        .claims
        .iter()
        .map(|(k, v)| ClaimLine {
            claim: k.clone(),
            value: v.clone(),
            meaning: claim_meaning(k).to_string(),
        })
        .collect();
    let failed = checks.iter().find(|c| c.ok == Some(false));
    let unchecked = checks
        .iter()
        .any(|c| c.name == "signature" && c.ok.is_none());
    let (valid, verdict) = match failed {
        Some(c) => (false, format!("Rejected: {} — {}.", c.name, c.detail)),
        None if unchecked => (
            false,
            "Not verified: the signature was not checked (no keys).".to_string(),
        ),
        None => (
            true,
            "Valid: signature, issuer and lifetime check out (revocation needs introspection)."
                .to_string(),
        ),
    };
    Inspection {
        kind: TokenForm::Jwt,
        header: parsed.header,
        claims: parsed.claims,
        claim_lines,
        checks,
        verdict,
        valid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Kek;
    use crate::keys::{load, new_signing_key};
    use crate::model::{Alg, KeyState};
    use serde_json::json;

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
    }
}
