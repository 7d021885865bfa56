//! The `[https]` section: HTTPS (TLS 1.3, and 1.2 unless turned off) on the
//! bypass stack, serving the same object store as `[services] http_port`.
//! Absent = off.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::validate::{invalid, ConfigError};

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

impl HttpsSection {
    /// `other_ports`: the TCP ports other services already use, with their key.
    pub(super) fn validate(&self, other_ports: &[(&'static str, u16)]) -> Result<(), ConfigError> {
        if self.port == 0 {
            return Err(invalid(
                "https.port",
                self.port,
                "set a TCP port for HTTPS (443), or remove the [https] section to turn it off",
            ));
        }
        if let Some((key, _)) = other_ports.iter().find(|(_, p)| *p != 0 && *p == self.port) {
            return Err(invalid(
                "https.port",
                self.port,
                format!("{key} already uses this port: pick another for one of them"),
            ));
        }
        match (&self.cert, &self.key) {
            (Some(_), None) => {
                return Err(invalid(
                    "https.key",
                    "(absent)",
                    "https.cert is set: name its private key too (PEM), or remove both to use a generated self-signed certificate",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "https.cert",
                    "(absent)",
                    "https.key is set: name its certificate chain too (PEM), or remove both to use a generated self-signed certificate",
                ))
            }
            (Some(_), Some(_)) if self.write_generated_cert.is_some() => {
                return Err(invalid(
                    "https.write_generated_cert",
                    &self.write_generated_cert,
                    "only a generated certificate is written: remove this key, or remove https.cert and https.key",
                ))
            }
            _ => {}
        }
        if self.session_cache > MAX_SESSION_CACHE {
            return Err(invalid(
                "https.session_cache",
                self.session_cache,
                format!("must be at most {MAX_SESSION_CACHE} entries (0 turns the cache off)"),
            ));
        }
        if !(100..=600_000).contains(&self.handshake_timeout_ms) {
            return Err(invalid(
                "https.handshake_timeout_ms",
                self.handshake_timeout_ms,
                "must be between 100 and 600000 (10 minutes)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(s: &HttpsSection) -> Option<&'static str> {
        s.validate(&[("services.http_port", 80)])
            .err()
            .and_then(|e| e.key())
    }

    #[test]
    fn default_section_is_valid_and_listens_on_443() {
        let s = HttpsSection::default();
        assert_eq!(s.port, 443);
        assert_eq!(key_of(&s), None);
    }

    #[test]
    fn cert_without_key_names_https_key() {
        let s = HttpsSection {
            cert: Some("/c.pem".into()),
            ..HttpsSection::default()
        };
        assert_eq!(key_of(&s), Some("https.key"));
        let s = HttpsSection {
            key: Some("/k.pem".into()),
            ..HttpsSection::default()
        };
        assert_eq!(key_of(&s), Some("https.cert"));
    }

    #[test]
    fn port_clash_with_http_names_https_port() {
        let s = HttpsSection {
            port: 80,
            ..HttpsSection::default()
        };
        let e = s.validate(&[("services.http_port", 80)]).unwrap_err();
        assert_eq!(e.key(), Some("https.port"));
        assert!(e.to_string().contains("services.http_port"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let s = HttpsSection {
            handshake_timeout_ms: 5,
            ..HttpsSection::default()
        };
        assert_eq!(key_of(&s), Some("https.handshake_timeout_ms"));
        let s = HttpsSection {
            session_cache: MAX_SESSION_CACHE + 1,
            ..HttpsSection::default()
        };
        assert_eq!(key_of(&s), Some("https.session_cache"));
        let s = HttpsSection {
            cert: Some("/c".into()),
            key: Some("/k".into()),
            write_generated_cert: Some("/w".into()),
            ..HttpsSection::default()
        };
        assert_eq!(key_of(&s), Some("https.write_generated_cert"));
    }

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
