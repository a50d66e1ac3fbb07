//! The signing-key lifecycle the engine runs itself: keys created on first start,
//! successors published before they sign, promotion, retirement (the server's
//! scheduler, `Provider::maintain_keys`), rotate-now and emergency revoke. Each step is
//! one `Store::keys_apply` with its audit event; a step another process made first is
//! planned again on what it left.
//!
//! Owns: applying `keys::plan_rotation` (pure) to the store. Does not own: the
//! rotation policy (the runtime settings, read by the caller) or key generation and
//! sealing (`keys`). The admin operations (`manage::Manager::keys_rotate`, …) call this
//! with the settings they read.

use crate::clock::{Clock, Timestamp};
use crate::crypto::Kek;
use crate::error::{shown, ManageError, ManageResult};
use crate::keys::{self, RotationPolicy};
use crate::model::{Alg, KeyState, NewAuditEvent, SigningKey};
use crate::store::{KeyUpdate, Store};
use latchkey_api_types::AuditAction;
use serde_json::{json, Value};
use std::sync::Arc;

/// The key lifecycle over one store. Cheap to make per call.
#[derive(Clone)]
pub struct KeyLifecycle {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    kek: Kek,
    /// Where the change came from (the admin API caller's address), for the audit log.
    source_ip: Option<String>,
}

impl KeyLifecycle {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, kek: Kek) -> Self {
        Self {
            store,
            clock,
            kek,
            source_ip: None,
        }
    }

    /// The same lifecycle, recording `ip` as the source of every change.
    pub fn with_source_ip(mut self, ip: Option<String>) -> Self {
        self.source_ip = ip;
        self
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn audit_event(&self, at: Timestamp, actor: &str, action: &str) -> NewAuditEvent {
        NewAuditEvent::new(at, actor, action).ip(self.source_ip.clone())
    }
}

/// Which key of one algorithm signed before a rotation and which signs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    pub alg: Alg,
    pub previous_kid: Option<String>,
    pub active_kid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    pub kid: String,
    pub alg: Alg,
    /// The state the key was in before the revoke.
    pub previous_state: KeyState,
    /// The key that signs for this algorithm now.
    pub active_kid: Option<String>,
}

/// The audit form of a signing key: everything but the (encrypted) private half.
pub fn key_summary(k: &SigningKey) -> Value {
    json!({
        "kid": k.kid,
        "alg": k.alg.as_str(),
        "state": k.state.as_str(),
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retiring_at": k.retiring_at,
        "retired_at": k.retired_at,
        "revoked_at": k.revoked_at,
    })
}

fn active_kid(keys: &[SigningKey], alg: Alg) -> Option<String> {
    keys.iter()
        .filter(|k| k.alg == alg && k.state == KeyState::Active)
        .max_by_key(|k| k.activated_at.unwrap_or(k.created_at))
        .map(|k| k.kid.clone())
}

impl KeyLifecycle {
    /// Applies one planned step: state changes plus, optionally, a new key.
    async fn apply_key_plan(
        &self,
        actor: &str,
        action: &str,
        alg: Alg,
        keys: &[SigningKey],
        updates: Vec<KeyUpdate>,
        new_state: Option<KeyState>,
    ) -> ManageResult<()> {
        let now = self.now();
        let new_key = match new_state {
            Some(state) => Some(keys::new_signing_key(alg, state, &self.kek, now)?),
            None => None,
        };
        let before: Vec<Value> = keys
            .iter()
            .filter(|k| updates.iter().any(|u| u.kid == k.kid))
            .map(key_summary)
            .collect();
        let after = json!({
            "changes": updates
                .iter()
                .map(|u| json!({"kid": u.kid, "state": u.state.as_str()}))
                .collect::<Vec<_>>(),
            "new_key": new_key.as_ref().map(key_summary),
        });
        let audit = self
            .audit_event(now, actor, action)
            .target(alg.as_str())
            .before(&before)
            .after(&after);
        self.store
            .keys_apply(&updates, new_key.as_ref(), Some(&audit))
            .await?;
        Ok(())
    }

    /// Brings one algorithm's keys in line with the rotation policy (at most three
    /// steps: e.g. create active, then publish a successor). Returns the steps applied.
    async fn ensure_alg(
        &self,
        actor: &str,
        action: &str,
        alg: Alg,
        rotation: &RotationPolicy,
    ) -> ManageResult<usize> {
        let mut steps = 0;
        for _ in 0..6 {
            let keys = self.store.keys_list().await?;
            let (updates, new_state) = keys::plan_rotation(&keys, alg, rotation, self.now(), false);
            if updates.is_empty() && new_state.is_none() {
                break;
            }
            match self
                .apply_key_plan(actor, action, alg, &keys, updates, new_state)
                .await
            {
                Ok(()) => steps += 1,
                // Another process (a second node, the CLI) moved the keys first: plan
                // again on what it left.
                Err(ManageError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(steps)
    }

    /// The scheduled part of the key lifecycle, for every algorithm (RS256, ES256 and
    /// EdDSA are always kept): creates missing keys, publishes successors, promotes
    /// due ones and retires old ones, under `rotation`. What the server's scheduler
    /// calls; idempotent.
    pub async fn ensure_keys_with(&self, rotation: &RotationPolicy) -> ManageResult<usize> {
        let mut steps = 0;
        for alg in Alg::ALL {
            steps += self
                .ensure_alg("system", AuditAction::KeySchedule.as_str(), *alg, rotation)
                .await?;
        }
        Ok(steps)
    }

    /// Whether every algorithm has a key that signs.
    pub async fn keys_complete(&self) -> ManageResult<bool> {
        let keys = self.store.keys_list().await?;
        Ok(Alg::ALL.iter().all(|a| active_kid(&keys, *a).is_some()))
    }

    /// Checks that the KEK opens this store's signing keys, so a wrong or lost KEK is
    /// reported up front rather than at the first token request.
    pub async fn verify_kek(&self) -> ManageResult<()> {
        if let Some(kid) = self.keys_unusable().await? {
            return Err(ManageError::Internal(format!(
                "the key-encryption key does not match this database: it cannot decrypt \
                 signing key {kid}"
            )));
        }
        Ok(())
    }

    /// The first published signing key (next, active or retiring) whose private half
    /// the KEK cannot open, if any: with a wrong KEK nothing can be signed, so the
    /// server refuses to start and its health says so.
    pub async fn keys_unusable(&self) -> ManageResult<Option<String>> {
        let keys = self.store.keys_list().await?;
        Ok(keys
            .iter()
            .filter(|k| keys::is_published(k.state) && !k.private_enc.is_empty())
            .find(|k| keys::load(k, &self.kek).is_err())
            .map(|k| k.kid.clone()))
    }

    /// Rotate now: for `alg` (or every algorithm) the published successor starts
    /// signing at once and the current key starts retiring; a new successor is then
    /// published. Returns, per algorithm, which key signed before and which signs now.
    pub async fn keys_rotate(
        &self,
        actor: &str,
        alg: Option<Alg>,
        rotation: &RotationPolicy,
    ) -> ManageResult<Vec<KeyRotation>> {
        let algs: Vec<Alg> = match alg {
            Some(a) => vec![a],
            None => Alg::ALL.to_vec(),
        };
        let mut out = Vec::new();
        for alg in algs {
            let previous = active_kid(&self.store.keys_list().await?, alg);
            // Up to three steps: publish a successor if there is none, then swap.
            for _ in 0..3 {
                let keys = self.store.keys_list().await?;
                let current = active_kid(&keys, alg);
                if current.is_some() && current != previous {
                    break;
                }
                let (updates, new_state) =
                    keys::plan_rotation(&keys, alg, rotation, self.now(), true);
                if updates.is_empty() && new_state.is_none() {
                    break;
                }
                self.apply_key_plan(
                    actor,
                    AuditAction::KeyRotate.as_str(),
                    alg,
                    &keys,
                    updates,
                    new_state,
                )
                .await?;
            }
            self.ensure_alg(actor, AuditAction::KeyRotate.as_str(), alg, rotation)
                .await?;
            let active = active_kid(&self.store.keys_list().await?, alg).ok_or_else(|| {
                ManageError::Internal(format!("rotation left no active {alg} key"))
            })?;
            out.push(KeyRotation {
                alg,
                previous_kid: previous,
                active_kid: active,
            });
        }
        Ok(out)
    }

    /// Emergency revoke of a (possibly compromised) key: every token it signed becomes
    /// inactive. If it was signing, its published successor takes over at once (or a
    /// new key is made), in the same transaction, so signing never stops.
    pub async fn key_revoke(
        &self,
        actor: &str,
        kid: &str,
        rotation: &RotationPolicy,
    ) -> ManageResult<KeyRevocation> {
        let keys = self.store.keys_list().await?;
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| {
                ManageError::NotFound(format!("no signing key with kid \"{}\"", shown(kid)))
            })?
            .clone();
        if key.state == KeyState::Revoked {
            return Ok(KeyRevocation {
                kid: key.kid,
                alg: key.alg,
                previous_state: KeyState::Revoked,
                active_kid: active_kid(&keys, key.alg),
            });
        }
        let now = self.now();
        let mut updates = vec![KeyUpdate {
            kid: key.kid.clone(),
            state: KeyState::Revoked,
            at: now,
        }];
        let mut new_key = None;
        if key.state == KeyState::Active {
            let successor = keys
                .iter()
                .filter(|k| k.alg == key.alg && k.state == KeyState::Next)
                .max_by_key(|k| k.created_at);
            match successor {
                Some(n) => updates.push(KeyUpdate {
                    kid: n.kid.clone(),
                    state: KeyState::Active,
                    at: now,
                }),
                None => {
                    new_key = Some(keys::new_signing_key(
                        key.alg,
                        KeyState::Active,
                        &self.kek,
                        now,
                    )?)
                }
            }
        }
        let after = json!({
            "changes": updates
                .iter()
                .map(|u| json!({"kid": u.kid, "state": u.state.as_str()}))
                .collect::<Vec<_>>(),
            "new_key": new_key.as_ref().map(key_summary),
        });
        let audit = self
            .audit_event(now, actor, AuditAction::KeyRevoke.as_str())
            .target(key.kid.clone())
            .before(&key_summary(&key))
            .after(&after)
            .security();
        self.store
            .keys_apply(&updates, new_key.as_ref(), Some(&audit))
            .await?;
        // Publish a fresh successor for the next rotation.
        self.ensure_alg(actor, AuditAction::KeyRevoke.as_str(), key.alg, rotation)
            .await?;
        Ok(KeyRevocation {
            kid: key.kid,
            alg: key.alg,
            previous_state: key.state,
            active_kid: active_kid(&self.store.keys_list().await?, key.alg),
        })
    }
}
