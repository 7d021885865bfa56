//! A bounded soak: mixed traffic (UDP echo, TCP echo, HTTP, DNS) plus SYN
//! floods and half-open clients, then checks that memory stayed flat, no
//! UMEM frame leaked and no connection outlived its timeouts. Short in the
//! suite (12 s of traffic); `scripts/soak.sh 600` (or `XSKD_SOAK_SECS=600
//! cargo test --test soak -- --nocapture`) runs long and prints the RSS
//! series, one sample per round.
//!
//! Memory is checked twice: against the baseline taken before any traffic
//! (first-use allocations such as the TCP ring pool must fit in
//! `FIRST_ROUND_KIB`), and as a plateau: once warm-up is over (a fifth of
//! the run, at least one round), RSS may not climb more than `PLATEAU_KIB`
//! above the warm-up sample. A round opens ~20 connections, so a leak of
//! about 1 KiB per connection fails the plateau in a 10-minute run (~200
//! rounds) while passing the baseline check of the short one.

use xskd_veth_tests as common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// Growth allowed from the idle baseline to the end of the run.
const FIRST_ROUND_KIB: u64 = 16 * 1024;
/// Growth allowed after warm-up (the plateau).
const PLATEAU_KIB: u64 = 4 * 1024;

/// The default SYN queue (128): half-open connections hold a TCB but no
/// rings (they come from the pool when the handshake completes), so the
/// floods cost little memory. (Before, each took 2 x 64 KiB at SYN time
/// and a 10-minute soak crept up ~1 MiB a minute as the pool filled.)
const CONFIG: &str = "[tcp]\nmsl_secs = 1\nsynack_retries = 2\nfin_wait2_timeout_secs = 2\nclose_wait_timeout_secs = 2\n\n[http]\nheader_timeout_ms = 2000\nidle_timeout_ms = 2000\n\n[dns]\nzone = \"xskd.test.\"\nrecords = [{ name = \"www\", ipv4 = \"198.18.0.1\" }]\n";

fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("xskd's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

fn connections_total(lab: &xskd::lab::Lab) -> u64 {
    let out = lab
        .xskd_ns_cmd("curl")
        .args(["-s", "http://127.0.0.1:9100/connections"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["total"].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn mixed_traffic_and_attacks_leave_memory_flat_and_nothing_stuck() {
    let secs: u64 = std::env::var("XSKD_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let (lab, xskd) = start_with("soak", 1, &[(0, None)], CONFIG);
    let pid = xskd.pid().expect("running");
    // Warm up every path once, then take the baseline.
    probe_ok(
        &lab,
        &[
            "udp-echo",
            "198.18.0.1:7",
            "--min",
            "1",
            "--max",
            "1472",
            "--step",
            "97",
        ],
    );
    probe_ok(&lab, &["tcp-echo", "198.18.0.1:7", "--bytes", "100000"]);
    peer_ok(
        &lab,
        "curl",
        &[
            "-sf",
            "-X",
            "PUT",
            "--data-binary",
            "soak",
            "http://198.18.0.1/soak",
        ],
    );
    let baseline = rss_kib(pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let warm_up = Duration::from_secs(secs / 5);
    // (seconds since start, RSS KiB) after each round.
    let mut series: Vec<(u64, u64)> = Vec::new();
    // Index in `series` of the first sample after warm-up.
    let mut plateau_from: Option<usize> = None;
    let mut rounds = 0u32;
    eprintln!("soak: {secs} s, baseline RSS {baseline} KiB");
    while Instant::now() < deadline {
        rounds += 1;
        // Half-open clients that never finish a request (slowloris) and
        // one that never closes: the timeouts must reap them.
        let mut holders: Vec<_> = (0..4)
            .map(|_| {
                let mut c = lab.peer_cmd("sh");
                c.args([
                    "-c",
                    "(printf 'GET / HTTP/1.1\\r\\nHo'; sleep 3) | nc -w 4 198.18.0.1 80",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
                c.spawn().unwrap()
            })
            .collect();
        // A bounded SYN flood at the HTTP port.
        let mut flood = lab.peer_cmd("timeout");
        flood
            .args([
                "1",
                "hping3",
                "-q",
                "-S",
                "--flood",
                "-p",
                "80",
                "198.18.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut flood = flood.spawn().unwrap();
        probe_ok(
            &lab,
            &[
                "udp-blast",
                "198.18.0.1:7",
                "--count",
                "5000",
                "--size",
                "200",
                "--min-ratio",
                "0.5",
            ],
        );
        probe_ok(
            &lab,
            &[
                "tcp-echo",
                "198.18.0.1:7",
                "--bytes",
                "200000",
                "--connections",
                "3",
            ],
        );
        for i in 0..5 {
            let url = format!("http://198.18.0.1/soak/{i}");
            peer_ok(
                &lab,
                "curl",
                &[
                    "-sf",
                    "--retry",
                    "3",
                    "-X",
                    "PUT",
                    "--data-binary",
                    "x",
                    &url,
                ],
            );
            peer_ok(&lab, "curl", &["-sf", "--retry", "3", &url]);
        }
        peer_ok(
            &lab,
            "dig",
            &["@198.18.0.1", "+short", "+tries=3", "www.xskd.test"],
        );
        let _ = flood.wait();
        for h in &mut holders {
            let _ = h.wait();
        }
        let t = start.elapsed();
        let rss = rss_kib(pid);
        series.push((t.as_secs(), rss));
        if plateau_from.is_none() && t >= warm_up {
            plateau_from = Some(series.len() - 1);
        }
        eprintln!(
            "soak: t={:>4} s round {rounds:>3} RSS {rss} KiB",
            t.as_secs()
        );
    }
    let from = plateau_from.expect("at least one round ran");
    let (t0, warm) = series[from];
    let (t_max, peak) = series[from..]
        .iter()
        .copied()
        .max_by_key(|&(_, r)| r)
        .unwrap();
    assert!(
        peak <= warm + PLATEAU_KIB,
        "RSS kept growing after warm-up: {warm} KiB at {t0} s, {peak} KiB at {t_max} s \
         (series {series:?})"
    );
    // Past every timeout (header 2 s, FIN-WAIT-2/CLOSE-WAIT 2 s, 2*MSL 2 s,
    // SYN-RECEIVED given up after 2 SYN-ACK retries, 1 + 2 + 4 s): nothing
    // may be left.
    let mut left = u64::MAX;
    for _ in 0..40 {
        left = connections_total(&lab);
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        left,
        0,
        "connections outlived their timeouts: {}",
        admin_get(&lab, "/connections").0
    );
    let end = rss_kib(pid);
    assert!(
        end < baseline + FIRST_ROUND_KIB,
        "RSS grew from {baseline} KiB to {end} KiB over {rounds} rounds (series {series:?})"
    );
    let report = xskd.stop().unwrap();
    let q = &report["queues"][0];
    assert_eq!(q["frames_accounted"], q["frame_count"], "{report:#}");
    assert!(
        sum_queues(&report, "/stack/tcp/syncookies_sent") > 0,
        "the floods hit the SYN queue: {report:#}"
    );
    eprintln!(
        "soak: {rounds} rounds in {secs} s, RSS {baseline} -> {warm} (warm, {t0} s) -> \
         peak {peak} -> {end} KiB"
    );
}
