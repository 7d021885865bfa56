//! The `tls` part: one P-256 certificate for both servers, the client-side
//! OpenSSL configuration that pins every client to one TLS 1.3 suite and
//! group, the `openssl s_time` handshake load (several processes at once)
//! and the parsing of s_time's and s_client's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The one suite both servers are measured with.
pub const SUITE: &str = "TLS_AES_128_GCM_SHA256";
/// The one key-exchange group.
pub const GROUP: &str = "X25519";
/// The HTTPS port of both servers.
pub const HTTPS_PORT: u16 = 443;

/// The files of the `tls` part, in the lab directory.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// An `OPENSSL_CONF` for the clients (s_time, wrk, s_client): only
    /// [`SUITE`], only [`GROUP`], TLS 1.3 only.
    pub client_conf: PathBuf,
}

/// What one handshake load reports: full handshakes (no resumption) by
/// `clients` concurrent `openssl s_time -new` processes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HandshakeResult {
    pub handshakes: u64,
    /// The clients' mean wall time, start to exit (s_time runs for
    /// `-time` to `-time` + 1 s: it counts in whole seconds of time(2)).
    pub seconds: f64,
    pub per_sec: f64,
    pub clients: u32,
    /// The suite and group one `openssl s_client` negotiated before the
    /// load (the same client configuration).
    pub suite: String,
    pub group: String,
}

/// Generate the certificate and key both servers use (ECDSA P-256,
/// self-signed, valid one day, naming both addresses) and the clients'
/// OpenSSL configuration, in `dir`.
pub fn generate(dir: &Path, addrs: &[std::net::Ipv4Addr]) -> Result<TlsFiles> {
    let cert = dir.join("tls-cert.pem");
    let key = dir.join("tls-key.pem");
    let san: Vec<String> = addrs.iter().map(|a| format!("IP:{a}")).collect();
    let cn = addrs.first().map_or("xskd".to_string(), |a| a.to_string());
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-subj", &format!("/CN={cn}")])
        .args(["-addext", &format!("subjectAltName={}", san.join(","))])
        .args(["-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .context("running openssl req (apt-get install openssl)")?;
    if !out.status.success() {
        bail!(
            "openssl req failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let client_conf = dir.join("openssl-client.cnf");
    std::fs::write(&client_conf, client_conf_text())?;
    Ok(TlsFiles {
        cert,
        key,
        client_conf,
    })
}

/// OpenSSL's system-default section, which every client built on libssl
/// (wrk, s_time, s_client) applies: the clients offer exactly one suite
/// and one key share, so the server's preference order plays no part.
pub fn client_conf_text() -> String {
    format!(
        "openssl_conf = openssl_init\n\
[openssl_init]\n\
ssl_conf = ssl_sect\n\
[ssl_sect]\n\
system_default = system_default_sect\n\
[system_default_sect]\n\
MinProtocol = TLSv1.3\n\
Ciphersuites = {SUITE}\n\
Groups = {GROUP}\n"
    )
}

/// The `server` block nginx gets for the `tls` part: the same certificate,
/// TLS 1.3 with [`SUITE`] and [`GROUP`] only, no resumption of any kind.
pub fn nginx_server(listen: &str, root: &Path, files: &TlsFiles) -> String {
    format!(
        "    server {{\n\
        listen {listen} ssl reuseport backlog=4096;\n\
        root {};\n\
        ssl_certificate {};\n\
        ssl_certificate_key {};\n\
        ssl_protocols TLSv1.3;\n\
        ssl_conf_command Ciphersuites {SUITE};\n\
        ssl_ecdh_curve {GROUP};\n\
        ssl_session_tickets off;\n\
        ssl_session_cache off;\n\
    }}\n",
        root.display(),
        files.cert.display(),
        files.key.display(),
    )
}

/// xskd's `[https]` section for the `tls` part: the same files, no
/// resumption (no session cache, no tickets), TLS 1.3 only.
pub fn xskd_section(files: &TlsFiles) -> String {
    format!(
        "\n[https]\nport = {HTTPS_PORT}\ncert = {:?}\nkey = {:?}\ntls12 = false\n\
session_cache = 0\ntickets = false\n",
        files.cert.display().to_string(),
        files.key.display().to_string(),
    )
}

/// `openssl s_time` arguments: full handshakes only (`-new`), no request.
pub fn s_time_args(target: &str, seconds: u64) -> Vec<String> {
    vec![
        "s_time".into(),
        "-connect".into(),
        target.into(),
        "-new".into(),
        "-tls1_3".into(),
        "-ciphersuites".into(),
        SUITE.into(),
        "-time".into(),
        seconds.max(1).to_string(),
    ]
}

/// The connections one `openssl s_time -new` made: its "N connections in
/// T real seconds" line. (The other line's rate is per second of the
/// client's *user CPU*, not of wall time: not a rate to report.)
pub fn parse_s_time(text: &str) -> Result<u64> {
    for line in text.lines().map(str::trim) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [n, "connections", "in", _, "real", "seconds,", ..] = f.as_slice() {
            return n
                .parse()
                .with_context(|| format!("s_time connections {n:?}"));
        }
    }
    bail!("s_time printed no \"connections in ... real seconds\" line:\n{text}")
}

/// (suite, group) from `openssl s_client -brief`'s summary on stderr.
pub fn parse_s_client(text: &str) -> Result<(String, String)> {
    let mut suite = None;
    let mut group = None;
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix("Ciphersuite:") {
            suite = Some(s.trim().to_string());
        } else if let Some(g) = line
            .strip_prefix("Server Temp Key:")
            .or_else(|| line.strip_prefix("Peer Temp Key:"))
            .or_else(|| line.strip_prefix("Negotiated TLS1.3 group:"))
        {
            // "X25519, 253 bits"
            group = g.split(',').next().map(|g| g.trim().to_string());
        }
    }
    let suite = suite.with_context(|| format!("s_client printed no Ciphersuite:\n{text}"))?;
    Ok((suite, group.unwrap_or_default()))
}

/// One `openssl s_client` handshake with the clients' configuration:
/// check that the server negotiated [`SUITE`] and [`GROUP`].
pub fn check_negotiated(mut cmd: Command, conf: &Path, target: &str) -> Result<(String, String)> {
    let out = super::http::run_bounded(
        cmd.env("OPENSSL_CONF", conf).args([
            "s_client",
            "-connect",
            target,
            "-brief",
            "-ciphersuites",
            SUITE,
        ]),
        Duration::from_secs(10),
    )?;
    let text = String::from_utf8_lossy(&out.stderr);
    let (suite, group) = parse_s_client(&text)?;
    if suite != SUITE || (!group.is_empty() && group != GROUP) {
        bail!("{target} negotiated {suite} with {group:?}, not {SUITE} with {GROUP}");
    }
    Ok((suite, group))
}

/// Run `clients` copies of `cmd()` (each an `openssl s_time`) at once:
/// (handshakes summed, the clients' mean wall time in seconds); `limit`
/// bounds each. Each client's own wall time is the one to divide by:
/// s_time's "real seconds" are whole seconds, up to one too many.
pub fn run_s_time(cmd: impl Fn() -> Command, clients: u32, limit: Duration) -> Result<(u64, f64)> {
    let handles: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let mut c = cmd();
            std::thread::spawn(move || {
                let t0 = Instant::now();
                super::http::run_bounded(&mut c, limit).map(|o| (o, t0.elapsed()))
            })
        })
        .collect();
    let mut total = 0;
    let mut walls = Vec::new();
    let mut errors = Vec::new();
    for h in handles {
        let (out, wall) = h
            .join()
            .map_err(|_| anyhow::anyhow!("s_time thread panicked"))??;
        walls.push(wall.as_secs_f64());
        let text = String::from_utf8_lossy(&out.stdout);
        match parse_s_time(&text) {
            Ok(n) if out.status.success() => total += n,
            Ok(_) | Err(_) => errors.push(format!(
                "s_time ({}): {}{}",
                out.status,
                text.trim().replace('*', ""),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
    let secs = walls.iter().sum::<f64>() / walls.len().max(1) as f64;
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok((total, secs))
}
