//! The client side of DPoP (RFC 9449) for the console's "Try it": a throwaway P-256
//! key held in memory for one run, the proofs it signs, and the one retry a server's
//! `use_dpop_nonce` asks for (§8).
//!
//! Owns: the key, proof construction (§4.2), sending a request with a proof. Does not
//! own: deciding when to use DPoP (the caller's), keeping the key (it dies with the
//! run: a token bound to it is useless to anyone who later reads the console's memory
//! or disk, which holds neither).

use crate::AdminError;
use latchkey_api_types::ErrorCode;
use latchkey_core::crypto::{b64url, random_id, sha256};
use latchkey_core::keys::{self, LoadedKey};
use latchkey_core::model::Alg;
use serde_json::{json, Value};

/// A key pair generated for one run; never written anywhere.
pub struct DpopKey {
    key: LoadedKey,
    /// The public JWK as the proof header carries it: the RFC 7638 members only.
    jwk: Value,
    jkt: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey({})", self.jkt)
    }
}

fn proof_error() -> AdminError {
    AdminError::new(ErrorCode::Internal, "could not sign a DPoP proof")
}

impl DpopKey {
    /// A fresh ES256 key (the first of `dpop_signing_alg_values_supported` that every
    /// server here accepts).
    pub fn generate() -> Result<Self, AdminError> {
        let (der, public) = keys::generate(Alg::ES256, "dpop").map_err(|_| proof_error())?;
        let key = LoadedKey::from_pkcs8("dpop", Alg::ES256, &der).map_err(|_| proof_error())?;
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": public["x"],
            "y": public["y"],
        });
        let jkt = latchkey_core::jwt::jwk_thumbprint(&jwk).ok_or_else(proof_error)?;
        Ok(Self { key, jwk, jkt })
    }

    /// RFC 7638 thumbprint: what a bound token's `cnf.jkt` names and `dpop_jkt` sends.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// §4.2: a proof for `htm` `htu` (query and fragment dropped, §4.3 compares without
    /// them), with the server's nonce when it gave one.
    pub fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>) -> Result<String, AdminError> {
        let mut htu = url::Url::parse(htu)
            .map_err(|_| AdminError::invalid_input(format!("{htu:?} is not a URL")))?;
        htu.set_query(None);
        htu.set_fragment(None);
        let iat = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let mut claims = json!({ "jti": random_id(), "htm": htm, "htu": htu.as_str(), "iat": iat });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
        let h = serde_json::to_vec(&header).map_err(|_| proof_error())?;
        let c = serde_json::to_vec(&claims).map_err(|_| proof_error())?;
        let input = format!("{}.{}", b64url(&h), b64url(&c));
        let sig = self.key.sign(input.as_bytes()).map_err(|_| proof_error())?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }
}

/// The `token_type` as the server spelled it (RFC 9449 §5 `DPoP`, RFC 6750 `Bearer`):
/// the `oauth2` crate hands it back lower-cased, and the scheme is case-insensitive.
pub fn token_type_name(t: &str) -> String {
    if t.eq_ignore_ascii_case("dpop") {
        "DPoP".into()
    } else if t.eq_ignore_ascii_case("bearer") {
        "Bearer".into()
    } else {
        t.into()
    }
}

/// §4.2 `ath`: the hash of the access token a resource request carries.
pub fn access_token_hash(token: &str) -> String {
    b64url(&sha256(token.as_bytes()))
}

/// Sends `req` (an `oauth2` request: the token endpoint, PAR) with a proof by `key`
/// when given; a refusal that carries a `DPoP-Nonce` (§8.1 `use_dpop_nonce`) is retried
/// once with that nonce. Usable as the `oauth2` crate's HTTP function.
pub async fn send(
    http: &reqwest::Client,
    key: Option<&DpopKey>,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, AdminError> {
    let endpoint = req.uri().to_string();
    let unreachable = |e: reqwest::Error| crate::signin::unavailable(&endpoint, &e);
    let mut nonce: Option<String> = None;
    for _ in 0..2 {
        let mut r = req.clone();
        if let Some(k) = key {
            let proof = k.proof(req.method().as_str(), &endpoint, nonce.as_deref())?;
            let v = oauth2::http::HeaderValue::from_str(&proof).map_err(|_| proof_error())?;
            r.headers_mut().insert("dpop", v);
        }
        let r = reqwest::Request::try_from(r)
            .map_err(|_| AdminError::invalid_input(format!("{endpoint}: not a request")))?;
        let resp = http.execute(r).await.map_err(unreachable)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(unreachable)?.to_vec();
        let asked = headers
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let wants_nonce = key.is_some()
            && nonce.is_none()
            && matches!(status.as_u16(), 400 | 401)
            && serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .as_deref()
                == Some("use_dpop_nonce");
        if let (true, Some(n)) = (wants_nonce, asked) {
            nonce = Some(n);
            continue;
        }
        let mut out = oauth2::http::Response::builder().status(status.as_u16());
        for (name, value) in &headers {
            out = out.header(name.as_str(), value.as_bytes());
        }
        return out.body(body).map_err(|_| {
            AdminError::new(ErrorCode::Unavailable, format!("{endpoint}: bad answer"))
        });
    }
    Err(AdminError::new(
        ErrorCode::Unauthorized,
        format!("{endpoint} asked for a DPoP nonce twice"),
    ))
}

/// [`send`] as the `oauth2` crate's HTTP client. It owns what it uses (a client is a
/// handle, the key shared): a borrowing one makes the request future `Send` only for
/// some lifetimes, and a desktop command's future must be `Send` for all.
pub struct Http {
    pub http: reqwest::Client,
    pub key: Option<std::sync::Arc<DpopKey>>,
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = AdminError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, AdminError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.http, self.key.as_deref(), request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The proof the console signs is one the server's own checks accept: the same
    /// thumbprint, the URL without its query, a fresh jti each time.
    #[test]
    fn a_proof_carries_the_public_key_and_names_the_request() -> anyhow::Result<()> {
        let k = DpopKey::generate()?;
        let a = k.proof("POST", "https://as.test/token?x=1#f", Some("n1"))?;
        let b = k.proof("POST", "https://as.test/token", None)?;
        let parsed = latchkey_core::jwt::parse_structure(&a)?;
        assert_eq!(parsed.header["typ"], "dpop+jwt");
        assert!(parsed.header["jwk"].get("d").is_none(), "no private member");
        assert_eq!(
            latchkey_core::jwt::jwk_thumbprint(&parsed.header["jwk"]).as_deref(),
            Some(k.jkt())
        );
        assert_eq!(parsed.claims["htu"], "https://as.test/token");
        assert_eq!(parsed.claims["nonce"], "n1");
        let other = latchkey_core::jwt::parse_structure(&b)?;
        assert_ne!(parsed.claims["jti"], other.claims["jti"]);
        assert!(other.claims.get("nonce").is_none());
        Ok(())
    }
}
