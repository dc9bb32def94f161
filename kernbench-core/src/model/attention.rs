//! Attention on the ring: when a ring-attention step's K/V transfer hides
//! behind its compute, and what bounds split-KV decode.
//!
//! **Ring prefill.** A step of ring attention on one rank attends its
//! queries to one K/V shard while the shard it attends next arrives. The
//! step takes the longest of three things running at once: the PE's block
//! pairs (each a `bm x d x bn` GEMM for the scores, the softmax's
//! element-wise passes that stand between it and the second GEMM, and the
//! `bm x bn x d` GEMM for `P V`; the GEMM engine waits for the softmax,
//! so all three are in series), the shard's bytes over the ring's link
//! share, and the HBM slice's bytes (K/V blocks reloaded per query block,
//! the softmax state spilled between steps, the relay's reads and writes,
//! summed over the ranks that share the slice) over its bandwidth. The
//! transfer hides when compute is the longest. In closed form (the
//! milestone's condition): a shard of `c` positions costs
//! `4·d·c²·h_q / F` of compute against `4·c·d·h_kv / B` of transfer
//! (fp16 K and V), so it hides once `c >= F·h_kv / (B·h_q)`, with `F`
//! the sustained FLOP rate; grouped-query heads make it `h_q / h_kv`
//! times easier.
//!
//! **Decode.** Each rank streams its slice of the K/V cache once; the
//! slices of ranks in one cube share that cube's HBM, so the bound is the
//! largest slice's bytes over one slice's effective bandwidth (the cache
//! of a single user in one cube is read at one slice's speed however many
//! PEs read it). The combine is an all-reduce of `(m, l, o)` records,
//! modelled by [`AllReduceModel`].

use crate::dsl::Stage;
use crate::fabric::addr::PeLoc;
use crate::fabric::machine::Machine;
use crate::model::{AllReduceModel, GemmIdeal, GemmShape};

/// Element-wise passes over a `bm x bn` score block between the two GEMMs
/// of a block pair: scale, row max, subtract, exp, cast to fp16.
const SOFTMAX_PASSES: f64 = 5.0;
/// Math commands on that path (the five passes and the two `bm x 1`
/// updates of the running max).
const SOFTMAX_COMMANDS: f64 = 7.0;

/// The work of one ring-attention step on the critical rank.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepWork {
    /// `bm x bn` block pairs the rank attends (diagonal ones count whole).
    pub pairs: u64,
    /// Bytes of the K/V shard the rank passes on (0 on the last step).
    pub shard_bytes: u64,
    /// Bytes the busiest HBM slice moves during the step.
    pub slice_bytes: u64,
}

/// Ring attention's step model on a machine (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RingAttentionModel {
    /// One block pair on one PE: both GEMMs and the softmax between, ns.
    pub pair_ns: f64,
    /// Useful MACs of a block pair.
    pub pair_macs: u64,
    /// Bandwidth one rank's K/V shard gets on the ring, GB/s.
    pub link_gbs: f64,
    /// Effective bandwidth of one HBM slice, GB/s.
    pub hbm_gbs: f64,
}

impl RingAttentionModel {
    /// The model for `bm x bn` blocks of head dimension `d` on PE `pe`,
    /// K/V shards moving at `link_gbs` per rank.
    pub fn new(machine: &Machine, pe: PeLoc, [bm, bn, d]: [u64; 3], link_gbs: f64) -> Self {
        let t = &machine.topo;
        let gemm = |m: u64, k: u64, n: u64| {
            let shape = GemmShape {
                m,
                k,
                n,
                block: [m, n, k],
                stage: Stage::Tcm,
            };
            GemmIdeal::new(machine, pe, shape)
        };
        let (qk, pv) = (gemm(bm, d, bn), gemm(bm, bn, d));
        let math = &t.pe_math;
        let softmax = SOFTMAX_PASSES * (bm * bn) as f64 / math.elems_per_ns
            + SOFTMAX_COMMANDS * math.overhead_ns;
        RingAttentionModel {
            pair_ns: array_ns(&qk) + array_ns(&pv) + softmax,
            pair_macs: qk.macs + pv.macs,
            link_gbs,
            hbm_gbs: t.hbm_ctrl.xbar_to_hbm_bw_gbs * t.hbm_ctrl.efficiency,
        }
    }

    /// The PE's time for `pairs` block pairs, ns.
    pub fn compute_ns(&self, pairs: u64) -> f64 {
        pairs as f64 * self.pair_ns
    }

    /// The shard's time on the ring, ns.
    pub fn transfer_ns(&self, bytes: u64) -> f64 {
        bytes as f64 / self.link_gbs
    }

    /// The slice's time for `bytes`, ns.
    pub fn slice_ns(&self, bytes: u64) -> f64 {
        bytes as f64 / self.hbm_gbs
    }

    /// Whether the step's transfer hides behind its compute.
    pub fn hidden(&self, w: StepWork) -> bool {
        self.transfer_ns(w.shard_bytes)
            <= self.compute_ns(w.pairs).max(self.slice_ns(w.slice_bytes))
    }

    /// A step: the longest of compute, transfer and HBM traffic, ns.
    pub fn step_ns(&self, w: StepWork) -> f64 {
        self.compute_ns(w.pairs)
            .max(self.transfer_ns(w.shard_bytes))
            .max(self.slice_ns(w.slice_bytes))
    }

    /// Every step, one after another (each waits for the shard it
    /// attends), ns.
    pub fn predict_ns(&self, steps: &[StepWork]) -> f64 {
        steps.iter().map(|w| self.step_ns(*w)).sum()
    }

    /// The sustained FLOP rate of a PE on block pairs, FLOP per ns.
    pub fn flops_per_ns(&self) -> f64 {
        2.0 * self.pair_macs as f64 / self.pair_ns
    }

    /// Positions per rank shard from which a full (non-causal) step's
    /// transfer hides behind its compute: `F·h_kv / (B·h_q)`.
    pub fn min_hidden_positions(&self, h_q: u64, h_kv: u64) -> f64 {
        self.flops_per_ns() * h_kv as f64 / (self.link_gbs * h_q.max(1) as f64)
    }
}

/// The array's time for a GEMM whose operands and accumulator are in
/// TCM: the slower of Fetch and the array over every tile, after the
/// first tile's Fetch (nothing is loaded or stored around it).
fn array_ns(g: &GemmIdeal) -> f64 {
    g.stages.gemm_ns.max(g.stages.fetch_ns) + g.first_tile.fetch_ns
}

/// Split-KV decode on a machine (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeModel {
    /// Effective bandwidth of one HBM slice, GB/s.
    pub hbm_gbs: f64,
}

impl DecodeModel {
    /// The model of `machine`.
    pub fn new(machine: &Machine) -> Self {
        let t = &machine.topo;
        DecodeModel {
            hbm_gbs: t.hbm_ctrl.xbar_to_hbm_bw_gbs * t.hbm_ctrl.efficiency,
        }
    }

    /// The lower bound: the busiest slice's K/V bytes over its bandwidth.
    pub fn bound_ns(&self, slice_bytes: u64) -> f64 {
        slice_bytes as f64 / self.hbm_gbs
    }

    /// The model: the cache read at the slice's speed, then the combine's
    /// all-reduce of `record_bytes` per rank over `n` ranks in messages of
    /// at most `message` bytes.
    pub fn predict_ns(
        &self,
        slice_bytes: u64,
        combine: &AllReduceModel,
        n: usize,
        record_bytes: u64,
        message: u64,
    ) -> f64 {
        self.bound_ns(slice_bytes) + combine.predict_ns(n, record_bytes, message, 1, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::topology::Topology;

    fn model(link_gbs: f64) -> RingAttentionModel {
        let m = Machine::new(&Topology::default_topology());
        let pe = PeLoc {
            sip: 0,
            cube: 0,
            pe: 0,
        };
        RingAttentionModel::new(&m, pe, [128, 128, 128], link_gbs)
    }

    #[test]
    fn a_pair_is_no_faster_than_the_array_peak() {
        let m = model(256.0);
        let t = Topology::default_topology();
        let peak = f64::from(t.pe_gemm.mac_rows * t.pe_gemm.mac_cols) * t.pe_gemm.clock_ghz;
        assert_eq!(m.pair_macs, 2 * 128 * 128 * 128);
        assert!(m.pair_ns >= m.pair_macs as f64 / peak);
    }

    #[test]
    fn the_overlap_condition_matches_the_step_model() {
        let m = model(64.0);
        let (h_q, h_kv, d) = (64u64, 8u64, 128u64);
        let c = m.min_hidden_positions(h_q, h_kv);
        // A full step over c positions: (c/bn)·(c·group/bm) pairs... in
        // FLOPs, 4·d·c²·h_q against 4·c·d·h_kv bytes.
        let at = |c: f64| {
            let flops = 4.0 * d as f64 * c * c * h_q as f64;
            let bytes = 4.0 * c * d as f64 * h_kv as f64;
            flops / m.flops_per_ns() >= bytes / m.link_gbs
        };
        assert!(at(c * 1.01));
        assert!(!at(c * 0.99));
        // Grouped heads make hiding easier by h_q / h_kv.
        let mha = m.min_hidden_positions(h_q, h_q);
        assert!((mha / c - (h_q / h_kv) as f64).abs() < 1e-9);
    }

    #[test]
    fn a_step_is_its_longest_part() {
        let m = model(100.0);
        let w = StepWork {
            pairs: 1,
            shard_bytes: 1_000_000,
            slice_bytes: 0,
        };
        assert!(!m.hidden(w));
        assert!((m.step_ns(w) - 10_000.0).abs() < 1e-6);
        let w = StepWork {
            pairs: 1000,
            shard_bytes: 1000,
            slice_bytes: 0,
        };
        assert!(m.hidden(w));
        assert_eq!(m.step_ns(w), m.compute_ns(1000));
    }
}
