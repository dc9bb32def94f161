//! The `attention` bench: grouped-query flash attention over the PEs of
//! one cube, each group of query heads sharing its K/V head's loads.

use half::f16;
use kernbench_core::host::{LaunchOptions, Mapping, Place};
use kernbench_core::{PeLoc, Topology};
use kernels::{gqa_attention, gqa_programs};
use ndarray::{s, Array2};

use super::{random_matrix, round_f16, write_or_time, BenchError, BenchResult, Check, RunMode};
use crate::params::{ParamError, ParamSet, ParamSpec, Params};
use kernbench_core::support::Named;

/// `attention`'s parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionParams {
    /// Sequence length (queries and keys: a prefill).
    pub seq: usize,
    /// Query heads.
    pub heads: usize,
    /// K/V heads; `heads / kv_heads` query heads share each.
    pub kv_heads: usize,
    /// Head dimension.
    pub d: usize,
    /// Stacked query rows per program (positions x group).
    pub bm: usize,
    /// Key/value rows per block.
    pub bn: usize,
    /// PEs of cube 0 the programs spread over.
    pub pes: u32,
    /// Which keys each query sees.
    pub mask: Mask,
}

/// Which keys each query sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Keys up to its own position (prefill of a decoder).
    Causal,
    /// Every key.
    Full,
}

impl Named for Mask {
    const WHAT: &'static str = "mask";
    const ALL: &'static [Mask] = &[Mask::Causal, Mask::Full];
    fn name(self) -> &'static str {
        match self {
            Mask::Causal => "causal",
            Mask::Full => "full",
        }
    }
}

impl ParamSet for AttentionParams {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::positive("seq", "512", "sequence length (queries = keys: prefill)"),
        ParamSpec::positive("heads", "8", "query heads"),
        ParamSpec::positive(
            "kv_heads",
            "2",
            "K/V heads (each shared by heads/kv_heads query heads)",
        ),
        ParamSpec::positive("d", "128", "head dimension"),
        ParamSpec::positive(
            "bm",
            "128",
            "stacked query rows per program (positions x group)",
        ),
        ParamSpec::positive("bn", "128", "key/value rows per block"),
        ParamSpec::positive("pes", "8", "PEs of cube 0 the programs spread over"),
        ParamSpec::choice::<Mask>("mask", "causal", "which keys each query sees"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        let c = AttentionParams {
            seq: p.positive("seq")?,
            heads: p.positive("heads")?,
            kv_heads: p.positive("kv_heads")?,
            d: p.positive("d")?,
            bm: p.positive("bm")?,
            bn: p.positive("bn")?,
            pes: p.positive_u32("pes")?,
            mask: p.choice("mask")?,
        };
        let bad = |param, value: usize, expected: String| ParamError::BadValue {
            param,
            value: value.to_string(),
            expected,
        };
        if c.heads % c.kv_heads != 0 {
            return Err(bad(
                "heads",
                c.heads,
                format!("a multiple of kv_heads={}", c.kv_heads),
            ));
        }
        let group = c.heads / c.kv_heads;
        if c.bm % group != 0 {
            return Err(bad(
                "bm",
                c.bm,
                format!("a multiple of the group heads/kv_heads={group}"),
            ));
        }
        Ok(c)
    }
}

impl AttentionParams {
    /// Query heads per K/V head.
    pub fn group(&self) -> usize {
        self.heads / self.kv_heads
    }
}

pub(super) fn run(topo: &Topology, p: &Params, mode: RunMode) -> Result<BenchResult, BenchError> {
    let c = AttentionParams::parse(p)?;
    if c.pes > topo.system.pes_per_cube {
        return Err(BenchError::Invalid(format!(
            "pes={}: a cube has {} PEs",
            c.pes, topo.system.pes_per_cube
        )));
    }
    let group = c.group();
    let q_rows = c
        .kv_heads
        .checked_mul(c.seq)
        .and_then(|x| x.checked_mul(group));
    let kv_rows = c.kv_heads.checked_mul(c.seq);
    let (Some(q_rows), Some(kv_rows)) = (q_rows, kv_rows) else {
        return Err(BenchError::Invalid("seq x heads overflows".into()));
    };
    let mut dev = mode.device(topo);
    let home = Place::hbm(0, 0);
    // Allocate first: a shape the slice cannot hold is refused before any
    // host array is made.
    let q = dev.alloc::<f16>(home, q_rows, c.d)?;
    let k = dev.alloc::<f16>(home, kv_rows, c.d)?;
    let v = dev.alloc::<f16>(home, kv_rows, c.d)?;
    let o = dev.alloc::<f16>(home, q_rows, c.d)?;
    let inputs = mode.data.then(|| {
        (
            random_matrix(q_rows, c.d, 21),
            random_matrix(kv_rows, c.d, 22),
            random_matrix(kv_rows, c.d, 23),
        )
    });
    write_or_time(&mut dev, &q, inputs.as_ref().map(|i| &i.0))?;
    write_or_time(&mut dev, &k, inputs.as_ref().map(|i| &i.1))?;
    write_or_time(&mut dev, &v, inputs.as_ref().map(|i| &i.2))?;
    let scale = 1.0 / (c.d as f32).sqrt();
    let args = gqa_attention::args(
        q.ptr(),
        k.ptr(),
        v.ptr(),
        o.ptr(),
        c.seq,
        group,
        c.d,
        c.bm,
        c.bn,
        c.mask == Mask::Causal,
        scale,
    );
    let pes: Vec<PeLoc> = (0..c.pes)
        .map(|pe| PeLoc {
            sip: 0,
            cube: 0,
            pe,
        })
        .collect();
    let grid = [gqa_programs(c.kv_heads, c.seq, group, c.bm), 1, 1];
    let run =
        dev.launch::<gqa_attention>(&args, &LaunchOptions::grid(grid).on(Mapping::Pes(pes)))?;
    let check = match (mode.check, &inputs) {
        (true, Some((qh, kh, vh))) => {
            let got = dev.read(&o)?;
            let want = reference(&c, qh, kh, vh, scale);
            // fp16 storage of P and the output: a few ulps of fp16.
            Some(Check::compare(got.iter(), want.iter(), 1e-2))
        }
        _ => None,
    };
    Ok(BenchResult::new("attention", &dev, run, check))
}

/// Plain attention per query head in f32 (inputs rounded to fp16 as the
/// device stores them), in the kernel's stacked layout.
pub fn reference(
    c: &AttentionParams,
    q: &Array2<f32>,
    k: &Array2<f32>,
    v: &Array2<f32>,
    scale: f32,
) -> Array2<f32> {
    let (q, k, v) = (round_f16(q), round_f16(k), round_f16(v));
    let (g, seq) = (c.group(), c.seq);
    let mut out = Array2::zeros(q.dim());
    for h in 0..c.kv_heads {
        let kh = k.slice(s![h * seq..(h + 1) * seq, ..]);
        let vh = v.slice(s![h * seq..(h + 1) * seq, ..]);
        for pos in 0..seq {
            for j in 0..g {
                let row = (h * seq + pos) * g + j;
                let keys = if c.mask == Mask::Causal { pos + 1 } else { seq };
                let s: Vec<f32> = (0..keys)
                    .map(|t| q.row(row).dot(&kh.row(t)) * scale)
                    .collect();
                let m = s.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let e: Vec<f32> = s.iter().map(|x| (x - m).exp()).collect();
                let l: f32 = e.iter().sum();
                for (t, w) in e.iter().enumerate() {
                    let mut o = out.row_mut(row);
                    o.scaled_add(w / l, &vh.row(t));
                }
            }
        }
    }
    out
}
