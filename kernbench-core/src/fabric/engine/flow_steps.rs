//! The simulation's flow-mode steps: a flow entering the network, its
//! changes, its end, and the last burst that follows each transfer through
//! the burst model (see `flow.rs` for the flows themselves).

use crate::fabric::units::Ps;

use super::flow::Change;
use super::{Event, Sim};

impl<T: Copy> Sim<T> {
    /// Flow mode: the transfer's bytes enter the network. A posted send's
    /// source is free once its bytes are out at its first hop's speed, and
    /// posted sends along one route (in the same lane shares) are one
    /// flow, their bytes one after another: downstream they queue in the
    /// order they were sent, as their bursts do, rather than share.
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
            let (key, shares) = (t.route.key(), t.flow.shares());
            // Even a lone burst waits its turn behind the flow.
            if let (Some(&holder), Some(net)) = (self.posted_last.get(&key), &mut self.flows) {
                if net.append(&mut self.transfers, holder, xfer, now, &mut self.finishes) {
                    self.push_finishes();
                    return;
                }
            }
            if shares {
                self.posted_last.insert(key, xfer);
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

    /// Sets the flows whose next change moved, each ordered among
    /// equal-time events as if it were pushed now.
    fn push_finishes(&mut self) {
        let Some(net) = &mut self.flows else {
            return;
        };
        for f in self.finishes.drain(..) {
            net.due.set(f.xfer, f.at, self.queue.stamp());
        }
    }

    /// The earliest event, from the queue or flow mode's due changes.
    pub(super) fn next_event(&mut self) -> Option<(Ps, Event<T>)> {
        if let Some(net) = &mut self.flows {
            if let Some((at, seq, xfer)) = net.due.peek() {
                if self.queue.comes_after(at, seq) {
                    net.due.pop();
                    return Some((at, Event::FlowChange { xfer }));
                }
            }
        }
        self.queue.pop()
    }

    /// A flow's next change is due: transfers of it may have drained, its
    /// holder may have changed, and its rates change.
    pub(super) fn flow_change(&mut self, now: Ps, xfer: u32) {
        let Some(net) = &mut self.flows else {
            return;
        };
        let mut done = std::mem::take(&mut self.drained_now);
        let change = net.changed(
            &mut self.transfers,
            xfer,
            now,
            &mut self.finishes,
            &mut done,
        );
        match change {
            Change::Drained => {
                // The holder's last burst first: it was sent first.
                self.drained(now, xfer);
                for &x in done.iter().filter(|&&x| x != xfer) {
                    self.last_burst(now, x);
                }
            }
            Change::Running { holder } => {
                self.push_finishes();
                for &x in &done {
                    self.last_burst(now, x);
                }
                if holder != xfer {
                    let key = self.transfers[holder as usize].route.key();
                    if self.posted_last.get(&key) == Some(&xfer) {
                        self.posted_last.insert(key, holder);
                    }
                }
            }
        }
        done.clear();
        self.drained_now = done;
    }

    /// The flow of `xfer` has drained at `now`: the links are shared anew,
    /// and its last burst goes.
    fn drained(&mut self, now: Ps, xfer: u32) {
        if let (Some(net), true) = (&mut self.flows, self.transfers[xfer as usize].flow.active) {
            net.finish(&mut self.transfers, xfer, now, &mut self.finishes);
            self.push_finishes();
        }
        let key = self.transfers[xfer as usize].route.key();
        if self.posted_last.get(&key) == Some(&xfer) {
            self.posted_last.remove(&key);
        }
        self.last_burst(now, xfer);
    }

    /// All but the last burst of `xfer` have left at `now`: the last one
    /// crosses the hops as a burst-mode burst does, hop by hop, first
    /// come, first served on each link (see `Transfer::as_flow`).
    fn last_burst(&mut self, now: Ps, xfer: u32) {
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
        self.queue.push(now, hop);
    }
}
