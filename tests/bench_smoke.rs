//! Smoke test of the side-by-side harness: one short round of the UDP echo
//! pair must produce latency and throughput numbers for both xskd and the
//! kernel. Needs root (veth lab, XDP); fails without it.

mod common;

use std::process::Command;

use common::{require_root, XSKD};

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
    let out = Command::new(XSKD)
        .args(["bench", "--rounds", "1", "--seconds", "1", "--only", "udp"])
        .args(["--poll", "busy", "--out"])
        .arg(out_dir.path())
        .output()
        .expect("running xskd bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xskd bench failed ({}):\n{stdout}\n{stderr}",
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
}
