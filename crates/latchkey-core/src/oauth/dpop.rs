//! DPoP (RFC 9449): the proof checks of §4.3, server nonces (§8, §9), the replay store
//! (§11.1) and what binds a token to a key (§5, §6, §7).
//!
//! Owns: checking one request's proof and answering the proof's key thumbprint
//! (RFC 7638, `cnf.jkt`), the nonces, and the access-token key check a resource (our
//! userinfo, the admin API) makes. Does not own: which tokens get bound (the grants in
//! `token.rs`) or how errors become headers (the server).
//!
//! Nonces are derived, never stored: HMAC-SHA256 of the minute under a secret derived
//! from the KEK. Every node that can open the signing keys holds the KEK, so all nodes
//! issue and accept the same nonces, across restarts, with no table and no per-process
//! random. Proof `jti`s are remembered in the store's replay table (`jti_use`, one
//! unique key, purged by the leader's purge job), so a proof is accepted once across
//! every node.

use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::Provider;
use crate::clock::Timestamp;
use crate::crypto::{b64url, ct_eq, sha256};
use crate::jwt;
use crate::model::Alg;
use serde_json::Value;

/// `dpop_signing_alg_values_supported` (RFC 9449 §5.1): asymmetric algorithms only,
/// the ones the JOSE layer verifies. `none` and HMAC can never be among them.
pub const SIGNING_ALGS: &[Alg] = &[Alg::ES256, Alg::EdDSA, Alg::RS256];

/// How far a proof's `iat` may be from this server's clock, either way, in seconds
/// (§4.3 check 11 leaves it to the server). FAPI's tests need ±10 s accepted; the
/// catalogue (F-06) wants anything beyond 60 s refused.
pub const IAT_WINDOW: i64 = 60;

/// A nonce is the HMAC of one minute; those of the two minutes before, this one and
/// the next are accepted, so a nonce stays good for at least two minutes and a node
/// whose clock runs a little ahead does not refuse another's.
const NONCE_STEP: i64 = 60;

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Bound on a proof's `jti` (RFC 9449 §4.2 asks for 96 bits of randomness; anything far
/// longer is not a proof).
const MAX_JTI: usize = 256;

/// The `typ` of a proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// What one request carried for DPoP, and where it was sent.
#[derive(Debug, Clone, Copy)]
pub struct ProofInput<'a> {
    /// Every `DPoP` header value of the request, in order.
    pub headers: &'a [String],
    /// The HTTP method (`htm`).
    pub method: &'a str,
    /// The endpoint's public URL (the issuer's `/token`, the admin API's route): `htu`
    /// is compared with it, never with the Host a proxy passed on (§4.3 check 9).
    pub url: &'a str,
    /// At a resource, the access token presented with the proof (`ath`, §4.3 check 12).
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` names.
    pub jkt: String,
    pub jti: String,
    pub iat: Timestamp,
}

fn invalid(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, d)
}

/// `ath` (RFC 9449 §4.2): base64url SHA-256 of the access token's ASCII.
pub fn access_token_hash(token: &str) -> String {
    b64url(&sha256(token.as_bytes()))
}

/// RFC 9449 §4.3 check 9: `htu` names the endpoint, ignoring query and fragment, after
/// the normalisation of RFC 3986 §6.2.2–6.2.3 (case of scheme and host, default port,
/// dot segments), which the URL parser does.
pub fn htu_matches(htu: &str, expected: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(htu), url::Url::parse(expected)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.username().is_empty()
        && a.password().is_none()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

/// Every check of RFC 9449 §4.3 that needs neither the store nor a nonce: exactly one
/// header (1), a JWT (2), the claims present (3), `typ` (4), an asymmetric supported
/// `alg` (5), the signature by the header's `jwk` (6), no private key there (7), `htm`
/// (8), `htu` (9), `iat` within the window (11), `ath` (12). Returns the proof and its
/// `nonce` claim, if any.
pub fn check_proof(input: &ProofInput<'_>, now: Timestamp) -> OAuthResult<(Proof, Option<String>)> {
    let value = match input.headers {
        [one] => one.as_str(),
        [] => return Err(invalid("a DPoP proof is required")),
        _ => return Err(invalid("more than one DPoP header")),
    };
    let parsed = jwt::parse(value).map_err(|_| invalid("the DPoP proof is not a JWT"))?;
    if !parsed
        .typ()
        .is_some_and(|t| t.eq_ignore_ascii_case(PROOF_TYP))
    {
        return Err(invalid("the DPoP proof typ must be dpop+jwt"));
    }
    let alg: Alg = parsed
        .alg()
        .and_then(|a| a.parse().ok())
        .filter(|a| SIGNING_ALGS.contains(a))
        .ok_or_else(|| invalid("the DPoP proof alg is not supported"))?;
    let jwk = match parsed.header.get("jwk") {
        Some(j @ Value::Object(m)) => {
            if PRIVATE_MEMBERS.iter().any(|p| m.contains_key(*p)) {
                return Err(invalid("the DPoP proof jwk holds a private key"));
            }
            j
        }
        _ => return Err(invalid("the DPoP proof has no jwk header")),
    };
    jwt::verify_with_jwk(jwk, alg, parsed.signing_input.as_bytes(), &parsed.signature)
        .map_err(|_| invalid("the DPoP proof signature does not verify with its jwk"))?;
    let jkt =
        jwt::jwk_thumbprint(jwk).ok_or_else(|| invalid("the DPoP proof jwk is not usable"))?;
    let jti = parsed
        .str_claim("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or_else(|| invalid("the DPoP proof jti is missing"))?;
    let (Some(htm), Some(htu), Some(iat)) = (
        parsed.str_claim("htm"),
        parsed.str_claim("htu"),
        parsed.int_claim("iat"),
    ) else {
        return Err(invalid("the DPoP proof lacks htm, htu or iat"));
    };
    if htm != input.method {
        return Err(invalid("the DPoP proof is for another HTTP method"));
    }
    if !htu_matches(htu, input.url) {
        return Err(invalid("the DPoP proof is for another URL"));
    }
    if (now - iat).abs() > IAT_WINDOW {
        return Err(invalid("the DPoP proof iat is outside the accepted window"));
    }
    // A proof may carry exp/nbf (the FAPI suite sends them); honour them when present.
    if parsed.int_claim("exp").is_some_and(|exp| exp <= now)
        || parsed
            .int_claim("nbf")
            .is_some_and(|nbf| nbf > now + IAT_WINDOW)
    {
        return Err(invalid("the DPoP proof is expired or not yet valid"));
    }
    if let Some(token) = input.access_token {
        let ok = parsed
            .str_claim("ath")
            .is_some_and(|ath| ct_eq(ath.as_bytes(), access_token_hash(token).as_bytes()));
        if !ok {
            return Err(invalid(
                "the DPoP proof ath does not match the access token",
            ));
        }
    }
    let nonce = parsed.str_claim("nonce").map(str::to_string);
    Ok((
        Proof {
            jkt,
            jti: jti.to_string(),
            iat,
        },
        nonce,
    ))
}

impl Provider {
    /// The DPoP nonce of the minute `step` (§8): HMAC-SHA256 under a secret derived from
    /// the KEK, so every node agrees.
    fn dpop_nonce_at(&self, step: i64) -> String {
        use aws_lc_rs::hmac;
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &self.kek.derive(b"latchkey dpop-nonce v1"),
        );
        b64url(hmac::sign(&key, &step.to_be_bytes()).as_ref())
    }

    /// The nonce to send in `DPoP-Nonce` now (RFC 9449 §8.1).
    pub fn dpop_nonce(&self) -> String {
        self.dpop_nonce_at(self.now().div_euclid(NONCE_STEP))
    }

    /// Whether proofs must carry a nonce of ours (`latchkey serve --dpop-nonce`).
    pub fn dpop_nonce_required(&self) -> bool {
        self.config.dpop_nonce
    }

    fn dpop_nonce_valid(&self, nonce: &str) -> bool {
        let step = self.now().div_euclid(NONCE_STEP);
        // Every candidate is compared, in constant time, whatever matches first.
        (step - 2..=step + 1).fold(false, |ok, s| {
            ct_eq(self.dpop_nonce_at(s).as_bytes(), nonce.as_bytes()) | ok
        })
    }

    /// Checks the request's DPoP proof (RFC 9449 §4.3, all twelve checks): `Ok(None)`
    /// when it carries none. `invalid_dpop_proof` for a bad proof; `use_dpop_nonce`
    /// when the nonce is required and missing, or is not a current one of ours (the
    /// server adds `DPoP-Nonce`); a proof seen before (same key and `jti`) within its
    /// window is refused on every node (§11.1, catalogue F-12).
    pub async fn dpop_proof(&self, input: &ProofInput<'_>) -> OAuthResult<Option<Proof>> {
        if input.headers.is_empty() {
            return Ok(None);
        }
        let now = self.now();
        let (proof, nonce) = check_proof(input, now)?;
        match nonce {
            Some(n) if self.dpop_nonce_valid(&n) => {}
            None if !self.dpop_nonce_required() => {}
            _ => {
                return Err(OAuthError::new(
                    ErrorCode::UseDpopNonce,
                    "the DPoP proof must carry the nonce the server provides",
                ))
            }
        }
        // Kept until the last instant the proof's iat is acceptable.
        let key = format!("dpop:{}:{}", proof.jkt, proof.jti);
        if !self.store.jti_use(&key, proof.iat + IAT_WINDOW + 1).await? {
            return Err(invalid("the DPoP proof was already used"));
        }
        Ok(Some(proof))
    }
}

/// How a resource request presented its access token (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// Why a resource refuses a request on DPoP grounds (RFC 9449 §7.1, §9): the server
/// answers 401 with `WWW-Authenticate: DPoP error="…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceRefusal {
    /// `invalid_token`: a bound token presented as `Bearer`, a proof by another key
    /// than the token's, or an unbound token under the `DPoP` scheme.
    KeyMismatch,
    /// `invalid_dpop_proof`: no proof, or one failing a check of §4.3 (`ath` too).
    InvalidProof,
    /// `use_dpop_nonce` (with `DPoP-Nonce`).
    UseNonce,
    /// The replay store could not be reached.
    Unavailable,
}

/// Every `algs` value a `DPoP` challenge lists (RFC 9449 §7.1).
pub fn algs_list() -> String {
    SIGNING_ALGS
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Provider {
    /// RFC 9449 §7.1 at one of our resources, for an access token already found active
    /// (`claims`): the scheme must fit the token (a bound token is never a bearer
    /// token), and under `DPoP` the proof must pass every check, carry `ath` of this
    /// token and be signed by the key of its `cnf.jkt`.
    pub async fn dpop_resource_check(
        &self,
        claims: &serde_json::Map<String, Value>,
        token: &str,
        scheme: Scheme,
        proof_headers: &[String],
        method: &str,
        url: &str,
    ) -> Result<(), ResourceRefusal> {
        let bound = claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str);
        match (scheme, bound) {
            // §7.2: a proof next to a bearer token is ignored.
            (Scheme::Bearer, None) => Ok(()),
            // The binding is the point: a thief holding only the token gets nothing.
            (Scheme::Bearer, Some(_)) => Err(ResourceRefusal::KeyMismatch),
            (Scheme::Dpop, bound) => {
                let input = ProofInput {
                    headers: proof_headers,
                    method,
                    url,
                    access_token: Some(token),
                };
                let proof = match self.dpop_proof(&input).await {
                    Ok(Some(p)) => p,
                    Ok(None) => return Err(ResourceRefusal::InvalidProof),
                    Err(e) => {
                        return Err(match e.code {
                            ErrorCode::InvalidDpopProof => ResourceRefusal::InvalidProof,
                            ErrorCode::UseDpopNonce => ResourceRefusal::UseNonce,
                            _ => ResourceRefusal::Unavailable,
                        })
                    }
                };
                match bound {
                    Some(jkt) if ct_eq(jkt.as_bytes(), proof.jkt.as_bytes()) => Ok(()),
                    _ => Err(ResourceRefusal::KeyMismatch),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_is_compared_after_normalisation_and_without_query_or_fragment() {
        let e = "https://as.test/token";
        for ok in [
            "https://as.test/token",
            "https://as.test/token?x=1",
            "https://as.test/token#f",
            "HTTPS://AS.TEST/token",
            "https://as.test:443/token",
            "https://as.test/a/../token",
        ] {
            assert!(htu_matches(ok, e), "{ok}");
        }
        for bad in [
            "https://as.test/token/",
            "http://as.test/token",
            "https://as.test:8443/token",
            "https://evil.test/token",
            "https://user@as.test/token",
            "https://as.test/TOKEN",
            "/token",
            "",
        ] {
            assert!(!htu_matches(bad, e), "{bad}");
        }
    }

    #[test]
    fn ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example token and its ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
