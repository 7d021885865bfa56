//! Connection-table exhaustion from many sources with real kernel
//! connections (tests/attacks/conn_hold.py), against a small `max_conns`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout};

use super::*;

const MAX_CONNS: u64 = 64;
/// 50 addresses x 2 connections: 36 more than the table holds.
const ADDRS: u8 = 50;
const PER_ADDR: u64 = 2;
const CONFIG: &str = "[tcp]\nmax_conns = 64\n";

/// Live connections from the admin endpoint (listeners not included).
fn connections_total(lab: &Lab) -> u64 {
    let out = lab
        .xskd_ns_cmd("curl")
        .args(["-s", "http://127.0.0.1:9100/connections"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total in /connections: {v}"))
}

/// `key=value` lines from the holder until `until`.
fn read_until(out: &mut BufReader<ChildStdout>, until: &str) -> HashMap<String, String> {
    let mut r = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "conn_hold.py ended before {until:?}: {r:?}");
        let l = line.trim();
        if l == until || l.starts_with(until) {
            if let Some((k, v)) = l.split_once('=') {
                r.insert(k.to_string(), v.to_string());
            }
            return r;
        }
        if let Some((k, v)) = l.split_once('=') {
            r.insert(k.to_string(), v.to_string());
        }
    }
}

fn wait_ok(child: Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{what}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A client that sends its request in one segment and keeps its side
/// open until the answer comes (so every retransmission of it starts at
/// ISN+1, the only segment a SYN cookie can be checked on).
const ONE_SEGMENT_CLIENT: &str = "import socket\n\
s = socket.create_connection(('198.18.0.1', 7), timeout=20)\n\
s.sendall(b'at the bound\\n')\n\
print(s.recv(100).decode(), end='')\n";

/// At `tcp.max_conns` a new SYN is dropped and counted
/// (`tcp_conn_table_full`), not answered with a SYN cookie (the table,
/// not the listener's SYN queue, is the limit: a cookie would promise a
/// connection there is no slot for). The client's SYN retransmission gets
/// in as soon as a slot frees. Nothing grows past the bound, a client
/// waiting at the bound is served once some attackers close, and when
/// they all close the table is back to empty.
#[test]
fn connection_table_exhaustion_from_many_sources_is_bounded_and_recovers() {
    exhaust_the_table_then_free_slots("atkconns", &["/usr/bin/python3", "-c", ONE_SEGMENT_CLIENT]);
}

/// The same with a client that sends its data and then FIN right away
/// (`nc -N`). When the table-full path answered SYNs with cookies, the
/// data (at ISN+1) was dropped and the FIN, at ISN+14, could not be checked
/// against the cookie, so the listener reset the client. Now a SYN at a
/// full table is dropped and the client's SYN retransmission connects once
/// a slot frees.
#[test]
fn client_at_the_bound_that_sent_data_and_fin_is_served_once_a_slot_frees() {
    exhaust_the_table_then_free_slots(
        "atkconnf",
        &[
            "sh",
            "-c",
            "printf 'at the bound\\n' | nc -N -w 20 198.18.0.1 7",
        ],
    );
}

fn exhaust_the_table_then_free_slots(tag: &str, client: &[&str]) {
    let g = LOAD.read().unwrap_or_else(|e| e.into_inner());
    let (lab, xskd) = common::start_with(tag, 1, &[(0, None)], CONFIG);
    let _load = LoadGuard::Shared(g);
    let addrs: Vec<String> = (0..ADDRS)
        .map(|i| format!("198.18.0.{}", 100 + i))
        .collect();
    for a in &addrs {
        peer_ok(
            &lab,
            "ip",
            &["addr", "add", &format!("{a}/24"), "dev", &lab.if_peer],
        );
    }
    // An object for the HTTP client to fetch while the table is full.
    peer_ok(
        &lab,
        "curl",
        &[
            "-sf",
            "-X",
            "PUT",
            "--data-binary",
            "still served",
            "http://198.18.0.1/held",
        ],
    );
    assert_still_serving(&lab);
    let baseline = connections_total(&lab);
    assert_eq!(baseline, 0, "nothing open before the attack");
    let rss_before = rss_kib(&xskd);

    let per_addr = PER_ADDR.to_string();
    let list = addrs.join(",");
    let mut holder = lab
        .peer_cmd("/usr/bin/python3")
        .args([CONN_HOLD, "198.18.0.1", "7", &per_addr, &list])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    let mut stdout = BufReader::new(holder.stdout.take().unwrap());
    let r = read_until(&mut stdout, "ready");
    eprintln!("conn_hold: {r:?}");
    let total = u64::from(ADDRS) * PER_ADDR;
    // Only the admitted ones connect; the others' SYNs are dropped.
    let connected: u64 = key(&r, "connected").parse().unwrap();
    assert_eq!(connected, MAX_CONNS, "{r:?}");
    assert_eq!(key(&r, "served"), MAX_CONNS.to_string(), "{r:?}");
    assert_eq!(key(&r, "reset"), (total - MAX_CONNS).to_string(), "{r:?}");
    assert_eq!(connections_total(&lab), MAX_CONNS, "the table is full");

    // Clients arriving at the bound: their SYNs wait for a slot.
    let echo = lab
        .peer_cmd(client[0])
        .args(&client[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let curl = lab
        .peer_cmd("curl")
        .args(["-sf", "--max-time", "25", "http://198.18.0.1/held"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        connections_total(&lab),
        MAX_CONNS,
        "never more than max_conns"
    );
    // Ten attackers leave: the waiting clients get in.
    let t = Instant::now();
    writeln!(stdin, "close 10").unwrap();
    read_until(&mut stdout, "closed");
    assert_eq!(wait_ok(echo, "echo client at the bound"), "at the bound\n");
    assert_eq!(wait_ok(curl, "curl at the bound"), "still served");
    eprintln!("waiting clients served {:?} after slots freed", t.elapsed());
    assert!(connections_total(&lab) <= MAX_CONNS);
    assert_rss_flat(rss_before, rss_kib(&xskd), "connection table full");

    writeln!(stdin, "close all").unwrap();
    read_until(&mut stdout, "closed");
    assert!(holder.wait().unwrap().success());
    let mut left = u64::MAX;
    for _ in 0..40 {
        left = connections_total(&lab);
        if left == baseline {
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(left, baseline, "the table returns to its baseline");
    assert_still_serving(&lab);
    let report = stop_checked(xskd);
    // Every SYN past the bound was dropped as table-full, none cookie'd.
    assert!(
        drops(&report, "tcp_conn_table_full") >= total - MAX_CONNS,
        "{report:#}"
    );
    assert_eq!(tcp_counter(&report, "syncookies_sent"), 0, "{report:#}");
}

const CONN_HOLD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/attacks/conn_hold.py");
