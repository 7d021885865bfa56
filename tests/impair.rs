//! The worker loop over an impaired in-memory link, no root: the reflector
//! echoes UDP frames through `Impaired<MemoryPort>` on a fake clock, and
//! every corrupted frame is caught by a checksum.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xskd::config::PollMode;
use xskd::datapath::impair::{DirectionImpair, ImpairConfig, ImpairCounters, Impaired};
use xskd::datapath::memory::MemoryPort;
use xskd::datapath::Datapath;
use xskd::time::Instant;
use xskd::wire::checksum;
use xskd::worker::reflector::{Reflector, ReflectorStats};
use xskd::worker::{self, FrameProcessor, Mesh, WorkerOptions};

const FRAMES: u32 = 2_000;

/// Ethernet/IPv4/UDP with valid checksums; the payload starts with `id`.
fn udp_frame(id: u32) -> Vec<u8> {
    let len = 60 + (id as usize % 40);
    let ip_len = len - 14;
    let udp_len = ip_len - 20;
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&(ip_len as u16).to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[198, 18, 0, 2]);
    f[30..34].copy_from_slice(&[198, 18, 0, 1]);
    let c = checksum::finish(checksum::sum(&f[14..34]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&4321u16.to_be_bytes());
    f[36..38].copy_from_slice(&7u16.to_be_bytes());
    f[38..40].copy_from_slice(&(udp_len as u16).to_be_bytes());
    f[42..46].copy_from_slice(&id.to_be_bytes());
    for (i, b) in f[46..].iter_mut().enumerate() {
        *b = (id as usize * 7 + i) as u8;
    }
    let c = checksum::finish(checksum::add(
        pseudo(&f, udp_len as u16),
        checksum::sum(&f[34..]),
    ));
    f[40..42].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    f
}

fn pseudo(f: &[u8], udp_len: u16) -> u32 {
    let src = std::net::Ipv4Addr::new(f[26], f[27], f[28], f[29]);
    let dst = std::net::Ipv4Addr::new(f[30], f[31], f[32], f[33]);
    checksum::pseudo_header(src, dst, 17, udp_len)
}

/// What a receiving stack checks: the IPv4 header checksum (which also
/// covers the length and protocol fields), then UDP over its pseudo-header.
fn checksums_ok(f: &[u8]) -> bool {
    if f.len() < 42 || !checksum::verify(&f[14..34]) {
        return false;
    }
    let ip_len = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let Some(udp) = f.get(34..14 + ip_len) else {
        return false;
    };
    checksum::fold(checksum::add(
        pseudo(f, udp.len() as u16),
        checksum::sum(udp),
    )) == 0xffff
}

/// Run the worker loop until every injected frame is through and nothing
/// is held. The fake clock moves 10 us per loop turn, set by the report
/// hook (which the loop calls every turn with `report_every` zero).
fn run_reflector(cfg: &ImpairConfig) -> (Vec<Vec<u8>>, ReflectorStats, ImpairCounters) {
    let mut port = MemoryPort::new(4 * FRAMES as usize, 2048);
    for id in 0..FRAMES {
        assert!(port.inject(&udp_frame(id)));
    }
    let mut dp = Impaired::new(port, cfg, 2048).expect("valid impairment");
    let stop = AtomicBool::new(false);
    let mut proc = Reflector::default();
    let opts = WorkerOptions {
        queue: 0,
        batch: 16,
        poll: PollMode::Busy,
        report_every: Duration::ZERO,
        drain: Duration::ZERO,
    };
    let mut clock = Instant::from_secs(1);
    let mut turns = 0u32;
    dp.set_now(clock);
    worker::run(
        &mut dp,
        &mut proc,
        &opts,
        &stop,
        &mut Mesh::alone(),
        |dp, _, _, _| {
            clock += Duration::from_micros(10);
            dp.set_now(clock);
            turns += 1;
            if (dp.inner().pending_rx() == 0 && dp.quiescent()) || turns > 1_000_000 {
                stop.store(true, Ordering::Relaxed);
            }
        },
    );
    assert!(turns <= 1_000_000, "the link never drained");
    assert!(dp.quiescent());
    let counters = dp.counters();
    (dp.inner_mut().take_sent(), proc.stats(), counters)
}

#[test]
fn rx_impaired_worker_reflects_and_checksums_catch_every_corrupted_frame() {
    let cfg = ImpairConfig {
        seed: 2026,
        rx: DirectionImpair {
            // No duplication here, so each corrupted frame shows up once
            // (the tx test counts duplicated bad frames by content).
            drop: 0.05,
            reorder: 0.1,
            reorder_gap: 3,
            corrupt: 0.1,
            delay_us: 200,
            jitter_us: 100,
            ..Default::default()
        },
        tx: DirectionImpair::default(),
    };
    let (sent, stats, c) = run_reflector(&cfg);
    let rx = c.rx;
    assert!(rx.dropped > 0 && rx.reordered > 0 && rx.delayed > 0);
    assert!(rx.corrupted > 100, "{rx:?}");
    assert_eq!(rx.queue_dropped + rx.rate_dropped, 0);
    assert_eq!(rx.passed, u64::from(FRAMES) - rx.dropped + rx.duplicated);
    assert_eq!(stats.reflected + stats.ignored, rx.passed);
    assert_eq!(sent.len() as u64, stats.reflected);
    assert_eq!(c.tx.passed, stats.reflected);
    // A flipped version or protocol byte makes the reflector ignore the
    // frame; every other corrupted frame goes back and fails a checksum.
    let bad = sent.iter().filter(|f| !checksums_ok(f)).count() as u64;
    assert!(stats.ignored < rx.corrupted);
    assert_eq!(bad + stats.ignored, rx.corrupted, "{rx:?} {stats:?}");
}

#[test]
fn tx_impaired_worker_output_is_shaped_and_corruption_is_detectable() {
    let cfg = ImpairConfig {
        seed: 7,
        rx: DirectionImpair::default(),
        tx: DirectionImpair {
            drop: 0.02,
            drop_every: Some(100),
            duplicate: 0.05,
            reorder: 0.05,
            corrupt: 0.2,
            delay_us: 50,
            jitter_us: 50,
            rate_bytes_per_sec: Some(200_000_000),
            ..Default::default()
        },
    };
    let (sent, stats, c) = run_reflector(&cfg);
    let tx = c.tx;
    assert_eq!(stats.reflected, u64::from(FRAMES));
    assert_eq!(tx.rate_dropped + tx.queue_dropped + tx.refused, 0, "{tx:?}");
    assert!(tx.dropped >= u64::from(FRAMES / 100) && tx.duplicated > 0 && tx.reordered > 0);
    assert_eq!(sent.len() as u64, tx.passed);
    assert_eq!(tx.passed, u64::from(FRAMES) - tx.dropped + tx.duplicated);
    // A duplicated corrupted frame is the same bad frame twice.
    let bad: HashSet<&Vec<u8>> = sent.iter().filter(|f| !checksums_ok(f)).collect();
    assert_eq!(bad.len() as u64, tx.corrupted, "{tx:?}");
    assert!(tx.corrupted > 200);
    let good = sent.iter().filter(|f| checksums_ok(f)).count() as u64;
    assert!(good > u64::from(FRAMES) / 2);
}

#[test]
fn off_impairment_is_a_transparent_wrapper_for_the_worker() {
    let (sent, stats, c) = run_reflector(&ImpairConfig::default());
    assert_eq!(stats.reflected, u64::from(FRAMES));
    assert_eq!(sent.len() as u64, u64::from(FRAMES));
    assert!(sent.iter().all(|f| checksums_ok(f)));
    for (i, f) in sent.iter().enumerate() {
        assert_eq!(&f[42..46], &(i as u32).to_be_bytes(), "order kept");
    }
    assert_eq!((c.rx.passed, c.tx.passed), (2_000, 2_000));
}

/// The trait bound the daemon needs: `Impaired` is itself a `Datapath`.
#[allow(dead_code)]
fn impaired_is_a_datapath<D: Datapath + 'static>(dp: Impaired<D>) -> impl Datapath {
    dp
}

#[allow(dead_code)]
fn reflector_is_a_processor(p: Reflector) -> impl FrameProcessor {
    p
}
