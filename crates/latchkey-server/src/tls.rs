//! TLS termination with rustls (ring provider). The certificate and key are re-read
//! when either file changes, so renewals (ACME, cert-manager) need no restart.

use crate::ServeError;
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

fn mtimes(cert: &PathBuf, key: &PathBuf) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(cert)?, m(key)?))
}

pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    cert: PathBuf,
    key: PathBuf,
    mut stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    // Several tests may start servers in one process: installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = RustlsConfig::from_pem_file(&cert, &key)
        .await
        .map_err(|e| ServeError::Tls(format!("cannot load certificate/key: {e}")))?;
    let std_listener = listener
        .into_std()
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    let handle = axum_server::Handle::new();

    let reload = config.clone();
    let mut reload_stop = stop.clone();
    tokio::spawn(async move {
        let mut seen = mtimes(&cert, &key);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = reload_stop.wait_for(|s| *s) => break,
            }
            let now = mtimes(&cert, &key);
            if now.is_some() && now != seen {
                match reload.reload_from_pem_file(&cert, &key).await {
                    Ok(()) => {
                        tracing::info!("TLS certificate reloaded");
                        seen = now;
                    }
                    // Keep serving the old certificate; a half-written file is retried.
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS reload failed; keeping the current certificate")
                    }
                }
            }
        }
    });

    let h = handle.clone();
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        h.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    Ok(tokio::spawn(async move {
        let r = axum_server::from_tcp_rustls(std_listener, config)
            .handle(handle)
            .serve(app)
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "TLS listener failed");
        }
    }))
}
