//! The `[https]` config section: HTTPS (TLS 1.3, and 1.2 unless turned
//! off) on the bypass stack, serving the same object store as
//! `[services] http_port`. Absent = off. The daemon's config embeds it and
//! checks its values (config/https.rs).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpsSection {
    /// TCP port of the TLS listener (443).
    pub port: u16,
    /// PEM file with the certificate chain, leaf first. With `key`; both
    /// absent = a throwaway self-signed certificate for our address.
    pub cert: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// Offer TLS 1.2 to clients without 1.3 (true).
    pub tls12: bool,
    /// Server-side session cache entries for resumption; 0 = none (4096).
    pub session_cache: usize,
    /// Stateless resumption with session tickets (true).
    pub tickets: bool,
    /// A client must finish its handshake within this, else it is closed (10 s).
    pub handshake_timeout_ms: u64,
    /// Where to write the generated self-signed certificate (PEM), so a
    /// client can trust it (`curl --cacert`). Only without `cert`/`key`.
    pub write_generated_cert: Option<PathBuf>,
}

impl Default for HttpsSection {
    fn default() -> Self {
        HttpsSection {
            port: 443,
            cert: None,
            key: None,
            tls12: true,
            session_cache: 4096,
            tickets: true,
            handshake_timeout_ms: 10_000,
            write_generated_cert: None,
        }
    }
}

/// Largest `session_cache`: entries hold a few hundred bytes each.
pub const MAX_SESSION_CACHE: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_parses_from_toml_with_every_key() {
        let s: HttpsSection = toml::from_str(
            "port = 8443\ncert = \"/c.pem\"\nkey = \"/k.pem\"\ntls12 = false\nsession_cache = 0\ntickets = false\nhandshake_timeout_ms = 2000\n",
        )
        .unwrap();
        assert_eq!(s.port, 8443);
        assert!(!s.tls12 && !s.tickets);
        assert_eq!(s.session_cache, 0);
        assert!(toml::from_str::<HttpsSection>("prot = 1\n").is_err());
    }
}
