//! Steady-state UDP echo allocates nothing per datagram: frames in through
//! the worker loop, the stack and the echo service, frames out into the
//! port's reused buffers, including a datagram that arrives and leaves in
//! fragments (reassembly slot, fragmentation scratch buffer).

mod steady_state;

use std::collections::VecDeque;

use steady_state::{port, run_worker, server_stack};
use xskd::service::UdpEcho;
use xskd::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet, UdpPacket};
use xskd::worker::node::Node;
use xskd_proto::testkit::frames::{
    arp_request, reassemble_out, udp_bytes, Ip, OUR_IP, PEER_IP, PEER_MAC,
};

const PORT: u16 = 7;
/// Payload sizes cycled through: the smallest frame, a medium one, the
/// largest unfragmented one, and one in three fragments.
const SIZES: [usize; 4] = [18, 512, 1472, 4000];
/// Datagrams in flight at once (several frames per rx batch).
const WINDOW: usize = 4;
const WARM: u64 = 200;
const MEASURED: u64 = 2000;

/// Run without libtest (`harness = false`): see `steady_state`.
fn main() {
    udp_echo_allocates_nothing_per_datagram_once_warm();
    println!("udp_echo_allocates_nothing_per_datagram_once_warm: ok");
}

fn payload(i: usize) -> Vec<u8> {
    (0..SIZES[i]).map(|b| (b * 7 + i) as u8).collect()
}

fn udp_echo_allocates_nothing_per_datagram_once_warm() {
    let mut stack = server_stack();
    stack.bind_udp(PORT, Box::new(UdpEcho::new())).unwrap();
    let mut node = Node::new(stack, vec![(PORT, "udp_echo")], Vec::new());
    let mut dp = port();
    // The peer announces itself first, so the worker can answer at once.
    assert!(dp.inject(&arp_request(PEER_MAC, PEER_IP, OUR_IP)));

    let payloads: Vec<Vec<u8>> = (0..SIZES.len()).map(payload).collect();
    let requests: Vec<Vec<Vec<u8>>> = payloads
        .iter()
        .map(|p| {
            let udp = udp_bytes(PEER_IP, OUR_IP, 40000, PORT, p);
            Ip::new(IpProtocol::Udp).fragments(&udp, 1480)
        })
        .collect();
    let mut in_flight = VecDeque::new();
    let mut next = 0usize;
    let mut echoed = 0u64;
    let mut fragments: Vec<Vec<u8>> = Vec::new();
    let counted = run_worker(&mut node, &mut dp, WARM, MEASURED, |dp, _now| {
        while let Some(frame) = dp.recv_sent(|f| f.to_vec()) {
            let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
            if eth.ethertype() != EtherType::Ipv4 {
                // The worker's ARP announcement and reply.
                continue;
            }
            let more = Ipv4Packet::new_checked(eth.payload()).unwrap().more_frags();
            fragments.push(frame);
            if more {
                continue;
            }
            let sent = reassemble_out(&fragments, 1500);
            fragments.clear();
            let want: usize = in_flight.pop_front().expect("an echo we asked for");
            assert_eq!((sent.src, sent.dst), (OUR_IP, PEER_IP));
            assert_eq!(
                sent.fragments,
                requests[want].len(),
                "fragmented as it came"
            );
            let udp = UdpPacket::new_checked(&sent.payload[..]).unwrap();
            assert_eq!((udp.src_port(), udp.dst_port()), (PORT, 40000));
            assert_eq!(udp.payload(), &payloads[want][..], "the datagram came back");
            echoed += 1;
        }
        while in_flight.len() < WINDOW {
            let i = next % SIZES.len();
            next += 1;
            for f in &requests[i] {
                assert!(dp.inject(f));
            }
            in_flight.push_back(i);
        }
        echoed
    });
    println!("udp echo: {counted}");
    assert!(counted.requests >= MEASURED);
    assert_eq!(
        (counted.allocations, counted.reallocations),
        (0, 0),
        "UDP echo allocated in steady state: {counted}"
    );
}
