//! packetdrill-style conformance scripts for the sans-IO TCP, run against
//! `xskd_proto::stack::tcp::Tcp` with a virtual clock.
//!
//! Script syntax (one event per line, `#` comments):
//!
//! ```text
//! %config syn_queue=1 msl=1 keepalive=10,1,3   (before the first event)
//! +0   listen(8080)
//! +0   < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
//! +0   > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 0 ecr 100,nop,wscale 1>
//! +.1  < . 1:1(0) ack 1 win 257
//! +0   accept()
//! +0   state ESTABLISHED
//! +61  expect_none
//! ```
//!
//! Times are seconds, `+x` relative to the previous line or absolute.
//! Sequence numbers: the remote's are literal, ours are relative to our ISN
//! (learned from our first SYN). `ack` on inbound segments is relative to our
//! ISN; on outbound segments it is literal remote space. Outbound `win` and
//! `<options>` are compared only if given; TS `val` on outbound is ignored.
//! Calls: listen(P) accept() accept_none() connect(IP:P) write(N) read(N)
//! read_eof() read_error(Reset) shutdown() close() abort() unlisten()
//! nodelay(1|0); config keys include delayed_ack=SECS (0 = off, the
//! runner's default) and congestion=newreno|cubic;
//! checks: `state NAME` (or NONE), `conns N`, `counter NAME N`,
//! `last_drop REASON` / `last_ok`, `expect_none`. Per-line `from PORT`
//! overrides the remote port of an inbound segment.

#[path = "tcp_conformance/runner.rs"]
mod runner;

use runner::run_script;

fn run_file(name: &str) {
    let path = format!(
        "{}/tests/tcp_scripts/{name}.pkt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Err(e) = run_script(name, &text) {
        panic!("\n{e}\n");
    }
}

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        const ALL: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_file(stringify!($name));
            }
        )*
    };
}

scripts! {
    abort_sends_rst,
    ack_outside_window_dropped,
    active_open_and_close,
    bad_flags_dropped,
    challenge_ack_rate_limited,
    close_wait_reaper,
    close_wait_segment_matrix,
    close_with_unread_data_sends_rst,
    closed_port_answers_rst,
    closing_and_last_ack_rst,
    closing_segment_matrix,
    data_after_close_gets_rst,
    data_retransmit_backoff,
    data_with_sack_blocks_fits_the_mss,
    dsack_reports_duplicates,
    dsack_needs_sack_permitted,
    delayed_ack_every_second_segment,
    established_segment_matrix,
    fast_retransmit_and_recovery,
    fin_beyond_hole_remembered,
    fin_wait2_reaper,
    fin_wait2_timeout_refreshed_by_peer,
    fin_wait_rst,
    fin_wait_segment_matrix,
    half_close_peer_keeps_sending,
    half_close_we_keep_sending,
    initial_window_one_segment_after_synack_loss,
    keepalive_probes_then_drop,
    last_ack_segment_matrix,
    listen_segment_matrix,
    lost_final_ack_fin_retransmitted,
    lost_retransmission_detected,
    options_parsed_defensively,
    out_of_order_kept_with_sack,
    out_of_order_whole_window_kept,
    partial_ack_retransmits_next_hole,
    passive_open_handshake_and_close,
    paws_old_timestamp_dropped,
    rescue_retransmission,
    retransmitted_syn_gets_synack,
    rst_at_rcv_nxt_resets,
    rst_in_window_challenge_ack,
    rst_outside_window_dropped,
    sack_bogus_blocks_ignored,
    sack_recovery,
    seq_wrap_receive,
    shutdown_in_syn_sent_sends_fin_after_handshake,
    simultaneous_close,
    simultaneous_open,
    syn_backoff_gives_up,
    syn_cookies_carry_options_in_timestamps,
    syn_cookies_when_syn_queue_full,
    syn_in_established_challenge_ack,
    syn_received_segment_matrix,
    syn_sent_segment_matrix,
    tail_loss_probe,
    tail_loss_probe_lost_then_rto,
    recovery_probe_after_lost_acks,
    loss_probe_backs_off,
    recv_window_autotuned,
    send_buffer_autotuned,
    autotune_budget_stops_growth,
    window_closed_by_a_retransmitted_segment,
    rack_reordering_window,
    synack_backoff_gives_up,
    time_wait_fin_retransmit_restarts_timer,
    time_wait_ignores_rst,
    time_wait_overflow_closes_directly,
    time_wait_reuse_higher_seq,
    time_wait_reuse_timestamp,
    time_wait_syn_not_newer_gets_ack,
    unlisten_resets_queued_connections,
    user_timeout_aborts,
    zero_window_probe,
    zero_window_update_resumes_at_once,
}

#[test]
fn every_script_file_is_listed() {
    let dir = format!("{}/tests/tcp_scripts", env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pkt") {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                ALL.contains(&stem.as_str()),
                "{stem}.pkt is not in scripts!{{}}"
            );
        }
    }
}

#[test]
fn runner_wrong_expectation_fails_with_diff() {
    let text = "+0 listen(8080)\n+0 < S 0:0(0) win 1000\n+0 > S. 0:0(0) ack 2\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("mismatch in ack"), "{e}");
}

#[test]
fn runner_unexpected_output_fails() {
    let text = "+0 listen(8080)\n+0 < S 0:0(0) win 1000\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("unexpected output"), "{e}");
}

#[test]
fn runner_empty_options_mean_none() {
    // `<>` asserts a segment without options; the SYN-ACK carries an MSS.
    let text = "+0 listen(8080)\n+0 < S 0:0(0) win 1000 <mss 1460>\n+0 > S. 0:0(0) ack 1 <>\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("options") || e.contains("mss"), "{e}");
    let ok = "+0 listen(8080)\n+0 < S 0:0(0) win 1000 <mss 1460>\n+0 > S. 0:0(0) ack 1 <...>\n";
    run_script("any", ok).unwrap();
}

#[test]
fn runner_missing_output_fails() {
    let text = "+0 listen(8080)\n+0 > S. 0:0(0) ack 1\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("nothing was sent"), "{e}");
}
