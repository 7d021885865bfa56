//! TCP when several workers serve one address, each with its own `Tcp`.
//!
//! A segment reaches whichever worker the NIC's RSS (or, on veth, the
//! sender's transmit queue) picks, which need not be the worker that holds
//! its connection. Two rules make the owner findable without any shared
//! table:
//! - active opens are owned by local port: each worker picks ephemeral
//!   ports only from its own slice of `ephemeral_ports`, so a reply to one
//!   is a range check away from its owner (and no two workers can ever pick
//!   the same 4-tuple);
//! - passive opens belong to the worker the SYN arrived on. RSS keeps a
//!   4-tuple on one queue, so later segments normally come there too; when
//!   one does not (a peer that rehashes its flow after a timeout, as Linux
//!   does, moves it to another queue) and finds no connection, it is
//!   passed from worker to worker (`TcpSearch`) before anyone answers it
//!   with a RST: only the last worker to look gives the CLOSED/LISTEN
//!   answer.

use super::config::{TcpConfig, TcpConfigError};
use super::Tcp;
use crate::wire::tcp::{Control, TcpRepr};

/// Fewest ephemeral ports a worker may be left with: below this, active
/// opens to one destination run out quickly (each 4-tuple stays in
/// TIME-WAIT for 2 * MSL).
pub const MIN_PORTS_PER_WORKER: u32 = 256;

/// How the ephemeral range is split between the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PortShare {
    /// First port of the whole range.
    range_lo: u16,
    /// Ports in the whole range minus one (so 65535 fits).
    span: u16,
    /// Ports per worker; the last worker also takes the remainder.
    per: u16,
    index: u16,
    count: u16,
}

impl PortShare {
    pub(crate) fn new((lo, hi): (u16, u16), index: u16, count: u16) -> PortShare {
        let count = count.max(1);
        let span = hi.saturating_sub(lo);
        let per = ((u32::from(span) + 1) / u32::from(count)).clamp(1, u32::from(u16::MAX)) as u16;
        PortShare {
            range_lo: lo,
            span,
            per,
            index: index.min(count - 1),
            count,
        }
    }

    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    pub(crate) fn index(&self) -> u16 {
        self.index
    }

    /// The worker whose slice `port` is in, if it is an ephemeral port.
    #[inline]
    pub(crate) fn owner(&self, port: u16) -> Option<u16> {
        let off = port.wrapping_sub(self.range_lo);
        (off <= self.span).then(|| (off / self.per).min(self.count - 1))
    }

    /// This worker's slice, inclusive; `None` when the range is too small
    /// to give it any port.
    pub(crate) fn own(&self) -> Option<(u16, u16)> {
        let lo = u32::from(self.range_lo) + u32::from(self.index) * u32::from(self.per);
        let hi = if self.index + 1 == self.count {
            u32::from(self.range_lo) + u32::from(self.span)
        } else {
            lo + u32::from(self.per) - 1
        };
        (lo <= hi && hi <= u32::from(self.range_lo) + u32::from(self.span))
            .then_some((lo as u16, hi as u16))
    }
}

impl TcpConfig {
    /// Ephemeral ports each of `workers` workers gets.
    pub fn ports_per_worker(&self, workers: usize) -> u32 {
        let (lo, hi) = self.ephemeral_ports;
        (u32::from(hi.saturating_sub(lo)) + 1) / workers.max(1) as u32
    }

    /// Check that `workers` workers can share the ephemeral range.
    pub fn validate_for_workers(&self, workers: usize) -> Result<(), TcpConfigError> {
        self.validate()?;
        if self.ports_per_worker(workers) < MIN_PORTS_PER_WORKER {
            return Err(TcpConfigError {
                key: "ephemeral_ports",
                problem: "leaves fewer than 256 ports per worker (each worker picks its active-open ports from its own slice): widen the range or serve fewer queues",
            });
        }
        Ok(())
    }
}

/// What became of a segment handed to [`Tcp::on_segment_searching`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentFate {
    /// Processed here (delivered, answered, or dropped with a reason).
    Handled,
    /// No connection here, and a sibling may hold one: pass it to the next
    /// worker instead of answering.
    PassOn,
}

impl Tcp {
    /// Serve as worker `index` of `count` for this address: active opens
    /// pick ports from this worker's slice of the ephemeral range only.
    pub fn set_shard(&mut self, index: u16, count: u16) {
        self.share = PortShare::new(self.cfg.ephemeral_ports, index, count);
    }

    /// This worker's place: (index, count).
    pub fn shard(&self) -> (u16, u16) {
        (self.share.index(), self.share.count())
    }

    /// This worker's slice of the ephemeral ports, inclusive.
    pub fn own_ephemeral_ports(&self) -> Option<(u16, u16)> {
        self.share.own()
    }

    /// The sibling that owns connections on local port `port`, when that
    /// is not this worker: the port is in a sibling's ephemeral slice and
    /// no listener here has it (a listener's port is never picked for an
    /// active open, so its connections are passive).
    #[inline]
    pub fn port_owner(&self, port: u16) -> Option<u16> {
        if self.share.count() < 2 {
            return None;
        }
        let w = self.share.owner(port)?;
        (w != self.share.index() && self.listener_index(port).is_none()).then_some(w)
    }

    /// [`Tcp::port_owner`] of a raw segment's destination port, read
    /// before any validation (the owner validates).
    #[inline]
    pub fn segment_owner(&self, segment: &[u8]) -> Option<u16> {
        match segment {
            [_, _, d0, d1, ..] => self.port_owner(u16::from_be_bytes([*d0, *d1])),
            _ => None,
        }
    }

    /// [`Tcp::on_segment`] for a segment that some worker must answer:
    /// with `may_pass_on`, a segment that finds no connection here and
    /// would be answered with a RST (or dropped, for a RST) is left alone
    /// and `PassOn` returned, so the caller hands it to the next sibling.
    /// The last worker to look calls this with `may_pass_on` false.
    pub fn on_segment_searching(
        &mut self,
        now: crate::time::Instant,
        src: std::net::Ipv4Addr,
        dst: std::net::Ipv4Addr,
        segment: &[u8],
        out: &mut impl super::SegmentSink,
        may_pass_on: bool,
    ) -> Result<SegmentFate, crate::drop_reason::DropReason> {
        self.may_pass_on = may_pass_on && self.share.count() > 1;
        self.passed_on = false;
        let r = self.on_segment(now, src, dst, segment, out);
        self.may_pass_on = false;
        if self.passed_on {
            self.passed_on = false;
            // Counted by the worker that answers it, not by each that looked.
            self.counters.in_segs -= 1;
            return Ok(SegmentFate::PassOn);
        }
        r.map(|()| SegmentFate::Handled)
    }

    /// At a point where a segment with no connection here would be
    /// answered: true (and remembered) when it should go to a sibling
    /// instead. Only RSTs and ACK-bearing segments are searched for: a SYN
    /// starts a connection wherever it lands.
    pub(crate) fn pass_on(&mut self, repr: &TcpRepr) -> bool {
        if self.may_pass_on && (repr.control == Control::Rst || repr.ack.is_some()) {
            self.passed_on = true;
        }
        self.passed_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_range_without_overlap() {
        for (range, count) in [
            ((49152u16, 65535u16), 2u16),
            ((1024, 65535), 3),
            ((40000, 40999), 4),
        ] {
            let mut next = range.0;
            for i in 0..count {
                let s = PortShare::new(range, i, count);
                let (lo, hi) = s.own().unwrap();
                assert_eq!(
                    lo,
                    next,
                    "{range:?}/{count}: slice {i} starts where {} ended",
                    i.wrapping_sub(1)
                );
                for p in [lo, hi, lo + (hi - lo) / 2] {
                    assert_eq!(s.owner(p), Some(i), "port {p}");
                }
                next = hi.wrapping_add(1);
            }
            assert_eq!(
                next,
                range.1.wrapping_add(1),
                "{range:?}/{count}: the last slice ends the range"
            );
            let s = PortShare::new(range, 0, count);
            assert_eq!(s.owner(range.0 - 1), None);
            assert_eq!(s.owner(range.1.wrapping_add(1)), None);
        }
    }

    #[test]
    fn too_small_a_range_per_worker_is_refused_naming_the_key() {
        let c = TcpConfig {
            ephemeral_ports: (50000, 50511),
            ..TcpConfig::default()
        };
        assert_eq!(c.validate_for_workers(2), Ok(()));
        let e = c.validate_for_workers(3).unwrap_err();
        assert_eq!(e.key, "ephemeral_ports");
        assert_eq!(TcpConfig::default().validate_for_workers(64), Ok(()));
    }
}
