//! Steady-state keep-alive HTTPS on one connection, after the handshake:
//! TLS records in through the worker loop, the stack's TCP, rustls and the
//! HTTP service, records out into the port's reused buffers.

mod steady_state;

use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use steady_state::{
    http_requests, http_store, port, run_worker, server_stack, take_response, TcpPeer,
};
use xskd::service::http::HttpConfig;
use xskd::service::https::{config::provider, HttpsSection, HttpsService, HttpsSetup};
use xskd::worker::clock;
use xskd::worker::node::{Node, TcpApp};
use xskd_proto::testkit::frames::{arp_request, OUR_IP, PEER_IP, PEER_MAC};

const PORT: u16 = 443;
const SMALL: usize = 4096;
const LARGE: usize = 100_000;
const WARM: u64 = 100;
const MEASURED: u64 = 1000;

/// Counts the application-data records (TLS 1.3: every encrypted one) in
/// a byte stream fed in arbitrary pieces.
#[derive(Default)]
struct Records {
    partial: Vec<u8>,
}

impl Records {
    /// Application-data records completed by `bytes`.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        self.partial.extend_from_slice(bytes);
        let mut n = 0;
        let mut at = 0;
        while let Some(h) = self.partial.get(at..at + 5) {
            let end = at + 5 + usize::from(u16::from_be_bytes([h[3], h[4]]));
            if end > self.partial.len() {
                break;
            }
            n += u64::from(h[0] == 23);
            at = end;
        }
        self.partial.drain(..at);
        n
    }
}

/// Run without libtest (`harness = false`): see `steady_state`.
fn main() {
    keep_alive_https_gets_once_warm();
    println!("keep_alive_https_gets_once_warm: ok");
}

fn client_config(pem: &str) -> Arc<ClientConfig> {
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
    Arc::new(cfg)
}

fn keep_alive_https_gets_once_warm() {
    let mut stack = server_stack();
    let section = HttpsSection {
        port: PORT,
        ..HttpsSection::default()
    };
    let setup = HttpsSetup::from_section(&section, OUR_IP, clock::unix_epoch()).unwrap();
    let pem = setup
        .generated_pem
        .clone()
        .expect("a generated certificate");
    let mut https = HttpsService::new(
        stack.tcp_mut(),
        PORT,
        http_store(SMALL, LARGE),
        HttpConfig::default(),
        setup.config,
    )
    .unwrap();
    https.set_clock(clock::monotonic_at);
    let mut node = Node::new(stack, Vec::new(), vec![TcpApp::Https(Box::new(https))]);
    let mut dp = port();
    assert!(dp.inject(&arp_request(PEER_MAC, PEER_IP, OUR_IP)));

    let requests = http_requests(SMALL, LARGE);
    let mut peer = TcpPeer::new(PORT);
    let mut tls =
        ClientConnection::new(client_config(&pem), ServerName::from(IpAddr::V4(OUR_IP))).unwrap();
    let mut plain = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    let mut waiting = false;
    // Records each way while the worker is measured (see `run_worker`:
    // from the turn after `WARM` answers to the one that sees the last).
    let (mut to_worker, mut from_worker) = (Records::default(), Records::default());
    let (mut records_in, mut records_out) = (0u64, 0u64);
    let counted = run_worker(&mut node, &mut dp, WARM, MEASURED, |dp, now| {
        if !peer.turn(dp, now) {
            return done;
        }
        let measured = done >= WARM;
        let n = from_worker.feed(&peer.received);
        if measured && !tls.is_handshaking() {
            records_out += n;
        }
        let mut cipher = &peer.received[..];
        while !cipher.is_empty() {
            tls.read_tls(&mut cipher).unwrap();
            tls.process_new_packets().unwrap();
            loop {
                match tls.reader().read(&mut buf) {
                    Ok(0) => panic!("the worker sent close_notify"),
                    Ok(n) => plain.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        peer.received.clear();
        if !tls.is_handshaking() {
            if waiting {
                let (_, to_head, status, len) = &requests[done as usize % requests.len()];
                if let Some(got) = take_response(&mut plain, *to_head) {
                    assert_eq!(got, (*status, *len));
                    assert!(plain.is_empty(), "one response per request");
                    waiting = false;
                    done += 1;
                }
            }
            if !waiting {
                let (req, ..) = &requests[done as usize % requests.len()];
                tls.writer().write_all(req).unwrap();
                waiting = true;
            }
        }
        let before = peer.unsent.len();
        while tls.wants_write() {
            tls.write_tls(&mut peer.unsent).unwrap();
        }
        let n = to_worker.feed(&peer.unsent[before..]);
        if (WARM..WARM + MEASURED).contains(&done) {
            records_in += n;
        }
        done
    });
    println!(
        "https keep-alive: {counted} = {:.2} per request; {records_in} records in, {records_out} out",
        counted.per_request()
    );
    assert_eq!(counted.requests, MEASURED);
    // rustls (0.23) allocates one buffer per application-data record each
    // way, buffered or unbuffered API alike: a received record's
    // plaintext is copied into a fresh `Vec` for the reader, and each
    // record sent is encrypted into a fresh `Vec` (`PrefixedPayload`) by
    // the crypto provider's `MessageEncrypter`, whose signature returns
    // an owned buffer. Everything else on the path allocates nothing.
    assert_eq!(counted.reallocations, 0, "{counted}");
    assert!(
        counted.allocations as u64 <= records_in + records_out,
        "more than one allocation per TLS record: {counted}, {records_in} records in, {records_out} out"
    );
    // The mix: 1 request record each; answers of 1 record (small GET,
    // HEAD, 404: head and body share it) and 8 (100 kB: the head, then 7
    // for the body): 15 records, so 15 allocations, per 4 requests.
    assert_eq!(records_in, MEASURED);
    assert_eq!(records_out, MEASURED / 4 * 11);
}
