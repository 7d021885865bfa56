//! One HTTP/1.1 connection as a pure state machine: bytes and `now` in,
//! bytes out. `HttpService` glues it to a TCP connection.
//!
//! Requests are taken one at a time from a bounded input buffer; the next
//! pipelined request is parsed only when the previous response is (nearly)
//! written, so output stays bounded too and responses go out in order
//! (RFC 9112 9.3.2). Bodies of GET responses are never copied: the output
//! queue (`output.rs`) holds the stored `Arc<Object>` and a range. What
//! each method does and how answers are written: `conn/dispatch.rs`.

use super::arrivals::Arrivals;
use super::chunked::{ChunkError, Decoder};
use super::config::{ErrorKind, HttpConfig, Method, TimeoutKind};
pub use super::ctx::Ctx;
use super::head::{self, Expect, Framing, Head, Parsed};
use super::output::Output;
use crate::time::Instant;

mod dispatch;

/// Reserve at most this much for a body up front; it grows as bytes come.
const BODY_PREALLOC: usize = 1024 * 1024;
/// What the `Allow` header says for stored objects (POST goes to collections).
const ALLOW_OBJECT: &str = "GET, HEAD, PUT, DELETE, OPTIONS";

/// A status decided from the head, with its counter and `Allow`.
type Refusal = (u16, ErrorKind, Option<&'static str>);

impl Ctx<'_> {
    fn unix_secs(&self, now: Instant) -> u64 {
        (self.cfg.unix_time_at_zero + now.saturating_since(Instant::ZERO)).as_secs()
    }
}

#[derive(Debug)]
enum Phase {
    /// Between requests, or reading a request head.
    Head,
    /// Reading the body of `head`.
    Body {
        head: Head,
        body: Vec<u8>,
        chunked: Option<Decoder>,
        left: u64,
        /// Answer this instead of serving, once the body is read.
        refusal: Option<Refusal>,
    },
    /// No more requests: input is thrown away, output drains, then close.
    Closing,
}

#[derive(Debug)]
pub struct Connection {
    phase: Phase,
    inbuf: Vec<u8>,
    in_cap: usize,
    /// When the bytes of `inbuf` arrived.
    arrivals: Arrivals,
    /// The buffer the next request's path is made in (taken back from the
    /// previous request's `Head`).
    spare_path: String,
    output: Output,
    /// First byte of the request being read (for the header timeout).
    req_start: Option<Instant>,
    /// When the head of the request being answered was complete (for its
    /// service time).
    head_at: Option<Instant>,
    last_activity: Instant,
    peer_eof: bool,
    /// Close with RST rather than FIN (the client stopped reading).
    abort: bool,
    /// The request being answered is HEAD: no content, whatever the status.
    is_head: bool,
    /// The daemon is stopping: finish what was asked, then close.
    stopping: bool,
}

impl Connection {
    pub fn new(now: Instant, cfg: &HttpConfig) -> Self {
        let in_cap = (cfg.max_header_bytes + 1)
            .max(cfg.max_request_line + 1)
            .max(16 * 1024);
        Connection {
            phase: Phase::Head,
            inbuf: Vec::new(),
            in_cap,
            arrivals: Arrivals::new(),
            spare_path: String::new(),
            output: Output::new(),
            req_start: None,
            head_at: None,
            last_activity: now,
            peer_eof: false,
            abort: false,
            is_head: false,
            stopping: false,
        }
    }

    /// Graceful stop: the response being written goes out whole (and the
    /// request being read, if any, is answered) with `Connection: close`;
    /// no further request is taken. An idle connection is finished at once.
    pub fn stop(&mut self) {
        self.stopping = true;
        match &mut self.phase {
            Phase::Head if self.inbuf.is_empty() => self.phase = Phase::Closing,
            Phase::Body { head, .. } => head.keep_alive = false,
            Phase::Head | Phase::Closing => {}
        }
    }

    /// How many bytes `on_input` takes now (0: wait for output to drain).
    pub fn input_room(&self) -> usize {
        match self.phase {
            Phase::Closing => self.in_cap,
            _ => self.in_cap - self.inbuf.len(),
        }
    }

    pub fn peer_eof(&self) -> bool {
        self.peer_eof
    }

    pub fn output_empty(&self) -> bool {
        self.output.is_empty()
    }

    /// Closing and everything written: the glue may send FIN (or RST).
    pub fn finished(&self) -> bool {
        matches!(self.phase, Phase::Closing) && self.output.is_empty()
    }

    pub fn should_abort(&self) -> bool {
        self.abort
    }

    /// Bytes arrived from the peer. The caller gives at most `input_room()`.
    pub fn on_input(&mut self, now: Instant, data: &[u8], ctx: &mut Ctx<'_>) {
        ctx.counters.bytes_in += data.len() as u64;
        self.last_activity = now;
        if matches!(self.phase, Phase::Closing) {
            return;
        }
        if self.req_start.is_none() && !data.is_empty() {
            self.req_start = Some(now);
        }
        let n = data.len().min(self.in_cap - self.inbuf.len());
        self.inbuf.extend_from_slice(&data[..n]);
        self.arrivals.arrived(self.inbuf.len(), now);
        self.advance(now, ctx);
    }

    /// The peer sent FIN: finish the requests already received, then close.
    pub fn on_eof(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        self.peer_eof = true;
        self.advance(now, ctx);
    }

    /// The TCP connection was reset or vanished.
    pub fn on_reset(&mut self, ctx: &mut Ctx<'_>) {
        if self.in_request() {
            ctx.counters.error(ErrorKind::Incomplete);
        }
        self.phase = Phase::Closing;
        self.output.clear();
    }

    fn in_request(&self) -> bool {
        match self.phase {
            Phase::Head => !self.inbuf.is_empty(),
            Phase::Body { .. } => true,
            Phase::Closing => false,
        }
    }

    /// Serve what the buffered input allows.
    pub fn advance(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        loop {
            match self.phase {
                Phase::Closing => {
                    self.inbuf.clear();
                    self.arrivals.clear();
                    return;
                }
                Phase::Head => {
                    if self.output.blocked() {
                        return;
                    }
                    if self.inbuf.is_empty() {
                        if self.peer_eof || self.stopping {
                            self.phase = Phase::Closing;
                        }
                        return;
                    }
                    match head::parse(&self.inbuf, ctx.cfg, &mut self.spare_path) {
                        Parsed::Partial => {
                            if self.peer_eof {
                                ctx.counters.error(ErrorKind::Incomplete);
                                self.phase = Phase::Closing;
                            }
                            return;
                        }
                        Parsed::Reject(status, kind) => {
                            //= https://www.rfc-editor.org/rfc/rfc9112#section-2.2
                            //# When a server listening only for HTTP request messages
                            //= https://www.rfc-editor.org/rfc/rfc9112#section-2.2
                            //# receives a sequence of octets that does not match the HTTP-message
                            //# grammar aside from the robustness exceptions listed above, the
                            //# server SHOULD respond with a 400 (Bad Request) response and close
                            //# the connection.
                            ctx.counters.error(kind);
                            self.respond_error(now, ctx, status, false, false, None);
                            self.finish_request(now, false);
                        }
                        Parsed::Complete(head, n) => {
                            // Timed from the arrival of the head's last byte.
                            self.head_at = Some(self.arrivals.of_byte(n - 1, now));
                            self.inbuf.drain(..n);
                            self.arrivals.consumed(n);
                            self.start_request(now, ctx, head);
                        }
                    }
                }
                Phase::Body { .. } => {
                    if !self.read_body(now, ctx) {
                        return;
                    }
                }
            }
        }
    }

    fn start_request(&mut self, now: Instant, ctx: &mut Ctx<'_>, mut head: Head) {
        ctx.counters.requests[head.method as usize] += 1;
        head.keep_alive &= !self.stopping;
        self.is_head = head.method == Method::Head;
        let (has_body, len) = match head.framing {
            Framing::None => (false, 0),
            Framing::Length(n) => (n > 0, n),
            Framing::Chunked => (true, 0),
        };
        let http10 = head.minor == 0;
        let refuse =
            |status: u16, kind: ErrorKind, allow: Option<&'static str>| Some((status, kind, allow));
        let verdict = if head.method == Method::Other {
            //= https://www.rfc-editor.org/rfc/rfc9110#section-9.1
            //# An origin server that receives a request method that is
            //# unrecognized or not implemented SHOULD respond with the 501 (Not
            //# Implemented) status code.
            refuse(501, ErrorKind::NotImplemented, None)
        } else if matches!(head.method, Method::Put | Method::Post) && head.framing == Framing::None
        {
            //= https://www.rfc-editor.org/rfc/rfc9110#section-15.5.12
            //# The 411 (Length Required) status code indicates that the server
            //# refuses to accept the request without a defined Content-Length
            refuse(411, ErrorKind::LengthRequired, None)
        } else if len > ctx.cfg.max_body as u64 {
            refuse(413, ErrorKind::BodyTooLarge, None)
        } else if head.expect == Expect::Other {
            //= https://www.rfc-editor.org/rfc/rfc9110#section-10.1.1
            //# A server that receives an Expect field value containing a member
            //# other than 100-continue MAY respond with a 417 (Expectation
            //# Failed) status code to indicate that the unexpected expectation
            //# cannot be met.
            refuse(417, ErrorKind::ExpectationFailed, None)
        } else if head.method == Method::Post && ctx.store.contains(&head.path) {
            // POST adds to a collection; a stored object is not one.
            refuse(405, ErrorKind::MethodNotAllowed, Some(ALLOW_OBJECT))
        } else if matches!(head.method, Method::Put | Method::Post)
            && len > 0
            && !ctx.store.would_fit(&head.path, len)
        {
            refuse(507, ErrorKind::StoreFull, None)
        } else {
            None
        };
        // Refuse before the body when the client waits for our word (100-continue),
        // when there is no body, or when the body is too large to read; else
        // read the body first so the connection stays usable.
        let early = !has_body
            || head.expect == Expect::Continue
            || verdict.is_some_and(|(s, _, _)| s == 413 || s == 417);
        if let (Some((status, kind, allow)), true) = (verdict, early) {
            ctx.counters.error(kind);
            // An unread body: after the answer the connection closes (and
            // lingers so the answer is not lost to a RST).
            let keep = head.keep_alive && !has_body;
            self.respond_error(now, ctx, status, keep, http10, allow);
            self.finish_request(now, keep);
            return;
        }
        if has_body && head.expect == Expect::Continue {
            //= https://www.rfc-editor.org/rfc/rfc9110#section-10.1.1
            //# A server that receives a 100-continue expectation in an HTTP/1.1
            //# (or later) request
            //= https://www.rfc-editor.org/rfc/rfc9110#section-10.1.1
            //# either send an immediate response with a
            //# final status code, if that status can be determined by examining
            //# just the method, target URI, and header fields, or send an
            //# immediate 100 (Continue) response to encourage the client to send
            //# the request content.
            self.push_bytes(b"HTTP/1.1 100 Continue\r\n\r\n");
            ctx.counters.continues += 1;
        }
        let chunked = (head.framing == Framing::Chunked).then(Decoder::default);
        let prealloc = usize::try_from(len).unwrap_or(0).min(BODY_PREALLOC);
        self.phase = Phase::Body {
            head,
            body: Vec::with_capacity(prealloc),
            chunked,
            left: len,
            refusal: verdict,
        };
    }

    /// Move body bytes from the input; true when the request was served.
    fn read_body(&mut self, now: Instant, ctx: &mut Ctx<'_>) -> bool {
        let Phase::Body {
            body,
            chunked,
            left,
            head,
            ..
        } = &mut self.phase
        else {
            return false;
        };
        let done = match chunked {
            Some(dec) => match dec.decode(&self.inbuf, body, ctx.cfg.max_body) {
                Ok(n) => {
                    self.inbuf.drain(..n);
                    self.arrivals.consumed(n);
                    dec.is_done()
                }
                Err(e) => {
                    let (status, kind) = match e {
                        ChunkError::TooLarge => (413, ErrorKind::BodyTooLarge),
                        ChunkError::Malformed => (400, ErrorKind::BadRequest),
                    };
                    let http10 = head.minor == 0;
                    ctx.counters.error(kind);
                    self.respond_error(now, ctx, status, false, http10, None);
                    self.finish_request(now, false);
                    return true;
                }
            },
            None => {
                let n = self
                    .inbuf
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                body.extend_from_slice(&self.inbuf[..n]);
                self.inbuf.drain(..n);
                self.arrivals.consumed(n);
                *left -= n as u64;
                *left == 0
            }
        };
        if !done {
            if self.peer_eof {
                ctx.counters.error(ErrorKind::Incomplete);
                self.phase = Phase::Closing;
                return true;
            }
            return false;
        }
        let Phase::Body {
            head,
            body,
            refusal,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Head)
        else {
            return false;
        };
        let keep = head.keep_alive;
        match refusal {
            Some((status, kind, allow)) => {
                ctx.counters.error(kind);
                self.respond_error(now, ctx, status, keep, head.minor == 0, allow);
            }
            None => self.dispatch(now, ctx, &head, body),
        }
        self.spare_path = head.path;
        self.finish_request(now, keep);
        true
    }

    /// The response of the current request is queued.
    fn finish_request(&mut self, now: Instant, keep_alive: bool) {
        self.output.push_done(self.head_at.take().unwrap_or(now));
        self.is_head = false;
        self.req_start = (!self.inbuf.is_empty()).then_some(now);
        self.phase = if keep_alive {
            Phase::Head
        } else {
            Phase::Closing
        };
    }

    /// Write queued output through `send` (which returns how much it took).
    /// Returns the bytes written.
    pub fn write_out(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        send: impl FnMut(&[u8]) -> usize,
    ) -> usize {
        let total = self.output.write_out(now, ctx, send);
        if total > 0 {
            ctx.counters.bytes_out += total as u64;
            self.last_activity = now;
        }
        total
    }

    /// Over TLS: everything written so far has been handed to TCP.
    pub fn flushed(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        self.output.flushed(now, ctx);
    }

    /// The next instant `on_timer` has something to do.
    pub fn deadline(&self, cfg: &HttpConfig) -> Option<Instant> {
        if !self.output.is_empty() {
            return Some(self.last_activity + cfg.idle_timeout);
        }
        match self.phase {
            Phase::Closing => None,
            Phase::Head => Some(match self.req_start {
                Some(s) => s + cfg.header_timeout,
                None => self.last_activity + cfg.idle_timeout,
            }),
            Phase::Body { .. } => Some(self.last_activity + cfg.body_timeout),
        }
    }

    /// Apply timeouts.
    pub fn on_timer(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(d) = self.deadline(ctx.cfg) else {
            return;
        };
        if now < d {
            return;
        }
        if !self.output.is_empty() {
            // The client stopped reading our responses.
            ctx.counters.timeout(TimeoutKind::Idle);
            self.on_reset(ctx);
            self.abort = true;
            return;
        }
        match self.phase {
            Phase::Closing => {}
            Phase::Head if self.req_start.is_none() => {
                // Idle keep-alive connection: close quietly.
                ctx.counters.timeout(TimeoutKind::Idle);
                self.phase = Phase::Closing;
            }
            Phase::Head | Phase::Body { .. } => {
                let kind = match self.phase {
                    Phase::Head => TimeoutKind::Header,
                    _ => TimeoutKind::Body,
                };
                ctx.counters.timeout(kind);
                //= https://www.rfc-editor.org/rfc/rfc9110#section-15.5.9
                //# The 408 (Request Timeout) status code indicates that the server
                //# did not receive a complete request message within the time that
                //# it was prepared to wait.
                self.respond_error(now, ctx, 408, false, false, None);
                self.finish_request(now, false);
            }
        }
    }
}
