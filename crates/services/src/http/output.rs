//! A connection's response queue: heads and short bodies in one reusable
//! buffer, stored bodies by reference (never copied), and the end mark of
//! each response, where its service time is recorded.
//!
//! Service time (`xskd_http_request_seconds`): from the rx-ring pickup of
//! the segment that completed the request head (the `now` of the worker
//! turn that read it, kept per arrival for pipelined heads) to the moment
//! the response's last byte is handed to TCP (the clock read then, not the
//! turn's `now`). Over TLS the end is when the last record carrying it is
//! handed to TCP, not when rustls took the plaintext.

use std::collections::VecDeque;
use std::sync::Arc;

use super::ctx::Ctx;
use super::store::Object;
use crate::time::Instant;

/// Response bytes queued past this stop the parsing of pipelined requests.
const HIGH_WATER: usize = 32 * 1024;
/// Responses whose end waits for TLS to flush, tracked one by one; more
/// than this (a long pipeline of small answers) are recorded at once.
const UNFLUSHED: usize = 8;

#[derive(Debug)]
enum Item {
    /// This many bytes of `buf`.
    Buf(usize),
    /// Bytes `start..end` of a stored body (`start` advances as it goes out).
    Body(Arc<Object>, usize, usize),
    /// End of the response to a request whose head arrived at this instant.
    Done(Instant),
}

#[derive(Debug)]
pub struct Output {
    buf: Vec<u8>,
    pos: usize,
    queue: VecDeque<Item>,
    bodies: usize,
    /// Starts of responses written out but still inside TLS.
    unflushed: [Instant; UNFLUSHED],
    n_unflushed: usize,
}

impl Output {
    pub fn new() -> Self {
        Output {
            buf: Vec::with_capacity(1024),
            pos: 0,
            queue: VecDeque::with_capacity(8),
            bodies: 0,
            unflushed: [Instant::ZERO; UNFLUSHED],
            n_unflushed: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Enough is queued: the next pipelined request waits.
    pub fn blocked(&self) -> bool {
        self.bodies > 0 || self.buf.len() - self.pos > HIGH_WATER
    }

    /// Append bytes through `write` (a head, a short body); they join the
    /// bytes queued last if nothing else came between.
    pub fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let before = self.buf.len();
        write(&mut self.buf);
        let n = self.buf.len() - before;
        match self.queue.back_mut() {
            Some(Item::Buf(m)) => *m += n,
            _ => self.queue.push_back(Item::Buf(n)),
        }
    }

    pub fn push_body(&mut self, obj: Arc<Object>, start: usize, end: usize) {
        self.queue.push_back(Item::Body(obj, start, end));
        self.bodies += 1;
    }

    /// The response queued so far answers a request whose head arrived at
    /// `start`.
    pub fn push_done(&mut self, start: Instant) {
        self.queue.push_back(Item::Done(start));
    }

    /// Forget everything queued (the connection is gone).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.bodies = 0;
        self.n_unflushed = 0;
    }

    /// Write queued output through `send` (which returns how much it took);
    /// returns the bytes written. With `ctx.tls`, responses completed here
    /// are recorded by `flushed`, once TLS has handed them to TCP.
    pub fn write_out(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        mut send: impl FnMut(&[u8]) -> usize,
    ) -> usize {
        let mut total = 0;
        while let Some(item) = self.queue.front_mut() {
            match item {
                Item::Buf(n) => {
                    let end = self.pos + *n;
                    let w = send(&self.buf[self.pos..end]).min(*n);
                    self.pos += w;
                    total += w;
                    *n -= w;
                    if *n > 0 {
                        break;
                    }
                }
                Item::Body(obj, off, end) => {
                    let w = send(&obj.body[*off..*end]).min(*end - *off);
                    *off += w;
                    total += w;
                    if *off < *end {
                        break;
                    }
                    self.bodies -= 1;
                }
                Item::Done(start) => {
                    let start = *start;
                    if ctx.tls && self.n_unflushed < UNFLUSHED {
                        self.unflushed[self.n_unflushed] = start;
                        self.n_unflushed += 1;
                    } else {
                        record(ctx, start, (ctx.clock)(now));
                    }
                }
            }
            self.queue.pop_front();
        }
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        total
    }

    /// TLS handed everything it held to TCP: the responses that ended
    /// inside it are complete now.
    pub fn flushed(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if self.n_unflushed == 0 {
            return;
        }
        let end = (ctx.clock)(now);
        for &start in &self.unflushed[..self.n_unflushed] {
            record(ctx, start, end);
        }
        self.n_unflushed = 0;
    }
}

fn record(ctx: &mut Ctx<'_>, start: Instant, end: Instant) {
    let ns = end.saturating_since(start).as_nanos();
    ctx.service_time
        .saturating_record(u64::try_from(ns).unwrap_or(u64::MAX).max(1));
}
