//! Steady-state DNS over UDP allocates nothing per query: query frames in
//! through the worker loop, the stack and the DNS service (hickory's
//! decoder for the question, our encoder for the answer), answer frames
//! out into the port's reused buffers.

mod steady_state;

use std::collections::VecDeque;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use steady_state::{port, run_worker, server_stack, Counted};
use xskd::service::dns::{example_config, DnsConfig, DnsRecord};
use xskd::service::dns_udp::DnsUdp;
use xskd::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet, UdpPacket};
use xskd::worker::node::Node;
use xskd_proto::testkit::frames::{arp_request, udp_bytes, Ip, OUR_IP, PEER_IP, PEER_MAC};

const PORT: u16 = 53;
const WINDOW: usize = 4;
const WARM: u64 = 200;
const MEASURED: u64 = 2000;
/// A name with more label data than hickory keeps inline (32 bytes).
const LONG: &str = "a-name-longer-than-thirty-two-bytes.www.xskd.test.";

/// Run without libtest (`harness = false`): see `steady_state`.
fn main() {
    dns_queries_allocate_nothing_once_warm();
    println!("dns_queries_allocate_nothing_once_warm: ok");
}

fn zone() -> DnsConfig {
    let mut cfg = example_config();
    cfg.records.push(DnsRecord {
        name: LONG.to_owned(),
        ipv4: "198.18.0.7".parse().unwrap(),
        ttl: 60,
    });
    cfg
}

fn query(id: u16, name: &str, qtype: RecordType, cookie: Option<[u8; 8]>) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let mut q = m.to_vec().unwrap();
    if let Some(cookie) = cookie {
        // OPT (payload 1232) with a client COOKIE, as dig sends by default.
        q.push(0);
        q.extend_from_slice(&41u16.to_be_bytes());
        q.extend_from_slice(&1232u16.to_be_bytes());
        q.extend_from_slice(&[0, 0, 0, 0]);
        q.extend_from_slice(&12u16.to_be_bytes());
        q.extend_from_slice(&10u16.to_be_bytes());
        q.extend_from_slice(&8u16.to_be_bytes());
        q.extend_from_slice(&cookie);
        q[11] = 1;
    }
    q
}

/// What a query is answered with: rcode and number of answers.
type Want = (ResponseCode, usize);

/// Run the worker on `queries` cycled, each checked against its `Want`.
fn serve(queries: &[(Vec<u8>, Want)]) -> Counted {
    let mut stack = server_stack();
    let dns = DnsUdp::new(&zone(), [9; 16], 1_700_000_000).unwrap();
    stack.bind_udp(PORT, Box::new(dns)).unwrap();
    let mut node = Node::new(stack, vec![(PORT, "dns")], Vec::new());
    let mut dp = port();
    assert!(dp.inject(&arp_request(PEER_MAC, PEER_IP, OUR_IP)));
    let frames: Vec<Vec<u8>> = queries
        .iter()
        .map(|(q, _)| Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 40000, PORT, q)))
        .collect();
    let mut in_flight = VecDeque::new();
    let mut next = 0usize;
    let mut answered = 0u64;
    run_worker(&mut node, &mut dp, WARM, MEASURED, |dp, _now| {
        while let Some(frame) = dp.recv_sent(|f| f.to_vec()) {
            let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
            if eth.ethertype() != EtherType::Ipv4 {
                continue;
            }
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            let udp = UdpPacket::new_checked(ip.payload()).unwrap();
            assert_eq!(udp.src_port(), PORT);
            let i: usize = in_flight.pop_front().expect("an answer we asked for");
            let m = Message::from_vec(udp.payload()).unwrap();
            let (rcode, answers) = queries[i].1;
            assert_eq!(m.id(), i as u16);
            assert_eq!((m.response_code(), m.answers().len()), (rcode, answers));
            answered += 1;
        }
        while in_flight.len() < WINDOW {
            let i = next % frames.len();
            next += 1;
            assert!(dp.inject(&frames[i]));
            in_flight.push_back(i);
        }
        answered
    })
}

fn dns_queries_allocate_nothing_once_warm() {
    let cookie = Some([1, 2, 3, 4, 5, 6, 7, 8]);
    let common = [
        (
            query(0, "www.xskd.test.", RecordType::A, None),
            (ResponseCode::NoError, 1),
        ),
        (
            query(1, "WWW.Xskd.Test.", RecordType::A, cookie),
            (ResponseCode::NoError, 1),
        ),
        (
            query(2, "nope.xskd.test.", RecordType::A, None),
            (ResponseCode::NXDomain, 0),
        ),
        (
            query(3, "www.xskd.test.", RecordType::AAAA, cookie),
            (ResponseCode::NoError, 0),
        ),
        (
            query(4, "example.com.", RecordType::A, None),
            (ResponseCode::Refused, 0),
        ),
    ];
    let counted = serve(&common);
    println!("dns over udp: {counted}");
    assert!(counted.requests >= MEASURED);
    assert_eq!(
        (counted.allocations, counted.reallocations),
        (0, 0),
        "DNS over UDP allocated in steady state: {counted}"
    );

    // Past 32 bytes of label data hickory's `Name` moves its label bytes
    // from the inline buffer to the heap while the question is decoded
    // (one allocation, one reallocation as it grows), freed once answered.
    // Rare (most names are shorter), so this is a stated bound rather than
    // a decoder of our own.
    let long = [(
        query(0, LONG, RecordType::A, None),
        (ResponseCode::NoError, 1),
    )];
    let counted = serve(&long);
    println!(
        "dns over udp, long name: {counted} = {:.2} per query",
        counted.per_request()
    );
    assert!(counted.requests >= MEASURED);
    assert!(
        counted.allocations as u64 <= counted.requests
            && counted.reallocations as u64 <= counted.requests,
        "more than hickory's name buffer per long-name query: {counted}"
    );
}
