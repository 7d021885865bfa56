//! Header prediction (Van Jacobson, RFC 1323 appendix A / Linux's
//! `tcp_rcv_established` fast path): the most common segment of a bulk
//! transfer to us, the next in-order data segment on an ESTABLISHED
//! connection that acknowledges nothing new while we have nothing in
//! flight, is recognised with a few comparisons and takes a short path.
//!
//! It must end in exactly the state the general path (`input.rs`,
//! RFC 9293 3.10.7.4) would reach, so every condition below rules out a
//! branch of that path the short one does not repeat:
//! - no SYN/FIN/RST, ACK present and equal to SND.UNA = SND.MAX: no RST
//!   or SYN handling, no new ACK (no RTT sample, no congestion event, no
//!   retransmission timer restart), not a duplicate ACK (it carries data),
//!   and with nothing outstanding no SACK loss detection;
//! - SEG.SEQ = RCV.NXT with a non-zero window: acceptable (3.10.7.4 first
//!   check), in order, and wholly taken when it fits the free buffer;
//! - no SACK blocks, nothing held for reassembly, no FIN waiting beyond a
//!   hole: nothing to merge or deliver after it;
//! - timestamps, when in use, pass PAWS (RFC 7323 5.3) and so update
//!   TS.Recent (RFC 7323 4.3, SEG.SEQ = Last.ACK.sent);
//! - the application holds the connection (an orphan's data draws a RST).
//!
//! The send window update is the general path's own code.

use super::config::State;
use super::tcb::Owner;
use super::Tcp;
use crate::time::Instant;
use crate::wire::tcp::{Control, TcpRepr};

impl Tcp {
    /// Take `repr` by the short path if it is the predicted segment;
    /// false (nothing changed) sends it down the general path.
    #[inline]
    pub(crate) fn in_order_data_fast_path(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
    ) -> bool {
        #[cfg(test)]
        if self.fast_path_off {
            return false;
        }
        let delayed_ack = self.cfg.delayed_ack;
        let Some(t) = self.tcb_mut(idx) else {
            return false;
        };
        let Some(ack) = repr.ack else { return false };
        let len = repr.payload.len();
        let predicted = t.state == State::Established
            && repr.control == Control::None
            && ack == t.snd_una
            && t.snd_una == t.snd_max
            && repr.seq == t.rcv_nxt
            && len > 0
            && t.rcv_wnd > 0
            && len <= t.recv_buf.free()
            && t.reassembly.is_empty()
            && t.fin_pending_at.is_none()
            && t.owner != Owner::Orphan
            && !(t.sack_ok && repr.sack_ranges[0].is_some());
        if !predicted {
            return false;
        }
        if t.ts_ok {
            if let Some((tsval, _)) = repr.timestamp {
                if (tsval.wrapping_sub(t.ts_recent) as i32) < 0 {
                    return false; // PAWS: the general path rejects it
                }
                t.ts_recent = tsval;
            }
        }
        t.last_rx = now;
        t.keepalive_probes = 0;
        t.update_send_window(now, repr, ack, false);
        let n = t.recv_buf.push(repr.payload);
        t.rcv_nxt += n;
        t.bytes_in += n as u64;
        t.delay_ack(now, delayed_ack);
        t.needs_output = true;
        #[cfg(test)]
        {
            self.fast_path_hits += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;

    use super::super::{TcpConfig, TcpCounters};
    use super::*;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

    /// A bulk upload with a lost segment (reassembly), a slow reader
    /// (window closing, zero-window probes) and replies now and then (data
    /// in flight): every segment the server emits, what it read, its
    /// counters, and how often the short path ran.
    fn run(cfg: TcpConfig, fast_path_off: bool) -> (Vec<Vec<u8>>, Vec<u8>, TcpCounters, u64) {
        let mut client = Tcp::new(cfg.clone(), CLIENT, [1; 32], 1);
        let mut server = Tcp::new(cfg, SERVER, [2; 32], 2);
        server.fast_path_off = fast_path_off;
        let l = server.listen(5001).unwrap();
        let mut now = Instant::from_secs(50);
        let mut to_server = Sink::new();
        let c = client
            .connect(now, SocketAddrV4::new(SERVER, 5001), &mut to_server)
            .unwrap();
        let data: Vec<u8> = (0..400_000u32).map(|i| (i % 247) as u8).collect();
        let (mut sent, mut read, mut emitted) = (0, Vec::new(), Vec::new());
        let mut s = None;
        let mut buf = [0u8; 3000];
        let mut data_segs = 0;
        for step in 0..20_000u32 {
            if sent < data.len() {
                sent += client.send(c, &data[sent..]).unwrap_or(0);
            }
            if s.is_none() {
                s = server.accept(l);
            }
            if let Some(s) = s {
                if step % 5 != 0 && step % 97 > 20 {
                    let _ = server
                        .recv(s, &mut buf)
                        .map(|n| read.extend_from_slice(&buf[..n]));
                }
                if step % 7 == 0 {
                    let _ = server.send(s, &[b'r'; 100]);
                }
            }
            let mut to_client = Sink::new();
            client.poll(now, &mut to_server);
            server.poll(now, &mut to_client);
            for (_, _, seg) in std::mem::take(&mut to_server) {
                if seg.len() > 100 {
                    data_segs += 1;
                    if data_segs == 37 {
                        continue; // lost once: a hole to reassemble
                    }
                }
                let _ = server.on_segment(now, CLIENT, SERVER, &seg, &mut to_client);
            }
            for (_, _, seg) in to_client {
                emitted.push(seg.clone());
                let _ = client.on_segment(now, SERVER, CLIENT, &seg, &mut to_server);
                let _ = client.recv(c, &mut [0u8; 4096]);
            }
            now += if step % 50 == 0 {
                Duration::from_millis(300)
            } else {
                Duration::from_micros(700)
            };
            if read.len() == data.len() {
                break;
            }
        }
        assert_eq!(read, data, "the whole upload arrives in order");
        if server.config().syn_queue == 0 {
            assert_eq!(server.counters().syncookies_validated, 1);
        }
        (
            emitted,
            read,
            server.counters().clone(),
            server.fast_path_hits,
        )
    }

    fn same_with_and_without(cfg: TcpConfig) {
        let (slow, slow_read, slow_counters, none) = run(cfg.clone(), true);
        let (fast, fast_read, fast_counters, hits) = run(cfg, false);
        assert_eq!(none, 0);
        assert!(hits > 100, "the short path ran {hits} times");
        assert_eq!(slow.len(), fast.len());
        for (i, (a, b)) in slow.iter().zip(&fast).enumerate() {
            assert_eq!(a, b, "segment {i} differs");
        }
        assert_eq!(slow_read, fast_read);
        assert_eq!(format!("{slow_counters:?}"), format!("{fast_counters:?}"));
    }

    #[test]
    fn fast_path_bulk_upload_emits_the_same_segments_as_the_general_path() {
        same_with_and_without(TcpConfig::default());
    }

    #[test]
    fn fast_path_on_a_syn_cookie_connection_emits_the_same_segments() {
        // No SYN queue: every handshake completes through a cookie, whose
        // connection starts ESTABLISHED with state rebuilt from the ACK.
        same_with_and_without(TcpConfig {
            syn_queue: 0,
            ..TcpConfig::default()
        });
    }

    #[test]
    fn fast_path_without_options_or_delayed_ack_emits_the_same_segments() {
        same_with_and_without(TcpConfig {
            timestamps: false,
            sack: false,
            window_scaling: false,
            delayed_ack: None,
            recv_buffer: 8 * 1024,
            ..TcpConfig::default()
        });
    }
}
