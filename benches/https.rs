//! One keep-alive HTTPS GET on an established TLS 1.3 connection, sans-IO
//! (no TCP): the client's request record in, the server's response
//! records out, decrypted by the client. Both sides' crypto is in the
//! figure; the object sizes show the per-record cost (a 4 KiB object is one
//! record with its head, a 64 KiB one is four full records).

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hdrhistogram::Histogram;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use xskd::service::http::date::DateCache;
use xskd::service::http::{
    turn_clock, Ctx, HttpConfig, HttpCounters, Object, SharedStore, Store, StoreConfig,
};
use xskd::service::https::config::provider;
use xskd::service::https::tls::GATHER;
use xskd::service::https::{HttpsSection, HttpsSetup, TlsCounters, TlsCtx, TlsHttp};
use xskd::time::Instant;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// The server connection, everything it borrows, and the client.
struct Pair {
    server: TlsHttp,
    client: ClientConnection,
    http_cfg: HttpConfig,
    store: SharedStore,
    counters: HttpCounters,
    service_time: Histogram<u64>,
    date: DateCache,
    tls: TlsCounters,
    hs_time: Histogram<u64>,
    gather: Vec<u8>,
    wire: Vec<u8>,
    plain: Vec<u8>,
    now: Instant,
}

impl Pair {
    fn new(sizes: &[(&str, usize)]) -> Pair {
        let setup =
            HttpsSetup::from_section(&HttpsSection::default(), SERVER, Duration::ZERO).unwrap();
        let pem = setup.generated_pem.clone().unwrap();
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
        let mut cfg = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let store = Store::shared(StoreConfig::default());
        for (path, len) in sizes {
            store
                .put(path, Object::new(vec![b'x'; *len], None, 0))
                .unwrap();
        }
        let now = Instant::from_secs(1);
        let http_cfg = HttpConfig::default();
        let mut p = Pair {
            server: TlsHttp::new(now, &setup.config, &http_cfg).unwrap(),
            client: ClientConnection::new(Arc::new(cfg), ServerName::from(IpAddr::V4(SERVER)))
                .unwrap(),
            http_cfg,
            store,
            counters: HttpCounters::default(),
            service_time: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap(),
            date: DateCache::default(),
            tls: TlsCounters::default(),
            hs_time: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap(),
            gather: vec![0; GATHER],
            wire: Vec::with_capacity(1 << 20),
            plain: Vec::with_capacity(1 << 20),
            now,
        };
        // Handshake and session tickets.
        for _ in 0..10 {
            p.round_trip();
        }
        assert!(!p.client.is_handshaking() && !p.server.is_handshaking());
        p
    }

    /// Client output to the server, server output back, until quiet;
    /// returns the plaintext bytes the client got.
    fn round_trip(&mut self) -> usize {
        let Pair {
            server,
            client,
            http_cfg,
            store,
            counters,
            service_time,
            date,
            tls,
            hs_time,
            gather,
            wire,
            plain,
            now,
        } = self;
        let mut ctx = Ctx {
            cfg: http_cfg,
            store,
            counters,
            service_time,
            date,
            clock: turn_clock,
            tls: true,
        };
        let mut t = TlsCtx {
            counters: tls,
            handshake_time: hs_time,
            gather,
        };
        wire.clear();
        while client.wants_write() {
            client.write_tls(wire).unwrap();
        }
        assert!(wire.len() <= server.input_room());
        server.on_ciphertext(*now, wire, &mut ctx, &mut t);
        wire.clear();
        server.write_out(*now, &mut ctx, &mut t, |b| {
            wire.extend_from_slice(b);
            b.len()
        });
        plain.clear();
        let mut rd = &wire[..];
        let mut buf = [0u8; 16 * 1024];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
            client.process_new_packets().unwrap();
            loop {
                match client.reader().read(&mut buf) {
                    Ok(n) if n > 0 => plain.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() != ErrorKind::WouldBlock => panic!("{e}"),
                    _ => break,
                }
            }
        }
        plain.len()
    }

    fn get(&mut self, request: &[u8]) -> usize {
        self.client.writer().write_all(request).unwrap();
        self.round_trip()
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("https");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    for (path, len) in [("/4k", 4096usize), ("/64k", 65536)] {
        let mut p = Pair::new(&[(path, len)]);
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes();
        let answer = p.get(&request);
        assert!(answer > len);
        g.throughput(Throughput::Bytes(answer as u64));
        g.bench_function(format!("keep_alive_get{}", path.replace('/', "_")), |b| {
            b.iter(|| black_box(p.get(&request)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
