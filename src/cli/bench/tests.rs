//! Unit tests of the harness's pure parts: no lab, no root.

use std::path::PathBuf;

use super::client::{seq_of, stamp, LatencyResult, ThroughputResult};
use super::report::{self, RunInfo};
use super::servers::Subject;
use super::{cpu, subjects, BenchArgs, Load, Part, PollArg, Sample};

fn args(poll: PollArg) -> BenchArgs {
    BenchArgs {
        rounds: 1,
        seconds: 1.0,
        out: PathBuf::from("unused"),
        only: vec![],
        poll,
        server_core: 0,
        load_core: 1,
        window: 1024,
        size: 18,
    }
}

fn info() -> RunInfo {
    RunInfo {
        wall_s: 1.0,
        loadavg_before: 0.0,
        loadavg_after: 0.0,
        background_server_core: 0.0,
        background_load_core: 0.0,
        cores: 2,
        kernel: "test".into(),
    }
}

fn latency(round: u32, subject: Subject, p50: f64, p99: f64) -> Sample {
    Sample {
        round,
        subject,
        load: Load::UdpLatency,
        latency: Some(LatencyResult {
            round_trips: 1000,
            p50_us: p50,
            p99_us: p99,
            p999_us: p99 * 2.0,
            ..Default::default()
        }),
        throughput: None,
        ops: 1000,
        server_cpu_s: 0.01,
        server_core_busy_s: 0.02,
        wall_s: 1.0,
        scrape: None,
    }
}

fn throughput(round: u32, subject: Subject, rate: f64) -> Sample {
    Sample {
        round,
        subject,
        load: Load::UdpThroughput,
        latency: None,
        throughput: Some(ThroughputResult {
            echoed_per_sec: rate,
            echoed_total: rate as u64,
            ..Default::default()
        }),
        ops: rate as u64,
        server_cpu_s: 1.0,
        server_core_busy_s: 1.0,
        wall_s: 1.0,
        scrape: None,
    }
}

fn cells<'a>(table: &'a str, metric: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.starts_with(&format!("| {metric} |")))
        .unwrap_or_else(|| panic!("no {metric} in\n{table}"))
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

#[test]
fn median_odd_even_empty_takes_the_middle() {
    assert_eq!(report::median(vec![3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(report::median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(report::median(vec![]), None);
}

#[test]
fn stamped_datagram_sequence_round_trips_and_foreign_is_rejected() {
    let mut b = [0u8; 18];
    stamp(&mut b, 0x0102_0304_0506_0708);
    assert_eq!(seq_of(&b), Some(0x0102_0304_0506_0708));
    b[0] ^= 1;
    assert_eq!(seq_of(&b), None);
    assert_eq!(seq_of(&b[..5]), None);
}

#[test]
fn proc_stat_comm_with_parens_and_spaces_reads_utime_plus_stime() {
    // Fields 14 and 15 are 7 and 5 here; the name hides a ") " on purpose.
    let stat = "42 (a) b c) S 1 2 3 4 5 6 7 8 9 10 7 5 0 0 20 0 1 0 100 0 0";
    assert_eq!(cpu::stat_ticks(stat).expect("parses"), 12);
    assert!(cpu::stat_ticks("42 (x) S 1 2").is_err());
}

#[test]
fn subjects_both_polls_all_parts_runs_four_in_order() {
    assert_eq!(
        subjects(&[Part::Udp, Part::Ceiling], PollArg::Both),
        [
            Subject::Xskd,
            Subject::XskdBackoff,
            Subject::Kernel,
            Subject::Reflector
        ]
    );
    assert_eq!(
        subjects(&[Part::Udp], PollArg::Busy),
        [Subject::Xskd, Subject::Kernel]
    );
    assert_eq!(
        subjects(&[Part::Ceiling], PollArg::Backoff),
        [Subject::Xskd, Subject::Reflector]
    );
}

#[test]
fn table_medians_ratios_and_goals_per_pair() {
    let samples = vec![
        latency(0, Subject::Xskd, 10.0, 30.0),
        latency(1, Subject::Xskd, 12.0, 50.0),
        latency(2, Subject::Xskd, 11.0, 40.0),
        latency(0, Subject::Kernel, 22.0, 60.0),
        latency(1, Subject::Kernel, 22.0, 60.0),
        latency(2, Subject::Kernel, 22.0, 60.0),
        throughput(0, Subject::Xskd, 300_000.0),
        throughput(0, Subject::Kernel, 100_000.0),
        throughput(0, Subject::Reflector, 400_000.0),
    ];
    let t = report::table(
        &samples,
        &args(PollArg::Busy),
        &[Part::Udp, Part::Ceiling],
        &info(),
    );
    // p50: median 11 vs 22 -> 0.50x, goal <= 0.5x met.
    assert_eq!(
        cells(&t, "UDP echo RTT p50 (us)"),
        [
            "UDP echo RTT p50 (us)",
            "11.0",
            "22.0",
            "0.50x",
            "<= 0.5x",
            "yes"
        ]
    );
    // p99: median 40 vs 60 -> 0.67x, not met.
    assert_eq!(
        cells(&t, "UDP echo RTT p99 (us)")[3..],
        ["0.67x", "<= 0.5x", "no"]
    );
    // The rate appears in both tables; the ceiling row divides by the reflector.
    let rates: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("| UDP echoed datagrams/s |"))
        .collect();
    assert_eq!(rates.len(), 2, "{t}");
    assert!(rates[0].contains("| 300000 | 100000 | 3.00x |"), "{t}");
    assert!(
        rates[1].contains("| 300000 | 400000 | 0.75x | >= 0.9x | no |"),
        "{t}"
    );
    assert!(t.contains("busy-polls"), "the CPU caveat is printed");
    assert!(!t.contains("Noisy run"), "a quiet run is not flagged");
}

#[test]
fn table_busy_background_flags_the_run_as_noisy() {
    let mut i = info();
    i.background_load_core = 0.6;
    let t = report::table(&[], &args(PollArg::Busy), &[Part::Udp], &i);
    assert!(t.contains("Noisy run") && t.contains("60%"), "{t}");
}

#[test]
fn rows_spread_spans_the_rounds_for_subjects_and_peer() {
    let samples = vec![
        latency(0, Subject::Xskd, 10.0, 30.0),
        latency(1, Subject::Xskd, 14.0, 30.0),
        latency(0, Subject::Kernel, 20.0, 60.0),
    ];
    let rows = report::rows(&samples, &args(PollArg::Busy), &[Part::Udp]);
    let p50 = &rows[0];
    assert_eq!(
        p50.spread,
        [
            (Subject::Xskd, Some((10.0, 14.0))),
            (Subject::Kernel, Some((20.0, 20.0)))
        ]
    );
}

#[test]
fn table_without_samples_shows_dashes_not_zeros() {
    let t = report::table(&[], &args(PollArg::Both), &[Part::Udp], &info());
    let c = cells(&t, "UDP echo RTT p50 (us)");
    assert_eq!(c[1..4], ["-", "-", "-"]);
    assert!(!t.contains("Datapath ceiling"));
}
