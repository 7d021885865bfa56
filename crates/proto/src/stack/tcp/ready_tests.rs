//! Readiness lists (`ready.rs`): which events list a connection, that
//! taking clears, that nothing is listed twice, and the bound.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::*;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

struct Lab {
    client: Tcp,
    server: Tcp,
    now: Instant,
    listener: ListenerId,
    to_server: Sink,
}

impl Lab {
    fn new(cfg: TcpConfig) -> Lab {
        let mut server = Tcp::new(cfg.clone(), SERVER, [3; 32], 1);
        let listener = server.listen(80).unwrap();
        Lab {
            client: Tcp::new(cfg, CLIENT, [4; 32], 2),
            server,
            now: Instant::from_secs(100),
            listener,
            to_server: Sink::new(),
        }
    }

    /// Deliver everything both ways (and run both stacks' `poll`) until quiet.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut to_client = Sink::new();
            self.client.poll(self.now, &mut self.to_server);
            self.server.poll(self.now, &mut to_client);
            if self.to_server.is_empty() && to_client.is_empty() {
                return;
            }
            for (_, _, s) in std::mem::take(&mut self.to_server) {
                let _ = self
                    .server
                    .on_segment(self.now, CLIENT, SERVER, &s, &mut to_client);
            }
            for (_, _, s) in to_client {
                let _ = self
                    .client
                    .on_segment(self.now, SERVER, CLIENT, &s, &mut self.to_server);
            }
            self.now += Duration::from_millis(1);
        }
        panic!("no quiescence");
    }

    /// A connected pair: (client handle, accepted server handle).
    fn connect(&mut self) -> (ConnId, ConnId) {
        let c = self
            .client
            .connect(self.now, SocketAddrV4::new(SERVER, 80), &mut self.to_server)
            .unwrap();
        self.settle();
        let s = self.server.accept(self.listener).expect("accepted");
        (c, s)
    }

    fn take(&mut self) -> Vec<ConnId> {
        let mut v = Vec::new();
        self.server.take_ready(self.listener, &mut v);
        v
    }
}

fn cfg() -> TcpConfig {
    TcpConfig {
        delayed_ack: None,
        ..TcpConfig::default()
    }
}

#[test]
fn ready_data_in_two_segments_lists_connection_once() {
    let mut lab = Lab::new(cfg());
    let (c, s) = lab.connect();
    assert!(lab.take().is_empty(), "accepting is not an event");
    lab.client.set_nodelay(c, true).unwrap();
    lab.client.send(c, b"one").unwrap();
    lab.settle();
    lab.client.send(c, b"two").unwrap();
    lab.settle();
    assert_eq!(lab.server.ready_len(lab.listener), 1, "deduplicated");
    assert_eq!(lab.take(), vec![s]);
    assert!(lab.take().is_empty(), "taking clears the list");
}

#[test]
fn ready_taken_connection_is_listed_again_on_a_new_event_only() {
    let mut lab = Lab::new(cfg());
    let (c, s) = lab.connect();
    lab.client.send(c, b"hello").unwrap();
    lab.settle();
    assert_eq!(lab.take(), vec![s]);
    // The application's own reads (and the window update they cause) are
    // not events.
    let mut buf = [0u8; 64];
    assert_eq!(lab.server.recv(s, &mut buf), Ok(5));
    lab.settle();
    assert!(lab.take().is_empty());
    lab.client.send(c, b"again").unwrap();
    lab.settle();
    assert_eq!(lab.take(), vec![s]);
}

#[test]
fn ready_send_room_opened_by_ack_is_an_event() {
    let mut lab = Lab::new(cfg());
    let (_c, s) = lab.connect();
    lab.server.send(s, &[7u8; 3000]).unwrap();
    assert!(lab.take().is_empty(), "sending is not an event");
    lab.settle();
    assert_eq!(lab.take(), vec![s], "the client's ACKs freed send buffer");
    assert_eq!(lab.server.send_capacity(s), lab.server.config().send_buffer);
}

#[test]
fn ready_peer_fin_is_an_event_and_eof_is_observable() {
    let mut lab = Lab::new(cfg());
    let (c, s) = lab.connect();
    lab.client.shutdown_write(c).unwrap();
    lab.settle();
    assert_eq!(lab.take(), vec![s]);
    assert_eq!(lab.server.recv(s, &mut [0u8; 8]), Ok(0));
}

#[test]
fn ready_peer_reset_is_an_event_and_closed_is_observable() {
    let mut lab = Lab::new(cfg());
    let (c, s) = lab.connect();
    lab.client.abort(c).unwrap();
    lab.settle();
    assert_eq!(lab.take(), vec![s]);
    assert!(lab.server.readiness(s).reset);
    assert_eq!(lab.server.state(s), Some(State::Closed));
}

#[test]
fn ready_timer_giving_up_is_an_event() {
    let mut lab = Lab::new(TcpConfig {
        max_retries: 1,
        ..cfg()
    });
    let (_c, s) = lab.connect();
    lab.server.send(s, b"into the void").unwrap();
    let mut lost = Sink::new();
    lab.server.poll(lab.now, &mut lost);
    assert!(!lost.is_empty(), "the data went out (and is lost)");
    for _ in 0..200 {
        lab.now += Duration::from_secs(1);
        lost.clear();
        lab.server.poll(lab.now, &mut lost);
        if lab.server.state(s) == Some(State::Closed) {
            break;
        }
    }
    assert_eq!(lab.server.state(s), Some(State::Closed));
    assert_eq!(lab.take(), vec![s]);
}

#[test]
fn ready_unaccepted_and_released_connections_are_never_returned() {
    let mut lab = Lab::new(cfg());
    let (c, s) = lab.connect();
    // A second connection with data, never accepted.
    let c2 = lab
        .client
        .connect(lab.now, SocketAddrV4::new(SERVER, 80), &mut lab.to_server)
        .unwrap();
    lab.settle();
    lab.client.send(c2, b"queued").unwrap();
    lab.client.send(c, b"data").unwrap();
    lab.settle();
    // The application closes its handle while it is listed.
    lab.server.abort(s).unwrap();
    lab.settle();
    assert!(lab.take().is_empty());
}

#[test]
fn ready_list_stays_bounded_when_listed_connections_are_freed() {
    let max = 4;
    let mut lab = Lab::new(TcpConfig {
        max_conns: max,
        ..cfg()
    });
    // Each round: a connection gets data (listed), then the application
    // aborts it without taking the list: its slot is freed and reused.
    for round in 0..50 {
        let (c, s) = lab.connect();
        lab.client.send(c, b"x").unwrap();
        lab.settle();
        lab.server.abort(s).unwrap();
        lab.settle();
        assert!(
            lab.server.ready_len(lab.listener) <= max,
            "round {round}: {}",
            lab.server.ready_len(lab.listener)
        );
        let _ = lab.client.close(c);
        lab.settle();
    }
    assert!(lab.take().is_empty());
}

#[test]
fn ready_take_on_unknown_listener_returns_nothing() {
    let mut lab = Lab::new(cfg());
    let mut v = Vec::new();
    assert_eq!(lab.server.take_ready(ListenerId(81), &mut v), 0);
    assert!(v.is_empty());
}
