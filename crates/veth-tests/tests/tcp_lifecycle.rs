//! TCP over a real veth pair: the Linux kernel as the peer, xskd's TCP echo
//! and discard services on top of the bypass stack.

use xskd_veth_tests as common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// Lines of `ss -tan` in the peer namespace for connections to xskd.
fn peer_ss(lab: &xskd::lab::Lab) -> String {
    peer_ok(lab, "ss", &["-tanH", "dst", "198.18.0.1"])
}

#[test]
fn kernel_client_echo_is_byte_exact_with_half_close() {
    let (lab, xskd) = start("tcpecho");
    let out = probe_ok(
        &lab,
        &[
            "tcp-echo",
            "198.18.0.1:7",
            "--bytes",
            "2000000",
            "--connections",
            "3",
        ],
    );
    assert!(out.contains("3 connection(s)"), "{out}");
    // The client closed first (its FIN, then ours): TIME-WAIT is on the
    // kernel side, and nothing is stuck half-closed.
    let ss = peer_ss(&lab);
    assert!(
        ss.contains("TIME-WAIT"),
        "client should hold TIME-WAIT:\n{ss}"
    );
    assert!(
        !ss.contains("CLOSE-WAIT") && !ss.contains("FIN-WAIT-2"),
        "{ss}"
    );
    let report = xskd.stop().unwrap();
    assert_eq!(
        sum_queues(&report, "/stack/tcp/passive_opens"),
        3,
        "{report:#}"
    );
}

#[test]
fn netcat_round_trip_and_discard() {
    let (lab, xskd) = start("tcpnc");
    let mut c = lab.peer_cmd("sh");
    c.args(["-c", "printf 'hello xskd\\n' | nc -N -w 5 198.18.0.1 7"]);
    let out = c.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello xskd\n",
        "{out:?}"
    );
    let mut c = lab.peer_cmd("sh");
    c.args([
        "-c",
        "head -c 300000 /dev/zero | nc -N -w 5 198.18.0.1 9; echo rc=$?",
    ]);
    let out = c.output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rc=0"),
        "{out:?}"
    );
    xskd.stop().unwrap();
}

#[test]
fn syn_to_closed_port_is_refused_with_rst() {
    let (lab, xskd) = start("tcprst");
    let started = Instant::now();
    let out = peer(&lab, "nc", &["-z", "-w", "3", "198.18.0.1", "81"]);
    assert!(!out.status.success(), "port 81 must be closed");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused by RST, not timed out"
    );
    let report = xskd.stop().unwrap();
    assert!(
        sum_queues(&report, "/stack/tcp/out_rsts") >= 1,
        "{report:#}"
    );
}

#[test]
fn connections_show_in_the_admin_endpoint_while_open() {
    let (lab, xskd) = start("tcpss");
    // Hold a connection open with a slow client.
    let mut hold = lab.peer_cmd("sh");
    hold.args(["-c", "(printf x; sleep 3) | nc -w 5 198.18.0.1 9"]);
    let mut child = hold.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    while Instant::now() < deadline {
        let out = lab
            .xskd_ns_cmd(xskd_bin())
            .args(["ss", "--state", "established"])
            .output()
            .unwrap();
        seen = String::from_utf8_lossy(&out.stdout).into_owned();
        if seen.contains("ESTABLISHED") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.wait();
    assert!(
        seen.contains("ESTABLISHED") && seen.contains("198.18.0.1:9"),
        "{seen}"
    );
    // `xskd ss | head`: a reader that is already gone is a quiet exit,
    // not a panic about a broken pipe. The read end is closed before xskd
    // writes, so its first write fails with EPIPE every time.
    for args in [&["ss"][..], &["stats"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = lab
            .xskd_ns_cmd(xskd_bin())
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "xskd {args:?} into a closed pipe: {} {stderr}",
            out.status
        );
    }
    xskd.stop().unwrap();
}

#[test]
fn xskd_connects_out_to_a_kernel_server_and_closes_first() {
    let (lab, xskd) = start("tcpout");
    // A kernel echo server in the peer namespace, for one connection.
    let mut server = lab.peer_cmd("socat");
    server.args([
        "-T",
        "10",
        "TCP-LISTEN:9000,bind=198.18.0.2,reuseaddr",
        "PIPE",
    ]);
    let mut server = server.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = lab
        .xskd_ns_cmd(xskd_bin())
        .args([
            "tcp-probe",
            "198.18.0.2:9000",
            "--send",
            "hello from the bypass stack",
        ])
        .output()
        .unwrap();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["answer"], "hello from the bypass stack", "{v:#}");
    // We sent FIN first, so TIME-WAIT is ours (2*MSL = 60 s by default).
    assert_eq!(v["final_state"], "TIME-WAIT", "{v:#}");
    let port = v["local_port"].as_u64().unwrap();
    assert!(
        (49152..=65535).contains(&port),
        "ephemeral port from the IANA range: {port}"
    );
    let mut rows = String::new();
    for _ in 0..20 {
        let o = lab
            .xskd_ns_cmd(xskd_bin())
            .args(["ss", "--state", "time-wait"])
            .output()
            .unwrap();
        rows = String::from_utf8_lossy(&o.stdout).into_owned();
        if rows.contains(&format!("198.18.0.1:{port}")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        rows.contains("TIME-WAIT") && rows.contains("198.18.0.2:9000"),
        "{rows}"
    );
    // The kernel side is fully closed: nothing in FIN-WAIT-2 or CLOSE-WAIT.
    let ss = peer_ok(&lab, "ss", &["-tanH", "sport", "9000"]);
    assert!(
        !ss.contains("CLOSE-WAIT") && !ss.contains("FIN-WAIT"),
        "{ss}"
    );
    let report = xskd.stop().unwrap();
    assert_eq!(
        sum_queues(&report, "/stack/tcp/active_opens"),
        1,
        "{report:#}"
    );
}

#[test]
fn connect_out_to_a_closed_port_reports_refused() {
    let (lab, xskd) = start("tcpoutrst");
    let out = lab
        .xskd_ns_cmd(xskd_bin())
        .args([
            "tcp-probe",
            "198.18.0.2:9001",
            "--send",
            "x",
            "--timeout-ms",
            "3000",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("refused"), "{text}");
    xskd.stop().unwrap();
}
