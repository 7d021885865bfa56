//! Segment text and FIN in synchronized states (RFC 9293 3.10.7.4, the
//! seventh and eighth steps): in-order data into the receive ring,
//! out-of-order data into the reassembly store, which ACK that earns (now
//! or delayed), D-SACK for data received twice (RFC 2883), and the FIN's
//! state transitions.

use super::config::State;
use super::tcb::Owner;
use super::timer_table::Timer;
use super::{SegmentSink, Tcp};
use crate::drop_reason::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{Control, TcpRepr};

impl Tcp {
    pub(crate) fn process_text_and_fin(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
        _out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let close_wait = self.cfg.close_wait_timeout;
        let delayed_ack = self.cfg.delayed_ack;
        let Some(t) = self.tcb_mut(idx) else {
            // LAST-ACK completed and the connection is gone.
            return Ok(());
        };
        if t.ts_ok {
            if let Some((tsval, _)) = repr.timestamp {
                //= https://www.rfc-editor.org/rfc/rfc7323#section-4.3
                //# If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent
                if repr.seq.diff(t.rcv_nxt) <= 0 && tsval.wrapping_sub(t.ts_recent) as i32 >= 0 {
                    t.ts_recent = tsval;
                }
            }
        }
        let mut fin_in_order = repr.control == Control::Fin;
        let mut result = Ok(());
        let mut out_of_order = false;
        let mut dup_data = false;
        if !repr.payload.is_empty() {
            let receiving = matches!(
                t.state,
                State::Established | State::FinWait1 | State::FinWait2
            );
            let end = repr.seq + repr.payload.len();
            if receiving && t.owner == Owner::Orphan && end.diff(t.rcv_nxt) > 0 {
                // Nobody will ever read this: tell the peer (RFC 9293 3.10.4
                // / Linux: data after close() gets a RST).
                t.rst_pending = true;
                t.needs_output = true;
                return Err(DropReason::TcpStateClosed);
            }
            if receiving {
                let off = t.rcv_nxt - repr.seq;
                // In-order data into a store without holes may wait for
                // the delayed ACK; everything else is acknowledged now.
                let mut immediate = true;
                if off as i32 >= 0 && (off as usize) < repr.payload.len() {
                    immediate = !t.reassembly.is_empty() || repr.control == Control::Fin;
                    if off > 0 {
                        // The part below RCV.NXT is a copy (D-SACK).
                        if t.sack_ok {
                            t.dsack = Some((repr.seq, t.rcv_nxt));
                        }
                        immediate = true;
                        dup_data = true;
                    }
                    let data = &repr.payload[off as usize..];
                    let n = t.recv_buf.push(data);
                    t.rcv_nxt += n;
                    t.bytes_in += n as u64;
                    if n < data.len() {
                        fin_in_order = false;
                        immediate = true;
                        result = Err(DropReason::TcpRecvBufferFull);
                    }
                    let more = t.reassembly.advance(&mut t.recv_buf, t.rcv_nxt);
                    if more > 0 {
                        t.rcv_nxt += more;
                        t.bytes_in += u64::from(more);
                        // The FIN (if any) sits before the data just joined.
                        fin_in_order = false;
                    }
                } else if (off as i32) < 0 {
                    // A hole before this segment: keep it (the store holds
                    // whatever the advertised window invites); the
                    // duplicate ACK tells the peer.
                    fin_in_order = false;
                    let (nxt, seq) = (t.rcv_nxt, repr.seq);
                    if !t.reassembly.insert(&mut t.recv_buf, nxt, seq, repr.payload) {
                        out_of_order = true;
                        result = Err(DropReason::TcpReassemblyFull);
                    } else if repr.control == Control::Fin {
                        // Remember where the stream ends: when the hole
                        // fills, the FIN is processed without a resend.
                        t.fin_pending_at = Some(end);
                    }
                } else {
                    fin_in_order = fin_in_order && end == t.rcv_nxt;
                }
                //= https://www.rfc-editor.org/rfc/rfc5681#section-4.2
                //# A TCP receiver SHOULD send an immediate duplicate ACK when an
                //# out-of-order segment arrives.
                //= https://www.rfc-editor.org/rfc/rfc5681#section-4.2
                //# a TCP receiver SHOULD send an immediate ACK when the
                //# incoming segment fills in all or part of a gap in the
                //# sequence space.
                if immediate {
                    t.ack_pending = true;
                } else {
                    t.delay_ack(now, delayed_ack);
                }
                t.needs_output = true;
            }
        }
        if repr.control == Control::Fin
            && repr.payload.is_empty()
            && repr.seq.diff(t.rcv_nxt) > 0
            && matches!(
                t.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            // A bare FIN beyond a hole.
            t.fin_pending_at = Some(repr.seq);
        }
        let fin_now = (fin_in_order && repr.seq + repr.payload.len() == t.rcv_nxt)
            || (t.fin_pending_at == Some(t.rcv_nxt) && !t.fin_received);
        if out_of_order {
            self.counters.out_of_order_dropped += 1;
        }
        self.counters.duplicate_data_segs += u64::from(dup_data);
        let Some(t) = self.tcb_mut(idx) else {
            return result;
        };
        if fin_now {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
            //# If the FIN bit is set, signal the user "connection closing" and
            //# return any pending RECEIVEs with same message, advance RCV.NXT
            //# over the FIN, and send an acknowledgment for the FIN.
            match t.state {
                State::Established | State::SynReceived => {
                    t.rcv_nxt += 1u32;
                    t.fin_received = true;
                    t.state = State::CloseWait;
                    t.timers[Timer::State] = Some(now + close_wait);
                }
                State::FinWait1 => {
                    t.rcv_nxt += 1u32;
                    t.fin_received = true;
                    if t.fin_acked() {
                        self.enter_time_wait(now, idx);
                    } else {
                        t.state = State::Closing;
                    }
                }
                State::FinWait2 => {
                    t.rcv_nxt += 1u32;
                    t.fin_received = true;
                    self.enter_time_wait(now, idx);
                }
                _ => {}
            }
            if let Some(t) = self.tcb_mut(idx) {
                t.ack_pending = true;
                t.needs_output = true;
            }
        } else if repr.control == Control::Fin {
            if let Some(t) = self.tcb_mut(idx) {
                t.ack_pending = true;
                t.needs_output = true;
            }
        }
        result
    }
}
