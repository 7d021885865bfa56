//! The fuzz targets' bodies (fuzz/fuzz_targets/common.rs) in the normal test
//! suite, without cargo-fuzz: each target runs over its committed seed
//! corpus (fuzz/corpus/<target>/) and then over seeded random and mutated
//! inputs. A failure prints the input in hex so it can be replayed with
//! `cargo fuzz run <target> <file>` or pasted into a unit test.
//!
//! The seed corpus is generated here: `XSKD_WRITE_CORPUS=1 cargo test
//! --test fuzz_smoke corpus` rewrites it; without the variable the test
//! checks the committed files are what the generator makes.

#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_common;
#[path = "../fuzz/fuzz_targets/services.rs"]
mod fuzz_services;

use std::path::PathBuf;

use fuzz_common as fc;
use fuzz_services as fs;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Body = fn(&[u8]);

const TARGETS: &[(&str, Body)] = &[
    ("wire", fc::wire),
    ("tcp", fc::tcp),
    ("reassembly", fc::reassembly),
    ("stack", fc::stack),
    ("http", fs::http),
    ("dns", fs::dns),
];

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

// ------------------------------------------------------------------ seeds

fn tcp_syn(dport: u16, opts: &[u8]) -> Vec<u8> {
    fc::tcp_segment(40000, dport, 1000, 0, 0x002, opts, &[])
}

/// MSS 1460, SACK-permitted, timestamps, NOP, wscale 7: what Linux sends.
const LINUX_SYN_OPTS: &[u8] = &[
    2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
];

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let tcp_frame = |seg: Vec<u8>| fc::Ip::new(6).frame(&seg);
    match target {
        "wire" => {
            let mut frag = fc::Ip::new(1);
            frag.more_frags = true;
            vec![
                fc::arp(1, fc::PEER_MAC, fc::PEER_IP, fc::OUR_IP),
                fc::arp(2, fc::PEER_MAC, fc::PEER_IP, fc::OUR_IP),
                fc::Ip::new(1).frame(&fc::icmp_echo(1, 1, b"abcdefgh")),
                fc::Ip::new(17).frame(&fc::udp_datagram(1000, 7, b"hello")),
                tcp_frame(tcp_syn(7, LINUX_SYN_OPTS)),
                frag.frame(&fc::icmp_echo(1, 2, &[0x55; 64])),
            ]
        }
        "tcp" => vec![
            tcp_syn(80, LINUX_SYN_OPTS),
            // ACK with two SACK blocks (one reversed) and timestamps.
            fc::tcp_segment(
                40000,
                80,
                1001,
                5000,
                0x010,
                &[
                    1, 1, 5, 18, 0, 0, 0x20, 0, 0, 0, 0x10, 0, 0, 0, 0x30, 0, 0, 0, 0x40, 0, 1, 1,
                    8, 10, 0, 0, 0, 2, 0, 0, 0, 1,
                ],
                &[],
            ),
            fc::tcp_segment(40000, 80, 1001, 5000, 0x018, &[], b"GET / HTTP/1.1\r\n\r\n"),
            // Bad option lengths: MSS with length 0, then length past the end.
            tcp_syn(80, &[2, 0, 5, 180, 3, 40]),
            // MSS 0, wscale 15.
            tcp_syn(80, &[2, 4, 0, 0, 1, 3, 3, 15]),
            fc::tcp_segment(40000, 80, 1001, 5000, 0x011, &[], &[]),
        ],
        "reassembly" => {
            // (ident sel, flags, offset/8, len, advance)
            let rec = |sel: u8, fl: u8, off: u16, len: u16, adv: u8| {
                let mut v = vec![sel, fl];
                v.extend_from_slice(&off.to_be_bytes());
                v.extend_from_slice(&len.to_be_bytes());
                v.push(adv);
                v
            };
            let cat = |rs: &[Vec<u8>]| rs.concat();
            vec![
                // A ping of 2000 bytes in two fragments, in order.
                cat(&[rec(1, 1, 0, 1480, 0), rec(1, 0, 185, 528, 0)]),
                // The same UDP datagram, last fragment first.
                cat(&[rec(2, 2, 185, 100, 0), rec(2, 3, 0, 1480, 1)]),
                // Overlap (teardrop): the second starts inside the first.
                cat(&[rec(3, 1, 0, 1480, 0), rec(3, 0, 100, 600, 0)]),
                // A train that never completes, then time passes.
                cat(&[rec(4, 1, 0, 1480, 0), rec(4, 1, 370, 1480, 200)]),
                // Over 65535: a last fragment at the largest offset.
                cat(&[rec(5, 1, 0, 1480, 0), rec(5, 0, 8191, 1480, 0)]),
                // More datagrams than slots.
                cat(&[
                    rec(0, 1, 0, 8, 0),
                    rec(1, 5, 0, 8, 0),
                    rec(2, 9, 0, 8, 0),
                    rec(3, 13, 0, 8, 0),
                    rec(4, 1, 0, 8, 0),
                    rec(5, 1, 0, 8, 0),
                ]),
            ]
        }
        "stack" => {
            let rec = |adv: u8, kind: u8, body: &[u8]| {
                let mut v = vec![adv, kind];
                v.extend_from_slice(&(body.len() as u16).to_be_bytes());
                v.extend_from_slice(body);
                v
            };
            let syn7 = tcp_syn(7, LINUX_SYN_OPTS);
            let ack7 = fc::tcp_segment(40000, 7, 1001, 1, 0x010, &[], &[]);
            let data7 = fc::tcp_segment(40000, 7, 1001, 1, 0x018, &[], b"echo me");
            let rst7 = fc::tcp_segment(40000, 7, 1001, 0, 0x004, &[], &[]);
            let syn80 = tcp_syn(80, &[2, 4, 0, 1]);
            // Kind 5 answers what the stack sent last: zero deltas.
            let answer = |flags: u8, payload: &[u8]| {
                let mut h = fc::tcp_segment(40000, 7, 0, 0, u16::from(flags), &[], payload);
                h[4..12].fill(0);
                h
            };
            vec![
                // A full echo connection: handshake, data, echo, FIN, FIN.
                [
                    rec(0, 1, &syn7),
                    rec(1, 5, &answer(0x10, &[])),
                    rec(1, 5, &answer(0x18, b"hello echo")),
                    rec(5, 5, &answer(0x10, &[])),
                    rec(5, 5, &answer(0x11, &[])),
                    rec(5, 5, &answer(0x10, &[])),
                ]
                .concat(),
                // Established on 80 (never accepted), then in-window RST.
                [
                    rec(0, 1, &tcp_syn(80, LINUX_SYN_OPTS)),
                    rec(1, 5, &answer(0x10, &[])),
                    rec(1, 5, &answer(0x04, &[])),
                ]
                .concat(),
                [
                    rec(0, 1, &syn7),
                    rec(1, 1, &ack7),
                    rec(1, 1, &data7),
                    rec(1, 1, &rst7),
                ]
                .concat(),
                [
                    rec(0, 2, b"udp echo"),
                    rec(5, 4, &fc::icmp_echo(1, 1, b"ping")),
                ]
                .concat(),
                [
                    rec(0, 0, &fc::arp(1, fc::PEER_MAC, fc::PEER_IP, fc::OUR_IP)),
                    rec(0x85, 0, &fc::arp(2, fc::PEER_MAC, fc::OUR_IP, fc::OUR_IP)),
                ]
                .concat(),
                [rec(0, 1, &syn80), rec(0, 1, &syn80), rec(0x83, 1, &syn80)].concat(),
                [
                    rec(0, 3, &[99, 1, 2, 3]),
                    rec(0, 3, &[17, 0, 1, 0, 7, 0, 40]),
                ]
                .concat(),
            ]
        }
        "http" => {
            // Control bytes (split seed, read window, clock step and
            // flags), then what the client sends.
            let req = |ctl: [u8; 3], text: &str| [&ctl[..], text.as_bytes()].concat();
            vec![
                req([0, 0, 0], "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
                // Pipelined, in 1-8 byte pieces: GET, HEAD, 404.
                req(
                    [1, 0, 0],
                    "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /c/1 HTTP/1.1\r\nHost: x\r\n\r\n\
                     GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                ),
                req(
                    [2, 3, 1],
                    "PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n\
                     helloGET /p HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n",
                ),
                req(
                    [4, 0, 0],
                    "POST /c/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5;x=y\r\nhello\r\n0\r\nTrailer: t\r\n\r\nGET /c/ HTTP/1.1\r\nHost: x\r\n\r\n",
                ),
                req(
                    [6, 0, 2],
                    "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
                ),
                req(
                    [8, 0, 0],
                    "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
                     DELETE /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
                ),
                // Slowloris: half a head, half a second per piece, no FIN.
                req([3, 1, 0x85], "GET / HTTP/1.1\r\nHost: x\r\nHo"),
                // Smuggling shape: both framings, then a second request.
                req(
                    [10, 0, 0],
                    "POST /c/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
                     0\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
                ),
                // A client that does not read while it pipelines.
                req([12, 0, 0x41], &"GET /c/1 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(40)),
                req([14, 0, 0], "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\nGET /\x01 HTTP/1.1\r\n\r\n"),
            ]
        }
        "dns" => {
            // Control byte: output buffer (bits 0-1), transport (bits 2-3:
            // UDP, UDP with a source, TCP).
            let msg = |ctl: u8, q: Vec<u8>| [vec![ctl], q].concat();
            let cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
            let mut response = fs::dns_query(5, "www.xskd.test", 1, None);
            response[2] |= 0x80;
            let mut update = fs::dns_query(6, "xskd.test", 6, None);
            update[2] = 5 << 3;
            // A name that points at itself.
            let mut loop_ = fs::dns_query(7, "", 1, None);
            loop_.truncate(12);
            loop_.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            vec![
                msg(0, fs::dns_query(1, "www.xskd.test", 1, None)),
                msg(1, fs::dns_query(2, "www.xskd.test", 28, None)),
                msg(
                    5,
                    fs::dns_query(3, "many.xskd.test", 1, Some((1232, 0, &[]))),
                ),
                msg(0, fs::dns_query(4, "nope.xskd.test", 1, None)),
                msg(0, fs::dns_query(8, "example.org", 1, None)),
                msg(2, fs::dns_query(9, "xskd.test", 255, Some((4096, 0, &[])))),
                msg(11, fs::dns_query(10, "xskd.test", 252, None)),
                msg(11, fs::dns_query(11, "many.xskd.test", 1, None)),
                msg(
                    5,
                    fs::dns_query(12, "www.xskd.test", 1, Some((1232, 0, &cookie))),
                ),
                msg(
                    5,
                    fs::dns_query(13, "www.xskd.test", 1, Some((1232, 1, &[]))),
                ),
                msg(0, response),
                msg(0, update),
                msg(0, loop_),
            ]
        }
        other => panic!("no seeds for {other}"),
    }
}

#[test]
fn corpus_committed_files_match_the_generator() {
    let write = std::env::var_os("XSKD_WRITE_CORPUS").is_some();
    for (t, _) in TARGETS {
        let dir = corpus_dir(t);
        for (i, s) in seeds(t).iter().enumerate() {
            let path = dir.join(format!("seed-{i:02}"));
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, s).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (regenerate with XSKD_WRITE_CORPUS=1)",
                    path.display()
                )
            });
            assert_eq!(&committed, s, "{} is stale", path.display());
        }
    }
}

// --------------------------------------------------------------- mutation

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run_one(target: &str, body: Body, input: &[u8]) {
    let r = std::panic::catch_unwind(|| body(input));
    if let Err(e) = r {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "fuzz target {target} failed: {msg}\ninput ({} bytes): {}",
            input.len(),
            hex(input)
        );
    }
}

fn mutate(rng: &mut StdRng, pool: &[Vec<u8>]) -> Vec<u8> {
    if pool.is_empty() || rng.gen_ratio(1, 5) {
        let n = rng.gen_range(0..300);
        return (0..n).map(|_| rng.gen()).collect();
    }
    let mut v = pool[rng.gen_range(0..pool.len())].clone();
    for _ in 0..rng.gen_range(1..6) {
        match rng.gen_range(0..7) {
            0 | 1 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] = rng.gen();
            }
            2 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] = [0u8, 1, 0x7f, 0x80, 0xff, 0x40, 0x05][rng.gen_range(0..7)];
            }
            3 => {
                let i = rng.gen_range(0..=v.len());
                let n = rng.gen_range(1..16);
                let ins: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                v.splice(i..i, ins);
            }
            4 if !v.is_empty() => {
                let a = rng.gen_range(0..v.len());
                let b = rng.gen_range(a..=v.len().min(a + 32));
                v.drain(a..b);
            }
            5 if !v.is_empty() => {
                let n = rng.gen_range(0..v.len());
                v.truncate(n);
            }
            _ => {
                // Splice in a piece of another input (or of itself).
                let other = &pool[rng.gen_range(0..pool.len())];
                if !other.is_empty() {
                    let a = rng.gen_range(0..other.len());
                    let b = rng.gen_range(a..=other.len());
                    let at = rng.gen_range(0..=v.len());
                    v.splice(at..at, other[a..b].iter().copied());
                }
            }
        }
    }
    v
}

/// Committed corpus, then `n` seeded random/mutated inputs. For a longer
/// soak without cargo-fuzz: `XSKD_FUZZ_ITERS=1000000 XSKD_FUZZ_SEED=9
/// cargo test --release --test fuzz_smoke`.
fn smoke(target: &str, n: usize, seed: u64) {
    let n = std::env::var("XSKD_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    let seed = std::env::var("XSKD_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(seed, |s| s.wrapping_mul(31).wrapping_add(seed));
    let body = TARGETS.iter().find(|(t, _)| *t == target).unwrap().1;
    let mut pool: Vec<Vec<u8>> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(corpus_dir(target)) {
        for e in rd.flatten() {
            pool.push(std::fs::read(e.path()).unwrap());
        }
    }
    pool.extend(seeds(target));
    for input in &pool {
        run_one(target, body, input);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..n {
        let input = mutate(&mut rng, &pool);
        run_one(target, body, &input);
    }
}

#[test]
fn wire_corpus_and_mutations_never_panic() {
    smoke("wire", 8000, 1);
}

#[test]
fn tcp_corpus_and_mutations_never_panic() {
    smoke("tcp", 6000, 2);
}

#[test]
fn reassembly_corpus_and_mutations_stay_bounded() {
    smoke("reassembly", 4000, 3);
}

#[test]
fn stack_corpus_and_mutations_stay_bounded() {
    smoke("stack", 5000, 4);
}

#[test]
fn http_corpus_and_mutations_answer_well_formed_responses() {
    smoke("http", 3000, 5);
}

#[test]
fn dns_corpus_and_mutations_reply_bounded_with_the_query_id() {
    smoke("dns", 20000, 6);
}

/// The HTTP seeds do get answers, so the checks in the target have
/// something to check: each seed request is answered, and the pipelined
/// seed gets three responses in order.
#[test]
fn http_seeds_are_answered() {
    let seeds = seeds("http");
    for (i, s) in seeds.iter().enumerate() {
        fs::http(s);
        if i == 6 {
            continue; // slowloris: only the 408
        }
        let mut h = fs::HttpHarness::new();
        h.input(&s[3..]);
        h.pump(usize::MAX);
        assert!(h.out.starts_with(b"HTTP/1.1 "), "seed {i}: no response");
    }
    let mut h = fs::HttpHarness::new();
    h.input(&seeds[1][3..]);
    h.pump(usize::MAX);
    let text = String::from_utf8_lossy(&h.out);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{text}");
}

/// The slowloris seed gets a 408 and the connection closes.
#[test]
fn http_half_a_head_times_out_with_408() {
    let mut h = fs::HttpHarness::new();
    h.input(b"GET / HTTP/1.1\r\nHo");
    h.tick(std::time::Duration::from_secs(11), usize::MAX);
    assert!(h.out.starts_with(b"HTTP/1.1 408 "), "{:?}", h.out);
    assert!(h.conn.finished());
}

/// DNS seeds reach the answers they are meant to: A, NXDOMAIN, REFUSED,
/// TC on a large UDP answer, the full answer over TCP.
#[test]
fn dns_seeds_get_the_expected_rcodes() {
    use xskd::service::dns::DnsResponder;
    let mut r = DnsResponder::with_cookie_secret(&fs::dns_config(), fs::DNS_SECRET).unwrap();
    let mut out = vec![0u8; 65535];
    let mut ask = |q: &[u8], tcp: bool| {
        let n = if tcp {
            r.respond_tcp(q, &mut out)
        } else {
            r.respond(q, &mut out)
        }
        .expect("an answer");
        out[..n].to_vec()
    };
    let rcode = |m: &[u8]| m[3] & 0x0f;
    let tc = |m: &[u8]| m[2] & 0x02 != 0;
    let ancount = |m: &[u8]| u16::from_be_bytes([m[6], m[7]]);
    let a = ask(&fs::dns_query(1, "www.xskd.test", 1, None), false);
    assert_eq!((rcode(&a), ancount(&a)), (0, 1));
    assert_eq!(
        rcode(&ask(&fs::dns_query(1, "nope.xskd.test", 1, None), false)),
        3
    );
    assert_eq!(
        rcode(&ask(&fs::dns_query(1, "example.org", 1, None), false)),
        5
    );
    let big = fs::dns_query(1, "many.xskd.test", 1, None);
    assert!(tc(&ask(&big, false)), "100 addresses do not fit 512 bytes");
    let full = ask(&big, true);
    assert!(!tc(&full));
    assert_eq!(ancount(&full), 100);
}

/// The stack seeds reach deep states, so mutations start from there.
#[test]
fn stack_seed_completes_an_echo_connection() {
    let seed = &seeds("stack")[0];
    let (s, echoed) = fc::stack_run(seed);
    let c = s.tcp().counters();
    assert_eq!(c.passive_opens, 1, "{c:?}");
    assert_eq!(echoed, 10, "{c:?}");
}

/// The reassembler delivers exactly the bytes sent, whatever the order of
/// the fragments: a UDP datagram cut at random 8-byte boundaries and
/// shuffled comes back from the echo service byte for byte.
#[test]
fn reassembly_any_fragment_order_echoes_the_exact_bytes() {
    use rand::seq::SliceRandom;
    use xskd::service::UdpEcho;
    use xskd::stack::Stack;
    use xskd::time::Instant;
    use xskd::wire::{EthernetFrame, Ipv4Packet};

    let mut rng = StdRng::seed_from_u64(77);
    for case in 0..300 {
        let mut s = Stack::new(fc::config());
        s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
        let mut out = Vec::new();
        let now = Instant::from_secs(1);
        s.process_frame(
            now,
            &fc::arp(2, fc::PEER_MAC, fc::PEER_IP, fc::OUR_IP),
            &mut out,
        );
        out.clear();
        let len = rng.gen_range(1..1400);
        let payload: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let dgram = fc::udp_datagram(4000 + case, 7, &payload);
        // Cut points at multiples of 8, pieces of at least 16 bytes.
        let mut cuts = vec![0usize];
        while let Some(&last) = cuts.last() {
            let next = last + 8 * rng.gen_range(2..40);
            if next >= dgram.len() {
                break;
            }
            cuts.push(next);
        }
        let mut frags: Vec<Vec<u8>> = cuts
            .iter()
            .enumerate()
            .map(|(i, &at)| {
                let end = cuts.get(i + 1).copied().unwrap_or(dgram.len());
                let mut ip = fc::Ip::new(17);
                ip.ident = case;
                ip.frag_offset = at as u16;
                ip.more_frags = end < dgram.len();
                ip.frame(&dgram[at..end])
            })
            .collect();
        frags.shuffle(&mut rng);
        for f in &frags {
            s.process_frame(now, f, &mut out);
        }
        assert_eq!(
            out.len(),
            1,
            "case {case}: one echo for {} fragments",
            frags.len()
        );
        let eth = EthernetFrame::new_checked(&out[0][..]).unwrap();
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let udp = ip.payload();
        assert_eq!(&udp[8..], &payload[..], "case {case}: echoed bytes differ");
        assert_eq!(s.reassembly_in_use(), 0);
    }
}

/// A fragment the network duplicated (byte-identical, same offset) is
/// harmless: RFC 791 reassembly just fills the same bytes again, and Linux
/// drops only the copy (IPFRAG_DUP). The datagram must still be delivered.
#[test]
fn reassembly_exact_duplicate_fragment_still_delivers() {
    use xskd::service::UdpEcho;
    use xskd::stack::{DropReason, Stack};
    use xskd::time::Instant;

    let mut s = Stack::new(fc::config());
    s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    let mut out = Vec::new();
    let now = Instant::from_secs(1);
    s.process_frame(
        now,
        &fc::arp(2, fc::PEER_MAC, fc::PEER_IP, fc::OUR_IP),
        &mut out,
    );
    out.clear();
    let dgram = fc::udp_datagram(4000, 7, &[0x5a; 100]);
    let frag = |at: usize, end: usize| {
        let mut ip = fc::Ip::new(17);
        ip.ident = 9;
        ip.frag_offset = at as u16;
        ip.more_frags = end < dgram.len();
        ip.frame(&dgram[at..end])
    };
    let first = frag(0, 48);
    s.process_frame(now, &first, &mut out);
    s.process_frame(now, &first, &mut out);
    s.process_frame(now, &frag(48, dgram.len()), &mut out);
    assert_eq!(out.len(), 1, "the datagram is echoed once");
    assert_eq!(
        s.counters().drops.get(DropReason::FragOverlap),
        0,
        "a duplicate is not an overlap attack"
    );
}

/// RFC 1122 3.2.2: no ICMP error about a datagram sent to a broadcast
/// address, about an ICMP error, or to a source that is not a unicast host
/// (these are how an amplifier is built).
#[test]
fn icmp_errors_are_never_sent_about_broadcasts_or_errors() {
    use xskd::stack::Stack;
    use xskd::time::Instant;

    let mut s = Stack::new(fc::config());
    let mut out = Vec::new();
    let now = Instant::from_secs(1);
    s.process_frame(
        now,
        &fc::arp(2, fc::PEER_MAC, fc::PEER_IP, fc::OUR_IP),
        &mut out,
    );
    out.clear();
    let bcast_frame = |ip: &fc::Ip, payload: &[u8]| {
        let mut f = ip.frame(payload);
        f[0..6].copy_from_slice(&[0xff; 6]);
        f
    };
    // UDP to a closed port, to the subnet and limited broadcast.
    for dst in [
        std::net::Ipv4Addr::new(198, 18, 0, 255),
        std::net::Ipv4Addr::BROADCAST,
    ] {
        let mut ip = fc::Ip::new(17);
        ip.dst = dst;
        let mut udp = fc::udp_datagram(1000, 9999, b"x");
        udp[6..8].fill(0);
        s.process_frame(now, &bcast_frame(&ip, &udp), &mut out);
        // Unknown protocol to broadcast.
        let mut ip = fc::Ip::new(99);
        ip.dst = dst;
        s.process_frame(now, &bcast_frame(&ip, b"zzzz"), &mut out);
    }
    assert!(out.is_empty(), "ICMP error about a broadcast: {out:?}");
    // A port unreachable about one of our datagrams: answered with nothing.
    let quoted = fc::Ip {
        src: fc::OUR_IP,
        dst: fc::PEER_IP,
        ..fc::Ip::new(17)
    }
    .packet(&fc::udp_datagram(7, 9999, b"q"));
    let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&quoted[..28]);
    let c = xskd::wire::checksum::finish(xskd::wire::checksum::sum(&err));
    err[2..4].copy_from_slice(&c.to_be_bytes());
    s.process_frame(now, &fc::Ip::new(1).frame(&err), &mut out);
    // An unknown ICMP type and a UDP datagram to a closed port from a
    // multicast source (dropped before any error).
    let mut ip = fc::Ip::new(17);
    ip.src = std::net::Ipv4Addr::new(224, 0, 0, 9);
    s.process_frame(now, &ip.frame(&fc::udp_datagram(1, 9999, b"m")), &mut out);
    assert!(
        out.is_empty(),
        "ICMP error about an error or to multicast: {out:?}"
    );
    // Sanity: the same closed-port datagram by unicast does get one.
    s.process_frame(
        now,
        &fc::Ip::new(17).frame(&fc::udp_datagram(1000, 9999, b"x")),
        &mut out,
    );
    assert_eq!(out.len(), 1, "port unreachable to a unicast sender");
}
