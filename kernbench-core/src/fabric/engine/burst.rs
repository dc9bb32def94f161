//! The burst model's step: one burst crossing one hop.
//!
//! At each link a burst starts when its head arrives and the link (for a
//! group of HBM pseudo-channels, the lane its address selects) is free,
//! first come, first served; it occupies the link for bytes / bandwidth
//! and never finishes before its tail has arrived from upstream; its head
//! reaches the next hop after the link's overhead and propagation. Flow
//! mode sends a flow's last burst through here too (`flow_steps.rs`).

use crate::fabric::units::Ps;

use super::{Event, Sim};

impl<T: Copy> Sim<T> {
    /// The head of burst `burst` of transfer `xfer` has reached hop `hop`:
    /// it crosses, the source streams its next burst, and the burst goes on
    /// to the next hop or has arrived.
    pub(super) fn hop(&mut self, now: Ps, xfer: u32, burst: u32, hop: u16, tail_in: Ps) {
        let t = &mut self.transfers[xfer as usize];
        let h = t.route.hops[hop as usize];
        let lane = if h.lanes > 1 {
            t.lane(hop as usize, burst) % u64::from(h.lanes)
        } else {
            0
        };
        let link_id = h.link.0 as usize + lane as usize;
        let link = &self.machine.links[link_id];
        let bytes = t.burst_len(burst);
        let start = now.max(self.link_free[link_id]);
        let ser = if bytes == self.burst {
            self.full_burst_ps[link_id]
        } else {
            link.bw.ser_ps(bytes)
        };
        let end = (start + ser).max(tail_in);
        self.link_free[link_id] = end;
        let d = link.delay_ps();
        let (head_out, tail_out) = (start + d, end + d);
        t.hop_times[hop as usize].touch(head_out, tail_out);
        if hop == 0 && burst + 1 == t.n_bursts {
            if let Some(token) = t.on_injected {
                // The last burst is on the wire: the source is done.
                self.queue.push(end, Event::Timer { token });
            }
        }
        if hop == 0 && t.injected < t.n_bursts {
            // The source streams the next burst once this one is on the wire;
            // a group of parallel lanes (HBM pseudo-channels) takes the next
            // burst as soon as this one has a lane.
            let next = if h.lanes > 1 { start } else { end };
            self.queue.push(next, Event::Inject { xfer });
        }
        if (hop as usize) + 1 < t.route.hops.len() {
            self.queue.push(
                head_out,
                Event::Hop {
                    xfer,
                    burst,
                    hop: hop + 1,
                    tail: tail_out,
                },
            );
        } else {
            t.arrived += 1;
            t.last_tail = t.last_tail.max(tail_out);
            if t.arrived == t.n_bursts {
                let at = t.last_tail;
                self.queue.push(at, Event::Done { xfer });
            }
        }
    }
}
