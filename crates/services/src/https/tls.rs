//! One HTTPS connection as a pure state machine: ciphertext and `now` in,
//! ciphertext out. A rustls `ServerConnection` sits between the TCP bytes
//! and the HTTP/1.1 `Connection`; nothing here does I/O, so the same code
//! runs over `Tcp` in a worker and over plain buffers in the tests.

use std::io::{self, BufRead, Write};
use std::time::Duration;

use hdrhistogram::Histogram;
use rustls::{HandshakeKind, ProtocolVersion, ServerConnection};

use super::config::{FailReason, HttpsConfig, TlsCounters};
use crate::http::{Connection, Ctx, HttpConfig};
use crate::time::Instant;

/// Ciphertext taken from TCP per call. With at most this much fed while
/// no plaintext is pending, rustls's received-plaintext limit (16 KiB)
/// is never exceeded, so `read_tls` never refuses bytes we already took.
pub const CIPHER_CHUNK: usize = 16 * 1024;
/// Plaintext and records rustls may hold for sending: the per-connection
/// output bound on top of the TCP send buffer.
const TLS_OUT_LIMIT: usize = 32 * 1024;
/// Largest TLS record payload (RFC 8446 section 5.1: 2^14 bytes), and the
/// size of the buffer small HTTP output is gathered in (`write_plaintext`).
pub const GATHER: usize = 16 * 1024;

/// Where what the service does with one connection is counted, and the
/// service's scratch it borrows.
pub struct TlsCtx<'a> {
    pub counters: &'a mut TlsCounters,
    /// Accept to handshake complete, in ns.
    pub handshake_time: &'a mut Histogram<u64>,
    /// [`GATHER`] bytes, shared by the service's connections: HTTP output
    /// pieces (a head, a short body) are copied together here and go to
    /// rustls as one write, so one record.
    pub gather: &'a mut [u8],
}

pub struct TlsHttp {
    tls: ServerConnection,
    http: Connection,
    accepted: Instant,
    handshake_timeout: Duration,
    established: bool,
    /// A fatal TLS error; any alert rustls queued still goes out.
    failed: Option<FailReason>,
    /// Decrypted bytes `http` has not taken yet.
    plain_pending: usize,
    /// The peer's close_notify, or TCP EOF.
    peer_closed: bool,
    eof_delivered: bool,
    close_notify_sent: bool,
}

impl TlsHttp {
    pub fn new(
        now: Instant,
        cfg: &HttpsConfig,
        http_cfg: &HttpConfig,
    ) -> Result<Self, rustls::Error> {
        let mut tls = ServerConnection::new(cfg.tls.clone())?;
        tls.set_buffer_limit(Some(TLS_OUT_LIMIT));
        Ok(TlsHttp {
            tls,
            http: Connection::new(now, http_cfg),
            accepted: now,
            handshake_timeout: cfg.handshake_timeout,
            established: false,
            failed: None,
            plain_pending: 0,
            peer_closed: false,
            eof_delivered: false,
            close_notify_sent: false,
        })
    }

    pub fn is_handshaking(&self) -> bool {
        !self.established
    }

    pub fn failed(&self) -> Option<FailReason> {
        self.failed
    }

    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.tls.protocol_version()
    }

    pub fn alpn(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }

    pub fn resumed(&self) -> bool {
        self.tls.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// How much ciphertext may be taken from TCP now: none while decrypted
    /// bytes wait for `http` (backpressure), after an error, or after EOF.
    pub fn input_room(&self) -> usize {
        if self.failed.is_some() || self.peer_closed || self.plain_pending > 0 {
            0
        } else {
            CIPHER_CHUNK
        }
    }

    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Feed received TCP bytes; at most `input_room()` of them.
    pub fn on_ciphertext(
        &mut self,
        now: Instant,
        mut data: &[u8],
        ctx: &mut Ctx<'_>,
        t: &mut TlsCtx<'_>,
    ) {
        while !data.is_empty() && self.failed.is_none() {
            // An empty reader would read as EOF, hence the loop condition.
            match self.tls.read_tls(&mut data) {
                Ok(_) => self.process(now, ctx, t),
                // "Buffer full": `input_room` keeps the plaintext side
                // from filling, so only a handshake message spread over
                // more than rustls's 64 KiB handshake buffer gets here.
                Err(_) => self.fail(FailReason::Other, ctx, t),
            }
        }
    }

    /// TCP said EOF (the peer's FIN).
    pub fn on_tcp_eof(&mut self, now: Instant, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) {
        if self.failed.is_some() {
            return;
        }
        self.peer_closed = true;
        if !self.established {
            self.fail(FailReason::Eof, ctx, t);
            return;
        }
        // Without close_notify a truncation is possible (RFC 8446 6.1); HTTP's
        // own framing (Content-Length, chunked) tells a cut request apart.
        self.deliver(now, ctx, t);
    }

    /// TCP reset or gave up.
    pub fn on_reset(&mut self, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) {
        if self.failed.is_none() {
            self.fail(FailReason::Reset, ctx, t);
        }
    }

    fn process(&mut self, now: Instant, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) {
        match self.tls.process_new_packets() {
            Ok(io) => {
                self.plain_pending = io.plaintext_bytes_to_read();
                if io.peer_has_closed() {
                    self.peer_closed = true;
                }
            }
            Err(e) => {
                self.fail(FailReason::of(&e), ctx, t);
                return;
            }
        }
        if !self.established && !self.tls.is_handshaking() {
            self.established = true;
            let c = &mut *t.counters;
            if self.resumed() {
                c.handshakes_resumed += 1;
            } else {
                c.handshakes_full += 1;
            }
            match self.tls.protocol_version() {
                Some(ProtocolVersion::TLSv1_2) => c.tls12 += 1,
                _ => c.tls13 += 1,
            }
            let ns = now.saturating_since(self.accepted).as_nanos() as u64;
            let _ = t.handshake_time.record(ns.max(1));
            // HTTP's header timeout starts now, not at accept.
            self.http = Connection::new(now, ctx.cfg);
        }
        self.deliver(now, ctx, t);
    }

    /// Hand decrypted bytes to `http` as far as it has room, then EOF.
    fn deliver(&mut self, now: Instant, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) {
        if !self.established {
            return;
        }
        while self.plain_pending > 0 {
            let room = self.http.input_room();
            if room == 0 {
                return;
            }
            let mut reader = self.tls.reader();
            let n = match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => {
                    let n = chunk.len().min(room);
                    self.http.on_input(now, &chunk[..n], ctx);
                    n
                }
                _ => {
                    self.plain_pending = 0;
                    break;
                }
            };
            reader.consume(n);
            self.plain_pending -= n.min(self.plain_pending);
            t.counters.bytes_decrypted += n as u64;
        }
        if self.peer_closed && !self.eof_delivered {
            self.eof_delivered = true;
            self.http.on_eof(now, ctx);
        }
    }

    fn fail(&mut self, r: FailReason, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) {
        if self.failed.is_some() {
            return;
        }
        self.failed = Some(r);
        t.counters.count_failure(r, !self.established);
        if self.established {
            self.http.on_reset(ctx);
        }
    }

    /// Move output towards TCP: queued records first, then as much HTTP
    /// output as rustls may hold, encrypted. `send` returns how many bytes
    /// TCP took. Returns the plaintext bytes taken from `http`.
    pub fn write_out(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        t: &mut TlsCtx<'_>,
        mut send: impl FnMut(&[u8]) -> usize,
    ) -> usize {
        let mut taken = 0;
        loop {
            let flushed = self.flush(&mut send);
            if self.failed.is_some() {
                if flushed > 0 && self.failed != Some(FailReason::Timeout) {
                    t.counters.alerts_sent += 1;
                }
                break;
            }
            if self.tls.wants_write() || !self.established || self.close_notify_sent {
                break;
            }
            let n = self.write_plaintext(now, ctx, t);
            if n == 0 {
                break;
            }
            taken += n;
            t.counters.bytes_encrypted += n as u64;
            self.http.advance(now, ctx);
            self.deliver(now, ctx, t);
        }
        if self.established
            && self.failed.is_none()
            && !self.close_notify_sent
            && self.http.finished()
            && !self.tls.wants_write()
        {
            //= https://www.rfc-editor.org/rfc/rfc8446#section-6.1
            //# Each party MUST send a "close_notify" alert before closing its write
            //# side of the connection, unless it has already sent some error alert.
            self.tls.send_close_notify();
            self.close_notify_sent = true;
            self.flush(&mut send);
        }
        if !self.tls.wants_write() {
            // Every record is in TCP: the responses inside them are done.
            self.http.flushed(now, ctx);
        }
        taken
    }

    /// Hand HTTP output to rustls, which must hold nothing yet. Pieces
    /// that fit the room left in `t.gather` are copied together there and
    /// written at once: rustls makes one record per write (and allocates
    /// one buffer per record), so a head and a short body become one
    /// record instead of two. A piece that does not fit waits for the next
    /// call, and one that alone is over a record's worth goes to rustls
    /// uncopied (copying 16 KiB costs more than the record it would save).
    /// Returns the plaintext bytes taken from `http`.
    fn write_plaintext(&mut self, now: Instant, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) -> usize {
        let TlsHttp { tls, http, .. } = self;
        let gather = &mut *t.gather;
        let mut filled = 0;
        let mut direct = false;
        let taken = http.write_out(now, ctx, |b| {
            if direct {
                0
            } else if let Some(dst) = gather.get_mut(filled..filled + b.len()) {
                dst.copy_from_slice(b);
                filled += b.len();
                b.len()
            } else if filled == 0 {
                direct = true;
                tls.writer().write(b).unwrap_or(0)
            } else {
                0
            }
        });
        // With nothing queued in rustls, a record's worth is under its
        // buffer limit and is taken whole; a TLS 1.3 key update due at
        // this record makes one write take nothing, and the next sends
        // the update first, then the data.
        let mut written = 0;
        for _ in 0..3 {
            if written == filled {
                break;
            }
            written += tls.writer().write(&gather[written..filled]).unwrap_or(0);
        }
        if written < filled {
            // Bytes taken from HTTP that rustls refused: the response
            // would be cut, so the connection fails instead.
            self.fail(FailReason::Other, ctx, t);
        }
        taken
    }

    /// Graceful stop of an established connection: HTTP finishes the
    /// response it is writing, and close_notify follows it (`write_out`),
    /// never cutting it short.
    pub fn stop(&mut self) {
        self.http.stop();
    }

    fn flush(&mut self, send: &mut impl FnMut(&[u8]) -> usize) -> usize {
        let mut total = 0;
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut Sink(&mut *send)) {
                Ok(n) if n > 0 => total += n,
                _ => break,
            }
        }
        total
    }

    /// Handshake timeout, then HTTP's own timers.
    pub fn on_timer(&mut self, now: Instant, ctx: &mut Ctx<'_>, t: &mut TlsCtx<'_>) {
        if self.failed.is_some() {
            return;
        }
        if !self.established {
            if now >= self.accepted + self.handshake_timeout {
                self.fail(FailReason::Timeout, ctx, t);
            }
            return;
        }
        self.http.on_timer(now, ctx);
    }

    pub fn deadline(&self, cfg: &HttpConfig) -> Option<Instant> {
        match (self.failed, self.established) {
            (Some(_), _) => None,
            (None, false) => Some(self.accepted + self.handshake_timeout),
            (None, true) => self.http.deadline(cfg),
        }
    }

    /// Nothing more to say: HTTP is done and close_notify is out, or a
    /// failure's alert is out.
    pub fn finished(&self) -> bool {
        !self.tls.wants_write()
            && (self.failed.is_some() || (self.close_notify_sent && self.http.finished()))
    }

    pub fn should_abort(&self) -> bool {
        self.established && self.failed.is_none() && self.http.should_abort()
    }
}

/// `io::Write` over the service's send closure.
struct Sink<'a, F: FnMut(&[u8]) -> usize>(&'a mut F);

impl<F: FnMut(&[u8]) -> usize> Write for Sink<'_, F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match (self.0)(buf) {
            0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
