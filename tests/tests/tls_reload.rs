//! TLS termination: the listener serves the configured certificate and picks up a
//! replaced certificate without a restart (renewals need no downtime).

use latchkey_e2e::*;
use std::time::{Duration, Instant};

fn client_trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_replaced_certificate_is_served_without_a_restart() {
    let h = Harness::start_tls().await.unwrap();
    let old_pem = h.ca_pem.clone().unwrap();
    let url = h.url("/.well-known/openid-configuration");
    assert!(client_trusting(&old_pem)
        .get(&url)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());

    // A renewal drops a new certificate and key in place.
    let new = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let new_pem = new.cert.pem();
    std::fs::write(
        h.dir.path().join("key.pem"),
        new.signing_key.serialize_pem(),
    )
    .unwrap();
    std::fs::write(h.dir.path().join("cert.pem"), &new_pem).unwrap();

    let started = Instant::now();
    loop {
        // A fresh client each time: no pooled connection from before the swap.
        if let Ok(r) = client_trusting(&new_pem).get(&url).send().await {
            assert!(r.status().is_success());
            break;
        }
        assert!(
            // The files are checked every 2 s; generous, as a busy machine is slow.
            started.elapsed() < Duration::from_secs(60),
            "new certificate not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The old certificate is no longer presented.
    assert!(client_trusting(&old_pem).get(&url).send().await.is_err());
}
