//! Buffer autotuning through the API (see `autotune`).

use super::recovery_tests::Harness;
use super::TcpConfig;

fn small_send_ring() -> Harness {
    Harness::exactly(TcpConfig {
        mss: 1000,
        timestamps: false,
        send_buffer: 2000,
        send_buffer_max: 64_000,
        ..TcpConfig::default()
    })
}

#[test]
fn send_capacity_promises_the_room_a_full_write_grows_the_ring_to() {
    let mut h = small_send_ring();
    // cwnd is the initial window (10 segments): a full write may grow
    // the 2000-byte ring to twice that.
    let room = h.tcp.send_capacity(h.conn);
    assert_eq!(room, 20_000);
    let data = vec![1u8; room];
    assert_eq!(h.tcp.send(h.conn, &data), Ok(room));
    assert_eq!(h.tcp.counters().send_buffer_grows, 1);
    assert_eq!(
        h.tcp.send_capacity(h.conn),
        0,
        "full, and cwnd has not grown"
    );
}

#[test]
fn growth_past_the_budget_is_refused_and_the_ring_keeps_its_size() {
    let mut h = Harness::exactly(TcpConfig {
        mss: 1000,
        timestamps: false,
        send_buffer: 2000,
        send_buffer_max: 64_000,
        recv_buffer: 4000,
        buffer_budget: 10_000,
        ..TcpConfig::default()
    });
    // 6000 bytes of initial rings leave 4000 to grow by: not the 18000
    // the window asks for.
    assert_eq!(h.tcp.send_capacity(h.conn), 2000);
    let data = vec![1u8; 5000];
    assert_eq!(h.tcp.send(h.conn, &data), Ok(2000));
    assert_eq!(h.tcp.counters().send_buffer_grows, 0);
    assert_eq!(h.tcp.counters().buffer_growth_refused, 1);
}
