//! TIME-WAIT (RFC 9293 3.10.7.4, RFC 1337, RFC 6191).

use super::config::State;
use super::seq::segment_acceptable;
use super::timer_table::Timer;
use super::{SegmentSink, Tcp};
use crate::drop_reason::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{Control, TcpRepr};

impl Tcp {
    pub(crate) fn time_wait_segment(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let msl2 = self.cfg.msl.saturating_mul(2);
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        match repr.control {
            //= https://www.rfc-editor.org/rfc/rfc1337#section-3
            //# Fix: Ignore RST segments in TIME-WAIT state.
            Control::Rst => {
                self.counters.time_wait_rst_ignored += 1;
                Err(DropReason::TcpRstInvalid)
            }
            Control::Syn if repr.ack.is_none() => {
                //= https://www.rfc-editor.org/rfc/rfc6191#section-2
                //# If the previous incarnation of the connection used
                //# Timestamps, then: if TCP Timestamps would be enabled for the
                //# new incarnation of the connection, and the timestamp
                //# contained in the incoming SYN segment is greater than the
                //# last timestamp seen on the previous incarnation of the
                //# connection
                //= https://www.rfc-editor.org/rfc/rfc6191#section-2
                //# the TIME-WAIT state may be assassinated
                let newer = match (t.ts_ok, repr.timestamp) {
                    (true, Some((tsval, _))) => tsval.wrapping_sub(t.ts_recent) as i32 > 0,
                    // Otherwise fall back on sequence numbers (RFC 1122 4.2.2.13).
                    _ => repr.seq.diff(t.rcv_nxt) > 0,
                };
                if !newer {
                    t.ack_pending = true;
                    self.output(now, idx, out);
                    return Err(DropReason::TcpOutOfWindow);
                }
                let (local, remote) = (t.local, t.remote);
                self.counters.time_wait_reused += 1;
                self.close_conn(idx, None);
                self.segment_without_conn(now, local, remote, repr, out)
            }
            _ => {
                let acceptable = segment_acceptable(
                    repr.seq,
                    repr.segment_len() as u32,
                    t.rcv_nxt,
                    t.rcv_wnd.max(1),
                );
                //= https://www.rfc-editor.org/rfc/rfc6191#section-2
                //# The only thing that can arrive in this state is a
                //# retransmission of the remote FIN. Acknowledge it, and
                //# restart the 2 MSL timeout.
                if repr.control == Control::Fin && repr.seq + repr.payload.len() + 1u32 == t.rcv_nxt
                {
                    t.timers[Timer::State] = Some(now + msl2);
                    t.ack_pending = true;
                    self.output(now, idx, out);
                    return Ok(());
                }
                if !acceptable || repr.control == Control::Syn {
                    t.ack_pending = true;
                    self.output(now, idx, out);
                    return Err(DropReason::TcpOutOfWindow);
                }
                debug_assert_eq!(t.state, State::TimeWait);
                Ok(())
            }
        }
    }
}
