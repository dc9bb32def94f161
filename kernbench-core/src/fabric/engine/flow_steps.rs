//! The simulation's flow-mode steps: a flow entering the network, its
//! finish, and the last burst that follows it through the burst model
//! (see `flow.rs` for the shares themselves).

use crate::fabric::units::Ps;

use super::{Event, Sim};

impl<T: Copy> Sim<T> {
    /// Flow mode: the transfer's bytes enter the network. A posted send's
    /// source is free once its bytes are out at its first hop's speed, and
    /// posted sends along one route drain one after another: their source
    /// injected each whole before the next, so downstream they queue in
    /// order rather than share.
    pub(super) fn inject_flow(&mut self, now: Ps, xfer: u32) {
        let t = &mut self.transfers[xfer as usize];
        // The first byte reaches each node after the hops' fixed delays.
        let mut delay = 0;
        for (i, h) in t.route.hops.iter().enumerate() {
            delay += self.machine.links[h.link.0 as usize].delay_ps();
            t.hop_times[i].touch(now + delay, now + delay);
        }
        // Taken: the last burst's first hop must not return it again.
        if let Some(token) = t.on_injected.take() {
            let h = t.route.hops[0];
            let bw = self.machine.links[h.link.0 as usize].bw;
            let at = now + bw.times(u64::from(h.lanes)).ser_ps(t.bytes.max(1));
            self.queue.push(at, Event::Timer { token });
            let key = t.route.key();
            if let Some(prev) = self.posted_last.insert(key, xfer) {
                self.transfers[prev as usize].flow.queued = Some(xfer);
                return;
            }
        }
        self.start_flow(now, xfer);
    }

    /// Shares the links from `now`; a one-burst transfer has nothing to
    /// share and goes as its last burst at once.
    fn start_flow(&mut self, now: Ps, xfer: u32) {
        match &mut self.flows {
            Some(net) if self.transfers[xfer as usize].flow.shares() => {
                net.start(&mut self.transfers, xfer, now, &mut self.finishes);
                self.push_finishes();
            }
            _ => self.drained(now, xfer),
        }
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

    /// A flow's finish event, unless a later rate change superseded it.
    pub(super) fn flow_end(&mut self, now: Ps, xfer: u32, gen: u32) {
        if self.transfers[xfer as usize].flow.gen == gen {
            self.drained(now, xfer);
        }
    }

    /// All but the last burst have left at `now`: the links are shared
    /// anew, the next posted send on the route may go, and the last burst
    /// crosses the hops as a burst-mode burst does, hop by hop, first come,
    /// first served on each link (see `Transfer::as_flow`).
    fn drained(&mut self, now: Ps, xfer: u32) {
        if let (Some(net), true) = (&mut self.flows, self.transfers[xfer as usize].flow.active) {
            net.finish(&mut self.transfers, xfer, now, &mut self.finishes);
            self.push_finishes();
        }
        let t = &mut self.transfers[xfer as usize];
        let last = t.n_bursts - 1;
        (t.injected, t.arrived) = (t.n_bursts, last);
        t.source.touch(now, now);
        let hop = Event::Hop {
            xfer,
            burst: last,
            hop: 0,
            tail: now,
        };
        // Queued first: the next send on the route follows this last burst.
        self.queue.push(now, hop);
        let key = t.route.key();
        let next = t.flow.queued.take();
        if self.posted_last.get(&key) == Some(&xfer) {
            self.posted_last.remove(&key);
        }
        if let Some(next) = next {
            self.start_flow(now, next);
        }
    }
}
