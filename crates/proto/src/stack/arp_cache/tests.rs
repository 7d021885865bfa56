use super::*;

fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, n)
}

fn cfg() -> ArpConfig {
    ArpConfig {
        cache_size: 2,
        ..ArpConfig::default()
    }
}

const T0: Instant = Instant::from_secs(1000);

#[test]
fn entry_expires_after_ttl_unless_confirmed() {
    let mut c = ArpCache::new(&cfg());
    c.insert(T0, ip(2), mac(2), true).unwrap();
    assert_eq!(c.get(T0 + Duration::from_secs(59), ip(2)), Some(mac(2)));
    assert_eq!(c.get(T0 + Duration::from_secs(60), ip(2)), None);
    // Confirming at 50 s extends it.
    c.insert(T0 + Duration::from_secs(50), ip(2), mac(2), true)
        .unwrap();
    assert_eq!(c.get(T0 + Duration::from_secs(100), ip(2)), Some(mac(2)));
    c.expire(T0 + Duration::from_secs(110));
    assert!(c.is_empty());
}

#[test]
fn stale_entry_asks_for_refresh_once_per_interval() {
    let mut c = ArpCache::new(&cfg());
    c.insert(T0, ip(2), mac(2), true).unwrap();
    assert_eq!(
        c.lookup(T0 + Duration::from_secs(29), ip(2)),
        Lookup::Hit(mac(2))
    );
    let t = T0 + Duration::from_secs(30);
    assert_eq!(c.lookup(t, ip(2)), Lookup::HitRefresh(mac(2)));
    assert!(c.probing(ip(2)));
    assert_eq!(
        c.lookup(t + Duration::from_millis(999), ip(2)),
        Lookup::Hit(mac(2))
    );
    assert_eq!(
        c.lookup(t + Duration::from_secs(1), ip(2)),
        Lookup::HitRefresh(mac(2))
    );
    assert_eq!(c.lookup(T0 + Duration::from_secs(60), ip(2)), Lookup::Miss);
}

#[test]
fn unsolicited_update_does_not_overwrite_live_entry() {
    let mut c = ArpCache::new(&cfg());
    c.insert(T0, ip(2), mac(2), true).unwrap();
    assert_eq!(
        c.insert(T0, ip(2), mac(9), false),
        Err(DropReason::ArpUnsolicitedIgnored)
    );
    assert_eq!(c.get(T0, ip(2)), Some(mac(2)));
    // Once expired it may be replaced.
    let later = T0 + Duration::from_secs(61);
    c.insert(later, ip(2), mac(9), false).unwrap();
    assert_eq!(c.get(later, ip(2)), Some(mac(9)));
}

#[test]
fn full_cache_evicts_oldest_stale_else_refuses() {
    let mut c = ArpCache::new(&cfg());
    c.insert(T0, ip(2), mac(2), true).unwrap();
    c.insert(T0 + Duration::from_secs(1), ip(3), mac(3), true)
        .unwrap();
    assert_eq!(
        c.insert(T0 + Duration::from_secs(2), ip(4), mac(4), true),
        Err(DropReason::ArpCacheFull)
    );
    // At 31 s only ip(2) is stale; it goes.
    let t = T0 + Duration::from_secs(30);
    c.insert(t, ip(4), mac(4), true).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c.get(t, ip(2)), None);
    assert_eq!(c.get(t, ip(3)), Some(mac(3)));
}

#[test]
fn pending_holds_bounded_frames_and_resolves_in_order() {
    let cfg = ArpConfig {
        pending_per_addr: 2,
        max_pending_addrs: 1,
        ..ArpConfig::default()
    };
    let mut p = PendingTable::new(&cfg, 64);
    let iv = cfg.retry_interval;
    assert_eq!(p.start(T0, ip(2), iv), Ok(true));
    assert_eq!(p.start(T0, ip(2), iv), Ok(false));
    assert_eq!(p.active(), 1);
    assert_eq!(p.start(T0, ip(3), iv), Err(DropReason::ArpPendingFull));
    p.hold(ip(2), 10, |b| b.fill(1)).unwrap();
    p.hold(ip(2), 20, |b| b.fill(2)).unwrap();
    assert_eq!(
        p.hold(ip(2), 10, |b| b.fill(3)),
        Err(DropReason::ArpPendingFull)
    );
    assert_eq!(p.hold(ip(3), 10, |_| {}), Err(DropReason::ArpPendingFull));
    assert_eq!(p.hold(ip(2), 65, |_| {}), Err(DropReason::TxFrameTooBig));
    let mut got = Vec::new();
    assert_eq!(p.resolve(ip(2), |f| got.push(f.to_vec())), 2);
    assert_eq!(got, vec![vec![1; 10], vec![2; 20]]);
    assert_eq!(p.active(), 0);
    assert_eq!(p.held(), 0);
}

#[test]
fn pending_retries_at_interval_then_gives_up() {
    let cfg = ArpConfig::default();
    let mut p = PendingTable::new(&cfg, 64);
    let iv = cfg.retry_interval;
    p.start(T0, ip(2), iv).unwrap();
    p.hold(ip(2), 10, |_| {}).unwrap();
    let mut ev = Vec::new();
    p.poll(T0 + Duration::from_millis(999), iv, 3, |e| ev.push(e));
    assert!(ev.is_empty());
    assert_eq!(p.poll_at(), Some(T0 + iv));
    for s in 1..=3 {
        p.poll(T0 + Duration::from_secs(s), iv, 3, |e| ev.push(e));
    }
    assert_eq!(
        ev,
        vec![
            PendingEvent::Retry(ip(2)),
            PendingEvent::Retry(ip(2)),
            PendingEvent::GaveUp(ip(2), 1)
        ]
    );
    assert_eq!(p.poll_at(), None);
    assert_eq!(p.active(), 0, "the count follows give-ups");
    assert_eq!(p.held(), 0);
}
