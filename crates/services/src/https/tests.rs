//! The sans-IO TLS glue against an in-memory rustls client (no TCP).

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::cert::{self, Identity};
use super::clock::TlsClock;
use super::config::{provider, server_config};

/// The UNIX time the tests' `Instant::ZERO` stands for.
const TEST_EPOCH: Duration = Duration::from_secs(1_790_000_000);
use super::*;
use crate::http::{Method, Store, StoreConfig};

pub(super) const S: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(super) const C: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// The service side of one connection: everything `Ctx`/`TlsCtx` borrow.
pub(super) struct Side {
    pub(super) http_cfg: HttpConfig,
    pub(super) https: HttpsConfig,
    pub(super) store: SharedStore,
    counters: HttpCounters,
    service_time: Histogram<u64>,
    date: DateCache,
    tls: TlsCounters,
    hs_time: Histogram<u64>,
    gather: Vec<u8>,
}

impl Side {
    pub(super) fn new(opts: TlsOptions) -> (Side, CertificateDer<'static>) {
        let id = cert::self_signed(S).unwrap();
        let clock = TlsClock::new(TEST_EPOCH);
        let leaf = id.chain[0].clone();
        let side = Side {
            http_cfg: HttpConfig::default(),
            https: HttpsConfig {
                tls: server_config(id, opts, clock.clone()).unwrap(),
                clock,
                handshake_timeout: Duration::from_secs(5),
            },
            store: Store::shared(StoreConfig::default()),
            counters: HttpCounters::default(),
            service_time: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).unwrap(),
            date: DateCache::default(),
            tls: TlsCounters::default(),
            hs_time: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).unwrap(),
            gather: vec![0; tls::GATHER],
        };
        (side, leaf)
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut Ctx<'_>, &mut TlsCtx<'_>) -> R) -> R {
        let mut ctx = Ctx {
            cfg: &self.http_cfg,
            store: &self.store,
            counters: &mut self.counters,
            service_time: &mut self.service_time,
            date: &mut self.date,
            clock: crate::http::turn_clock,
            tls: true,
        };
        let mut t = TlsCtx {
            counters: &mut self.tls,
            handshake_time: &mut self.hs_time,
            gather: &mut self.gather,
        };
        f(&mut ctx, &mut t)
    }
}

pub(super) fn client_config(leaf: &CertificateDer<'static>, tls12_only: bool) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(leaf.clone()).unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

pub(super) fn client(cfg: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(cfg.clone(), ServerName::from(std::net::IpAddr::V4(S))).unwrap()
}

/// One server connection and an in-memory client, carried byte by byte.
pub(super) struct Pair {
    pub(super) side: Side,
    server: TlsHttp,
    /// Client to server bytes not yet taken (the server's input room).
    c2s: Vec<u8>,
    /// Everything the server sent, raw (for alerts).
    pub(super) s2c: Vec<u8>,
    /// Plaintext the client got.
    pub(super) got: Vec<u8>,
    /// Most bytes "TCP" takes per send call (backpressure).
    send_cap: usize,
    now: Instant,
}

impl Pair {
    pub(super) fn new(side: Side) -> Pair {
        let now = Instant::from_secs(1);
        let server = TlsHttp::new(now, &side.https, &side.http_cfg).unwrap();
        Pair {
            side,
            server,
            c2s: Vec::new(),
            s2c: Vec::new(),
            got: Vec::new(),
            send_cap: usize::MAX,
            now,
        }
    }

    /// Run until quiet. `client` may be absent (raw bytes in `c2s`).
    pub(super) fn pump(&mut self, mut client: Option<&mut ClientConnection>) {
        for _ in 0..100_000 {
            let mut moved = false;
            if let Some(c) = client.as_deref_mut() {
                while c.wants_write() {
                    c.write_tls(&mut self.c2s).unwrap();
                }
            }
            let n = self.server.input_room().min(self.c2s.len());
            if n > 0 {
                let data: Vec<u8> = self.c2s.drain(..n).collect();
                let (server, now) = (&mut self.server, self.now);
                self.side
                    .with(|ctx, t| server.on_ciphertext(now, &data, ctx, t));
                moved = true;
            }
            let before = self.s2c.len();
            let (server, now, s2c, cap) =
                (&mut self.server, self.now, &mut self.s2c, self.send_cap);
            self.side.with(|ctx, t| {
                server.write_out(now, ctx, t, |b| {
                    let k = b.len().min(cap);
                    s2c.extend_from_slice(&b[..k]);
                    k
                })
            });
            let fresh = self.s2c[before..].to_vec();
            if !fresh.is_empty() {
                moved = true;
                if let Some(c) = client.as_deref_mut() {
                    let mut rd = &fresh[..];
                    while !rd.is_empty() {
                        c.read_tls(&mut rd).unwrap();
                        if c.process_new_packets().is_err() {
                            break;
                        }
                        let mut buf = [0u8; 8192];
                        while let Ok(k) = c.reader().read(&mut buf) {
                            if k == 0 {
                                break;
                            }
                            self.got.extend_from_slice(&buf[..k]);
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("pump did not settle");
    }
}

fn alert_at_end(raw: &[u8]) -> Option<u8> {
    // An unencrypted fatal alert: 15 03 0x 00 02 02 <description>.
    let n = raw.len();
    (n >= 7 && raw[n - 7] == 0x15 && raw[n - 4..n - 1] == [0x00, 0x02, 0x02]).then(|| raw[n - 1])
}

#[test]
fn tls13_handshake_then_get_serves_stored_object_with_alpn() {
    let (side, leaf) = Side::new(TlsOptions::default());
    side.store
        .put("/a", crate::http::Object::new(b"hello".to_vec(), None, 0))
        .unwrap();
    let mut p = Pair::new(side);
    let cfg = client_config(&leaf, false);
    let mut c = client(&cfg);
    c.writer()
        .write_all(b"GET /a HTTP/1.1\r\nHost: s\r\n\r\n")
        .unwrap();
    p.pump(Some(&mut c));
    let text = String::from_utf8_lossy(&p.got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("hello"), "{text}");
    assert!(!p.server.is_handshaking());
    assert_eq!(p.server.alpn(), Some(&b"http/1.1"[..]));
    assert_eq!(
        p.server.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
    let t = &p.side.tls;
    assert_eq!(
        (t.handshakes_full, t.handshakes_resumed, t.tls13),
        (1, 0, 1)
    );
    assert_eq!(t.bytes_decrypted, 28);
    assert_eq!(t.bytes_encrypted, p.got.len() as u64);
    assert_eq!(p.side.hs_time.len(), 1);
    assert_eq!(p.side.counters.requests_of(Method::Get), 1);
}

fn resumes(opts: TlsOptions, tls12: bool) -> (u64, u64) {
    let (side, leaf) = Side::new(opts);
    let cfg = client_config(&leaf, tls12);
    let https = side.https.clone();
    let mut p = Pair::new(side);
    for _ in 0..2 {
        p.server = TlsHttp::new(p.now, &https, &p.side.http_cfg).unwrap();
        let mut c = client(&cfg);
        c.writer()
            .write_all(b"GET /x HTTP/1.1\r\nHost: s\r\n\r\n")
            .unwrap();
        p.pump(Some(&mut c));
        assert!(!p.server.is_handshaking());
    }
    (p.side.tls.handshakes_full, p.side.tls.handshakes_resumed)
}

/// Full and resumed handshakes of a client that returns `gap` later on the
/// workers' (virtual) clocks, to another worker if `other_worker`; tickets
/// only (no session cache), so resumption is the ticket's doing.
fn resumes_after(gap: Duration, other_worker: bool) -> (u64, u64) {
    let (side, leaf) = Side::new(TlsOptions {
        session_cache: 0,
        ..TlsOptions::default()
    });
    let cfg = client_config(&leaf, false);
    let workers = [side.https.for_worker(), side.https.for_worker()];
    let mut p = Pair::new(side);
    for round in 0..2 {
        if round == 1 {
            p.now += gap;
        }
        let w = &workers[usize::from(round == 1 && other_worker)];
        for w in &workers {
            w.clock.set(p.now);
        }
        p.server = TlsHttp::new(p.now, w, &p.side.http_cfg).unwrap();
        let mut c = client(&cfg);
        c.writer()
            .write_all(b"GET /x HTTP/1.1\r\nHost: s\r\n\r\n")
            .unwrap();
        p.pump(Some(&mut c));
        assert!(!p.server.is_handshaking());
    }
    (p.side.tls.handshakes_full, p.side.tls.handshakes_resumed)
}

#[test]
fn ticket_expiry_runs_on_the_workers_clock_not_the_system_clock() {
    // A minute of virtual time later: resumed. A day of virtual time later
    // (a few real milliseconds, past the 6 h ticket lifetime): a full
    // handshake, whatever the system clock says.
    assert_eq!(resumes_after(Duration::from_secs(60), false), (1, 1));
    assert_eq!(resumes_after(Duration::from_secs(24 * 3600), false), (2, 0));
}

#[test]
fn a_ticket_from_one_worker_resumes_on_another() {
    assert_eq!(resumes_after(Duration::from_secs(1), true), (1, 1));
}

#[test]
fn every_worker_gets_its_own_clock() {
    let (side, _) = Side::new(TlsOptions::default());
    let a = side.https.for_worker();
    let b = side.https.for_worker();
    assert!(!Arc::ptr_eq(&a.clock, &b.clock));
    a.clock.set(Instant::from_secs(10));
    b.clock.set(Instant::from_secs(20));
    let secs = |c: &HttpsConfig| c.tls.time_provider.current_time().unwrap().as_secs();
    assert_eq!(secs(&a), TEST_EPOCH.as_secs() + 10);
    assert_eq!(secs(&b), TEST_EPOCH.as_secs() + 20);
    assert!(Arc::ptr_eq(&a.tls.session_storage, &b.tls.session_storage));
}

#[test]
fn returning_client_resumes_with_tickets_and_with_cache_only_in_13_and_12() {
    let tickets = TlsOptions::default();
    let cache_only = TlsOptions {
        tickets: false,
        ..TlsOptions::default()
    };
    let none = TlsOptions {
        tickets: false,
        session_cache: 0,
        ..TlsOptions::default()
    };
    assert_eq!(resumes(tickets, false), (1, 1));
    assert_eq!(resumes(cache_only, false), (1, 1));
    assert_eq!(resumes(tickets, true), (1, 1));
    assert_eq!(resumes(cache_only, true), (1, 1));
    assert_eq!(resumes(none, false), (2, 0), "no cache, no tickets: full");
}

#[test]
fn tls12_client_against_tls13_only_server_gets_protocol_version_alert() {
    let (side, leaf) = Side::new(TlsOptions {
        tls12: false,
        ..TlsOptions::default()
    });
    let mut p = Pair::new(side);
    let mut c = client(&client_config(&leaf, true));
    p.pump(Some(&mut c));
    //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
    //# If this extension is not present, servers which are compliant with
    //# this specification and which also support TLS 1.2 MUST negotiate
    //# TLS 1.2 or prior
    // Servers without 1.2 abort with "protocol_version".
    assert_eq!(alert_at_end(&p.s2c), Some(70), "{:02x?}", p.s2c);
    assert_eq!(p.server.failed(), Some(FailReason::UnsupportedVersion));
    assert!(p.server.finished());
    assert_eq!(
        p.side
            .tls
            .handshake_failed_of(FailReason::UnsupportedVersion),
        1
    );
    assert_eq!(p.side.tls.alerts_sent, 1);
}

#[test]
fn tls12_client_negotiates_tls12_when_enabled() {
    let (side, leaf) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    let mut c = client(&client_config(&leaf, true));
    c.writer()
        .write_all(b"GET /none HTTP/1.1\r\nHost: s\r\n\r\n")
        .unwrap();
    p.pump(Some(&mut c));
    assert!(String::from_utf8_lossy(&p.got).starts_with("HTTP/1.1 404"));
    assert_eq!(p.side.tls.tls12, 1);
}

#[test]
fn alpn_without_http11_gets_no_application_protocol_alert() {
    let (side, leaf) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    let mut cfg = (*client_config(&leaf, false)).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let mut c = client(&Arc::new(cfg));
    p.pump(Some(&mut c));
    // In 1.3 the check comes with EncryptedExtensions: the alert is
    // encrypted under the handshake keys; the client reads it.
    assert_eq!(
        c.process_new_packets().unwrap_err(),
        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
    );
    assert_eq!(p.server.failed(), Some(FailReason::NoAlpn));
    assert_eq!(p.side.tls.handshake_failed_of(FailReason::NoAlpn), 1);
}

fn raw_input_fails(input: &[u8]) -> Pair {
    let (side, _) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    p.c2s.extend_from_slice(input);
    p.pump(None);
    p
}

#[test]
fn garbage_instead_of_client_hello_gets_decode_error_alert() {
    let p = raw_input_fails(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(alert_at_end(&p.s2c), Some(50), "{:02x?}", p.s2c);
    assert_eq!(p.server.failed(), Some(FailReason::DecodeError));
    assert!(p.server.finished());
    assert_eq!(p.side.tls.handshake_failed_of(FailReason::DecodeError), 1);
}

#[test]
fn record_over_size_limit_gets_alert_without_buffering_it() {
    // A handshake record header announcing 65535 bytes (> 2^14 + 256).
    let p = raw_input_fails(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x01]);
    assert_eq!(alert_at_end(&p.s2c), Some(50), "{:02x?}", p.s2c);
    assert_eq!(p.server.failed(), Some(FailReason::DecodeError));
}

#[test]
fn tls10_only_client_hello_gets_protocol_version_alert() {
    let mut hello = vec![0x03, 0x01];
    hello.extend_from_slice(&[7; 32]);
    hello.extend_from_slice(&[0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00]);
    // signature_algorithms (ecdsa_secp256r1_sha256), which rustls wants first.
    hello.extend_from_slice(&[0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    let mut hs = vec![0x01, 0x00, 0x00, hello.len() as u8];
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01, 0x00, hs.len() as u8];
    rec.extend_from_slice(&hs);
    let p = raw_input_fails(&rec);
    assert_eq!(alert_at_end(&p.s2c), Some(70), "{:02x?}", p.s2c);
    assert_eq!(p.server.failed(), Some(FailReason::UnsupportedVersion));
}

#[test]
fn truncated_record_then_eof_closes_with_eof_reason() {
    let (side, _) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    p.c2s
        .extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x80, 0x01, 0x00]);
    p.pump(None);
    assert!(p.server.is_handshaking() && p.server.failed().is_none());
    let (server, now) = (&mut p.server, p.now);
    p.side.with(|ctx, t| server.on_tcp_eof(now, ctx, t));
    assert_eq!(p.server.failed(), Some(FailReason::Eof));
    assert!(p.server.finished());
    assert_eq!(p.side.tls.handshake_failed_of(FailReason::Eof), 1);
}

#[test]
fn silent_client_is_failed_at_handshake_timeout() {
    let (side, _) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    let deadline = p.server.deadline(&p.side.http_cfg).unwrap();
    assert_eq!(deadline, p.now + Duration::from_secs(5));
    let server = &mut p.server;
    p.side
        .with(|ctx, t| server.on_timer(deadline - Duration::from_millis(1), ctx, t));
    assert_eq!(p.server.failed(), None, "not before the deadline");
    let server = &mut p.server;
    p.side.with(|ctx, t| server.on_timer(deadline, ctx, t));
    assert_eq!(p.server.failed(), Some(FailReason::Timeout));
    assert!(p.server.finished());
    assert_eq!(p.server.deadline(&p.side.http_cfg), None);
    assert_eq!(p.side.tls.handshake_failed_of(FailReason::Timeout), 1);
}

#[test]
fn big_put_and_get_survive_tight_tcp_backpressure_byte_exact() {
    let (side, leaf) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    p.send_cap = 700;
    let mut c = client(&client_config(&leaf, false));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = format!(
        "PUT /big HTTP/1.1\r\nHost: s\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    req.extend_from_slice(b"GET /big HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n");
    let mut sent = 0;
    while sent < req.len() {
        sent += c.writer().write(&req[sent..]).unwrap();
        p.pump(Some(&mut c));
    }
    p.pump(Some(&mut c));
    let text = String::from_utf8_lossy(&p.got);
    assert!(
        text.starts_with("HTTP/1.1 201"),
        "{}",
        &text[..text.len().min(300)]
    );
    let body_at = text.rfind("\r\n\r\n").unwrap() + 4;
    assert_eq!(&p.got[body_at..], &big[..]);
    assert!(
        p.server.finished(),
        "close_notify sent after Connection: close"
    );
    let mut buf = [0u8; 16];
    assert_eq!(
        c.reader().read(&mut buf).unwrap(),
        0,
        "client saw close_notify"
    );
}

#[test]
fn self_signed_identity_round_trips_through_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let id = cert::self_signed(S).unwrap();
    let pem = id.generated_pem.clone().unwrap();
    let cert_path = dir.path().join("c.pem");
    cert::write_pem(&cert_path, &pem).unwrap();
    let loaded = CertificateDer::pem_file_iter(&cert_path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(loaded, id.chain[0]);
    let err = cert::load_pem(&dir.path().join("missing.pem"), &cert_path).unwrap_err();
    assert!(err.to_string().contains("https.cert"), "{err}");
    let err = cert::load_pem(&cert_path, &cert_path).unwrap_err();
    assert!(err.to_string().contains("https.key"), "{err}");
    let Identity { chain, key, .. } = id;
    assert!(server_config(
        Identity {
            chain,
            key,
            generated_pem: None
        },
        TlsOptions::default(),
        TlsClock::new(TEST_EPOCH)
    )
    .is_ok());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any bytes instead of a handshake: no panic, a bounded answer, and a
    /// connection that either waits (for more, or its timeout) or is done.
    #[test]
    fn arbitrary_input_never_panics_and_ends_defined(
        head in proptest::prelude::any::<bool>(),
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
        cut in 1usize..700,
    ) {
        let (side, _) = Side::new(TlsOptions::default());
        let mut p = Pair::new(side);
        if head {
            // A plausible handshake record header, so the fuzz reaches ClientHello parsing.
            p.c2s.extend_from_slice(&[0x16, 0x03, 0x01, (body.len() >> 8) as u8, body.len() as u8, 0x01]);
        }
        for chunk in body.chunks(cut) {
            p.c2s.extend_from_slice(chunk);
            p.pump(None);
        }
        proptest::prop_assert!(p.s2c.len() < 4096, "bounded answer: {}", p.s2c.len());
        if p.server.failed().is_some() {
            proptest::prop_assert!(p.server.finished());
        } else {
            proptest::prop_assert!(p.server.deadline(&p.side.http_cfg).is_some());
        }
    }
}

#[test]
fn stop_on_idle_keep_alive_connection_sends_close_notify() {
    let (side, leaf) = Side::new(TlsOptions::default());
    let mut p = Pair::new(side);
    let mut c = client(&client_config(&leaf, false));
    c.writer()
        .write_all(b"GET /none HTTP/1.1\r\nHost: s\r\n\r\n")
        .unwrap();
    p.pump(Some(&mut c));
    assert!(String::from_utf8_lossy(&p.got).starts_with("HTTP/1.1 404"));
    let mut buf = [0u8; 16];
    assert!(c.reader().read(&mut buf).is_err(), "still open");
    p.server.stop();
    p.pump(Some(&mut c));
    assert_eq!(c.reader().read(&mut buf).unwrap(), 0, "close_notify seen");
    assert!(p.server.finished());
}

#[test]
fn stop_mid_response_sends_close_notify_only_after_the_whole_body() {
    let (side, leaf) = Side::new(TlsOptions::default());
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 249) as u8).collect();
    side.store
        .put("/big", crate::http::Object::new(big.clone(), None, 0))
        .unwrap();
    let mut p = Pair::new(side);
    let mut c = client(&client_config(&leaf, false));
    p.pump(Some(&mut c));
    assert!(!p.server.is_handshaking());
    // TCP takes nothing while the request is read: the response queues.
    p.send_cap = 0;
    c.writer()
        .write_all(b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n")
        .unwrap();
    p.pump(Some(&mut c));
    assert!(p.got.is_empty());
    p.server.stop();
    p.send_cap = 1500;
    p.pump(Some(&mut c));
    let head_end = p.got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        p.got[head_end..] == big[..],
        "{} of {} body bytes before close_notify",
        p.got.len() - head_end,
        big.len()
    );
    let mut buf = [0u8; 16];
    assert_eq!(c.reader().read(&mut buf).unwrap(), 0, "then close_notify");
    assert!(p.server.finished());
}

#[test]
fn service_time_ends_when_the_last_record_reaches_tcp() {
    let (side, leaf) = Side::new(TlsOptions::default());
    side.store
        .put("/a", crate::http::Object::new(vec![1; 10_000], None, 0))
        .unwrap();
    let mut p = Pair::new(side);
    let mut c = client(&client_config(&leaf, false));
    p.pump(Some(&mut c));
    assert!(!p.server.is_handshaking());
    // TCP takes nothing: the whole response sits in rustls.
    p.send_cap = 0;
    c.writer()
        .write_all(b"GET /a HTTP/1.1\r\nHost: s\r\n\r\n")
        .unwrap();
    p.pump(Some(&mut c));
    assert_eq!(p.side.service_time.len(), 0, "not done while inside TLS");
    p.now += Duration::from_millis(30);
    p.send_cap = usize::MAX;
    p.pump(Some(&mut c));
    assert!(String::from_utf8_lossy(&p.got).starts_with("HTTP/1.1 200"));
    let h = &p.side.service_time;
    assert_eq!(h.len(), 1);
    assert!(h.equivalent(h.max(), 30_000_000), "{} ns", h.max());
}
