//! Unit tests of the txceiling part and the worker rows: parsing perf,
//! /proc and nft output, and where the rows land in the table.

use super::http::BulkResult;
use super::report;
use super::servers::Subject;
use super::tests::{args, info};
use super::txceiling::{parse_counter, TxResult};
use super::txgen::TxSent;
use super::worker::{parse_perf, stat_utime, WorkerCounters, BULK_SEGMENT};
use super::{Load, Part, PollArg, Sample};

fn sample(subject: Subject, load: Load) -> Sample {
    Sample {
        round: 0,
        subject,
        load,
        latency: None,
        throughput: None,
        http: None,
        bulk: None,
        handshakes: None,
        tx: None,
        worker: None,
        ops: 0,
        server_cpu_s: 0.5,
        server_core_busy_s: 0.5,
        wall_s: 1.0,
        scrape: None,
    }
}

fn bulk(subject: Subject, gbit: f64, worker: Option<WorkerCounters>) -> Sample {
    let bytes = 1448 * 1000;
    Sample {
        bulk: Some(BulkResult {
            bytes,
            seconds: 1.0,
            gbit_per_s: gbit,
            offloads: subject.offloads(),
        }),
        ops: bytes,
        worker,
        ..sample(subject, Load::Bulk)
    }
}

fn tx(gbit: f64, completed: u64, delivered: u64) -> Sample {
    Sample {
        tx: Some(TxResult {
            sent: TxSent {
                frames: completed,
                completed,
                frame_bytes: 1514,
                seconds: 1.0,
                zero_copy: false,
            },
            delivered,
            delivered_ip_bytes: delivered * 1500,
            peer_rx_dropped: 0,
            frames_per_sec: delivered as f64,
            gbit_per_s: gbit,
        }),
        ops: delivered,
        ..sample(Subject::AfXdpTx, Load::TxMtu)
    }
}

fn row<'a>(table: &'a str, metric: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.starts_with(&format!("| {metric} |")))
        .unwrap_or_else(|| panic!("no row {metric:?} in:\n{table}"))
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

#[test]
fn perf_stat_csv_gives_counts_or_nothing() {
    let counted = "1234567,,cycles:u,1000000,100.00,,\n2345678,,instructions:u,1000000,100.00,1.90,insn per cycle\n";
    assert_eq!(parse_perf(counted), (Some(1_234_567), Some(2_345_678)));
    let vm = "<not supported>,,cycles:u,0,100.00,,\n<not supported>,,instructions:u,0,100.00,,\n";
    assert_eq!(parse_perf(vm), (None, None));
    assert_eq!(parse_perf(""), (None, None));
}

#[test]
fn thread_utime_is_field_14_even_with_spaces_in_the_name() {
    let stat = "4242 (xskd q0 (x)) R 1 4242 4242 0 -1 4194560 10 0 0 0 777 33 0 0 20 0 3 0 1 1 1";
    assert_eq!(stat_utime(stat).unwrap(), 777);
    assert!(stat_utime("4242 (xskd) R 1").is_err());
}

#[test]
fn nft_json_counter_is_read() {
    let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"counter": {"family": "inet", "name": "delivered", "table": "xskd_bench_tx",
        "handle": 1, "packets": 912345, "bytes": 1368517500}}]}"#;
    assert_eq!(parse_counter(json).unwrap(), (912_345, 1_368_517_500));
    assert!(parse_counter(r#"{"nftables": []}"#).is_err());
}

#[test]
fn txceiling_rows_hold_the_ceiling_and_the_bulk_gets_as_fractions_of_it() {
    let samples = vec![
        bulk(Subject::Xskd, 1.5, None),
        bulk(Subject::Nginx, 3.0, None),
        tx(6.0, 1000, 990),
        tx(5.0, 1000, 1000),
        tx(7.0, 1000, 1000),
    ];
    let mut a = args(PollArg::Busy);
    a.only = vec![Part::Bulk, Part::Txceiling];
    let table = report::table(&samples, &a, &a.only, &info());
    let gbit = row(&table, "AF_XDP TX ceiling, MTU frames (Gbit/s)");
    // metric | xskd | nginx | af-xdp-tx | ratios...
    assert_eq!(gbit[1..4], ["-", "-", "6.00"], "{table}");
    let undelivered = row(
        &table,
        "AF_XDP TX frames completed but not counted by the peer (%)",
    );
    assert_eq!(undelivered[3], "0.000", "median of 1%, 0, 0: {table}");
    let ratio = row(&table, "bulk GET / TX ceiling");
    assert_eq!(
        ratio[1..6],
        ["1.50", "3.00", "6.00", "0.25x", "0.50x"],
        "{table}"
    );
    let rows = report::rows(&samples, &a, &a.only);
    let r = rows
        .iter()
        .find(|r| r.metric == "bulk GET / TX ceiling")
        .expect("ratio row in the JSON");
    assert_eq!(r.ratios[0].1, Some(0.25));
}

#[test]
fn worker_rows_sit_after_their_load_and_divide_by_segments() {
    let w = WorkerCounters {
        tid: 7,
        cycles_u: Some(3_000_000),
        instructions_u: Some(6_000_000),
        utime_s: 0.01,
    };
    let samples = vec![
        bulk(Subject::Xskd, 1.5, Some(w)),
        bulk(Subject::Nginx, 3.0, None),
    ];
    let mut a = args(PollArg::Busy);
    a.only = vec![Part::Bulk];
    let rows = report::rows(&samples, &a, &a.only);
    let labels: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    let at = labels
        .iter()
        .position(|l| l.starts_with("xskd worker user cycles per 1448-byte segment"))
        .expect("worker cycles row");
    assert!(
        labels[at - 1].starts_with("server CPU per GB"),
        "{labels:?}"
    );
    assert_eq!(
        labels
            .iter()
            .filter(|l| l.starts_with("xskd worker"))
            .count(),
        2,
        "only the offloads-off table has them: {labels:?}"
    );
    // 1000 segments: 3000 cycles and 10 us of utime each.
    assert_eq!(
        rows[at].values[0].1,
        Some(3_000_000.0 / (1448.0 * 1000.0 / BULK_SEGMENT))
    );
    assert_eq!(rows[at + 1].values[0].1, Some(10_000.0));
}

#[test]
fn cycles_perf_could_not_count_say_na_not_zero() {
    let w = WorkerCounters {
        tid: 7,
        cycles_u: None,
        instructions_u: None,
        utime_s: 0.01,
    };
    let samples = vec![
        bulk(Subject::Xskd, 1.5, Some(w)),
        bulk(Subject::Nginx, 3.0, None),
    ];
    let mut a = args(PollArg::Busy);
    a.only = vec![Part::Bulk];
    let mut i = info();
    i.perf_unavailable = Some("no PMU".into());
    let table = report::table(&samples, &a, &a.only, &i);
    let cycles = row(
        &table,
        "xskd worker user cycles per 1448-byte segment (perf cycles:u)",
    );
    assert_eq!(cycles[1], "n/a", "{table}");
    assert!(table.contains("**perf unavailable** (no PMU)"), "{table}");
    let utime = row(
        &table,
        "xskd worker user time per 1448-byte segment (ns, thread utime)",
    );
    assert_eq!(utime[1], "10000", "{table}");
}
