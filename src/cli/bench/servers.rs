//! The servers under test, started and stopped in the lab: xskd (stack or
//! bare reflector, busy or back-off polling) and the kernel baselines.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam::channel::{self, Receiver};
use serde::Serialize;
use xskd::lab::{Lab, XskdProcess, XSKD_IP, XSKD_SIDE_KERNEL_IP};

use super::cpu;
use crate::cli::kernel_servers;

/// The port every UDP echo under test listens on (RFC 862).
pub const ECHO_PORT: u16 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// xskd's stack (its UDP echo service), busy polling.
    Xskd,
    /// xskd's stack with `poll = "backoff"`.
    XskdBackoff,
    /// The kernel's UDP stack behind `xskd kernel-server udp-echo`.
    Kernel,
    /// xskd with `processor = "reflector"`: the AF_XDP datapath alone.
    Reflector,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Xskd => "xskd",
            Subject::XskdBackoff => "xskd-backoff",
            Subject::Kernel => "kernel",
            Subject::Reflector => "reflector",
        }
    }

    pub fn is_xskd(self) -> bool {
        self != Subject::Kernel
    }

    pub fn udp_target(self) -> SocketAddr {
        let ip = if self.is_xskd() {
            XSKD_IP
        } else {
            XSKD_SIDE_KERNEL_IP
        };
        SocketAddr::from((ip, ECHO_PORT))
    }
}

/// A server under test, running; stopped (and its report kept) by `stop`.
pub enum Running {
    Xskd(XskdProcess),
    Kernel(KernelProcess),
}

impl Running {
    pub fn start(lab: &Lab, exe: &Path, subject: Subject, core: usize) -> Result<Running> {
        let (poll, processor) = match subject {
            Subject::Xskd => ("busy", "stack"),
            Subject::XskdBackoff => ("backoff", "stack"),
            Subject::Reflector => ("busy", "reflector"),
            Subject::Kernel => {
                return Ok(Running::Kernel(KernelProcess::start(
                    lab,
                    exe,
                    core,
                    subject.udp_target(),
                )?))
            }
        };
        let extra = format!("[worker]\npoll = \"{poll}\"\nprocessor = \"{processor}\"\n");
        let config = lab.config_toml(&[(0, Some(core))], &extra);
        let path = lab.write_config(&config)?;
        let p = lab.spawn_xskd(exe, &path)?;
        Ok(Running::Xskd(p))
    }

    pub fn pid(&self) -> Result<u32> {
        let pid = match self {
            Running::Xskd(p) => p.pid().context("xskd has no pid")?,
            Running::Kernel(k) => k.child.id(),
        };
        // `ip netns exec` and `taskset` exec, so the child's pid is the
        // server's own; check, or the CPU numbers would be someone else's.
        let comm = cpu::comm(pid);
        if comm != "xskd" {
            bail!("pid {pid} is {comm:?}, not the server");
        }
        Ok(pid)
    }

    /// Stop the server; return its final report (xskd's JSON report, or
    /// the kernel server's counters).
    pub fn stop(self) -> Result<serde_json::Value> {
        match self {
            Running::Xskd(p) => p.stop(),
            Running::Kernel(k) => k.stop(),
        }
    }
}

pub struct KernelProcess {
    child: Child,
    lines: Receiver<String>,
}

impl KernelProcess {
    fn start(lab: &Lab, exe: &Path, core: usize, bind: SocketAddr) -> Result<KernelProcess> {
        let mut child = lab
            .xskd_ns_cmd("taskset")
            .args(["-c", &core.to_string()])
            .arg(exe)
            .args(["kernel-server", "udp-echo", "--bind", &bind.to_string()])
            .args(["--batch", "32"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the kernel UDP echo server")?;
        let out = child.stdout.take().context("piped stdout")?;
        let (tx, rx) = channel::unbounded();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let mut k = KernelProcess { child, lines: rx };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match k.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(l) if l.starts_with(kernel_servers::READY) => return Ok(k),
                Ok(_) => {}
                Err(_) => {
                    if let Some(s) = k.child.try_wait()? {
                        bail!("kernel server exited ({s}) before it was ready");
                    }
                    if Instant::now() > deadline {
                        bail!("kernel server not ready within 10 s");
                    }
                }
            }
        }
    }

    fn stop(mut self) -> Result<serde_json::Value> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("kernel server did not exit within 5 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let report =
            std::iter::from_fn(|| self.lines.recv_timeout(Duration::from_millis(500)).ok())
                .find_map(|l| l.strip_prefix(kernel_servers::REPORT).map(str::to_string))
                .context("kernel server printed no report")?;
        Ok(serde_json::from_str(&report)?)
    }
}

impl Drop for KernelProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
