//! xskd on a real driver: a QEMU guest (TCG, Debian 12's kernel) whose
//! multi-queue virtio-net NIC is backed by a tap device in a network
//! namespace made here, where the host's kernel is the peer. Inside, xskd
//! serves the NIC's two queues in native (driver) XDP mode; from the tap
//! side the kernel pings, arpings, echoes UDP and TCP, fetches over HTTP
//! and asks DNS. The guest reports over its serial console (QEMU's stdio):
//! xskd's final report, virtio_net's per-queue XDP counters, and whether
//! the program was still attached once xskd had exited.
//!
//! `scripts/qemu_guest.sh` fetches the kernel (cached in target/qemu-guest),
//! builds the initramfs around the release binary and boots the guest.

use xskd_veth_tests as common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::*;

const XSKD_IP: &str = "198.18.0.1";
const PEER_CIDR: &str = "198.18.0.2/24";
/// The guest NIC's MAC (qemu_guest.sh); xskd answers ARP with it.
const GUEST_MAC: &str = "52:54:00:78:73:6b";
/// Boot, the zero-copy attempt and xskd's start, under TCG on a loaded
/// 2-core machine (about 15 s when idle).
const READY_WITHIN: Duration = Duration::from_secs(420);
/// From "stop" to the guest's power-off: xskd's drain and the reports.
const STOP_WITHIN: Duration = Duration::from_secs(120);
/// QEMU's own hard limit (timeout(1) in qemu_guest.sh), past both above.
const QEMU_TIMEOUT_SECS: &str = "720";

/// A network namespace holding the multi-queue tap the guest's NIC is
/// backed by; deleted (and the tap with it) on drop.
struct HostNet {
    ns: String,
    tap: String,
}

impl HostNet {
    fn create() -> HostNet {
        let id = std::process::id() & 0xffff;
        let net = HostNet {
            ns: format!("xskd-vm-{id:x}-p"),
            tap: format!("xkvm{id:x}"),
        };
        let ns = net.ns.as_str();
        let tap = net.tap.as_str();
        for args in [
            &["netns", "add", ns][..],
            &["-n", ns, "link", "set", "lo", "up"],
            &[
                "-n",
                ns,
                "tuntap",
                "add",
                "dev",
                tap,
                "mode",
                "tap",
                "multi_queue",
            ],
            &["-n", ns, "addr", "add", PEER_CIDR, "dev", tap],
            &["-n", ns, "link", "set", tap, "up"],
        ] {
            let out = Command::new("ip").args(args).output().expect("running ip");
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        net
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.cmd(program)
            .args(args)
            .output()
            .expect("running a peer command")
    }

    /// Runs `program` in the namespace and returns its stdout, asserting success.
    fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for HostNet {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stderr(Stdio::null())
            .status();
    }
}

/// The booted guest: QEMU in its own process group (killed whole on
/// drop), the serial console's lines as they arrive.
struct Guest {
    qemu: Child,
    console: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Guest {
    fn boot(net: &HostNet) -> Guest {
        let mut qemu = net
            .cmd("bash")
            .arg(repo_root().join("scripts/qemu_guest.sh"))
            .args(["boot", &net.tap])
            .env("XSKD_QEMU_TIMEOUT", QEMU_TIMEOUT_SECS)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting qemu_guest.sh boot");
        let (tx, rx) = mpsc::channel();
        let stdout = qemu.stdout.take().expect("piped stdout");
        let stderr = qemu.stderr.take().expect("piped stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx2.send(format!("qemu stderr: {line}")).is_err() {
                    break;
                }
            }
        });
        Guest {
            console: qemu.stdin.take(),
            qemu,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a console line starting with `prefix`; panics, showing
    /// the console so far, if the guest fails, exits or takes too long.
    fn wait_for(&mut self, prefix: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with("xskd-guest: FAIL") {
                        panic!("the guest failed: {line}\n{}", self.transcript());
                    }
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no {prefix:?} from the guest within {within:?}:\n{}",
                        self.transcript()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the guest's console closed before {prefix:?} ({:?}):\n{}",
                    self.qemu.try_wait(),
                    self.transcript()
                ),
            }
        }
    }

    /// Sends "stop", waits for the guest's last line and QEMU's exit, and
    /// returns every console line after "ready".
    fn stop(&mut self) -> Vec<String> {
        let from = self.seen.len();
        let mut console = self.console.take().expect("console still open");
        console
            .write_all(b"stop\n")
            .expect("writing to the guest's console");
        drop(console);
        self.wait_for("xskd-guest: done", STOP_WITHIN);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.qemu.try_wait().expect("waiting for qemu") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "QEMU did not exit after the guest powered off"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        assert!(
            status.success(),
            "QEMU exited with {status}:\n{}",
            self.transcript()
        );
        self.seen[from..].to_vec()
    }

    fn transcript(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if self.qemu.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.qemu.id())])
                .status();
            let _ = self.qemu.wait();
        }
    }
}

/// The value after `xskd-guest: <key>` on the console lines.
fn field<'a>(lines: &'a [String], key: &str) -> &'a str {
    let prefix = format!("xskd-guest: {key}");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the guest printed no {prefix:?}:\n{}", lines.join("\n")))
        .trim()
}

/// virtio_net's `ethtool -S` counters the guest printed (`stat: name:value`).
fn driver_stats(lines: &[String]) -> HashMap<String, u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("xskd-guest: stat: "))
        .filter_map(|s| {
            let (k, v) = s.split_once(':')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn native_xdp_on_two_virtio_net_queues_serves_the_host_kernel() {
    require_root();
    let started = Instant::now();
    let prep = Command::new("bash")
        .arg(repo_root().join("scripts/qemu_guest.sh"))
        .args(["prepare", xskd_bin()])
        .output()
        .expect("running qemu_guest.sh prepare");
    assert!(
        prep.status.success(),
        "qemu_guest.sh prepare failed:\n{}{}",
        String::from_utf8_lossy(&prep.stdout),
        String::from_utf8_lossy(&prep.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&prep.stdout));
    let net = HostNet::create();
    let booted = Instant::now();
    let mut guest = Guest::boot(&net);
    let kernel = guest.wait_for("xskd-guest: kernel", READY_WITHIN);
    let init_at = booted.elapsed().as_secs_f64();
    let ready = guest.wait_for("xskd-guest: ready", READY_WITHIN);
    eprintln!(
        "prepare {:.1}s; QEMU start to the guest's init {init_at:.1}s ({kernel}); \
         to xskd ready {:.1}s ({ready})",
        (booted - started).as_secs_f64(),
        booted.elapsed().as_secs_f64(),
    );
    let before = guest.seen.clone();
    // Driver mode: iproute2 says "xdp" (SKB mode would be "xdpgeneric").
    let serving = field(&before, "xdp while serving:");
    assert!(
        serving.split_whitespace().next() == Some("xdp") && serving.contains("prog/xdp id"),
        "xskd's program must be attached in driver mode: {serving:?}"
    );
    assert_eq!(field(&before, "channels:"), "Combined: 2");

    // ARP and ICMP.
    let arping = net.ok("arping", &["-c", "2", "-w", "20", "-I", &net.tap, XSKD_IP]);
    assert!(arping.to_lowercase().contains(GUEST_MAC), "{arping}");
    let ping = net.ok(
        "ping",
        &["-c", "5", "-i", "0.2", "-W", "5", "-s", "1400", XSKD_IP],
    );
    assert_eq!(ping_loss(&ping), 0.0, "{ping}");

    // UDP: byte-exact echoes over a spread of sizes, then many flows (the
    // tap's flow hash spreads distinct source ports over both queues).
    let udp = net.ok(
        xskd_bin(),
        &[
            "probe",
            "udp-echo",
            "198.18.0.1:7",
            "--min",
            "1",
            "--max",
            "1472",
            "--step",
            "49",
        ],
    );
    assert!(udp.contains("31 sizes 1..=1472 echoed byte-exact"), "{udp}");
    let flows = net.ok(
        xskd_bin(),
        &["probe", "udp-flows", "198.18.0.1:7", "--flows", "64"],
    );
    assert!(flows.contains("64/64 flows answered"), "{flows}");

    // TCP (passive opens: a 4-tuple stays on one queue): the echo, byte-exact.
    let tcp = net.ok(
        xskd_bin(),
        &[
            "probe",
            "tcp-echo",
            "198.18.0.1:7",
            "--bytes",
            "200000",
            "--connections",
            "4",
        ],
    );
    assert!(
        tcp.contains("4 connection(s) x 200000 bytes echoed byte-exact"),
        "{tcp}"
    );

    // HTTP: PUT a body, GET it back.
    let body = pattern(100_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, &body).unwrap();
    let url = format!("http://{XSKD_IP}/virtio/object");
    let put = net.ok(
        "curl",
        &[
            "-sS",
            "--max-time",
            "60",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ],
    );
    assert_eq!(put, "201");
    let fetched = dir.path().join("fetched");
    let get = net.ok(
        "curl",
        &[
            "-sS",
            "--max-time",
            "60",
            "-o",
            &fetched.to_string_lossy(),
            "-w",
            "%{http_code}",
            &url,
        ],
    );
    assert_eq!(get, "200");
    let got = std::fs::read(&fetched).unwrap();
    assert!(
        got == body,
        "GET returned {} bytes, not the {} PUT",
        got.len(),
        body.len()
    );

    // DNS.
    let dig = net.ok(
        "dig",
        &[
            "@198.18.0.1",
            "+tries=3",
            "+time=5",
            "+short",
            "www.xskd.test",
            "A",
        ],
    );
    assert_eq!(dig.trim(), XSKD_IP);

    let after = guest.stop();
    eprintln!(
        "test wall time {:.1}s (boot to power-off {:.1}s)",
        started.elapsed().as_secs_f64(),
        booted.elapsed().as_secs_f64()
    );
    let all = guest.transcript();
    assert_eq!(field(&after, "xskd exit"), "0", "{all}");
    assert_eq!(
        field(&after, "xdp after exit:"),
        "detached",
        "xskd must detach its program on exit:\n{all}"
    );

    let report: serde_json::Value = serde_json::from_str(field(&after, "xskd-report"))
        .unwrap_or_else(|e| panic!("the final report does not parse: {e}\n{all}"));
    let queues = report["queues"].as_array().expect("queues in the report");
    assert_eq!(queues.len(), 2, "{report:#}");
    for q in queues {
        assert!(
            q["rx_frames"].as_u64().unwrap() > 0 && q["tx_frames"].as_u64().unwrap() > 0,
            "both queues must receive and answer: {report:#}"
        );
    }
    // The driver's own books, read while the program was attached: it ran
    // exactly the two queue pairs xskd serves (a spare XDP_TX queue would
    // also receive, and its frames would miss xskd), and its program
    // redirected frames to an AF_XDP socket on each.
    assert_eq!(
        field(&after, "channels while serving:"),
        "Combined: 2",
        "{all}"
    );
    let stats = driver_stats(&after);
    assert!(
        stats.contains_key("rx_queue_1_packets") && !stats.contains_key("rx_queue_2_packets"),
        "virtio_net must run exactly two rx queues: {stats:?}"
    );
    for q in 0..2 {
        let key = format!("rx_queue_{q}_xdp_redirects");
        assert!(
            stats.get(&key).copied().unwrap_or(0) > 0,
            "virtio_net redirected nothing on queue {q}: {stats:?}"
        );
    }

    // Zero-copy: "on" binds only where the driver offers it; "auto" must
    // agree with what "on" found.
    let zc_on = field(&before, "zero-copy on:");
    let offered = zc_on.starts_with("bound");
    assert!(offered || zc_on.starts_with("refused"), "{zc_on}");
    if !offered {
        assert_eq!(
            field(&before, "xdp after zero-copy attempt:"),
            "",
            "a start that fails to bind must leave no program behind"
        );
    }
    for q in queues {
        assert_eq!(
            q["zero_copy"].as_bool(),
            Some(offered),
            "zero_copy = \"auto\" must use zero-copy exactly when the driver offers it \
             (zero_copy = \"on\": {zc_on}): {report:#}"
        );
    }
    eprintln!(
        "zero-copy: {} ({zc_on})",
        if offered {
            "offered by the driver and used"
        } else {
            "not offered by this virtio_net; served in copy mode"
        }
    );
}
