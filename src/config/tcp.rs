//! The `[tcp]` section: every key optional, each overriding one default of
//! `stack::tcp::TcpConfig`. Durations carry their unit in the key name.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stack::tcp::{CongestionAlgorithm, KeepaliveConfig, TcpConfig};

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TcpSection {
    /// Maximum segment lifetime; TIME-WAIT lasts 2 * MSL (default 30 s).
    pub msl_secs: Option<u64>,
    /// Embryonic connections per listener before SYN cookies (128).
    pub syn_queue: Option<usize>,
    /// Established, not yet accepted connections per listener (128).
    pub accept_queue: Option<usize>,
    /// Connections per worker, all states (4096).
    pub max_conns: Option<usize>,
    /// Connections in TIME-WAIT per worker; past it TIME-WAIT is skipped (2048).
    pub max_time_wait: Option<usize>,
    /// Orphaned FIN-WAIT-2 connections are dropped after this (60 s).
    pub fin_wait2_timeout_secs: Option<u64>,
    /// CLOSE-WAIT connections the application never closes are reset after this (300 s).
    pub close_wait_timeout_secs: Option<u64>,
    pub syn_retries: Option<u32>,
    pub synack_retries: Option<u32>,
    /// Data/FIN retransmissions before giving up (15).
    pub max_retries: Option<u32>,
    /// RTO bounds and initial value (RFC 6298; 200 ms, 60 s, 1 s).
    pub rto_min_ms: Option<u64>,
    pub rto_max_ms: Option<u64>,
    pub rto_initial_ms: Option<u64>,
    /// Unacknowledged data this long aborts the connection (300 s).
    pub user_timeout_secs: Option<u64>,
    /// Per-connection buffers in bytes: where they start (64 KiB each),
    /// how far autotuning may grow them (4 MiB send, 6 MiB receive, as
    /// Linux's tcp_wmem / tcp_rmem), and the bytes all of one worker's
    /// connections may hold together (256 MiB), past which growth stops.
    pub send_buffer: Option<usize>,
    pub recv_buffer: Option<usize>,
    pub send_buffer_max: Option<usize>,
    pub recv_buffer_max: Option<usize>,
    pub buffer_budget: Option<usize>,
    /// Challenge ACKs per connection per second (RFC 5961; 10).
    pub challenge_ack_per_sec: Option<u32>,
    pub syn_cookies: Option<bool>,
    pub window_scaling: Option<bool>,
    pub timestamps: Option<bool>,
    pub sack: Option<bool>,
    /// Keepalive, off by default: set keepalive_idle_secs to turn it on.
    pub keepalive_idle_secs: Option<u64>,
    pub keepalive_interval_secs: Option<u64>,
    pub keepalive_probes: Option<u32>,
    /// Delayed ACK bound in ms (40; 0 turns delayed ACKs off). RFC 9293
    /// 3.8.6.3: under 500.
    pub delayed_ack_ms: Option<u64>,
    /// Congestion control for every listener and connect: "newreno"
    /// (default) or "cubic".
    pub congestion: Option<CongestionName>,
    /// Local ports for active opens, `[first, last]` ([49152, 65535]).
    /// Each worker picks from its own equal slice (at least 256 ports).
    pub ephemeral_ports: Option<[u16; 2]>,
}

/// `tcp.congestion` values.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CongestionName {
    Newreno,
    Cubic,
}

impl TcpSection {
    /// The TCP configuration these keys describe.
    pub fn to_tcp_config(&self) -> TcpConfig {
        let mut c = TcpConfig::default();
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        if let Some(v) = self.msl_secs {
            c.msl = secs(v);
        }
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { c.$field = v; })* };
        }
        set!(
            syn_queue,
            accept_queue,
            max_conns,
            max_time_wait,
            syn_retries,
            synack_retries,
            max_retries,
            send_buffer,
            recv_buffer,
            send_buffer_max,
            recv_buffer_max,
            buffer_budget,
            challenge_ack_per_sec,
            syn_cookies,
            window_scaling,
            timestamps,
            sack
        );
        // A start above the default maximum raises the maximum with it
        // (no autotuning) unless a maximum is given.
        if self.send_buffer_max.is_none() {
            c.send_buffer_max = c.send_buffer_max.max(c.send_buffer);
        }
        if self.recv_buffer_max.is_none() {
            c.recv_buffer_max = c.recv_buffer_max.max(c.recv_buffer);
        }
        if let Some(v) = self.fin_wait2_timeout_secs {
            c.fin_wait2_timeout = secs(v);
        }
        if let Some(v) = self.close_wait_timeout_secs {
            c.close_wait_timeout = secs(v);
        }
        if let Some(v) = self.rto_min_ms {
            c.rto_min = ms(v);
        }
        if let Some(v) = self.rto_max_ms {
            c.rto_max = ms(v);
        }
        if let Some(v) = self.rto_initial_ms {
            c.rto_initial = ms(v);
        }
        if let Some(v) = self.user_timeout_secs {
            c.user_timeout = secs(v);
        }
        if let Some(v) = self.delayed_ack_ms {
            c.delayed_ack = (v > 0).then(|| ms(v));
        }
        if let Some([lo, hi]) = self.ephemeral_ports {
            c.ephemeral_ports = (lo, hi);
        }
        if let Some(v) = self.congestion {
            c.congestion = match v {
                CongestionName::Newreno => CongestionAlgorithm::NewReno,
                CongestionName::Cubic => CongestionAlgorithm::Cubic,
            };
        }
        if let Some(idle) = self.keepalive_idle_secs {
            let d = KeepaliveConfig::default();
            c.keepalive = Some(KeepaliveConfig {
                idle: secs(idle),
                interval: self.keepalive_interval_secs.map(secs).unwrap_or(d.interval),
                count: self.keepalive_probes.unwrap_or(d.count),
            });
        }
        c
    }

    /// The config key behind a `TcpConfig` field name.
    pub fn key_of(field: &str) -> &'static str {
        match field {
            "mss" | "min_peer_mss" => "address.mtu",
            "send_buffer" => "tcp.send_buffer",
            "recv_buffer" => "tcp.recv_buffer",
            "send_buffer_max" => "tcp.send_buffer_max",
            "recv_buffer_max" => "tcp.recv_buffer_max",
            "buffer_budget" => "tcp.buffer_budget",
            "max_conns" => "tcp.max_conns",
            "accept_queue" => "tcp.accept_queue",
            "rto_min" => "tcp.rto_min_ms",
            "rto_max" => "tcp.rto_max_ms",
            "rto_initial" => "tcp.rto_initial_ms",
            "keepalive" => "tcp.keepalive_interval_secs",
            "msl" => "tcp.msl_secs",
            "delayed_ack" => "tcp.delayed_ack_ms",
            "ephemeral_ports" => "tcp.ephemeral_ports",
            _ => "tcp",
        }
    }
}
