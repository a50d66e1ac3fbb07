//! Webhook delivery over HTTP (issue 14): the core's [`WebhookSender`] with the
//! `jwks_uri` fetcher's SSRF rules ([`crate::fetch`]): the host is resolved first and
//! every address must be public (loopback only on a loopback issuer, as there); the
//! connection is pinned to the checked address; no proxies, no redirects; 10 s timeout;
//! the answer's body is not read. The background task that steps the core's
//! [`Dispatcher`] is [`run`].

use latchkey_core::oauth::Provider;
use latchkey_core::webhook::{Dispatcher, WebhookSender};
use std::sync::Arc;
use std::time::Duration;

pub struct HttpWebhookSender {
    allow_loopback: bool,
}

impl HttpWebhookSender {
    pub fn new(allow_loopback: bool) -> Self {
        Self { allow_loopback }
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<u16, String> {
        // The registration rules again (the URL is what was stored, but a KEK-less
        // attacker with database access should not get a proxy either).
        let u = latchkey_core::webhook::check_url(url, self.allow_loopback)?;
        let client = crate::fetch::pinned_client(
            &u,
            self.allow_loopback,
            Duration::from_secs(10),
            "endpoints",
        )
        .await?;
        let mut req = client.post(u).body(body.to_string());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                "the endpoint did not answer within 10 s".to_string()
            } else if e.is_connect() {
                "could not connect to the endpoint".to_string()
            } else {
                "the request failed".to_string()
            }
        })?;
        Ok(resp.status().as_u16())
    }

    fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }
}

/// How often the dispatcher looks for findings and due retries. Only wakes the task:
/// every schedule reads the engine's clock.
pub const POLL: Duration = Duration::from_secs(1);

/// The background task: steps the dispatcher until `stop` flips. Never on the request
/// path; a slow endpoint delays only other webhooks' deliveries.
pub async fn run(
    provider: Arc<Provider>,
    sender: Arc<dyn WebhookSender>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let d: Dispatcher = provider.webhook_dispatcher(sender);
    loop {
        match d.step().await {
            Ok(r) => {
                metrics::counter!("latchkey_webhook_deliveries_total", "outcome" => "delivered")
                    .increment(r.delivered);
                metrics::counter!("latchkey_webhook_deliveries_total", "outcome" => "retry")
                    .increment(r.retried);
                metrics::counter!("latchkey_webhook_deliveries_total", "outcome" => "failed")
                    .increment(r.failed);
            }
            Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}
