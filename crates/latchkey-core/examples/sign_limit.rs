//! The machine's signing limit per algorithm, for `make bench`: how many signatures one
//! core makes per second of CPU time with the server's own signer, alone (`raw`, over a
//! token-sized message) and as a whole compact JWS (`jws`, header and claims serialised
//! too). The client-credentials numbers of the same run are read against `raw`: a server
//! that spent nothing but the signature would reach it. Pin it to the server's CPU
//! (`taskset -c 0`) to compare like with like; BENCH_SIGN_SECS sets the time per line.

use latchkey_core::jwt;
use latchkey_core::keys::{self, LoadedKey};
use latchkey_core::model::Alg;
use serde_json::json;
use std::time::{Duration, Instant};

/// This thread's time on a CPU so far (Linux `schedstat`, nanoseconds). The machine is
/// shared: signatures per second of CPU time do not move when another process takes the
/// core for a while, where signatures per second of wall time do.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// (per second of CPU time, per second of wall time).
fn rate(secs: f64, mut f: impl FnMut()) -> (f64, f64) {
    // Warm up (caches, CPU frequency), then count whole calls until the time is up.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        f();
    }
    let cpu0 = cpu_ns();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..8 {
            f();
        }
        n += 8;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    (n as f64 / cpu, n as f64 / wall)
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SIGN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let claims = json!({
        "iss": "http://127.0.0.1:3200", "sub": "client:0123456789abcdef0123456789",
        "aud": "http://127.0.0.1:3200", "client_id": "0123456789abcdef0123456789",
        "iat": 1_800_000_000, "exp": 1_800_000_300, "jti": "AbCdEfGhIjKlMnOpQrStUv", "scope": "api",
    });
    let msg = vec![b'e'; 330];
    println!("sign-limit: one thread, {secs} s per line; per second of this thread's CPU time (wall-clock rate in brackets)");
    println!("sign-limit\talg\traw_per_cpu_s\tjws_per_cpu_s\tus_per_raw\t(raw_per_wall_s)");
    for alg in [Alg::ES256, Alg::RS256, Alg::EdDSA] {
        let (der, _) = keys::generate(alg, "bench").expect("key generation");
        let key = LoadedKey::from_pkcs8("bench", alg, &der).expect("key parses");
        let (raw, raw_wall) = rate(secs, || {
            std::hint::black_box(key.sign(&msg).expect("sign"));
        });
        let (jws, _) = rate(secs, || {
            std::hint::black_box(jwt::sign(&key, Some("at+jwt"), &claims).expect("sign"));
        });
        println!(
            "sign-limit\t{alg}\t{raw:.0}\t{jws:.0}\t{:.1}\t({raw_wall:.0})",
            1e6 / raw
        );
    }
}
