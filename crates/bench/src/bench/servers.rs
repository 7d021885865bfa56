//! The servers under test, started and stopped in the lab: xskd (stack or
//! bare reflector, busy or back-off polling) and the kernel baselines.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam::channel::{self, Receiver};
use serde::Serialize;
use xskd_lab::{Lab, XskdProcess, XSKD_IP, XSKD_SIDE_KERNEL_IP};

use super::cpu;
use crate::kernel_servers;

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
    /// nginx (nginx-light), one worker, the kernel's TCP; offloads off on
    /// xskd's veth end, as for every other subject.
    Nginx,
    /// The same nginx with TSO/GSO/GRO (and tx checksumming) on.
    NginxOffload,
    /// No server: the `txceiling` part's AF_XDP sender on xskd's veth end
    /// (`bench-client xdp-tx`), the reference its rows divide by.
    AfXdpTx,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Xskd => "xskd",
            Subject::XskdBackoff => "xskd-backoff",
            Subject::Kernel => "kernel",
            Subject::Reflector => "reflector",
            Subject::Nginx => "nginx",
            Subject::NginxOffload => "nginx-offload",
            Subject::AfXdpTx => "af-xdp-tx",
        }
    }

    pub fn is_xskd(self) -> bool {
        matches!(
            self,
            Subject::Xskd | Subject::XskdBackoff | Subject::Reflector
        )
    }

    /// Whether the kernel's offloads are on on xskd's veth end while this
    /// subject is measured.
    pub fn offloads(self) -> bool {
        self == Subject::NginxOffload
    }

    fn ip(self) -> std::net::Ipv4Addr {
        if self.is_xskd() {
            XSKD_IP
        } else {
            XSKD_SIDE_KERNEL_IP
        }
    }

    /// `http://ADDR` of this subject's HTTP server.
    pub fn http_base(self) -> String {
        format!("http://{}:{HTTP_PORT}", self.ip())
    }

    /// `https://ADDR` of this subject's HTTPS server.
    pub fn https_base(self) -> String {
        format!("https://{}:{}", self.ip(), super::tls::HTTPS_PORT)
    }

    /// `ADDR:443`, as `openssl s_time -connect` takes it.
    pub fn https_target(self) -> String {
        format!("{}:{}", self.ip(), super::tls::HTTPS_PORT)
    }

    /// The UDP (and TCP) echo address of this subject.
    pub fn udp_target(self) -> SocketAddr {
        SocketAddr::from((self.ip(), ECHO_PORT))
    }
}

/// The port of the HTTP servers under test.
pub const HTTP_PORT: u16 = 80;

/// What the subjects of one run need beyond their defaults.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// The kernel server serves TCP echo too (the `tcp` part).
    pub kernel_tcp: bool,
    /// xskd's HTTP store size and, for the bulk object, the directory it
    /// preloads (a PUT of a gigabyte is not what is measured).
    pub store_max_bytes: u64,
    pub preload_dir: Option<PathBuf>,
    /// nginx's web root (the same objects xskd serves).
    pub web_root: Option<PathBuf>,
    /// xskd's `[tcp] send_buffer` and `recv_buffer`, when not their defaults.
    pub tcp_send_buffer: Option<usize>,
    pub tcp_recv_buffer: Option<usize>,
    /// The `tls` part's certificate, key and client configuration: xskd
    /// and nginx then serve HTTPS on port 443 with the same files.
    pub tls: Option<super::tls::TlsFiles>,
}

/// A server under test, running; stopped (and its report kept) by `stop`.
pub enum Running {
    Xskd(XskdProcess),
    Kernel(KernelProcess),
    Nginx(NginxProcess),
}

impl Running {
    pub fn start(
        lab: &Lab,
        exe: &Path,
        xskd: &Path,
        subject: Subject,
        core: usize,
        setup: &Setup,
    ) -> Result<Running> {
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
                    setup.kernel_tcp,
                )?))
            }
            Subject::AfXdpTx => bail!("af-xdp-tx is a load generator, not a server"),
            Subject::Nginx | Subject::NginxOffload => {
                let root = setup
                    .web_root
                    .as_deref()
                    .context("nginx needs a web root")?;
                return Ok(Running::Nginx(NginxProcess::start(
                    lab,
                    subject,
                    core,
                    root,
                    setup.tls.as_ref(),
                )?));
            }
        };
        let mut extra = format!("[worker]\npoll = \"{poll}\"\nprocessor = \"{processor}\"\n");
        if setup.store_max_bytes > 0 {
            extra.push_str(&format!(
                "\n[http]\nstore_max_bytes = {}\n",
                setup.store_max_bytes
            ));
            // Only the stack subject serves HTTP loads; the others need not
            // read a gigabyte at start.
            if let (Subject::Xskd, Some(dir)) = (subject, &setup.preload_dir) {
                extra.push_str(&format!("preload_dir = {:?}\n", dir.display().to_string()));
            }
        }
        if setup.tcp_send_buffer.is_some() || setup.tcp_recv_buffer.is_some() {
            extra.push_str("\n[tcp]\n");
        }
        if let Some(b) = setup.tcp_send_buffer {
            extra.push_str(&format!("send_buffer = {b}\n"));
        }
        if let Some(b) = setup.tcp_recv_buffer {
            extra.push_str(&format!("recv_buffer = {b}\n"));
        }
        if let (Subject::Xskd | Subject::XskdBackoff, Some(t)) = (subject, &setup.tls) {
            extra.push_str(&super::tls::xskd_section(t));
        }
        let config = lab.config_toml(&[(0, Some(core))], &extra);
        let path = lab.write_config(&config)?;
        let p = lab.spawn_xskd(xskd, &path)?;
        Ok(Running::Xskd(p))
    }

    pub fn pid(&self) -> Result<u32> {
        let pid = match self {
            Running::Xskd(p) => p.pid().context("xskd has no pid")?,
            Running::Kernel(k) => k.child.id(),
            Running::Nginx(n) => n.child.id(),
        };
        // `ip netns exec` and `taskset` exec, so the child's pid is the
        // server's own; check, or the CPU numbers would be someone else's.
        let comm = cpu::comm(pid);
        // The kernel baselines run from this binary (`xskd-bench
        // kernel-server`); comm is cut to 15 bytes.
        if !matches!(comm.as_str(), "xskd" | "nginx" | "xskd-bench") {
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
            Running::Nginx(n) => n.stop(),
        }
    }
}

pub struct KernelProcess {
    child: Child,
    lines: Receiver<String>,
}

impl KernelProcess {
    fn start(
        lab: &Lab,
        exe: &Path,
        core: usize,
        bind: SocketAddr,
        tcp: bool,
    ) -> Result<KernelProcess> {
        let bind = bind.to_string();
        let mut args = vec!["udp-echo", "--bind", &bind, "--batch", "32"];
        if tcp {
            args.push("--tcp");
        }
        KernelProcess::spawn(lab, exe, core, &args)
    }

    /// `xskd-bench kernel-server ARGS` in xskd's namespace on `core`,
    /// once it says it is ready.
    pub fn spawn(lab: &Lab, exe: &Path, core: usize, args: &[&str]) -> Result<KernelProcess> {
        let mut child = lab
            .xskd_ns_cmd("taskset")
            .args(["-c", &core.to_string()])
            .arg(exe)
            .arg("kernel-server")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting kernel-server {args:?}"))?;
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

    pub fn stop(mut self) -> Result<serde_json::Value> {
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

/// nginx in xskd's namespace on the kernel's address of xskd's veth end
/// (xskd is not running then), pinned to the server core, logs and temp
/// files in the lab directory.
pub struct NginxProcess {
    child: Child,
    dir: PathBuf,
}

impl NginxProcess {
    fn start(
        lab: &Lab,
        subject: Subject,
        core: usize,
        root: &Path,
        tls: Option<&super::tls::TlsFiles>,
    ) -> Result<NginxProcess> {
        let dir = lab.dir().join(format!("nginx-{}", subject.name()));
        std::fs::create_dir_all(&dir)?;
        let listen = format!("{XSKD_SIDE_KERNEL_IP}:{HTTP_PORT}");
        let conf = dir.join("nginx.conf");
        let mut text = super::http::nginx_conf(&dir, root, &listen, core);
        if let Some(t) = tls {
            let listen = format!("{XSKD_SIDE_KERNEL_IP}:{}", super::tls::HTTPS_PORT);
            let server = super::tls::nginx_server(&listen, root, t);
            // Into the http block, before its closing brace.
            let at = text
                .trim_end()
                .rfind('}')
                .context("nginx.conf has no http block")?;
            text.insert_str(at, &server);
        }
        std::fs::write(&conf, text)?;
        let child = lab
            .xskd_ns_cmd("taskset")
            .args(["-c", &core.to_string()])
            .arg("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting nginx (apt-get install nginx-light)")?;
        let mut n = NginxProcess { child, dir };
        // Ready when the peer can fetch an object.
        let url = format!("{}/{}", subject.http_base(), super::SMALL_OBJECT);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = lab
                .peer_cmd("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .args(["--max-time", "1", &url])
                .output()?;
            if out.stdout == b"200" {
                return Ok(n);
            }
            if let Some(s) = n.child.try_wait()? {
                let log = std::fs::read_to_string(n.dir.join("error.log")).unwrap_or_default();
                bail!("nginx exited ({s}) before it was ready: {log}");
            }
            if Instant::now() > deadline {
                bail!("nginx did not serve {url} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) -> Result<serde_json::Value> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                // Drop kills the master and its worker.
                bail!("nginx did not exit within 5 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        Ok(serde_json::json!({ "nginx_error_log": log }))
    }
}

impl Drop for NginxProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SIGKILL on the master would orphan its worker: kill both.
            let workers = cpu::children(self.child.id());
            let _ = self.child.kill();
            for w in workers {
                let _ = Command::new("kill")
                    .args(["-KILL", &w.to_string()])
                    .status();
            }
            let _ = self.child.wait();
        }
    }
}
