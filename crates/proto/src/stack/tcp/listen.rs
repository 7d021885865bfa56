//! Segments with no connection: LISTEN (RFC 9293 3.10.7.2) including SYN
//! cookies, and CLOSED (3.10.7.1).

use std::net::SocketAddrV4;

use super::buffer::RingBuffer;
use super::config::{ListenerId, State};
use super::output::send_reset;
use super::seq::SeqNumber;
use super::syncookies;
use super::tcb::{Owner, Tcb};
use super::{SegmentSink, Tcp};
use crate::drop_reason::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{Control, TcpRepr};

impl Tcp {
    pub(crate) fn segment_without_conn(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        if let Some(li) = self.listener_index(local.port()) {
            return self.listen_segment(now, li, local, remote, repr, out);
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
        //# If the state is CLOSED (i.e., TCB does not exist), then all data in
        //# the incoming segment is discarded. An incoming segment containing
        //# a RST is discarded. An incoming segment not containing a RST causes
        //# a RST to be sent in response.
        if repr.control != Control::Rst {
            self.reset_for(local, remote, repr, out);
        }
        Err(DropReason::TcpNoListener)
    }

    /// The RST answering `repr` when no connection exists for it.
    fn reset_for(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) {
        match repr.ack {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
            //# If the ACK bit is off, sequence number zero is used,
            //# <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
            None => send_reset(
                out,
                &mut self.counters,
                local,
                remote,
                SeqNumber(0),
                Some(repr.seq + repr.segment_len()),
            ),
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
            //# If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>
            Some(ack) => send_reset(out, &mut self.counters, local, remote, ack, None),
        }
    }

    // RFC 9293 section 3.10.7.2.
    pub(crate) fn listen_segment(
        &mut self,
        now: Instant,
        li: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.2
        //# An incoming RST segment could not be valid since it could not have
        //# been sent in response to anything sent by this incarnation of the
        //# connection. An incoming RST should be ignored.
        if repr.control == Control::Rst {
            if self.pass_on(repr) {
                return Ok(());
            }
            return Err(DropReason::TcpRstInvalid);
        }
        if let Some(ack) = repr.ack {
            if repr.control != Control::Syn && self.cookies_active(now, li) {
                match self.cookie_ack(now, li, (local, remote), repr, out) {
                    Ok(()) => return Ok(()),
                    Err(DropReason::TcpBadCookie) => {}
                    Err(e) => return Err(e),
                }
            }
            if self.pass_on(repr) {
                // A sibling may hold the connection (`shard.rs`).
                return Ok(());
            }
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.2
            //# Any acknowledgment is bad if it arrives on a connection still in
            //# the LISTEN state. An acceptable reset segment should be formed
            //# for any arriving ACK-bearing segment.
            send_reset(out, &mut self.counters, local, remote, ack, None);
            return Err(DropReason::TcpStateClosed);
        }
        if repr.control != Control::Syn {
            return Err(DropReason::TcpStateClosed);
        }
        let l = ListenerId(local.port());
        let lis = &self.listeners[li];
        if lis.accept.len() >= self.cfg.accept_queue {
            // As Linux: no point starting a handshake we could not hand over.
            self.counters.listen_overflows += 1;
            self.counters.listen_drops += 1;
            return Err(DropReason::TcpAcceptQueueFull);
        }
        if self.table_full() {
            // No cookie: completing one needs a slot too, and a client
            // whose cookie ACK we drop is reset on its next segment (only
            // one at ISN+1 can be checked). Its SYN retransmits instead.
            self.counters.listen_drops += 1;
            return Err(DropReason::TcpConnTableFull);
        }
        if lis.syn_count >= self.cfg.syn_queue {
            let reason = DropReason::TcpSynQueueFull;
            self.listeners[li].last_overflow = Some(now);
            if self.cfg.syn_cookies {
                self.send_cookie_syn_ack(now, local, remote, repr, out);
                return Ok(());
            }
            self.counters.listen_drops += 1;
            return Err(reason);
        }
        let (iss, tso) = syncookies::isn_and_ts_offset(&self.isn_key, now, local, remote);
        // No rings yet: a half-open connection (a SYN flood's) costs a TCB,
        // not 2 x the buffer size; they come from the pool when the
        // handshake completes (`syn_received_ack`).
        let bufs = (RingBuffer::empty(), RingBuffer::empty());
        let mut t = Tcb::new(&self.cfg, now, local, remote, iss, Owner::Listener(l), bufs);
        t.cc_algo = self.listeners[li].congestion;
        t.ts_offset = tso;
        t.state = State::SynReceived;
        t.irs = repr.seq;
        t.rcv_nxt = repr.seq + 1u32;
        t.rcv_adv = t.rcv_nxt;
        t.negotiate(&self.cfg, repr);
        t.snd_wnd = u32::from(repr.window_len);
        t.max_snd_wnd = t.snd_wnd;
        t.snd_wl1 = repr.seq;
        let Some(idx) = self.insert(t) else {
            return Err(DropReason::TcpConnTableFull);
        };
        self.listeners[li].syn_count += 1;
        self.counters.passive_opens += 1;
        self.output(now, idx, out);
        Ok(())
    }

    fn cookies_active(&self, now: Instant, li: usize) -> bool {
        self.cfg.syn_cookies
            && self.listeners[li]
                .last_overflow
                .is_some_and(|t| now.saturating_since(t).as_secs() < 128)
    }

    fn send_cookie_syn_ack(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) {
        let peer_mss = match repr.mss {
            None | Some(0) => 536,
            Some(m) => m,
        };
        let (cookie, mss) =
            syncookies::encode(&self.cookie_key, now, local, remote, repr.seq, peer_mss);
        let mut r = super::output::bare_repr(local, remote);
        r.seq = cookie;
        r.ack = Some(repr.seq + 1u32);
        r.control = Control::Syn;
        r.window_len = (self.cfg.recv_buffer as u32).min(0xffff) as u16;
        r.mss = Some(mss.min(self.cfg.mss));
        //= https://www.rfc-editor.org/rfc/rfc4987#section-3.6
        //# the SYN cookie technique
        //= https://www.rfc-editor.org/rfc/rfc4987#section-3.6
        //# can encode some TCP options
        // Without timestamps there is nowhere to keep wscale and SACK, so
        // they are not offered (as Linux).
        if let (true, Some((tsval, _))) = (self.cfg.timestamps, repr.timestamp) {
            let opts = syncookies::CookieOptions {
                wscale: (self.cfg.window_scaling && repr.window_scale.is_some())
                    .then(|| repr.window_scale.unwrap_or(0).min(14)),
                sack: self.cfg.sack && repr.sack_permitted,
            };
            let clock = (now.as_millis() as u32).wrapping_add(syncookies::ts_offset(
                &self.isn_key,
                local,
                remote,
            ));
            r.timestamp = Some((syncookies::encode_ts(clock, opts), tsval));
            r.window_scale = opts.wscale.map(|_| self.cfg.rcv_wscale());
            r.sack_permitted = opts.sack;
        }
        let len = r.buffer_len();
        let (s, d) = (*local.ip(), *remote.ip());
        if out
            .send_segment(local, remote, len, |b| {
                r.emit(&mut crate::wire::tcp::TcpPacket::new_unchecked(b), s, d)
            })
            .is_ok()
        {
            self.counters.out_segs += 1;
            self.counters.syncookies_sent += 1;
        }
    }

    /// An ACK to a listener that may complete a cookie handshake.
    fn cookie_ack(
        &mut self,
        now: Instant,
        li: usize,
        (local, remote): (SocketAddrV4, SocketAddrV4),
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let Some(ack) = repr.ack else {
            return Err(DropReason::TcpBadCookie);
        };
        let peer_isn = repr.seq - 1;
        let cookie = ack - 1;
        let Some(mss) = syncookies::decode(&self.cookie_key, now, local, remote, peer_isn, cookie)
        else {
            self.counters.syncookies_failed += 1;
            return Err(DropReason::TcpBadCookie);
        };
        if self.listeners[li].accept.len() >= self.cfg.accept_queue {
            self.counters.listen_drops += 1;
            return Err(DropReason::TcpAcceptQueueFull);
        }
        if self.table_full() {
            return Err(DropReason::TcpConnTableFull);
        }
        let l = ListenerId(local.port());
        let bufs = self.take_buffers();
        // Later TSvals must not run behind the one the cookie carried.
        let tso = syncookies::ts_offset(&self.isn_key, local, remote).wrapping_add(32);
        let owner = Owner::Listener(l);
        let mut t = Tcb::new(&self.cfg, now, local, remote, cookie, owner, bufs);
        t.cc_algo = self.listeners[li].congestion;
        t.ts_offset = tso;
        t.state = State::Established;
        t.passive = true;
        t.irs = peer_isn;
        t.rcv_nxt = repr.seq;
        t.rcv_adv = t.rcv_nxt;
        t.snd_una = ack;
        t.snd_nxt = ack;
        t.syn_pending = false;
        t.mss = mss.min(self.cfg.mss);
        if let (true, Some((tsval, tsecr))) = (self.cfg.timestamps, repr.timestamp) {
            let o = syncookies::decode_ts(tsecr);
            t.ts_ok = true;
            t.ts_recent = tsval;
            t.sack_ok = o.sack;
            if let Some(ws) = o.wscale {
                t.snd_wscale = ws;
                t.rcv_wscale = self.cfg.rcv_wscale();
                t.wscale_negotiated = true;
            }
        }
        t.init_cc();
        t.snd_wnd = u32::from(repr.window_len) << t.snd_wscale;
        t.max_snd_wnd = t.snd_wnd;
        t.snd_wl1 = repr.seq;
        t.snd_wl2 = ack;
        t.rcv_wnd = (self.cfg.recv_buffer as u32).min(0xffff);
        let idx = self.insert(t).ok_or(DropReason::TcpConnTableFull)?;
        let id = self.id_of(idx);
        self.listeners[li].accept.push_back(id);
        self.counters.syncookies_validated += 1;
        self.counters.passive_opens += 1;
        // The ACK may carry data or FIN: process it as in ESTABLISHED.
        if !repr.payload.is_empty() || repr.control == Control::Fin {
            let r = self.synchronized_segment(now, idx, repr, out);
            self.output(now, idx, out);
            return r;
        }
        Ok(())
    }
}
