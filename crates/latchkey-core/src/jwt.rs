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

pub fn parse(token: &str) -> Result<Parsed, JwtError> {
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
