//! The `loss` part's impairment and its witnesses: a bridge in the peer
//! namespace with nftables dropping at random on it, the drop counters,
//! and the kernel's TCP counters (what `nstat` reads) of a namespace.
//!
//! Why a bridge: a drop in an inet `output` hook is returned to the local
//! TCP as an error (it knows at once and resends, no loss is detected),
//! so the peer's kernel would not see a real loss. The bridge's own
//! `input` (frames coming up to the peer's stack) and `output` (frames
//! the stack sends down the bridge) hooks drop past that point: both
//! servers and the kernel client see exactly what a lossy wire does.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xskd_lab::{Lab, PEER_IP, PREFIX_LEN, XSKD_IP};

use super::prep::read_mac;

const TABLE: &str = "xskd_loss";

fn ok(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The bridge in the peer namespace, named after the peer's veth.
pub fn bridge_name(lab: &Lab) -> String {
    format!("{}b", lab.if_peer)
}

/// Put the peer's veth end under a bridge that carries the peer's
/// address, with the kernel's segmentation offloads off on it (one frame
/// per segment, so a drop is one segment), and give it xskd's MAC.
pub fn bridge_peer(lab: &Lab) -> Result<String> {
    let br = bridge_name(lab);
    let addr = format!("{PEER_IP}/{PREFIX_LEN}");
    let ip = |args: &[&str]| ok(lab.peer_cmd("ip").args(args));
    ip(&["addr", "del", &addr, "dev", &lab.if_peer])?;
    ip(&["link", "add", "name", &br, "type", "bridge"])?;
    ip(&["link", "set", &lab.if_peer, "master", &br])?;
    ip(&["addr", "add", &addr, "dev", &br])?;
    ip(&["link", "set", &br, "up"])?;
    ok(lab
        .peer_cmd("ethtool")
        .args(["-K", &br, "tx", "off", "gso", "off", "tso", "off"]))?;
    // As in every part: a static entry keeps ARP out of the measurement.
    let mac = read_mac(lab)?;
    ip(&[
        "neigh",
        "replace",
        &XSKD_IP.to_string(),
        "lladdr",
        &mac,
        "dev",
        &br,
        "nud",
        "permanent",
    ])?;
    Ok(br)
}

/// The nftables script: count every TCP frame each way on the bridge and
/// drop `permille` of a thousand of them at random.
pub fn nft_script(permille: u32) -> String {
    let mut s = format!("table bridge {TABLE} {{\n");
    for (chain, dir) in [("input", "in"), ("output", "out")] {
        s.push_str(&format!(
            "  chain {chain} {{\n    type filter hook {chain} priority 0; policy accept;\n    \
             ether type ip ip protocol tcp counter comment \"{dir}-seen\"\n"
        ));
        if permille > 0 {
            s.push_str(&format!(
                "    ether type ip ip protocol tcp numgen random mod 1000 < {permille} counter drop \
                 comment \"{dir}-dropped\"\n"
            ));
        }
        s.push_str("  }\n");
    }
    s.push_str("}\n");
    s
}

/// Install the table afresh (zero counters) for one transfer.
pub fn install(lab: &Lab, permille: u32) -> Result<()> {
    // Deleting a table that is not there fails; that is fine.
    let _ = lab
        .peer_cmd("nft")
        .args(["delete", "table", "bridge", TABLE])
        .stderr(Stdio::null())
        .status();
    let mut child = lab
        .peer_cmd("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting nft (apt-get install nftables)")?;
    child
        .stdin
        .take()
        .context("nft stdin")?
        .write_all(nft_script(permille).as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("nft -f: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// What the bridge saw and dropped, frames each way: `in` toward the
/// peer's stack (the server's data on a download), `out` from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NftCounts {
    pub in_seen: u64,
    pub in_dropped: u64,
    pub out_seen: u64,
    pub out_dropped: u64,
}

impl NftCounts {
    /// Dropped over seen, each way.
    pub fn rates(&self) -> (f64, f64) {
        let r = |d: u64, s: u64| d as f64 / s.max(1) as f64;
        (
            r(self.in_dropped, self.in_seen),
            r(self.out_dropped, self.out_seen),
        )
    }
}

/// Read the counters of the table from `nft -j list table`.
pub fn counts(lab: &Lab) -> Result<NftCounts> {
    let text = ok(lab
        .peer_cmd("nft")
        .args(["-j", "list", "table", "bridge", TABLE]))?;
    parse_counts(&text)
}

pub fn parse_counts(json: &str) -> Result<NftCounts> {
    let v: serde_json::Value = serde_json::from_str(json).context("nft -j output")?;
    let mut c = NftCounts::default();
    let items = v["nftables"].as_array().context("no nftables array")?;
    for rule in items.iter().filter_map(|i| i.get("rule")) {
        let packets = rule["expr"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| e.pointer("/counter/packets").and_then(|p| p.as_u64()));
        let Some(packets) = packets else { continue };
        match rule["comment"].as_str() {
            Some("in-seen") => c.in_seen = packets,
            Some("in-dropped") => c.in_dropped = packets,
            Some("out-seen") => c.out_seen = packets,
            Some("out-dropped") => c.out_dropped = packets,
            _ => {}
        }
    }
    Ok(c)
}

/// The kernel's TCP counters that say how a transfer went, named as
/// `nstat` names them (Tcp* from /proc/net/snmp, TcpExt* from
/// /proc/net/netstat).
pub const NSTAT_KEYS: [&str; 13] = [
    "TcpOutSegs",
    "TcpRetransSegs",
    "TcpExtTCPTimeouts",
    "TcpExtTCPLossProbes",
    "TcpExtTCPFastRetrans",
    "TcpExtTCPSlowStartRetrans",
    "TcpExtTCPLostRetransmit",
    "TcpExtTCPSackRecovery",
    "TcpExtTCPSpuriousRTOs",
    "TcpExtTCPSynRetrans",
    // D-SACKs the kernel received (from xskd or the kernel receiver), the
    // reductions they undid, and loss probes that repaired a real loss.
    "TcpExtTCPDSACKRecv",
    "TcpExtTCPDSACKUndo",
    "TcpExtTCPLossProbeRecovery",
];

/// The counters of the namespace `ns` runs in (the files nstat reads;
/// /proc/net is per network namespace).
pub fn nstat(cmd: impl Fn(&str) -> Command) -> Result<BTreeMap<String, u64>> {
    let mut all = BTreeMap::new();
    for file in ["/proc/net/snmp", "/proc/net/netstat"] {
        let text = ok(cmd("cat").arg(file))?;
        parse_proc_net(&text, &mut all);
    }
    Ok(NSTAT_KEYS
        .iter()
        .map(|k| (k.to_string(), all.get(*k).copied().unwrap_or(0)))
        .collect())
}

/// `/proc/net/snmp` and `netstat` come in line pairs: `Prefix: names...`
/// then `Prefix: values...`; nstat names each `PrefixName`.
pub fn parse_proc_net(text: &str, into: &mut BTreeMap<String, u64>) {
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        let (Some((p1, names)), Some((p2, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        if p1 != p2 {
            continue;
        }
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = v.parse::<u64>() {
                into.insert(format!("{p1}{n}"), v);
            }
        }
    }
}

/// `after - before`, key by key.
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(before.get(k).copied().unwrap_or(0)),
            )
        })
        .collect()
}

const CC_SYSCTL: &str = "net.ipv4.tcp_congestion_control";

/// The congestion control new kernel TCP sockets of a namespace get.
pub fn kernel_cc(cmd: impl Fn(&str) -> Command) -> Result<String> {
    let out = ok(cmd("sysctl").args(["-n", CC_SYSCTL]))?;
    Ok(out.trim().to_string())
}

/// Set it (`--loss-kernel-cc`); the error lists what the kernel offers.
pub fn set_kernel_cc(cmd: impl Fn(&str) -> Command, name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("--loss-kernel-cc {name:?}: not a congestion control name");
    }
    let set = format!("{CC_SYSCTL}={name}");
    if let Err(e) = ok(cmd("sysctl").args(["-w", &set])) {
        let offered = ok(cmd("sysctl").args(["-n", "net.ipv4.tcp_available_congestion_control"]))
            .unwrap_or_default();
        bail!(
            "--loss-kernel-cc {name}: the kernel refused it (available: {}): {e:#}",
            offered.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_congestion_control_name_that_is_not_one_is_refused_before_running_anything() {
        for bad in ["", "bbr;reboot", "cu bic", "../x"] {
            let e = set_kernel_cc(|_| panic!("must not run a command"), bad).unwrap_err();
            assert!(e.to_string().contains("--loss-kernel-cc"), "{e}");
        }
    }

    #[test]
    fn script_counts_both_ways_and_drops_only_above_zero() {
        let s = nft_script(20);
        assert!(s.contains("table bridge xskd_loss"));
        assert!(s.contains("type filter hook input priority 0"));
        assert!(s.contains("type filter hook output priority 0"));
        assert_eq!(
            s.matches("numgen random mod 1000 < 20 counter drop")
                .count(),
            2
        );
        assert!(!nft_script(0).contains("numgen"));
        assert_eq!(nft_script(0).matches("counter comment").count(), 2);
    }

    #[test]
    fn counters_are_read_by_comment() {
        let json = r#"{"nftables": [{"metainfo": {}}, {"table": {"family": "bridge"}},
          {"rule": {"chain": "input", "comment": "in-seen", "expr": [{"match": {}}, {"counter": {"packets": 200, "bytes": 1}}]}},
          {"rule": {"chain": "input", "comment": "in-dropped", "expr": [{"counter": {"packets": 47, "bytes": 1}}, {"drop": null}]}},
          {"rule": {"chain": "output", "comment": "out-seen", "expr": [{"counter": {"packets": 153, "bytes": 1}}]}},
          {"rule": {"chain": "output", "comment": "out-dropped", "expr": [{"counter": {"packets": 33, "bytes": 1}}, {"drop": null}]}}]}"#;
        let c = parse_counts(json).unwrap();
        assert_eq!(
            c,
            NftCounts {
                in_seen: 200,
                in_dropped: 47,
                out_seen: 153,
                out_dropped: 33
            }
        );
        assert!((c.rates().0 - 0.235).abs() < 1e-9);
    }

    #[test]
    fn proc_net_pairs_become_nstat_names() {
        let text = "Tcp: RtoAlgorithm OutSegs RetransSegs\nTcp: 1 500 7\n\
                    TcpExt: SyncookiesSent TCPTimeouts\nTcpExt: 0 3\n";
        let mut m = BTreeMap::new();
        parse_proc_net(text, &mut m);
        assert_eq!(m["TcpOutSegs"], 500);
        assert_eq!(m["TcpRetransSegs"], 7);
        assert_eq!(m["TcpExtTCPTimeouts"], 3);
        let later: BTreeMap<String, u64> = [("TcpRetransSegs".to_string(), 10)].into();
        assert_eq!(delta(&m, &later)["TcpRetransSegs"], 3);
    }
}
