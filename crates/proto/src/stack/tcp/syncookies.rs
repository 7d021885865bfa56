//! Initial sequence numbers (RFC 6528) and SYN cookies (RFC 4987 3.6).
//!
//! Both are keyed SipHash-2-4 over the 4-tuple with a secret injected at
//! start-up, so a test can replay a run and an attacker cannot predict them.

use std::hash::Hasher;
use std::net::SocketAddrV4;

use siphasher::sip::SipHasher24;
use siphasher::sip128::{Hasher128, SipHasher24 as SipHasher24x128};

use super::seq::SeqNumber;
use crate::time::Instant;

fn keyed(key: &[u8; 16]) -> SipHasher24 {
    let mut k0 = [0u8; 8];
    let mut k1 = [0u8; 8];
    k0.copy_from_slice(&key[..8]);
    k1.copy_from_slice(&key[8..]);
    SipHasher24::new_with_keys(u64::from_le_bytes(k0), u64::from_le_bytes(k1))
}

fn hash_tuple(h: &mut SipHasher24, local: SocketAddrV4, remote: SocketAddrV4) {
    h.write(&local.ip().octets());
    h.write(&local.port().to_be_bytes());
    h.write(&remote.ip().octets());
    h.write(&remote.port().to_be_bytes());
}

/// The secret function of the 4-tuple behind both the ISN offset and the
/// TSval offset: one SipHash-2-4 with 128-bit output, a half for each, so
/// a connection costs one keyed hash instead of two (each half is an
/// independent PRF output: learning the TSval offset, which a peer can
/// estimate, tells nothing about the ISN offset).
fn tuple_secrets(key: &[u8; 16], local: SocketAddrV4, remote: SocketAddrV4) -> (u32, u32) {
    let mut k0 = [0u8; 8];
    let mut k1 = [0u8; 8];
    k0.copy_from_slice(&key[..8]);
    k1.copy_from_slice(&key[8..]);
    let mut h = SipHasher24x128::new_with_keys(u64::from_le_bytes(k0), u64::from_le_bytes(k1));
    h.write(&local.ip().octets());
    h.write(&local.port().to_be_bytes());
    h.write(&remote.ip().octets());
    h.write(&remote.port().to_be_bytes());
    let out = Hasher128::finish128(&h);
    (out.h1 as u32, out.h2 as u32)
}

//= https://www.rfc-editor.org/rfc/rfc6528#section-3
//# ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//# where M is the 4 microsecond timer
pub(crate) fn isn(
    key: &[u8; 16],
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
) -> SeqNumber {
    isn_and_ts_offset(key, now, local, remote).0
}

/// Per-connection TSval offset (RFC 7323 7.1: a random offset per
/// connection so TSvals do not reveal the host clock). Derived from the
/// 4-tuple so a stateless cookie SYN-ACK and the connection built later agree.
pub(crate) fn ts_offset(key: &[u8; 16], local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
    tuple_secrets(key, local, remote).1
}

/// `isn` and `ts_offset` of a new connection from one keyed hash.
pub(crate) fn isn_and_ts_offset(
    key: &[u8; 16],
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
) -> (SeqNumber, u32) {
    let (f, tso) = tuple_secrets(key, local, remote);
    let m = (now.as_micros() / 4) as u32;
    (SeqNumber(m.wrapping_add(f)), tso)
}

/// MSS values a cookie can carry (3 bits), smallest first; the peer's MSS is
/// rounded down to one of these.
pub(crate) const MSS_TABLE: [u16; 8] = [536, 1200, 1220, 1300, 1360, 1400, 1440, 1460];

/// Cookie time step: 64 s, as Linux. A cookie is valid for the current and
/// the previous step.
const STEP_SECS: u64 = 64;

/// Options the cookie carries through the SYN-ACK's TSval (only possible
/// when the peer sent timestamps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CookieOptions {
    pub wscale: Option<u8>,
    pub sack: bool,
}

/// Layout of the cookie: [5 bits time step][3 bits MSS index][24 bits MAC].
pub(crate) fn encode(
    key: &[u8; 16],
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    peer_isn: SeqNumber,
    peer_mss: u16,
) -> (SeqNumber, u16) {
    let idx = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
    let step = now.as_millis() / 1000 / STEP_SECS;
    let t = (step % 32) as u32;
    let mac = mac(key, local, remote, peer_isn, t, idx as u32);
    (
        SeqNumber((t << 27) | ((idx as u32) << 24) | mac),
        MSS_TABLE[idx],
    )
}

fn mac(
    key: &[u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    peer_isn: SeqNumber,
    t: u32,
    idx: u32,
) -> u32 {
    let mut h = keyed(key);
    hash_tuple(&mut h, local, remote);
    h.write(&peer_isn.0.to_be_bytes());
    h.write(&t.to_be_bytes());
    h.write(&idx.to_be_bytes());
    (h.finish() as u32) & 0x00ff_ffff
}

/// Check a cookie echoed as `SEG.ACK - 1` by an ACK with `SEG.SEQ - 1` as
/// the peer's ISN; returns the MSS it carries.
pub(crate) fn decode(
    key: &[u8; 16],
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    peer_isn: SeqNumber,
    cookie: SeqNumber,
) -> Option<u16> {
    let c = cookie.0;
    let t = c >> 27;
    let idx = (c >> 24) & 7;
    let step = now.as_millis() / 1000 / STEP_SECS;
    let cur = (step % 32) as u32;
    let prev = (step.wrapping_sub(1) % 32) as u32;
    if t != cur && !(step > 0 && t == prev) {
        return None;
    }
    (mac(key, local, remote, peer_isn, t, idx) == c & 0x00ff_ffff).then(|| MSS_TABLE[idx as usize])
}

/// Fold negotiated options into the low 5 bits of a TSval.
pub(crate) fn encode_ts(now_ms: u32, opts: CookieOptions) -> u32 {
    let ws = u32::from(opts.wscale.map_or(0xf, |w| w.min(14)));
    (now_ms & !0x1f) | ws | (u32::from(opts.sack) << 4)
}

pub(crate) fn decode_ts(tsecr: u32) -> CookieOptions {
    let ws = (tsecr & 0xf) as u8;
    CookieOptions {
        wscale: (ws != 0xf).then_some(ws),
        sack: tsecr & 0x10 != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const KEY: [u8; 16] = *b"0123456789abcdef";
    fn l() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80)
    }
    fn r() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40000)
    }

    #[test]
    fn cookie_round_trips_with_mss_rounded_down() {
        let now = Instant::from_secs(1000);
        let (c, mss) = encode(&KEY, now, l(), r(), SeqNumber(7), 1380);
        assert_eq!(mss, 1360);
        assert_eq!(decode(&KEY, now, l(), r(), SeqNumber(7), c), Some(1360));
    }

    #[test]
    fn cookie_with_wrong_tuple_or_isn_or_key_fails() {
        let now = Instant::from_secs(1000);
        let (c, _) = encode(&KEY, now, l(), r(), SeqNumber(7), 1460);
        let other = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 3), 40000);
        assert_eq!(decode(&KEY, now, l(), other, SeqNumber(7), c), None);
        assert_eq!(decode(&KEY, now, l(), r(), SeqNumber(8), c), None);
        assert_eq!(
            decode(b"fedcba9876543210", now, l(), r(), SeqNumber(7), c),
            None
        );
        assert_eq!(decode(&KEY, now, l(), r(), SeqNumber(7), c + 1u32), None);
    }

    #[test]
    fn cookie_expires_after_two_steps() {
        let now = Instant::from_secs(1000);
        let (c, _) = encode(&KEY, now, l(), r(), SeqNumber(7), 1460);
        let later = now + std::time::Duration::from_secs(STEP_SECS);
        assert!(decode(&KEY, later, l(), r(), SeqNumber(7), c).is_some());
        let much_later = now + std::time::Duration::from_secs(3 * STEP_SECS);
        assert_eq!(decode(&KEY, much_later, l(), r(), SeqNumber(7), c), None);
    }

    #[test]
    fn cookie_ts_options_round_trip() {
        for o in [
            CookieOptions {
                wscale: Some(7),
                sack: true,
            },
            CookieOptions {
                wscale: None,
                sack: false,
            },
            CookieOptions {
                wscale: Some(0),
                sack: false,
            },
        ] {
            assert_eq!(decode_ts(encode_ts(123456, o)), o);
        }
    }

    #[test]
    fn isn_and_ts_offset_from_one_hash_agree_with_each_alone() {
        let now = Instant::from_secs(5);
        let (i, t) = isn_and_ts_offset(&KEY, now, l(), r());
        assert_eq!(i, isn(&KEY, now, l(), r()));
        assert_eq!(t, ts_offset(&KEY, l(), r()));
        // The two halves are independent outputs, not one value twice.
        assert_ne!(t, isn(&KEY, Instant::ZERO, l(), r()).0);
        assert_ne!(t, ts_offset(&[8; 16], l(), r()));
    }

    #[test]
    fn isn_is_monotone_with_clock_and_differs_by_tuple() {
        let a = isn(&KEY, Instant::from_secs(1), l(), r());
        let b = isn(&KEY, Instant::from_secs(2), l(), r());
        assert_eq!(b - a, 250_000, "4 us ticks");
        let other = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40001);
        assert_ne!(isn(&KEY, Instant::from_secs(1), l(), other), a);
    }
}
