//! Randomness, hashing and the key-encryption key. Secrets and tokens at rest are
//! SHA-256 hashes (they are ≥ 256-bit random, so a fast hash is enough — RFC 6819
//! §5.1.4.1.3); passwords are argon2id; private keys are AES-256-GCM under the KEK.

use crate::error::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SystemRandom reads getrandom(2); failure means the OS has no entropy source,
    // which no caller could recover from.
    SystemRandom::new()
        .fill(&mut buf)
        .expect("operating system random source failed");
    buf
}

/// A 256-bit random value, base64url (43 chars): codes, refresh tokens, secrets.
pub fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

/// A shorter random identifier (128 bits) for ids that are not credentials.
///
/// Never starts with `-` or `_`: ids are typed as command-line arguments
/// (`latchkey admin clients get ID`), where a leading `-` reads as an option. One draw
/// in 32 is redrawn, which costs nothing and keeps the 128 random bits.
pub fn random_id() -> String {
    loop {
        let id = b64url(&random_bytes::<16>());
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return id;
        }
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A short, non-reversible handle for a token in logs and audit (first 8 hex of SHA-256).
pub fn token_fingerprint(token: &str) -> String {
    hex::encode(&sha256(token.as_bytes())[..4])
}

/// argon2id with the crate's defaults (m=19 MiB, t=2, p=1; OWASP's minimum).
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    // A 128-bit salt from the same OS source as every other secret (RFC 9106 §3.1).
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|_| CryptoError::KeyGen)?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::KeyGen)
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, for unknown usernames, so response
/// time does not reveal which accounts exist.
pub fn burn_password_check(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("latchkey-timing-dummy").unwrap_or_default());
    let _ = verify_password(password, phc);
}

/// [`verify_password`] for a known user's hash, [`burn_password_check`] for an
/// unknown username: the same work either way.
pub fn verify_or_burn(password: &str, phc: Option<&str>) -> bool {
    match phc {
        Some(phc) => verify_password(password, phc),
        None => {
            burn_password_check(password);
            false
        }
    }
}

/// Where argon2 runs. Verification is deliberately slow (tens of milliseconds of one
/// core), so a server must not run it on its few async workers: it supplies a
/// verifier that runs it on a bounded blocking pool. The core stays framework-free
/// and defaults to [`InlineVerifier`].
#[async_trait::async_trait]
pub trait PasswordVerifier: Send + Sync {
    /// `phc` is the user's stored hash, `None` for an unknown username.
    async fn verify(&self, password: String, phc: Option<String>) -> bool;
}

/// Verifies on the calling thread (tools and tests without a runtime of their own).
pub struct InlineVerifier;

#[async_trait::async_trait]
impl PasswordVerifier for InlineVerifier {
    async fn verify(&self, password: String, phc: Option<String>) -> bool {
        verify_or_burn(&password, phc.as_deref())
    }
}

/// The key-encryption key that wraps private signing keys at rest.
#[derive(Clone)]
pub struct Kek {
    key: [u8; 32],
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn generate() -> Self {
        Self::from_bytes(random_bytes::<32>())
    }

    /// Parses the KEK as 64 hex chars or 43 base64url chars (trailing whitespace ignored).
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let s = s.trim();
        let bytes = if s.len() == 64 {
            hex::decode(s).map_err(|_| CryptoError::InvalidKey("KEK is not hex".into()))?
        } else {
            b64url_decode(s)
                .ok_or_else(|| CryptoError::InvalidKey("KEK is not base64url".into()))?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("KEK must be 32 bytes".into()))?;
        Ok(Self::from_bytes(key))
    }

    pub fn encode(&self) -> String {
        hex::encode(self.key)
    }

    /// A 32-byte secret for one purpose, named by `label`: HMAC-SHA256 keyed with the
    /// KEK (HKDF-Expand of RFC 5869 §2.3 with one block). Every process holding the KEK
    /// derives the same secret (the DPoP nonces of all nodes agree), and it tells
    /// nothing about the KEK.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        use aws_lc_rs::hmac;
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.key), label);
        let mut out = [0u8; 32];
        out.copy_from_slice(&tag.as_ref()[..32]);
        out
    }

    fn aead(&self) -> LessSafeKey {
        // 32 bytes is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("32-byte AES key"))
    }

    /// nonce ‖ ciphertext ‖ tag; `aad` binds the ciphertext to its purpose (the kid).
    /// AES-256-GCM with a random 96-bit nonce (NIST SP 800-38D §8.2.2): the layout the
    /// first releases wrote, so sealed keys in existing databases open unchanged.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut buf,
            )
            .expect("AES-GCM seal of an in-memory buffer");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Decrypt)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_kek_and_aad() {
        let kek = Kek::generate();
        let sealed = kek.seal(b"private", b"kid-1");
        assert_eq!(kek.open(&sealed, b"kid-1").unwrap(), b"private");
        assert!(kek.open(&sealed, b"kid-2").is_err());
        assert!(Kek::generate().open(&sealed, b"kid-1").is_err());
    }

    #[test]
    fn a_kek_round_trips_through_its_text_form() {
        let kek = Kek::generate();
        let again = Kek::parse(&kek.encode()).unwrap();
        assert_eq!(again.key, kek.key);
        assert!(Kek::parse("short").is_err());
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn random_tokens_carry_256_bits() {
        let t = random_token();
        assert_eq!(b64url_decode(&t).unwrap().len(), 32);
        assert_ne!(t, random_token());
    }

    #[test]
    fn random_ids_never_start_with_a_character_a_command_line_reads_as_an_option() {
        // Without the redraw, 10 000 ids start with `-` or `_` about 312 times.
        for _ in 0..10_000 {
            let id = random_id();
            assert!(id.starts_with(|c: char| c.is_ascii_alphanumeric()), "{id}");
            assert_eq!(b64url_decode(&id).unwrap().len(), 16);
        }
    }
}
