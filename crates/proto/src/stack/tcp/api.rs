//! What services call: listen, accept, connect, recv, send, shutdown, close,
//! abort, and the readiness a poll loop needs. No callbacks: services ask.

use std::net::SocketAddrV4;

use super::config::{ConnId, ConnInfo, ListenerId, Readiness, State, TcpApiError};
use super::congestion::{CongestionAlgorithm, CongestionControl};
use super::tcb::{Owner, Tcb};
use super::timer_table::Timer;
use super::{syncookies, SegmentSink, Tcp};
use crate::time::Instant;

impl Tcp {
    pub fn listen(&mut self, port: u16) -> Result<ListenerId, TcpApiError> {
        self.listen_with(port, self.cfg.congestion)
    }

    /// Listen with a congestion control algorithm other than the global one.
    pub fn listen_with(
        &mut self,
        port: u16,
        congestion: CongestionAlgorithm,
    ) -> Result<ListenerId, TcpApiError> {
        if port == 0 {
            return Err(TcpApiError::InvalidAddress);
        }
        if self.listener_index(port).is_some() {
            return Err(TcpApiError::AddrInUse);
        }
        if self.listeners.len() >= self.cfg.max_listeners {
            return Err(TcpApiError::TableFull);
        }
        self.listeners
            .push(Tcp::new_listener(port, self.cfg.accept_queue, congestion));
        Ok(ListenerId(port))
    }

    /// Stop listening. Queued, unaccepted connections are aborted on the next poll.
    pub fn unlisten(&mut self, l: ListenerId) -> Result<(), TcpApiError> {
        let i = self.listener_index(l.0).ok_or(TcpApiError::InvalidHandle)?;
        self.listeners.swap_remove(i);
        for idx in 0..self.slots.len() as u32 {
            let Some(s) = self.slots.get_mut(idx as usize) else {
                continue;
            };
            if let Some(t) = s.tcb.as_mut() {
                if t.owner == Owner::Listener(l) {
                    t.owner = Owner::Orphan;
                    t.rst_pending = true;
                    t.needs_output = true;
                }
            }
            self.touch(idx);
        }
        Ok(())
    }

    pub fn accept(&mut self, l: ListenerId) -> Option<ConnId> {
        let i = self.listener_index(l.0)?;
        while let Some(id) = self.listeners[i].accept.pop_front() {
            let s = self.slots.get_mut(id.index as usize)?;
            if s.generation != id.generation {
                continue; // reset and freed while queued
            }
            if let Some(t) = s.tcb.as_mut() {
                if t.owner == Owner::Listener(l) {
                    t.owner = Owner::App;
                    t.ready_port = Some(l.0);
                    return Some(id);
                }
            }
        }
        None
    }

    /// Active open to `remote` from a random ephemeral port; the SYN goes out now.
    fn connect_inner(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        out: &mut impl SegmentSink,
    ) -> Result<ConnId, TcpApiError> {
        let ip = *remote.ip();
        if remote.port() == 0
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip == self.local_ip
        {
            return Err(TcpApiError::InvalidAddress);
        }
        if self.table_full() {
            return Err(TcpApiError::TableFull);
        }
        let port = self
            .pick_ephemeral(remote)
            .ok_or(TcpApiError::NoPortsAvailable)?;
        let local = SocketAddrV4::new(self.local_ip, port);
        let (iss, tso) = syncookies::isn_and_ts_offset(&self.isn_key, now, local, remote);
        let bufs = self.take_buffers();
        let mut t = Tcb::new(&self.cfg, now, local, remote, iss, Owner::App, bufs);
        t.ts_offset = tso;
        t.state = State::SynSent;
        t.rcv_wscale = 0;
        let idx = self.insert(t).ok_or(TcpApiError::TableFull)?;
        self.counters.active_opens += 1;
        self.output(now, idx, out);
        Ok(self.id_of(idx))
    }

    fn app_tcb(&mut self, c: ConnId) -> Result<(u32, &mut Tcb), TcpApiError> {
        let idx = self.resolve(c).ok_or(TcpApiError::InvalidHandle)?;
        let t = self.tcb_mut(idx).ok_or(TcpApiError::InvalidHandle)?;
        Ok((idx, t))
    }

    /// Read in-order data. `Ok(0)` is EOF (the peer's FIN, buffer drained);
    /// `WouldBlock` means nothing yet.
    fn recv_inner(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, TcpApiError> {
        let (_, t) = self.app_tcb(c)?;
        if !t.recv_buf.is_empty() {
            let n = t.recv_buf.pop(buf);
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.2
            //# the receiver SHOULD NOT increase RCV.WND until
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.2
            //# the reduction satisfies: RCV.BUFF - RCV.USER - RCV.WND >=
            //# min( Fr * RCV.BUFF, Eff.snd.MSS )
            let mss = usize::from(t.mss);
            let cap = t.recv_buf.capacity();
            let grow = t.recv_buf.free().saturating_sub(t.rcv_wnd as usize);
            // After the peer's FIN no more data comes: no window updates.
            if grow >= mss.min(cap / 2) && !t.fin_received {
                t.ack_pending = true;
                t.needs_output = true;
            }
            return Ok(n);
        }
        if t.fin_received {
            return Ok(0);
        }
        if let Some(r) = t.close_reason {
            return Err(r.as_error());
        }
        match t.state {
            State::Closed => Err(TcpApiError::InvalidState),
            _ => Err(TcpApiError::WouldBlock),
        }
    }

    /// Queue data; returns how much fit in the send buffer.
    fn send_inner(&mut self, c: ConnId, data: &[u8]) -> Result<usize, TcpApiError> {
        let (idx, t) = self.app_tcb(c)?;
        if let Some(r) = t.close_reason {
            return Err(r.as_error());
        }
        if t.fin_queued {
            return Err(TcpApiError::InvalidState);
        }
        match t.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            _ => return Err(TcpApiError::InvalidState),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let mut n = t.send_buf.push(data);
        if n < data.len() && self.autotune_send_full(idx) {
            let (_, t) = self.app_tcb(c)?;
            n += t.send_buf.push(&data[n..]);
        }
        let (_, t) = self.app_tcb(c)?;
        if n == 0 {
            return Err(TcpApiError::WouldBlock);
        }
        t.needs_output = true;
        Ok(n)
    }

    /// Half-close: FIN after the queued data.
    fn shutdown_write_inner(&mut self, c: ConnId) -> Result<(), TcpApiError> {
        let (_, t) = self.app_tcb(c)?;
        // In SYN-SENT/SYN-RECEIVED the FIN waits for the handshake, after
        // any data already queued (unlike close(), which abandons a SYN-SENT).
        Self::queue_fin(t);
        Ok(())
    }

    fn queue_fin(t: &mut Tcb) {
        if t.fin_queued {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.4
        //# Queue this until all preceding SENDs have been segmentized, then
        //# form a FIN segment and send it. In any case, enter FIN-WAIT-1 state.
        match t.state {
            State::Established => t.state = State::FinWait1,
            State::CloseWait => {
                t.state = State::LastAck;
                t.timers[Timer::State] = None;
            }
            // SYN-RECEIVED: FIN-WAIT-1 once the handshake completes.
            State::SynReceived | State::SynSent => {}
            _ => return,
        }
        t.fin_queued = true;
        t.needs_output = true;
    }

    /// The application is done with the handle. The protocol finishes the
    /// close; unread data makes it an abort (RFC 9293 3.10.4, RFC 2525 2.17).
    fn close_inner(&mut self, c: ConnId) -> Result<(), TcpApiError> {
        let (idx, t) = self.app_tcb(c)?;
        match t.state {
            State::Closed => {}
            State::SynSent => {
                self.close_conn(idx, None);
            }
            _ if !t.recv_buf.is_empty() => {
                t.rst_pending = true;
                t.needs_output = true;
            }
            _ => Self::queue_fin(t),
        }
        self.release(idx);
        Ok(())
    }

    /// Reset the connection (RST on the next poll) and release the handle.
    fn abort_inner(&mut self, c: ConnId) -> Result<(), TcpApiError> {
        let (idx, t) = self.app_tcb(c)?;
        match t.state {
            State::Closed | State::TimeWait => {}
            State::SynSent => self.close_conn(idx, None),
            _ => {
                t.rst_pending = true;
                t.needs_output = true;
            }
        }
        self.release(idx);
        Ok(())
    }

    /// Nagle's algorithm (RFC 896) is on by default; `true` turns it off
    /// for this connection (small writes go out while data is in flight).
    pub fn set_nodelay(&mut self, c: ConnId, nodelay: bool) -> Result<(), TcpApiError> {
        let (idx, t) = self.app_tcb(c)?;
        t.nodelay = nodelay;
        if nodelay {
            t.needs_output = true;
        }
        self.touch(idx);
        Ok(())
    }

    pub fn state(&self, c: ConnId) -> Option<State> {
        self.resolve(c).and_then(|i| self.tcb(i)).map(|t| t.state)
    }

    pub fn readiness(&self, c: ConnId) -> Readiness {
        let Some(t) = self.resolve(c).and_then(|i| self.tcb(i)) else {
            return Readiness {
                closed: true,
                ..Readiness::default()
            };
        };
        let open_for_send = matches!(
            t.state,
            State::Established | State::CloseWait | State::SynReceived
        ) && !t.fin_queued;
        Readiness {
            readable: !t.recv_buf.is_empty() || t.fin_received || t.close_reason.is_some(),
            writable: open_for_send && t.send_buf.free() > 0,
            peer_closed: t.fin_received,
            closed: t.state == State::Closed,
            reset: t.close_reason.is_some(),
            established: t.state.is_synchronized(),
        }
    }

    /// Bytes the application may still queue.
    pub fn send_capacity(&self, c: ConnId) -> usize {
        let Some(i) = self.resolve(c) else { return 0 };
        let Some(t) = self.tcb(i) else { return 0 };
        // What a `send` of that much would find: the free space plus what
        // autotuning would grow the ring by to take it.
        let grown = self
            .send_growth(i)
            .map_or(0, |new| new - t.send_buf.capacity());
        t.send_buf.free() + grown
    }

    /// Every connection in the table (all states), for the control plane.
    /// `age` is measured to the last `now` the stack was given.
    pub fn connections(&self) -> impl Iterator<Item = ConnInfo> + '_ {
        let now = self.last_now;
        self.slots.iter().enumerate().filter_map(move |(i, s)| {
            let t = s.tcb.as_ref()?;
            Some(ConnInfo {
                id: ConnId {
                    index: i as u32,
                    generation: s.generation,
                },
                local: t.local,
                remote: t.remote,
                state: t.state,
                snd_una: t.snd_una.0,
                snd_nxt: t.snd_nxt.0,
                rcv_nxt: t.rcv_nxt.0,
                snd_wnd: t.snd_wnd,
                rcv_wnd: t.rcv_wnd,
                snd_wscale: t.snd_wscale,
                rcv_wscale: t.rcv_wscale,
                mss: t.mss,
                srtt: t.rtt.srtt(),
                rto: t.rtt.rto(),
                rttvar: t.rtt.rttvar(),
                cwnd: t.cc.cwnd(),
                ssthresh: t.cc.ssthresh(),
                bytes_in_flight: t.outstanding(),
                recv_queue: t.recv_buf.len() as u32,
                send_queue: t.send_buf.len() as u32,
                congestion: t.cc.name(),
                ca_state: t.ca_state(),
                bytes_in: t.bytes_in,
                bytes_out: t.bytes_out,
                segs_in: t.segs_in,
                segs_out: t.segs_out,
                retransmits: t.retransmits,
                created: t.created,
                age: now.saturating_since(t.created),
            })
        })
    }
}

/// The entry points: each runs the operation, then `touch`es the connection
/// so its output is queued and its timers are known to `poll`.
impl Tcp {
    /// Active open to `remote` from a random ephemeral port; the SYN goes out now.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        out: &mut impl SegmentSink,
    ) -> Result<ConnId, TcpApiError> {
        let r = self.connect_inner(now, remote, out);
        if let Ok(c) = r {
            self.touch(c.index);
        }
        r
    }

    /// Read in-order data. `Ok(0)` is EOF (the peer's FIN, buffer drained);
    /// `WouldBlock` means nothing yet.
    pub fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, TcpApiError> {
        let r = self.recv_inner(c, buf);
        // Reading moves no timer, it may only owe the peer a window
        // update: queue that without the timer bookkeeping of `touch`.
        if let Ok(n @ 1..) = r {
            self.autotune_after_read(c.index, n);
            self.queue_output(c.index);
        }
        r
    }

    /// Queue data; returns how much fit in the send buffer (`WouldBlock` if none).
    pub fn send(&mut self, c: ConnId, data: &[u8]) -> Result<usize, TcpApiError> {
        let r = self.send_inner(c, data);
        self.touch(c.index);
        r
    }

    /// Half-close: FIN after the queued data.
    pub fn shutdown_write(&mut self, c: ConnId) -> Result<(), TcpApiError> {
        let r = self.shutdown_write_inner(c);
        self.touch(c.index);
        r
    }

    /// The application is done with the handle. The protocol finishes the
    /// close; unread data makes it an abort (RFC 9293 3.10.4, RFC 2525 2.17).
    pub fn close(&mut self, c: ConnId) -> Result<(), TcpApiError> {
        let r = self.close_inner(c);
        self.touch(c.index);
        r
    }

    /// Reset the connection (RST on the next poll) and release the handle.
    pub fn abort(&mut self, c: ConnId) -> Result<(), TcpApiError> {
        let r = self.abort_inner(c);
        self.touch(c.index);
        r
    }
}
