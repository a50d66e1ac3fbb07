//! Compact JWS (RFC 7515) encoding and verification, just what the server needs.
//!
//! Verification takes the algorithm from the *key* (RFC 8725 §3.1): a token whose
//! header names another algorithm than the key's is refused, so `alg: none`, HMAC
//! keyed with a public key and algorithm confusion cannot happen.
//!
//! JWKs (RFC 7517) are read into `jsonwebtoken`'s types, signatures are verified and
//! RFC 7638 thumbprints computed by `jsonwebtoken` (on `aws-lc-rs`). Signing is ours
//! ([`sign`]): it uses the key pair the provider parsed once, where
//! `jsonwebtoken::encode` would parse the private key again for every token.

use crate::crypto::{b64url, b64url_decode};
use crate::keys::LoadedKey;
use crate::model::Alg;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
    ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("unsupported or disallowed algorithm")]
    Algorithm,
    #[error("no matching key")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing failed")]
    Sign,
    /// RFC 7515 §4.1.11: a `crit` header names extensions the recipient must understand;
    /// we implement none, so any `crit` is refused.
    #[error("critical header extension not understood")]
    Crit,
    /// RFC 7519 §2 NumericDate: `exp`, `iat` and `nbf` must be integers here (a float,
    /// a string or a number beyond i64 could be read differently by another party).
    #[error("exp, iat or nbf is not an integer")]
    NumericDate,
}

/// A parsed but not yet verified token.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl Parsed {
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
    pub fn int_claim(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }
}

/// Signs `claims` with `key`; `typ` goes into the header (e.g. `at+jwt`, RFC 9068 §2.1).
pub fn sign(key: &LoadedKey, typ: Option<&str>, claims: &Value) -> Result<String, JwtError> {
    let mut header = Map::new();
    header.insert("alg".into(), Value::from(key.alg.as_str()));
    header.insert("kid".into(), Value::from(key.kid.as_str()));
    if let Some(t) = typ {
        header.insert("typ".into(), Value::from(t));
    }
    let h = serde_json::to_vec(&header).map_err(|_| JwtError::Sign)?;
    let c = serde_json::to_vec(claims).map_err(|_| JwtError::Sign)?;
    let mut out = String::with_capacity(h.len() * 2 + c.len() * 2 + 400);
    out.push_str(&b64url(&h));
    out.push('.');
    out.push_str(&b64url(&c));
    let sig = key.sign(out.as_bytes()).map_err(|_| JwtError::Sign)?;
    out.push('.');
    out.push_str(&b64url(&sig));
    Ok(out)
}

/// Upper bound on what we are willing to parse; real tokens are a few KiB.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Parses a compact JWS and refuses what no verifier here may accept: a `crit` header
/// and non-integer `exp`/`iat`/`nbf` (see [`check_profile`]). Every consumer that acts
/// on a token goes through this.
pub fn parse(token: &str) -> Result<Parsed, JwtError> {
    let parsed = parse_structure(token)?;
    check_profile(&parsed)?;
    Ok(parsed)
}

/// The checks [`parse`] adds to the structure: no `crit` header (RFC 7515 §4.1.11), and
/// `exp`, `iat`, `nbf` integers when present (RFC 7519 §4.1.4–6).
pub fn check_profile(parsed: &Parsed) -> Result<(), JwtError> {
    if parsed.header.contains_key("crit") {
        return Err(JwtError::Crit);
    }
    for name in ["exp", "iat", "nbf"] {
        if let Some(v) = parsed.claims.get(name) {
            if v.as_i64().is_none() {
                return Err(JwtError::NumericDate);
            }
        }
    }
    Ok(())
}

/// Only the structure (three base64url parts, two JSON objects); for the token
/// inspector, which shows *why* a token is refused instead of calling it opaque.
pub fn parse_structure(token: &str) -> Result<Parsed, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (h, c, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(c), Some(s), None) => (h, c, s),
        _ => return Err(JwtError::Malformed),
    };
    let decode_obj = |p: &str| -> Result<Map<String, Value>, JwtError> {
        let bytes = b64url_decode(p).ok_or(JwtError::Malformed)?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(JwtError::Malformed),
        }
    };
    let header = decode_obj(h)?;
    let claims = decode_obj(c)?;
    let signature = b64url_decode(s).ok_or(JwtError::Malformed)?;
    Ok(Parsed {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature,
    })
}

/// A JWK read into `jsonwebtoken`'s type, with the one algorithm it may be used with
/// (derived from `kty`/`crv`, never from the token). `None` for a key that may not
/// verify a signature: RFC 7517 §4.2/§4.3, a key marked for encryption (`use` other than
/// `sig`) or whose `key_ops` lack `verify`; a declared `alg` other than the key's; a
/// symmetric (`oct`) key, so HMAC never verifies; any other curve or key type.
fn typed_jwk(jwk: &Value) -> Option<(Jwk, Alg)> {
    let typed = Jwk::deserialize(jwk).ok()?;
    let common = &typed.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let (alg, declared) = match &typed.algorithm {
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            (Alg::ES256, KeyAlgorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            (Alg::EdDSA, KeyAlgorithm::EdDSA)
        }
        AlgorithmParameters::RSA(_) => (Alg::RS256, KeyAlgorithm::RS256),
        _ => return None,
    };
    match common.key_algorithm {
        Some(d) if d != declared => None,
        _ => Some((typed, alg)),
    }
}

/// The algorithm a public JWK may be used with, derived from the key itself.
pub fn jwk_alg(jwk: &Value) -> Option<Alg> {
    typed_jwk(jwk).map(|(_, alg)| alg)
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a signing key this server accepts;
/// `None` for any other JWK (DPoP, RFC 9449 §6.1, binds tokens to this value).
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    typed_jwk(jwk).map(|(k, _)| k.thumbprint(ThumbprintHash::SHA256))
}

fn jose_alg(alg: Alg) -> Algorithm {
    match alg {
        Alg::ES256 => Algorithm::ES256,
        Alg::RS256 => Algorithm::RS256,
        Alg::EdDSA => Algorithm::EdDSA,
    }
}

/// Verifies `sig` over `msg` with a public JWK, only under `alg`, and only if the key
/// is of that algorithm.
pub fn verify_with_jwk(jwk: &Value, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<(), JwtError> {
    if jwk.get("d").is_some() {
        return Err(JwtError::Algorithm);
    }
    let (typed, key_alg) = typed_jwk(jwk).ok_or(JwtError::Algorithm)?;
    if key_alg != alg {
        return Err(JwtError::Algorithm);
    }
    // A P-256 point whose coordinates are not 32 bytes is not a key (RFC 7518 §6.2.1.2).
    if let AlgorithmParameters::EllipticCurve(p) = &typed.algorithm {
        let len = |c: &str| b64url_decode(c).map(|b| b.len());
        if len(&p.x) != Some(32) || len(&p.y) != Some(32) {
            return Err(JwtError::UnknownKey);
        }
    }
    let key = DecodingKey::from_jwk(&typed).map_err(|_| JwtError::UnknownKey)?;
    // RS256 goes through aws-lc's RSA_PKCS1_2048_8192_SHA256: keys under 2048 bits fail.
    match jsonwebtoken::crypto::verify(&b64url(sig), msg, &key, jose_alg(alg)) {
        Ok(true) => Ok(()),
        _ => Err(JwtError::BadSignature),
    }
}

/// Verifies a parsed token against a JWK Set: the key is chosen by `kid` (or, without
/// one, the only key whose algorithm matches the header), and the algorithm comes from
/// that key.
pub fn verify_with_jwks(parsed: &Parsed, jwks: &Value) -> Result<Value, JwtError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwtError::UnknownKey)?;
    let header_alg: Alg = parsed
        .alg()
        .and_then(|a| a.parse().ok())
        .ok_or(JwtError::Algorithm)?;
    let candidates: Vec<&Value> = match parsed.kid() {
        Some(kid) => keys
            .iter()
            .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
            .collect(),
        None => keys
            .iter()
            .filter(|k| jwk_alg(k) == Some(header_alg))
            .collect(),
    };
    let key = match candidates.as_slice() {
        [k] => *k,
        _ => return Err(JwtError::UnknownKey),
    };
    if jwk_alg(key) != Some(header_alg) {
        return Err(JwtError::Algorithm);
    }
    verify_with_jwk(
        key,
        header_alg,
        parsed.signing_input.as_bytes(),
        &parsed.signature,
    )?;
    Ok(key.clone())
}

/// OIDC Core §3.1.3.6 `at_hash`/`c_hash`: left half of the hash the signing algorithm
/// uses, base64url. SHA-256 for RS256/ES256; SHA-512 for EdDSA (Ed25519).
pub fn half_hash(alg: Alg, value: &str) -> String {
    use aws_lc_rs::digest::{digest, SHA256, SHA512};
    let d = match alg {
        Alg::EdDSA => digest(&SHA512, value.as_bytes()),
        _ => digest(&SHA256, value.as_bytes()),
    };
    let bytes = d.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Kek;
    use crate::keys::{load, new_signing_key};
    use crate::model::KeyState;
    use serde_json::json;

    fn es_key() -> (LoadedKey, Value) {
        let kek = Kek::generate();
        let k = new_signing_key(Alg::ES256, KeyState::Active, &kek, 0).unwrap();
        let jwk: Value = serde_json::from_str(&k.public_jwk).unwrap();
        (load(&k, &kek).unwrap(), json!({"keys":[jwk]}))
    }

    #[test]
    fn a_signed_token_verifies_against_its_jwks() {
        let (k, jwks) = es_key();
        let t = sign(&k, Some("at+jwt"), &json!({"sub":"u1"})).unwrap();
        let p = parse(&t).unwrap();
        assert_eq!(p.typ(), Some("at+jwt"));
        assert!(verify_with_jwks(&p, &jwks).is_ok());
    }

    #[test]
    fn alg_none_and_hmac_headers_are_refused_whatever_the_signature() {
        let (k, jwks) = es_key();
        let t = sign(&k, None, &json!({"sub":"u1"})).unwrap();
        for alg in ["none", "HS256", "RS256"] {
            let mut p = parse(&t).unwrap();
            p.header.insert("alg".into(), json!(alg));
            assert!(verify_with_jwks(&p, &jwks).is_err(), "{alg}");
        }
    }

    #[test]
    fn tampered_payloads_fail_verification() {
        let (k, jwks) = es_key();
        let t = sign(&k, None, &json!({"sub":"u1"})).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64url(br#"{"sub":"admin"}"#),
            parts[2]
        );
        assert_eq!(
            verify_with_jwks(&parse(&forged).unwrap(), &jwks),
            Err(JwtError::BadSignature)
        );
    }

    fn forge(k: &LoadedKey, header: Value, claims: Value) -> String {
        let h = b64url(&serde_json::to_vec(&header).unwrap());
        let c = b64url(&serde_json::to_vec(&claims).unwrap());
        let sig = k.sign(format!("{h}.{c}").as_bytes()).unwrap();
        format!("{h}.{c}.{}", b64url(&sig))
    }

    /// AD-70: unknown `crit` headers are refused.
    #[test]
    fn a_crit_header_is_refused_even_when_correctly_signed() {
        let (k, jwks) = es_key();
        for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
            let t = forge(
                &k,
                json!({"alg":"ES256","kid":k.kid,"crit":crit,"b64":false}),
                json!({"sub":"u1"}),
            );
            assert_eq!(parse(&t).err(), Some(JwtError::Crit));
            // The structure alone still parses, and the signature is good: only the
            // profile check refuses it.
            let p = parse_structure(&t).unwrap();
            assert!(verify_with_jwks(&p, &jwks).is_ok());
        }
    }

    /// AD-70: non-integer `exp`/`iat`/`nbf` are refused wherever a token is parsed.
    #[test]
    fn non_integer_exp_iat_or_nbf_are_refused() {
        let (k, _) = es_key();
        for claims in [
            json!({"exp": 1.5}),
            json!({"exp": "9999999999"}),
            json!({"iat": 1e3}),
            json!({"nbf": null}),
            json!({"exp": u64::MAX}),
            json!({"nbf": [1]}),
        ] {
            let t = forge(&k, json!({"alg":"ES256","kid":k.kid}), claims.clone());
            assert_eq!(parse(&t).err(), Some(JwtError::NumericDate), "{claims}");
        }
        let t = forge(
            &k,
            json!({"alg":"ES256","kid":k.kid}),
            json!({"exp": 2_000_000_000, "iat": 1, "nbf": 0}),
        );
        assert!(parse(&t).is_ok());
    }

    /// AD-71: a JWK whose `use` is `enc` never verifies a signature.
    #[test]
    fn a_jwk_marked_for_encryption_never_verifies_a_signature() {
        let (k, jwks) = es_key();
        let t = sign(&k, None, &json!({"sub":"u1"})).unwrap();
        let p = parse(&t).unwrap();
        let mut jwk = jwks["keys"][0].clone();
        assert!(verify_with_jwks(&p, &json!({"keys":[jwk.clone()]})).is_ok());
        jwk["use"] = json!("enc");
        assert!(verify_with_jwks(&p, &json!({"keys":[jwk.clone()]})).is_err());
        assert!(
            verify_with_jwk(&jwk, Alg::ES256, p.signing_input.as_bytes(), &p.signature).is_err()
        );
        jwk.as_object_mut().unwrap().remove("use");
        jwk["key_ops"] = json!(["encrypt", "wrapKey"]);
        assert!(verify_with_jwks(&p, &json!({"keys":[jwk.clone()]})).is_err());
        jwk["key_ops"] = json!(["verify"]);
        assert!(verify_with_jwks(&p, &json!({"keys":[jwk]})).is_ok());
    }

    /// RFC 7638 §3.1: the example key and its thumbprint.
    #[test]
    fn the_rfc_7638_example_key_has_the_thumbprint_the_rfc_gives() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn a_thumbprint_covers_only_the_required_members_and_exists_only_for_usable_keys() {
        let (_, jwks) = es_key();
        let jwk = jwks["keys"][0].clone();
        let bare = json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]});
        let t = jwk_thumbprint(&jwk).unwrap();
        assert_eq!(jwk_thumbprint(&bare).as_deref(), Some(t.as_str()));
        assert_eq!(b64url_decode(&t).unwrap().len(), 32);
        // A key this server never verifies with has no thumbprint (and no panic for a
        // curve under the wrong key type).
        for other in [
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "Ed25519", "x": jwk["x"], "y": jwk["y"]}),
            json!({"kty": "OKP", "crv": "P-256", "x": jwk["x"]}),
            json!({"kty": "EC", "crv": "P-384", "x": jwk["x"], "y": jwk["y"]}),
        ] {
            assert_eq!(jwk_thumbprint(&other), None, "{other}");
        }
    }

    /// RFC 8725 §3.1: the algorithm is the key's. A symmetric JWK never verifies (so
    /// HMAC keyed with anything cannot), and a key is never used under another
    /// algorithm than its own, whatever the caller or the header asks for.
    #[test]
    fn a_symmetric_jwk_never_verifies_and_a_key_never_verifies_under_another_algorithm() {
        let (k, jwks) = es_key();
        let t = sign(&k, None, &json!({"sub":"u1"})).unwrap();
        let p = parse(&t).unwrap();
        let jwk = jwks["keys"][0].clone();
        for alg in [Alg::RS256, Alg::EdDSA] {
            assert_eq!(
                verify_with_jwk(&jwk, alg, p.signing_input.as_bytes(), &p.signature),
                Err(JwtError::Algorithm)
            );
        }
        let oct = json!({"kty": "oct", "k": b64url(b"secret"), "kid": k.kid, "alg": "HS256"});
        for header_alg in ["HS256", "ES256"] {
            let mut p = p.clone();
            p.header.insert("alg".into(), json!(header_alg));
            assert!(verify_with_jwks(&p, &json!({"keys": [oct.clone()]})).is_err());
        }
        for alg in Alg::ALL {
            assert!(verify_with_jwk(&oct, *alg, p.signing_input.as_bytes(), &p.signature).is_err());
        }
        // A JWK that declares another algorithm than its key type is refused.
        let mut lying = jwk.clone();
        lying["alg"] = json!("RS256");
        assert_eq!(jwk_alg(&lying), None);
        // A private JWK is never used to verify.
        let mut private = jwk;
        private["d"] = json!("AAAA");
        assert!(verify_with_jwk(
            &private,
            Alg::ES256,
            p.signing_input.as_bytes(),
            &p.signature
        )
        .is_err());
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for t in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!.??.**",
            "e30.e30",
            "W10.e30.AA",
        ] {
            assert!(parse(t).is_err(), "{t}");
        }
    }
}
