//! The authoritative DNS responder over veth, asked by dig from the kernel.

use xskd_veth_tests as common;

use common::*;

const DNS_CONFIG: &str = "[dns]\nzone = \"xskd.test.\"\nmax_amplification = 3.0\nrecords = [\n  { name = \"www\", ipv4 = \"198.18.0.1\" },\n  { name = \"api\", ipv4 = \"198.18.0.10\", ttl = 30 },\n  { name = \"api\", ipv4 = \"198.18.0.11\", ttl = 30 },\n]\n";

fn dig(lab: &xskd::lab::Lab, args: &[&str]) -> String {
    let mut full = vec!["@198.18.0.1", "+tries=2", "+time=2"];
    full.extend_from_slice(args);
    peer_ok(lab, "dig", &full)
}

#[test]
fn dig_gets_answers_nxdomain_refused_and_case_kept() {
    let (lab, xskd) = start_with("dns", 1, &[(0, None)], DNS_CONFIG);
    assert_eq!(
        dig(&lab, &["+short", "www.xskd.test", "A"]).trim(),
        "198.18.0.1"
    );
    let mut api: Vec<_> = dig(&lab, &["+short", "api.xskd.test", "A"])
        .lines()
        .map(str::to_string)
        .collect();
    api.sort();
    assert_eq!(api, ["198.18.0.10", "198.18.0.11"]);
    let full = dig(&lab, &["WwW.XsKd.TeSt", "A"]);
    assert!(
        full.contains("status: NOERROR") && full.contains("flags: qr aa"),
        "{full}"
    );
    assert!(
        full.contains("WwW.XsKd.TeSt."),
        "0x20 case preserved: {full}"
    );
    let nx = dig(&lab, &["nope.xskd.test", "A"]);
    assert!(
        nx.contains("status: NXDOMAIN") && nx.contains("SOA"),
        "{nx}"
    );
    let nodata = dig(&lab, &["www.xskd.test", "AAAA"]);
    assert!(
        nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0"),
        "{nodata}"
    );
    let host = peer_ok(&lab, "host", &["-t", "A", "www.xskd.test", "198.18.0.1"]);
    assert!(
        host.contains("www.xskd.test has address 198.18.0.1"),
        "{host}"
    );
    let refused = dig(&lab, &["example.com", "A"]);
    assert!(refused.contains("status: REFUSED"), "{refused}");
    let report = xskd.stop().unwrap();
    let services = &report["queues"][0]["stack"]["services"];
    assert!(
        services["53/dns_responses_total:NOERROR"].as_u64().unwrap() >= 4,
        "{report:#}"
    );
    assert_eq!(services["53/dns_responses_total:NXDOMAIN"], 1, "{report:#}");
    assert_eq!(services["53/dns_responses_total:REFUSED"], 1, "{report:#}");
}

#[test]
fn bad_dns_config_is_refused_by_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    std::fs::write(
        &path,
        "[interface]\nname = \"eth0\"\n[address]\nipv4 = \"198.18.0.1/24\"\n[dns]\nzone = \"xskd.test.\"\nrecords = [{ name = \"a.example.\", ipv4 = \"198.18.0.1\" }]\n",
    )
    .unwrap();
    let out = std::process::Command::new(xskd_bin())
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dns.records[0].name"), "{err}");
}

#[test]
fn truncated_udp_answer_is_retried_over_tcp_and_arrives_whole() {
    // 120 addresses: ~2 KB, past both 512 bytes and dig's EDNS 1232.
    let mut cfg = String::from(
        "[dns]\nzone = \"xskd.test.\"\ntcp_idle_timeout_ms = 2000\nrecords = [\n  { name = \"www\", ipv4 = \"198.18.0.1\" },\n",
    );
    for i in 0..120 {
        cfg.push_str(&format!(
            "  {{ name = \"many\", ipv4 = \"198.18.1.{i}\" }},\n"
        ));
    }
    cfg.push_str("]\n");
    let (lab, xskd) = start_with("dnstcp", 1, &[(0, None)], &cfg);
    // Over UDP the answer does not fit: TC, and dig retries over TCP.
    let udp_first = dig(&lab, &["many.xskd.test", "A"]);
    assert!(
        udp_first.contains("Truncated, retrying in TCP mode"),
        "{udp_first}"
    );
    assert!(udp_first.contains("ANSWER: 120"), "{udp_first}");
    // Straight over TCP, two queries on one connection (+keepopen).
    let tcp = dig(
        &lab,
        &[
            "+tcp",
            "+keepopen",
            "www.xskd.test",
            "A",
            "many.xskd.test",
            "A",
        ],
    );
    assert!(
        tcp.contains("ANSWER: 1,") && tcp.contains("ANSWER: 120"),
        "{tcp}"
    );
    // A client that connects and says nothing is closed at the idle timeout.
    let idle = peer_ok(
        &lab,
        "python3",
        &[
            "-c",
            "import socket,time\ns=socket.create_connection(('198.18.0.1',53))\nt=time.time()\nassert s.recv(1)==b''\nprint(round(time.time()-t,1))",
        ],
    );
    let secs: f64 = idle.trim().parse().unwrap();
    assert!((1.5..6.0).contains(&secs), "closed after {secs} s");
    let report = xskd.stop().unwrap();
    let services = &report["queues"][0]["stack"]["services"];
    assert!(
        services["53/tcp/dns_tcp_connections_total"]
            .as_u64()
            .unwrap()
            >= 3,
        "{report:#}"
    );
    assert!(
        services["53/tcp/dns_responses_total:NOERROR"]
            .as_u64()
            .unwrap()
            >= 3,
        "{report:#}"
    );
    assert_eq!(
        services["53/tcp/dns_tcp_server_closes_total:idle_timeout"], 1,
        "{report:#}"
    );
    assert!(
        services["53/dns_truncated_total"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
}
