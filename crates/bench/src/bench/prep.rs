//! Preparing the lab for a run: the HTTP objects, the kernel's offloads on
//! xskd's veth, the peer's static neighbour entry; and the plots after it.

use std::process::Command;

use anyhow::{bail, Result};
use xskd_lab::{Lab, XSKD_IP};

use super::http;
use super::plan::{BULK_OBJECT, LARGE_BYTES, LARGE_OBJECT, SMALL_BYTES, SMALL_OBJECT};
use super::servers::Setup;
use super::{BenchArgs, Part};

/// The plotting script, built in, so plots are drawn wherever the bench is
/// run from (not only from the source tree).
const PLOT_PY: &str = include_str!("../../../../benches/plot.py");

/// Draw the PNGs next to the JSON with the built-in benches/plot.py, if
/// python3 is there; a missing plot is a warning, not a failure.
pub fn plot(out: &std::path::Path) {
    plot_file(&out.join("latest.json"));
}

/// Draw the PNGs of the run in `json` (next to it).
pub fn plot_file(json: &std::path::Path) {
    let out = json.parent().unwrap_or(std::path::Path::new("."));
    let python = std::path::Path::new("/usr/bin/python3");
    if !python.exists() {
        eprintln!("xskd-bench: no /usr/bin/python3: no plots");
        return;
    }
    let script = out.join("plot.py");
    if let Err(e) = std::fs::write(&script, PLOT_PY) {
        eprintln!("xskd-bench: writing {}: {e}: no plots", script.display());
        return;
    }
    let mut cmd = Command::new(python);
    cmd.arg(&script).arg(json);
    match http::run_bounded(&mut cmd, std::time::Duration::from_secs(120)) {
        Ok(o) if o.status.success() => eprint!("{}", String::from_utf8_lossy(&o.stdout)),
        Ok(o) => eprintln!(
            "xskd-bench: plotting failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => eprintln!("xskd-bench: plotting failed: {e:#}"),
    }
}

/// Write the HTTP objects: nginx's web root holds all three; xskd preloads
/// only the bulk object (the small ones are PUT into it, see `put_objects`).
/// The bulk file is a hard link, so it is on disk once.
pub fn setup(lab: &Lab, args: &BenchArgs, parts: &[Part]) -> Result<Setup> {
    let http = parts.contains(&Part::Http);
    let bulk = parts.contains(&Part::Bulk);
    let mut s = Setup {
        kernel_tcp: parts.contains(&Part::Tcp),
        tcp_send_buffer: (args.xskd_send_buffer > 0).then_some(args.xskd_send_buffer),
        ..Setup::default()
    };
    let tls = parts.contains(&Part::Tls);
    if tls {
        s.tls = Some(super::tls::generate(
            lab.dir(),
            &[XSKD_IP, xskd_lab::XSKD_SIDE_KERNEL_IP],
        )?);
    }
    if !http && !bulk && !tls {
        return Ok(s);
    }
    let root = lab.dir().join("www");
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join(SMALL_OBJECT), object_bytes(SMALL_BYTES))?;
    std::fs::write(root.join(LARGE_OBJECT), object_bytes(LARGE_BYTES))?;
    let bulk_bytes = args.bulk_mb << 20;
    s.store_max_bytes = (64 << 20) + if bulk { bulk_bytes } else { 0 };
    if bulk {
        let preload = lab.dir().join("preload");
        std::fs::create_dir_all(&preload)?;
        let path = root.join(BULK_OBJECT);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let chunk = object_bytes(1 << 20);
        for _ in 0..args.bulk_mb {
            std::io::Write::write_all(&mut f, &chunk)?;
        }
        std::io::Write::flush(&mut f)?;
        drop(f);
        std::fs::hard_link(&path, preload.join(BULK_OBJECT))?;
        s.preload_dir = Some(preload);
    }
    s.web_root = Some(root);
    Ok(s)
}

/// Deterministic, not compressible by accident of being all zeros.
pub fn object_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| b"xskd-bench-object\n"[i % 18]).collect()
}

/// The kernel's offloads on xskd's veth end: TSO, GSO, GRO and tx
/// checksumming (TSO needs it), all on or all off.
pub fn offloads(lab: &Lab, on: bool) -> Result<()> {
    let v = if on { "on" } else { "off" };
    let out = lab
        .xskd_ns_cmd("ethtool")
        .args(["-K", &lab.if_xskd, "tx", v, "tso", v, "gso", v, "gro", v])
        .output()?;
    if !out.status.success() {
        bail!(
            "ethtool -K {} offloads {v}: {}",
            lab.if_xskd,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The reflector answers no ARP; give the peer xskd's MAC once, for every
/// subject alike (the stack would answer, but a static entry keeps ARP out
/// of the measurement).
pub fn static_neighbour(lab: &Lab) -> Result<()> {
    let mac = read_mac(lab)?;
    let out = lab
        .peer_cmd("ip")
        .args(["neigh", "replace", &XSKD_IP.to_string(), "lladdr", &mac])
        .args(["dev", &lab.if_peer, "nud", "permanent"])
        .output()?;
    if !out.status.success() {
        bail!(
            "ip neigh replace: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub fn read_mac(lab: &Lab) -> Result<String> {
    let out = lab
        .xskd_ns_cmd("cat")
        .arg(format!("/sys/class/net/{}/address", lab.if_xskd))
        .output()?;
    let mac = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if mac.len() != 17 {
        bail!("could not read the MAC of {}", lab.if_xskd);
    }
    Ok(mac)
}
