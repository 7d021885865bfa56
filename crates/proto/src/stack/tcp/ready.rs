//! Readiness lists: which accepted connections have something new for
//! their application, so a service serves those instead of walking every
//! connection it holds after each rx batch.
//!
//! Edge-triggered, like `EPOLLET`: a connection is reported once per batch
//! of events, and again only after a later event. An event is any change
//! the application can observe, detected by comparing a small signature of
//! the connection before and after each arriving segment and each timer
//! that fires:
//! - RCV.NXT moved: data to read, or the peer's FIN (EOF);
//! - SND.UNA moved: acknowledged data left the send buffer (room to write);
//! - the state changed (ESTABLISHED, CLOSE-WAIT, CLOSED by RST or a timer...);
//! - a close reason appeared (reset, timed out).
//!
//! The application's own calls (`recv`, `send`, `close`...) are not events:
//! after being told, a service does all it can at once (reads until
//! `WouldBlock`, writes until the buffer is full) and waits for the next
//! report. Newly accepted connections are not reported: the service serves
//! each one right after `accept` (data may have arrived before it).
//!
//! Bounded and allocation-free in steady state: each listener's list holds
//! at most one live entry per connection (the `ready` flag deduplicates),
//! and entries of connections freed while listed are compacted away before
//! the list would grow past `max_conns`, so it never outgrows that.

use super::config::{ConnId, ListenerId, State};
use super::tcb::Owner;
use super::Tcp;

/// What an application can observe of a connection (see the module doc).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AppEvents {
    rcv_nxt: u32,
    snd_una: u32,
    state: State,
    closed_for_reason: bool,
}

impl Tcp {
    /// The observable signature of an application-owned connection that
    /// reports readiness; `None` for any other.
    #[inline]
    pub(crate) fn app_events(&self, idx: u32) -> Option<AppEvents> {
        let t = self.tcb(idx)?;
        // Already listed: nothing to detect until the service takes it.
        if t.ready || t.ready_port.is_none() || t.owner != Owner::App {
            return None;
        }
        Some(AppEvents {
            rcv_nxt: t.rcv_nxt.0,
            snd_una: t.snd_una.0,
            state: t.state,
            closed_for_reason: t.close_reason.is_some(),
        })
    }

    /// After processing: list the connection if its signature changed.
    #[inline]
    pub(crate) fn note_app_events(&mut self, idx: u32, before: Option<AppEvents>) {
        if before.is_some() && self.app_events(idx) != before {
            self.mark_ready(idx);
        }
    }

    fn mark_ready(&mut self, idx: u32) {
        let max = self.cfg.max_conns;
        let Some(generation) = self.slots.get(idx as usize).map(|s| s.generation) else {
            return;
        };
        let id = ConnId {
            index: idx,
            generation,
        };
        let Tcp {
            slots, listeners, ..
        } = self;
        let Some(t) = slots.get_mut(idx as usize).and_then(|s| s.tcb.as_mut()) else {
            return;
        };
        if t.ready {
            return;
        }
        let Some(port) = t.ready_port else { return };
        // The listener is gone (unlisten): nobody will take the event.
        let Some(lis) = listeners.iter_mut().find(|l| l.port == port) else {
            return;
        };
        t.ready = true;
        if lis.ready.len() >= max {
            // Only entries of connections freed while listed can push the
            // list this far: drop them rather than grow.
            lis.ready.retain(|c| {
                slots.get(c.index as usize).is_some_and(|s| {
                    s.generation == c.generation && s.tcb.as_ref().is_some_and(|t| t.ready)
                })
            });
        }
        lis.ready.push(id);
    }

    /// Append to `out` every connection accepted from `l` that had an event
    /// since it was last taken (each once, oldest event first), and clear
    /// the list. Returns how many were appended. Serve each one as far as
    /// it goes (read until `WouldBlock`, write until full, observe EOF,
    /// reset or CLOSED): the next report comes only with a new event.
    ///
    /// Reuse `out` across calls (clear it, keep its capacity) and the
    /// steady state allocates nothing. Handles already closed by the
    /// application are never returned.
    pub fn take_ready(&mut self, l: ListenerId, out: &mut Vec<ConnId>) -> usize {
        let Tcp {
            slots, listeners, ..
        } = self;
        let Some(lis) = listeners.iter_mut().find(|x| x.port == l.0) else {
            return 0;
        };
        let before = out.len();
        for c in lis.ready.drain(..) {
            let Some(s) = slots.get_mut(c.index as usize) else {
                continue;
            };
            if s.generation != c.generation {
                continue;
            }
            let Some(t) = s.tcb.as_mut() else { continue };
            if !std::mem::take(&mut t.ready) || t.owner != Owner::App {
                continue;
            }
            out.push(c);
        }
        out.len() - before
    }

    /// Connections of `l` waiting in its ready list (for tests and gauges).
    pub fn ready_len(&self, l: ListenerId) -> usize {
        self.listeners
            .iter()
            .find(|x| x.port == l.0)
            .map_or(0, |x| x.ready.len())
    }
}
