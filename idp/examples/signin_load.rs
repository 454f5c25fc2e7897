//! Drives passkey ceremonies at a running provider, as many citizens at once:
//! each signs up (creating a passkey with a software authenticator), signs
//! out and signs in again. Prints throughput and latency; read the server's
//! memory from /proc while it runs (docs/benchmarks.md, "Memory under a
//! sign-in load").
//!
//! cargo run --release -p idp --features test-support --example signin_load -- http://localhost:8080 32 2000
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use idp::testing::browser::Browser;
use idp::testing::soft_passkey::SoftPasskey;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let issuer = args.next().unwrap_or_else(|| "http://localhost:8080".into());
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(32);
    let citizens: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let url = url::Url::parse(&issuer).expect("issuer URL");
    let addr: SocketAddr = ([127, 0, 0, 1], url.port_or_known_default().expect("port")).into();

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (issuer, next) = (issuer.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut timings = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < citizens {
                    let mut browser = Browser::at(&issuer, addr, SoftPasskey::new());
                    let t = Instant::now();
                    browser.sign_up("Camille", "Martin", None).await;
                    timings.push(("sign-up", t.elapsed()));
                    browser.sign_out().await;
                    let t = Instant::now();
                    browser.sign_in().await;
                    timings.push(("sign-in", t.elapsed()));
                }
                timings
            })
        })
        .collect();
    let mut timings = Vec::new();
    for worker in workers {
        timings.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    println!(
        "{citizens} citizens, {concurrency} at a time: {:.1} s, {:.0} ceremonies/s",
        elapsed.as_secs_f64(),
        timings.len() as f64 / elapsed.as_secs_f64()
    );
    for kind in ["sign-up", "sign-in"] {
        let mut these: Vec<Duration> = timings.iter().filter(|(k, _)| *k == kind).map(|(_, d)| *d).collect();
        these.sort();
        let at = |q: f64| these[((these.len() as f64 * q) as usize).min(these.len() - 1)];
        println!("{kind} (whole ceremony, 3-4 requests): p50 {:?}, p99 {:?}", at(0.5), at(0.99));
    }
}
