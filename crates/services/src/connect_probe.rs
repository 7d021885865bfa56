//! An operator's TCP probe from the daemon itself: connect out, send a
//! message, half-close, read the answer to EOF, close. It proves the active
//! side of the stack (active open, our FIN first, TIME-WAIT on our side)
//! against a real server, and answers "can xskd reach X?" in production.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::stack::tcp::{ConnId, Tcp};
use crate::time::Instant;

/// Most bytes of the answer kept for the report.
pub const MAX_ANSWER: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub target: SocketAddrV4,
    pub local_port: u16,
    /// SYN sent to ESTABLISHED.
    pub connect_time: Duration,
    pub bytes_sent: usize,
    /// The answer (first `MAX_ANSWER` bytes).
    pub answer: Vec<u8>,
    /// Total answer bytes, kept or not.
    pub answer_len: usize,
    /// Connection state when the probe let go of it (TIME-WAIT when we
    /// closed first and the peer acknowledged).
    pub final_state: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("connect failed: {0}")]
    Connect(String),
    #[error("connection reset by {0}")]
    Reset(SocketAddrV4),
    #[error("no answer from {0} within the timeout")]
    Timeout(SocketAddrV4),
}

pub struct ConnectProbe {
    conn: ConnId,
    target: SocketAddrV4,
    payload: Vec<u8>,
    sent: usize,
    fin_sent: bool,
    started: Instant,
    connected: Option<Duration>,
    deadline: Instant,
    answer: Vec<u8>,
    answer_len: usize,
}

impl ConnectProbe {
    /// `conn` is the connection `Stack::tcp_connect` opened.
    pub fn new(
        conn: ConnId,
        target: SocketAddrV4,
        payload: Vec<u8>,
        now: Instant,
        timeout: Duration,
    ) -> Self {
        ConnectProbe {
            conn,
            target,
            payload,
            sent: 0,
            fin_sent: false,
            started: now,
            connected: None,
            deadline: now + timeout,
            answer: Vec::new(),
            answer_len: 0,
        }
    }

    pub fn conn(&self) -> ConnId {
        self.conn
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Advance; `Some` when the probe is over.
    pub fn poll(
        &mut self,
        now: Instant,
        tcp: &mut Tcp,
    ) -> Option<Result<ProbeOutcome, ProbeError>> {
        let r = tcp.readiness(self.conn);
        if r.closed && r.reset {
            let _ = tcp.close(self.conn);
            return Some(Err(if self.connected.is_some() {
                ProbeError::Reset(self.target)
            } else {
                ProbeError::Connect("refused (RST)".into())
            }));
        }
        if now >= self.deadline {
            let _ = tcp.abort(self.conn);
            return Some(Err(if self.connected.is_some() {
                ProbeError::Timeout(self.target)
            } else {
                ProbeError::Connect("timed out".into())
            }));
        }
        if !r.established && self.connected.is_none() {
            return None;
        }
        if self.connected.is_none() {
            self.connected = Some(now.saturating_since(self.started));
        }
        while self.sent < self.payload.len() {
            match tcp.send(self.conn, &self.payload[self.sent..]) {
                Ok(n) if n > 0 => self.sent += n,
                _ => break,
            }
        }
        if self.sent == self.payload.len() && !self.fin_sent {
            // Our FIN first: we are the active closer (RFC 9293 3.6).
            self.fin_sent = tcp.shutdown_write(self.conn).is_ok();
        }
        let mut buf = [0u8; 4096];
        loop {
            match tcp.recv(self.conn, &mut buf) {
                Ok(0) => {
                    let local_port = tcp
                        .connections()
                        .find(|c| c.id == self.conn)
                        .map_or(0, |c| c.local.port());
                    let final_state = tcp.state(self.conn).map_or("CLOSED", |s| s.as_str());
                    let _ = tcp.close(self.conn);
                    return Some(Ok(ProbeOutcome {
                        target: self.target,
                        local_port,
                        connect_time: self.connected.unwrap_or_default(),
                        bytes_sent: self.sent,
                        answer: std::mem::take(&mut self.answer),
                        answer_len: self.answer_len,
                        final_state,
                    }));
                }
                Ok(n) => {
                    self.answer_len += n;
                    let keep = n.min(MAX_ANSWER - self.answer.len());
                    self.answer.extend_from_slice(&buf[..keep]);
                }
                Err(_) => return None,
            }
        }
    }
}
