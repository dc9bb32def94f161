//! TCM scratch is allocated by liveness: total allocations may exceed the
//! scratch as long as the live set fits.

use kernbench::prelude::*;
use kernbench_core::dsl::{Space, TraceErrorKind};

/// Streams `n` tiles through TCM, each dead after it is added.
#[kernel]
fn streaming(x: Ptr<f32>, y: Ptr<f32>, #[constexpr] n: usize, #[constexpr] rows: usize) {
    let mut acc = tl::zeros::<f32>([rows, x.cols()]);
    for i in 0..n {
        let t = tl::load(x.block([i * rows, 0], [rows, x.cols()]));
        acc = &acc + &t;
    }
    tl::store(y.block([0, 0], [rows, y.cols()]), acc);
}

/// Loads all `n` tiles before using any, so all are live at once.
#[kernel]
fn hoarding(x: Ptr<f32>, y: Ptr<f32>, #[constexpr] n: usize, #[constexpr] rows: usize) {
    let mut tiles = Vec::new();
    for i in 0..n {
        tiles.push(tl::load(x.block([i * rows, 0], [rows, x.cols()])));
    }
    let mut acc = tl::zeros::<f32>([rows, x.cols()]);
    for t in &tiles {
        acc = &acc + t;
    }
    tl::store(y.block([0, 0], [rows, y.cols()]), acc);
}

const ROWS: usize = 256;
const COLS: usize = 256;
const N: usize = 8;
const TILE_BYTES: u64 = (ROWS * COLS * 4) as u64;

fn args(n: usize) -> (Ptr<f32>, Ptr<f32>) {
    (
        Ptr::new(0x1000_0000, n * ROWS, COLS),
        Ptr::new(0x2000_0000, ROWS, COLS),
    )
}

#[test]
fn total_allocations_exceed_scratch_but_live_set_fits() {
    let cfg = TraceConfig::default();
    let (x, y) = args(N);
    let s = streaming::trace(
        &streaming::args(x, y, N, ROWS),
        &ProgramInfo::single(),
        &cfg,
    )
    .unwrap();
    let total: u64 = s.buffers.iter().map(|b| b.bytes()).sum();
    // zeros + N loads + N sums, all tiles of TILE_BYTES.
    assert_eq!(total, (1 + 2 * N as u64) * TILE_BYTES);
    assert!(
        total > cfg.scratch_bytes,
        "the test must allocate more than the scratch in total"
    );
    // At any command at most: running acc, the loaded tile, the new sum.
    assert!(s.tcm_peak <= 3 * TILE_BYTES, "peak {}", s.tcm_peak);
    assert!(s.tcm_peak <= cfg.scratch_bytes);
    for b in &s.buffers {
        let off = b.offset.unwrap_or(u64::MAX);
        assert!(off + b.bytes() <= cfg.scratch_bytes);
        assert_eq!(off % 64, 0);
    }
}

#[test]
fn buffers_live_at_the_same_time_never_overlap() {
    let (x, y) = args(N);
    let s = streaming::trace_single(&streaming::args(x, y, N, ROWS)).unwrap();
    // Recompute liveness from the stream and check pairwise disjointness.
    let n = s.buffers.len();
    let (mut first, mut last) = (vec![usize::MAX; n], vec![0; n]);
    for (i, c) in s.commands.iter().enumerate() {
        for id in c.reads().into_iter().chain(c.writes()) {
            first[id.index()] = first[id.index()].min(i);
            last[id.index()] = last[id.index()].max(i);
        }
    }
    for a in 0..n {
        for b in a + 1..n {
            let overlap_time = first[a] <= last[b] && first[b] <= last[a];
            let (ba, bb) = (&s.buffers[a], &s.buffers[b]);
            let (oa, ob) = (ba.offset.unwrap_or(0), bb.offset.unwrap_or(0));
            let overlap_space = oa < ob + bb.bytes() && ob < oa + ba.bytes();
            assert!(!(overlap_time && overlap_space), "b{a} and b{b} collide");
        }
    }
}

#[test]
fn live_set_over_scratch_fails_naming_kernel_program_and_command() {
    let cfg = TraceConfig::default();
    let (x, y) = args(N);
    assert!(N as u64 * TILE_BYTES > cfg.scratch_bytes);
    let program = ProgramInfo::grid([2, 0, 0], [4, 1, 1]);
    let e = hoarding::trace(&hoarding::args(x, y, N, ROWS), &program, &cfg).unwrap_err();
    // The (k+1)-th load no longer fits once k tiles are live.
    let fits = (cfg.scratch_bytes / TILE_BYTES) as usize;
    match &*e.kind {
        TraceErrorKind::Overflow {
            space,
            index,
            command,
            need,
            live,
            capacity,
        } => {
            assert_eq!(*space, Space::Tcm);
            assert_eq!(*index, fits);
            assert!(command.starts_with("dma.read"), "{command}");
            assert_eq!(*need, TILE_BYTES);
            assert_eq!(*live, fits as u64 * TILE_BYTES);
            assert_eq!(*capacity, cfg.scratch_bytes);
        }
        other => panic!("expected an overflow, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("kernel `hoarding`"), "{msg}");
    assert!(msg.contains("program (2,0,0) of (4,1,1)"), "{msg}");
    assert!(msg.contains(&format!("command #{fits} `dma.read")), "{msg}");
}

#[test]
fn scratch_limit_comes_from_the_topology() {
    let mut topo = kernbench_core::Topology::default_topology();
    topo.pe_tcm.kernel_scratch_mb = 2;
    let cfg = kernbench_core::host::trace_config(&topo);
    assert_eq!(cfg.scratch_bytes, 2 << 20);
    let (x, y) = args(N);
    // 8 tiles of 256 KiB = 2 MiB of loads plus the zeros tile: still too big.
    assert!(hoarding::trace(&hoarding::args(x, y, N, ROWS), &ProgramInfo::single(), &cfg).is_err());
    let (x, y) = args(4);
    assert!(hoarding::trace(&hoarding::args(x, y, 4, ROWS), &ProgramInfo::single(), &cfg).is_ok());
}
