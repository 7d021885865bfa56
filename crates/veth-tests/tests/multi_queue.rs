//! TCP and its services with one and with two queues (one worker each).
//! On a veth pair the queue a frame arrives on is the one the kernel peer
//! sent it from, picked per socket by a random hash: replies to xskd's
//! active opens and the flows of a passive load land on both queues, as
//! RSS spreads them on a NIC. Every test asserts zero failures, that each
//! queue carried traffic, and that what one worker handed to another was
//! taken up there (`xskd_handoffs_*`).

use xskd_veth_tests as common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use xskd::lab::{Lab, XskdProcess};

const HANDOFF_KINDS: [&str; 4] = ["tcp_owner", "tcp_search", "fragment", "tcp_icmp_error"];

/// HTTP on 80, HTTPS on 443 (generated certificate), DNS over UDP and TCP.
const SERVICES: &str = "[services]\nhttp_port = 80\n\n[https]\n\n[dns]\nzone = \"xskd.test.\"\ntcp = true\nrecords = [\n  { name = \"www\", ipv4 = \"198.18.0.1\" },\n]\n";

fn start_queues(tag: &str, queues: u32, extra: &str) -> (Lab, XskdProcess) {
    let qs: Vec<(u32, Option<usize>)> = (0..queues).map(|q| (q, None)).collect();
    start_with(tag, queues, &qs, extra)
}

fn queues(report: &Value) -> &Vec<Value> {
    report["queues"].as_array().expect("queues array")
}

fn count(q: &Value, pointer: &str) -> u64 {
    q.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Each queue received frames and `pointer` is non-zero on each.
fn assert_every_queue(report: &Value, pointer: &str) {
    for q in queues(report) {
        assert!(
            count(q, "/rx_frames") > 0 && count(q, pointer) > 0,
            "queue {} carried no {pointer}: {report:#}",
            q["queue"]
        );
    }
}

/// Everything handed over was taken up, nothing was refused, and a lone
/// worker handed nothing over.
fn assert_handoffs_balance(report: &Value) {
    let qs = queues(report);
    for kind in HANDOFF_KINDS {
        let sent: u64 = qs
            .iter()
            .map(|q| count(q, &format!("/stack/handoff/sent/{kind}")))
            .sum();
        let received: u64 = qs
            .iter()
            .map(|q| count(q, &format!("/stack/handoff/received/{kind}")))
            .sum();
        assert_eq!(sent, received, "{kind}: {report:#}");
        if qs.len() == 1 {
            assert_eq!(sent, 0, "{kind} with one worker: {report:#}");
        }
    }
    assert_eq!(
        sum_queues(report, "/stack/drops/handoff_full"),
        0,
        "{report:#}"
    );
}

fn handoffs_sent(report: &Value, kind: &str) -> u64 {
    sum_queues(report, &format!("/stack/handoff/sent/{kind}"))
}

/// Sum over the queues of a `kind`-labelled handoff counter in metrics text.
fn metric_sum(text: &str, name: &str, kind: &str) -> f64 {
    let prefix = format!("{name}{{kind=\"{kind}\",");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `/metrics` shows `kind` handed over and taken up, per queue (the
/// workers' snapshots come every 250 ms: looked at for up to 5 s).
fn assert_handoffs_in_metrics(lab: &Lab, kind: &str) {
    let mut text = String::new();
    for _ in 0..50 {
        text = admin_get(lab, "/metrics").0;
        if metric_sum(&text, "xskd_handoffs_received_total", kind) > 0.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        metric_sum(&text, "xskd_handoffs_sent_total", kind) > 0.0,
        "{text}"
    );
    assert!(
        metric_sum(&text, "xskd_handoffs_received_total", kind) > 0.0,
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "xskd_handoffs_sent_total{{kind=\"{kind}\",queue=\"1\",worker=\"1\"}}"
        )),
        "{text}"
    );
    assert_promtool_accepts(&text);
}

// ---- active opens: `xskd tcp-probe` to a kernel echo server ----

const PROBES: usize = 50;

fn active_opens(tag: &str, nq: u32) {
    let (lab, xskd) = start_queues(tag, nq, "");
    let mut server = lab
        .peer_cmd("socat")
        .args([
            "-T",
            "10",
            "TCP-LISTEN:9000,bind=198.18.0.2,reuseaddr,fork",
            "PIPE",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut failures = Vec::new();
    for i in 0..PROBES {
        let msg = format!("probe {i} from the bypass stack");
        let worker = (i % nq as usize).to_string();
        let out = lab
            .xskd_ns_cmd(xskd_bin())
            .args([
                "tcp-probe",
                "198.18.0.2:9000",
                "--send",
                &msg,
                "--timeout-ms",
                "5000",
                "--worker",
                &worker,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Option<Value> = serde_json::from_str(text.trim()).ok();
        if v.as_ref().map(|v| &v["answer"]) != Some(&Value::from(msg.clone())) {
            failures.push(format!(
                "#{i} on worker {worker}: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    if nq > 1 {
        assert_handoffs_in_metrics(&lab, "tcp_owner");
    }
    let report = xskd.stop().unwrap();
    assert!(failures.is_empty(), "{failures:#?}\n{report:#}");
    for q in queues(&report) {
        assert_eq!(
            count(q, "/stack/tcp/active_opens"),
            (PROBES / nq as usize) as u64,
            "every worker connected its share: {report:#}"
        );
    }
    assert_eq!(sum_queues(&report, "/stack/tcp/out_rsts"), 0, "{report:#}");
    assert_eq!(
        sum_queues(&report, "/stack/drops/tcp_no_listener"),
        0,
        "{report:#}"
    );
    assert_handoffs_balance(&report);
    if nq > 1 {
        // Half the replies land on the other worker's queue (2^-50 that
        // none does): they were handed to the worker that connected.
        assert!(handoffs_sent(&report, "tcp_owner") > 0, "{report:#}");
    }
}

#[test]
fn fifty_active_opens_one_queue() {
    active_opens("mqopen1", 1);
}

#[test]
fn fifty_active_opens_two_queues_reach_the_worker_that_connected() {
    active_opens("mqopen2", 2);
}

// ---- HTTP and HTTPS: wrk with 100 connections, keep-alive and close ----

/// `wrk` for 2 s with 100 connections: zero socket errors, zero non-2xx.
fn wrk_clean(lab: &Lab, url: &str, close: bool) {
    let mut args = vec!["-t2", "-c100", "-d2s", "--timeout", "5s"];
    if close {
        args.extend_from_slice(&["-H", "Connection: close"]);
    }
    args.push(url);
    let out = peer_ok(lab, "wrk", &args);
    eprintln!("{out}");
    assert!(!out.contains("Socket errors"), "{out}");
    assert!(!out.contains("Non-2xx"), "{out}");
    let requests: u64 = out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count:\n{out}"));
    assert!(requests >= 100, "{out}");
}

fn put_object(lab: &Lab) {
    let code = peer_ok(
        lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "--data-binary",
            "0123456789abcdef",
            "http://198.18.0.1/w",
        ],
    );
    assert_eq!(code, "201");
}

fn web_load(tag: &str, nq: u32, url: &str) {
    let (lab, xskd) = start_queues(tag, nq, SERVICES);
    put_object(&lab);
    wrk_clean(&lab, url, false);
    wrk_clean(&lab, url, true);
    let report = xskd.stop().unwrap();
    assert_every_queue(&report, "/stack/tcp/passive_opens");
    assert_handoffs_balance(&report);
    assert_eq!(handoffs_sent(&report, "tcp_owner"), 0, "{report:#}");
}

#[test]
fn http_wrk_one_queue() {
    web_load("mqhttp1", 1, "http://198.18.0.1/w");
}

#[test]
fn http_wrk_two_queues() {
    web_load("mqhttp2", 2, "http://198.18.0.1/w");
}

#[test]
fn https_wrk_one_queue() {
    web_load("mqtls1", 1, "https://198.18.0.1/w");
}

#[test]
fn https_wrk_two_queues() {
    web_load("mqtls2", 2, "https://198.18.0.1/w");
}

// ---- DNS over TCP: 100 connections of 5 queries each, 100 of one ----

const DNS_TCP_CLIENT: &str = r#"
import socket, struct, json
def query(qid):
    name = b"".join(bytes([len(p)]) + p for p in b"www.xskd.test".split(b".")) + b"\0"
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
    return struct.pack(">H", len(q)) + q
def answer(s, qid):
    def exactly(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError("closed")
            b += c
        return b
    (n,) = struct.unpack(">H", exactly(2))
    r = exactly(n)
    rid, flags, _, an = struct.unpack(">HHHH", r[:8])
    return rid == qid and flags & 0x8000 and flags & 0xf == 0 and an == 1
ok, errors = 0, []
def run(s, qid):
    global ok
    try:
        s.sendall(query(qid))
        if answer(s, qid):
            ok += 1
        else:
            errors.append(f"{qid}: bad answer")
    except Exception as e:
        errors.append(f"{qid}: {e!r}")
socks = [socket.create_connection(("198.18.0.1", 53), timeout=5) for _ in range(100)]
for rnd in range(5):
    for i, s in enumerate(socks):
        run(s, rnd * 100 + i)
for s in socks:
    s.close()
for i in range(100):
    with socket.create_connection(("198.18.0.1", 53), timeout=5) as s:
        run(s, 1000 + i)
print(json.dumps({"ok": ok, "errors": errors[:10]}))
"#;

fn dns_tcp_load(tag: &str, nq: u32) {
    let (lab, xskd) = start_queues(tag, nq, SERVICES);
    let out = peer_ok(&lab, "python3", &["-c", DNS_TCP_CLIENT]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], 600, "{v}");
    let report = xskd.stop().unwrap();
    assert_every_queue(
        &report,
        "/stack/services/53~1tcp~1dns_tcp_connections_total",
    );
    assert_eq!(
        sum_queues(
            &report,
            "/stack/services/53~1tcp~1dns_tcp_connections_total"
        ),
        200,
        "{report:#}"
    );
    assert_handoffs_balance(&report);
}

#[test]
fn dns_over_tcp_one_queue() {
    dns_tcp_load("mqdns1", 1);
}

#[test]
fn dns_over_tcp_two_queues() {
    dns_tcp_load("mqdns2", 2);
}

// ---- IPv4 fragments of one datagram on different queues ----

/// UDP echo datagrams of 3000 bytes in three fragments, sent from a raw
/// socket that bypasses the qdisc: the veth then delivers each frame to
/// the queue numbered after the CPU that sent it, and the sender moves to
/// another CPU between fragments.
const FRAGMENT_SENDER: &str = r#"
import os, socket, struct, sys, json
iface, dst_mac, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
src_mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
SRC, DST = socket.inet_aton("198.18.0.2"), socket.inet_aton("198.18.0.1")
cpus = sorted(os.sched_getaffinity(0))
even = [c for c in cpus if c % 2 == 0][:1]
odd = [c for c in cpus if c % 2 == 1][:1]
cpus = even + odd
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.setsockopt(263, 20, 1)  # SOL_PACKET, PACKET_QDISC_BYPASS
raw.bind((iface, 0))
answered = 0
for i in range(count):
    port = 30000 + i
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("198.18.0.2", port))
    rx.settimeout(3)
    data = bytes((j * 7 + i) % 256 for j in range(3000))
    ulen = 8 + len(data)
    udp = struct.pack("!HHHH", port, 7, ulen, 0) + data
    c = csum(SRC + DST + struct.pack("!BBH", 0, 17, ulen) + udp) or 0xffff
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    for k, off in enumerate(range(0, len(udp), 1480)):
        chunk = udp[off:off + 1480]
        flags = (0x2000 if off + 1480 < len(udp) else 0) | (off // 8)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(chunk), 0x5000 + i, flags, 64, 17, 0, SRC, DST)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        os.sched_setaffinity(0, {cpus[(k + i) % len(cpus)]})
        raw.send(dst_mac + src_mac + b"\x08\x00" + hdr + chunk)
    try:
        got, _ = rx.recvfrom(65535)
        answered += got == data
    except socket.timeout:
        pass
    rx.close()
print(json.dumps({"answered": answered, "cpus": cpus}))
"#;

const DATAGRAMS: u64 = 20;

fn fragments(tag: &str, nq: u32) {
    let (lab, xskd) = start_queues(tag, nq, "");
    // The first echo resolves the peer's MAC, so no datagram waits on ARP.
    probe_ok(
        &lab,
        &["udp-echo", "198.18.0.1:7", "--min", "10", "--max", "10"],
    );
    let out = peer_ok(
        &lab,
        "python3",
        &[
            "-c",
            FRAGMENT_SENDER,
            &lab.if_peer,
            &mac_of(&lab),
            &DATAGRAMS.to_string(),
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let report = xskd.stop().unwrap();
    assert_eq!(v["answered"], DATAGRAMS, "{v}\n{report:#}");
    assert_eq!(
        sum_queues(&report, "/stack/ipv4_reassembled"),
        DATAGRAMS,
        "{report:#}"
    );
    assert_eq!(
        sum_queues(&report, "/stack/ipv4_fragments_rx"),
        DATAGRAMS * 3,
        "{report:#}"
    );
    // The fragments really did arrive on every queue.
    assert_every_queue(&report, "/stack/ipv4_fragments_rx");
    assert_handoffs_balance(&report);
    if nq > 1 {
        assert!(
            handoffs_sent(&report, "fragment") >= DATAGRAMS,
            "{report:#}"
        );
    }
}

#[test]
fn fragments_one_queue() {
    fragments("mqfrag1", 1);
}

#[test]
fn fragments_split_over_two_queues_are_reassembled() {
    fragments("mqfrag2", 2);
}
