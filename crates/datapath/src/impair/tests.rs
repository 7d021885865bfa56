use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::memory::MemoryPort;
use xskd_proto::wire::checksum;

const MAX: usize = 2048;
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// An Ethernet/IPv4/UDP frame with valid checksums whose payload starts
/// with `id`; `len` is the whole frame (at least 46), padded like Ethernet
/// pads short frames when `pad` > 0.
fn udp_frame(id: u32, len: usize, pad: usize) -> Vec<u8> {
    let ip_len = len - 14 - pad;
    let udp_len = ip_len - 20;
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&(ip_len as u16).to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&SRC.octets());
    f[30..34].copy_from_slice(&DST.octets());
    let c = checksum::finish(checksum::sum(&f[14..34]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&1234u16.to_be_bytes());
    f[36..38].copy_from_slice(&7u16.to_be_bytes());
    f[38..40].copy_from_slice(&(udp_len as u16).to_be_bytes());
    f[42..46].copy_from_slice(&id.to_be_bytes());
    for (i, b) in f[46..14 + ip_len].iter_mut().enumerate() {
        *b = (id as usize + i) as u8;
    }
    let s = checksum::add(
        checksum::pseudo_header(SRC, DST, 17, udp_len as u16),
        checksum::sum(&f[34..14 + ip_len]),
    );
    let c = match checksum::finish(s) {
        0 => 0xffff,
        c => c,
    };
    f[40..42].copy_from_slice(&c.to_be_bytes());
    f
}

/// What a receiver checks: the IPv4 header first (it covers the length),
/// then UDP with its pseudo-header.
fn checksums_ok(f: &[u8]) -> bool {
    if !checksum::verify(&f[14..34]) {
        return false;
    }
    let ip_len = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let Some(udp) = f.get(34..14 + ip_len) else {
        return false;
    };
    checksum::fold(checksum::add(
        checksum::pseudo_header(SRC, DST, 17, udp.len() as u16),
        checksum::sum(udp),
    )) == 0xffff
}

fn id_of(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[42], f[43], f[44], f[45]])
}

fn frames(n: u32) -> Vec<Vec<u8>> {
    (0..n).map(|i| udp_frame(i, 64, 0)).collect()
}

fn ids(out: &[Vec<u8>]) -> Vec<u32> {
    out.iter().map(|f| id_of(f)).collect()
}

fn rx_cfg(seed: u64, rx: DirectionImpair) -> ImpairConfig {
    ImpairConfig {
        seed,
        rx,
        tx: DirectionImpair::default(),
    }
}

fn tx_cfg(seed: u64, tx: DirectionImpair) -> ImpairConfig {
    ImpairConfig {
        seed,
        rx: DirectionImpair::default(),
        tx,
    }
}

fn impaired(cfg: &ImpairConfig) -> Impaired<MemoryPort> {
    Impaired::new(MemoryPort::new(100_000, MAX), cfg, MAX).unwrap()
}

fn drain_rx(dp: &mut Impaired<MemoryPort>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    dp.poll_rx(usize::MAX, |f, _| out.push(f.to_vec()));
    out
}

fn rx_all(dp: &mut Impaired<MemoryPort>, input: &[Vec<u8>]) -> Vec<Vec<u8>> {
    for f in input {
        assert!(dp.inner_mut().inject(f));
    }
    drain_rx(dp)
}

fn send_tx(dp: &mut Impaired<MemoryPort>, input: &[Vec<u8>]) {
    let mut t = dp.tx();
    for f in input {
        t.transmit(f.len(), |b| b.copy_from_slice(f)).unwrap();
    }
}

fn tx_all(dp: &mut Impaired<MemoryPort>, input: &[Vec<u8>]) -> Vec<Vec<u8>> {
    send_tx(dp, input);
    dp.flush();
    dp.inner_mut().take_sent()
}

fn micros(us: u64) -> Instant {
    Instant::from_secs(1) + Duration::from_micros(us)
}

#[test]
fn off_config_passes_every_frame_untouched_both_ways() {
    let mut dp = impaired(&ImpairConfig::default());
    let input = frames(50);
    assert_eq!(rx_all(&mut dp, &input), input);
    assert_eq!(tx_all(&mut dp, &input), input);
    let c = dp.counters();
    assert_eq!((c.rx.passed, c.tx.passed), (50, 50));
    assert_eq!(dp.held_rx() + dp.held_tx(), 0);
}

#[test]
fn rx_drop_probability_loses_about_p_in_order() {
    let cfg = rx_cfg(
        1,
        DirectionImpair {
            drop: 0.1,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let out = rx_all(&mut dp, &frames(10_000));
    let c = dp.counters().rx;
    assert_eq!(out.len() as u64 + c.dropped, 10_000);
    assert_eq!(c.passed, out.len() as u64);
    // sd = sqrt(10000 * 0.1 * 0.9) = 30: five sigma either way.
    assert!((850..=1150).contains(&c.dropped), "dropped {}", c.dropped);
    assert!(ids(&out).windows(2).all(|w| w[0] < w[1]), "order kept");
}

#[test]
fn tx_drop_probability_loses_about_p() {
    let cfg = tx_cfg(
        2,
        DirectionImpair {
            drop: 0.3,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let out = tx_all(&mut dp, &frames(10_000));
    let c = dp.counters().tx;
    assert_eq!(out.len() as u64 + c.dropped, 10_000);
    // sd = sqrt(10000 * 0.3 * 0.7) ~ 46.
    assert!((2770..=3230).contains(&c.dropped), "dropped {}", c.dropped);
    assert_eq!(dp.counters().rx, DirectionCounters::default());
}

#[test]
fn drop_every_nth_drops_exactly_the_nth_frames() {
    let cfg = rx_cfg(
        0,
        DirectionImpair {
            drop_every: Some(4),
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let out = rx_all(&mut dp, &frames(100));
    let want: Vec<u32> = (0..100).filter(|i| (i + 1) % 4 != 0).collect();
    assert_eq!(ids(&out), want);
    assert_eq!(dp.counters().rx.dropped, 25);
}

#[test]
fn drop_burst_drops_k_after_every_n() {
    let cfg = tx_cfg(
        0,
        DirectionImpair {
            drop_burst: Some(DropBurst { pass: 3, drop: 2 }),
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let out = tx_all(&mut dp, &frames(20));
    assert_eq!(ids(&out), vec![0, 1, 2, 5, 6, 7, 10, 11, 12, 15, 16, 17]);
    assert_eq!(dp.counters().tx.dropped, 8);
}

#[test]
fn duplicate_sends_byte_identical_copies_back_to_back() {
    let cfg = rx_cfg(
        3,
        DirectionImpair {
            duplicate: 0.3,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let input = frames(10_000);
    let out = rx_all(&mut dp, &input);
    let dup = dp.counters().rx.duplicated;
    assert_eq!(out.len() as u64, 10_000 + dup);
    assert!((2700..=3300).contains(&dup), "duplicated {dup}");
    let mut i = 0;
    let mut twice = 0;
    for f in &input {
        assert_eq!(&out[i], f);
        i += 1;
        if i < out.len() && out[i] == *f {
            twice += 1;
            i += 1;
        }
    }
    assert_eq!(i, out.len());
    assert_eq!(twice, dup);
}

#[test]
fn reorder_lets_exactly_gap_frames_overtake_and_keeps_every_frame() {
    let gap = 2;
    let cfg = rx_cfg(
        4,
        DirectionImpair {
            reorder: 0.05,
            reorder_gap: gap,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    dp.set_now(micros(0));
    let input = frames(2_000);
    let during = ids(&rx_all(&mut dp, &input));
    let held = dp.held_rx();
    let reordered = dp.counters().rx.reordered;
    assert!(reordered > 50, "reordered {reordered}");
    assert_ne!(during, (0..during.len() as u32).collect::<Vec<_>>());
    // Every frame is overtaken by exactly `gap` later frames, or by none.
    let mut overtaken_by_gap = 0;
    for (pos, id) in during.iter().enumerate() {
        let overtakers = during[..pos].iter().filter(|o| *o > id).count();
        assert!(
            overtakers == 0 || overtakers == gap as usize,
            "{id}: {overtakers}"
        );
        if overtakers > 0 {
            overtaken_by_gap += 1;
        }
    }
    assert_eq!(overtaken_by_gap as u64, reordered - held as u64);
    dp.set_now(micros(cfg.rx.reorder_timeout_us));
    let tail = ids(&drain_rx(&mut dp));
    assert_eq!(tail.len(), held);
    let mut all: Vec<u32> = during.into_iter().chain(tail).collect();
    all.sort_unstable();
    assert_eq!(all, (0..2_000).collect::<Vec<_>>(), "same multiset");
    assert!(dp.quiescent());
}

#[test]
fn reorder_timeout_releases_a_frame_nobody_overtakes() {
    let cfg = tx_cfg(
        5,
        DirectionImpair {
            reorder: 1.0,
            reorder_gap: 3,
            reorder_timeout_us: 200,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    dp.set_now(micros(0));
    assert!(tx_all(&mut dp, &frames(1)).is_empty());
    assert!(!dp.quiescent());
    dp.set_now(micros(199));
    dp.flush();
    assert!(dp.inner_mut().take_sent().is_empty());
    assert_eq!(dp.poll_at(), Some(micros(200)));
    dp.set_now(micros(200));
    dp.flush();
    assert_eq!(ids(&dp.inner_mut().take_sent()), vec![0]);
    assert!(dp.quiescent());
}

fn bit_diff(a: &[u8], b: &[u8]) -> Vec<(usize, u32)> {
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| (i, (x ^ y).count_ones()))
        .collect()
}

#[test]
fn corrupt_flips_one_bit_past_the_ethernet_header_that_checksums_catch() {
    let cfg = rx_cfg(
        6,
        DirectionImpair {
            corrupt: 1.0,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    // Short frames padded to the Ethernet minimum: the padding is covered
    // by no checksum, so it must never be the bit flipped.
    let input: Vec<Vec<u8>> = (0..2_000)
        .map(|i| match i % 3 {
            0 => udp_frame(i, 60, 14),
            1 => udp_frame(i, 64 + (i as usize % 500), 0),
            _ => udp_frame(i, 1514, 0),
        })
        .collect();
    let out = rx_all(&mut dp, &input);
    assert_eq!(out.len(), input.len());
    assert_eq!(dp.counters().rx.corrupted, 2_000);
    for (a, b) in input.iter().zip(&out) {
        let d = bit_diff(a, b);
        assert_eq!(d.len(), 1, "one byte differs");
        let (at, bits) = d[0];
        assert_eq!(bits, 1, "one bit differs");
        let ip_end = 14 + usize::from(u16::from_be_bytes([a[16], a[17]]));
        assert!(
            (14..ip_end).contains(&at),
            "byte {at} outside the IPv4 packet"
        );
        assert!(
            checksums_ok(a) && !checksums_ok(b),
            "checksum catches byte {at}"
        );
    }
}

#[test]
fn corrupt_leaves_frames_without_a_checksum_alone() {
    let cfg = tx_cfg(
        7,
        DirectionImpair {
            corrupt: 1.0,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let mut arp = vec![0u8; 42];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    arp[14..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    // A UDP datagram without checksum: only its IPv4 header may be hit.
    let mut no_csum = udp_frame(9, 100, 0);
    no_csum[40..42].copy_from_slice(&[0, 0]);
    let out = tx_all(&mut dp, &[arp.clone(), no_csum.clone()]);
    assert_eq!(out[0], arp);
    let d = bit_diff(&no_csum, &out[1]);
    assert!(d.len() == 1 && (14..34).contains(&d[0].0), "{d:?}");
    assert!(!checksum::verify(&out[1][14..34]));
    assert_eq!(dp.counters().tx.corrupted, 1);
}

#[test]
fn delay_holds_frames_until_now_passes_the_delay() {
    let cfg = rx_cfg(
        8,
        DirectionImpair {
            delay_us: 500,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    dp.set_now(micros(0));
    let input = frames(10);
    assert!(rx_all(&mut dp, &input).is_empty());
    assert_eq!(dp.held_rx(), 10);
    assert!(!dp.quiescent());
    dp.set_now(micros(499));
    assert!(drain_rx(&mut dp).is_empty());
    dp.set_now(micros(500));
    assert_eq!(drain_rx(&mut dp), input, "all out, in order");
    let c = dp.counters().rx;
    assert_eq!((c.delayed, c.passed), (10, 10));
    assert!(dp.quiescent());
}

#[test]
fn tx_delay_with_jitter_releases_within_the_window_on_flush() {
    let cfg = tx_cfg(
        9,
        DirectionImpair {
            delay_us: 100,
            jitter_us: 50,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    dp.set_now(micros(0));
    send_tx(&mut dp, &frames(200));
    let mut seen = Vec::new();
    for t in 0..=150 {
        dp.set_now(micros(t));
        dp.flush();
        let out = dp.inner_mut().take_sent();
        assert!(t >= 100 || out.is_empty(), "nothing before the fixed delay");
        seen.extend(ids(&out));
    }
    assert_eq!(seen.len(), 200, "everything out by delay + jitter");
    assert_ne!(seen, (0..200).collect::<Vec<_>>(), "jitter reorders");
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
}

#[test]
fn rate_limit_paces_frames_and_drops_past_the_queue() {
    // 1000-byte frames at 1 MB/s: one per millisecond.
    let cfg = rx_cfg(
        10,
        DirectionImpair {
            rate_bytes_per_sec: Some(1_000_000),
            queue_frames: 10,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    dp.set_now(micros(0));
    let input: Vec<Vec<u8>> = (0..100).map(|i| udp_frame(i, 1000, 0)).collect();
    let first = rx_all(&mut dp, &input);
    assert_eq!(
        ids(&first),
        vec![0],
        "the first frame finds the bucket full"
    );
    let c = dp.counters().rx;
    assert_eq!((c.delayed, c.rate_dropped), (10, 89));
    for k in 1..=10u32 {
        dp.set_now(micros(u64::from(k) * 1000 - 1));
        assert!(drain_rx(&mut dp).is_empty(), "frame {k} not yet");
        dp.set_now(micros(u64::from(k) * 1000));
        assert_eq!(ids(&drain_rx(&mut dp)), vec![k]);
    }
    assert!(dp.quiescent());
}

#[test]
fn rate_limit_holds_the_byte_rate_under_twice_the_offered_load() {
    let rate = 1_000_000u64;
    let cfg = tx_cfg(
        11,
        DirectionImpair {
            rate_bytes_per_sec: Some(rate),
            rate_burst_bytes: 3_000,
            queue_frames: 8,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let mut bytes = 0u64;
    // Offer 2 MB/s for one second: a 500-byte frame every 250 us.
    for tick in 0..4_000u64 {
        dp.set_now(micros(tick * 250));
        send_tx(&mut dp, &[udp_frame(tick as u32, 500, 0)]);
        dp.flush();
        bytes += dp
            .inner_mut()
            .take_sent()
            .iter()
            .map(|f| f.len() as u64)
            .sum::<u64>();
        assert!(dp.held_tx() <= 8);
    }
    // One second at the rate, plus at most the burst.
    assert!(
        bytes >= rate - 1_000 && bytes <= rate + 3_500,
        "{bytes} bytes"
    );
    let c = dp.counters().tx;
    assert!((1_900..=2_100).contains(&c.rate_dropped), "{c:?}");
}

#[test]
fn tx_frames_the_inner_ring_refuses_stay_held_until_there_is_room() {
    let cfg = tx_cfg(
        12,
        DirectionImpair {
            delay_us: 10,
            ..Default::default()
        },
    );
    let mut dp = Impaired::new(MemoryPort::new(4, MAX), &cfg, MAX).unwrap();
    dp.set_now(micros(0));
    send_tx(&mut dp, &frames(8));
    dp.set_now(micros(10));
    dp.flush();
    assert_eq!(ids(&dp.inner_mut().take_sent()), vec![0, 1, 2, 3]);
    assert_eq!(dp.held_tx(), 4);
    dp.flush();
    assert_eq!(ids(&dp.inner_mut().take_sent()), vec![4, 5, 6, 7]);
    assert!(dp.quiescent());
    assert_eq!(dp.counters().tx.passed, 8);
}

#[test]
fn replies_sent_inside_poll_rx_are_impaired_on_tx() {
    let cfg = tx_cfg(
        13,
        DirectionImpair {
            drop_every: Some(2),
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    for f in frames(10) {
        dp.inner_mut().inject(&f);
    }
    dp.poll_rx(64, |f, tx| {
        tx.transmit(f.len(), |b| b.copy_from_slice(f)).unwrap();
    });
    dp.flush();
    assert_eq!(ids(&dp.inner_mut().take_sent()), vec![0, 2, 4, 6, 8]);
    let c = dp.counters();
    assert_eq!((c.rx.passed, c.tx.passed, c.tx.dropped), (10, 5, 5));
}

#[test]
fn forward_relays_between_two_ports_through_the_impairment() {
    let cfg = rx_cfg(
        15,
        DirectionImpair {
            drop_every: Some(3),
            ..Default::default()
        },
    );
    let mut left = impaired(&cfg);
    let mut right = MemoryPort::new(64, MAX);
    for f in frames(9) {
        left.inner_mut().inject(&f);
    }
    assert_eq!(forward(&mut left, &mut right, 64), 9);
    assert_eq!(right.flush(), 6);
    assert_eq!(ids(&right.take_sent()), vec![0, 1, 3, 4, 6, 7]);
}

fn everything(seed: u64) -> ImpairConfig {
    let d = DirectionImpair {
        drop: 0.05,
        duplicate: 0.05,
        reorder: 0.1,
        reorder_gap: 3,
        corrupt: 0.05,
        delay_us: 100,
        jitter_us: 100,
        rate_bytes_per_sec: Some(10_000_000),
        queue_frames: 64,
        ..Default::default()
    };
    ImpairConfig {
        seed,
        rx: d.clone(),
        tx: d,
    }
}

/// A scripted run: frames arrive and are echoed over simulated time.
fn script(cfg: &ImpairConfig) -> (Vec<Vec<u8>>, ImpairCounters) {
    let mut dp = impaired(cfg);
    let mut id = 0;
    for tick in 0..3_000u64 {
        dp.set_now(micros(tick * 10));
        if tick < 2_000 {
            dp.inner_mut()
                .inject(&udp_frame(id, 100 + (id as usize % 900), 0));
            id += 1;
        }
        dp.poll_rx(64, |f, tx| {
            let _ = tx.transmit(f.len(), |b| b.copy_from_slice(f));
        });
        dp.flush();
        assert!(dp.held_rx() <= 64 && dp.held_tx() <= 64);
    }
    assert!(dp.quiescent());
    (dp.inner_mut().take_sent(), dp.counters())
}

#[test]
fn same_seed_replays_the_same_output_and_another_seed_does_not() {
    let a = script(&everything(42));
    let b = script(&everything(42));
    assert_eq!(a, b);
    let c = script(&everything(43));
    assert_ne!(a.0, c.0);
    for cs in [a.1, c.1] {
        for d in [cs.rx, cs.tx] {
            assert!(d.dropped > 0 && d.duplicated > 0 && d.reordered > 0);
            assert!(d.corrupted > 0 && d.delayed > 0);
        }
    }
}

#[test]
fn held_queue_never_exceeds_queue_frames_and_counts_the_overflow() {
    let cfg = rx_cfg(
        14,
        DirectionImpair {
            delay_us: 1_000,
            jitter_us: 500,
            reorder: 0.2,
            queue_frames: 16,
            ..Default::default()
        },
    );
    let mut dp = impaired(&cfg);
    let mut out = 0;
    for tick in 0..1_000u64 {
        dp.set_now(micros(tick * 20));
        dp.inner_mut().inject(&udp_frame(tick as u32, 64, 0));
        out += drain_rx(&mut dp).len() as u64;
        assert!(dp.held_rx() <= 16, "held {}", dp.held_rx());
    }
    dp.set_now(micros(1_000_000));
    out += drain_rx(&mut dp).len() as u64;
    let c = dp.counters().rx;
    assert!(c.queue_dropped > 0);
    assert_eq!(out + c.queue_dropped, 1_000);
    assert_eq!(c.passed, out);
}

#[test]
fn validate_names_the_key_and_new_refuses_a_bad_config() {
    let mut cfg = ImpairConfig::default();
    cfg.rx.drop = 1.5;
    assert_eq!(cfg.validate().unwrap_err().key(), "impair.rx.drop");
    let mut cfg = ImpairConfig::default();
    cfg.tx.corrupt = f64::NAN;
    assert_eq!(cfg.validate().unwrap_err().key(), "impair.tx.corrupt");
    let mut cfg = ImpairConfig::default();
    cfg.tx.drop_every = Some(0);
    assert_eq!(cfg.validate().unwrap_err().key(), "impair.tx.drop_every");
    let mut cfg = ImpairConfig::default();
    cfg.rx.rate_bytes_per_sec = Some(0);
    let e = cfg.validate().unwrap_err();
    assert_eq!(e.key(), "impair.rx.rate_bytes_per_sec");
    assert!(e.to_string().contains("impair.rx.rate_bytes_per_sec"));
    let mut cfg = ImpairConfig::default();
    cfg.rx.queue_frames = 0;
    assert!(Impaired::new(MemoryPort::new(1, 64), &cfg, 64).is_err());
    assert!(ImpairConfig::default().validate().is_ok());
}

#[test]
fn toml_section_parses_and_unknown_keys_are_refused() {
    let cfg: ImpairConfig = toml::from_str(
        "seed = 7\n[rx]\ndrop = 0.01\ndrop_burst = { pass = 10, drop = 2 }\n[tx]\nrate_bytes_per_sec = 1000\n",
    )
    .unwrap();
    assert_eq!(cfg.seed, 7);
    assert_eq!(cfg.rx.drop, 0.01);
    assert_eq!(cfg.rx.drop_burst, Some(DropBurst { pass: 10, drop: 2 }));
    assert_eq!(cfg.rx.queue_frames, 1024, "defaults fill the rest");
    assert_eq!(cfg.tx.rate_bytes_per_sec, Some(1000));
    assert!(cfg.is_active());
    assert!(toml::from_str::<ImpairConfig>("[rx]\ndorp = 0.1\n").is_err());
    assert!(!ImpairConfig::default().is_active());
}

proptest! {
    #[test]
    fn reorder_duplicate_and_delay_lose_no_frame(
        seed in any::<u64>(),
        reorder in 0.0..1.0f64,
        gap in 0u32..5,
        duplicate in 0.0..1.0f64,
        delay_us in 0u64..300,
        jitter_us in 0u64..300,
        n in 1u32..300,
        per_tick in 1u32..8,
    ) {
        let d = DirectionImpair {
            reorder,
            reorder_gap: gap,
            duplicate,
            delay_us,
            jitter_us,
            ..Default::default()
        };
        let cfg = ImpairConfig { seed, rx: d.clone(), tx: d };
        let mut dp = impaired(&cfg);
        let mut out = Vec::new();
        let mut id = 0;
        let mut tick = 0;
        while id < n || !dp.quiescent() {
            dp.set_now(micros(tick * 50));
            for _ in 0..per_tick {
                if id < n {
                    dp.inner_mut().inject(&udp_frame(id, 64, 0));
                    id += 1;
                }
            }
            dp.poll_rx(16, |f, tx| {
                tx.transmit(f.len(), |b| b.copy_from_slice(f)).unwrap();
            });
            dp.flush();
            out.extend(ids(&dp.inner_mut().take_sent()));
            tick += 1;
            prop_assert!(tick < 100_000, "never drains");
        }
        let mut count = BTreeMap::new();
        for i in out {
            *count.entry(i).or_insert(0u32) += 1;
        }
        prop_assert_eq!(count.len() as u32, n, "every frame came out");
        prop_assert!(count.keys().all(|i| *i < n));
        // Duplicated once each way at most.
        prop_assert!(count.values().all(|c| (1..=4).contains(c)));
        let c = dp.counters();
        prop_assert_eq!(c.rx.passed, u64::from(n) + c.rx.duplicated);
        prop_assert_eq!(c.tx.passed, c.rx.passed + c.tx.duplicated);
    }
}
