//! The consent (approval) step of the authorization endpoint, RFC 6749 §4.1.1: what the
//! page shows for a parked request and what a submitted decision does. The server's
//! pages only parse the form, check its origin, render and follow the outcome.
//!
//! A submission is bound to (sign-in, parked request, its anti-forgery value) and is
//! single use (AZ-20); a public native client and the admin scopes always meet the page
//! (RFC 8252 §8.6), and an approval of the admin scopes needs a recent sign-in.

use super::authorize::{asks_admin_scopes, is_native_redirect, loopback_port, AuthzRequest};
use super::error::{ErrorCode, OAuthError, OAuthResult};
use super::Provider;
use crate::crypto::ct_eq;
use crate::model::{Client, SignIn};

/// What the consent page shows for one parked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPrompt {
    /// The parked request (its `csrf` goes into the form).
    pub request: AuthzRequest,
    pub client_name: String,
    /// Each requested scope with its description.
    pub scopes: Vec<(String, String)>,
    /// A public client answering at a native redirect: nothing proves which program it
    /// is (RFC 8252 §8.6), so the page says where the answer goes.
    pub native: bool,
    /// The loopback port a native answer goes to, if it is a loopback redirect.
    pub loopback_port: Option<u16>,
    /// Whether the admin scopes are asked for.
    pub admin_scopes: bool,
}

/// Why the consent page cannot be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentPageError {
    /// Not pending under this sign-in: expired, answered, or someone else's.
    Expired,
    /// The client is gone.
    ClientGone,
    Unavailable,
}

/// Why a consent submission is refused (each is audited by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentRefusal {
    /// No such parked request, or it does not parse.
    UnknownRequest,
    /// Parked under another sign-in.
    OtherSession,
    /// The anti-forgery value does not match the request's.
    CsrfMismatch,
    /// Expired, or the form was already submitted.
    AlreadyAnswered,
}

/// What a consent submission leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentOutcome {
    /// 303 to the client: the code, or an error (`access_denied` on a denial).
    Redirect(String),
    /// Approved, but the sign-in is too old for the admin scopes: the request is parked
    /// again under this id for the login form.
    SignInAgain(String),
    Refused(ConsentRefusal),
    Unavailable,
}

/// A request parked before sign-in, picked up by the login form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    Ready(Box<(AuthzRequest, Client)>),
    /// Expired or already picked up.
    Expired,
    /// The client is gone or disabled.
    ClientGone,
}

impl Provider {
    /// Each scope with the description the consent and device pages show (empty when
    /// the scope is unknown or cannot be read).
    pub async fn scope_descriptions(&self, scopes: &[String]) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(scopes.len());
        for s in scopes {
            let d = match self.store.scope_get(s).await {
                Ok(Some(sc)) => sc.description,
                _ => String::new(),
            };
            out.push((s.clone(), d));
        }
        out
    }

    /// The consent page for a request parked under `sign_in_id`.
    pub async fn consent_prompt(
        &self,
        req_id: &str,
        sign_in_id: &str,
    ) -> Result<ConsentPrompt, ConsentPageError> {
        let request = match self.parked_request(req_id, Some(sign_in_id)).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(ConsentPageError::Expired),
            Err(_) => return Err(ConsentPageError::Unavailable),
        };
        let client = match self.store.client_get(&request.client_id).await {
            Ok(Some(c)) => c,
            _ => return Err(ConsentPageError::ClientGone),
        };
        let scopes = self.scope_descriptions(&request.scopes).await;
        let native = client.is_public() && is_native_redirect(&request.redirect_uri);
        Ok(ConsentPrompt {
            loopback_port: loopback_port(&request.redirect_uri),
            admin_scopes: asks_admin_scopes(&request.scopes),
            client_name: client.name,
            scopes,
            native,
            request,
        })
    }

    /// Applies a submitted decision on parked request `req_id` by the holder of
    /// `sign_in`: checks the binding and the anti-forgery value, consumes the request
    /// (single use), then denies, asks for a fresh sign-in, or records the consent and
    /// issues the code.
    pub async fn consent_decide(
        &self,
        req_id: &str,
        csrf: &str,
        approve: bool,
        sign_in: &SignIn,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> ConsentOutcome {
        use ConsentOutcome::{Redirect, Refused, SignInAgain, Unavailable};
        let raw = match self.store.auth_request_get(req_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Refused(ConsentRefusal::UnknownRequest),
            Err(_) => return Unavailable,
        };
        if raw.sign_in_id.as_deref() != Some(sign_in.id.as_str()) {
            return Refused(ConsentRefusal::OtherSession);
        }
        let Ok(req) = serde_json::from_str::<AuthzRequest>(&raw.params) else {
            return Refused(ConsentRefusal::UnknownRequest);
        };
        if !ct_eq(req.csrf.as_bytes(), csrf.as_bytes()) {
            return Refused(ConsentRefusal::CsrfMismatch);
        }
        match self.consume_parked(req_id).await {
            Ok(true) => {}
            Ok(false) => return Refused(ConsentRefusal::AlreadyAnswered),
            Err(_) => return Unavailable,
        }
        let error_redirect = |e: &OAuthError| {
            Redirect(self.error_location(&req.redirect_uri, req.state.as_deref(), e))
        };
        if !approve {
            // The authorization is complete: a pushed request is spent (RFC 9126 §4).
            if self.spend_pushed(&req).await.is_err() {
                return Unavailable;
            }
            return error_redirect(&OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the request",
            ));
        }
        // The approval page may have stayed open past the window of a recent sign-in.
        if self.admin_reauth_due(&req.scopes, sign_in) {
            return match self.park_request(&req, None).await {
                Ok(id) => SignInAgain(id),
                Err(_) => Unavailable,
            };
        }
        if self
            .record_consent(&sign_in.user_id, &req.client_id, &req.scopes)
            .await
            .is_err()
        {
            return Unavailable;
        }
        match self.issue_code(&req, sign_in, ip, user_agent).await {
            Ok(loc) => Redirect(loc),
            Err(e) => error_redirect(&e),
        }
    }

    /// Picks up a request parked before sign-in (single use) with its client, for the
    /// login form to continue the authorization.
    pub async fn resume_parked(&self, req_id: &str) -> OAuthResult<Resumed> {
        let Some(req) = self.parked_request(req_id, None).await? else {
            return Ok(Resumed::Expired);
        };
        let _ = self.consume_parked(req_id).await;
        Ok(match self.store.client_get(&req.client_id).await? {
            Some(client) if !client.disabled => Resumed::Ready(Box::new((req, client))),
            _ => Resumed::ClientGone,
        })
    }
}
