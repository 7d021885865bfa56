//! The end of a graceful stop: whatever has not drained is reset.

use super::config::State;
use super::Tcp;

impl Tcp {
    /// Connections still carrying data or a close handshake (TIME-WAIT and
    /// CLOSED excluded): what a graceful stop waits for.
    pub fn draining(&self) -> usize {
        self.connections()
            .filter(|c| !matches!(c.state, State::TimeWait | State::Closed))
            .count()
    }

    /// Reset every connection that is not in TIME-WAIT (RSTs go out on the
    /// next `poll`), owned by an application or orphaned alike. Returns how
    /// many were reset.
    pub fn abort_all(&mut self) -> usize {
        let mut n = 0;
        for idx in 0..self.slots.len() as u32 {
            let Some(t) = self.tcb_mut(idx) else { continue };
            match t.state {
                State::Closed | State::TimeWait => continue,
                State::SynSent => {
                    self.close_conn(idx, None);
                }
                _ => {
                    t.rst_pending = true;
                    t.needs_output = true;
                }
            }
            n += 1;
            self.touch(idx);
        }
        n
    }
}
