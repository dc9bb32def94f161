//! The matmul kernel's streams: command counts derived from the shapes,
//! masking at ragged edges and the three operand-staging variants.

use kernbench::prelude::*;
use kernbench_core::dsl::{BlockRef, Command, CommandCounts, Operand, Space};
use kernels::{matmul, matmul_grid};
use proptest::prelude::*;

struct Shape {
    m: usize,
    n: usize,
    k: usize,
    bm: usize,
    bn: usize,
    bk: usize,
}

fn trace_all(s: &Shape, stage: Stage) -> Vec<CommandStream> {
    let args = matmul::args(
        Ptr::new(0x1000_0000, s.m, s.k),
        Ptr::new(0x2000_0000, s.k, s.n),
        Ptr::new(0x3000_0000, s.m, s.n),
        s.m,
        s.n,
        s.k,
        s.bm,
        s.bn,
        s.bk,
        stage,
    );
    let grid = matmul_grid(s.m, s.n, s.bm, s.bn);
    let mut out = Vec::new();
    for pm in 0..grid[0] {
        for pn in 0..grid[1] {
            let p = ProgramInfo::grid([pm, pn, 0], grid);
            out.push(matmul::trace(&args, &p, &TraceConfig::default()).unwrap());
        }
    }
    out
}

fn total(streams: &[CommandStream]) -> CommandCounts {
    let mut c = CommandCounts::default();
    for s in streams {
        c += s.counts();
    }
    c
}

fn writes(s: &CommandStream) -> Vec<BlockRef> {
    blocks(s, |c| match c {
        Command::DmaWrite { dst, .. } => Some(*dst),
        _ => None,
    })
}

fn reads(s: &CommandStream) -> Vec<BlockRef> {
    blocks(s, |c| match c {
        Command::DmaRead { src, .. } => Some(*src),
        _ => None,
    })
}

fn blocks(s: &CommandStream, pick: impl Fn(&Command) -> Option<BlockRef>) -> Vec<BlockRef> {
    s.commands.iter().filter_map(pick).collect()
}

#[test]
fn counts_for_128_cubed_with_32_64_32_blocks() {
    let s = Shape {
        m: 128,
        n: 128,
        k: 128,
        bm: 32,
        bn: 64,
        bk: 32,
    };
    let programs = (s.m / s.bm) * (s.n / s.bn);
    let k_steps = s.k / s.bk;
    let streams = trace_all(&s, Stage::Tcm);
    assert_eq!(streams.len(), programs);
    for st in &streams {
        let c = st.counts();
        assert_eq!(
            c.dma_read,
            2 * k_steps,
            "one a-block and one b-block per k step"
        );
        assert_eq!(c.gemm, k_steps, "one GemmCmd per tl::dot");
        assert_eq!(c.dma_write, 1);
        assert_eq!((c.ipcq_send, c.ipcq_recv), (0, 0));
    }
    let t = total(&streams);
    assert_eq!(t.dma_read, programs * 2 * k_steps);
    assert_eq!(t.gemm, programs * k_steps);
    assert_eq!(t.dma_write, programs);
}

#[test]
fn every_gemm_has_block_shape_and_accumulates_in_place() {
    let s = Shape {
        m: 128,
        n: 128,
        k: 128,
        bm: 32,
        bn: 64,
        bk: 32,
    };
    for st in trace_all(&s, Stage::Tcm) {
        for c in &st.commands {
            if let Command::Gemm(g) = c {
                assert_eq!((g.m, g.k, g.n), (s.bm, s.bk, s.bn));
                assert_eq!(g.acc, Some(g.out));
                assert_eq!((g.a.space, g.b.space), (Space::Tcm, Space::Tcm));
                assert!(!g.a.trans && !g.b.trans);
            }
        }
    }
}

#[test]
fn ragged_shape_masks_edge_blocks() {
    let s = Shape {
        m: 100,
        n: 50,
        k: 70,
        bm: 32,
        bn: 32,
        bk: 32,
    };
    let grid = matmul_grid(s.m, s.n, s.bm, s.bn);
    assert_eq!(grid, [s.m.div_ceil(s.bm), s.n.div_ceil(s.bn), 1]);
    let streams = trace_all(&s, Stage::Tcm);
    let k_steps = s.k.div_ceil(s.bk);
    let mut covered = 0;
    for (i, st) in streams.iter().enumerate() {
        let (pm, pn) = (i / grid[1], i % grid[1]);
        let rows = s.bm.min(s.m - pm * s.bm);
        let cols = s.bn.min(s.n - pn * s.bn);
        let w = writes(st);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].shape, [s.bm, s.bn], "the tile keeps its full shape");
        assert_eq!(w[0].valid, [rows, cols], "program ({pm},{pn})");
        assert_eq!(w[0].is_masked(), rows < s.bm || cols < s.bn);
        covered += rows * cols;
        let r = reads(st);
        assert_eq!(r.len(), 2 * k_steps);
        for (step, pair) in r.chunks(2).enumerate() {
            let kk = step * s.bk;
            let kv = s.bk.min(s.k - kk);
            assert_eq!(pair[0].valid, [rows, kv], "a block of step {step}");
            assert_eq!(pair[1].valid, [kv, cols], "b block of step {step}");
        }
    }
    assert_eq!(
        covered,
        s.m * s.n,
        "the grid writes every element of c exactly once"
    );
}

#[test]
fn hbm_ref_staging_issues_no_dma_reads() {
    let s = Shape {
        m: 128,
        n: 128,
        k: 128,
        bm: 32,
        bn: 64,
        bk: 32,
    };
    for st in trace_all(&s, Stage::HbmRef) {
        let c = st.counts();
        assert_eq!(c.dma_read, 0);
        assert_eq!(c.gemm, s.k / s.bk);
        for cmd in &st.commands {
            if let Command::Gemm(g) = cmd {
                assert_eq!((g.a.space, g.b.space), (Space::Hbm, Space::Hbm));
                assert!(matches!(g.a.src, Operand::Hbm(b) if b.shape == [s.bm, s.bk]));
            }
        }
    }
}

#[test]
fn sram_staging_reads_into_sram() {
    let s = Shape {
        m: 128,
        n: 128,
        k: 128,
        bm: 32,
        bn: 64,
        bk: 32,
    };
    for st in trace_all(&s, Stage::Sram) {
        assert_eq!(st.counts().dma_read, 2 * s.k / s.bk);
        for cmd in &st.commands {
            if let Command::DmaRead { dst, .. } = cmd {
                assert_eq!(st.buffer(*dst).map(|b| b.space), Some(Space::Sram));
            }
            if let Command::Gemm(g) = cmd {
                assert_eq!((g.a.space, g.b.space), (Space::Sram, Space::Sram));
            }
        }
        assert!(st.sram_peak > 0);
    }
}

#[test]
fn listing_is_one_line_per_command() {
    let s = Shape {
        m: 64,
        n: 64,
        k: 64,
        bm: 32,
        bn: 32,
        bk: 32,
    };
    let st = &trace_all(&s, Stage::Tcm)[0];
    let text = st.to_string();
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with(';')).collect();
    assert_eq!(body.len(), st.commands.len());
    assert!(body
        .iter()
        .any(|l| l.contains("gemm") && l.contains("m=32 k=32 n=32")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn grid_covers_c_exactly_once(m in 1usize..90, n in 1usize..90, k in 1usize..90,
                                  bm in 1usize..40, bn in 1usize..40, bk in 1usize..40) {
        let s = Shape { m, n, k, bm, bn, bk };
        let streams = trace_all(&s, Stage::Tcm);
        let mut covered = 0;
        for st in &streams {
            prop_assert_eq!(st.counts().gemm, k.div_ceil(bk));
            covered += writes(st).iter().map(|w| w.valid[0] * w.valid[1]).sum::<usize>();
        }
        prop_assert_eq!(covered, m * n);
    }
}
