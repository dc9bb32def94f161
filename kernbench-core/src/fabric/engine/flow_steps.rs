//! The simulation's flow-mode steps: a flow entering the network, its
//! finish, and the last burst that follows it (see `flow.rs` for the
//! shares themselves).

use std::sync::Arc;

use crate::fabric::units::Ps;

use super::{Event, Sim};

impl<T: Copy> Sim<T> {
    /// Flow mode: the transfer's bytes enter the network. A posted send's
    /// source is free once its bytes are out at its first link's speed, and
    /// posted sends along one route drain one after another: their source
    /// injected each whole before the next, so downstream they queue in
    /// order rather than share.
    pub(super) fn inject_flow(&mut self, now: Ps, xfer: u32) {
        let t = &self.transfers[xfer as usize];
        if let Some(token) = t.on_injected {
            let first = &self.machine.links[t.route.hops[0].link.0 as usize];
            let at = now + first.bw.ser_ps(t.bytes.max(1));
            self.queue.push(at, Event::Timer { token });
        }
        if !t.flow.shares() {
            let gen = t.flow.gen;
            self.queue.push(now, Event::FlowEnd { xfer, gen });
            return;
        }
        if t.on_injected.is_some() {
            let key = Arc::as_ptr(&t.route) as usize;
            if let Some(prev) = self.posted_last.insert(key, xfer) {
                self.transfers[prev as usize].flow.queued = Some(xfer);
                return;
            }
        }
        self.start_flow(now, xfer);
    }

    fn start_flow(&mut self, now: Ps, xfer: u32) {
        if let Some(net) = &mut self.flows {
            net.start(&mut self.transfers, xfer, now, &mut self.finishes);
        }
        self.push_finishes();
    }

    fn push_finishes(&mut self) {
        for f in self.finishes.drain(..) {
            let ev = Event::FlowEnd {
                xfer: f.xfer,
                gen: f.gen,
            };
            self.queue.push(f.at, ev);
        }
    }

    /// A flow has drained at `now` (unless superseded): its links are
    /// shared anew, the source is free, and the last byte arrives after
    /// the hops' overheads and propagation.
    pub(super) fn flow_end(&mut self, now: Ps, xfer: u32, gen: u32) {
        if self.transfers[xfer as usize].flow.gen != gen {
            return;
        }
        if let (Some(net), true) = (&mut self.flows, self.transfers[xfer as usize].flow.active) {
            net.finish(&mut self.transfers, xfer, now, &mut self.finishes);
            self.push_finishes();
        }
        let t = &mut self.transfers[xfer as usize];
        if t.on_injected.is_some() {
            let key = Arc::as_ptr(&t.route) as usize;
            if self.posted_last.get(&key) == Some(&xfer) {
                self.posted_last.remove(&key);
            }
        }
        if let Some(next) = t.flow.queued.take() {
            self.start_flow(now, next);
        }
        let t = &mut self.transfers[xfer as usize];
        let began = t.source.first;
        // The last burst, as burst mode moves it (see `Transfer::as_flow`).
        let b = t.n_bursts - 1;
        let bytes = t.burst_len(b);
        let (mut head, mut tail, mut injected, mut delay) = (now, now, now, 0);
        for (i, h) in t.route.hops.iter().enumerate() {
            let lane = if h.lanes > 1 {
                t.lane(i, b) % u64::from(h.lanes)
            } else {
                0
            };
            let link_id = h.link.0 as usize + lane as usize;
            let link = &self.machine.links[link_id];
            let start = head.max(self.link_free[link_id]);
            let end = (start + link.bw.ser_ps(bytes)).max(tail);
            self.link_free[link_id] = end;
            if i == 0 {
                injected = end;
            }
            let d = link.delay_ps();
            delay += d;
            (head, tail) = (start + d, end + d);
            t.hop_times[i].touch(began + delay, tail);
        }
        t.source.touch(injected, injected);
        t.last_tail = tail;
        self.queue.push(tail, Event::Done { xfer });
    }
}
