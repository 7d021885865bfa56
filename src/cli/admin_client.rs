//! `xskd stats` and `xskd ss`: read the admin endpoint of a running daemon.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// GET `path` from the admin endpoint; returns the body of a 200.
pub fn get(admin: SocketAddr, path: &str) -> Result<String> {
    request(admin, "GET", path, b"")
}

fn request(admin: SocketAddr, method: &str, path: &str, body: &[u8]) -> Result<String> {
    let mut s = TcpStream::connect_timeout(&admin, Duration::from_secs(2)).with_context(|| {
        format!(
            "connecting to the xskd admin endpoint at {admin} (is xskd running? see admin.listen)"
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(40)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .context("malformed answer from the admin endpoint")?;
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        bail!("{path}: HTTP {status}: {}", body.trim());
    }
    Ok(body.to_string())
}

/// Sum of every sample of `name` in Prometheus text.
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Samples of `name` grouped by the value of `label`.
fn by_label(text: &str, name: &str, label: &str) -> Vec<(String, f64)> {
    let needle = format!("{label}=\"");
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| {
            let start = l.find(&needle)? + needle.len();
            let end = start + l[start..].find('"')?;
            let v = l.rsplit(' ').next()?.parse().ok()?;
            Some((l[start..end].to_string(), v))
        })
        .collect()
}

/// True when `e` is a write to a closed pipe (`xskd ss | head`): the reader
/// has all it wanted, so the CLI exits quietly, as `ss` does.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn stats(admin: SocketAddr, out: &mut impl Write) -> Result<()> {
    let m = get(admin, "/metrics")?;
    render_stats(&m, out)
}

fn render_stats(m: &str, out: &mut impl Write) -> Result<()> {
    const LINES: [(&str, &str); 12] = [
        ("frames received", "xskd_rx_frames_total"),
        ("frames sent", "xskd_tx_frames_total"),
        ("bytes received", "xskd_rx_bytes_total"),
        ("bytes sent", "xskd_tx_bytes_total"),
        ("XDP redirected", "xskd_xdp_redirected_total"),
        ("XDP passed to kernel", "xskd_xdp_passed_total"),
        ("ARP cache entries", "xskd_arp_cache_entries"),
        ("ICMP echo replies", "xskd_icmp_echo_replies_total"),
        ("UDP datagrams received", "xskd_udp_rx_datagrams_total"),
        ("TCP connections", "xskd_tcp_connections"),
        ("handed to sibling workers", "xskd_handoffs_sent_total"),
        ("taken from sibling workers", "xskd_handoffs_received_total"),
    ];
    for (label, name) in LINES {
        writeln!(out, "{label:<28} {}", total(m, name))?;
    }
    let mut drops = by_label(m, "xskd_drops_total", "reason");
    drops.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut merged: Vec<(String, f64)> = Vec::new();
    for (r, v) in drops {
        match merged.iter_mut().find(|(x, _)| *x == r) {
            Some(e) => e.1 += v,
            None => merged.push((r, v)),
        }
    }
    writeln!(out, "drops by reason:")?;
    for (r, v) in merged.iter().filter(|(_, v)| *v > 0.0) {
        writeln!(out, "  {r:<26} {v}")?;
    }
    Ok(())
}

/// `xskd tcp-probe`: ask a worker to connect out, send, half-close and read.
pub fn tcp_probe(
    admin: SocketAddr,
    target: std::net::SocketAddrV4,
    send: &str,
    timeout_ms: u64,
    worker: usize,
    out: &mut impl Write,
) -> Result<()> {
    let body = request(
        admin,
        "POST",
        &format!("/actions/tcp-probe?target={target}&timeout_ms={timeout_ms}&worker={worker}"),
        send.as_bytes(),
    )?;
    writeln!(out, "{body}")?;
    Ok(())
}

pub fn ss(
    admin: SocketAddr,
    state: Option<&str>,
    port: Option<u16>,
    out: &mut impl Write,
) -> Result<()> {
    let mut q = Vec::new();
    if let Some(s) = state {
        q.push(format!("state={s}"));
    }
    if let Some(p) = port {
        q.push(format!("port={p}"));
    }
    let body = get(admin, &format!("/connections?{}", q.join("&")))?;
    let v: serde_json::Value = serde_json::from_str(&body).context("parsing /connections")?;
    render_connections(&v, out)
}

fn render_connections(v: &serde_json::Value, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "{:<12} {:<6} {:>8} {:>8} {:<22} {:<22} Info",
        "State", "Worker", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
    )?;
    for c in v["connections"].as_array().into_iter().flatten() {
        let s = |k: &str| {
            c[k].as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c[k].to_string())
        };
        writeln!(
            out,
            "{:<12} {:<6} {:>8} {:>8} {:<22} {:<22} cwnd:{} ssthresh:{} rtt:{}/{} rto:{} snd_una:{} snd_nxt:{} rcv_nxt:{} retrans:{} bytes_acked:{} bytes_received:{}",
            s("state"),
            s("worker"),
            s("recv_queue"),
            s("send_queue"),
            format!("{}:{}", s("local_addr"), s("local_port")),
            format!("{}:{}", s("remote_addr"), s("remote_port")),
            s("cwnd"),
            s("ssthresh"),
            s("srtt_us"),
            s("rttvar_us"),
            s("rto_ms"),
            s("snd_una"),
            s("snd_nxt"),
            s("rcv_nxt"),
            s("retransmits"),
            s("bytes_out"),
            s("bytes_in"),
        )?;
    }
    writeln!(out, "total {} (showing {})", v["total"], v["returned"])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP xskd_rx_frames_total x\nxskd_rx_frames_total{queue=\"0\"} 5\nxskd_rx_frames_total{queue=\"1\"} 7\nxskd_rx_frames_total_other 100\nxskd_drops_total{reason=\"udp_no_listener\",worker=\"0\"} 3\n";

    #[test]
    fn totals_sum_only_the_named_metric() {
        assert_eq!(total(TEXT, "xskd_rx_frames_total"), 12.0);
        assert_eq!(
            by_label(TEXT, "xskd_drops_total", "reason"),
            vec![("udp_no_listener".to_string(), 3.0)]
        );
    }

    /// A stdout whose reader left after `room` bytes, like `| head -c`.
    struct ClosedAfter {
        room: usize,
    }

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_is_a_quiet_broken_pipe_not_a_panic() {
        let rows: Vec<_> = (0..100)
            .map(|i| serde_json::json!({"state": "ESTABLISHED", "worker": 0, "local_port": i}))
            .collect();
        let v = serde_json::json!({"connections": rows, "total": 100, "returned": 100});
        let e = render_connections(&v, &mut ClosedAfter { room: 300 }).unwrap_err();
        assert!(is_broken_pipe(&e), "{e:#}");
        let e = render_stats(TEXT, &mut ClosedAfter { room: 10 }).unwrap_err();
        assert!(is_broken_pipe(&e), "{e:#}");
        // Other failures stay errors.
        assert!(!is_broken_pipe(&anyhow::anyhow!("HTTP 500")));
        let mut all = Vec::new();
        render_connections(&v, &mut all).unwrap();
        let text = String::from_utf8(all).unwrap();
        assert_eq!(text.lines().count(), 102, "header, 100 rows, total");
    }
}
