//! A bare reflector: swaps Ethernet and IPv4 addresses (and UDP ports) and
//! sends the frame back, with no stack in between. It measures the
//! datapath's own ceiling for the benchmarks.

use super::FrameProcessor;
use crate::datapath::TxSink;
use crate::stack::Siblings;
use crate::time::Instant;

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ReflectorStats {
    pub reflected: u64,
    pub ignored: u64,
    pub tx_failed: u64,
}

#[derive(Default)]
pub struct Reflector {
    stats: ReflectorStats,
}

const ETH_LEN: usize = 14;

impl FrameProcessor for Reflector {
    type Stats = ReflectorStats;

    fn start(&mut self, _now: Instant, _tx: &mut impl TxSink) {}

    fn process_frame(
        &mut self,
        _now: Instant,
        frame: &[u8],
        tx: &mut impl TxSink,
        _sib: &mut impl Siblings,
    ) {
        // Only IPv4/UDP with a plain 20-byte header is reflected; swapping
        // addresses keeps the IPv4 and UDP checksums valid.
        let udp = frame.len() >= ETH_LEN + 28
            && frame[12..14] == [0x08, 0x00]
            && frame[14] == 0x45
            && frame[23] == 17;
        if !udp {
            self.stats.ignored += 1;
            return;
        }
        let res = tx.transmit(frame.len(), |out| {
            out.copy_from_slice(frame);
            out[0..6].copy_from_slice(&frame[6..12]);
            out[6..12].copy_from_slice(&frame[0..6]);
            out[26..30].copy_from_slice(&frame[30..34]);
            out[30..34].copy_from_slice(&frame[26..30]);
            out[34..36].copy_from_slice(&frame[36..38]);
            out[36..38].copy_from_slice(&frame[34..36]);
        });
        match res {
            Ok(()) => self.stats.reflected += 1,
            Err(_) => self.stats.tx_failed += 1,
        }
    }

    fn poll(&mut self, _now: Instant, _tx: &mut impl TxSink) {}

    fn poll_at(&self) -> Option<Instant> {
        None
    }

    fn stats(&self) -> ReflectorStats {
        self.stats
    }
}

impl crate::control::state::StatsExport for ReflectorStats {
    fn export_metrics(
        &self,
        set: &mut crate::control::metrics::MetricSet,
        labels: &[(&str, &str)],
    ) {
        set.counter(
            "reflector_reflected_total",
            "Frames reflected.",
            labels,
            self.reflected,
        );
        set.counter(
            "reflector_ignored_total",
            "Frames not reflected.",
            labels,
            self.ignored,
        );
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "reflected": self.reflected, "ignored": self.ignored, "tx_failed": self.tx_failed })
    }
}
