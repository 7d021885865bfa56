//! Several stacks sharing one address, as the workers of several queues
//! do: frames land on whichever stack the test says (as RSS would put
//! them), handoffs are carried between the stacks by a mailbox, and every
//! stack's output is kept apart.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use super::*;
use crate::stack::tcp::State;
use crate::wire::tcp::{Control, SeqNumber, TcpPacket, TcpRepr};

/// Handoffs in flight, one queue per worker.
struct Mailbox {
    queues: Vec<VecDeque<(Handoff, Vec<u8>)>>,
    /// Refuse everything, as a full sibling queue does.
    full: bool,
}

impl Siblings for Mailbox {
    fn hand_off(&mut self, to: u16, how: Handoff, bytes: &[u8]) -> bool {
        if self.full {
            return false;
        }
        self.queues[usize::from(to)].push_back((how, bytes.to_vec()));
        true
    }
}

struct Team {
    stacks: Vec<Stack>,
    mail: Mailbox,
    out: Vec<Vec<Vec<u8>>>,
}

impl Team {
    fn new(n: u16) -> Team {
        let stacks = (0..n)
            .map(|index| {
                let mut c = config();
                c.shard = Shard {
                    index,
                    count: n,
                    frag_key: 42,
                };
                c.tcp_secret = [index as u8 + 1; 32];
                c.tcp_seed = u64::from(index);
                let mut s = Stack::new(c);
                s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut Vec::new());
                s
            })
            .collect();
        Team {
            stacks,
            mail: Mailbox {
                queues: (0..n).map(|_| VecDeque::new()).collect(),
                full: false,
            },
            out: (0..n).map(|_| Vec::new()).collect(),
        }
    }

    /// A frame arrives on worker `w`'s queue; handoffs are carried until
    /// none is left.
    fn rx(&mut self, w: usize, frame: &[u8]) {
        self.stacks[w].process_frame_with(T0, frame, &mut self.out[w], &mut self.mail);
        self.pump();
    }

    fn pump(&mut self) {
        loop {
            let mut any = false;
            for w in 0..self.stacks.len() {
                while let Some((how, bytes)) = self.mail.queues[w].pop_front() {
                    self.stacks[w].process_handoff(
                        T0,
                        how,
                        &bytes,
                        &mut self.out[w],
                        &mut self.mail,
                    );
                    any = true;
                }
            }
            if !any {
                return;
            }
        }
    }

    /// TCP segments worker `w` sent since the last call.
    fn take_segments(&mut self, w: usize) -> Vec<Seg> {
        std::mem::take(&mut self.out[w])
            .iter()
            .filter_map(|f| Seg::parse(f))
            .collect()
    }

    fn handoffs(&self, w: usize) -> HandoffCounters {
        self.stacks[w].counters().handoff
    }

    fn rsts(&self) -> u64 {
        self.stacks
            .iter()
            .map(|s| s.tcp().counters().out_rsts)
            .sum()
    }
}

/// The fields of a segment we sent that the tests look at.
#[derive(Debug)]
struct Seg {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: Option<u32>,
    control: Control,
}

impl Seg {
    fn parse(frame: &[u8]) -> Option<Seg> {
        let ip = Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..]).ok()?;
        if ip.protocol() != IpProtocol::Tcp {
            return None;
        }
        let p = TcpPacket::new_checked(ip.payload()).ok()?;
        let r = TcpRepr::parse(&p, OUR_IP, PEER_IP).ok()?;
        Some(Seg {
            src_port: r.src_port,
            dst_port: r.dst_port,
            seq: r.seq.0,
            ack: r.ack.map(|a| a.0),
            control: r.control,
        })
    }
}

/// A segment from the peer to us.
fn segment(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: Option<u32>,
    control: Control,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq: SeqNumber(seq),
        ack: ack.map(SeqNumber),
        control,
        psh: false,
        window_len: 65535,
        mss: (control == Control::Syn).then_some(1460),
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER_IP, OUR_IP);
    Ip::new(IpProtocol::Tcp).frame(&b)
}

const SERVER: SocketAddrV4 = SocketAddrV4::new(PEER_IP, 9000);

fn state_of(s: &Stack, local_port: u16) -> Option<State> {
    s.tcp()
        .connections()
        .find(|c| c.local.port() == local_port)
        .map(|c| c.state)
}

#[test]
fn each_worker_opens_from_its_own_slice_of_the_ephemeral_ports() {
    let mut team = Team::new(2);
    let slices: Vec<(u16, u16)> = team
        .stacks
        .iter()
        .map(|s| s.tcp().own_ephemeral_ports().unwrap())
        .collect();
    assert_eq!(slices, [(49152, 57343), (57344, 65535)]);
    let mut ports = [Vec::new(), Vec::new()];
    for (w, seen) in ports.iter_mut().enumerate() {
        for _ in 0..300 {
            team.stacks[w]
                .tcp_connect(T0, SERVER, &mut team.out[w])
                .unwrap();
        }
        for s in team.take_segments(w) {
            assert_eq!(s.control, Control::Syn);
            seen.push(s.src_port);
        }
        assert_eq!(seen.len(), 300);
        let (lo, hi) = slices[w];
        assert!(
            seen.iter().all(|p| (lo..=hi).contains(p)),
            "worker {w}: {seen:?}"
        );
    }
    let mut all: Vec<u16> = ports.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        600,
        "no 4-tuple is picked twice, across workers either"
    );
}

#[test]
fn a_syn_ack_on_the_other_queue_reaches_the_worker_that_connected() {
    let mut team = Team::new(2);
    team.stacks[0]
        .tcp_connect(T0, SERVER, &mut team.out[0])
        .unwrap();
    let syn = team.take_segments(0).pop().unwrap();
    // RSS puts the answer on queue 1.
    let synack = segment(
        9000,
        syn.src_port,
        5000,
        Some(syn.seq + 1),
        Control::Syn,
        &[],
    );
    team.rx(1, &synack);
    assert_eq!(team.handoffs(1).sent(HandoffKind::TcpOwner), 1);
    assert_eq!(team.handoffs(0).received(HandoffKind::TcpOwner), 1);
    assert!(team.take_segments(1).is_empty(), "worker 1 answers nothing");
    assert_eq!(
        state_of(&team.stacks[0], syn.src_port),
        Some(State::Established)
    );
    let ack = team.take_segments(0).pop().expect("the handshake's ACK");
    assert_eq!((ack.control, ack.ack), (Control::None, Some(5001)));
    // The data that follows, on either queue, lands on the owner too.
    for w in [1, 0, 1] {
        team.rx(
            w,
            &segment(
                9000,
                syn.src_port,
                5001,
                Some(syn.seq + 1),
                Control::None,
                b"",
            ),
        );
    }
    assert_eq!(team.handoffs(1).sent(HandoffKind::TcpOwner), 3);
    assert_eq!(team.rsts(), 0);
    assert_eq!(drops(&team.stacks[1], DropReason::TcpNoListener), 0);
    assert_eq!(
        team.stacks[1].tcp().counters().in_segs,
        0,
        "counted where processed"
    );
}

#[test]
fn without_a_relay_the_segment_is_counted_as_handoff_full_never_reset() {
    let mut team = Team::new(2);
    team.mail.full = true;
    team.stacks[0]
        .tcp_connect(T0, SERVER, &mut team.out[0])
        .unwrap();
    let syn = team.take_segments(0).pop().unwrap();
    team.rx(
        1,
        &segment(
            9000,
            syn.src_port,
            5000,
            Some(syn.seq + 1),
            Control::Syn,
            &[],
        ),
    );
    assert_eq!(drops(&team.stacks[1], DropReason::HandoffFull), 1);
    assert_eq!(team.rsts(), 0);
    assert_eq!(
        state_of(&team.stacks[0], syn.src_port),
        Some(State::SynSent)
    );
}

#[test]
fn an_icmp_error_about_an_active_open_reaches_its_owner() {
    let mut team = Team::new(2);
    team.stacks[0]
        .tcp_connect(T0, SERVER, &mut team.out[0])
        .unwrap();
    let frame = std::mem::take(&mut team.out[0]).pop().unwrap();
    let quoted = &frame[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + 28];
    let err = icmp_bytes(&IcmpRepr::DstUnreachable {
        code: IcmpUnreachable::PortUnreachable,
        invoking: quoted,
    });
    team.rx(1, &Ip::new(IpProtocol::Icmp).frame(&err));
    assert_eq!(team.handoffs(1).sent(HandoffKind::TcpIcmpError), 1);
    assert_eq!(team.handoffs(0).received(HandoffKind::TcpIcmpError), 1);
    // A hard error in SYN-SENT ends the attempt (RFC 5461 4.1).
    assert_eq!(team.stacks[0].tcp().counters().attempt_fails, 1);
}

#[test]
fn a_passive_connection_whose_segments_move_queue_is_searched_for_not_reset() {
    let mut team = Team::new(3);
    let listeners: Vec<_> = team
        .stacks
        .iter_mut()
        .map(|s| s.tcp_mut().listen(80).unwrap())
        .collect();
    team.rx(0, &segment(40000, 80, 1000, None, Control::Syn, &[]));
    let synack = team.take_segments(0).pop().unwrap();
    assert_eq!(synack.control, Control::Syn);
    assert_eq!(
        team.handoffs(0).sent,
        [0; 4],
        "a SYN is served where it lands"
    );
    // The peer rehashed its flow: the handshake's ACK comes in on queue 2,
    // which has no such connection and passes it on (2 -> 0).
    let isn = synack.seq;
    team.rx(
        2,
        &segment(40000, 80, 1001, Some(isn + 1), Control::None, &[]),
    );
    assert_eq!(team.handoffs(2).sent(HandoffKind::TcpSearch), 1);
    assert_eq!(state_of(&team.stacks[0], 80), Some(State::Established));
    let c = team.stacks[0].tcp_mut().accept(listeners[0]).unwrap();
    // Data on queue 1 looks on 2, then on 0.
    team.rx(
        1,
        &segment(40000, 80, 1001, Some(isn + 1), Control::None, b"hello"),
    );
    assert_eq!(team.handoffs(1).sent(HandoffKind::TcpSearch), 1);
    assert_eq!(team.handoffs(2).sent(HandoffKind::TcpSearch), 2);
    let mut buf = [0u8; 16];
    let n = team.stacks[0].tcp_mut().recv(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(team.rsts(), 0, "nobody reset a sibling's connection");
    let in_segs: Vec<u64> = team
        .stacks
        .iter()
        .map(|s| s.tcp().counters().in_segs)
        .collect();
    assert_eq!(
        in_segs,
        [3, 0, 0],
        "each segment counted once, by its owner"
    );
    for s in &team.stacks[1..] {
        assert!(s.tcp().connections().all(|c| c.state == State::Listen));
    }
}

#[test]
fn a_segment_nobody_has_is_answered_once_by_the_last_worker_to_look() {
    let mut team = Team::new(3);
    for s in &mut team.stacks {
        s.tcp_mut().listen(80).unwrap();
    }
    team.rx(1, &segment(40001, 80, 7, Some(1234), Control::None, &[]));
    let rsts: Vec<Vec<Seg>> = (0..3).map(|w| team.take_segments(w)).collect();
    assert!(rsts[1].is_empty() && rsts[2].is_empty(), "{rsts:?}");
    let rst = &rsts[0];
    assert_eq!(rst.len(), 1, "one RST, from worker 0 (1 -> 2 -> 0)");
    assert_eq!(
        (rst[0].control, rst[0].seq, rst[0].dst_port),
        (Control::Rst, 1234, 40001)
    );
    // A RST for nobody's connection goes round too and is dropped at the end.
    team.rx(2, &segment(40001, 80, 7, None, Control::Rst, &[]));
    assert_eq!(drops(&team.stacks[1], DropReason::TcpRstInvalid), 1);
    assert_eq!(team.rsts(), 1);
    // A closed port has no listener anywhere: answered where it lands.
    team.rx(1, &segment(40001, 81, 7, Some(99), Control::None, &[]));
    assert_eq!(team.take_segments(1).len(), 1);
    assert_eq!(team.handoffs(1).sent(HandoffKind::TcpSearch), 1);
}

#[test]
fn a_lone_stack_answers_at_once_and_hands_nothing_over() {
    let mut s = learned_stack();
    s.tcp_mut().listen(80).unwrap();
    let mut out = Vec::new();
    s.process_frame(
        T0,
        &segment(40001, 80, 7, Some(1234), Control::None, &[]),
        &mut out,
    );
    assert_eq!(s.tcp().counters().out_rsts, 1);
    assert_eq!(s.counters().handoff, HandoffCounters::default());
}

#[test]
fn fragments_that_land_on_different_queues_are_reassembled_on_one_worker() {
    let mut team = Team::new(2);
    for s in &mut team.stacks {
        s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    }
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut owners = [0u32; 2];
    for ident in 0..16u16 {
        let ip = Ip {
            ident,
            ..Ip::new(IpProtocol::Udp)
        };
        let frags = ip.fragments(&udp_bytes(PEER_IP, OUR_IP, 5000, 7, &payload), 1480);
        assert_eq!(frags.len(), 3);
        // Fragments alternate between the queues.
        for (i, f) in frags.iter().enumerate() {
            team.rx(i % 2, f);
        }
        let owner = team.stacks[0]
            .config()
            .shard
            .frag_owner(&crate::stack::ipv4_frag::FragKey {
                src: PEER_IP,
                dst: OUR_IP,
                protocol: 17,
                ident,
            });
        owners[usize::from(owner)] += 1;
        let echoed = reassemble_out(
            &ipv4_only(&std::mem::take(&mut team.out[usize::from(owner)])),
            1500,
        );
        assert_eq!(
            echoed.payload[UDP_HEADER_LEN..],
            payload[..],
            "ident {ident}"
        );
        assert!(team.out[1 - usize::from(owner)].is_empty());
    }
    assert!(
        owners.iter().all(|&n| n > 0),
        "both workers reassembled some: {owners:?}"
    );
    let reassembled: u64 = team
        .stacks
        .iter()
        .map(|s| s.counters().ipv4_reassembled)
        .sum();
    assert_eq!(reassembled, 16);
    let moved: u64 = (0..2)
        .map(|w| team.handoffs(w).sent(HandoffKind::Fragment))
        .sum();
    let taken: u64 = (0..2)
        .map(|w| team.handoffs(w).received(HandoffKind::Fragment))
        .sum();
    assert_eq!(moved, taken);
    // Of 48 fragments, each went to its owner: those that landed elsewhere moved.
    assert!(moved >= 16, "{moved}");
    assert_eq!(
        team.stacks
            .iter()
            .map(|s| s.reassembly_in_use())
            .sum::<usize>(),
        0
    );
}

#[test]
fn a_retransmitted_syn_on_another_queue_leaves_the_peer_one_live_connection() {
    // The peer's SYN reached worker 0, whose SYN-ACK was slow; the peer
    // retransmitted after rehashing its flow, so worker 1 got that SYN and
    // answered too. The peer completes one of the two handshakes and its
    // ACK may land on either worker: the one with the other SYN-ACK passes
    // it on instead of resetting the peer.
    for (chosen, ack_lands_on) in [(0usize, 1usize), (1, 0), (0, 0), (1, 1)] {
        let mut team = Team::new(2);
        for s in &mut team.stacks {
            s.tcp_mut().listen(80).unwrap();
        }
        let syn = segment(40000, 80, 1000, None, Control::Syn, &[]);
        team.rx(0, &syn);
        team.rx(1, &syn);
        let isns: Vec<u32> = (0..2)
            .map(|w| team.take_segments(w).pop().unwrap().seq)
            .collect();
        assert_ne!(isns[0], isns[1]);
        let ack = segment(40000, 80, 1001, Some(isns[chosen] + 1), Control::None, &[]);
        team.rx(ack_lands_on, &ack);
        assert_eq!(team.rsts(), 0, "chose {chosen}, ACK on {ack_lands_on}");
        assert_eq!(state_of(&team.stacks[chosen], 80), Some(State::Established));
        assert_eq!(
            state_of(&team.stacks[1 - chosen], 80),
            Some(State::SynReceived)
        );
        let searched = team.handoffs(ack_lands_on).sent(HandoffKind::TcpSearch);
        assert_eq!(searched, u64::from(chosen != ack_lands_on));
    }
}
