//! Smoke tests of the side-by-side harness: one short round of the UDP echo
//! pair must produce latency and throughput numbers for both xskd and the
//! kernel; one tiny round of the tcp, http and bulk parts numbers for xskd,
//! the kernel and nginx; one tiny round of the tls part numbers for xskd
//! and nginx over HTTPS. Needs root (veth lab, XDP), wrk, nginx-light and
//! openssl; fails without them.

use xskd_veth_tests as common;

use std::process::Command;

use common::{bench_bin, require_root, xskd_bin};

/// The cells of the markdown row whose metric is `metric`.
fn row<'a>(table: &'a str, metric: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {metric} |")))
        .unwrap_or_else(|| panic!("no row {metric:?} in:\n{table}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

fn positive(cell: &str) -> bool {
    cell.parse::<f64>().is_ok_and(|v| v > 0.0)
}

#[test]
fn bench_udp_one_round_reports_xskd_and_kernel_numbers() {
    require_root();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bench_bin())
        .args([
            "--xskd",
            xskd_bin(),
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--only",
            "udp",
        ])
        .args(["--poll", "busy", "--out"])
        .arg(out_dir.path())
        // Outside the source tree: the plots must still be drawn.
        .current_dir(out_dir.path())
        .output()
        .expect("running xskd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xskd-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let header = row(&stdout, "metric");
    assert_eq!(
        &header[..3],
        ["metric", "xskd", "kernel"],
        "columns:\n{stdout}"
    );
    for metric in [
        "UDP echo RTT p50 (us)",
        "UDP echo RTT p99 (us)",
        "UDP echoed datagrams/s",
    ] {
        let cells = row(&stdout, metric);
        assert!(
            positive(cells[1]) && positive(cells[2]),
            "{metric}: xskd {} kernel {}\n{stdout}\n{stderr}",
            cells[1],
            cells[2]
        );
    }
    assert!(
        !stdout.contains("Datapath ceiling"),
        "--only udp ran the ceiling pair"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.path().join("latest.json")).expect("latest.json"),
    )
    .expect("valid JSON");
    let subjects: Vec<&str> = json["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["xskd", "xskd", "kernel", "kernel"]);
    let scrapes: u64 = json["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["scrape"]["scrapes"].as_u64())
        .sum();
    assert!(scrapes >= 2, "metrics were not scraped during xskd runs");
    for png in ["latency_cdf.png", "udp_rate.png"] {
        let len = std::fs::metadata(out_dir.path().join(png)).map_or(0, |m| m.len());
        assert!(len > 0, "{png} was not drawn:\n{stderr}");
    }
}

/// The tcp, http, bulk and ceiling (AF_XDP generator) parts once each at a
/// tiny size: every row must
/// have a non-zero value for both subjects, and the JSON must carry the
/// samples (with CDF points for the TCP latency plot).
#[test]
fn bench_tcp_http_bulk_ceiling_one_round_report_both_sides() {
    require_root();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bench_bin())
        .args([
            "--xskd",
            xskd_bin(),
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--bulk-mb",
            "8",
        ])
        .args(["--only", "tcp,http,bulk,ceiling", "--poll", "busy"])
        .args(["--http-conns", "4", "--generator", "xdp"])
        .args(["--no-plot", "--out"])
        .arg(out_dir.path())
        .output()
        .expect("running xskd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xskd-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for metric in [
        "TCP RR RTT p50 (us)",
        "TCP RR RTT p99 (us)",
        "TCP round trips/s",
        "HTTP keep-alive 64 B requests/s",
        "HTTP keep-alive 64 B p99 (us)",
        "HTTP keep-alive 16 KB requests/s",
        "HTTP close 64 B requests/s",
        "HTTP close 16 KB requests/s",
        "GET Gbit/s (nginx with tso/gso/gro off)",
        "GET Gbit/s (nginx with tso/gso/gro on)",
        // The ceiling pair under the AF_XDP load generator.
        "UDP echoed datagrams/s",
    ] {
        let cells = row(&stdout, metric);
        assert!(
            positive(cells[1]) && positive(cells[2]),
            "{metric}: {} / {}\n{stdout}\n{stderr}",
            cells[1],
            cells[2]
        );
    }
    for metric in [
        "HTTP keep-alive 64 B errors",
        "HTTP keep-alive 16 KB errors",
    ] {
        let cells = row(&stdout, metric);
        assert_eq!(cells[1..3], ["0", "0"], "{metric}\n{stdout}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.path().join("latest.json")).expect("latest.json"),
    )
    .expect("valid JSON");
    let samples = json["samples"].as_array().expect("samples");
    let pairs: Vec<(&str, &str)> = samples
        .iter()
        .filter_map(|s| Some((s["subject"].as_str()?, s["load"].as_str()?)))
        .collect();
    for want in [
        ("xskd", "tcp-rr"),
        ("kernel", "tcp-rr"),
        ("xskd", "http-keepalive-64"),
        ("nginx", "http-close-16k"),
        ("xskd", "bulk"),
        ("nginx", "bulk"),
        ("nginx-offload", "bulk"),
        ("reflector", "udp-throughput-xdp"),
    ] {
        assert!(pairs.contains(&want), "no {want:?} sample in {pairs:?}");
    }
    let tcp_cdf = samples
        .iter()
        .find(|s| s["load"] == "tcp-rr")
        .and_then(|s| s["latency"]["cdf"].as_array())
        .map_or(0, Vec::len);
    assert!(tcp_cdf > 10, "TCP RR CDF has {tcp_cdf} points");
    let bulk: Vec<u64> = samples
        .iter()
        .filter_map(|s| s["bulk"]["bytes"].as_u64())
        .collect();
    assert_eq!(bulk, [8 << 20; 3], "every bulk GET moved the whole object");
    let rows = json["table"].as_array().expect("table rows");
    for metric in [
        "TCP round trips/s",
        "HTTP keep-alive 16 KB requests/s",
        "HTTP close 64 B requests/s",
        "GET Gbit/s (nginx with tso/gso/gro off)",
    ] {
        let r = rows
            .iter()
            .find(|r| r["metric"] == metric)
            .unwrap_or_else(|| panic!("no {metric} row in the JSON"));
        let xskd = r["values"][0][1].as_f64().unwrap_or(0.0);
        let peer = r["peer_value"].as_f64().unwrap_or(0.0);
        assert!(xskd > 0.0 && peer > 0.0, "{metric}: {r}");
    }
    assert!(
        rows.iter()
            .any(|r| r["metric"] == "HTTP keep-alive 64 B requests/s" && r["goal"] == ">= 2x"),
        "HTTP goal missing from the JSON table"
    );
}

/// The tls part once at a tiny size (busy polling only, to keep it short):
/// full handshakes/s, HTTPS close and keep-alive requests/s non-zero for
/// both xskd and nginx, without errors, with the one suite and group.
#[test]
fn bench_tls_one_round_reports_xskd_and_nginx_numbers() {
    require_root();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bench_bin())
        .args([
            "--xskd",
            xskd_bin(),
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--only",
            "tls",
        ])
        .args(["--poll", "busy", "--http-conns", "4", "--tls-clients", "2"])
        .args(["--no-plot", "--out"])
        .arg(out_dir.path())
        .output()
        .expect("running xskd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xskd-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let header = row(&stdout, "metric");
    assert_eq!(
        &header[..3],
        ["metric", "xskd", "nginx"],
        "columns:\n{stdout}"
    );
    for metric in [
        "TLS full handshakes/s (s_time -new x2)",
        "server CPU per full handshake (us, process)",
        "HTTPS close 64 B requests/s (wrk -c4, full handshake each)",
        "HTTPS keep-alive 64 B requests/s (wrk -c4)",
        "HTTPS keep-alive 64 B p99 (us)",
    ] {
        let cells = row(&stdout, metric);
        assert!(
            positive(cells[1]) && positive(cells[2]),
            "{metric}: xskd {} nginx {}\n{stdout}\n{stderr}",
            cells[1],
            cells[2]
        );
    }
    for metric in ["HTTPS close 64 B errors", "HTTPS keep-alive 64 B errors"] {
        let cells = row(&stdout, metric);
        assert_eq!(cells[1..3], ["0", "0"], "{metric}\n{stdout}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.path().join("latest.json")).expect("latest.json"),
    )
    .expect("valid JSON");
    let samples = json["samples"].as_array().expect("samples");
    let pairs: Vec<(&str, &str)> = samples
        .iter()
        .filter_map(|s| Some((s["subject"].as_str()?, s["load"].as_str()?)))
        .collect();
    for subject in ["xskd", "nginx"] {
        for load in ["tls-full-handshake", "https-close-64", "https-keepalive-64"] {
            assert!(
                pairs.contains(&(subject, load)),
                "no {subject} {load} in {pairs:?}"
            );
        }
    }
    for s in samples.iter().filter(|s| s["load"] == "tls-full-handshake") {
        let h = &s["handshakes"];
        assert_eq!(h["suite"], "TLS_AES_128_GCM_SHA256", "{s}");
        assert_eq!(h["group"], "X25519", "{s}");
        assert!(h["handshakes"].as_u64().unwrap_or(0) > 0, "{s}");
    }
    let rows = json["table"].as_array().expect("table rows");
    assert!(
        rows.iter().any(
            |r| r["metric"] == "HTTPS keep-alive 64 B requests/s (wrk -c4)"
                && r["goal"] == ">= 1.5x"
        ),
        "HTTPS keep-alive goal missing from the JSON table"
    );
}

/// The loss part at a tiny size, one round, 0% and 5% each way: every
/// transfer completes for both servers both ways, and the bridge's own
/// counters show what it dropped: nothing at 0%, near 5% of the TCP frames
/// each way at 5% (a binomial over a thousand-odd frames: 1% to 10% is
/// far outside chance), which the senders had to repair.
#[test]
fn bench_loss_one_round_drops_on_the_bridge_for_both_servers() {
    require_root();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bench_bin())
        .args(["--xskd", xskd_bin(), "--only", "loss", "--rounds", "1"])
        .args([
            "--loss-mb",
            "1",
            "--loss-levels",
            "0,5",
            "--loss-timeout",
            "30",
        ])
        .args(["--no-plot", "--out"])
        .arg(out_dir.path())
        .output()
        .expect("running xskd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xskd-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("Goodput under random loss"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.path().join("loss-latest.json")).expect("JSON"),
    )
    .expect("valid JSON");
    let samples = json["loss_samples"].as_array().expect("loss_samples");
    assert_eq!(samples.len(), 8, "2 servers x 2 directions x 2 levels");
    for s in samples {
        assert_eq!(s["completed"], true, "{s}");
        assert_eq!(s["bytes"], 1 << 20, "{s}");
        let n = |k: &str| s["nft"][k].as_u64().unwrap();
        assert!(n("in_seen") > 0 && n("out_seen") > 0, "{s}");
        let rate = |d: &str, seen: &str| n(d) as f64 / n(seen) as f64;
        match s["loss_permille"].as_u64().unwrap() {
            0 => assert_eq!(n("in_dropped") + n("out_dropped"), 0, "{s}"),
            50 => {
                let data = if s["direction"] == "download" {
                    rate("in_dropped", "in_seen")
                } else {
                    rate("out_dropped", "out_seen")
                };
                assert!((0.01..0.10).contains(&data), "data dropped at {data}: {s}");
                assert!(n("in_dropped") > 0 && n("out_dropped") > 0, "{s}");
                let retrans = if s["direction"] == "upload" {
                    s["client_tcp"]["TcpRetransSegs"].as_u64()
                } else if s["server"] == "xskd" {
                    s["server_tcp"]["retrans_segs"].as_u64()
                } else {
                    s["server_tcp"]["TcpRetransSegs"].as_u64()
                };
                assert!(retrans.unwrap() > 0, "the sender repaired nothing: {s}");
            }
            other => panic!("unexpected level {other}"),
        }
    }
}

/// The txceiling part once, with the bulk GET it is the reference for and
/// the tcp part (a second of busy polling, so the worker's utime is
/// ticks, not zero): the ceiling's Gbit/s and frames/s, the bulk GETs as
/// fractions of it, and the worker rows next to the TCP rows. perf may
/// not count here (no PMU in a VM): then its rows must say n/a, with a
/// warning, not a number.
#[test]
fn bench_txceiling_and_worker_rows_one_round() {
    require_root();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(bench_bin())
        .args([
            "--xskd",
            xskd_bin(),
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--bulk-mb",
            "8",
        ])
        .args(["--only", "tcp,bulk,txceiling", "--poll", "busy"])
        .args(["--no-plot", "--out"])
        .arg(out_dir.path())
        .output()
        .expect("running xskd-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xskd-bench failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // metric | xskd | nginx | af-xdp-tx | xskd/af-xdp-tx | nginx/af-xdp-tx | ...
    for metric in [
        "AF_XDP TX ceiling, MTU frames (Gbit/s)",
        "AF_XDP TX ceiling, MTU frames (frames/s)",
    ] {
        let cells = row(&stdout, metric);
        assert!(positive(cells[3]), "{metric}: {}\n{stdout}", cells[3]);
    }
    let ratio = row(&stdout, "bulk GET / TX ceiling");
    for (i, cell) in ratio[1..6].iter().enumerate() {
        let v = cell.trim_end_matches('x');
        assert!(
            positive(v),
            "bulk GET / TX ceiling cell {i}: {cell}\n{stdout}"
        );
    }
    let utime = row(
        &stdout,
        "xskd worker user time per TCP round trip (ns, thread utime)",
    );
    assert!(positive(utime[1]), "worker utime: {}\n{stdout}", utime[1]);
    let cycles = row(
        &stdout,
        "xskd worker user cycles per TCP round trip (perf cycles:u)",
    );
    if cycles[1] == "n/a" {
        assert!(
            stderr.contains("warning: perf") || stderr.contains("warning: running perf"),
            "n/a cycles without a warning:\n{stderr}"
        );
    } else {
        assert!(
            positive(cycles[1]),
            "worker cycles: {}\n{stdout}",
            cycles[1]
        );
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.path().join("latest.json")).expect("latest.json"),
    )
    .expect("valid JSON");
    let samples = json["samples"].as_array().expect("samples");
    let tx = samples
        .iter()
        .find(|s| s["load"] == "af-xdp-tx-1514")
        .expect("a txceiling sample");
    assert!(tx["tx"]["delivered"].as_u64().unwrap_or(0) > 0, "{tx}");
    assert_eq!(tx["tx"]["sent"]["frame_bytes"], 1514, "{tx}");
    let rr = samples
        .iter()
        .find(|s| s["load"] == "tcp-rr" && s["subject"] == "xskd")
        .expect("an xskd tcp-rr sample");
    assert!(rr["worker"]["tid"].as_u64().unwrap_or(0) > 0, "{rr}");
    let rows = json["table"].as_array().expect("table rows");
    let r = rows
        .iter()
        .find(|r| r["metric"] == "bulk GET / TX ceiling")
        .expect("the ratio row in the JSON");
    let xskd_ratio = r["ratios"][0][1].as_f64().unwrap_or(0.0);
    assert!(xskd_ratio > 0.0, "{r}");
}
