//! Unit tests of the harness's pure parts: no lab, no root.

use std::path::PathBuf;

use hdrhistogram::Histogram;

use super::client::{cdf, seq_of, stamp, LatencyResult, ThroughputResult};
use super::http::{self, BulkResult, HttpResult};
use super::report::{self, RunInfo};
use super::servers::Subject;
use super::{cpu, loads, subjects, BenchArgs, Generator, Load, Part, PollArg, Sample, ALL_PARTS};

pub(super) fn args(poll: PollArg) -> BenchArgs {
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
        bulk_mb: 8,
        http_conns: 16,
        tls_clients: 4,
        generator: Generator::Socket,
        xskd_send_buffer: 0,
        loss_levels: vec![0.0, 1.0],
        loss_mb: 1,
        loss_timeout: 10.0,
        loss_kernel_cc: None,
        no_plot: true,
        xskd: None,
    }
}

pub(super) fn info() -> RunInfo {
    RunInfo {
        wall_s: 1.0,
        loadavg_before: 0.0,
        loadavg_after: 0.0,
        background_server_core: 0.0,
        background_load_core: 0.0,
        cores: 2,
        kernel: "test".into(),
        perf_unavailable: None,
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
        http: None,
        bulk: None,
        handshakes: None,
        tx: None,
        worker: None,
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
        http: None,
        bulk: None,
        handshakes: None,
        tx: None,
        worker: None,
        ops: rate as u64,
        server_cpu_s: 1.0,
        server_core_busy_s: 1.0,
        wall_s: 1.0,
        scrape: None,
    }
}

pub(super) fn cells<'a>(table: &'a str, metric: &str) -> Vec<&'a str> {
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

pub(super) fn http_sample(subject: Subject, load: Load, rps: f64, p99: f64) -> Sample {
    Sample {
        round: 0,
        subject,
        load,
        latency: None,
        throughput: None,
        http: Some(HttpResult {
            requests: rps as u64,
            seconds: 1.0,
            rps,
            p50_us: p99 / 2.0,
            p99_us: p99,
            ..Default::default()
        }),
        bulk: None,
        handshakes: None,
        tx: None,
        worker: None,
        ops: rps as u64,
        server_cpu_s: 1.0,
        server_core_busy_s: 1.0,
        wall_s: 1.0,
        scrape: None,
    }
}

fn bulk_sample(subject: Subject, gbit: f64) -> Sample {
    Sample {
        round: 0,
        subject,
        load: Load::Bulk,
        latency: None,
        throughput: None,
        http: None,
        bulk: Some(BulkResult {
            bytes: 1 << 30,
            seconds: 1.0,
            gbit_per_s: gbit,
            offloads: subject.offloads(),
        }),
        handshakes: None,
        tx: None,
        worker: None,
        ops: 1 << 30,
        server_cpu_s: 0.5,
        server_core_busy_s: 0.5,
        wall_s: 1.0,
        scrape: None,
    }
}

/// Captured from `wrk -t1 -c16 -d5s --latency` (wrk 4.1.0).
const WRK_OUT: &str = "Running 5s test @ http://198.18.0.3:80/obj-64
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.34us  101.20us   3.21ms   88.12%
    Req/Sec    31.02k     1.20k   33.10k    70.00%
  Latency Distribution
     50%  498.00us
     75%  560.00us
     90%    1.02ms
     99%    2.50s
  154321 requests in 5.00s, 40.12MB read
  Socket errors: connect 1, read 2, write 0, timeout 4
  Non-2xx or 3xx responses: 3
Requests/sec:  30864.20
Transfer/sec:      8.02MB
";

#[test]
fn wrk_output_latency_units_totals_and_errors_are_read() {
    let r = http::parse_wrk(WRK_OUT).expect("parses");
    assert_eq!(
        r,
        HttpResult {
            requests: 154_321,
            seconds: 5.0,
            rps: 30864.2,
            p50_us: 498.0,
            p75_us: 560.0,
            p90_us: 1020.0,
            p99_us: 2_500_000.0,
            socket_errors: 7,
            non_2xx: 3,
        }
    );
}

#[test]
fn wrk_output_without_totals_or_with_bad_unit_is_an_error() {
    assert!(http::parse_wrk("unable to connect to 198.18.0.1:80 Connection refused").is_err());
    let bad = WRK_OUT.replace("498.00us", "498.00xs");
    assert!(http::parse_wrk(&bad).is_err());
    assert_eq!(http::wrk_time_us("1.50m"), Some(90e6));
    assert_eq!(http::wrk_time_us("12"), None);
}

#[test]
fn curl_write_out_parses_and_short_output_is_an_error() {
    assert_eq!(
        http::parse_curl("125000000.000 1073741824 200 8.590\n").expect("parses"),
        (125e6, 1 << 30, 200, 8.59)
    );
    assert!(http::parse_curl("0 0 000").is_err());
}

#[test]
fn wrk_args_round_seconds_up_and_close_adds_the_header() {
    let a = http::wrk_args("http://x/obj", 0.3, 4, true);
    assert!(a.contains(&"-d1s".to_string()) && a.contains(&"-c4".to_string()));
    let h = a.iter().position(|x| x == "-H").expect("header flag");
    assert_eq!(a[h + 1], "Connection: close");
    assert_eq!(a.last().map(String::as_str), Some("http://x/obj"));
    assert!(!http::wrk_args("http://x/", 2.0, 1, false).contains(&"-H".to_string()));
}

#[test]
fn nginx_conf_pins_one_worker_and_keeps_files_in_the_dir() {
    let c = http::nginx_conf(
        std::path::Path::new("/t/n"),
        std::path::Path::new("/t/www"),
        "198.18.0.3:80",
        2,
    );
    for want in [
        "worker_processes 1;",
        "worker_cpu_affinity 100;",
        "daemon off;",
        "pid /t/n/nginx.pid;",
        "access_log off;",
        "sendfile on;",
        "listen 198.18.0.3:80",
        "root /t/www;",
        "client_body_temp_path /t/n/client_body;",
    ] {
        assert!(c.contains(want), "missing {want:?} in\n{c}");
    }
    assert!(http::nginx_conf(
        std::path::Path::new("/d"),
        std::path::Path::new("/r"),
        "a:80",
        0
    )
    .contains("worker_cpu_affinity 1;"));
}

#[test]
fn subjects_all_parts_add_nginx_pair_and_loads_fit_each_subject() {
    assert_eq!(
        subjects(&ALL_PARTS, PollArg::Busy),
        [
            Subject::Xskd,
            Subject::Kernel,
            Subject::Reflector,
            Subject::Nginx,
            Subject::NginxOffload
        ]
    );
    assert_eq!(
        subjects(&[Part::Http], PollArg::Both),
        [Subject::Xskd, Subject::Nginx]
    );
    assert_eq!(
        loads(
            Subject::NginxOffload,
            &ALL_PARTS,
            PollArg::Both,
            Generator::Xdp
        ),
        [Load::Bulk]
    );
    assert_eq!(
        loads(
            Subject::Kernel,
            &[Part::Tcp, Part::Http],
            PollArg::Both,
            Generator::Xdp
        ),
        [Load::TcpRr]
    );
    let x = loads(
        Subject::Xskd,
        &ALL_PARTS,
        PollArg::Backoff,
        Generator::Socket,
    );
    assert_eq!(x[0], Load::UdpThroughput, "ceiling only: {x:?}");
    let x = loads(Subject::Xskd, &ALL_PARTS, PollArg::Busy, Generator::Xdp);
    assert_eq!(
        x[..3],
        [
            Load::UdpLatency,
            Load::UdpThroughput,
            Load::UdpThroughputXdp
        ],
        "the AF_XDP load is added for the ceiling: {x:?}"
    );
    let x = loads(Subject::Xskd, &ALL_PARTS, PollArg::Backoff, Generator::Xdp);
    assert!(
        !x.contains(&Load::TcpRr) && x.contains(&Load::Bulk),
        "{x:?}"
    );
    assert_eq!(
        loads(
            Subject::Reflector,
            &ALL_PARTS,
            PollArg::Busy,
            Generator::Xdp
        ),
        [Load::UdpThroughputXdp]
    );
}

#[test]
fn cdf_is_monotonic_bounded_and_ends_at_the_maximum() {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    for i in 1..=100_000u64 {
        h.record(i * 37 % 1_000_003 + 1_000).expect("record");
    }
    h.record(5_000_000).expect("record");
    let c = cdf(&h);
    assert!(c.len() > 10 && c.len() <= 401, "{} points", c.len());
    assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    let last = c.last().expect("points");
    assert_eq!(last.0, 100.0);
    assert!((last.1 - 5000.0).abs() < 5.0, "max {last:?}");
    assert!(cdf(&Histogram::<u64>::new(3).expect("histogram")).is_empty());
}

#[test]
fn proc_stat_ppid_is_the_field_after_the_state() {
    assert_eq!(cpu::stat_ppid("42 (ng inx) S 7 42 42 0"), Some(7));
    assert_eq!(cpu::stat_ppid("42 (x)"), None);
}

#[test]
fn table_http_rows_hold_xskd_to_twice_nginx_and_p99_no_worse() {
    let samples = vec![
        http_sample(Subject::Xskd, Load::HttpKeepAliveSmall, 50_000.0, 900.0),
        http_sample(Subject::Nginx, Load::HttpKeepAliveSmall, 20_000.0, 1000.0),
        http_sample(Subject::Xskd, Load::HttpCloseLarge, 5_000.0, 2000.0),
        http_sample(Subject::Nginx, Load::HttpCloseLarge, 4_000.0, 1000.0),
    ];
    let t = report::table(&samples, &args(PollArg::Busy), &[Part::Http], &info());
    assert_eq!(
        cells(&t, "HTTP keep-alive 64 B requests/s")[1..],
        ["50000", "20000", "2.50x", ">= 2x", "yes"]
    );
    assert_eq!(
        cells(&t, "HTTP keep-alive 64 B p99 (us)")[3..],
        ["0.90x", "<= 1x", "yes"]
    );
    assert_eq!(
        cells(&t, "HTTP close 16 KB requests/s")[3..],
        ["1.25x", ">= 2x", "no"]
    );
    assert_eq!(cells(&t, "HTTP close 16 KB p99 (us)")[5], "no");
    assert_eq!(
        cells(&t, "HTTP close 16 KB errors")[3],
        "-",
        "no ratio of errors"
    );
    // Loads not measured show dashes.
    assert_eq!(cells(&t, "HTTP close 64 B requests/s")[1], "-");
}

#[test]
fn table_bulk_rows_name_the_offload_state_and_goal_is_against_offloads_off() {
    let samples = vec![
        bulk_sample(Subject::Xskd, 4.0),
        bulk_sample(Subject::Nginx, 2.0),
        bulk_sample(Subject::NginxOffload, 16.0),
    ];
    let t = report::table(&samples, &args(PollArg::Busy), &[Part::Bulk], &info());
    assert!(
        t.contains("kernel offloads OFF") && t.contains("kernel offloads ON"),
        "{t}"
    );
    assert_eq!(
        cells(&t, "GET Gbit/s (nginx with tso/gso/gro off)")[1..],
        ["4.00", "2.00", "2.00x", ">= 1x", "yes"]
    );
    assert_eq!(
        cells(&t, "GET Gbit/s (nginx with tso/gso/gro on)")[1..],
        ["4.00", "16.00", "0.25x", "-", "-"]
    );
    assert_eq!(
        cells(&t, "server CPU per GB (s, process; nginx offloads off)")[1],
        "0.466"
    );
}

#[test]
fn xdp_generator_frame_checksums_verify_and_its_echo_is_recognised() {
    use super::xdpgen::{arp_reply, is_echo, parse_mac, udp_frame};
    use std::net::{Ipv4Addr, SocketAddrV4};
    let src = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40_000);
    let dst = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 7);
    let f = udp_frame([2; 6], [4; 6], src, dst, 18);
    assert_eq!(f.len(), 60);
    assert!(
        xskd_proto::wire::checksum::verify(&f[14..34]),
        "IPv4 header checksum"
    );
    let udp_sum = xskd_proto::wire::checksum::add(
        xskd_proto::wire::checksum::pseudo_header(*src.ip(), *dst.ip(), 17, 26),
        xskd_proto::wire::checksum::sum(&f[34..]),
    );
    assert_eq!(
        xskd_proto::wire::checksum::fold(udp_sum),
        0xffff,
        "UDP checksum"
    );
    // The echo swaps addresses and ports; our own frame is not an echo.
    let mut echo = f.clone();
    echo[26..30].copy_from_slice(&f[30..34]);
    echo[30..34].copy_from_slice(&f[26..30]);
    echo[34..36].copy_from_slice(&f[36..38]);
    echo[36..38].copy_from_slice(&f[34..36]);
    assert!(is_echo(&echo, dst, f.len()));
    assert!(!is_echo(&f, dst, f.len()));
    assert!(!is_echo(&echo[..59], dst, f.len()));
    // ARP: a request for our address gets a reply; another address none.
    let mut req = [0u8; 42];
    req[0..6].copy_from_slice(&[0xff; 6]);
    req[6..12].copy_from_slice(&[4; 6]);
    req[12..14].copy_from_slice(&[8, 6]);
    req[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    req[22..28].copy_from_slice(&[4; 6]);
    req[28..32].copy_from_slice(&[198, 18, 0, 1]);
    req[38..42].copy_from_slice(&[198, 18, 0, 2]);
    let r = arp_reply(&req, [2; 6], *src.ip()).expect("a reply");
    assert_eq!(r[0..6], [4; 6]);
    assert_eq!(r[21], 2, "opcode reply");
    assert_eq!(r[28..32], [198, 18, 0, 2]);
    assert_eq!(r[38..42], [198, 18, 0, 1]);
    assert!(arp_reply(&req, [2; 6], Ipv4Addr::new(198, 18, 0, 9)).is_none());
    assert_eq!(
        parse_mac("02:0a:ff:00:01:02").expect("mac"),
        [2, 10, 255, 0, 1, 2]
    );
    assert!(parse_mac("02:0a").is_err());
}

#[test]
fn write_puts_table_samples_and_failures_in_latest_json_and_md() {
    let dir = tempfile::tempdir().expect("temp dir");
    let samples = vec![
        bulk_sample(Subject::Xskd, 3.0),
        bulk_sample(Subject::Nginx, 1.5),
    ];
    let mut a = args(PollArg::Busy);
    a.only = vec![Part::Bulk];
    let failures = vec!["round 0: Bulk against nginx-offload: timed out".to_string()];
    let path =
        report::write(dir.path(), &a, &samples, &[], &failures, "# md", &info()).expect("written");
    assert!(path.exists());
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("latest.json")).expect("json"),
    )
    .expect("valid JSON");
    assert_eq!(json["failures"][0], failures[0].as_str());
    assert_eq!(json["samples"][1]["subject"], "nginx");
    assert_eq!(json["samples"][0]["load"], "bulk");
    let row = json["table"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["metric"] == "GET Gbit/s (nginx with tso/gso/gro off)")
        .expect("bulk row");
    assert_eq!(row["ratios"][0][1], 2.0);
    assert_eq!(row["met"][0][1], true);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("latest.md")).expect("md"),
        "# md"
    );
}

#[test]
fn throughput_counts_measure_only_the_window_and_loss_over_everything_sent() {
    let r = super::client::ThroughputResult::from_counts(super::client::ThroughputCounts {
        sent: 1000,
        sent_at_start: Some(100),
        received: 990,
        received_at_start: 90,
        received_at_deadline: 890,
        measured_secs: 2.0,
        stalls: 1,
    });
    assert_eq!(
        (r.sent, r.echoed, r.echoed_total, r.lost),
        (900, 800, 990, 10)
    );
    assert!((r.loss_ratio - 0.01).abs() < 1e-9);
    assert!((r.echoed_per_sec - 400.0).abs() < 1e-9);
    assert_eq!(r.stalls, 1);
}
