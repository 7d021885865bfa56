//! HTTPS (rustls inside the workers) over a real veth pair: curl, openssl
//! s_client, wrk and raw sockets from python3 in the peer namespace.

use xskd_veth_tests as common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use xskd::lab::{Lab, XskdProcess};

const BASE: &str = "https://198.18.0.1";

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

/// A lab whose xskd serves HTTPS with a generated certificate written to
/// `<lab dir>/cert.pem`; `https_extra` adds keys to `[https]`.
fn start_https(tag: &str, https_extra: &str) -> (Lab, XskdProcess, PathBuf) {
    require_root();
    let lab = Lab::create(tag, 1).expect("building the veth lab");
    let cert = lab.dir().join("cert.pem");
    let extra = format!(
        "[https]\nwrite_generated_cert = \"{}\"\n{https_extra}\n",
        cert.display()
    );
    let xskd = spawn(&lab, &extra);
    (lab, xskd, cert)
}

fn spawn(lab: &Lab, extra: &str) -> XskdProcess {
    let cfg = test_config(lab, &[(0, None)], extra);
    let path = lab.write_config(&cfg).expect("writing config");
    lab.spawn_xskd(Path::new(xskd_bin()), &path)
        .expect("starting xskd")
}

fn curl_status(lab: &Lab, cert: &Path, args: &[&str]) -> String {
    let cacert = cert.to_str().unwrap();
    let mut full = vec![
        "-sS",
        "--max-time",
        "20",
        "--cacert",
        cacert,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ];
    full.extend_from_slice(args);
    peer_ok(lab, "curl", &full)
}

/// Run in the peer namespace with `input` on stdin: (success, stdout, stderr).
fn peer_stdin(lab: &Lab, program: &str, args: &[&str], input: &[u8]) -> (bool, String, String) {
    let mut child = lab
        .peer_cmd(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning a peer command");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The admin endpoint's metrics once `needle` shows up (or the last text).
fn metrics_with(lab: &Lab, needle: &str) -> String {
    let mut text = String::new();
    for _ in 0..40 {
        let out = lab
            .xskd_ns_cmd("curl")
            .args(["-s", "http://127.0.0.1:9100/metrics"])
            .output()
            .unwrap();
        text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(needle) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    text
}

/// The value of the series `series` (name and labels, as printed).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[test]
fn curl_put_get_head_post_delete_over_https_with_generated_cert() {
    let (lab, xskd, cert) = start_https("tlscrud", "");
    let a = url("/docs/a");
    let put = ["-X", "PUT", "--data-binary", "hello", a.as_str()];
    assert_eq!(curl_status(&lab, &cert, &put), "201");
    assert_eq!(curl_status(&lab, &cert, &put), "204", "replacing");
    let c = cert.to_str().unwrap();
    let out = lab
        .peer_cmd("curl")
        .args(["-sv", "--max-time", "10", "--cacert", c, &a])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello", "{err}");
    assert!(err.contains("ALPN: server accepted http/1.1"), "{err}");
    assert!(err.contains("TLSv1.3"), "{err}");
    let head = peer_ok(&lab, "curl", &["-sS", "--cacert", c, "-I", &a]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let post = peer_ok(
        &lab,
        "curl",
        &[
            "-sS",
            "--cacert",
            c,
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--data-binary",
            "new",
            &url("/docs/"),
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
        peer_ok(&lab, "curl", &["-sS", "--cacert", c, &url(&loc)]),
        "new"
    );
    assert_eq!(curl_status(&lab, &cert, &["-X", "DELETE", &a]), "204");
    assert_eq!(curl_status(&lab, &cert, &[&a]), "404");
    // Plain HTTP keeps working next to it, on the same store.
    assert_eq!(
        peer_ok(
            &lab,
            "curl",
            &[
                "-sS",
                "--max-time",
                "10",
                &format!("http://198.18.0.1{loc}")
            ]
        ),
        "new"
    );
    let text = metrics_with(&lab, "xskd_https_requests_total{method=\"PUT\"");
    assert!(
        text.contains(
            "xskd_tls_handshakes_total{queue=\"0\",reason=\"full\",result=\"ok\",worker=\"0\"}"
        ),
        "{text}"
    );
    assert!(text.contains("xskd_tls_handshake_seconds_bucket"), "{text}");
    // The new series keep the exposition valid.
    assert_promtool_accepts(&text);
    xskd.stop().unwrap();
}

#[test]
fn curl_expect_100_continue_with_10mb_put_over_https() {
    let (lab, xskd, cert) = start_https("tls100", "");
    let src = lab.dir().join("big.bin");
    let body: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &body).unwrap();
    let big = url("/big");
    let c = cert.to_str().unwrap();
    let out = lab
        .peer_cmd("curl")
        .args([
            "-sv",
            "--max-time",
            "60",
            "--cacert",
            c,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Expect: 100-continue",
            "-T",
            src.to_str().unwrap(),
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
            "--cacert",
            c,
            "-o",
            back.to_str().unwrap(),
            &big,
        ],
    );
    assert!(
        std::fs::read(&back).unwrap() == body,
        "10 MB body byte-exact"
    );
    xskd.stop().unwrap();
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: close\r\n\r\n";

fn s_client(lab: &Lab, cert: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "s_client",
        "-connect",
        "198.18.0.1:443",
        "-CAfile",
        cert.to_str().unwrap(),
        "-verify_ip",
        "198.18.0.1",
        "-verify_return_error",
        // Wait for the server to close after `Connection: close`.
        "-ign_eof",
    ];
    args.extend_from_slice(extra);
    peer_stdin(lab, "openssl", &args, REQUEST)
}

#[test]
fn openssl_s_client_tls13_tls12_alpn_and_resumption() {
    let (lab, xskd, cert) = start_https("tlsossl", "");
    let (ok, out, err) = s_client(&lab, &cert, &["-tls1_3", "-alpn", "http/1.1"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    assert!(out.contains("TLSv1.3"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("HTTP/1.1 404"), "{out}");
    let (ok, out, err) = s_client(&lab, &cert, &["-tls1_2"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Protocol  : TLSv1.2"), "{out}");
    // TLS 1.2: -reconnect resumes by session cache or ticket.
    let (_, out, _) = s_client(&lab, &cert, &["-tls1_2", "-reconnect"]);
    assert!(out.contains("Reused, TLSv1.2"), "{out}");
    // TLS 1.3: the ticket comes after the handshake; keep it and offer it.
    let sess = lab.dir().join("sess.pem");
    let s = sess.to_str().unwrap();
    let (ok, out, err) = s_client(&lab, &cert, &["-tls1_3", "-sess_out", s]);
    assert!(ok && out.contains("New, TLSv1.3"), "{out}\n{err}");
    let (ok, out, err) = s_client(&lab, &cert, &["-tls1_3", "-sess_in", s]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Reused, TLSv1.3"), "{out}");
    let text = metrics_with(&lab, "xskd_tls_sessions_total");
    let resumed = metric(
        &text,
        "xskd_tls_handshakes_total{queue=\"0\",reason=\"resumed\",result=\"ok\",worker=\"0\"}",
    );
    assert!(resumed >= 2.0, "{text}");
    assert!(
        text.contains("xskd_tls_sessions_total{queue=\"0\",version=\"1.2\",worker=\"0\"}"),
        "{text}"
    );
    xskd.stop().unwrap();
}

#[test]
fn tls12_turned_off_answers_a_tls12_client_with_protocol_version_alert() {
    let (lab, xskd, cert) = start_https("tlsno12", "tls12 = false\n");
    let (ok, out, err) = s_client(&lab, &cert, &["-tls1_2"]);
    assert!(!ok, "{out}");
    assert!(err.contains("alert protocol version"), "{err}");
    let (ok, out, err) = s_client(&lab, &cert, &["-tls1_3"]);
    assert!(ok && out.contains("TLSv1.3"), "{out}\n{err}");
    let text = metrics_with(
        &lab,
        "reason=\"unsupported_version\",result=\"failed\",worker=\"0\"} 1",
    );
    assert!(
        text.contains("xskd_tls_handshakes_total{queue=\"0\",reason=\"unsupported_version\",result=\"failed\",worker=\"0\"} 1"),
        "{text}"
    );
    xskd.stop().unwrap();
}

#[test]
fn wrk_over_https_keep_alive_with_openssl_made_pem_files() {
    require_root();
    let lab = Lab::create("tlswrk", 1).expect("building the veth lab");
    let (cert, key) = (lab.dir().join("c.pem"), lab.dir().join("k.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=198.18.0.1",
            "-addext",
            "subjectAltName=IP:198.18.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let xskd = spawn(
        &lab,
        &format!(
            "[https]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let a = url("/w");
    assert_eq!(
        curl_status(
            &lab,
            &cert,
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
    xskd.stop().unwrap();
}

/// Bad input on raw sockets, each read back to the alert and the close,
/// while one good TLS connection stays open and keeps working.
const BAD_INPUT: &str = r#"
import socket, ssl, struct, sys, json, os, time
HOST = "198.18.0.1"
ctx = ssl.create_default_context(cafile=sys.argv[1])
good = ctx.wrap_socket(socket.create_connection((HOST, 443), timeout=10), server_hostname=HOST)
def get(s):
    s.sendall(b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    return data.split(b" ")[1].decode()
res = {"good_before": get(good)}
def raw(payload, shut=False):
    s = socket.create_connection((HOST, 443), timeout=10)
    s.sendall(payload)
    if shut:
        s.shutdown(socket.SHUT_WR)
    data = b""
    t0 = time.time()
    while True:
        try:
            b = s.recv(4096)
        except ConnectionResetError:
            return {"bytes": data.hex(), "end": "rst"}
        if not b:
            return {"bytes": data.hex(), "end": "fin", "secs": time.time() - t0}
        data += b
hello = bytearray()
hello += b"\x03\x01" + os.urandom(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
# signature_algorithms: ecdsa_secp256r1_sha256 (rustls checks it before the version)
hello += b"\x00\x08\x00\x0d\x00\x04\x00\x02\x04\x03"
hs = b"\x01" + struct.pack(">I", len(hello))[1:] + hello
tls10 = b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
res["garbage"] = raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
res["oversized"] = raw(b"\x16\x03\x01\xff\xff" + b"\x01" * 64)
res["tls10"] = raw(tls10)
res["truncated"] = raw(b"\x16\x03\x01\x00\x80\x01\x00", shut=True)
res["silent"] = raw(b"")
res["good_after"] = get(good)
print(json.dumps(res))
"#;

#[test]
fn bad_input_gets_alert_and_close_while_a_good_connection_goes_on() {
    let (lab, xskd, cert) = start_https("tlsbad", "handshake_timeout_ms = 1000\n");
    assert_eq!(
        curl_status(
            &lab,
            &cert,
            &["-X", "PUT", "--data-binary", "g", &url("/g")]
        ),
        "201"
    );
    let script = lab.dir().join("bad.py");
    std::fs::write(&script, BAD_INPUT).unwrap();
    let started = Instant::now();
    let out = peer_ok(
        &lab,
        "python3",
        &[script.to_str().unwrap(), cert.to_str().unwrap()],
    );
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["good_before"], "200", "{v}");
    assert_eq!(
        v["good_after"], "200",
        "the good connection is unaffected: {v}"
    );
    // Fatal alerts in the clear: 15 03 03 00 02 02 <description>, then FIN.
    assert_eq!(v["garbage"]["bytes"], "15030300020232", "decode_error: {v}");
    assert_eq!(v["garbage"]["end"], "fin", "{v}");
    assert_eq!(
        v["oversized"]["bytes"], "15030300020232",
        "decode_error: {v}"
    );
    assert_eq!(
        v["tls10"]["bytes"], "15030300020246",
        "protocol_version: {v}"
    );
    assert_eq!(
        v["truncated"]["bytes"], "",
        "no alert for a cut record: {v}"
    );
    assert_eq!(v["truncated"]["end"], "fin", "{v}");
    assert_eq!(v["silent"]["bytes"], "", "{v}");
    assert_eq!(
        v["silent"]["end"], "fin",
        "closed by the handshake timeout: {v}"
    );
    let secs = v["silent"]["secs"].as_f64().unwrap();
    assert!((0.5..5.0).contains(&secs), "timeout after ~1 s: {secs}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let text = metrics_with(&lab, "reason=\"timeout\",result=\"failed\",worker=\"0\"} 1");
    for (reason, n) in [
        ("decode_error", 2),
        ("unsupported_version", 1),
        ("eof", 1),
        ("timeout", 1),
    ] {
        let line = format!(
            "xskd_tls_handshakes_total{{queue=\"0\",reason=\"{reason}\",result=\"failed\",worker=\"0\"}} {n}"
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }
    assert!(
        text.contains("xskd_tls_alerts_sent_total{queue=\"0\",worker=\"0\"} 3"),
        "{text}"
    );
    xskd.stop().unwrap();
}

/// SIGTERM while curl downloads `len` bytes over HTTPS at `rate` with a
/// 64 KB receive buffer: (curl's exit code, bytes it got, the body, RSTs
/// xskd sent).
fn sigterm_during_https_download(
    tag: &str,
    len: usize,
    rate: &str,
    drain_secs: u64,
) -> (i32, Vec<u8>, Vec<u8>, u64) {
    let (lab, mut xskd, cert) = start_https(
        tag,
        &format!("\n[worker]\npoll = \"backoff\"\ndrain_secs = {drain_secs}\n"),
    );
    let body: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
        .collect();
    let src = lab.dir().join("src.bin");
    std::fs::write(&src, &body).unwrap();
    let obj = url("/dl");
    assert_eq!(
        curl_status(&lab, &cert, &["-T", src.to_str().unwrap(), &obj]),
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
            "--cacert",
            cert.to_str().unwrap(),
            "--limit-rate",
            rate,
            "-o",
            dst.to_str().unwrap(),
            &obj,
        ])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&dst).map_or(0, |m| m.len()) < 100_000 {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    xskd.terminate().unwrap();
    let code = curl.wait().unwrap().code().unwrap_or(-1);
    let report = xskd
        .wait_exit(Duration::from_secs(drain_secs + 15))
        .unwrap();
    let got = std::fs::read(&dst).unwrap_or_default();
    (code, got, body, sum_queues(&report, "/stack/tcp/out_rsts"))
}

#[test]
fn sigterm_over_https_finishes_the_response_before_close_notify_or_resets_it() {
    let (code, got, body, _) = sigterm_during_https_download("httpsdrain", 1_000_000, "500K", 5);
    assert_eq!(code, 0, "curl got {} of {} bytes", got.len(), body.len());
    assert!(
        got == body,
        "{} of {} bytes, byte-exact",
        got.len(),
        body.len()
    );
    let (code, got, body, rsts) =
        sigterm_during_https_download("httpsdrainrst", 4_000_000, "500K", 1);
    assert_eq!(
        code,
        56,
        "curl exit {code} after {} of {} bytes",
        got.len(),
        body.len()
    );
    assert!(got.len() < body.len() && got[..] == body[..got.len()]);
    assert!(rsts >= 1);
}
