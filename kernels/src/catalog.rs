//! The registry of kernels the CLI can lower by name.

use std::fmt::Write as _;

use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::TraceError;

use crate::{flash_attention, matmul, matmul_grid, ring_allreduce, ReduceOp};

/// One `key=value` parameter of a catalog entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// Key.
    pub name: &'static str,
    /// Default value.
    pub default: &'static str,
    /// One-line meaning.
    pub help: &'static str,
}

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
    /// The kernel has no such parameter.
    #[error("`{kernel}` has no parameter `{param}`; valid parameters: {valid}")]
    UnknownParam {
        /// Kernel.
        kernel: &'static str,
        /// Requested key.
        param: String,
        /// Comma-separated `key=default`.
        valid: String,
    },
    /// A value that does not parse or is out of range.
    #[error("parameter `{param}`: invalid value `{value}`, expected {expected}")]
    BadValue {
        /// Key.
        param: &'static str,
        /// Given value.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// Tracing failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// Resolved parameters: defaults overridden by the caller's.
pub struct Params {
    values: Vec<(&'static str, String)>,
}

impl Params {
    /// `specs`' defaults overridden by `overrides` (later keys win); `owner`
    /// names the kernel or bench in errors.
    pub fn resolve(
        owner: &'static str,
        specs: &'static [ParamSpec],
        overrides: &[(String, String)],
    ) -> Result<Params, CatalogError> {
        let mut values: Vec<(&'static str, String)> = specs
            .iter()
            .map(|p| (p.name, p.default.to_string()))
            .collect();
        for (k, v) in overrides {
            match values.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.clone(),
                None => {
                    return Err(CatalogError::UnknownParam {
                        kernel: owner,
                        param: k.clone(),
                        valid: params_text(specs),
                    })
                }
            }
        }
        Ok(Params { values })
    }

    /// `(key, value)` pairs in declaration order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }

    fn raw(&self, name: &'static str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// A positive integer parameter.
    pub fn positive(&self, name: &'static str) -> Result<usize, CatalogError> {
        let v = self.raw(name);
        match v.parse::<usize>() {
            Ok(x) if x > 0 => Ok(x),
            _ => Err(CatalogError::BadValue {
                param: name,
                value: v.to_string(),
                expected: "a positive integer",
            }),
        }
    }

    /// A non-negative integer parameter.
    pub fn index(&self, name: &'static str) -> Result<usize, CatalogError> {
        let v = self.raw(name);
        v.parse::<usize>().map_err(|_| CatalogError::BadValue {
            param: name,
            value: v.to_string(),
            expected: "a non-negative integer",
        })
    }

    /// A finite `f32` parameter.
    pub fn float(&self, name: &'static str) -> Result<f32, CatalogError> {
        let v = self.raw(name);
        match v.parse::<f32>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(CatalogError::BadValue {
                param: name,
                value: v.to_string(),
                expected: "a finite number",
            }),
        }
    }

    /// A parameter from a fixed set of names, mapped by `parse`.
    pub fn choice<T>(
        &self,
        name: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, CatalogError> {
        let v = self.raw(name);
        parse(v).ok_or_else(|| CatalogError::BadValue {
            param: name,
            value: v.to_string(),
            expected,
        })
    }
}

/// `key=default` for every parameter, comma-separated.
pub fn params_text(specs: &[ParamSpec]) -> String {
    let mut s = String::new();
    for (i, p) in specs.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(s, "{sep}{}={}", p.name, p.default);
    }
    s
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
    /// `key=default` for every parameter, comma-separated.
    pub fn params_text(&self) -> String {
        params_text(self.params)
    }

    /// Defaults overridden by `overrides` (later keys win).
    pub fn resolve(&self, overrides: &[(String, String)]) -> Result<Params, CatalogError> {
        Params::resolve(self.name, self.params, overrides)
    }

    /// Traces program 0 (rank 0 for collectives) with placeholder tensor
    /// addresses and the given parameter overrides.
    pub fn trace_program0(
        &self,
        overrides: &[(String, String)],
        cfg: &TraceConfig,
    ) -> Result<CommandStream, CatalogError> {
        let params = self.resolve(overrides)?;
        (self.trace)(&params, cfg)
    }
}

/// Placeholder device addresses, far enough apart to tell tensors apart
/// in listings.
const ADDR: [u64; 4] = [0x1000_0000, 0x2000_0000, 0x3000_0000, 0x4000_0000];

fn trace_matmul(p: &Params, cfg: &TraceConfig) -> Result<CommandStream, CatalogError> {
    let (m, n, k) = (p.positive("m")?, p.positive("n")?, p.positive("k")?);
    let (bm, bn, bk) = (p.positive("bm")?, p.positive("bn")?, p.positive("bk")?);
    let stage = p.choice("staging", "hbm_ref, tcm or sram", Stage::from_name)?;
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
        stage.code(),
    );
    let program = ProgramInfo::grid([0, 0, 0], matmul_grid(m, n, bm, bn));
    Ok(matmul::trace(&args, &program, cfg)?)
}

fn trace_ring(p: &Params, cfg: &TraceConfig) -> Result<CommandStream, CatalogError> {
    let (len, ws, rank) = (
        p.positive("len")?,
        p.positive("world_size")?,
        p.index("rank")?,
    );
    let op = p.choice("op", "sum or max", ReduceOp::from_name)?;
    let seg = p.index("seg")?;
    let args = ring_allreduce::args(Ptr::vector(ADDR[0], len), len, op.code(), seg);
    let program = ProgramInfo::single().with_ring(rank, ws);
    Ok(ring_allreduce::trace(&args, &program, cfg)?)
}

fn trace_attention(p: &Params, cfg: &TraceConfig) -> Result<CommandStream, CatalogError> {
    let (sq, skv, d) = (
        p.positive("seq_q")?,
        p.positive("seq_kv")?,
        p.positive("head_dim")?,
    );
    let (bm, bn) = (p.positive("bm")?, p.positive("bn")?);
    let scale = 1.0 / (d as f32).sqrt();
    let args = flash_attention::args(
        Ptr::new(ADDR[0], sq, d),
        Ptr::new(ADDR[1], skv, d),
        Ptr::new(ADDR[2], skv, d),
        Ptr::new(ADDR[3], sq, d),
        skv,
        d,
        bm,
        bn,
        scale,
    );
    let program = ProgramInfo::grid([0, 0, 0], [sq.div_ceil(bm), 1, 1]);
    Ok(flash_attention::trace(&args, &program, cfg)?)
}

static CATALOG: [KernelEntry; 3] = [
    KernelEntry {
        name: "matmul",
        description: "tiled GEMM c = a @ b (f16, f32 accumulation), one program per output block",
        params: &[
            ParamSpec {
                name: "m",
                default: "128",
                help: "rows of a and c",
            },
            ParamSpec {
                name: "n",
                default: "128",
                help: "columns of b and c",
            },
            ParamSpec {
                name: "k",
                default: "128",
                help: "columns of a, rows of b",
            },
            ParamSpec {
                name: "bm",
                default: "32",
                help: "block rows",
            },
            ParamSpec {
                name: "bn",
                default: "64",
                help: "block columns",
            },
            ParamSpec {
                name: "bk",
                default: "32",
                help: "reduction step",
            },
            ParamSpec {
                name: "staging",
                default: "tcm",
                help: "operand staging: hbm_ref, tcm or sram",
            },
        ],
        trace: trace_matmul,
    },
    KernelEntry {
        name: "ring_allreduce",
        description: "ring all-reduce of an f16 vector: reduce-scatter then all-gather over IPCQ",
        params: &[
            ParamSpec {
                name: "len",
                default: "1024",
                help: "elements",
            },
            ParamSpec {
                name: "world_size",
                default: "4",
                help: "ranks in the ring",
            },
            ParamSpec {
                name: "rank",
                default: "0",
                help: "rank whose stream to show",
            },
            ParamSpec {
                name: "seg",
                default: "0",
                help: "most elements per message (0: one chunk per rank)",
            },
            ParamSpec {
                name: "op",
                default: "sum",
                help: "reduction: sum or max",
            },
        ],
        trace: trace_ring,
    },
    KernelEntry {
        name: "flash_attention",
        description: "one head of flash attention: two dots per kv block with an online softmax",
        params: &[
            ParamSpec {
                name: "seq_q",
                default: "128",
                help: "query rows",
            },
            ParamSpec {
                name: "seq_kv",
                default: "256",
                help: "key/value rows",
            },
            ParamSpec {
                name: "head_dim",
                default: "64",
                help: "head dimension",
            },
            ParamSpec {
                name: "bm",
                default: "64",
                help: "query rows per program",
            },
            ParamSpec {
                name: "bn",
                default: "64",
                help: "key/value rows per step",
            },
        ],
        trace: trace_attention,
    },
];

/// All registered kernels.
pub fn catalog() -> &'static [KernelEntry] {
    &CATALOG
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

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_entry_traces_with_its_defaults() {
        for e in catalog() {
            let s = e.trace_program0(&[], &TraceConfig::default());
            assert!(s.is_ok(), "{}: {:?}", e.name, s.err());
            assert!(!e.description.is_empty());
            assert!(e.params.iter().all(|p| !p.help.is_empty()));
        }
    }

    #[test]
    fn overrides_apply_and_are_validated() {
        let e = find("matmul").unwrap();
        let s = e
            .trace_program0(&kv(&[("k", "64"), ("bk", "16")]), &TraceConfig::default())
            .unwrap();
        assert_eq!(s.counts().gemm, 64 / 16);
        let s = e
            .trace_program0(&kv(&[("staging", "hbm_ref")]), &TraceConfig::default())
            .unwrap();
        assert_eq!(s.counts().dma_read, 0);
        let err = e
            .trace_program0(&kv(&[("staging", "l2")]), &TraceConfig::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `staging`: invalid value `l2`, expected hbm_ref, tcm or sram"
        );
        let err = find("ring")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "unknown kernel `ring`; valid kernels: matmul, ring_allreduce, flash_attention"
        );
    }

    #[test]
    fn codes_round_trip() {
        for s in [Stage::HbmRef, Stage::Tcm, Stage::Sram] {
            assert_eq!(Stage::from_code(s.code()), Some(s));
            assert_eq!(Stage::from_name(s.name()), Some(s));
        }
        for o in [ReduceOp::Sum, ReduceOp::Max] {
            assert_eq!(ReduceOp::from_code(o.code()), Some(o));
            assert_eq!(ReduceOp::from_name(o.name()), Some(o));
        }
    }
}
