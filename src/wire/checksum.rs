//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! `sum` returns the unfolded 32-bit accumulation of big-endian 16-bit words,
//! so partial sums over a pseudo-header and a payload can be added before
//! folding once with `finish`.

use std::net::Ipv4Addr;

/// Unfolded one's-complement accumulation of `data` as big-endian 16-bit
/// words; an odd trailing byte is padded with zero.
pub fn sum(data: &[u8]) -> u32 {
    // Big-endian 32-bit words added into a 64-bit accumulator: a 32-bit
    // word hi:lo is congruent to hi + lo modulo 0xffff, so folding at the
    // end gives the RFC 1071 sum with half the additions (RFC 1071 2(B)).
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            + u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]))
            + u64::from(u32::from_be_bytes([c[8], c[9], c[10], c[11]]))
            + u64::from(u32::from_be_bytes([c[12], c[13], c[14], c[15]]));
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    // Fold to 16 bits here: the result must stay a valid input to `add`.
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// Fold carries into 16 bits (not complemented).
pub fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum field value for an accumulated sum.
pub fn finish(s: u32) -> u16 {
    !fold(s)
}

/// Add two accumulations without losing carries.
pub fn add(a: u32, b: u32) -> u32 {
    let (r, carry) = a.overflowing_add(b);
    r + u32::from(carry)
}

/// The IPv4 pseudo-header accumulation for TCP and UDP (RFC 793 3.1, RFC 768).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(protocol)
        + u32::from(length)
}

/// True when `data` (which includes its checksum field) sums to all ones,
/// i.e. the stored checksum is right.
pub fn verify(data: &[u8]) -> bool {
    fold(sum(data)) == 0xffff
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit field changed from
/// `old` to `new`, without re-summing the packet.
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!checksum) + u32::from(!old) + u32::from(new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(finish(sum(&data)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_last_byte() {
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn known_ipv4_header_verifies() {
        // A real header (checksum 0xb861) from RFC 1071 errata-style examples.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(verify(&hdr));
        let mut bad = hdr;
        bad[11] ^= 1;
        assert!(!verify(&bad));
    }

    fn naive(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    proptest! {
        #[test]
        fn wide_sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(fold(sum(&data)), naive(&data));
        }

        #[test]
        fn incremental_update_matches_full_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 4..200),
            idx in 0usize..100,
            new in any::<u16>(),
        ) {
            let len = data.len() & !1;
            data.truncate(len);
            let i = (idx % (len / 2)) * 2;
            let before = finish(sum(&data));
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let after = finish(sum(&data));
            // One's complement has two zeros; compare folded equivalence.
            let inc = update(before, old, new);
            prop_assert!(inc == after || (inc == 0xffff && after == 0) || (inc == 0 && after == 0xffff));
        }
    }
}
