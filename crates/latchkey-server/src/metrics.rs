//! Prometheus metrics (issue 14): recorded through the `metrics` facade, rendered by
//! `metrics-exporter-prometheus` at `GET /metrics` on the admin listener (never on the
//! public one). No exposition text is written here.
//!
//! Every label value comes from a closed set or from data an administrator created:
//! the endpoint is the route template axum matched (`/admin/v1/clients/{id}`, never the
//! raw path; a request that matched no route is `unmatched`), the outcome a status
//! class, the grant a grant type the engine issued for, the client an id that just
//! authenticated (so a registered client), the rule and severity the detector's
//! vocabularies, the store operation a trait method name. Nothing an attacker types
//! becomes a label, so a flood cannot grow the exposition.
//!
//! Recorded elsewhere: store write latency and errors (the store crates), tokens issued
//! (an observer on the engine's issuance count, [`install_issue_observer`]).
//! Read at scrape time from the store: active sessions, open findings, key ages.

use crate::AppState;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Latency buckets in seconds: token requests take a few ms; argon2 sign-ins ~100 ms.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process's recorder, installed on first use. Several servers in one process
/// (tests, the desktop app) share it, as they would share a process's counters.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        handle
    })
}

/// Counts tokens issued by grant and client as the engine issues them.
pub fn install_issue_observer(provider: &latchkey_core::oauth::Provider) {
    handle();
    provider.set_issue_observer(Arc::new(|grant: &'static str, client: &str| {
        metrics::counter!(
            "latchkey_tokens_issued_total",
            "grant" => grant,
            "client" => client.to_string()
        )
        .increment(1);
    }));
}

/// The status class of a response, as the `outcome` label.
fn outcome(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware: requests and their latency by listener, endpoint (the matched route
/// template) and outcome.
pub async fn track(listener: &'static str, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let resp = next.run(req).await;
    let labels = [
        ("listener", listener.to_string()),
        ("endpoint", endpoint),
        ("outcome", outcome(resp.status().as_u16()).to_string()),
    ];
    metrics::counter!("latchkey_http_requests_total", &labels).increment(1);
    metrics::histogram!("latchkey_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    resp
}

pub async fn track_public(req: Request, next: Next) -> Response {
    track("public", req, next).await
}

pub async fn track_admin(req: Request, next: Next) -> Response {
    track("admin", req, next).await
}

/// A sign-in outcome (`succeeded` / `failed`).
pub fn sign_in(outcome: &'static str) {
    metrics::counter!("latchkey_sign_ins_total", "outcome" => outcome).increment(1);
}

/// A request refused by a limiter or the block list, by the security family's action
/// (a closed vocabulary).
pub fn limited(family: latchkey_api_types::SecurityFamily) {
    metrics::counter!("latchkey_limiter_blocks_total", "family" => family.as_str()).increment(1);
}

/// Gauges read from the store at scrape time, then the exposition.
pub async fn render(st: &AppState) -> String {
    let store = &st.provider.store;
    let now = st.provider.now();
    match store.stats(now - 60, now).await {
        Ok(s) => metrics::gauge!("latchkey_active_sessions").set(s.active_sessions as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: reading active sessions failed"),
    }
    match store.keys_list().await {
        Ok(keys) => {
            for k in keys.iter().filter(|k| {
                !matches!(k.state, latchkey_core::model::KeyState::Retired)
                    && k.revoked_at.is_none()
            }) {
                metrics::gauge!(
                    "latchkey_signing_key_age_seconds",
                    "kid" => k.kid.clone(),
                    "alg" => k.alg.as_str(),
                    "state" => k.state.as_str()
                )
                .set((now - k.created_at).max(0) as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading keys failed"),
    }
    let open = latchkey_core::model::FindingFilter {
        status: Some("open".into()),
        limit: 1000,
        ..Default::default()
    };
    match store.findings_list(&open).await {
        Ok(findings) => {
            let mut counts = std::collections::BTreeMap::<(String, String), u64>::new();
            for (rule, _) in latchkey_core::monitor::RULES {
                for sev in latchkey_core::monitor::SEVERITIES {
                    counts.insert((rule.to_string(), sev.to_string()), 0);
                }
            }
            for f in findings {
                if let Some(n) = counts.get_mut(&(f.rule, f.severity)) {
                    *n += 1;
                }
            }
            for ((rule, severity), n) in counts {
                metrics::gauge!("latchkey_findings_open", "rule" => rule, "severity" => severity)
                    .set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading findings failed"),
    }
    handle().render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_status_classes() {
        assert_eq!(outcome(200), "2xx");
        assert_eq!(outcome(302), "3xx");
        assert_eq!(outcome(429), "4xx");
        assert_eq!(outcome(503), "5xx");
    }
}
