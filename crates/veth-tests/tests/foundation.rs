//! Foundation over a real veth pair and real AF_XDP sockets: ARP, ICMP,
//! UDP echo, XDP_PASS for the kernel's own traffic, two queues on two
//! workers, frame accounting, program lifecycle.

use xskd_veth_tests as common;

use std::path::Path;

use common::*;
use xskd::lab::{Lab, XSKD_IP, XSKD_SIDE_KERNEL_IP};

const TARGET_ECHO: &str = "198.18.0.1:7";

#[test]
fn ping_answers_every_size_up_to_reassembly_limit() {
    let (lab, xskd) = start("ping");
    for size in ["0", "56", "1472", "4000", "65000"] {
        let out = peer_ok(
            &lab,
            "ping",
            &[
                "-c",
                "3",
                "-i",
                "0.05",
                "-W",
                "2",
                "-s",
                size,
                &XSKD_IP.to_string(),
            ],
        );
        assert_eq!(ping_loss(&out), 0.0, "ping -s {size}:\n{out}");
    }
    let report = xskd.stop().unwrap();
    assert!(sum_queues(&report, "/rx_frames") > 0);
}

#[test]
fn flood_ping_loses_nothing() {
    let (lab, xskd) = start("flood");
    let out = peer_ok(
        &lab,
        "ping",
        &["-f", "-c", "20000", "-W", "2", &XSKD_IP.to_string()],
    );
    assert_eq!(ping_loss(&out), 0.0, "{out}");
    xskd.stop().unwrap();
}

#[test]
fn arping_gets_our_mac() {
    let (lab, xskd) = start("arping");
    let mac = mac_of(&lab);
    let out = peer_ok(
        &lab,
        "arping",
        &[
            "-c",
            "2",
            "-w",
            "5",
            "-I",
            &lab.if_peer,
            &XSKD_IP.to_string(),
        ],
    );
    assert!(
        out.to_lowercase().contains(&mac.to_lowercase()),
        "arping should show {mac}:\n{out}"
    );
    xskd.stop().unwrap();
}

#[test]
fn udp_echo_is_byte_exact_for_every_size() {
    let (lab, xskd) = start("udpecho");
    let out = probe_ok(
        &lab,
        &["udp-echo", TARGET_ECHO, "--min", "1", "--max", "1472"],
    );
    assert!(out.contains("1472 sizes"), "{out}");
    let report = xskd.stop().unwrap();
    assert!(
        sum_queues(&report, "/stack/udp_rx_datagrams") >= 1472,
        "{report:#}"
    );
}

#[test]
fn closed_udp_port_brings_back_port_unreachable() {
    let (lab, xskd) = start("closed");
    probe_ok(&lab, &["udp-closed", "198.18.0.1:9999"]);
    let report = xskd.stop().unwrap();
    assert!(
        sum_queues(&report, "/stack/icmp_errors_sent") >= 1,
        "{report:#}"
    );
}

#[test]
fn traffic_for_other_addresses_still_reaches_the_kernel() {
    let (lab, xskd) = start("xdppass");
    // The kernel owns 198.18.0.3 on the same interface xskd serves.
    let out = peer_ok(
        &lab,
        "ping",
        &[
            "-c",
            "3",
            "-i",
            "0.05",
            "-W",
            "2",
            &XSKD_SIDE_KERNEL_IP.to_string(),
        ],
    );
    assert_eq!(ping_loss(&out), 0.0, "{out}");
    // And xskd keeps answering for its own address meanwhile.
    probe_ok(
        &lab,
        &["udp-echo", TARGET_ECHO, "--min", "100", "--max", "100"],
    );
    let report = xskd.stop().unwrap();
    assert!(report["xdp"]["passed"].as_u64().unwrap() >= 3, "{report:#}");
    assert!(
        report["xdp"]["redirected"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
}

#[test]
fn two_queues_two_workers_both_answer() {
    let (lab, xskd) = start_with("twoq", 2, &[(0, Some(0)), (1, Some(1))], "");
    probe_ok(&lab, &["udp-flows", TARGET_ECHO, "--flows", "64"]);
    let report = xskd.stop().unwrap();
    let queues = report["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 2, "{report:#}");
    for q in queues {
        assert!(
            q["rx_frames"].as_u64().unwrap() > 0 && q["tx_frames"].as_u64().unwrap() > 0,
            "both queues must receive and answer: {report:#}"
        );
    }
}

#[test]
fn umem_frames_are_never_leaked() {
    let (lab, xskd) = start("noleak");
    let out = probe_ok(
        &lab,
        &[
            "udp-blast",
            TARGET_ECHO,
            "--count",
            "150000",
            "--size",
            "64",
        ],
    );
    assert!(out.contains("echoed"), "{out}");
    let report = xskd.stop().unwrap();
    let q = &report["queues"][0];
    let frames = q["frame_count"].as_u64().unwrap();
    assert!(q["rx_frames"].as_u64().unwrap() >= 150_000, "{report:#}");
    assert_eq!(
        q["frames_accounted"].as_u64().unwrap(),
        frames,
        "{report:#}"
    );
    // Everything not lent to the fill ring is back in the free pool.
    assert_eq!(
        q["frames_free"].as_u64().unwrap(),
        frames - 2048,
        "{report:#}"
    );
}

/// A program named like ours, attached through netlink: what an xskd from
/// before BPF links left behind after a crash.
const STALE_PROGRAM: &str = "#define SEC(n) __attribute__((section(n), used))\n\
SEC(\"xdp\") int xskd_steer(void *ctx) { return 2; /* XDP_PASS */ }\n\
char _license[] SEC(\"license\") = \"GPL\";\n";

#[test]
fn program_is_detached_on_exit_and_on_a_crash_and_a_stale_one_replaced() {
    require_root();
    let lab = Lab::create("lifecycle", 1).unwrap();
    let cfg = test_config(&lab, &[(0, None)], "");
    let path = lab.write_config(&cfg).unwrap();
    let xdp_attached = |lab: &Lab| {
        let out = lab
            .xskd_ns_cmd("ip")
            .args(["link", "show", "dev", &lab.if_xskd])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
    };
    // The program hangs on a BPF link: a crash (SIGKILL) detaches it with
    // the process, and the kernel's own traffic flows again.
    let crashed = lab.spawn_xskd(Path::new(xskd_bin()), &path).unwrap();
    assert!(xdp_attached(&lab));
    drop(crashed);
    assert!(!xdp_attached(&lab), "SIGKILL detaches the program");
    // A stale netlink-attached one is replaced, and the next start serves.
    let src = lab.dir().join("stale.c");
    let obj = lab.dir().join("stale.o");
    std::fs::write(&src, STALE_PROGRAM).unwrap();
    let cc = std::process::Command::new("clang")
        .args(["-O2", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(cc.status.success(), "clang: {cc:?}");
    let attach = lab
        .xskd_ns_cmd("ip")
        .args(["link", "set", "dev", &lab.if_xskd, "xdpgeneric", "obj"])
        .arg(&obj)
        .args(["sec", "xdp"])
        .output()
        .unwrap();
    assert!(
        attach.status.success(),
        "ip link set xdpgeneric: {attach:?}"
    );
    assert!(xdp_attached(&lab));
    let again = lab.spawn_xskd(Path::new(xskd_bin()), &path).unwrap();
    probe_ok(
        &lab,
        &["udp-echo", TARGET_ECHO, "--min", "10", "--max", "10"],
    );
    assert!(
        again.stderr.iter().any(|l| l.contains("stale")),
        "{:?}",
        again.stderr
    );
    again.stop().unwrap();
    assert!(!xdp_attached(&lab), "a clean exit detaches the program");
    // The kernel side keeps working after we left.
    let out = peer_ok(
        &lab,
        "ping",
        &["-c", "1", "-W", "2", &XSKD_SIDE_KERNEL_IP.to_string()],
    );
    assert_eq!(ping_loss(&out), 0.0);
}
