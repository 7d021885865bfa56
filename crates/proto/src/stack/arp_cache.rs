//! The ARP cache (RFC 826 translation table) and the table of addresses
//! being resolved, with the frames held for them.
//!
//! Both are sized at startup. The cache is a `HashMap` created with twice
//! the entry bound as capacity and never holding more than the bound, so an
//! insert never reallocates (hashbrown rehashes in place when tombstones
//! accumulate and at most half the capacity is in use). It hashes with
//! SipHash keyed from the configuration, so no OS randomness is read and an
//! on-link attacker cannot pick colliding addresses without the key. Held
//! frames are copied into a preallocated pool of MTU-sized slots.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::config::ArpConfig;
use super::DropReason;
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// SipHash-1-3 with a fixed key: deterministic, replayable, and keyed.
#[derive(Clone, Copy, Debug)]
struct KeyedSip(u64, u64);

impl BuildHasher for KeyedSip {
    type Hasher = siphasher::sip::SipHasher13;
    fn build_hasher(&self) -> Self::Hasher {
        siphasher::sip::SipHasher13::new_with_keys(self.0, self.1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    mac: EthernetAddress,
    /// When the neighbour last proved it has this address.
    confirmed: Instant,
    /// When we last probed it (unicast request) to refresh the entry.
    probed: Option<Instant>,
}

/// What a lookup for transmit found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit(EthernetAddress),
    /// Usable, but stale: send a unicast request to this MAC to refresh.
    HitRefresh(EthernetAddress),
    Miss,
}

pub struct ArpCache {
    map: HashMap<Ipv4Addr, Entry, KeyedSip>,
    max: usize,
    ttl: Duration,
    probe_interval: Duration,
}

impl ArpCache {
    pub fn new(cfg: &ArpConfig) -> Self {
        ArpCache {
            map: HashMap::with_capacity_and_hasher(
                cfg.cache_size.saturating_mul(2),
                KeyedSip(cfg.hash_key, cfg.hash_key.rotate_left(32) ^ 0x7873_6b64),
            ),
            max: cfg.cache_size,
            ttl: cfg.entry_ttl,
            probe_interval: cfg.retry_interval,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn live(&self, e: &Entry, now: Instant) -> bool {
        e.confirmed + self.ttl > now
    }

    /// Past half its lifetime: still used, but refreshed on use and the
    /// first to go when the cache is full (Linux's REACHABLE -> STALE).
    fn stale(&self, e: &Entry, now: Instant) -> bool {
        e.confirmed + self.ttl / 2 <= now
    }

    /// The MAC for `ip`, if a live entry has it.
    pub fn get(&self, now: Instant, ip: Ipv4Addr) -> Option<EthernetAddress> {
        self.map
            .get(&ip)
            .filter(|e| self.live(e, now))
            .map(|e| e.mac)
    }

    /// Lookup for transmit: marks a stale entry as probed so the caller
    /// sends at most one refresh request per probe interval.
    pub fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Lookup {
        let (ttl, interval) = (self.ttl, self.probe_interval);
        let Some(e) = self.map.get_mut(&ip) else {
            return Lookup::Miss;
        };
        if e.confirmed + ttl <= now {
            return Lookup::Miss;
        }
        if e.confirmed + ttl / 2 > now {
            return Lookup::Hit(e.mac);
        }
        if e.probed.is_some_and(|p| p + interval > now) {
            return Lookup::Hit(e.mac);
        }
        e.probed = Some(now);
        Lookup::HitRefresh(e.mac)
    }

    /// True if we probed `ip` and are waiting for its answer.
    pub fn probing(&self, ip: Ipv4Addr) -> bool {
        self.map.get(&ip).is_some_and(|e| e.probed.is_some())
    }

    /// Learn or confirm `ip -> mac`. With `overwrite_live == false` (an
    /// unsolicited reply) a live entry is left alone:
    /// `Err(ArpUnsolicitedIgnored)`. A new entry in a full cache evicts the
    /// oldest stale one, else `Err(ArpCacheFull)`.
    pub fn insert(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        overwrite_live: bool,
    ) -> Result<(), DropReason> {
        let entry = Entry {
            mac,
            confirmed: now,
            probed: None,
        };
        if let Some(e) = self.map.get(&ip) {
            if !overwrite_live && self.live(e, now) {
                return Err(DropReason::ArpUnsolicitedIgnored);
            }
            self.map.insert(ip, entry);
            return Ok(());
        }
        if self.map.len() >= self.max {
            // Deterministic victim: the oldest confirmation, then the
            // lowest address, whatever the hash order.
            let victim = self
                .map
                .iter()
                .filter(|(_, e)| self.stale(e, now))
                .min_by_key(|(a, e)| (e.confirmed, **a))
                .map(|(a, _)| *a);
            match victim {
                Some(a) => {
                    self.map.remove(&a);
                }
                None => return Err(DropReason::ArpCacheFull),
            }
        }
        self.map.insert(ip, entry);
        Ok(())
    }

    /// Drop expired entries.
    pub fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.map.retain(|_, e| e.confirmed + ttl > now);
    }
}

/// Addresses being resolved, each with its held frames.
pub struct PendingTable {
    entries: Vec<Pending>,
    pool: Box<[u8]>,
    frame_size: usize,
    free: Vec<u16>,
    per_addr: usize,
    /// Entries with `active` set: `poll_at` runs every loop turn and must
    /// not scan an empty table.
    active: usize,
}

struct Pending {
    active: bool,
    addr: Ipv4Addr,
    /// Requests sent so far.
    tries: u32,
    next_retry: Instant,
    /// (pool slot, frame length), in arrival order.
    held: Vec<(u16, u16)>,
}

/// What `poll` decided for one pending address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingEvent {
    /// Send another request for this address.
    Retry(Ipv4Addr),
    /// Gave up: this many held frames were dropped.
    GaveUp(Ipv4Addr, usize),
}

impl PendingTable {
    /// `frame_size` is the largest frame held (Ethernet header + MTU).
    pub fn new(cfg: &ArpConfig, frame_size: usize) -> Self {
        let per_addr = cfg.pending_per_addr;
        let slots = cfg
            .max_pending_addrs
            .saturating_mul(per_addr)
            .min(usize::from(u16::MAX));
        PendingTable {
            entries: (0..cfg.max_pending_addrs)
                .map(|_| Pending {
                    active: false,
                    addr: Ipv4Addr::UNSPECIFIED,
                    tries: 0,
                    next_retry: Instant::ZERO,
                    held: Vec::with_capacity(per_addr),
                })
                .collect(),
            pool: vec![0u8; slots * frame_size].into_boxed_slice(),
            frame_size,
            free: (0..slots as u16).rev().collect(),
            per_addr,
            active: 0,
        }
    }

    pub fn is_pending(&self, addr: Ipv4Addr) -> bool {
        self.find(addr).is_some()
    }

    fn find(&self, addr: Ipv4Addr) -> Option<usize> {
        self.entries.iter().position(|p| p.active && p.addr == addr)
    }

    /// Addresses being resolved.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Frames held over all addresses.
    pub fn held(&self) -> usize {
        self.entries.iter().map(|p| p.held.len()).sum()
    }

    /// Frames held for `addr`.
    pub fn held_for(&self, addr: Ipv4Addr) -> usize {
        self.find(addr).map_or(0, |i| self.entries[i].held.len())
    }

    /// Start resolving `addr`; the caller sends the first request now.
    /// `Ok(false)` if it was already being resolved.
    pub fn start(
        &mut self,
        now: Instant,
        addr: Ipv4Addr,
        interval: Duration,
    ) -> Result<bool, DropReason> {
        if self.find(addr).is_some() {
            return Ok(false);
        }
        let Some(p) = self.entries.iter_mut().find(|p| !p.active) else {
            return Err(DropReason::ArpPendingFull);
        };
        p.active = true;
        self.active += 1;
        p.addr = addr;
        p.tries = 1;
        p.next_retry = now + interval;
        p.held.clear();
        Ok(true)
    }

    /// Room for how many more frames for `addr` (0 if not pending).
    pub fn room(&self, addr: Ipv4Addr) -> usize {
        match self.find(addr) {
            Some(i) => (self.per_addr - self.entries[i].held.len()).min(self.free.len()),
            None => 0,
        }
    }

    /// Copy a `len`-byte frame, built by `fill`, into the pool for `addr`.
    pub fn hold(
        &mut self,
        addr: Ipv4Addr,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), DropReason> {
        if len > self.frame_size {
            return Err(DropReason::TxFrameTooBig);
        }
        if self.room(addr) == 0 {
            return Err(DropReason::ArpPendingFull);
        }
        let (Some(i), Some(slot)) = (self.find(addr), self.free.pop()) else {
            return Err(DropReason::ArpPendingFull);
        };
        let start = usize::from(slot) * self.frame_size;
        fill(&mut self.pool[start..start + len]);
        self.entries[i].held.push((slot, len as u16));
        Ok(())
    }

    /// `addr` resolved: hand every held frame to `send`, oldest first, and
    /// free the entry. Returns how many frames there were.
    pub fn resolve(&mut self, addr: Ipv4Addr, mut send: impl FnMut(&mut [u8])) -> usize {
        let Some(i) = self.find(addr) else {
            return 0;
        };
        let p = &mut self.entries[i];
        p.active = false;
        self.active -= 1;
        let n = p.held.len();
        for &(slot, len) in &p.held {
            let start = usize::from(slot) * self.frame_size;
            send(&mut self.pool[start..start + usize::from(len)]);
            self.free.push(slot);
        }
        p.held.clear();
        n
    }

    /// Timers: retry addresses whose interval passed, give up on those
    /// that had `max_tries` requests already.
    pub fn poll(
        &mut self,
        now: Instant,
        interval: Duration,
        max_tries: u32,
        mut on_event: impl FnMut(PendingEvent),
    ) {
        for p in self.entries.iter_mut().filter(|p| p.active) {
            if p.next_retry > now {
                continue;
            }
            if p.tries >= max_tries {
                p.active = false;
                self.active -= 1;
                let n = p.held.len();
                for &(slot, _) in &p.held {
                    self.free.push(slot);
                }
                p.held.clear();
                on_event(PendingEvent::GaveUp(p.addr, n));
            } else {
                p.tries += 1;
                p.next_retry = now + interval;
                on_event(PendingEvent::Retry(p.addr));
            }
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        if self.active == 0 {
            return None;
        }
        self.entries
            .iter()
            .filter(|p| p.active)
            .map(|p| p.next_retry)
            .min()
    }
}

#[cfg(test)]
mod tests;
