//! Ring all-reduce: an alpha-beta model where beta is the busiest resource.
//!
//! `T = T_rs + T_ag`, each phase (reduce-scatter, all-gather) taking
//! `T_phase = max(rounds · (n-1)·α + B_phase, C_phase)`: the steps'
//! latency plus the busiest resource's time, unless the credits allow less
//! (`C_phase` already holds every round trip's latency).
//!
//! `rounds` is how many times the steps run one after another: a segmented
//! all-reduce that runs its groups a batch at a time pays each step's
//! latency once per batch. An edge's latency is a send's and a receive's
//! IPCQ cost plus every hop's overhead and wire on the way to the next rank
//! (and, when receive buffers are in SRAM or HBM, on the copy into TCM).
//! Step `s + 1` of a rank waits for step `s` of the rank before it, so the
//! steps form a chain that walks `2(n-1)` consecutive edges of the ring: α
//! is the mean edge latency of the slowest such walk (on a ring with one
//! slow edge, say between SIPs, most steps do not cross it).
//!
//! `B_phase` is as long as the phase's busiest resource needs to carry its
//! bytes: every link, crossbar port and HBM slice (its pseudo-channels
//! together) is charged with everything routed over it —
//!
//! - the messages: each rank sends `(n-1)/n · S` per phase to the next
//!   rank's receive buffer, and a buffer in SRAM or HBM is read back into
//!   the receiver's TCM;
//! - the rank's own data when it lives in HBM: the reduce-scatter reads the
//!   whole buffer (`S`), the all-gather writes it back (`S`);
//!
//! so traffic that shares a resource adds up (a PE's port carries its
//! messages and its data loads; a slice holding both rank buffers and
//! receive buffers carries both), and the phases are charged separately
//! because they load opposite directions. A message through an SRAM or HBM
//! receive buffer is stored, then copied out: with one group per batch
//! nothing overlaps the two, so `B_phase` is then at least the busiest
//! resource of the stores plus that of the copies.
//!
//! `C_phase`: posted sends keep `ipcq.depth` messages per pair in flight,
//! and a credit comes back one round trip after its send, so an edge moves
//! at most `depth x message / round trip`.

use std::collections::BTreeMap;

use crate::exec::pe::BufferKind;
use crate::fabric::addr::{Endpoint, PhysAddr, Space};
use crate::fabric::link::LinkId;
use crate::fabric::machine::Machine;
use crate::fabric::units::{ns_to_ps, ps_to_ns, Ps};
use crate::host::Ring;

/// The phases, in order.
const PHASES: usize = 2;

/// The model of a ring all-reduce on an installed ring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllReduceModel {
    /// Per-step latency, ns: the mean edge latency along the slowest chain
    /// of `2(n-1)` consecutive edges.
    pub alpha_ns: f64,
    /// Bandwidth of the slowest link on the ring, GB/s, divided among the
    /// ranks whose messages cross it (messages alone).
    pub link_gbs: f64,
    /// Ranks whose buffers share the busiest HBM slice (0: buffers not in HBM).
    pub ranks_per_slice: usize,
    /// Sustained bandwidth of one HBM slice, GB/s.
    pub hbm_gbs: f64,
    /// Per phase, ns each byte of a rank's buffer costs on the busiest
    /// resource of that phase.
    pub phase_ns_per_byte: [f64; PHASES],
    /// The same for the stores into receive buffers and the copies out of
    /// them done one after the other (0 with TCM buffers); both phases send
    /// the same messages.
    pub relay_ns_per_byte: f64,
    /// IPCQ credits per ordered pair of ranks.
    pub depth: u32,
    /// Bandwidth a message sees on the slowest link of its way, GB/s (for
    /// the credit round trip).
    pub message_gbs: f64,
}

/// Bytes of one phase, per resource, as multiples of a rank's buffer size.
type Load = BTreeMap<(u32, u32), f64>;

fn charge(machine: &Machine, load: &mut Load, from: Endpoint, to: Endpoint, share: f64) {
    // Endpoints were checked when the ring and the buffers were made.
    let Ok(route) = machine.route(from, to) else {
        return;
    };
    for h in &route.hops {
        *load.entry((h.link.0, h.lanes)).or_insert(0.0) += share;
    }
}

impl AllReduceModel {
    /// The model of `ring` with receive buffers of kind `buffer`; `hbm_homes`
    /// says whether the ranks' data buffers live in their cubes' HBM.
    pub fn new(machine: &Machine, ring: &Ring, buffer: BufferKind, hbm_homes: bool) -> Self {
        let t = &machine.topo;
        let ipcq = ns_to_ps(t.ipcq.overhead_ns);
        let n = ring.world_size();
        let nf = n as f64;
        let mut edges: Vec<Ps> = Vec::with_capacity(n);
        let mut message_gbs = f64::MAX;
        // Every rank sends at once, so a link that several ranks' messages
        // cross (a shared SRAM port, an HBM slice) gives each a share.
        let mut uses: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        let mut phases: [Load; PHASES] = Default::default();
        let (mut stores, mut copies) = (Load::new(), Load::new());
        for r in 0..n {
            let (me, next) = (ring.pes[r], ring.pes[(r + 1) % n]);
            let slot = buffer.slot(next, r, 0, t);
            let (mine, slot_at, theirs) = (
                Endpoint::Mem(me.tcm(0)),
                Endpoint::Mem(slot),
                Endpoint::Mem(next.tcm(0)),
            );
            let Ok(route) = machine.route(mine, slot_at) else {
                continue;
            };
            let mut hops = route.hops;
            // A receive from SRAM or HBM copies the message into TCM.
            if buffer != BufferKind::Tcm {
                if let Ok(copy) = machine.route(slot_at, theirs) {
                    hops.extend(copy.hops);
                }
            }
            let mut step = 2 * ipcq;
            for h in &hops {
                let link = machine.link(h.link);
                step += link.delay_ps();
                message_gbs = message_gbs.min(link.bw.times(u64::from(h.lanes)).gbs());
                *uses.entry((h.link.0, h.lanes)).or_insert(0) += 1;
            }
            edges.push(step);
            let msg_share = (nf - 1.0) / nf;
            let home = Endpoint::Mem(PhysAddr {
                sip: me.sip,
                cube: me.cube,
                space: Space::Hbm,
                offset: 0,
            });
            charge(machine, &mut stores, mine, slot_at, msg_share);
            if buffer != BufferKind::Tcm {
                charge(machine, &mut copies, slot_at, theirs, msg_share);
            }
            for (phase, load) in phases.iter_mut().enumerate() {
                charge(machine, load, mine, slot_at, msg_share);
                if buffer != BufferKind::Tcm {
                    charge(machine, load, slot_at, theirs, msg_share);
                }
                if hbm_homes {
                    // Reduce-scatter reads the rank's buffer, all-gather
                    // writes it back.
                    let (from, to) = if phase == 0 {
                        (home, mine)
                    } else {
                        (mine, home)
                    };
                    charge(machine, load, from, to, 1.0);
                }
            }
        }
        let bw = |l: u32, lanes: u32| machine.link(LinkId(l)).bw.times(u64::from(lanes)).gbs();
        let link = uses
            .iter()
            .map(|(&(l, lanes), &k)| bw(l, lanes) / k as f64)
            .fold(f64::MAX, f64::min);
        let busiest = |load: &Load| {
            load.iter()
                .map(|(&(l, lanes), &bytes)| bytes / bw(l, lanes))
                .fold(0.0, f64::max)
        };
        let phase_ns_per_byte = phases.each_ref().map(busiest);
        let relay_ns_per_byte = if buffer == BufferKind::Tcm {
            0.0
        } else {
            busiest(&stores) + busiest(&copies)
        };
        let mut per_slice = BTreeMap::new();
        for p in &ring.pes {
            *per_slice.entry((p.sip, p.cube)).or_insert(0usize) += 1;
        }
        AllReduceModel {
            alpha_ns: chain_alpha_ns(&edges),
            link_gbs: link,
            ranks_per_slice: if hbm_homes {
                per_slice.values().copied().max().unwrap_or(0)
            } else {
                0
            },
            hbm_gbs: t.hbm_ctrl.effective_bw_gbs(),
            phase_ns_per_byte,
            relay_ns_per_byte,
            depth: t.ipcq.depth,
            message_gbs: if message_gbs == f64::MAX {
                0.0
            } else {
                message_gbs
            },
        }
    }

    /// The messages' link term alone: `2(n-1)/n · S/B` over the slowest
    /// ring link, ns.
    pub fn link_ns(&self, n: usize, bytes: u64) -> f64 {
        2.0 * (n as f64 - 1.0) / n as f64 * bytes as f64 / self.link_gbs
    }

    /// The data term alone: every rank on the busiest slice reads and
    /// writes its buffer once, ns.
    pub fn hbm_ns(&self, bytes: u64) -> f64 {
        (2 * self.ranks_per_slice) as f64 * bytes as f64 / self.hbm_gbs
    }

    /// The busiest resources' time: both phases, each on its own busiest
    /// resource, ns.
    pub fn busiest_ns(&self, bytes: u64) -> f64 {
        self.phase_ns_per_byte.iter().sum::<f64>() * bytes as f64
    }

    /// What posted sends allow an edge of the ring: `depth` messages of
    /// `message` bytes per round trip, GB/s. A credit comes back when the
    /// receive is done: one step's latency α after the send, plus the
    /// message's serialization.
    pub fn credit_gbs(&self, message: u64) -> f64 {
        let m = message as f64;
        let round_trip = self.alpha_ns + m / self.message_gbs;
        f64::from(self.depth) * m / round_trip
    }

    /// Predicted latency of an all-reduce of `bytes` per rank over `n`
    /// ranks, in messages of at most `message` bytes, run in `rounds`
    /// batches of `batch` groups one after another, ns.
    pub fn predict_ns(
        &self,
        n: usize,
        bytes: u64,
        message: u64,
        rounds: usize,
        batch: usize,
    ) -> f64 {
        let nf = n as f64;
        let latency = (nf - 1.0) * rounds.max(1) as f64 * self.alpha_ns;
        let per_phase_edge = (nf - 1.0) / nf * bytes as f64;
        let credit_ns = per_phase_edge / self.credit_gbs(message.max(1));
        let relay = if batch <= 1 {
            self.relay_ns_per_byte
        } else {
            0.0
        };
        self.phase_ns_per_byte
            .iter()
            .map(|ns| (latency + ns.max(relay) * bytes as f64).max(credit_ns))
            .sum()
    }
}

/// The mean latency of the slowest walk over `2(n-1)` consecutive edges
/// of a ring whose edges take `edges`, ns.
fn chain_alpha_ns(edges: &[Ps]) -> f64 {
    let n = edges.len();
    if n < 2 {
        return edges.first().map_or(0.0, |&e| ps_to_ns(e));
    }
    let steps = 2 * (n - 1);
    let slowest = (0..n)
        .map(|start| (0..steps).map(|i| edges[(start + i) % n]).sum::<Ps>())
        .max()
        .unwrap_or(0);
    ps_to_ns(slowest) / steps as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::topology::Topology;

    #[test]
    fn the_step_chain_walks_the_ring_twice_less_two_edges() {
        // Four edges, one slow: a walk of 6 edges crosses it at most twice.
        let alpha = chain_alpha_ns(&[1000, 1000, 1000, 7000]);
        assert!((alpha - (4.0 * 1.0 + 2.0 * 7.0) / 6.0).abs() < 1e-12);
        assert_eq!(chain_alpha_ns(&[3000, 3000]), 3.0);
    }

    #[test]
    fn messages_through_sram_are_stored_then_copied_out() {
        let topo = Topology::default_topology();
        let m = Machine::new(&topo);
        let ring = Ring::intracube_pe_ring(&topo, 0, 0, 8).unwrap();
        let sram = AllReduceModel::new(&m, &ring, BufferKind::Sram, false);
        // Eight ranks each store 7/8 of a buffer into the cube's SRAM, then
        // copy it out: the SRAM's two directions, one after the other.
        let want = 2.0 * 8.0 * 7.0 / 8.0 / topo.sram.bw_gbs;
        assert!((sram.relay_ns_per_byte - want).abs() < 1e-12, "{sram:?}");
        assert_eq!(
            AllReduceModel::new(&m, &ring, BufferKind::Tcm, false).relay_ns_per_byte,
            0.0
        );
    }

    #[test]
    fn traffic_sharing_a_slice_adds_up() {
        let topo = Topology::default_topology();
        let m = Machine::new(&topo);
        let ring = Ring::intracube_pe_ring(&topo, 0, 0, 8).unwrap();
        let hbm = topo.hbm_ctrl.effective_bw_gbs();
        let data = AllReduceModel::new(&m, &ring, BufferKind::Tcm, true);
        let both = AllReduceModel::new(&m, &ring, BufferKind::Hbm, true);
        // Eight ranks read (reduce-scatter) their buffers from one slice.
        assert!((data.phase_ns_per_byte[0] - 8.0 / hbm).abs() < 1e-12);
        // Receive buffers in the same slice add each message's write and
        // read back: 2 x 7/8 per rank more.
        let want = (8.0 + 8.0 * 2.0 * 7.0 / 8.0) / hbm;
        assert!((both.phase_ns_per_byte[0] - want).abs() < 1e-12, "{both:?}");
    }
}
