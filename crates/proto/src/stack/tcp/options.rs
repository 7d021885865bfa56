//! Option negotiation on SYN / SYN-ACK (RFC 9293 3.7.1, RFC 7323, RFC 2018).

use super::config::TcpConfig;
use super::tcb::Tcb;
use crate::wire::tcp::TcpRepr;

/// The largest shift RFC 7323 2.3 allows.
pub(crate) const MAX_WSCALE: u8 = 14;

impl Tcb {
    /// Take the peer's SYN options. For an active open we offered every
    /// option the config enables, so what the peer echoes is what we get.
    pub(crate) fn negotiate(&mut self, cfg: &TcpConfig, syn: &TcpRepr) {
        self.mss = Tcb::negotiate_mss(cfg, syn.mss);
        match (cfg.window_scaling, syn.window_scale) {
            (true, Some(ws)) => {
                //= https://www.rfc-editor.org/rfc/rfc7323#section-2.3
                //# If a Window Scale option is received with a shift.cnt
                //# value larger than 14, the TCP SHOULD log the error but MUST
                //# use 14 instead of the specified value.
                self.snd_wscale = ws.min(MAX_WSCALE);
                self.rcv_wscale = cfg.rcv_wscale();
                self.wscale_negotiated = true;
            }
            _ => {
                self.wscale_negotiated = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.sack_ok = cfg.sack && syn.sack_permitted;
        match (cfg.timestamps, syn.timestamp) {
            (true, Some((tsval, _))) => {
                self.ts_ok = true;
                self.ts_recent = tsval;
            }
            _ => self.ts_ok = false,
        }
        self.init_cc();
    }

    /// Payload bytes per segment after the options every segment carries
    /// (timestamps): the congestion controller's SMSS.
    pub(crate) fn payload_mss(&self) -> usize {
        usize::from(self.mss)
            .saturating_sub(if self.ts_ok { 12 } else { 0 })
            .max(1)
    }

    /// Payload bytes that fit in the next data segment with all its
    /// options: SACK blocks, while we hold out-of-order data, take room too.
    //= https://www.rfc-editor.org/rfc/rfc9293#section-3.7.1
    //# The MSS value to be sent in an MSS Option should be equal to the
    //# effective MTU minus the fixed IP and TCP headers.  By ignoring both
    //# IP and TCP Options when calculating the value for the MSS Option, if
    //# there are any IP or TCP Options to be sent in a packet, then the
    //# sender must decrease the size of the TCP data accordingly.
    pub(crate) fn data_room(&self) -> usize {
        let blocks = if self.sack_ok {
            self.reassembly.sack_blocks() + usize::from(self.dsack.is_some())
        } else {
            0
        };
        if blocks == 0 {
            return self.payload_mss();
        }
        let ts = if self.ts_ok { 12 } else { 0 };
        // As `TcpRepr::header_len` lays them out: NOP NOP SACK len, 8 each.
        let fit = (MAX_OPTIONS_LEN - ts - 4) / 8;
        let sack = 4 + 8 * blocks.min(fit);
        usize::from(self.mss).saturating_sub(ts + sack).max(1)
    }
}

/// TCP option space: 60-byte header maximum minus the fixed 20.
const MAX_OPTIONS_LEN: usize = 40;
