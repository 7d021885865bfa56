//! Running xskd as a service: the systemd unit, sd_notify READY/WATCHDOG,
//! graceful stop with drain, and a real Prometheus server scraping it.

use xskd_veth_tests as common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use xskd::lab::Lab;

/// `scripts/install.sh` puts the binary, unit, config and docs where the
/// shipped unit expects them, and the unit verifies as installed (no path
/// rewritten). Installed under a destdir so the machine's own /usr/local
/// and /etc are left alone; a second install keeps the operator's config.
#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let root = repo_root();
    let unit = std::fs::read_to_string(root.join("config/xskd.service")).unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    let dest = tempfile::tempdir().unwrap();
    let install = |what: &str| {
        let out = Command::new("bash")
            .arg(root.join("scripts/install.sh"))
            .args(["--no-build", "--destdir"])
            .arg(dest.path())
            .env("XSKD_INSTALL_BIN", xskd_bin())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what}: install.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    install("first install");
    for installed in [
        "usr/local/bin/xskd",
        "etc/systemd/system/xskd.service",
        "usr/local/lib/sysusers.d/xskd.conf",
        "etc/xskd/xskd.toml",
        "usr/share/doc/xskd/README.md",
    ] {
        assert!(
            dest.path().join(installed).is_file(),
            "{installed} not installed"
        );
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", dest.path().display()))
        .arg("/etc/systemd/system/xskd.service")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify on the installed unit: {err}"
    );
    // An operator's edits survive a reinstall.
    let cfg = dest.path().join("etc/xskd/xskd.toml");
    let edited = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("eth0", "ens5");
    std::fs::write(&cfg, &edited).unwrap();
    install("reinstall");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), edited);
    assert!(dest.path().join("etc/xskd/xskd.toml.dist").is_file());
}

fn recv_until(sock: &UnixDatagram, want: &str, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        sock.set_read_timeout(Some(deadline - Instant::now()))
            .ok()?;
        if let Ok(n) = sock.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).contains(want) {
                return Some(Instant::now());
            }
        }
    }
    None
}

#[test]
fn sd_notify_ready_after_datapath_and_watchdog_stops_while_a_worker_stalls() {
    require_root();
    let lab = Lab::create("notify", 1).unwrap();
    let path = lab
        .write_config(&test_config(&lab, &[(0, None)], ""))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let env = [
        ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
        // WatchdogSec=1: feed every 500 ms.
        ("WATCHDOG_USEC", "1000000"),
    ];
    let xskd = lab
        .spawn_xskd_with_env(Path::new(xskd_bin()), &path, &env)
        .unwrap();
    recv_until(&sock, "READY=1", Duration::from_secs(5)).expect("READY=1");
    // READY means the datapath is up: the program is attached and answers.
    let link = lab
        .xskd_ns_cmd("ip")
        .args(["link", "show", "dev", &lab.if_xskd])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&link.stdout).contains("prog/xdp"));
    probe_ok(
        &lab,
        &["udp-echo", "198.18.0.1:7", "--min", "8", "--max", "8"],
    );
    for _ in 0..2 {
        recv_until(&sock, "WATCHDOG=1", Duration::from_secs(2)).expect("watchdog while healthy");
    }
    // Stall worker 0 for 3 s: the watchdog must go quiet.
    let out = lab
        .xskd_ns_cmd("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "http://127.0.0.1:9100/actions/stall?worker=0&ms=3000",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("stalled_worker"),
        "{out:?}"
    );
    let stalled_at = Instant::now();
    // One feeding may already be in flight; after that, silence.
    let _ = recv_until(&sock, "WATCHDOG=1", Duration::from_millis(700));
    let quiet = recv_until(&sock, "WATCHDOG=1", Duration::from_millis(1500));
    assert!(quiet.is_none(), "watchdog fed while the worker was stalled");
    let back = recv_until(&sock, "WATCHDOG=1", Duration::from_secs(5)).expect("watchdog resumes");
    assert!(
        back - stalled_at >= Duration::from_millis(2500),
        "resumed too early"
    );
    xskd.stop().unwrap();
    recv_until(&sock, "STOPPING=1", Duration::from_secs(1)).expect("STOPPING=1");
}

#[test]
fn sigterm_drains_then_resets_and_exits_zero() {
    let (lab, xskd) = start_with(
        "drain",
        1,
        &[(0, None)],
        "[worker]\npoll = \"backoff\"\ndrain_secs = 1\n",
    );
    // A client that keeps its side open: after our FIN it still won't
    // close, so the drain time runs out and we reset it.
    let mut holder = lab.peer_cmd("sh");
    holder
        .args(["-c", "sleep 8 | nc 198.18.0.1 9"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut holder = holder.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let ss = peer_ok(
            &lab,
            "ss",
            &["-tanH", "state", "established", "dst", "198.18.0.1"],
        );
        if !ss.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    let report = xskd.stop_within(Duration::from_secs(8)).unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "did not wait for the drain: {took:?}"
    );
    assert!(
        sum_queues(&report, "/stack/tcp/out_rsts") >= 1,
        "left-over connection reset: {report:#}"
    );
    let ss = peer_ok(
        &lab,
        "ss",
        &["-tanH", "state", "established", "dst", "198.18.0.1"],
    );
    assert!(
        ss.trim().is_empty(),
        "nothing left established on the peer: {ss}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

/// The echo connection on port 7 as /connections shows it, if any.
fn echo_row(lab: &Lab) -> Option<serde_json::Value> {
    let body = admin_get(lab, "/connections?port=7").0;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["connections"].as_array()?.first().cloned()
}

/// SIGTERM while our answer is still queued behind a closed window: the FIN
/// goes out after every byte written before it, the peer reads all of them
/// and then EOF (never a reset, never a short stream), and xskd exits once
/// the connection closed, inside the drain time.
#[test]
fn sigterm_delivers_every_byte_written_then_fin() {
    const N: usize = 48_000;
    let (lab, mut xskd) = start_with(
        "drainfin",
        1,
        &[(0, None)],
        "[worker]\npoll = \"backoff\"\ndrain_secs = 20\n",
    );
    // A client with a tiny receive buffer sends N bytes to the echo and
    // reads nothing until told to, so our echo waits in our send buffer.
    let script = format!(
        r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("198.18.0.1", 7))
data = bytes(i % 251 for i in range({N}))
s.sendall(data)
print("sent", flush=True)
sys.stdin.readline()
got = bytearray()
end = "eof"
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except ConnectionResetError:
    end = "reset"
s.close()
print(f"end={{end}} got={{len(got)}} exact={{got == data}}", flush=True)
"#
    );
    let mut client = lab
        .peer_cmd("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "sent");
    // Wait until our echo has read every byte (nothing unread: closing
    // then is a FIN, not the RST of RFC 9293 3.10.4 for unread data).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = echo_row(&lab);
        let done = row.as_ref().is_some_and(|r| {
            r["bytes_in"] == N as u64 && r["recv_queue"] == 0 && r["send_queue"].as_u64() > Some(0)
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "echo never read it all: {row:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped_at = Instant::now();
    xskd.terminate().unwrap();
    xskd.wait_for_line("stopping", Duration::from_secs(5))
        .unwrap();
    // The FIN is queued behind data the peer has not taken yet.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let row = echo_row(&lab);
        if row
            .as_ref()
            .is_some_and(|r| r["state"] == "FIN-WAIT-1" && r["send_queue"].as_u64() > Some(0))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no FIN queued behind data: {row:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::io::Write::write_all(client.stdin.as_mut().unwrap(), b"go\n").unwrap();
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(
        line.trim(),
        format!("end=eof got={N} exact=True"),
        "the peer's view of the drained stream"
    );
    assert!(client.wait().unwrap().success());
    let report = xskd.wait_exit(Duration::from_secs(25)).unwrap();
    assert!(
        stopped_at.elapsed() < Duration::from_secs(15),
        "xskd waited for the drain time instead of the connection: {:?}",
        stopped_at.elapsed()
    );
    assert_eq!(
        sum_queues(&report, "/stack/tcp/out_rsts"),
        0,
        "a reset was sent: {report:#}"
    );
}

#[test]
fn prometheus_server_scrapes_rates_and_quantiles() {
    let (lab, xskd) = start("promsrv");
    let dir = lab.dir().join("prom");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: xskd\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n",
    )
    .unwrap();
    let prom = lab
        .xskd_ns_cmd("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--web.listen-address=127.0.0.1:9090")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (installed by scripts/install-deps.sh)");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(prom);
    let query_raw = |q: &str| -> serde_json::Value {
        let out = lab
            .xskd_ns_cmd("curl")
            .args([
                "-s",
                "--get",
                "--data-urlencode",
                &format!("query={q}"),
                "http://127.0.0.1:9090/api/v1/query",
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    // Wait until Prometheus is up and has scraped xskd once.
    let deadline = Instant::now() + Duration::from_secs(20);
    while query_raw("up{job=\"xskd\"}")["data"]["result"][0]["value"][1] != "1" {
        assert!(Instant::now() < deadline, "prometheus never scraped xskd");
        std::thread::sleep(Duration::from_millis(250));
    }
    // Traffic across several scrapes: bounded in count and time.
    for _ in 0..4 {
        probe_ok(
            &lab,
            &[
                "udp-blast",
                "198.18.0.1:7",
                "--count",
                "20000",
                "--size",
                "64",
            ],
        );
        std::thread::sleep(Duration::from_millis(700));
    }
    let query = |q: &str| -> f64 {
        for _ in 0..20 {
            let v = query_raw(q);
            if let Some(x) = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
            {
                if x.is_finite() && x > 0.0 {
                    return x;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("no positive answer to {q}");
    };
    let rate = query("sum(rate(xskd_udp_rx_datagrams_total[20s]))");
    assert!(rate > 100.0, "rate {rate}");
    let p99 = query("histogram_quantile(0.99, sum by (le) (rate(xskd_udp_echo_turnaround_seconds_bucket[20s])))");
    assert!(p99 > 0.0 && p99 < 0.1, "p99 {p99} s");
    xskd.stop().unwrap();
}
