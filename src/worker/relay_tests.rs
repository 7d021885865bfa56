//! Two worker loops with real stacks, joined by `Mesh::connect`, on
//! in-memory ports: what arrives on one queue and belongs to the other
//! crosses over and is answered by its owner.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xskd_proto::testkit::frames::{self, Ip};

use super::node::{Node, NodeStats};
use super::*;
use crate::datapath::memory::MemoryPort;
use crate::service::UdpEcho;
use crate::stack::{HandoffKind, Shard, Stack};
use crate::wire::{EthernetFrame, IpProtocol, Ipv4Packet, UDP_HEADER_LEN};

const DATAGRAMS: u16 = 12;

/// Frames the workers sent, each with the worker that sent it.
type Sent = Arc<Mutex<Vec<(usize, Vec<u8>)>>>;

fn node(index: u16) -> Node {
    let mut cfg = frames::config();
    // Every datagram is in flight at once.
    cfg.frag.max_datagrams = usize::from(DATAGRAMS);
    cfg.shard = Shard {
        index,
        count: 2,
        frag_key: 9,
    };
    let mut stack = Stack::new(cfg);
    stack.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    Node::new(stack, vec![(7, "udp_echo")], Vec::new())
}

fn payload(id: u16) -> Vec<u8> {
    (0..3000u32).map(|i| (i as u16 ^ id) as u8).collect()
}

#[test]
fn fragments_split_over_two_queues_are_echoed_whole_by_one_worker() {
    let stop = Arc::new(AtomicBool::new(false));
    // (worker, frame) for everything the workers sent, and their final stats.
    let sent: Sent = Arc::default();
    let finals: Arc<Mutex<Vec<(usize, NodeStats)>>> = Arc::default();
    let mut ports: Vec<MemoryPort> = (0..2).map(|_| MemoryPort::new(128, 2048)).collect();
    for port in &mut ports {
        let arp = frames::arp_request(frames::PEER_MAC, frames::PEER_IP, frames::OUR_IP);
        assert!(port.inject(&arp));
    }
    for id in 0..DATAGRAMS {
        let udp = frames::udp_bytes(frames::PEER_IP, frames::OUR_IP, 4000 + id, 7, &payload(id));
        let ip = Ip {
            ident: id,
            ..Ip::new(IpProtocol::Udp)
        };
        // Fragment i lands on queue i % 2, as a NIC hashing ports would.
        for (i, f) in ip.fragments(&udp, 1480).iter().enumerate() {
            assert!(ports[i % 2].inject(f));
        }
    }
    let threads: Vec<_> = ports
        .into_iter()
        .zip(Mesh::connect(2, 1514))
        .enumerate()
        .map(|(w, (mut port, mut mesh))| {
            let (stop, sent, finals) = (stop.clone(), sent.clone(), finals.clone());
            std::thread::spawn(move || {
                let mut proc = node(w as u16);
                let opts = WorkerOptions {
                    queue: w as u32,
                    batch: 16,
                    poll: PollMode::Busy,
                    report_every: Duration::from_millis(1),
                    drain: Duration::ZERO,
                };
                run(
                    &mut port,
                    &mut proc,
                    &opts,
                    &stop,
                    &mut mesh,
                    |dp, p, _, last| {
                        sent.lock()
                            .unwrap()
                            .extend(dp.take_sent().into_iter().map(|f| (w, f)));
                        if last {
                            finals.lock().unwrap().push((w, p.stats()));
                        }
                    },
                )
            })
        })
        .collect();
    // Bounded: the loops stop once every datagram is echoed, or after 20 s.
    let replies = |sent: &[(usize, Vec<u8>)]| {
        sent.iter()
            .filter(|(_, f)| {
                let eth = EthernetFrame::new_checked(&f[..]).unwrap();
                Ipv4Packet::new_checked(eth.payload())
                    .is_ok_and(|ip| ip.protocol() == IpProtocol::Udp && !ip.more_frags())
            })
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while replies(&sent.lock().unwrap()) < usize::from(DATAGRAMS)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    // Group the echoes by (worker, IPv4 ident) and reassemble each.
    let mut by_datagram: BTreeMap<(usize, u16), Vec<Vec<u8>>> = BTreeMap::new();
    for (w, f) in sent.lock().unwrap().iter() {
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        if let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) {
            if ip.protocol() == IpProtocol::Udp {
                by_datagram
                    .entry((*w, ip.ident()))
                    .or_default()
                    .push(f.clone());
            }
        }
    }
    let mut echoed: Vec<u16> = Vec::new();
    let mut per_worker = [0u32; 2];
    for ((w, _), fs) in &by_datagram {
        let d = frames::reassemble_out(fs, 1500);
        let port = u16::from_be_bytes([d.payload[2], d.payload[3]]);
        let id = port - 4000;
        assert_eq!(
            d.payload[UDP_HEADER_LEN..],
            payload(id)[..],
            "datagram {id}"
        );
        echoed.push(id);
        per_worker[*w] += 1;
    }
    echoed.sort_unstable();
    assert_eq!(
        echoed,
        (0..DATAGRAMS).collect::<Vec<_>>(),
        "each echoed once"
    );
    assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");
    let finals = finals.lock().unwrap();
    assert_eq!(finals.len(), 2);
    let (mut moved, mut taken, mut fragments) = (0, 0, 0);
    for (_, s) in finals.iter() {
        moved += s.stack.handoff.sent(HandoffKind::Fragment);
        taken += s.stack.handoff.received(HandoffKind::Fragment);
        fragments += s.stack.ipv4_fragments_rx;
        assert_eq!(s.reassembly_in_use, 0);
    }
    assert_eq!(
        fragments,
        u64::from(DATAGRAMS) * 3,
        "counted where they arrived"
    );
    assert_eq!(moved, taken);
    assert!(moved >= u64::from(DATAGRAMS), "{moved}");
}
