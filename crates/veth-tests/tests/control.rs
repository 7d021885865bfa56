//! The control plane of a running daemon: /metrics in the Prometheus text
//! format (checked by promtool), /healthz, /connections, `xskd stats`.

use xskd_veth_tests as common;

use common::*;

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name_and_labels}"))
}

#[test]
fn metrics_are_valid_prometheus_text_and_move_with_traffic() {
    let (lab, xskd) = start("metrics");
    peer_ok(
        &lab,
        "ping",
        &["-c", "5", "-i", "0.05", "-W", "2", "198.18.0.1"],
    );
    probe_ok(
        &lab,
        &["udp-echo", "198.18.0.1:7", "--min", "1", "--max", "50"],
    );
    probe_ok(&lab, &["udp-closed", "198.18.0.1:4444"]);
    probe_ok(&lab, &["tcp-echo", "198.18.0.1:7", "--bytes", "10000"]);
    // Snapshots arrive every 250 ms: wait for one that saw the traffic.
    let mut text = String::new();
    for _ in 0..40 {
        let (body, code) = admin_get(&lab, "/metrics");
        assert_eq!(code, "200");
        text = body;
        if text.contains("xskd_tcp_passive_opens_total{queue=\"0\",worker=\"0\"} 1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_promtool_accepts(&text);
    let q = "{queue=\"0\",worker=\"0\"}";
    assert!(metric(&text, &format!("xskd_icmp_echo_replies_total{q}")) >= 5.0);
    assert!(metric(&text, &format!("xskd_udp_rx_datagrams_total{q}")) >= 50.0);
    assert!(metric(&text, &format!("xskd_tcp_passive_opens_total{q}")) >= 1.0);
    assert!(metric(&text, "xskd_xdp_redirected_total") > 0.0);
    assert!(
        metric(
            &text,
            "xskd_drops_total{queue=\"0\",reason=\"udp_no_listener\",worker=\"0\"}"
        ) >= 1.0
    );
    assert!(text.contains("xskd_xsk_rx_fill_ring_empty_descs_total"));
    assert!(text.contains("xskd_umem_free_frames"));
    assert!(text.contains("xskd_tcp_connections{queue=\"0\",state=\"TIME-WAIT\",worker=\"0\"}"));
    // Latency: the per-worker histogram and the merged quantiles.
    assert!(metric(&text, &format!("xskd_udp_echo_turnaround_seconds_count{q}")) >= 50.0);
    assert!(text.contains(
        "xskd_udp_echo_turnaround_seconds_bucket{queue=\"0\",worker=\"0\",le=\"0.000001\"}"
    ));
    let p99 = metric(
        &text,
        "xskd_udp_echo_turnaround_merged_seconds{quantile=\"0.99\"}",
    );
    assert!(p99 > 0.0 && p99 < 1.0, "p99 {p99}");
    // No label carries a per-connection value (bounded cardinality).
    assert!(
        !text.contains("198.18.0.2"),
        "peer addresses must not become labels"
    );

    let (health, code) = admin_get(&lab, "/healthz");
    assert_eq!(code, "200", "{health}");
    assert!(health.contains("\"healthy\":true"), "{health}");
    let (_, code) = admin_get(&lab, "/nope");
    assert_eq!(code, "404");

    let stats = lab.xskd_ns_cmd(xskd_bin()).arg("stats").output().unwrap();
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(
        stats.contains("frames received") && stats.contains("udp_no_listener"),
        "{stats}"
    );
    xskd.stop().unwrap();
}

#[test]
fn connections_endpoint_lists_and_filters() {
    let (lab, xskd) = start("conns");
    probe_ok(
        &lab,
        &[
            "tcp-echo",
            "198.18.0.1:7",
            "--bytes",
            "1000",
            "--connections",
            "2",
        ],
    );
    // Our side closed second, so our rows are gone; hold one open instead.
    let mut hold = lab.peer_cmd("sh");
    hold.args(["-c", "(printf x; sleep 2) | nc -w 4 198.18.0.1 9"]);
    let mut child = hold.spawn().unwrap();
    let mut body = String::new();
    for _ in 0..30 {
        body = admin_get(&lab, "/connections?state=established&port=9").0;
        if body.contains("ESTABLISHED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 1, "{v:#}");
    let c = &v["connections"][0];
    assert_eq!(c["local_port"], 9);
    assert_eq!(c["service"], "discard");
    assert!(
        c["snd_nxt"].is_u64() && c["rto_ms"].as_u64().unwrap() >= 200,
        "{c:#}"
    );
    let none = admin_get(&lab, "/connections?state=syn-sent").0;
    assert!(none.contains("\"total\":0"), "{none}");
    let _ = child.wait();
    xskd.stop().unwrap();
}

/// Every service and transport on (HTTP, HTTPS, DNS over UDP and TCP, echo,
/// discard), each used once, so every family it can export is in the
/// scrape: promtool must accept all of them.
#[test]
fn promtool_accepts_the_scrape_with_every_service_and_transport_on() {
    require_root();
    let lab = xskd::lab::Lab::create("promall", 1).expect("building the veth lab");
    let cert = lab.dir().join("cert.pem");
    let extra = format!(
        "[https]\nwrite_generated_cert = \"{}\"\n\
         [dns]\nzone = \"xskd.test.\"\ntcp = true\n\
         records = [{{ name = \"www\", ipv4 = \"198.18.0.1\" }}]\n",
        cert.display()
    );
    let path = lab
        .write_config(&test_config(&lab, &[(0, None)], &extra))
        .unwrap();
    let xskd = lab
        .spawn_xskd(std::path::Path::new(xskd_bin()), &path)
        .unwrap();
    probe_ok(
        &lab,
        &["udp-echo", "198.18.0.1:7", "--min", "1", "--max", "8"],
    );
    probe_ok(&lab, &["tcp-echo", "198.18.0.1:7", "--bytes", "1000"]);
    peer_ok(&lab, "sh", &["-c", "printf x | nc -N 198.18.0.1 9"]);
    peer_ok(
        &lab,
        "curl",
        &["-sf", "-X", "PUT", "--data", "hi", "http://198.18.0.1/a"],
    );
    peer_ok(&lab, "curl", &["-sf", "http://198.18.0.1/a"]);
    let cacert = cert.to_str().unwrap();
    peer_ok(
        &lab,
        "curl",
        &["-sf", "--cacert", cacert, "https://198.18.0.1/a"],
    );
    for transport in ["+notcp", "+tcp"] {
        let a = peer_ok(
            &lab,
            "dig",
            &[
                "@198.18.0.1",
                "+short",
                "+tries=2",
                "+time=2",
                transport,
                "www.xskd.test",
            ],
        );
        assert_eq!(a.trim(), "198.18.0.1", "dig {transport}");
    }
    let mut text = String::new();
    for _ in 0..40 {
        text = admin_get(&lab, "/metrics").0;
        if text.contains("transport=\"tcp\"") && text.contains("xskd_https_requests_total{") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for family in [
        "xskd_http_requests_total{",
        "xskd_https_requests_total{",
        "xskd_tls_handshakes_total{",
        "xskd_dns_tcp_connections_total{",
        "xskd_dns_tcp_server_closes_total{",
        "xskd_dns_responses_total{",
        "xskd_tcp_passive_opens_total{",
    ] {
        assert!(text.contains(family), "no {family} in the scrape:\n{text}");
    }
    assert!(text.contains("transport=\"tcp\"") && text.contains("transport=\"udp\""));
    assert_promtool_accepts(&text);
    xskd.stop().unwrap();
}
