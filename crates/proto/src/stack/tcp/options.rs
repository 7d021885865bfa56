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
                self.rcv_wscale = Tcb::wscale_for(cfg.recv_buffer);
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

    /// Payload bytes per segment after per-segment options.
    pub(crate) fn payload_mss(&self) -> usize {
        usize::from(self.mss)
            .saturating_sub(if self.ts_ok { 12 } else { 0 })
            .max(1)
    }
}
