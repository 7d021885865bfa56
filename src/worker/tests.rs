use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::reflector::Reflector;
use super::*;
use crate::datapath::memory::MemoryPort;

/// Stops the loop by itself once the injected frames are all processed.
struct StopWhenDrained<'a> {
    inner: Reflector,
    stop: &'a AtomicBool,
    expect: u64,
}

impl FrameProcessor for StopWhenDrained<'_> {
    type Stats = super::reflector::ReflectorStats;
    fn start(&mut self, now: Instant, tx: &mut impl TxSink) {
        self.inner.start(now, tx)
    }
    fn process_frame(
        &mut self,
        now: Instant,
        frame: &[u8],
        tx: &mut impl TxSink,
        sib: &mut impl Siblings,
    ) {
        self.inner.process_frame(now, frame, tx, sib);
        let s = self.inner.stats();
        if s.reflected + s.ignored >= self.expect {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
    fn poll(&mut self, now: Instant, tx: &mut impl TxSink) {
        self.inner.poll(now, tx)
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn stats(&self) -> Self::Stats {
        self.inner.stats()
    }
}

fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 42 + payload.len()];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 0, 2]);
    f[30..34].copy_from_slice(&[198, 18, 0, 1]);
    f[34..36].copy_from_slice(&1234u16.to_be_bytes());
    f[36..38].copy_from_slice(&7u16.to_be_bytes());
    f[42..].copy_from_slice(payload);
    f
}

#[test]
fn loop_reflects_every_frame_and_reports_once_at_exit() {
    let mut port = MemoryPort::new(64, 2048);
    for i in 0..10u8 {
        assert!(port.inject(&udp_frame(&[i; 5])));
    }
    assert!(port.inject(&[0u8; 20]), "a runt is ignored, not reflected");
    let stop = AtomicBool::new(false);
    let mut proc = StopWhenDrained {
        inner: Reflector::default(),
        stop: &stop,
        expect: 11,
    };
    let opts = WorkerOptions {
        queue: 3,
        batch: 4,
        poll: PollMode::Busy,
        report_every: Duration::from_secs(3600),
        drain: Duration::ZERO,
    };
    let mut reports = Vec::new();
    run(
        &mut port,
        &mut proc,
        &opts,
        &stop,
        &mut Mesh::alone(),
        |_, p, loops, last| reports.push((p.stats(), loops, last)),
    );
    let sent = port.take_sent();
    assert_eq!(sent.len(), 10);
    for (i, f) in sent.iter().enumerate() {
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 2], "dst MAC is the sender's");
        assert_eq!(&f[26..30], &[198, 18, 0, 1], "src IP swapped");
        assert_eq!(&f[34..36], &7u16.to_be_bytes(), "ports swapped");
        assert_eq!(&f[42..], &[i as u8; 5]);
    }
    assert_eq!(reports.len(), 1, "only the final report within an hour");
    let (stats, loops, last) = reports[0];
    assert!(last);
    assert!(loops.busy_loops >= 1 && loops.loops >= loops.busy_loops);
    assert_eq!(stats.reflected, 10);
    assert_eq!(stats.ignored, 1);
}
