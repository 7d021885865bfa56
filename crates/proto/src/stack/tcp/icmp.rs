//! ICMP errors about segments we sent (RFC 1122 4.2.3.9, RFC 5461, RFC
//! 5927, RFC 1191). The IPv4 layer parses the ICMP message and the quoted
//! header; it hands us the 4-tuple and, when quoted, the sequence number.

use std::net::SocketAddrV4;

use super::config::{CloseReason, State};
use super::seq::{between_inclusive, SeqNumber};
use super::Tcp;
use crate::drop_reason::DropReason;
use crate::time::Instant;

/// What an ICMP error means for TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpTcpError {
    /// Protocol or port unreachable, administratively prohibited.
    Hard,
    /// Network/host unreachable, time exceeded, source quench...
    Soft,
    /// Fragmentation needed and DF set, with the next-hop MTU.
    FragNeeded { mtu: u16 },
}

/// The smallest path MTU we shrink to: a 536-byte MSS (RFC 1122 576 bytes).
const MIN_PMTU: u16 = 576;

impl Tcp {
    /// An ICMP error quoting a segment from `local` to `remote`. `quoted_seq`
    /// is the sequence number of the quoted TCP header, if the quote holds
    /// it: errors for sequence numbers we have not sent are ignored
    /// (RFC 5927 4.1, blind attacks).
    pub fn on_icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        quoted_seq: Option<SeqNumber>,
        error: IcmpTcpError,
    ) -> Result<(), DropReason> {
        self.last_now = self.last_now.max(now);
        let idx = *self
            .index
            .get(&super::conn_index::ConnKey::new(local.port(), remote))
            .ok_or(DropReason::IcmpIgnored)?;
        let t = self.tcb_mut(idx).ok_or(DropReason::IcmpIgnored)?;
        if let Some(seq) = quoted_seq {
            //= https://www.rfc-editor.org/rfc/rfc5927#section-4.1
            //# TCP SHOULD check that the TCP sequence number contained in the
            //# payload of the ICMP error message is within the range
            //# SND.UNA =< SEG.SEQ < SND.NXT.
            let in_flight = seq == t.snd_una
                || (between_inclusive(t.snd_una, seq, t.snd_max) && seq != t.snd_max);
            if !in_flight {
                return Err(DropReason::IcmpIgnored);
            }
        }
        match error {
            //= https://www.rfc-editor.org/rfc/rfc5461#section-4.1
            //# abort the connection attempt when a hard error is received
            //# while in the SYN-SENT state
            IcmpTcpError::Hard if t.state == State::SynSent => {
                self.counters.attempt_fails += 1;
                self.close_conn(idx, Some(CloseReason::Refused));
                Ok(())
            }
            // Established connections ride out transient routing trouble.
            IcmpTcpError::Hard | IcmpTcpError::Soft => Err(DropReason::IcmpIgnored),
            IcmpTcpError::FragNeeded { mtu } => {
                //= https://www.rfc-editor.org/rfc/rfc1191#section-6.1
                //# the TCP layer
                //= https://www.rfc-editor.org/rfc/rfc1191#section-6.1
                //# should reduce the segment size
                //= https://www.rfc-editor.org/rfc/rfc1191#section-6.1
                //# and
                //# retransmit
                let mss = mtu.max(MIN_PMTU).saturating_sub(40);
                if mss >= t.mss {
                    return Err(DropReason::IcmpIgnored);
                }
                t.mss = mss;
                if t.state.is_synchronized() && t.outstanding() > 0 {
                    t.snd_nxt = t.snd_una;
                    t.needs_output = true;
                }
                self.touch(idx);
                Ok(())
            }
        }
    }
}
