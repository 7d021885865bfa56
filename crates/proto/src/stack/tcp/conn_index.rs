//! The 4-tuple index: (local port, remote address, remote port) -> slot.
//!
//! Looked up for every arriving segment, so the hash matters: SipHash-1-3
//! (std's default) over the tuple's parts cost ~250 instructions a lookup,
//! more than the rest of the lookup together. The key packs into one u64
//! (our IP is fixed per table) and is hashed with two rounds of a folded
//! 64x64->128 multiply under a 256-bit key derived from the table's secret.
//!
//! Why that is enough against hash flooding: the attacker picks the tuples
//! (remote address and port; spoofed for SYN-RECEIVED entries) but not the
//! key, which is derived from the injected secret and never leaves the
//! worker; without the key they cannot aim tuples at one bucket. Entries are
//! also bounded twice over: `max_conns` for the table, `syn_queue` for
//! embryonic entries (beyond it SYN cookies keep state out of the table),
//! so even a perfect collision set degrades lookups to a scan of a bounded
//! bucket, never to unbounded growth. This is the trade `foldhash` and
//! `ahash` (hashbrown's defaults) make; ISNs and cookies, which must be
//! unpredictable rather than merely spread, stay on keyed SipHash-2-4.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddrV4;

use siphasher::sip::SipHasher13;

/// One connection's key in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnKey(u64);

impl ConnKey {
    pub fn new(local_port: u16, remote: SocketAddrV4) -> ConnKey {
        ConnKey(
            u64::from(local_port) << 48
                | u64::from(u32::from(*remote.ip())) << 16
                | u64::from(remote.port()),
        )
    }
}

impl Hash for ConnKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// The keyed hasher factory of one table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnHashBuilder {
    key: [u64; 4],
}

impl ConnHashBuilder {
    /// Keys derived from the table's secret (domain-separated from the ISN
    /// and cookie uses of it), so a replayed run hashes identically.
    pub fn new(secret: &[u8; 16]) -> Self {
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&secret[..8]);
        k1.copy_from_slice(&secret[8..]);
        let (k0, k1) = (u64::from_le_bytes(k0), u64::from_le_bytes(k1));
        let mut key = [0u64; 4];
        for (i, k) in key.iter_mut().enumerate() {
            let mut h = SipHasher13::new_with_keys(k0, k1);
            h.write(b"xskd tcp conn index");
            h.write_u8(i as u8);
            // An odd multiplier never collapses the product's low half.
            *k = h.finish() | 1;
        }
        ConnHashBuilder { key }
    }
}

impl BuildHasher for ConnHashBuilder {
    type Hasher = ConnHasher;
    fn build_hasher(&self) -> ConnHasher {
        ConnHasher {
            key: self.key,
            acc: 0,
        }
    }
}

#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Hashes one `ConnKey` (`write_u64`); other writes fold in too, slower,
/// so the type stays a correct `Hasher` for any key.
#[derive(Clone, Debug)]
pub(crate) struct ConnHasher {
    key: [u64; 4],
    acc: u64,
}

impl Hasher for ConnHasher {
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.acc = folded_multiply(self.acc ^ x ^ self.key[0], self.key[1]);
    }

    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.acc ^ self.key[2], self.key[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn h(b: &ConnHashBuilder, k: ConnKey) -> u64 {
        b.hash_one(k)
    }

    #[test]
    fn conn_key_distinct_tuples_distinct_keys() {
        let r = |ip: u32, port| SocketAddrV4::new(Ipv4Addr::from(ip), port);
        let a = ConnKey::new(80, r(0xc612_0002, 40000));
        assert_ne!(a, ConnKey::new(81, r(0xc612_0002, 40000)));
        assert_ne!(a, ConnKey::new(80, r(0xc612_0003, 40000)));
        assert_ne!(a, ConnKey::new(80, r(0xc612_0002, 40001)));
        assert_eq!(a, ConnKey::new(80, r(0xc612_0002, 40000)));
    }

    #[test]
    fn conn_hash_depends_on_the_secret() {
        let k = ConnKey::new(80, SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40000));
        let a = ConnHashBuilder::new(&[1; 16]);
        let b = ConnHashBuilder::new(&[2; 16]);
        assert_eq!(h(&a, k), h(&a, k));
        assert_ne!(h(&a, k), h(&b, k));
    }

    #[test]
    fn conn_hash_spreads_sequential_ports_over_buckets() {
        // Low bits pick hashbrown's bucket, the top 7 its control byte:
        // 4096 consecutive source ports (what a scanner sends) must not
        // pile into a few buckets of a 4096-bucket table.
        let b = ConnHashBuilder::new(&[7; 16]);
        let mut low = vec![0u32; 4096];
        let mut top = [0u32; 128];
        for p in 0..4096u16 {
            let k = ConnKey::new(80, SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), p));
            let x = h(&b, k);
            low[(x & 4095) as usize] += 1;
            top[(x >> 57) as usize] += 1;
        }
        assert!(*low.iter().max().unwrap() <= 8, "{:?}", low.iter().max());
        assert!(*top.iter().max().unwrap() <= 64, "{:?}", top.iter().max());
    }
}
