//! Validation of the `[https]` section (the section itself belongs to the
//! HTTPS service: `xskd_services::https::HttpsSection`).

use xskd_services::https::{HttpsSection, MAX_SESSION_CACHE};

use super::error::{invalid, ConfigError};

/// `other_ports`: the TCP ports other services already use, with their key.
pub(super) fn validate(
    s: &HttpsSection,
    other_ports: &[(&'static str, u16)],
) -> Result<(), ConfigError> {
    if s.port == 0 {
        return Err(invalid(
            "https.port",
            s.port,
            "set a TCP port for HTTPS (443), or remove the [https] section to turn it off",
        ));
    }
    if let Some((key, _)) = other_ports.iter().find(|(_, p)| *p != 0 && *p == s.port) {
        return Err(invalid(
            "https.port",
            s.port,
            format!("{key} already uses this port: pick another for one of them"),
        ));
    }
    match (&s.cert, &s.key) {
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
        (Some(_), Some(_)) if s.write_generated_cert.is_some() => {
            return Err(invalid(
                "https.write_generated_cert",
                &s.write_generated_cert,
                "only a generated certificate is written: remove this key, or remove https.cert and https.key",
            ))
        }
        _ => {}
    }
    if s.session_cache > MAX_SESSION_CACHE {
        return Err(invalid(
            "https.session_cache",
            s.session_cache,
            format!("must be at most {MAX_SESSION_CACHE} entries (0 turns the cache off)"),
        ));
    }
    if !(100..=600_000).contains(&s.handshake_timeout_ms) {
        return Err(invalid(
            "https.handshake_timeout_ms",
            s.handshake_timeout_ms,
            "must be between 100 and 600000 (10 minutes)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(s: &HttpsSection) -> Option<&'static str> {
        validate(s, &[("services.http_port", 80)])
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
        let e = validate(&s, &[("services.http_port", 80)]).unwrap_err();
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
}
