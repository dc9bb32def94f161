//! Ring all-reduce (alpha-beta): `T = 2(n-1)·α + 2(n-1)/n · S/B`, with α the
//! per-step latency (setup, route overheads and wire of a send, plus the
//! receive's cost) and B the slowest link any rank's send crosses. When the
//! ranks' buffers live in HBM, each rank also reads its whole buffer and
//! writes it back (`2S`), and ranks homed in one cube share its slice: the
//! model takes the larger of the link term and that HBM term.

use std::collections::BTreeMap;

use crate::exec::pe::BufferKind;
use crate::fabric::addr::Endpoint;
use crate::fabric::link::LinkId;
use crate::fabric::machine::Machine;
use crate::fabric::units::{ns_to_ps, ps_to_ns, Ps};
use crate::host::Ring;

/// The alpha-beta model of a ring all-reduce on an installed ring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllReduceModel {
    /// Per-step latency, ns (the slowest rank's).
    pub alpha_ns: f64,
    /// Bandwidth of the slowest link on the ring, GB/s, divided among the
    /// ranks whose messages cross it.
    pub link_gbs: f64,
    /// Ranks whose buffers share the busiest HBM slice (0: buffers not in HBM).
    pub ranks_per_slice: usize,
    /// Sustained bandwidth of one HBM slice, GB/s.
    pub hbm_gbs: f64,
}

impl AllReduceModel {
    /// The model of `ring` with receive buffers of kind `buffer`; `hbm_homes`
    /// says whether the ranks' data buffers live in their cubes' HBM.
    pub fn new(machine: &Machine, ring: &Ring, buffer: BufferKind, hbm_homes: bool) -> Self {
        let t = &machine.topo;
        let ipcq = ns_to_ps(t.ipcq.overhead_ns);
        let n = ring.world_size();
        let mut alpha: Ps = 0;
        // Every rank sends at once, so a link that several ranks' messages
        // cross (a shared SRAM port, an HBM slice) gives each a share.
        let mut uses: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for r in 0..n {
            let (me, next) = (ring.pes[r], ring.pes[(r + 1) % n]);
            let slot = buffer.slot(next, r, 0, t);
            let Ok(route) = machine.route(Endpoint::Mem(me.tcm(0)), Endpoint::Mem(slot)) else {
                continue;
            };
            let mut hops = route.hops;
            // A receive from SRAM or HBM copies the message into TCM.
            if buffer != BufferKind::Tcm {
                if let Ok(copy) = machine.route(Endpoint::Mem(slot), Endpoint::Mem(next.tcm(0))) {
                    hops.extend(copy.hops);
                }
            }
            let mut step = 2 * ipcq;
            for h in &hops {
                step += machine.link(h.link).delay_ps();
                *uses.entry((h.link.0, h.lanes)).or_insert(0) += 1;
            }
            alpha = alpha.max(step);
        }
        let link = uses
            .iter()
            .map(|(&(l, lanes), &k)| {
                let bw = machine.link(LinkId(l)).bw.times(u64::from(lanes));
                bw.gbs() / k as f64
            })
            .fold(f64::MAX, f64::min);
        let mut per_slice = BTreeMap::new();
        for p in &ring.pes {
            *per_slice.entry((p.sip, p.cube)).or_insert(0usize) += 1;
        }
        AllReduceModel {
            alpha_ns: ps_to_ns(alpha),
            link_gbs: link,
            ranks_per_slice: if hbm_homes {
                per_slice.values().copied().max().unwrap_or(0)
            } else {
                0
            },
            hbm_gbs: t.hbm_ctrl.effective_bw_gbs(),
        }
    }

    /// The link term alone: `2(n-1)/n · S/B`, ns.
    pub fn link_ns(&self, n: usize, bytes: u64) -> f64 {
        2.0 * (n as f64 - 1.0) / n as f64 * bytes as f64 / self.link_gbs
    }

    /// The HBM term: every rank on the busiest slice reads and writes its
    /// buffer once, ns.
    pub fn hbm_ns(&self, bytes: u64) -> f64 {
        (2 * self.ranks_per_slice) as f64 * bytes as f64 / self.hbm_gbs
    }

    /// Predicted latency of an all-reduce of `bytes` per rank over `n` ranks, ns.
    pub fn predict_ns(&self, n: usize, bytes: u64) -> f64 {
        let steps = 2.0 * (n as f64 - 1.0);
        steps * self.alpha_ns + self.link_ns(n, bytes).max(self.hbm_ns(bytes))
    }
}
