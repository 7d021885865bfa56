//! DNS over TCP on a real `Tcp`, driven by a client `Tcp` back to back.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use super::*;
use crate::dns::{example_config, DnsRecord};
use crate::stack::tcp::TcpConfig;
use crate::test_pair::{exchange, Sink, CLIENT, SERVER};

fn config() -> DnsConfig {
    let mut cfg = example_config();
    // 200 addresses: a ~3.3 KB answer, far past UDP's 512 bytes.
    for i in 0..200u8 {
        cfg.records.push(DnsRecord {
            name: "many".into(),
            ipv4: Ipv4Addr::new(198, 18, 1, i),
            ttl: 60,
        });
    }
    cfg
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let body = m.to_vec().unwrap();
    let mut framed = (body.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&body);
    framed
}

/// Split a byte stream into length-prefixed messages.
fn messages(mut stream: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while stream.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([stream[0], stream[1]]));
        assert!(stream.len() >= 2 + len, "whole messages only");
        out.push(Message::from_vec(&stream[2..2 + len]).unwrap());
        stream = &stream[2 + len..];
    }
    assert!(stream.is_empty());
    out
}

struct Rig {
    client: Tcp,
    server: Tcp,
    dns: DnsTcp,
    c: ConnId,
    now: Instant,
    got: Vec<u8>,
    eof: bool,
}

impl Rig {
    fn new(cfg: &DnsConfig) -> Rig {
        let mut client = Tcp::new(TcpConfig::default(), CLIENT, [1; 32], 1);
        let mut server = Tcp::new(TcpConfig::default(), SERVER, [2; 32], 2);
        let dns = DnsTcp::new(&mut server, cfg).unwrap();
        let now = Instant::from_secs(1);
        let mut out = Sink::new();
        let c = client
            .connect(now, SocketAddrV4::new(SERVER, cfg.port), &mut out)
            .unwrap();
        // Byte-at-a-time writes must not wait on Nagle.
        client.set_nodelay(c, true).unwrap();
        exchange(&mut client, &mut server, now, out);
        let mut rig = Rig {
            client,
            server,
            dns,
            c,
            now,
            got: Vec::new(),
            eof: false,
        };
        rig.turn();
        rig
    }

    /// One service poll, the segments carried, the client's input drained.
    fn turn(&mut self) {
        self.dns.poll(self.now, &mut self.server);
        exchange(&mut self.client, &mut self.server, self.now, Sink::new());
        let mut buf = [0u8; 8192];
        loop {
            match self.client.recv(self.c, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        assert_eq!(self.client.send(self.c, bytes), Ok(bytes.len()));
        exchange(&mut self.client, &mut self.server, self.now, Sink::new());
        for _ in 0..4 {
            self.turn();
        }
    }
}

#[test]
fn pipelined_queries_are_answered_in_order_with_length_prefixes() {
    let mut rig = Rig::new(&example_config());
    let mut two = query(1, "www.xskd.test.");
    two.extend(query(2, "nope.xskd.test."));
    rig.send(&two);
    let answers = messages(&rig.got);
    assert_eq!(answers.len(), 2);
    assert_eq!((answers[0].id(), answers[1].id()), (1, 2));
    assert_eq!(answers[0].answers().len(), 1);
    assert_eq!(answers[1].response_code().low(), 3, "NXDOMAIN");
    assert!(!rig.eof, "connection stays open for more queries");
    assert_eq!(rig.dns.dns_counters().queries, 2);
}

#[test]
fn query_arriving_one_byte_at_a_time_is_answered_once_whole() {
    let mut rig = Rig::new(&example_config());
    let q = query(7, "www.xskd.test.");
    for b in &q[..q.len() - 1] {
        rig.send(std::slice::from_ref(b));
        assert!(rig.got.is_empty(), "no answer to a partial query");
    }
    rig.send(&q[q.len() - 1..]);
    assert_eq!(messages(&rig.got)[0].id(), 7);
}

#[test]
fn answer_too_big_for_udp_comes_whole_over_tcp_without_tc() {
    let mut rig = Rig::new(&config());
    rig.send(&query(9, "many.xskd.test."));
    let m = &messages(&rig.got)[0];
    assert!(rig.got.len() > 3000, "{}", rig.got.len());
    assert!(!m.truncated());
    assert_eq!(m.answers().len(), 200);
}

#[test]
fn oversize_length_prefix_closes_the_connection_and_is_counted() {
    let mut rig = Rig::new(&example_config());
    rig.send(&((MAX_TCP_QUERY + 1) as u16).to_be_bytes());
    assert!(rig.eof, "server closed");
    assert!(rig.got.is_empty());
    assert_eq!(rig.dns.counters().oversize_queries, 1);
    assert_eq!(rig.dns.connections(), 0);
}

#[test]
fn message_without_a_header_closes_the_connection() {
    let mut rig = Rig::new(&example_config());
    rig.send(&[0, 3, 1, 2, 3]);
    assert!(rig.eof);
    assert_eq!(rig.dns.counters().unanswerable, 1);
}

#[test]
fn idle_connection_is_closed_at_the_idle_timeout_not_before() {
    let mut cfg = example_config();
    cfg.tcp_idle_timeout_ms = 3000;
    let mut rig = Rig::new(&cfg);
    rig.send(&query(1, "www.xskd.test."));
    let deadline = rig.dns.poll_at().expect("idle deadline");
    assert_eq!(deadline, rig.now + Duration::from_secs(3));
    rig.now = deadline - Duration::from_millis(1);
    rig.turn();
    assert!(!rig.eof);
    rig.now = deadline;
    rig.turn();
    assert!(rig.eof, "closed at the deadline");
    assert_eq!(rig.dns.counters().idle_timeouts, 1);
}

#[test]
fn half_close_after_a_query_gets_the_answer_then_fin() {
    let mut rig = Rig::new(&example_config());
    let q = query(5, "www.xskd.test.");
    assert_eq!(rig.client.send(rig.c, &q), Ok(q.len()));
    rig.client.shutdown_write(rig.c).unwrap();
    for _ in 0..4 {
        exchange(&mut rig.client, &mut rig.server, rig.now, Sink::new());
        rig.turn();
    }
    assert_eq!(messages(&rig.got)[0].id(), 5);
    assert!(rig.eof);
}

#[test]
fn shutdown_stops_listening_and_closes_connections() {
    let mut rig = Rig::new(&example_config());
    assert_eq!(rig.dns.connections(), 1);
    rig.dns.shutdown(&mut rig.server);
    exchange(&mut rig.client, &mut rig.server, rig.now, Sink::new());
    rig.turn();
    assert!(rig.eof);
    assert_eq!(rig.dns.connections(), 0);
}

#[test]
fn zero_idle_timeout_is_a_config_error() {
    let mut cfg = example_config();
    cfg.tcp_idle_timeout_ms = 0;
    let mut server = Tcp::new(TcpConfig::default(), SERVER, [2; 32], 2);
    let err = DnsTcp::new(&mut server, &cfg).err().unwrap();
    assert!(err.to_string().contains("dns.tcp_idle_timeout_ms"), "{err}");
}
