//! DNS server cookies (RFC 7873) in the interoperable format of RFC 9018.
//! A valid server cookie proves the client saw an earlier response of ours
//! at its source address, so the address is not spoofed and the amplification
//! cap can be lifted for it.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

use super::parse::CLIENT_COOKIE_LEN;

/// Version 1 server cookie: version, 3 reserved, timestamp, hash.
pub(crate) const SERVER_COOKIE_LEN: usize = 16;
const VERSION: u8 = 1;

// RFC 9018 section 4.3: a server cookie stamped more than an hour ago, or
// more than five minutes ahead of our clock, is not valid.
const MAX_AGE_SECS: i64 = 3_600;
const MAX_FUTURE_SECS: i64 = 300;

/// Mints and checks server cookies with one secret.
#[derive(Clone)]
pub(crate) struct CookieJar {
    secret: [u8; 16],
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieJar { secret: <redacted> }")
    }
}

impl CookieJar {
    pub(crate) fn new(secret: [u8; 16]) -> Self {
        CookieJar { secret }
    }

    /// A fresh server cookie for this client cookie, address and time.
    pub(crate) fn mint(
        &self,
        client_cookie: &[u8; CLIENT_COOKIE_LEN],
        client: IpAddr,
        now_unix_secs: u32,
    ) -> [u8; SERVER_COOKIE_LEN] {
        let mut out = [0u8; SERVER_COOKIE_LEN];
        out[0] = VERSION;
        out[4..8].copy_from_slice(&now_unix_secs.to_be_bytes());
        let hash = self.hash(client_cookie, &out[..8], client);
        out[8..].copy_from_slice(&hash);
        out
    }

    /// Whether `server` is a cookie we minted for this client cookie and
    /// address, recently enough.
    pub(crate) fn verify(
        &self,
        client_cookie: &[u8; CLIENT_COOKIE_LEN],
        server: &[u8],
        client: IpAddr,
        now_unix_secs: u32,
    ) -> bool {
        let Ok(server) = <&[u8; SERVER_COOKIE_LEN]>::try_from(server) else {
            return false;
        };
        if server[0] != VERSION {
            return false;
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        // Serial-number arithmetic (RFC 1982): the stamp wraps in 2106.
        let age = i64::from(now_unix_secs.wrapping_sub(stamp) as i32);
        if !(-MAX_FUTURE_SECS..=MAX_AGE_SECS).contains(&age) {
            return false;
        }
        let expected = self.hash(client_cookie, &server[..8], client);
        // Not constant-time; a timing oracle over UDP on an 8-byte SipHash
        // tag is not a practical threat to an amplification check.
        expected == server[8..]
    }

    //= https://www.rfc-editor.org/rfc/rfc9018#section-4.4
    //# Hash = SipHash-2-4(
    //#     Client Cookie | Version | Reserved | Timestamp | Client-IP,
    //#     Server Secret )
    fn hash(&self, client_cookie: &[u8], head: &[u8], client: IpAddr) -> [u8; 8] {
        let mut h = SipHasher24::new_with_key(&self.secret);
        h.write(client_cookie);
        h.write(head);
        match client {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.finish().to_le_bytes()
    }
}
