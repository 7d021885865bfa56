//! Shared helpers for the veth-lab integration tests. These tests need root
//! (network namespaces, XDP, AF_XDP); without it they fail loudly rather
//! than skip, so CI can never pass them by not running them.
//!
//! They drive the optimized daemon users run: `scripts/test.sh` builds it
//! (`cargo build --release --bins`) and then runs this package with
//! `cargo test --release -p xskd-veth-tests`; [`xskd_bin`] finds that
//! binary next to the test executable and refuses one older than the
//! sources, so a test never silently exercises a stale build.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use xskd::lab::{Lab, XskdProcess};

/// The xskd binary under test: `XSKD_BIN` if set, else the one cargo built
/// in the same profile as this test (`target/<profile>/xskd`).
pub fn xskd_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| built_binary("xskd", "XSKD_BIN"))
}

/// The benchmark binary (`xskd-bench`, crates/bench): `XSKD_BENCH_BIN` if
/// set, else the one built beside the daemon.
pub fn bench_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| built_binary("xskd-bench", "XSKD_BENCH_BIN"))
}

fn built_binary(name: &str, env: &str) -> String {
    let path = match std::env::var_os(env) {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().expect("finding the test executable");
            // target/<profile>/deps/<test> -> target/<profile>/<name>
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test executable under target/<profile>/deps");
            let bin = profile_dir.join(name);
            assert_fresh(&bin);
            bin
        }
    };
    assert!(
        path.is_file(),
        "no {name} binary at {}: build it first with `cargo build --release --bins` \
         (scripts/test.sh does), or point {env} at one",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// Panics when `bin` is missing or older than any source it is built from.
/// The sources are the ones cargo recorded for it (`<bin>.d`, every file
/// rustc read plus the build scripts' inputs): exactly what a rebuild would
/// look at, so editing a test or a crate the binary does not use never
/// calls it stale, and editing anything it is built from always does.
fn assert_fresh(bin: &Path) {
    let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
        panic!(
            "no binary at {}: run `cargo build --release --bins` first \
             (scripts/test.sh does)",
            bin.display()
        );
    };
    let dep_info = bin.with_extension("d");
    let text = std::fs::read_to_string(&dep_info).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: rebuild with `cargo build --release --bins`",
            dep_info.display()
        )
    });
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for path in dep_info_sources(&text) {
        newest_under(&path, &mut newest);
    }
    assert!(newest.is_some(), "{}: lists no sources", dep_info.display());
    if let Some((t, path)) = newest {
        assert!(
            t <= built,
            "{} is older than {}: rebuild it with `cargo build --release --bins` \
             (scripts/test.sh does) so the tests run the current code",
            bin.display(),
            path.display()
        );
    }
}

/// The prerequisites of a Makefile-style dep-info line `target: a b\ c`.
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let Some(line) = text.lines().next() else {
        return Vec::new();
    };
    let Some((_, deps)) = line.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            ' ' => {
                if !cur.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathBuf::from(cur));
    }
    out
}

fn newest_under(path: &Path, newest: &mut Option<(SystemTime, PathBuf)>) {
    let Ok(meta) = path.metadata() else { return };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for e in entries.flatten() {
            newest_under(&e.path(), newest);
        }
    } else if let Ok(t) = meta.modified() {
        if newest.as_ref().is_none_or(|(n, _)| t > *n) {
            *newest = Some((t, path.to_path_buf()));
        }
    }
}

pub fn require_root() {
    let uid = unsafe_free_uid();
    assert_eq!(
        uid, 0,
        "the veth-lab tests need root: run them as root (the README's test command does)"
    );
}

fn unsafe_free_uid() -> u32 {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .expect("running id -u");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric uid")
}

/// Config text for tests: back-off polling so parallel tests on two cores
/// don't starve each other, plus `extra` sections. Each lab has its own
/// namespace, so the default admin address never clashes.
pub fn test_config(lab: &Lab, queues: &[(u32, Option<usize>)], extra: &str) -> String {
    let mut text = lab.config_toml(queues, extra);
    if !extra.contains("[worker]") {
        text.push_str("\n[worker]\npoll = \"backoff\"\n");
    }
    text
}

/// A lab with xskd running on one queue.
pub fn start(tag: &str) -> (Lab, XskdProcess) {
    start_with(tag, 1, &[(0, None)], "")
}

pub fn start_with(
    tag: &str,
    lab_queues: u32,
    queues: &[(u32, Option<usize>)],
    extra: &str,
) -> (Lab, XskdProcess) {
    require_root();
    let lab = Lab::create(tag, lab_queues).expect("building the veth lab");
    let cfg = test_config(&lab, queues, extra);
    let path = lab.write_config(&cfg).expect("writing config");
    let xskd = lab
        .spawn_xskd(Path::new(xskd_bin()), &path)
        .expect("starting xskd");
    (lab, xskd)
}

/// Run in the peer namespace and return the output, asserting success.
pub fn peer_ok(lab: &Lab, program: &str, args: &[&str]) -> String {
    let out = peer(lab, program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn peer(lab: &Lab, program: &str, args: &[&str]) -> Output {
    lab.peer_cmd(program)
        .args(args)
        .output()
        .expect("running a peer command")
}

/// Our probe subcommand run from the peer side.
pub fn probe_ok(lab: &Lab, args: &[&str]) -> String {
    let mut full = vec!["probe"];
    full.extend_from_slice(args);
    peer_ok(lab, xskd_bin(), &full)
}

/// Packet loss percentage from ping's summary line.
pub fn ping_loss(output: &str) -> f64 {
    let line = output
        .lines()
        .find(|l| l.contains("packet loss"))
        .unwrap_or_else(|| panic!("no summary in ping output:\n{output}"));
    let pct = line
        .split(',')
        .find(|p| p.contains("packet loss"))
        .and_then(|p| p.trim().split('%').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("unparsable ping summary: {line}"));
    pct
}

pub fn mac_of(lab: &Lab) -> String {
    let out = lab
        .xskd_ns_cmd("cat")
        .arg(format!("/sys/class/net/{}/address", lab.if_xskd))
        .output()
        .expect("reading the MAC");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Sum of a per-queue counter in a final report.
pub fn sum_queues(report: &serde_json::Value, pointer: &str) -> u64 {
    report["queues"]
        .as_array()
        .expect("queues array")
        .iter()
        .map(|q| q.pointer(pointer).and_then(|v| v.as_u64()).unwrap_or(0))
        .sum()
}

/// `promtool check metrics` accepts this exposition text.
pub fn assert_promtool_accepts(text: &str) {
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (installed by scripts/install-deps.sh)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejects the exposition:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The repository's root directory (scripts/, config/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// GET `path` from the admin endpoint inside the lab: (body, status code).
pub fn admin_get(lab: &Lab, path: &str) -> (String, String) {
    let out = lab
        .xskd_ns_cmd("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("http://127.0.0.1:9100{path}"),
        ])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (body.to_string(), code.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::dep_info_sources;

    #[test]
    fn dep_info_lists_every_prerequisite_with_escaped_spaces() {
        let text =
            "/t/release/xskd: /r/src/main.rs /r/my\\ dir/a.rs /r/bpf/x.bpf.c\n\n/r/src/main.rs:\n";
        assert_eq!(
            dep_info_sources(text),
            [
                PathBuf::from("/r/src/main.rs"),
                PathBuf::from("/r/my dir/a.rs"),
                PathBuf::from("/r/bpf/x.bpf.c"),
            ]
        );
        assert!(dep_info_sources("").is_empty());
    }
}
