//! A veth lab: two network namespaces joined by a veth pair, xskd's end in
//! one, a Linux kernel peer in the other, addresses from 198.18.0.0/15
//! (RFC 2544 benchmarking space). Used by `xskd demo`, the integration tests
//! and the benchmarks. Names are unique per lab so labs can run in parallel;
//! everything is deleted on drop, panics included.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam::channel::{self, Receiver};

/// xskd's address in every lab.
pub const XSKD_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The kernel peer's address.
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// A kernel address on xskd's own interface: traffic to it must pass the
/// XDP program untouched (XDP_PASS).
pub const XSKD_SIDE_KERNEL_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
pub const PREFIX_LEN: u8 = 24;

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    pub ns_xskd: String,
    pub ns_peer: String,
    pub if_xskd: String,
    pub if_peer: String,
    pub queues: u32,
    dir: PathBuf,
}

fn run(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

fn ip(args: &[&str]) -> Result<Output> {
    run(Command::new("ip").args(args))
}

impl Lab {
    /// Build a lab whose veth pair has `queues` rx/tx queues on each end.
    pub fn create(tag: &str, queues: u32) -> Result<Lab> {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:x}", ((std::process::id() & 0xffff) << 8) | (n & 0xff));
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        let dir = std::env::temp_dir().join(format!("xskd-lab-{tag}-{id}"));
        std::fs::create_dir_all(&dir).context("creating the lab directory")?;
        let lab = Lab {
            ns_xskd: format!("xskd-{tag}-{id}-x"),
            ns_peer: format!("xskd-{tag}-{id}-p"),
            if_xskd: format!("xk{id}x"),
            if_peer: format!("xk{id}p"),
            queues,
            dir,
        };
        // From here on, Drop cleans up whatever was made.
        lab.build()
            .with_context(|| format!("building veth lab {}", lab.ns_xskd))?;
        Ok(lab)
    }

    fn build(&self) -> Result<()> {
        let q = self.queues.to_string();
        ip(&["netns", "add", &self.ns_xskd])?;
        ip(&["netns", "add", &self.ns_peer])?;
        ip(&[
            "link",
            "add",
            &self.if_xskd,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            &self.if_peer,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ])?;
        ip(&["link", "set", &self.if_xskd, "netns", &self.ns_xskd])?;
        ip(&["link", "set", &self.if_peer, "netns", &self.ns_peer])?;
        let kernel_side = format!("{XSKD_SIDE_KERNEL_IP}/{PREFIX_LEN}");
        let peer = format!("{PEER_IP}/{PREFIX_LEN}");
        ip(&["-n", &self.ns_xskd, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &self.ns_xskd,
            "addr",
            "add",
            &kernel_side,
            "dev",
            &self.if_xskd,
        ])?;
        ip(&["-n", &self.ns_xskd, "link", "set", &self.if_xskd, "up"])?;
        ip(&["-n", &self.ns_peer, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &self.ns_peer,
            "addr",
            "add",
            &peer,
            "dev",
            &self.if_peer,
        ])?;
        ip(&["-n", &self.ns_peer, "link", "set", &self.if_peer, "up"])?;
        // A kernel peer on veth hands out frames with partial checksums (tx
        // checksum offload); real NICs finish them. Make the peer compute
        // full checksums so xskd sees what a wire would carry.
        run(self.peer_cmd("ethtool").args([
            "-K",
            &self.if_peer,
            "tx",
            "off",
            "gso",
            "off",
            "tso",
            "off",
        ]))?;
        // Same for the kernel on xskd's side (its answers for the XDP_PASS address).
        run(self.xskd_ns_cmd("ethtool").args([
            "-K",
            &self.if_xskd,
            "tx",
            "off",
            "gso",
            "off",
            "tso",
            "off",
        ]))?;
        Ok(())
    }

    /// A command run in the peer namespace (the Linux kernel side).
    pub fn peer_cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns_peer, program]);
        c
    }

    /// A command run in xskd's namespace.
    pub fn xskd_ns_cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns_xskd, program]);
        c
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A config for xskd in this lab. `queues` are (queue, core) pairs;
    /// `extra` is appended verbatim (more sections).
    pub fn config_toml(&self, queues: &[(u32, Option<usize>)], extra: &str) -> String {
        let qs: Vec<String> = queues
            .iter()
            .map(|(q, c)| match c {
                Some(c) => format!("{{ queue = {q}, core = {c} }}"),
                None => format!("{{ queue = {q} }}"),
            })
            .collect();
        format!(
            "[interface]\nname = \"{}\"\nqueues = [{}]\n\n[address]\nipv4 = \"{XSKD_IP}/{PREFIX_LEN}\"\n\n{extra}\n",
            self.if_xskd,
            qs.join(", ")
        )
    }

    pub fn write_config(&self, text: &str) -> Result<PathBuf> {
        let path = self.dir.join("xskd.toml");
        std::fs::write(&path, text).context("writing the lab config")?;
        Ok(path)
    }

    /// Start `xskd run --config CONFIG` inside xskd's namespace and wait until
    /// it says it is ready.
    pub fn spawn_xskd(&self, exe: &Path, config: &Path) -> Result<XskdProcess> {
        self.spawn_xskd_with_env(exe, config, &[])
    }

    /// As `spawn_xskd`, with extra environment variables (e.g. NOTIFY_SOCKET).
    pub fn spawn_xskd_with_env(
        &self,
        exe: &Path,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Result<XskdProcess> {
        self.spawn_xskd_via(&[], exe, config, env)
    }

    /// As `spawn_xskd_with_env`, started through `wrapper` (a command that
    /// execs its arguments, e.g. `setpriv --reuid=... --`), so the process
    /// handle is still xskd itself.
    pub fn spawn_xskd_via(
        &self,
        wrapper: &[String],
        exe: &Path,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Result<XskdProcess> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns_xskd])
            .args(wrapper)
            .arg(exe)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting xskd")?;
        let (tx, rx) = channel::unbounded();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let tx2 = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(Line::Out(line));
            }
        });
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(Line::Err(line));
            }
        });
        let mut proc = XskdProcess {
            child: Some(child),
            lines: rx,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        proc.wait_for_line("xskd: ready", Duration::from_secs(30))?;
        Ok(proc)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        for ns in [&self.ns_xskd, &self.ns_peer] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

enum Line {
    Out(String),
    Err(String),
}

/// A running xskd; killed on drop if still running.
pub struct XskdProcess {
    child: Option<Child>,
    lines: Receiver<Line>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl XskdProcess {
    fn take_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(Line::Out(l)) => {
                self.stdout.push(l.clone());
                Some(l)
            }
            Ok(Line::Err(l)) => {
                self.stderr.push(l.clone());
                Some(l)
            }
            Err(_) => None,
        }
    }

    /// Wait until a stdout or stderr line contains `needle`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Some(l) = self.take_line(left.min(Duration::from_millis(200))) {
                if l.contains(needle) {
                    return Ok(l);
                }
            } else if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                while self.take_line(Duration::from_millis(50)).is_some() {}
                bail!(
                    "xskd exited ({status}) before printing {needle:?}:\n{}",
                    self.stderr.join("\n")
                );
            }
        }
        bail!(
            "xskd did not print {needle:?} within {timeout:?}:\n{}",
            self.stderr.join("\n")
        )
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, wait for exit, return the final report's JSON line.
    pub fn stop(self) -> Result<serde_json::Value> {
        self.stop_within(Duration::from_secs(20))
    }

    /// As `stop`, failing if xskd takes longer than `limit` to exit.
    pub fn stop_within(mut self, limit: Duration) -> Result<serde_json::Value> {
        self.terminate()?;
        self.wait_exit(limit)
    }

    /// Send SIGTERM and return at once: the graceful stop (drain) begins.
    pub fn terminate(&mut self) -> Result<()> {
        let child = self.child.as_ref().context("already stopped")?;
        run(Command::new("kill").args(["-TERM", &child.id().to_string()]))?;
        Ok(())
    }

    /// Wait for the exit after [`terminate`](Self::terminate), at most
    /// `limit`; the final report's JSON line.
    pub fn wait_exit(mut self, limit: Duration) -> Result<serde_json::Value> {
        let mut child = self.child.take().context("already stopped")?;
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("xskd did not exit within {limit:?} of SIGTERM");
            }
            while self.take_line(Duration::from_millis(20)).is_some() {}
        };
        while self.take_line(Duration::from_millis(100)).is_some() {}
        if !status.success() {
            bail!("xskd exited with {status}:\n{}", self.stderr.join("\n"));
        }
        let report = self
            .stdout
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("xskd-report "))
            .context("xskd printed no final report")?;
        serde_json::from_str(report).context("parsing the final report")
    }
}

impl Drop for XskdProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
