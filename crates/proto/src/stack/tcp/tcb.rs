//! The transmission control block: everything one connection remembers.

use std::net::SocketAddrV4;

use super::buffer::RingBuffer;
use super::config::{CloseReason, ListenerId, State, TcpConfig};
use super::congestion::{Cc, CongestionAlgorithm};
use super::rtt::RttEstimator;
use super::seq::SeqNumber;
use super::timer_table::{Timer, TimerTable};
use crate::time::Instant;

/// Who holds the connection: decides when a CLOSED slot may be freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Embryonic or waiting in the listener's accept queue.
    Listener(ListenerId),
    /// The application holds a `ConnId`.
    App,
    /// The application closed its handle; the stack finishes the protocol.
    Orphan,
}

#[derive(Debug)]
pub(crate) struct Tcb {
    pub state: State,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub owner: Owner,
    pub passive: bool,
    pub close_reason: Option<CloseReason>,

    // Send sequence space (RFC 9293 3.3.1).
    pub iss: SeqNumber,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    /// Highest sequence number sent (SND.NXT rewinds on RTO; ACKs up to here are valid).
    pub snd_max: SeqNumber,
    pub snd_wnd: u32,
    pub max_snd_wnd: u32,
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    // Receive sequence space.
    pub irs: SeqNumber,
    pub rcv_nxt: SeqNumber,
    /// The window last advertised, in bytes.
    pub rcv_wnd: u32,

    /// Shift applied to the peer's window field (their wscale).
    pub snd_wscale: u8,
    /// Shift applied to our window field (our wscale), 0 if not negotiated.
    pub rcv_wscale: u8,
    pub wscale_negotiated: bool,
    /// Largest payload we send (peer MSS, floored, capped by ours).
    pub mss: u16,
    pub sack_ok: bool,
    pub ts_ok: bool,
    pub ts_recent: u32,
    pub ts_offset: u32,

    pub send_buf: RingBuffer,
    pub recv_buf: RingBuffer,
    /// Receive autotuning (`autotune`): bytes the application read in
    /// the current round, when the round began, and the most read in one.
    pub rcv_copied: usize,
    pub rcv_round_start: Option<Instant>,
    pub rcv_space: usize,
    /// The application asked for FIN after the queued data.
    pub fin_queued: bool,
    /// Sequence number of our FIN once sent.
    pub fin_seq: Option<SeqNumber>,
    pub fin_received: bool,
    pub reassembly: super::reassembly::Reassembly,

    pub rtt: RttEstimator,
    /// Every timer of the connection, see `timer_table`.
    pub timers: TimerTable,
    pub backoff: u32,
    pub retries: u32,
    /// (end sequence, send time) of the segment being timed (Karn: cleared
    /// on retransmission).
    pub rtt_probe: Option<(SeqNumber, Instant)>,
    /// When the oldest unacknowledged data went out, for the user timeout.
    pub unacked_since: Option<Instant>,
    /// No timestamp RTT sample until an ACK passes this (one per flight).
    pub ts_sample_edge: SeqNumber,
    pub cc: Cc,
    pub cc_algo: CongestionAlgorithm,
    /// Loss recovery (RFC 5681 3.2, RFC 6582), see `recovery`.
    pub dupacks: u32,
    /// RFC 6582 `recover`, stored as the first sequence number beyond it:
    /// an ACK at or above this is a full acknowledgment.
    pub recover: SeqNumber,
    pub in_recovery: bool,
    /// Retransmit the segment at SND.UNA on the next output (fast
    /// retransmit, partial ACK).
    pub fast_rtx_pending: bool,
    /// What the peer SACKed (RFC 2018), bounded.
    pub scoreboard: super::sack::Scoreboard,
    /// RFC 6675 HighRxt: end of the highest retransmitted range.
    pub high_rxt: SeqNumber,
    /// SND.MAX when the latest retransmission went out: data SACKed above
    /// it was sent after every retransmission (see `detect_lost_retransmission`).
    pub rxt_mark: SeqNumber,
    /// RFC 6675 RescueRxt: the `recover` of the recovery that sent its
    /// rescue retransmission.
    pub rescue_rxt: Option<SeqNumber>,
    /// Loss probes (see `tlp`; the timer is `Timer::LossProbe`): the
    /// flight (SND.UNA, SND.MAX, bytes SACKed) the timer was armed for,
    /// probes sent since the last ACK that delivered something, and one
    /// segment of new data allowed beyond cwnd for the probe.
    pub tlp_key: (SeqNumber, SeqNumber, u32),
    pub tlp_count: u8,
    pub tlp_new_data: bool,
    /// Time-based loss marking (see `rack`; its timer is `Timer::Reorder`):
    /// reordering seen, when the SACK above the current holes arrived and
    /// its top edge.
    pub rack_reord: bool,
    pub rack_sack_at: Option<Instant>,
    pub rack_fack: SeqNumber,
    /// Data received twice, below RCV.NXT, for the next ACK's first SACK
    /// block (D-SACK, RFC 2883); reported once.
    pub dsack: Option<(SeqNumber, SeqNumber)>,
    /// A FIN that arrived beyond a hole: where it sits (end of its data).
    pub fin_pending_at: Option<SeqNumber>,

    /// Output wanted: a SYN/SYN-ACK (re)send, an ACK, data, a RST.
    pub syn_pending: bool,
    pub ack_pending: bool,
    pub rst_pending: bool,
    pub needs_output: bool,
    /// Delayed ACK (RFC 9293 3.8.6.3, timer `Timer::DelayedAck`):
    /// in-order segments received since our last ACK.
    pub unacked_segs: u32,
    /// Nagle off (RFC 896 / RFC 9293 3.7.4): send small segments at once.
    pub nodelay: bool,
    /// Right edge of the window we last advertised (never moved left,
    /// RFC 9293 3.8.6.2.2).
    pub rcv_adv: SeqNumber,
    /// The next output sends what the window allows even where Nagle or
    /// SWS avoidance would wait (persist timer, RTO resend).
    pub probe_pending: bool,
    /// In `Tcp::pending`.
    pub queued: bool,
    /// A tail loss probe resend of the last segment, and a bare ACK at
    /// SND.UNA-1 (zero-window probe, keepalive), for the next output.
    pub tail_probe_pending: bool,
    pub old_ack_pending: bool,
    /// The listener port whose ready list reports this connection's events
    /// (set when the application accepts it), see `ready`.
    pub ready_port: Option<u16>,
    /// In that ready list and not yet taken.
    pub ready: bool,

    /// Challenge ACK rate limit: (window start, sent in window).
    pub challenge: (Instant, u32),
    pub keepalive_probes: u32,
    pub last_rx: Instant,
    pub created: Instant,

    pub bytes_in: u64,
    pub bytes_out: u64,
    pub segs_in: u64,
    pub segs_out: u64,
    pub retransmits: u64,
}

impl Tcb {
    pub fn new(
        cfg: &TcpConfig,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        owner: Owner,
        (send_buf, recv_buf): (RingBuffer, RingBuffer),
    ) -> Tcb {
        Tcb {
            state: State::Closed,
            local,
            remote,
            owner,
            passive: matches!(owner, Owner::Listener(_)),
            close_reason: None,
            iss,
            snd_una: iss,
            snd_nxt: iss + 1u32,
            snd_max: iss + 1u32,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_wnd: 0,
            snd_wscale: 0,
            rcv_wscale: 0,
            wscale_negotiated: false,
            mss: 536,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_offset: 0,
            send_buf,
            recv_buf,
            rcv_copied: 0,
            rcv_round_start: None,
            rcv_space: 0,
            fin_queued: false,
            fin_seq: None,
            fin_received: false,
            reassembly: super::reassembly::Reassembly::default(),
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            timers: TimerTable::default(),
            backoff: 0,
            retries: 0,
            rtt_probe: None,
            unacked_since: None,
            ts_sample_edge: iss,
            cc: Cc::new(cfg.congestion, 536),
            cc_algo: cfg.congestion,
            dupacks: 0,
            //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
            //# the variable "recover"
            //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
            //# is initialized to the initial send
            //# sequence number.
            recover: iss,
            in_recovery: false,
            fast_rtx_pending: false,
            scoreboard: super::sack::Scoreboard::default(),
            high_rxt: iss,
            rxt_mark: iss,
            rescue_rxt: None,
            tlp_key: (iss, iss, 0),
            tlp_count: 0,
            tlp_new_data: false,
            rack_reord: false,
            rack_sack_at: None,
            rack_fack: iss,
            dsack: None,
            fin_pending_at: None,
            syn_pending: true,
            ack_pending: false,
            rst_pending: false,
            needs_output: true,
            probe_pending: false,
            unacked_segs: 0,
            nodelay: false,
            rcv_adv: SeqNumber(0),
            queued: false,
            tail_probe_pending: false,
            old_ack_pending: false,
            ready_port: None,
            ready: false,
            challenge: (now, 0),
            keepalive_probes: 0,
            last_rx: now,
            created: now,
            bytes_in: 0,
            bytes_out: 0,
            segs_in: 0,
            segs_out: 0,
            retransmits: 0,
        }
    }

    /// Effective send MSS from the peer's option (RFC 9293 3.7.1: 536 when
    /// absent; 0 is nonsense and treated as absent).
    pub fn negotiate_mss(cfg: &TcpConfig, peer: Option<u16>) -> u16 {
        let peer = match peer {
            None | Some(0) => 536,
            Some(m) => m.max(cfg.min_peer_mss),
        };
        peer.min(cfg.mss)
    }

    /// Sequence space between SND.UNA and SND.NXT (what the window is charged for).
    pub fn in_flight(&self) -> u32 {
        self.snd_nxt - self.snd_una
    }

    /// Anything sent and not yet acknowledged (SYN, data or FIN).
    pub fn outstanding(&self) -> u32 {
        self.snd_max - self.snd_una
    }

    /// Bytes at the head of the send buffer covered by [SND.UNA, SND.NXT).
    pub fn data_sent(&self) -> usize {
        let start = if self.snd_una == self.iss {
            self.snd_una + 1u32
        } else {
            self.snd_una
        };
        let n = self.snd_nxt.diff(start).max(0) as usize;
        n.min(self.send_buf.len())
    }

    pub fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| self.snd_una == f + 1u32)
    }

    /// The window field for a non-SYN segment, recording what we advertise.
    pub fn window_field(&mut self) -> u16 {
        if self.state == State::TimeWait {
            // Buffers may be gone; repeat the last advertisement.
            return (self.rcv_wnd >> self.rcv_wscale).min(0xffff) as u16;
        }
        let free = self.recv_buf.free() as u32;
        // What is left of the window already advertised.
        let promised = self.rcv_adv.diff(self.rcv_nxt).max(0) as u32;
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.2
        //# The suggested SWS avoidance algorithm for the receiver is to keep
        //# RCV.NXT+RCV.WND fixed until the reduction satisfies:
        //#   RCV.BUFF - RCV.USER - RCV.WND  >= min( Fr * RCV.BUFF, Eff.snd.MSS )
        let step = (self.recv_buf.capacity() as u32 / 2).min(u32::from(self.mss));
        let mut wnd = if free > promised && free - promised < step {
            promised
        } else {
            free.max(promised)
        };
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.2
        //# the receiver MUST NOT shrink the window (move the right edge
        //# to the left)
        // Scaling rounds down; round up instead when that would pull the
        // right edge back (by less than one scale unit).
        let unit = (1u32 << self.rcv_wscale) - 1;
        if (wnd >> self.rcv_wscale) << self.rcv_wscale < promised {
            wnd = wnd.saturating_add(unit);
        }
        let w = (wnd >> self.rcv_wscale).min(0xffff);
        self.rcv_wnd = w << self.rcv_wscale;
        self.rcv_adv = self.rcv_nxt + self.rcv_wnd;
        w as u16
    }

    /// In-order data arrived: acknowledge every second segment at once,
    /// otherwise within the delayed-ACK bound.
    pub fn delay_ack(&mut self, now: Instant, delay: Option<std::time::Duration>) {
        self.unacked_segs += 1;
        match delay {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3
            //# an ACK SHOULD be generated for at least every second
            //# full-sized segment or 2*RMSS bytes of new data
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3
            //# the delay MUST be less than 0.5 seconds
            Some(d) if self.unacked_segs < 2 => {
                if self.timers[Timer::DelayedAck].is_none() {
                    self.timers[Timer::DelayedAck] = Some(now + d);
                }
            }
            _ => self.ack_pending = true,
        }
    }

    /// The window field for SYN/SYN-ACK: never scaled (RFC 7323 2.2).
    /// A passive open gets its rings only once established, so until then
    /// the window promised is that of the ring it will get (`recv_buffer`).
    pub fn syn_window_field(&mut self, recv_buffer: usize) -> u16 {
        let room = if self.recv_buf.capacity() == 0 {
            recv_buffer
        } else {
            self.recv_buf.free()
        };
        let w = (room as u32).min(0xffff);
        self.rcv_wnd = w;
        self.rcv_adv = self.rcv_nxt + w;
        w as u16
    }

    pub fn ts_val(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// RFC 5961 section 7 challenge ACK throttle, per connection.
    pub fn allow_challenge_ack(&mut self, now: Instant, per_sec: u32) -> bool {
        if now.saturating_since(self.challenge.0) >= std::time::Duration::from_secs(1) {
            self.challenge = (now, 0);
        }
        if self.challenge.1 < per_sec {
            self.challenge.1 += 1;
            true
        } else {
            false
        }
    }

    /// The earliest timer of this connection.
    #[inline]
    pub fn timer_deadline(&self, keepalive: Option<Instant>) -> Option<Instant> {
        self.timers.earliest(keepalive)
    }
}

impl Tcb {
    /// The send window from an acceptable ACK (RFC 9293 3.10.7.4, fifth check).
    pub(crate) fn update_send_window(
        &mut self,
        now: Instant,
        repr: &crate::wire::tcp::TcpRepr,
        ack: SeqNumber,
        acked_new: bool,
    ) {
        let t = self;
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
        //# If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated.
        //# If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK))
        // Also, as Linux does (tcp_may_update_window), when the segment
        // acknowledged new data: a peer retransmitting its own data below
        // SND.WL1 (our receive window was full) still tells us its window
        // is closed; ignoring that left a stale window open, and the
        // persist timer sent data into the closed one.
        let newer =
            t.snd_wl1.diff(repr.seq) < 0 || (t.snd_wl1 == repr.seq && t.snd_wl2.diff(ack) <= 0);
        if newer || acked_new {
            let wnd = u32::from(repr.window_len) << t.snd_wscale;
            if wnd > t.snd_wnd {
                t.needs_output = true;
            }
            t.snd_wnd = wnd;
            t.max_snd_wnd = t.max_snd_wnd.max(wnd);
            if newer {
                t.snd_wl1 = repr.seq;
            }
            t.snd_wl2 = ack;
            if wnd > 0 && t.outstanding() == 0 {
                // The window opened: the persist timer stops and its
                // backoff is forgotten; output sends at once.
                t.timers[Timer::Retransmit] = None;
                t.backoff = 0;
                t.retries = 0;
                t.needs_output = true;
            } else if wnd == 0 && t.outstanding() == 0 && !t.send_buf.is_empty() {
                // Persist: probe the zero window after an RTO.
                t.arm_rtx(now);
            }
        }
    }
}
