//! Signing keys as the administrator sees them. The lifecycle itself (rotation steps,
//! revoke) is the engine's (`oauth::key_lifecycle`); these operations read the runtime
//! settings for its rotation policy and record the caller's address.

use super::*;
use crate::oauth::key_lifecycle::KeyLifecycle;

impl Manager {
    fn key_lifecycle(&self) -> KeyLifecycle {
        KeyLifecycle::new(self.store.clone(), self.clock.clone(), self.kek.clone())
            .with_source_ip(self.source_ip.clone())
    }

    pub async fn keys_list(&self) -> ManageResult<Vec<SigningKey>> {
        Ok(self.store.keys_list().await?)
    }

    /// The scheduled part of the key lifecycle under the stored settings' rotation
    /// policy: creates missing keys, publishes successors, promotes due ones and
    /// retires old ones. Idempotent.
    pub async fn ensure_keys(&self) -> ManageResult<usize> {
        let rotation = self.settings_effective().await?.rotation();
        self.ensure_keys_with(&rotation).await
    }

    /// [`ensure_keys`](Self::ensure_keys) under a rotation policy the caller already
    /// holds.
    pub async fn ensure_keys_with(&self, rotation: &RotationPolicy) -> ManageResult<usize> {
        self.key_lifecycle().ensure_keys_with(rotation).await
    }

    /// Whether every algorithm has a key that signs.
    pub async fn keys_complete(&self) -> ManageResult<bool> {
        self.key_lifecycle().keys_complete().await
    }

    /// Checks that the KEK opens this store's signing keys, so a wrong or lost KEK is
    /// reported up front rather than at the first token request.
    pub async fn verify_kek(&self) -> ManageResult<()> {
        self.key_lifecycle().verify_kek().await
    }

    /// The first published signing key whose private half the KEK cannot open, if any.
    pub async fn keys_unusable(&self) -> ManageResult<Option<String>> {
        self.key_lifecycle().keys_unusable().await
    }

    /// Rotate now: for `alg` (or every algorithm) the published successor starts
    /// signing at once and the current key starts retiring; a new successor is then
    /// published. Returns, per algorithm, which key signed before and which signs now.
    pub async fn keys_rotate(
        &self,
        actor: &str,
        alg: Option<Alg>,
    ) -> ManageResult<Vec<KeyRotation>> {
        let rotation = self.settings_effective().await?.rotation();
        self.key_lifecycle()
            .keys_rotate(actor, alg, &rotation)
            .await
    }

    /// Emergency revoke of a (possibly compromised) key: every token it signed becomes
    /// inactive; if it was signing, its successor takes over in the same transaction.
    pub async fn key_revoke(&self, actor: &str, kid: &str) -> ManageResult<KeyRevocation> {
        let rotation = self.settings_effective().await?.rotation();
        self.key_lifecycle().key_revoke(actor, kid, &rotation).await
    }
}
