//! The TCP part of a worker's report: its counters as Prometheus
//! metrics and as the JSON report's `tcp` object.

use serde_json::json;

use crate::control::metrics::MetricSet;
use crate::stack::tcp::TcpCounters;

/// Every TCP counter as a metric with the worker's labels `l`.
pub(super) fn export_tcp_counters(t: &TcpCounters, m: &mut MetricSet, l: &[(&str, &str)]) {
    m.counter(
        "tcp_active_opens_total",
        "TCP active opens (connect).",
        l,
        t.active_opens,
    );
    m.counter(
        "tcp_passive_opens_total",
        "TCP passive opens (accepted SYNs).",
        l,
        t.passive_opens,
    );
    m.counter(
        "tcp_attempt_fails_total",
        "TCP opens that failed.",
        l,
        t.attempt_fails,
    );
    m.counter(
        "tcp_estab_resets_total",
        "Established TCP connections reset.",
        l,
        t.estab_resets,
    );
    m.counter(
        "tcp_segments_received_total",
        "TCP segments received.",
        l,
        t.in_segs,
    );
    m.counter(
        "tcp_segments_sent_total",
        "TCP segments sent.",
        l,
        t.out_segs,
    );
    m.counter(
        "tcp_retransmitted_segments_total",
        "TCP segments retransmitted.",
        l,
        t.retrans_segs,
    );
    m.counter(
        "tcp_fast_retransmits_total",
        "TCP fast retransmits (third duplicate ACK or SACK loss, RFC 5681/6675).",
        l,
        t.fast_retransmits,
    );
    m.counter(
        "tcp_partial_ack_retransmits_total",
        "TCP retransmissions on NewReno partial ACKs (RFC 6582).",
        l,
        t.partial_ack_retransmits,
    );
    m.counter(
        "tcp_sack_retransmits_total",
        "TCP retransmissions chosen from the SACK scoreboard (RFC 6675).",
        l,
        t.sack_retransmits,
    );
    m.counter(
        "tcp_lost_retransmits_total",
        "TCP fast recoveries that detected their retransmissions lost and resent them.",
        l,
        t.lost_retransmits,
    );
    m.counter(
        "tcp_rescue_retransmits_total",
        "TCP RFC 6675 rescue retransmissions.",
        l,
        t.rescue_retransmits,
    );
    m.counter(
        "tcp_rack_timer_recoveries_total",
        "TCP fast recoveries started by the reordering timer (a hole below SACKed data, RFC 8985).",
        l,
        t.rack_timer_recoveries,
    );
    m.counter(
        "tcp_rto_in_recovery_total",
        "TCP retransmission timeouts that hit a fast recovery (its retransmissions lost).",
        l,
        t.rto_in_recovery,
    );
    m.counter(
        "tcp_rto_after_tail_loss_probe_total",
        "TCP retransmission timeouts after a tail loss probe that drew no ACK.",
        l,
        t.rto_after_tlp,
    );
    m.counter(
        "tcp_tail_loss_probes_total",
        "TCP tail loss probes sent (RFC 8985).",
        l,
        t.tlp_probes,
    );
    for (ring, n) in [("recv", t.recv_buffer_grows), ("send", t.send_buffer_grows)] {
        let labels: Vec<_> = l.iter().copied().chain([("ring", ring)]).collect();
        m.counter(
            "tcp_buffer_grows_total",
            "TCP connection rings grown by buffer autotuning.",
            &labels,
            n,
        );
    }
    m.counter(
        "tcp_buffer_growth_refused_total",
        "TCP ring growth refused because the worker's tcp.buffer_budget was reached.",
        l,
        t.buffer_growth_refused,
    );
    m.counter(
        "tcp_recovery_loss_probes_total",
        "TCP loss probes sent in fast recovery after every ACK of the flight was lost.",
        l,
        t.recovery_probes,
    );
    m.counter(
        "tcp_output_link_full_total",
        "Times TCP output waited for transmit ring room or UMEM frames (resumed when reclaimed).",
        l,
        t.output_link_full,
    );
    m.counter(
        "tcp_rto_expirations_total",
        "TCP retransmission timeouts of data.",
        l,
        t.rto_expirations,
    );
    m.counter(
        "tcp_sack_blocks_ignored_total",
        "Received SACK blocks ignored as invalid (reversed, outside SND.UNA..SND.MAX).",
        l,
        t.sack_blocks_bogus,
    );
    m.counter(
        "tcp_dsack_blocks_total",
        "Received D-SACK blocks (RFC 2883), tolerated.",
        l,
        t.sack_blocks_dsack,
    );
    m.counter(
        "tcp_duplicate_data_segments_total",
        "Data segments received again (below RCV.NXT); reported to the peer with D-SACK when SACK was negotiated.",
        l,
        t.duplicate_data_segs,
    );
    m.counter(
        "tcp_sack_blocks_dropped_total",
        "Valid SACK blocks not kept: scoreboard full (32 ranges).",
        l,
        t.sack_blocks_dropped,
    );
    m.counter("tcp_resets_sent_total", "TCP RSTs sent.", l, t.out_rsts);
    m.counter(
        "tcp_resets_received_total",
        "TCP RSTs received.",
        l,
        t.in_rsts,
    );
    m.counter(
        "tcp_syncookies_sent_total",
        "SYN cookies sent (SYN queue full).",
        l,
        t.syncookies_sent,
    );
    m.counter(
        "tcp_syncookies_validated_total",
        "SYN cookies that built a connection.",
        l,
        t.syncookies_validated,
    );
    m.counter(
        "tcp_syncookies_failed_total",
        "ACKs with a bad SYN cookie.",
        l,
        t.syncookies_failed,
    );
    m.counter(
        "tcp_challenge_acks_total",
        "RFC 5961 challenge ACKs sent.",
        l,
        t.challenge_acks,
    );
    m.counter(
        "tcp_challenge_acks_suppressed_total",
        "Challenge ACKs withheld by the per-connection limit.",
        l,
        t.challenge_acks_suppressed,
    );
    m.counter(
        "tcp_timeouts_total",
        "Connections dropped by retransmission timeout.",
        l,
        t.timeouts,
    );
    m.counter(
        "tcp_keepalive_drops_total",
        "Connections dropped by keepalive.",
        l,
        t.keepalive_drops,
    );
    m.counter(
        "tcp_fin_wait2_reaped_total",
        "FIN-WAIT-2 connections reaped.",
        l,
        t.fin_wait2_reaped,
    );
    m.counter(
        "tcp_close_wait_reaped_total",
        "CLOSE-WAIT connections reaped.",
        l,
        t.close_wait_reaped,
    );
    m.counter(
        "tcp_time_wait_reused_total",
        "TIME-WAIT connections reused by a new SYN.",
        l,
        t.time_wait_reused,
    );
    m.counter(
        "tcp_listen_overflows_total",
        "Listener queue overflows.",
        l,
        t.listen_overflows,
    );
}

/// The report's `tcp` object (its own `json!`: one macro call for
/// the whole report passes the macro recursion limit).
pub(super) fn tcp_json(t: &TcpCounters, states: &[(&'static str, u64)]) -> serde_json::Value {
    json!({
        "active_opens": t.active_opens,
        "passive_opens": t.passive_opens,
        "estab_resets": t.estab_resets,
        "in_segs": t.in_segs,
        "out_segs": t.out_segs,
        "retrans_segs": t.retrans_segs,
        "out_rsts": t.out_rsts,
        "in_rsts": t.in_rsts,
        "syncookies_sent": t.syncookies_sent,
        "syncookies_validated": t.syncookies_validated,
        "challenge_acks": t.challenge_acks,
        "window_probes": t.window_probes,
        "fast_retransmits": t.fast_retransmits,
        "partial_ack_retransmits": t.partial_ack_retransmits,
        "sack_retransmits": t.sack_retransmits,
        "lost_retransmits": t.lost_retransmits,
        "tlp_probes": t.tlp_probes,
        "dsack_blocks": t.sack_blocks_dsack,
        "duplicate_data_segs": t.duplicate_data_segs,
        "rescue_retransmits": t.rescue_retransmits,
        "output_link_full": t.output_link_full,
        "rto_expirations": t.rto_expirations,
        "rto_in_recovery": t.rto_in_recovery,
        "rack_timer_recoveries": t.rack_timer_recoveries,
        "rto_after_tlp": t.rto_after_tlp,
        "recovery_probes": t.recovery_probes,
        "recv_buffer_grows": t.recv_buffer_grows,
        "send_buffer_grows": t.send_buffer_grows,
        "buffer_growth_refused": t.buffer_growth_refused,
        "states": states.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
    })
}
