//! The kernels `kernbench lower` can print by name: each entry parses its
//! parameters into a typed struct and traces program 0 (rank 0 for
//! collectives) with placeholder tensor addresses.

use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::TraceError;
use kernels::{causal_attention, flash_attention, matmul, matmul_grid, ring_allreduce, ReduceOp};

use crate::params::{ParamError, ParamSet, ParamSpec, Params};

/// Why a catalog lookup or trace failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    /// No kernel has that name.
    #[error("unknown kernel `{name}`; valid kernels: {valid}")]
    UnknownKernel {
        /// Requested name.
        name: String,
        /// Comma-separated registered names.
        valid: String,
    },
    /// A parameter is unknown or its value invalid.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// Tracing failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
}

type TraceFn = fn(&Params, &TraceConfig) -> Result<CommandStream, CatalogError>;

/// A registered kernel.
pub struct KernelEntry {
    /// Name used on the command line.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Parameters with defaults.
    pub params: &'static [ParamSpec],
    trace: TraceFn,
}

impl KernelEntry {
    const fn new<P: Traceable>(name: &'static str, description: &'static str) -> Self {
        KernelEntry {
            name,
            description,
            params: P::SPECS,
            trace: trace_entry::<P>,
        }
    }

    /// Defaults overridden by `overrides` (later keys win).
    pub fn resolve(&self, overrides: &[(String, String)]) -> Result<Params, CatalogError> {
        Ok(Params::resolve(self.name, self.params, overrides)?)
    }

    /// Traces the entry's program of interest (program 0, rank 0 for
    /// collectives, unless its description says otherwise) with
    /// placeholder tensor addresses and the given parameters.
    pub fn trace_program0(
        &self,
        params: &Params,
        cfg: &TraceConfig,
    ) -> Result<CommandStream, CatalogError> {
        (self.trace)(params, cfg)
    }
}

/// A catalog kernel's parameters, and how to trace program 0 from them.
trait Traceable: ParamSet {
    fn trace(&self, cfg: &TraceConfig) -> Result<CommandStream, TraceError>;
}

fn trace_entry<P: Traceable>(p: &Params, cfg: &TraceConfig) -> Result<CommandStream, CatalogError> {
    Ok(P::parse(p)?.trace(cfg)?)
}

/// Placeholder device addresses, far enough apart to tell tensors apart
/// in listings.
const ADDR: [u64; 4] = [0x1000_0000, 0x2000_0000, 0x3000_0000, 0x4000_0000];

/// `matmul`'s parameters.
struct MatmulParams {
    m: usize,
    n: usize,
    k: usize,
    bm: usize,
    bn: usize,
    bk: usize,
    staging: Stage,
}

impl ParamSet for MatmulParams {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::positive("m", "128", "rows of a and c"),
        ParamSpec::positive("n", "128", "columns of b and c"),
        ParamSpec::positive("k", "128", "columns of a, rows of b"),
        ParamSpec::positive("bm", "32", "block rows"),
        ParamSpec::positive("bn", "64", "block columns"),
        ParamSpec::positive("bk", "32", "reduction step"),
        ParamSpec::choice::<Stage>("staging", "tcm", "where operand blocks are staged"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(MatmulParams {
            m: p.positive("m")?,
            n: p.positive("n")?,
            k: p.positive("k")?,
            bm: p.positive("bm")?,
            bn: p.positive("bn")?,
            bk: p.positive("bk")?,
            staging: p.choice("staging")?,
        })
    }
}

impl Traceable for MatmulParams {
    fn trace(&self, cfg: &TraceConfig) -> Result<CommandStream, TraceError> {
        let MatmulParams {
            m,
            n,
            k,
            bm,
            bn,
            bk,
            staging,
        } = *self;
        let args = matmul::args(
            Ptr::new(ADDR[0], m, k),
            Ptr::new(ADDR[1], k, n),
            Ptr::new(ADDR[2], m, n),
            m,
            n,
            k,
            bm,
            bn,
            bk,
            staging,
        );
        let program = ProgramInfo::grid([0, 0, 0], matmul_grid(m, n, bm, bn));
        matmul::trace(&args, &program, cfg)
    }
}

/// `ring_allreduce`'s parameters.
struct RingParams {
    len: usize,
    world_size: usize,
    rank: usize,
    seg: usize,
    op: ReduceOp,
}

impl ParamSet for RingParams {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::positive("len", "1024", "elements"),
        ParamSpec::positive("world_size", "4", "ranks in the ring"),
        ParamSpec::count("rank", "0", "rank whose stream to show"),
        ParamSpec::count(
            "seg",
            "0",
            "most elements per message (0: one chunk per rank)",
        ),
        ParamSpec::choice::<ReduceOp>("op", "sum", "reduction"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(RingParams {
            len: p.positive("len")?,
            world_size: p.positive("world_size")?,
            rank: p.count("rank")?,
            seg: p.count("seg")?,
            op: p.choice("op")?,
        })
    }
}

impl Traceable for RingParams {
    fn trace(&self, cfg: &TraceConfig) -> Result<CommandStream, TraceError> {
        let args =
            ring_allreduce::args(Ptr::vector(ADDR[0], self.len), self.len, self.op, self.seg);
        let program = ProgramInfo::single().with_ring(self.rank, self.world_size);
        ring_allreduce::trace(&args, &program, cfg)
    }
}

/// `flash_attention`'s parameters.
struct AttentionParams {
    seq_q: usize,
    seq_kv: usize,
    head_dim: usize,
    bm: usize,
    bn: usize,
}

impl ParamSet for AttentionParams {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::positive("seq_q", "128", "query rows"),
        ParamSpec::positive("seq_kv", "256", "key/value rows"),
        ParamSpec::positive("head_dim", "64", "head dimension"),
        ParamSpec::positive("bm", "64", "query rows per program"),
        ParamSpec::positive("bn", "64", "key/value rows per step"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(AttentionParams {
            seq_q: p.positive("seq_q")?,
            seq_kv: p.positive("seq_kv")?,
            head_dim: p.positive("head_dim")?,
            bm: p.positive("bm")?,
            bn: p.positive("bn")?,
        })
    }
}

impl Traceable for AttentionParams {
    fn trace(&self, cfg: &TraceConfig) -> Result<CommandStream, TraceError> {
        let (sq, skv, d) = (self.seq_q, self.seq_kv, self.head_dim);
        let scale = 1.0 / (d as f32).sqrt();
        let args = flash_attention::args(
            Ptr::new(ADDR[0], sq, d),
            Ptr::new(ADDR[1], skv, d),
            Ptr::new(ADDR[2], skv, d),
            Ptr::new(ADDR[3], sq, d),
            skv,
            d,
            self.bm,
            self.bn,
            scale,
        );
        let program = ProgramInfo::grid([0, 0, 0], [sq.div_ceil(self.bm), 1, 1]);
        flash_attention::trace(&args, &program, cfg)
    }
}

/// `causal_attention`'s parameters.
struct CausalParams {
    seq_q: usize,
    seq_kv: usize,
    q_offset: usize,
    head_dim: usize,
    bm: usize,
    bn: usize,
}

impl ParamSet for CausalParams {
    const SPECS: &'static [ParamSpec] = &[
        ParamSpec::positive("seq_q", "128", "query rows"),
        ParamSpec::positive("seq_kv", "128", "key/value rows"),
        ParamSpec::count("q_offset", "0", "sequence position of the first query"),
        ParamSpec::positive("head_dim", "64", "head dimension"),
        ParamSpec::positive("bm", "64", "query rows per program"),
        ParamSpec::positive("bn", "32", "key/value rows per step"),
    ];

    fn parse(p: &Params) -> Result<Self, ParamError> {
        Ok(CausalParams {
            seq_q: p.positive("seq_q")?,
            seq_kv: p.positive("seq_kv")?,
            q_offset: p.count("q_offset")?,
            head_dim: p.positive("head_dim")?,
            bm: p.positive("bm")?,
            bn: p.positive("bn")?,
        })
    }
}

impl Traceable for CausalParams {
    /// The last program: the one whose key blocks cross the diagonal last.
    fn trace(&self, cfg: &TraceConfig) -> Result<CommandStream, TraceError> {
        let (sq, skv, d) = (self.seq_q, self.seq_kv, self.head_dim);
        let args = causal_attention::args(
            Ptr::new(ADDR[0], sq, d),
            Ptr::new(ADDR[1], skv, d),
            Ptr::new(ADDR[2], skv, d),
            Ptr::new(ADDR[3], sq, d),
            skv,
            self.q_offset,
            d,
            self.bm,
            self.bn,
            1.0 / (d as f32).sqrt(),
        );
        let n = sq.div_ceil(self.bm);
        causal_attention::trace(&args, &ProgramInfo::grid([n - 1, 0, 0], [n, 1, 1]), cfg)
    }
}

static CATALOG: &[KernelEntry] = &[
    KernelEntry::new::<MatmulParams>(
        "matmul",
        "tiled GEMM c = a @ b (f16, f32 accumulation), one program per output block",
    ),
    KernelEntry::new::<RingParams>(
        "ring_allreduce",
        "ring all-reduce of an f16 vector: reduce-scatter then all-gather over IPCQ",
    ),
    KernelEntry::new::<AttentionParams>(
        "flash_attention",
        "one head of flash attention: two dots per kv block with an online softmax",
    ),
    KernelEntry::new::<CausalParams>(
        "causal_attention",
        "one head of causal attention, masks built in the kernel (shows the last program)",
    ),
];

/// All registered kernels.
pub fn catalog() -> &'static [KernelEntry] {
    CATALOG
}

/// The entry named `name`, or an error listing valid names.
pub fn find(name: &str) -> Result<&'static KernelEntry, CatalogError> {
    CATALOG
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| CatalogError::UnknownKernel {
            name: name.to_string(),
            valid: CATALOG
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernbench_core::support::Named;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn trace(e: &KernelEntry, over: &[(&str, &str)]) -> Result<CommandStream, CatalogError> {
        e.trace_program0(&e.resolve(&kv(over))?, &TraceConfig::default())
    }

    #[test]
    fn every_entry_traces_with_its_defaults() {
        for e in catalog() {
            let s = trace(e, &[]);
            assert!(s.is_ok(), "{}: {:?}", e.name, s.err());
            assert!(!e.description.is_empty());
            assert!(e.params.iter().all(|p| !p.help.is_empty()));
        }
    }

    #[test]
    fn overrides_apply_and_are_validated() {
        let e = find("matmul").unwrap();
        let s = trace(e, &[("k", "64"), ("bk", "16")]).unwrap();
        assert_eq!(s.counts().gemm, 64 / 16);
        let s = trace(e, &[("staging", "hbm_ref")]).unwrap();
        assert_eq!(s.counts().dma_read, 0);
        let err = trace(e, &[("staging", "l2")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `staging`: invalid value `l2`, expected one of hbm_ref, tcm, sram"
        );
        let err = find("ring")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "unknown kernel `ring`; valid kernels: matmul, ring_allreduce, flash_attention, causal_attention"
        );
    }

    #[test]
    fn names_round_trip() {
        for s in Stage::ALL.iter().copied() {
            assert_eq!(s.name().parse::<Stage>(), Ok(s));
        }
        for o in ReduceOp::ALL.iter().copied() {
            assert_eq!(o.name().parse::<ReduceOp>(), Ok(o));
        }
    }
}
