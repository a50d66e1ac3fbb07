//! Signing keys: generation, encryption at rest, the JWKS, and the lifecycle
//! next → active → retiring → retired (and emergency `revoked`).
//!
//! Rotation keeps relying parties working (OIDC Core §10.1.1): a key is published in
//! the JWKS as `next` at least one JWKS cache lifetime before it signs, and a retiring
//! key stays published until every token it signed has expired.

use crate::clock::Timestamp;
use crate::crypto::{b64url, random_id, Kek};
use crate::error::CryptoError;
use crate::model::{Alg, KeyState, SigningKey};
use crate::store::KeyUpdate;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents,
};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType,
};
use serde_json::Value;

/// A decrypted private key, parsed once and kept (the provider caches one per active
/// key): parsing an RSA key costs about as much as a signature, which is why tokens are
/// not signed through `jsonwebtoken::encode` (it re-parses the key on every call).
pub struct LoadedKey {
    pub kid: String,
    pub alg: Alg,
    inner: Inner,
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedKey({}, {})", self.kid, self.alg)
    }
}

impl LoadedKey {
    /// Parses a PKCS#8 private key (v1 or v2, as `ring` and the `rsa` crate wrote them
    /// before, or as [`generate`] writes them now) for `alg`; a key of another type is
    /// refused.
    pub fn from_pkcs8(kid: &str, alg: Alg, der: &[u8]) -> Result<Self, CryptoError> {
        let bad = |e: aws_lc_rs::error::KeyRejected| CryptoError::InvalidKey(e.to_string());
        let inner = match alg {
            Alg::ES256 => Inner::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(bad)?,
            ),
            Alg::EdDSA => Inner::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(bad)?),
            Alg::RS256 => Inner::Rsa(RsaKeyPair::from_pkcs8(der).map_err(bad)?),
        };
        Ok(Self {
            kid: kid.to_string(),
            alg,
            inner,
        })
    }

    /// The raw JWS signature over `msg` (RFC 7518 §3.3 PKCS#1 v1.5 / §3.4 fixed-width
    /// r‖s; RFC 8037 §3.1 Ed25519).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Ecdsa(k) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::Sign),
            Inner::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| CryptoError::Sign)?;
                Ok(sig)
            }
        }
    }
}

/// A big-endian unsigned integer without leading zero octets (RFC 7518 §6.3.1.1).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The public JWK (RFC 7517) of a key: `use: sig`, its `alg` and `kid`.
fn public_jwk(kid: &str, alg: Alg, algorithm: AlgorithmParameters) -> Result<Value, CryptoError> {
    let key_algorithm = match alg {
        Alg::ES256 => KeyAlgorithm::ES256,
        Alg::RS256 => KeyAlgorithm::RS256,
        Alg::EdDSA => KeyAlgorithm::EdDSA,
    };
    let jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm),
            key_id: Some(kid.to_string()),
            ..Default::default()
        },
        algorithm,
    };
    serde_json::to_value(jwk).map_err(|_| CryptoError::KeyGen)
}

/// Generates a key pair: (PKCS#8 DER, public JWK). RSA keys are 2048-bit (RFC 7518
/// §3.3's minimum, and what relying parties expect for RS256).
pub fn generate(alg: Alg, kid: &str) -> Result<(Vec<u8>, Value), CryptoError> {
    let rng = SystemRandom::new();
    match alg {
        Alg::ES256 => {
            let der =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| CryptoError::KeyGen)?;
            let kp =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref())
                    .map_err(|_| CryptoError::KeyGen)?;
            // Uncompressed SEC1 point: 0x04 ‖ x ‖ y.
            let point = kp.public_key().as_ref();
            if point.len() != 65 || point[0] != 4 {
                return Err(CryptoError::KeyGen);
            }
            let jwk = public_jwk(
                kid,
                alg,
                AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x: b64url(&point[1..33]),
                    y: b64url(&point[33..65]),
                }),
            )?;
            Ok((der.as_ref().to_vec(), jwk))
        }
        Alg::EdDSA => {
            let der = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CryptoError::KeyGen)?;
            let kp = Ed25519KeyPair::from_pkcs8(der.as_ref()).map_err(|_| CryptoError::KeyGen)?;
            let jwk = public_jwk(
                kid,
                alg,
                AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: b64url(kp.public_key().as_ref()),
                }),
            )?;
            Ok((der.as_ref().to_vec(), jwk))
        }
        Alg::RS256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError::KeyGen)?;
            let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                .map_err(|_| CryptoError::KeyGen)?;
            let public = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
            let jwk = public_jwk(
                kid,
                alg,
                AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: b64url(unsigned(&public.n)),
                    e: b64url(unsigned(&public.e)),
                }),
            )?;
            Ok((der.as_ref().to_vec(), jwk))
        }
    }
}

/// Makes a new key in state `state`, its private half sealed under `kek`.
pub fn new_signing_key(
    alg: Alg,
    state: KeyState,
    kek: &Kek,
    now: Timestamp,
) -> Result<SigningKey, CryptoError> {
    let kid = format!(
        "{}-{}",
        alg.as_str().to_ascii_lowercase(),
        &random_id()[..12]
    );
    let (der, jwk) = generate(alg, &kid)?;
    Ok(SigningKey {
        private_enc: kek.seal(&der, kid.as_bytes()),
        public_jwk: jwk.to_string(),
        kid,
        alg,
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retiring_at: None,
        retired_at: None,
        revoked_at: None,
    })
}

pub fn load(key: &SigningKey, kek: &Kek) -> Result<LoadedKey, CryptoError> {
    let der = kek.open(&key.private_enc, key.kid.as_bytes())?;
    LoadedKey::from_pkcs8(&key.kid, key.alg, &der)
}

/// Whether a key in this state appears in the JWKS.
pub fn is_published(state: KeyState) -> bool {
    matches!(
        state,
        KeyState::Next | KeyState::Active | KeyState::Retiring
    )
}

/// The lifecycle policy, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// How long a key signs before the scheduled rotation replaces it.
    pub rotate_every: i64,
    /// How long a `next` key is published before it may sign (≥ JWKS max-age).
    pub prepublish: i64,
    /// How long a retiring key stays published (≥ the longest token lifetime + max-age).
    pub retire_after: i64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            rotate_every: 30 * 24 * 3600,
            prepublish: 3600,
            retire_after: 24 * 3600,
        }
    }
}

/// The state changes (and new keys) that bring one algorithm's keys in line with the
/// policy at `now`. Pure: the caller applies them in one store transaction.
///
/// Invariants kept per algorithm: exactly one `active` key; a `next` key exists once
/// the active one is due within `prepublish`; a `next` key that has been published for
/// `prepublish` is promoted when the active one is due; retiring keys are retired after
/// `retire_after`.
pub fn plan_rotation(
    keys: &[SigningKey],
    alg: Alg,
    policy: &RotationPolicy,
    now: Timestamp,
    force: bool,
) -> (Vec<KeyUpdate>, Option<KeyState>) {
    let mine: Vec<&SigningKey> = keys.iter().filter(|k| k.alg == alg).collect();
    let mut updates = Vec::new();
    let mut new_key = None;

    for k in &mine {
        if k.state == KeyState::Retiring
            && k.retiring_at
                .map(|t| now >= t + policy.retire_after)
                .unwrap_or(true)
        {
            updates.push(KeyUpdate {
                kid: k.kid.clone(),
                state: KeyState::Retired,
                at: now,
            });
        }
    }

    let active = mine
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .max_by_key(|k| k.activated_at.unwrap_or(k.created_at));
    let next = mine
        .iter()
        .filter(|k| k.state == KeyState::Next)
        .max_by_key(|k| k.created_at);

    match active {
        None => {
            // Nothing signs for this algorithm: promote a next key, or make one that
            // signs at once (first start, or after an emergency revoke).
            if let Some(n) = next {
                updates.push(KeyUpdate {
                    kid: n.kid.clone(),
                    state: KeyState::Active,
                    at: now,
                });
            } else {
                new_key = Some(KeyState::Active);
            }
        }
        Some(a) => {
            let activated = a.activated_at.unwrap_or(a.created_at);
            let due = activated + policy.rotate_every;
            match next {
                // A successor is always kept published, so that rotate-now (and an
                // emergency revoke) can switch at once to a key relying parties have
                // already had the chance to fetch.
                None => new_key = Some(KeyState::Next),
                Some(n) => {
                    if force || (now >= due && now >= n.created_at + policy.prepublish) {
                        updates.push(KeyUpdate {
                            kid: n.kid.clone(),
                            state: KeyState::Active,
                            at: now,
                        });
                        updates.push(KeyUpdate {
                            kid: a.kid.clone(),
                            state: KeyState::Retiring,
                            at: now,
                        });
                    }
                }
            }
        }
    }
    (updates, new_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, alg: Alg, state: KeyState, at: Timestamp) -> SigningKey {
        SigningKey {
            kid: kid.into(),
            alg,
            state,
            public_jwk: "{}".into(),
            private_enc: vec![],
            created_at: at,
            activated_at: (state == KeyState::Active).then_some(at),
            retiring_at: (state == KeyState::Retiring).then_some(at),
            retired_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn each_algorithm_signs_and_the_published_jwk_verifies_it() {
        let kek = Kek::generate();
        for alg in Alg::ALL {
            let k = new_signing_key(*alg, KeyState::Active, &kek, 0).unwrap();
            let loaded = load(&k, &kek).unwrap();
            let sig = loaded.sign(b"hello").unwrap();
            let jwk: Value = serde_json::from_str(&k.public_jwk).unwrap();
            assert!(jwk.get("d").is_none());
            assert!(crate::jwt::verify_with_jwk(&jwk, *alg, b"hello", &sig).is_ok());
            assert!(crate::jwt::verify_with_jwk(&jwk, *alg, b"hellO", &sig).is_err());
        }
    }

    #[test]
    fn generated_keys_publish_a_signing_jwk_of_their_algorithm_and_rsa_keys_have_2048_bits() {
        for alg in Alg::ALL {
            let (der, jwk) = generate(*alg, "k1").unwrap();
            assert_eq!(jwk["kid"], "k1");
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(crate::jwt::jwk_alg(&jwk), Some(*alg));
            assert!(jwk.get("d").is_none());
            let loaded = LoadedKey::from_pkcs8("k1", *alg, &der).unwrap();
            assert_eq!(loaded.alg, *alg);
            // A key is refused for another algorithm than its own.
            for other in Alg::ALL.iter().filter(|a| *a != alg) {
                assert!(LoadedKey::from_pkcs8("k1", *other, &der).is_err());
            }
        }
        let (_, jwk) = generate(Alg::RS256, "r").unwrap();
        let n = crate::crypto::b64url_decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0);
        assert_eq!(jwk["e"], "AQAB");
    }

    #[test]
    fn first_start_creates_an_active_key() {
        let (u, new) = plan_rotation(&[], Alg::ES256, &RotationPolicy::default(), 100, false);
        assert!(u.is_empty());
        assert_eq!(new, Some(KeyState::Active));
    }

    #[test]
    fn a_due_key_is_replaced_only_by_a_key_published_long_enough() {
        let p = RotationPolicy {
            rotate_every: 1000,
            prepublish: 100,
            retire_after: 500,
        };
        let a = key("a", Alg::ES256, KeyState::Active, 0);
        // An active key without a successor gets one published at once.
        assert_eq!(
            plan_rotation(std::slice::from_ref(&a), Alg::ES256, &p, 10, false),
            (vec![], Some(KeyState::Next))
        );
        // Due, but the next key was published only 20 s ago: wait.
        let n = key("n", Alg::ES256, KeyState::Next, 990);
        assert!(
            plan_rotation(&[a.clone(), n.clone()], Alg::ES256, &p, 1010, false)
                .0
                .is_empty()
        );
        // Published long enough: swap.
        let (u, new) = plan_rotation(&[a.clone(), n.clone()], Alg::ES256, &p, 1100, false);
        assert_eq!(new, None);
        assert_eq!(u.len(), 2);
        assert!(u
            .iter()
            .any(|x| x.kid == "n" && x.state == KeyState::Active));
        assert!(u
            .iter()
            .any(|x| x.kid == "a" && x.state == KeyState::Retiring));
        // Rotate-now swaps whenever a successor exists.
        assert_eq!(plan_rotation(&[a, n], Alg::ES256, &p, 995, true).0.len(), 2);
    }

    #[test]
    fn retiring_keys_are_retired_after_the_retention_time() {
        let p = RotationPolicy {
            rotate_every: 1000,
            prepublish: 100,
            retire_after: 500,
        };
        let a = key("a", Alg::ES256, KeyState::Active, 0);
        let r = key("r", Alg::ES256, KeyState::Retiring, 10);
        assert!(
            plan_rotation(&[a.clone(), r.clone()], Alg::ES256, &p, 400, false)
                .0
                .is_empty()
        );
        let (u, _) = plan_rotation(&[a, r], Alg::ES256, &p, 510, false);
        assert_eq!(u[0].state, KeyState::Retired);
    }
}
