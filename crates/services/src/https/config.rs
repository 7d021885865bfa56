//! The TLS server configuration (built once, shared read-only by every
//! worker), the per-worker counters, and why handshakes fail.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::ServerConfig;

use super::cert::{self, CertError, Identity};
use super::clock::{TimedTickets, TlsClock};
use super::section::HttpsSection;

/// What `HttpsService` needs besides the HTTP config.
#[derive(Clone, Debug)]
pub struct HttpsConfig {
    /// One per worker (see [`HttpsConfig::for_worker`]), all sharing one
    /// session cache and one ticketer, so a client resumes on whichever
    /// queue RSS puts its next connection. The cache has a mutex, taken once
    /// per handshake (never per record).
    pub tls: Arc<ServerConfig>,
    /// rustls's time, fed from the worker's `now` (`tls.time_provider`).
    pub clock: Arc<TlsClock>,
    /// A client must complete its handshake within this.
    pub handshake_timeout: Duration,
}

/// What the daemon builds from `[https]` before starting the workers.
#[derive(Debug)]
pub struct HttpsSetup {
    pub port: u16,
    pub config: HttpsConfig,
    /// The certificate when it was generated (PEM), for `--cacert`.
    pub generated_pem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpsSetupError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("TLS configuration: {0} (check that https.key belongs to https.cert)")]
    Tls(#[from] rustls::Error),
}

/// Options of the TLS server, independent of where the identity came from.
#[derive(Clone, Copy, Debug)]
pub struct TlsOptions {
    pub tls12: bool,
    pub session_cache: usize,
    pub tickets: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            tls12: true,
            session_cache: 4096,
            tickets: true,
        }
    }
}

/// The crypto provider: *ring* (see the module docs for why).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server config: TLS 1.3 (+ 1.2), ALPN `http/1.1`, resumption.
pub fn server_config(
    id: Identity,
    opts: TlsOptions,
    clock: Arc<TlsClock>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(id.chain, id.key)?;
    //= https://www.rfc-editor.org/rfc/rfc7301#section-3.2
    //# In the event that the server supports no
    //# protocols that the client advertises, then the server SHALL respond
    //# with a fatal "no_application_protocol" alert.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg.session_storage = if opts.session_cache == 0 {
        Arc::new(NoServerSessionStorage {})
    } else {
        ServerSessionMemoryCache::new(opts.session_cache)
    };
    if opts.tickets {
        cfg.ticketer = rustls::crypto::ring::Ticketer::new()?;
    }
    cfg.time_provider = clock;
    Ok(Arc::new(cfg))
}

impl HttpsConfig {
    /// The same TLS configuration with its own clock, for one worker:
    /// session cache and ticket keys stay shared (Arc clones), ticket
    /// lifetime is checked on this worker's clock.
    pub fn for_worker(&self) -> HttpsConfig {
        let clock = TlsClock::new(self.clock.epoch());
        let mut tls = ServerConfig::clone(&self.tls);
        tls.time_provider = clock.clone();
        if tls.ticketer.enabled() {
            tls.ticketer = Arc::new(TimedTickets::new(tls.ticketer.clone(), clock.clone()));
        }
        HttpsConfig {
            tls: Arc::new(tls),
            clock,
            handshake_timeout: self.handshake_timeout,
        }
    }
}

impl HttpsSetup {
    /// From the `[https]` section; `addr` names a generated certificate;
    /// `epoch` is the UNIX time at the workers' `Instant::ZERO`.
    pub fn from_section(
        s: &HttpsSection,
        addr: Ipv4Addr,
        epoch: Duration,
    ) -> Result<Self, HttpsSetupError> {
        let id = match (&s.cert, &s.key) {
            (Some(c), Some(k)) => cert::load_pem(c, k)?,
            _ => {
                let id = cert::self_signed(addr)?;
                if let (Some(path), Some(pem)) = (&s.write_generated_cert, &id.generated_pem) {
                    cert::write_pem(path, pem)?;
                }
                id
            }
        };
        let generated_pem = id.generated_pem.clone();
        let clock = TlsClock::new(epoch);
        let tls = server_config(
            id,
            TlsOptions {
                tls12: s.tls12,
                session_cache: s.session_cache,
                tickets: s.tickets,
            },
            clock.clone(),
        )?;
        Ok(HttpsSetup {
            port: s.port,
            config: HttpsConfig {
                tls,
                clock,
                handshake_timeout: Duration::from_millis(s.handshake_timeout_ms),
            },
            generated_pem,
        })
    }
}

/// Why a TLS connection was given up; bounded, for the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// The handshake did not finish within the timeout.
    Timeout,
    /// The peer closed (or truncated a record and closed) mid-handshake.
    Eof,
    /// The TCP connection was reset or timed out.
    Reset,
    /// Bytes that are no TLS record or message (garbage, oversized record).
    DecodeError,
    /// A version this server does not speak (e.g. 1.2 with `tls12 = false`).
    UnsupportedVersion,
    /// No cipher suite, group, signature scheme, ... in common.
    Incompatible,
    /// ALPN offered without `http/1.1`.
    NoAlpn,
    /// A message out of place in the protocol.
    UnexpectedMessage,
    /// A record that does not decrypt.
    DecryptError,
    /// The peer broke another protocol rule.
    PeerMisbehaved,
    /// The peer sent a fatal alert.
    AlertReceived,
    Other,
}

impl FailReason {
    pub const ALL: [FailReason; 12] = [
        FailReason::Timeout,
        FailReason::Eof,
        FailReason::Reset,
        FailReason::DecodeError,
        FailReason::UnsupportedVersion,
        FailReason::Incompatible,
        FailReason::NoAlpn,
        FailReason::UnexpectedMessage,
        FailReason::DecryptError,
        FailReason::PeerMisbehaved,
        FailReason::AlertReceived,
        FailReason::Other,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::Eof => "eof",
            FailReason::Reset => "reset",
            FailReason::DecodeError => "decode_error",
            FailReason::UnsupportedVersion => "unsupported_version",
            FailReason::Incompatible => "incompatible",
            FailReason::NoAlpn => "no_alpn",
            FailReason::UnexpectedMessage => "unexpected_message",
            FailReason::DecryptError => "decrypt_error",
            FailReason::PeerMisbehaved => "peer_misbehaved",
            FailReason::AlertReceived => "alert_received",
            FailReason::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    pub fn of(e: &rustls::Error) -> FailReason {
        use rustls::{Error as E, PeerIncompatible as P};
        match e {
            // rustls answers a record header over its size limit with
            // decode_error, where RFC 8446 asks for record_overflow:
            //= https://www.rfc-editor.org/rfc/rfc8446#section-5.1
            //# An endpoint that receives a record that exceeds this
            //# length MUST terminate the connection with a "record_overflow"
            //# alert.
            // Either way the connection ends with a fatal alert; counted here.
            E::InvalidMessage(_) | E::PeerSentOversizedRecord => FailReason::DecodeError,
            E::PeerIncompatible(
                P::SupportedVersionsExtensionRequired
                | P::Tls12NotOffered
                | P::Tls12NotOfferedOrEnabled
                | P::ServerDoesNotSupportTls12Or13,
            ) => FailReason::UnsupportedVersion,
            E::PeerIncompatible(_) => FailReason::Incompatible,
            E::NoApplicationProtocol => FailReason::NoAlpn,
            E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
                FailReason::UnexpectedMessage
            }
            E::DecryptError => FailReason::DecryptError,
            E::PeerMisbehaved(_) => FailReason::PeerMisbehaved,
            E::AlertReceived(_) => FailReason::AlertReceived,
            _ => FailReason::Other,
        }
    }
}

/// One worker's TLS counters.
#[derive(Clone, Debug, Default)]
pub struct TlsCounters {
    pub handshakes_full: u64,
    pub handshakes_resumed: u64,
    pub tls13: u64,
    pub tls12: u64,
    /// Failed handshakes, by `FailReason` index.
    handshake_failed: [u64; FailReason::ALL.len()],
    /// Established connections given up on a TLS error, by `FailReason`.
    errors: [u64; FailReason::ALL.len()],
    /// Fatal alerts we sent (written to TCP before closing).
    pub alerts_sent: u64,
    /// Application bytes decrypted from clients / encrypted to them.
    pub bytes_decrypted: u64,
    pub bytes_encrypted: u64,
}

impl TlsCounters {
    pub fn handshake_failed_of(&self, r: FailReason) -> u64 {
        self.handshake_failed[r.index()]
    }

    pub fn errors_of(&self, r: FailReason) -> u64 {
        self.errors[r.index()]
    }

    pub fn handshakes_failed(&self) -> u64 {
        self.handshake_failed.iter().sum()
    }

    pub(super) fn count_failure(&mut self, r: FailReason, in_handshake: bool) {
        if in_handshake {
            self.handshake_failed[r.index()] += 1;
        } else {
            self.errors[r.index()] += 1;
        }
    }
}
