//! Validation: every error names the offending key and says how to fix it.

use std::net::Ipv4Addr;

use super::error::{invalid, ConfigError};
use super::{Config, Ipv4Cidr};

pub(super) fn parse_cidr(s: &str) -> Option<Ipv4Cidr> {
    let (addr, len) = s.split_once('/')?;
    let addr: Ipv4Addr = addr.trim().parse().ok()?;
    let prefix_len: u8 = len.trim().parse().ok()?;
    (prefix_len <= 32).then_some(Ipv4Cidr { addr, prefix_len })
}

pub(crate) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    xskd_proto::wire::EthernetAddress::parse(s).map(|m| m.0)
}

fn power_of_two(key: &'static str, v: u32, min: u32, max: u32) -> Result<(), ConfigError> {
    if !v.is_power_of_two() || v < min || v > max {
        return Err(invalid(
            key,
            v,
            format!("must be a power of two between {min} and {max}"),
        ));
    }
    Ok(())
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = &self.interface.name;
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '\0']) {
            return Err(invalid(
                "interface.name",
                name,
                "set it to a network interface name of 1-15 characters, e.g. \"eth0\" (see `ip link`)",
            ));
        }
        if self.interface.queues.is_empty() {
            return Err(invalid(
                "interface.queues",
                "[]",
                "list at least one queue, e.g. queues = [{ queue = 0, core = 0 }]",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for q in &self.interface.queues {
            if q.queue >= 64 {
                return Err(invalid(
                    "interface.queues.queue",
                    q.queue,
                    "queue ids must be below 64 (the XSKMAP size)",
                ));
            }
            if !seen.insert(q.queue) {
                return Err(invalid(
                    "interface.queues.queue",
                    q.queue,
                    "each queue may appear once: one worker serves one queue",
                ));
            }
        }
        let Some(cidr) = parse_cidr(&self.address.ipv4) else {
            return Err(invalid(
                "address.ipv4",
                &self.address.ipv4,
                "write our address with its prefix length, e.g. \"198.18.0.1/24\"",
            ));
        };
        let a = cidr.addr;
        if a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback() {
            return Err(invalid(
                "address.ipv4",
                &self.address.ipv4,
                "use a unicast address (not 0.0.0.0, broadcast, multicast or loopback)",
            ));
        }
        if let Some(mac) = &self.address.mac {
            match parse_mac(mac) {
                Some(m) if m[0] & 1 == 0 && m != [0; 6] => {}
                _ => {
                    return Err(invalid(
                        "address.mac",
                        mac,
                        "write a unicast MAC as six hex pairs, e.g. \"02:00:00:00:00:01\", or remove the key to use the interface's",
                    ))
                }
            }
        }
        if let Some(gw) = self.address.gateway {
            let mask = if cidr.prefix_len == 0 {
                0
            } else {
                u32::MAX << (32 - cidr.prefix_len)
            };
            if u32::from(gw) & mask != u32::from(a) & mask || gw == a {
                return Err(invalid(
                    "address.gateway",
                    gw,
                    format!(
                        "the gateway must be another address inside {}",
                        self.address.ipv4
                    ),
                ));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                &self.log.level,
                "use a level (error, warn, info, debug, trace) or a tracing filter like \"xskd=debug\"",
            ));
        }
        if !(576..=9000).contains(&self.address.mtu) {
            return Err(invalid(
                "address.mtu",
                self.address.mtu,
                "must be between 576 and 9000",
            ));
        }
        let u = &self.umem;
        if u.frame_size != 2048 && u.frame_size != 4096 {
            return Err(invalid(
                "umem.frame_size",
                u.frame_size,
                "must be 2048 or 4096",
            ));
        }
        if self.address.mtu + 14 > u.frame_size as usize - 256 {
            return Err(invalid(
                "address.mtu",
                self.address.mtu,
                format!("a frame of MTU + 14 must fit in umem.frame_size ({}) minus 256 bytes of headroom", u.frame_size),
            ));
        }
        power_of_two("umem.fill_ring", u.fill_ring, 64, 16384)?;
        power_of_two("umem.completion_ring", u.completion_ring, 64, 16384)?;
        power_of_two("umem.rx_ring", u.rx_ring, 64, 16384)?;
        power_of_two("umem.tx_ring", u.tx_ring, 64, 16384)?;
        if u.frame_count < u.fill_ring + u.tx_ring || u.frame_count > 1 << 20 {
            return Err(invalid(
                "umem.frame_count",
                u.frame_count,
                format!(
                    "needs at least umem.fill_ring + umem.tx_ring = {} frames (and at most 1048576)",
                    u.fill_ring + u.tx_ring
                ),
            ));
        }
        let mut tcp = self.tcp.to_tcp_config();
        tcp.mss = tcp
            .mss
            .min(u16::try_from(self.address.mtu - 40).unwrap_or(u16::MAX));
        if let Err(e) = tcp.validate() {
            return Err(ConfigError::Invalid {
                key: super::TcpSection::key_of(e.key),
                value: format!("(tcp field {})", e.key),
                fix: e.problem.to_string(),
            });
        }
        let workers = self.interface.queues.len();
        if tcp.validate_for_workers(workers).is_err() {
            let (lo, hi) = tcp.ephemeral_ports;
            return Err(invalid(
                "tcp.ephemeral_ports",
                [lo, hi],
                format!(
                    "{} ports shared by {workers} workers (one per interface.queues entry) leaves {} each; \
                     every worker needs at least {}: widen the range or serve fewer queues",
                    u32::from(hi - lo) + 1,
                    tcp.ports_per_worker(workers),
                    crate::stack::tcp::MIN_PORTS_PER_WORKER
                ),
            ));
        }
        if let Some(dns) = &self.dns {
            // Building the responder validates every name and record.
            crate::service::dns::DnsResponder::with_cookie_secret(dns, [0; 16])
                .map_err(|e| ConfigError::Dns(e.to_string()))?;
        }
        if u.batch == 0 || u.batch > u.rx_ring {
            return Err(invalid(
                "umem.batch",
                u.batch,
                "must be between 1 and umem.rx_ring",
            ));
        }
        if let Some(impair) = &self.impair {
            impair.validate()?;
        }
        if let Some(https) = &self.https {
            let sv = &self.services;
            super::https::validate(
                https,
                &[
                    ("services.http_port", sv.http_port),
                    ("services.tcp_echo_port", sv.tcp_echo_port),
                    ("services.discard_port", sv.discard_port),
                ],
            )?;
        }
        Ok(())
    }
}
