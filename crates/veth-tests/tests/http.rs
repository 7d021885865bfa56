//! The HTTP/1.1 object store over a real veth pair, with curl and wrk in
//! the peer namespace as clients.
//!
//! Needs the service wired into the workers with `[services] http_port`
//! (see the HTTP report); until then these tests fail (connection refused).

use xskd_veth_tests as common;

use common::*;

const CONFIG: &str = "[services]\nhttp_port = 80\n";
const BASE: &str = "http://198.18.0.1";

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

/// `curl` that prints the status code (and the headers with `headers`).
fn curl_status(lab: &xskd::lab::Lab, args: &[&str]) -> String {
    let mut full = vec![
        "-sS",
        "--max-time",
        "20",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ];
    full.extend_from_slice(args);
    peer_ok(lab, "curl", &full)
}

#[test]
fn curl_put_get_head_post_delete_round_trip() {
    let (lab, xskd) = start_with("httpcrud", 1, &[(0, None)], CONFIG);
    let a = url("/docs/a");
    let put = [
        "-X",
        "PUT",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "hello",
    ];
    let mut args = put.to_vec();
    args.push(&a);
    assert_eq!(curl_status(&lab, &args), "201");
    assert_eq!(curl_status(&lab, &args), "204", "replacing");
    let got = peer_ok(&lab, "curl", &["-sS", "--max-time", "10", &a]);
    assert_eq!(got, "hello");
    let head = peer_ok(&lab, "curl", &["-sS", "--max-time", "10", "-I", &a]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lower = head.to_ascii_lowercase();
    for h in [
        "content-length: 5",
        "content-type: text/plain",
        "etag: \"",
        "last-modified: ",
        "date: ",
        "server: xskd",
    ] {
        assert!(lower.contains(h), "missing {h}:\n{head}");
    }
    let coll = url("/docs/");
    let post = peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--data-binary",
            "new",
            &coll,
        ],
    );
    assert!(post.starts_with("HTTP/1.1 201"), "{post}");
    let loc = post
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .unwrap_or_else(|| panic!("no Location:\n{post}"))
        .trim()
        .to_string();
    assert_eq!(
        peer_ok(&lab, "curl", &["-sS", "--max-time", "10", &url(&loc)]),
        "new"
    );
    assert_eq!(curl_status(&lab, &["-X", "DELETE", &a]), "204");
    assert_eq!(curl_status(&lab, &["-X", "DELETE", &a]), "404");
    assert_eq!(curl_status(&lab, &[&a]), "404");
    xskd.stop().unwrap();
}

#[test]
fn curl_http10_with_and_without_keep_alive() {
    let (lab, xskd) = start_with("http10", 1, &[(0, None)], CONFIG);
    let a = url("/v");
    assert_eq!(
        curl_status(&lab, &["-X", "PUT", "--data-binary", "ten", &a]),
        "201"
    );
    let out = peer_ok(
        &lab,
        "curl",
        &["-sS", "--max-time", "10", "--http1.0", "-D", "-", &a],
    );
    assert!(out.contains("Connection: close"), "{out}");
    assert!(out.ends_with("ten"), "{out}");
    let out = lab
        .peer_cmd("curl")
        .args([
            "-sv",
            "--max-time",
            "10",
            "--http1.0",
            "-H",
            "Connection: keep-alive",
            &a,
            &a,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tenten");
    assert!(
        err.contains("e-using existing"),
        "1.0 keep-alive reused:\n{err}"
    );
    xskd.stop().unwrap();
}

#[test]
fn curl_expect_100_continue_with_10mb_body_and_chunked_upload() {
    let (lab, xskd) = start_with("http100", 1, &[(0, None)], CONFIG);
    let src = lab.dir().join("big.bin");
    let body: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &body).unwrap();
    let src_s = src.to_str().unwrap();
    let big = url("/big");
    let out = lab
        .peer_cmd("curl")
        .args([
            "-sv",
            "--max-time",
            "60",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Expect: 100-continue",
            "-T",
            src_s,
            &big,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201", "{err}");
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}");
    let back = lab.dir().join("back.bin");
    peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "60",
            "-o",
            back.to_str().unwrap(),
            &big,
        ],
    );
    assert!(
        std::fs::read(&back).unwrap() == body,
        "10 MB body byte-exact"
    );

    let chunked = url("/chunked");
    let arg = format!("@{src_s}");
    assert_eq!(
        curl_status(
            &lab,
            &[
                "-X",
                "PUT",
                "-H",
                "Transfer-Encoding: chunked",
                "--data-binary",
                &arg,
                &chunked
            ]
        ),
        "201"
    );
    peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "60",
            "-o",
            back.to_str().unwrap(),
            &chunked,
        ],
    );
    assert!(
        std::fs::read(&back).unwrap() == body,
        "chunked upload byte-exact"
    );
    xskd.stop().unwrap();
}

#[test]
fn curl_reuses_the_connection_for_two_urls() {
    let (lab, xskd) = start_with("httpka", 1, &[(0, None)], CONFIG);
    let a = url("/ka");
    assert_eq!(
        curl_status(&lab, &["-X", "PUT", "--data-binary", "x", &a]),
        "201"
    );
    let out = lab
        .peer_cmd("curl")
        .args(["-sv", "--max-time", "10", &a, &a])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "xx");
    assert!(err.contains("e-using existing"), "{err}");
    xskd.stop().unwrap();
}

#[test]
fn wrk_keep_alive_run_has_no_socket_errors_and_no_non_2xx() {
    let (lab, xskd) = start_with("httpwrk", 1, &[(0, None)], CONFIG);
    let a = url("/w");
    assert_eq!(
        curl_status(
            &lab,
            &["-X", "PUT", "--data-binary", "0123456789abcdef", &a]
        ),
        "201"
    );
    let out = peer_ok(&lab, "wrk", &["-t1", "-c8", "-d3s", "--timeout", "2s", &a]);
    eprintln!("{out}");
    assert!(!out.contains("Socket errors"), "{out}");
    assert!(!out.contains("Non-2xx"), "{out}");
    let rps: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec:\n{out}"));
    assert!(rps > 100.0, "{out}");
    let close = peer_ok(
        &lab,
        "wrk",
        &[
            "-t1",
            "-c4",
            "-d2s",
            "--timeout",
            "2s",
            "-H",
            "Connection: close",
            &a,
        ],
    );
    assert!(!close.contains("Socket errors"), "{close}");
    assert!(!close.contains("Non-2xx"), "{close}");
    xskd.stop().unwrap();
}

#[test]
fn http_metrics_count_requests_and_service_time() {
    let (lab, xskd) = common::start("httpmetrics");
    for _ in 0..3 {
        common::peer_ok(
            &lab,
            "curl",
            &[
                "-sf",
                "-X",
                "PUT",
                "--data-binary",
                "hello",
                "http://198.18.0.1/m/x",
            ],
        );
        common::peer_ok(&lab, "curl", &["-sf", "http://198.18.0.1/m/x"]);
    }
    let _ = common::peer(&lab, "curl", &["-s", "http://198.18.0.1/missing"]);
    let mut text = String::new();
    for _ in 0..30 {
        let out = lab
            .xskd_ns_cmd("curl")
            .args(["-s", "http://127.0.0.1:9100/metrics"])
            .output()
            .unwrap();
        text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("xskd_http_request_seconds_count{queue=\"0\",worker=\"0\"} 7") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        text.contains("xskd_http_request_seconds_count{queue=\"0\",worker=\"0\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("xskd_http_responses_total{class=\"4xx\",queue=\"0\",worker=\"0\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("xskd_http_request_merged_seconds{quantile=\"0.99\"}"),
        "{text}"
    );
    xskd.stop().unwrap();
}

#[test]
fn ab_keep_alive_completes_without_failures() {
    let (lab, xskd) = start("httpab");
    assert_eq!(
        curl_status(&lab, &["-X", "PUT", "--data-binary", "abc", &url("/ab")]),
        "201"
    );
    let out = peer_ok(
        &lab,
        "ab",
        &["-k", "-n", "2000", "-c", "4", "-s", "5", &url("/ab")],
    );
    assert!(out.contains("Complete requests:      2000"), "{out}");
    assert!(out.contains("Failed requests:        0"), "{out}");
    assert!(out.contains("Keep-Alive requests:    2000"), "{out}");
    xskd.stop().unwrap();
}

#[test]
fn pipelined_requests_on_a_raw_socket_are_answered_in_order() {
    let (lab, xskd) = start("httppipe");
    for (p, body) in [("/p/1", "one"), ("/p/2", "two"), ("/p/3", "three")] {
        assert_eq!(
            curl_status(&lab, &["-X", "PUT", "--data-binary", body, &url(p)]),
            "201"
        );
    }
    // Three requests in one write; the last asks to close.
    let script = r#"
import socket
s = socket.create_connection(("198.18.0.1", 80), timeout=5)
s.sendall(b"GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode())
"#;
    let out = peer_ok(&lab, "python3", &["-c", script]);
    let i1 = out.find("\r\n\r\none").expect("first response");
    let i2 = out.find("\r\n\r\ntwo").expect("second response");
    let i3 = out.find("\r\n\r\nthree").expect("third response");
    assert!(i1 < i2 && i2 < i3, "in order: {out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3, "{out}");
    xskd.stop().unwrap();
}

/// A body whose every byte says where it is, so a wrong part shows.
fn numbered_body(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

#[test]
fn curl_range_resume_and_time_conditions() {
    let (lab, xskd) = start_with("httprange", 1, &[(0, None)], CONFIG);
    let body = numbered_body(300_000);
    let src = lab.dir().join("src.bin");
    std::fs::write(&src, &body).unwrap();
    let obj = url("/r/obj");
    assert_eq!(
        curl_status(&lab, &["-T", src.to_str().unwrap(), &obj]),
        "201"
    );
    let part = lab.dir().join("part.bin");
    let part_s = part.to_str().unwrap();
    // curl -r: one range, 206 and exactly those bytes.
    let code = peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "20",
            "-r",
            "1000-1999",
            "-o",
            part_s,
            "-w",
            "%{http_code}",
            &obj,
        ],
    );
    assert_eq!(code, "206");
    assert!(std::fs::read(&part).unwrap() == body[1000..2000]);
    let head = peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "20",
            "-r",
            "-10",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &obj,
        ],
    );
    assert!(
        head.contains("Content-Range: bytes 299990-299999/300000"),
        "{head}"
    );
    assert!(head.contains("Accept-Ranges: bytes"), "{head}");
    let code = curl_status(&lab, &["-r", "300000-", &obj]);
    assert_eq!(code, "416");
    // curl -C -: resume a download cut at 123456 bytes.
    std::fs::write(&part, &body[..123_456]).unwrap();
    let code = peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "20",
            "-C",
            "-",
            "-o",
            part_s,
            "-w",
            "%{http_code}",
            &obj,
        ],
    );
    assert_eq!(code, "206");
    assert!(
        std::fs::read(&part).unwrap() == body,
        "resumed file byte-exact"
    );
    // curl -z: If-Modified-Since from a date, then from a file's mtime.
    let lm = head
        .lines()
        .find_map(|l| l.strip_prefix("Last-Modified: "))
        .unwrap_or_else(|| panic!("no Last-Modified:\n{head}"))
        .trim()
        .to_string();
    assert_eq!(curl_status(&lab, &["-z", &lm, &obj]), "304");
    assert_eq!(
        curl_status(&lab, &["-z", "Thu, 01 Jan 1998 00:00:00 GMT", &obj]),
        "200"
    );
    // -z with a leading '-': If-Unmodified-Since; older than the object is 412.
    assert_eq!(
        curl_status(&lab, &["-z", "-Thu, 01 Jan 1998 00:00:00 GMT", &obj]),
        "412"
    );
    xskd.stop().unwrap();
}

#[test]
fn options_normalized_targets_and_http_1_2_over_the_wire() {
    let (lab, xskd) = start_with("httpopts", 1, &[(0, None)], CONFIG);
    assert_eq!(
        curl_status(&lab, &["-X", "PUT", "--data-binary", "abc", &url("/abc")]),
        "201"
    );
    let out = peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-X",
            "OPTIONS",
            "--request-target",
            "*",
            "-D",
            "-",
            "-o",
            "/dev/null",
            BASE,
        ],
    );
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains("Allow: GET, HEAD, PUT, POST, DELETE, OPTIONS"),
        "{out}"
    );
    // curl sends the target as given (--path-as-is keeps the dot segments).
    assert_eq!(
        peer_ok(
            &lab,
            "curl",
            &[
                "-sS",
                "--max-time",
                "10",
                "--path-as-is",
                &url("/x/../%61bc")
            ]
        ),
        "abc"
    );
    assert_eq!(curl_status(&lab, &["--path-as-is", &url("/../abc")]), "400");
    let script = r#"
import socket
s = socket.create_connection(("198.18.0.1", 80), timeout=5)
s.sendall(b"GET /%61bc HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode())
"#;
    let out = peer_ok(&lab, "python3", &["-c", script]);
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert!(out.trim_end().ends_with("abc"), "{out}");
    xskd.stop().unwrap();
}

/// SIGTERM while curl downloads `len` bytes at `rate`, its receive buffer
/// capped at 64 KB (so most of the body waits in xskd, not in flight).
/// Returns (curl's exit code, bytes it got, the body, seconds xskd took to
/// exit after SIGTERM, RSTs xskd sent).
fn sigterm_during_download(
    tag: &str,
    len: usize,
    rate: &str,
    drain_secs: u64,
) -> (i32, Vec<u8>, Vec<u8>, f64, u64) {
    let extra = format!("{CONFIG}\n[worker]\npoll = \"backoff\"\ndrain_secs = {drain_secs}\n");
    let (lab, mut xskd) = start_with(tag, 1, &[(0, None)], &extra);
    let body = numbered_body(len);
    let src = lab.dir().join("src.bin");
    std::fs::write(&src, &body).unwrap();
    let obj = url("/dl");
    assert_eq!(
        curl_status(&lab, &["-T", src.to_str().unwrap(), &obj]),
        "201"
    );
    peer_ok(
        &lab,
        "sysctl",
        &["-qw", "net.ipv4.tcp_rmem=4096 65536 65536"],
    );
    let dst = lab.dir().join("dst.bin");
    let mut curl = lab
        .peer_cmd("curl")
        .args([
            "-sS",
            "--max-time",
            "60",
            "--limit-rate",
            rate,
            "-o",
            dst.to_str().unwrap(),
            &obj,
        ])
        .spawn()
        .unwrap();
    // Mid-download: some bytes are in, most are not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&dst).map_or(0, |m| m.len()) < 100_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the download never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let stopped = std::time::Instant::now();
    xskd.terminate().unwrap();
    let code = curl.wait().unwrap().code().unwrap_or(-1);
    let report = xskd
        .wait_exit(std::time::Duration::from_secs(drain_secs + 15))
        .unwrap();
    let took = stopped.elapsed().as_secs_f64();
    let got = std::fs::read(&dst).unwrap_or_default();
    let rsts = sum_queues(&report, "/stack/tcp/out_rsts");
    (code, got, body, took, rsts)
}

#[test]
fn sigterm_lets_a_slow_download_finish_within_the_drain_time() {
    let (code, got, body, took, _) = sigterm_during_download("httpdrain", 1_000_000, "500K", 5);
    assert_eq!(code, 0, "curl got {} of {} bytes", got.len(), body.len());
    assert!(
        got == body,
        "{} of {} bytes, byte-exact",
        got.len(),
        body.len()
    );
    assert!(
        took < 5.0,
        "xskd exited when the download ended, not at the drain's end: {took:.2} s"
    );
}

#[test]
fn sigterm_resets_a_download_that_does_not_fit_the_drain_never_a_short_clean_close() {
    let (code, got, body, took, rsts) =
        sigterm_during_download("httpdrainrst", 4_000_000, "500K", 1);
    // 56: "Failure in receiving network data" (the RST); 18 would be a
    // clean close after a short body.
    assert_eq!(
        code,
        56,
        "curl exit {code} after {} of {} bytes",
        got.len(),
        body.len()
    );
    assert!(got.len() < body.len());
    assert!(
        got[..] == body[..got.len()],
        "what came is the body's start"
    );
    assert!(rsts >= 1, "xskd reset it");
    assert!(took >= 0.9, "xskd waited for the drain time: {took:.2} s");
}

/// `xskd_http_request_seconds`'s (count, sum) for worker 0 at /metrics
/// (None before the worker's first report).
fn request_seconds(lab: &xskd::lab::Lab) -> Option<(u64, f64)> {
    let out = lab
        .xskd_ns_cmd("curl")
        .args(["-s", "http://127.0.0.1:9100/metrics"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{{queue=\"0\",worker=\"0\"}} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some((
        value("xskd_http_request_seconds_count")? as u64,
        value("xskd_http_request_seconds_sum")?,
    ))
}

/// Until `count` requests are in the histogram (the workers report
/// periodically).
fn request_seconds_at(lab: &xskd::lab::Lab, count: u64) -> f64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (n, sum) = request_seconds(lab).unwrap_or((0, 0.0));
        if n >= count {
            assert_eq!(n, count);
            return sum;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of {count} requests reported"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_rate_limited_download_moves_the_request_time_histogram() {
    let (lab, xskd) = start_with("httptiming", 1, &[(0, None)], CONFIG);
    let src = lab.dir().join("src.bin");
    std::fs::write(&src, numbered_body(1_000_000)).unwrap();
    let obj = url("/t");
    assert_eq!(
        curl_status(&lab, &["-T", src.to_str().unwrap(), &obj]),
        "201"
    );
    for _ in 0..3 {
        assert_eq!(curl_status(&lab, &["-r", "0-99", &obj]), "206");
    }
    let fast = request_seconds_at(&lab, 4);
    // Most of the body has to wait in xskd for the reader, not in buffers.
    peer_ok(
        &lab,
        "sysctl",
        &["-qw", "net.ipv4.tcp_rmem=4096 65536 65536"],
    );
    let started = std::time::Instant::now();
    assert_eq!(curl_status(&lab, &["--limit-rate", "300K", &obj]), "200");
    let wall = started.elapsed().as_secs_f64();
    let slow = request_seconds_at(&lab, 5) - fast;
    eprintln!("4 quick requests: {fast:.6} s in all; the 1 MB at 300 KB/s: {slow:.3} s of {wall:.3} s wall");
    assert!(fast < 0.1, "{fast}");
    // 1 MB at 300 KB/s is over 3 s of wall time; the last 128 KB fit in our
    // send buffer and the peer's receive buffer, so xskd is done earlier.
    assert!(
        slow > 2.0 && slow <= wall,
        "slow download timed {slow:.3} s of {wall:.3} s"
    );
    xskd.stop().unwrap();
}
