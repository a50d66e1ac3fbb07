//! Compact JWS (RFC 7515) encoding and verification, just what the server needs.
//!
//! Verification takes the algorithm from the *key* (RFC 8725 §3.1): a token whose
//! header names another algorithm than the key's is refused, so `alg: none`, HMAC
//! keyed with a public key and algorithm confusion cannot happen.

use crate::crypto::{b64url, b64url_decode};
use crate::keys::LoadedKey;
use crate::model::Alg;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
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

/// The algorithm a public JWK may be used with, derived from the key itself.
pub fn jwk_alg(jwk: &Value) -> Option<Alg> {
    let kty = jwk.get("kty")?.as_str()?;
    // RFC 7517 §4.2/§4.3: a key marked for encryption, or whose `key_ops` do not include
    // `verify`, never verifies a signature.
    if jwk.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return None;
        }
    }
    let declared = jwk.get("alg").and_then(Value::as_str);
    let alg = match kty {
        "EC" if jwk.get("crv")?.as_str()? == "P-256" => Alg::ES256,
        "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => Alg::EdDSA,
        "RSA" => Alg::RS256,
        _ => return None,
    };
    match declared {
        Some(d) if d != alg.as_str() => None,
        _ => Some(alg),
    }
}

/// Verifies `sig` over `msg` with a public JWK, only under `alg`, and only if the key
/// is of that algorithm.
pub fn verify_with_jwk(jwk: &Value, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<(), JwtError> {
    if jwk.get("d").is_some() || jwk_alg(jwk) != Some(alg) {
        return Err(JwtError::Algorithm);
    }
    let field = |n: &str| {
        jwk.get(n)
            .and_then(Value::as_str)
            .and_then(b64url_decode)
            .ok_or(JwtError::UnknownKey)
    };
    match alg {
        Alg::ES256 => {
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(JwtError::UnknownKey);
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(msg, sig)
                .map_err(|_| JwtError::BadSignature)
        }
        Alg::EdDSA => UnparsedPublicKey::new(&signature::ED25519, field("x")?)
            .verify(msg, sig)
            .map_err(|_| JwtError::BadSignature),
        Alg::RS256 => RsaPublicKeyComponents {
            n: field("n")?,
            e: field("e")?,
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
        .map_err(|_| JwtError::BadSignature),
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
    let d = match alg {
        Alg::EdDSA => ring::digest::digest(&ring::digest::SHA512, value.as_bytes()),
        _ => ring::digest::digest(&ring::digest::SHA256, value.as_bytes()),
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
