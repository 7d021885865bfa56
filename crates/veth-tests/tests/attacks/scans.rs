//! nmap scans beyond SYN/FIN/Xmas/ACK (those are in attacks.rs): a UDP
//! scan, a null scan and OS detection, each while a well-behaved client
//! keeps using xskd.

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// DNS on, so the UDP scan has a second open port.
const DNS: &str =
    "[dns]\nzone = \"xskd.test.\"\nrecords = [{ name = \"www\", ipv4 = \"198.18.0.1\" }]\n";

/// Run `scan` while a second thread keeps making TCP echo round trips
/// (each must succeed); the scan's result and how many round trips ran.
fn while_serving<R>(lab: &Lab, scan: impl FnOnce() -> R) -> (R, u32) {
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let client = s.spawn(|| {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                let mut c = lab.peer_cmd("sh");
                c.args(["-c", "printf 'during scan\\n' | nc -N -w 5 198.18.0.1 7"]);
                let out = c.output().unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    "during scan\n",
                    "TCP echo during the scan failed after {n} round trips: {out:?}"
                );
                n += 1;
                thread::sleep(Duration::from_millis(100));
            }
            n
        });
        let r = scan();
        done.store(true, Ordering::Relaxed);
        let n = client.join().expect("the concurrent client");
        (r, n)
    })
}

fn port_lines<'a>(out: &'a str, proto: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with(proto))
        })
        .collect()
}

fn state_of<'a>(lines: &[&'a str], port: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(port))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{port} not in the scan: {lines:?}"))
}

/// UDP: echo (7) and DNS (53) answer nmap's protocol payloads, so they are
/// `open`; closed ports answer ICMP port unreachable (RFC 1122 4.1.3.1),
/// so they are `closed`. The unreachables are rate limited (100/s, burst
/// 50: `icmp_rate_limited`); a handful of ports stays under the burst.
#[test]
fn nmap_udp_scan_sees_echo_and_dns_open_and_closed_ports_closed() {
    let g = LOAD.read().unwrap_or_else(|e| e.into_inner());
    let (lab, xskd) = common::start_with("atknmapu", 1, &[(0, None)], DNS);
    let _load = LoadGuard::Shared(g);
    let (out, served) = while_serving(&lab, || {
        peer_ok(
            &lab,
            "nmap",
            &[
                "-sU",
                "-n",
                "-Pn",
                "-p",
                "7,9,53,54,161,1000",
                "--max-retries",
                "2",
                "--host-timeout",
                "30s",
                "198.18.0.1",
            ],
        )
    });
    eprintln!("nmap -sU ({served} echo round trips meanwhile):\n{out}");
    let lines = port_lines(&out, "/udp");
    assert_eq!(state_of(&lines, "7/udp"), "open", "{out}");
    assert_eq!(state_of(&lines, "53/udp"), "open", "{out}");
    for closed in ["9/udp", "54/udp", "161/udp", "1000/udp"] {
        assert_eq!(state_of(&lines, closed), "closed", "{out}");
    }
    assert!(served >= 1, "no echo round trip during the scan");
    assert_still_serving(&lab);
    let report = stop_checked(xskd);
    // Four closed ports, each probed at least once: each got an unreachable.
    assert!(drops(&report, "udp_no_listener") >= 4, "{report:#}");
    assert!(
        sum_queues(&report, "/stack/icmp_errors_sent") >= 4,
        "{report:#}"
    );
}

/// Null segments (no control bit) are dropped and counted (`tcp_bad_flags`)
/// whatever the port, so a null scan learns nothing: every port is
/// `open|filtered`, the open ones (7, 9) as much as the closed.
#[test]
fn nmap_null_scan_learns_nothing_and_xskd_stays_up() {
    let (lab, xskd, _load) = start("atknmapn");
    let (out, served) = while_serving(&lab, || {
        peer_ok(
            &lab,
            "nmap",
            &[
                "-sN",
                "-n",
                "-Pn",
                "-p",
                "1-20",
                "--max-retries",
                "0",
                "--host-timeout",
                "10s",
                "198.18.0.1",
            ],
        )
    });
    eprintln!("nmap -sN ({served} echo round trips meanwhile):\n{out}");
    // nmap folds 20 ports of one state into "All 20 scanned ports ...".
    assert!(
        out.contains("All 20 scanned ports on 198.18.0.1 are in ignored states")
            && out.contains("open|filtered")
            || port_lines(&out, "/tcp")
                .iter()
                .all(|l| l.contains("open|filtered")),
        "{out}"
    );
    assert!(!out.contains(" closed"), "{out}");
    assert!(served >= 1, "no echo round trip during the scan");
    assert_still_serving(&lab);
    let report = stop_checked(xskd);
    assert!(drops(&report, "tcp_bad_flags") >= 20, "{report:#}");
}

/// OS detection sends nmap's odd probes (T2-T7 with strange flags to open
/// and closed ports, an ICMP echo with code 9, a UDP probe to a closed
/// port): it completes, xskd survives and serves throughout. What nmap
/// guesses is printed for the record.
#[test]
fn nmap_os_detection_completes_and_xskd_keeps_serving() {
    let (lab, xskd, _load) = start("atknmapo");
    let (out, served) = while_serving(&lab, || {
        peer_ok(
            &lab,
            "nmap",
            &[
                "-O",
                "--osscan-guess",
                "-n",
                "-Pn",
                "-p",
                "1,7,9,80",
                "--max-retries",
                "1",
                "--host-timeout",
                "60s",
                "198.18.0.1",
            ],
        )
    });
    let guess: Vec<&str> = out
        .lines()
        .filter(|l| {
            [
                "Running",
                "OS details",
                "Aggressive OS",
                "No exact OS",
                "Too many",
                "Device type",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect();
    eprintln!("nmap -O guess: {guess:?} ({served} echo round trips meanwhile)\n{out}");
    assert!(out.contains("Nmap done: 1 IP address (1 host up)"), "{out}");
    let lines = port_lines(&out, "/tcp");
    assert_eq!(state_of(&lines, "7/tcp"), "open", "{out}");
    assert_eq!(state_of(&lines, "1/tcp"), "closed", "{out}");
    assert!(served >= 1, "no echo round trip during the scan");
    assert_still_serving(&lab);
    let report = stop_checked(xskd);
    eprintln!(
        "drops after -O: {:#}\nICMP echo requests {} replies {}",
        report["queues"][0]["stack"]["drops"],
        sum_queues(&report, "/stack/icmp_echo_requests_rx"),
        sum_queues(&report, "/stack/icmp_echo_replies_tx")
    );
}
