//! Configuration, public handles, counters and the per-connection view the
//! control plane exports.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::time::Instant;

/// Keepalive (RFC 9293 3.8.4 / RFC 1122 4.2.3.6): off unless configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepaliveConfig {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped.
    pub count: u32,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.4
        //# This interval MUST be configurable and MUST default to no less than two hours.
        KeepaliveConfig {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// MSS we advertise (and the largest segment we send).
    pub mss: u16,
    /// Floor for the peer's advertised MSS: smaller values are raised to it
    /// (every IPv4 host accepts 576-byte datagrams, RFC 1122 3.3.2), so a
    /// peer cannot make us cut data into tiny segments.
    pub min_peer_mss: u16,
    /// Embryonic (SYN-RECEIVED) connections per listener before SYN cookies.
    pub syn_queue: usize,
    /// Established, not yet accepted connections per listener.
    pub accept_queue: usize,
    /// Connections (all states) per worker.
    pub max_conns: usize,
    pub max_listeners: usize,
    /// Connections in TIME-WAIT (they count against `max_conns`). Past
    /// this, a closing connection skips TIME-WAIT (Linux `tcp_max_tw_buckets`).
    pub max_time_wait: usize,
    pub msl: Duration,
    /// Orphaned FIN-WAIT-2 connections are dropped after this.
    pub fin_wait2_timeout: Duration,
    /// CLOSE-WAIT connections whose application never closes are aborted after this.
    pub close_wait_timeout: Duration,
    pub syn_retries: u32,
    pub synack_retries: u32,
    /// Retransmissions of data/FIN before the connection is dropped.
    pub max_retries: u32,
    pub rto_min: Duration,
    pub rto_max: Duration,
    pub rto_initial: Duration,
    pub keepalive: Option<KeepaliveConfig>,
    /// RFC 5482-style user timeout: data unacknowledged this long aborts.
    pub user_timeout: Duration,
    /// Each connection's send and receive rings start at `send_buffer` /
    /// `recv_buffer` and autotuning grows them up to the `_max` values
    /// (see `autotune`); `buffer_budget` bounds the sum over the
    /// connections of this `Tcp` (one worker): past it, growth stops.
    pub send_buffer: usize,
    pub recv_buffer: usize,
    pub send_buffer_max: usize,
    pub recv_buffer_max: usize,
    pub buffer_budget: usize,
    /// Challenge ACKs per connection per second (RFC 5961 10; per connection
    /// rather than global, CVE-2016-5696).
    pub challenge_ack_per_sec: u32,
    pub syn_cookies: bool,
    pub window_scaling: bool,
    pub timestamps: bool,
    pub sack: bool,
    /// Ephemeral port range for active opens (RFC 6056 suggests 1024-65535;
    /// IANA 49152-65535 by default).
    pub ephemeral_ports: (u16, u16),
    /// Delayed ACK bound (RFC 9293 3.8.6.3, under 500 ms); `None` ACKs
    /// every segment at once.
    pub delayed_ack: Option<Duration>,
    /// Congestion control for connections (listeners may override it).
    pub congestion: super::congestion::CongestionAlgorithm,
    /// Segments one connection sends per round of output before the next
    /// connection with output has its turn (`Tcp::poll` goes round the
    /// connections while the link has room), so one bulk flow cannot keep
    /// the others off a full transmit ring.
    pub output_budget: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            min_peer_mss: 536,
            syn_queue: 128,
            accept_queue: 128,
            max_conns: 4096,
            max_listeners: 64,
            max_time_wait: 2048,
            msl: Duration::from_secs(30),
            fin_wait2_timeout: Duration::from_secs(60),
            close_wait_timeout: Duration::from_secs(300),
            syn_retries: 6,
            synack_retries: 5,
            max_retries: 15,
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            rto_initial: Duration::from_secs(1),
            keepalive: None,
            user_timeout: Duration::from_secs(300),
            send_buffer: 64 * 1024,
            recv_buffer: 64 * 1024,
            // Linux's tcp_wmem / tcp_rmem maxima (4 MB, 6 MB).
            send_buffer_max: 4 << 20,
            recv_buffer_max: 6 << 20,
            buffer_budget: 256 << 20,
            challenge_ack_per_sec: 10,
            syn_cookies: true,
            window_scaling: true,
            timestamps: true,
            sack: true,
            ephemeral_ports: (49152, 65535),
            delayed_ack: Some(Duration::from_millis(40)),
            congestion: super::congestion::CongestionAlgorithm::NewReno,
            output_budget: 64,
        }
    }
}

/// RFC 9293 3.3.2 connection states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// States after the three-way handshake (RFC 9293 "synchronized").
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection handle. Stale handles (the slot was reused) are rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl ConnId {
    /// A dense number below the stack's `max_conns`, unique among live
    /// handles (a stale handle may share it with its successor): index a
    /// service's side table with it instead of hashing handles.
    pub fn slot(self) -> usize {
        self.index as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u16);

impl ListenerId {
    pub fn port(self) -> u16 {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TcpApiError {
    #[error("no such connection or listener (stale handle)")]
    InvalidHandle,
    #[error("port already in use")]
    AddrInUse,
    #[error("connection or listener table full")]
    TableFull,
    #[error("no ephemeral port free for this destination")]
    NoPortsAvailable,
    #[error("connection reset by peer")]
    Reset,
    #[error("connection refused")]
    Refused,
    #[error("connection timed out")]
    TimedOut,
    #[error("operation not valid in this state")]
    InvalidState,
    #[error("would block")]
    WouldBlock,
    #[error("invalid address")]
    InvalidAddress,
}

/// Why a connection ended abnormally, for readiness and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    Reset,
    Refused,
    TimedOut,
    Aborted,
}

impl CloseReason {
    pub(crate) fn as_error(self) -> TcpApiError {
        match self {
            CloseReason::Reset | CloseReason::Aborted => TcpApiError::Reset,
            CloseReason::Refused => TcpApiError::Refused,
            CloseReason::TimedOut => TcpApiError::TimedOut,
        }
    }
}

/// What a poll loop may do with a connection without blocking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Data to read, or EOF (peer FIN) to observe.
    pub readable: bool,
    /// Send buffer space and a state that allows sending.
    pub writable: bool,
    /// The peer sent FIN; `recv` returns 0 once the buffer is drained.
    pub peer_closed: bool,
    /// The connection is gone (CLOSED); `reset` tells if abnormally.
    pub closed: bool,
    pub reset: bool,
    pub established: bool,
}

/// A snapshot of one connection for the control plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConnInfo {
    pub id: ConnId,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub state: State,
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub mss: u16,
    pub srtt: Option<Duration>,
    pub rto: Duration,
    pub rttvar: Duration,
    /// Congestion window and slow-start threshold in bytes (`u32::MAX`:
    /// ssthresh not yet set).
    pub cwnd: u32,
    pub ssthresh: u32,
    /// Sent and not yet acknowledged (SND.MAX - SND.UNA).
    pub bytes_in_flight: u32,
    /// Received in order and not yet read by the application (`ss` Recv-Q).
    pub recv_queue: u32,
    /// Written by the application and not yet acknowledged (`ss` Send-Q).
    pub send_queue: u32,
    /// "newreno" or "cubic".
    pub congestion: &'static str,
    /// "slow_start", "congestion_avoidance", "recovery" (fast recovery) or
    /// "loss" (retransmitting after an RTO).
    pub ca_state: &'static str,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub segs_in: u64,
    pub segs_out: u64,
    pub retransmits: u64,
    pub created: Instant,
    pub age: Duration,
}

/// Per-worker TCP MIB-style counters (RFC 4022 names where they exist).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Zero-window probes sent (RFC 9293 3.8.6.1).
    pub window_probes: u64,
    pub active_opens: u64,
    pub passive_opens: u64,
    pub attempt_fails: u64,
    pub estab_resets: u64,
    pub in_segs: u64,
    pub out_segs: u64,
    pub retrans_segs: u64,
    /// Fast retransmits (third duplicate ACK, RFC 5681 3.2).
    pub fast_retransmits: u64,
    /// Retransmissions triggered by partial ACKs in fast recovery (RFC 6582).
    pub partial_ack_retransmits: u64,
    /// Retransmission timeouts of data (not SYN, not persist probes).
    pub rto_expirations: u64,
    /// Of those, the ones that hit a fast recovery (its retransmissions
    /// were lost and not detected) and the ones that came after a tail
    /// loss probe that did not draw an ACK: where the ACK clock failed.
    pub rto_in_recovery: u64,
    pub rto_after_tlp: u64,
    /// Received SACK blocks: ignored as invalid (reversed, outside
    /// SND.UNA..SND.MAX), D-SACK (RFC 2883), or not kept (scoreboard full).
    pub sack_blocks_bogus: u64,
    pub sack_blocks_dsack: u64,
    /// Data segments that were wholly or partly a copy of data already
    /// received (below RCV.NXT): each is reported back in a D-SACK block.
    pub duplicate_data_segs: u64,
    pub sack_blocks_dropped: u64,
    /// Retransmissions chosen from the SACK scoreboard (RFC 6675 NextSeg).
    pub sack_retransmits: u64,
    /// Fast recoveries that found their own retransmissions lost (data
    /// sent after them was SACKed) and resent them without an RTO.
    pub lost_retransmits: u64,
    /// RFC 6675 rescue retransmissions (the tail of a recovery).
    pub rescue_retransmits: u64,
    /// Fast recoveries started by the reordering timer (RFC 8985 6.3):
    /// a hole below SACKed data that no further ACK would have marked.
    pub rack_timer_recoveries: u64,
    /// Autotuning (see `autotune`): receive and send rings grown, and
    /// growth refused because the worker's `buffer_budget` was reached.
    pub recv_buffer_grows: u64,
    pub send_buffer_grows: u64,
    pub buffer_growth_refused: u64,
    /// Loss probes sent (RFC 8985 7), and of those the ones sent in fast
    /// recovery (every ACK of the flight lost; see `tlp`).
    pub tlp_probes: u64,
    pub recovery_probes: u64,
    /// Times a connection's output stopped because the link had no room
    /// (transmit ring or frame pool full); it resumed when there was.
    pub output_link_full: u64,
    pub out_rsts: u64,
    pub in_rsts: u64,
    pub syncookies_sent: u64,
    pub syncookies_validated: u64,
    pub syncookies_failed: u64,
    pub challenge_acks: u64,
    pub challenge_acks_suppressed: u64,
    pub timeouts: u64,
    pub keepalive_drops: u64,
    pub fin_wait2_reaped: u64,
    pub close_wait_reaped: u64,
    pub time_wait_reused: u64,
    pub time_wait_rst_ignored: u64,
    pub time_wait_overflow: u64,
    pub out_of_order_dropped: u64,
    pub listen_overflows: u64,
    pub listen_drops: u64,
}

/// A configuration value the stack cannot run with; names the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tcp.{key}: {problem}")]
pub struct TcpConfigError {
    pub key: &'static str,
    pub problem: &'static str,
}

impl TcpConfig {
    /// Our window scale: enough for the largest the receive ring may grow
    /// to, since the shift is fixed at the handshake (RFC 7323 2.2; at
    /// most 14, 2.3).
    pub fn rcv_wscale(&self) -> u8 {
        let window = self.recv_buffer.max(self.recv_buffer_max);
        let mut s = 0u8;
        while (window >> s) > 0xffff && s < 14 {
            s += 1;
        }
        s
    }

    /// Check the values against what the stack needs; the error names the
    /// key and what is wrong with it.
    pub fn validate(&self) -> Result<(), TcpConfigError> {
        let bad = |key, problem| Err(TcpConfigError { key, problem });
        if self.mss < 64 {
            return bad("mss", "must be at least 64");
        }
        if self.min_peer_mss > self.mss {
            return bad("min_peer_mss", "must not exceed mss");
        }
        if self.send_buffer == 0 || self.send_buffer > 1 << 30 {
            return bad("send_buffer", "must be between 1 byte and 1 GiB");
        }
        if self.recv_buffer == 0 || self.recv_buffer > (0xffff << 14) {
            return bad(
                "recv_buffer",
                "must be between 1 byte and 65535 << 14 (the largest scaled window)",
            );
        }
        if self.send_buffer_max < self.send_buffer || self.send_buffer_max > 1 << 30 {
            return bad(
                "send_buffer_max",
                "must be at least send_buffer and at most 1 GiB",
            );
        }
        if self.recv_buffer_max < self.recv_buffer || self.recv_buffer_max > (0xffff << 14) {
            return bad(
                "recv_buffer_max",
                "must be at least recv_buffer and at most 65535 << 14 (the largest scaled window)",
            );
        }
        if self.buffer_budget < self.send_buffer + self.recv_buffer {
            return bad(
                "buffer_budget",
                "must hold at least one connection's send_buffer + recv_buffer",
            );
        }
        if self.max_conns == 0 {
            return bad("max_conns", "must be at least 1");
        }
        if self.output_budget == 0 {
            return bad("output_budget", "must be at least 1");
        }
        if self.accept_queue == 0 {
            return bad("accept_queue", "must be at least 1");
        }
        if self.rto_min.is_zero() || self.rto_min > self.rto_max {
            return bad("rto_min", "must be non-zero and not above rto_max");
        }
        if self.rto_initial < self.rto_min || self.rto_initial > self.rto_max {
            return bad("rto_initial", "must lie between rto_min and rto_max");
        }
        let (lo, hi) = self.ephemeral_ports;
        if lo == 0 || lo > hi {
            return bad(
                "ephemeral_ports",
                "must be a non-empty range without port 0",
            );
        }
        if self
            .delayed_ack
            .is_some_and(|d| d.is_zero() || d >= Duration::from_millis(500))
        {
            return bad(
                "delayed_ack",
                "must be above 0 and below 500 ms (RFC 9293 3.8.6.3)",
            );
        }
        if let Some(k) = self.keepalive {
            if k.interval.is_zero() || k.count == 0 {
                return bad("keepalive", "interval and count must be non-zero");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(TcpConfig::default().validate(), Ok(()));
    }

    #[test]
    fn invalid_config_names_the_key() {
        let c = TcpConfig {
            rto_initial: Duration::from_secs(120),
            ..TcpConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "rto_initial");
        assert!(e.to_string().starts_with("tcp.rto_initial:"));
    }

    #[test]
    fn delayed_ack_bound_must_stay_under_half_a_second() {
        for (d, ok) in [
            (None, true),
            (Some(Duration::from_millis(40)), true),
            (Some(Duration::ZERO), false),
            (Some(Duration::from_millis(500)), false),
        ] {
            let c = TcpConfig {
                delayed_ack: d,
                ..TcpConfig::default()
            };
            assert_eq!(c.validate().is_ok(), ok, "{d:?}");
        }
    }
}
