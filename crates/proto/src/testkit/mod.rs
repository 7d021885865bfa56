//! Fixtures for tests, here and in the crates above (feature `testkit`):
//! the lab's addresses, the allocating sinks that record what the stack
//! sent, and a back-to-back exchange of two `Tcp`s on virtual time. Not part
//! of the release API: the daemon never enables the feature.

use std::net::{Ipv4Addr, SocketAddrV4};

pub mod frames;

use crate::drop_reason::DropReason;
use crate::link::TxSink;
use crate::stack::tcp::{SegmentSink, Tcp};
use crate::stack::{UdpReply, UdpService};
use crate::time::Instant;

/// The stack under test (the lab's xskd side).
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Its peer (the lab's kernel side).
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Every segment a `Tcp` emitted: (source, destination, bytes).
pub type Segments = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

/// Records each segment (allocates: tests only).
impl SegmentSink for Segments {
    fn send_segment<F: FnOnce(&mut [u8])>(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        len: usize,
        fill: F,
    ) -> Result<(), DropReason> {
        let mut buf = vec![0u8; len];
        fill(&mut buf);
        self.push((src, dst, buf));
        Ok(())
    }

    fn room(&self) -> usize {
        usize::MAX
    }
}

/// Records each frame (allocates: tests only).
impl TxSink for Vec<Vec<u8>> {
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason> {
        let mut frame = vec![0u8; len];
        fill(&mut frame);
        self.push(frame);
        Ok(())
    }

    fn room(&self) -> usize {
        usize::MAX
    }
}

/// A link with room for `room` more frames (a transmit ring filling up):
/// what it takes goes to `inner`; past the room it refuses with
/// `TxRingFull` and counts the refusal in `refused`, which a stack that
/// honours `room()` never causes. Tests set `room` again for each turn.
#[derive(Debug, Default)]
pub struct Limited<S> {
    pub inner: S,
    pub room: usize,
    pub refused: u64,
}

impl<S> Limited<S> {
    pub fn new(inner: S, room: usize) -> Self {
        Limited {
            inner,
            room,
            refused: 0,
        }
    }

    fn take(&mut self) -> Result<(), DropReason> {
        if self.room == 0 {
            self.refused += 1;
            return Err(DropReason::TxRingFull);
        }
        self.room -= 1;
        Ok(())
    }
}

impl<S: SegmentSink> SegmentSink for Limited<S> {
    fn send_segment<F: FnOnce(&mut [u8])>(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        len: usize,
        fill: F,
    ) -> Result<(), DropReason> {
        self.take()?;
        self.inner.send_segment(src, dst, len, fill)
    }

    fn room(&self) -> usize {
        self.room.min(self.inner.room())
    }
}

impl<S: TxSink> TxSink for Limited<S> {
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason> {
        self.take()?;
        self.inner.transmit(len, fill)
    }

    fn room(&self) -> usize {
        self.room.min(self.inner.room())
    }
}

/// Poll both stacks and carry segments between them until both are quiet;
/// `cs` holds segments the client already emitted. The client is at
/// [`CLIENT`], the server at [`SERVER`].
pub fn exchange(client: &mut Tcp, server: &mut Tcp, now: Instant, mut cs: Segments) {
    let mut ss = Segments::new();
    client.poll(now, &mut cs);
    server.poll(now, &mut ss);
    while !cs.is_empty() || !ss.is_empty() {
        let (mut cs2, mut ss2) = (Segments::new(), Segments::new());
        for (_, _, seg) in cs.drain(..) {
            let _ = server.on_segment(now, CLIENT, SERVER, &seg, &mut ss2);
        }
        for (_, _, seg) in ss.drain(..) {
            let _ = client.on_segment(now, SERVER, CLIENT, &seg, &mut cs2);
        }
        cs = cs2;
        ss = ss2;
    }
}

/// A UDP service that sends every datagram straight back, with none of the
/// echo service's filtering: the stack's tests use it to see what the
/// stack itself does with a reply.
#[derive(Debug, Default)]
pub struct Reflect;

impl Reflect {
    pub fn new() -> Self {
        Reflect
    }
}

impl UdpService for Reflect {
    fn on_datagram(
        &mut self,
        _now: Instant,
        _src: SocketAddrV4,
        _dst: SocketAddrV4,
        payload: &[u8],
        reply: &mut UdpReply<'_>,
    ) {
        let _ = reply.send(payload);
    }
}
