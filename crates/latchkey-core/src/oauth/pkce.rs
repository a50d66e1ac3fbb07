//! PKCE, RFC 7636, S256 only (RFC 9700 §2.1.1).

use crate::crypto::{b64url, ct_eq, sha256};

/// §4.1: 43–128 chars of [A-Z a-z 0-9 - . _ ~].
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// §4.2 with S256 the challenge is base64url(SHA-256) without padding: exactly 43
/// chars of the base64url alphabet.
pub fn is_valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// §4.6.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && ct_eq(
            b64url(&sha256(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_appendix_b_example_verifies() {
        assert!(verify_s256(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn verifiers_of_42_chars_or_with_bad_characters_are_refused() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn challenges_must_be_43_base64url_chars() {
        assert!(!is_valid_s256_challenge(&"a".repeat(42)));
        assert!(!is_valid_s256_challenge(&"a".repeat(129)));
        assert!(!is_valid_s256_challenge(&format!("{}+/=", "a".repeat(40))));
    }
}
