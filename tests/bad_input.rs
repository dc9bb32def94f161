//! Hostile input ends in one clear error, never a panic, an abort or a
//! hang: run budgets, launch sizes, output destinations, interruption.
//! (Topology bounds are in `topology_errors.rs`, bench parameters and
//! shapes in `run_cli.rs`, the fuzzing in `fuzz.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use kernbench::cli::run::{self as cli_run, RunArgs};
use kernbench::prelude::*;
use kernbench_core::host::{
    Budget, BudgetError, BufferKind, LaunchOptions, Place, Ring, RuntimeError,
};
use kernbench_core::{Device, Topology};
use kernels::{ring_allreduce, ReduceOp};

/// `rows` single-row copies: two DMA commands per row.
#[kernel]
fn row_copy(x: Ptr<f16>, y: Ptr<f16>, #[constexpr] rows: usize) {
    for r in 0..rows {
        let t = tl::load(x.block([r, 0], [1, 8]));
        tl::store(y.block([r, 0], [1, 8]), t);
    }
}

fn budget(held_commands: usize, data_bytes: u64) -> Budget {
    Budget {
        held_commands,
        data_bytes,
        ..Budget::DEFAULT
    }
}

/// Eight programs of `2 x 64` commands each, one per PE of cube 0.
fn eight_copies(dev: &mut Device) -> Result<u64, RuntimeError> {
    let x = dev.alloc::<f16>(Place::hbm(0, 0), 64, 8)?;
    let y = dev.alloc::<f16>(Place::hbm(0, 0), 64, 8)?;
    let args = row_copy::args(x.ptr(), y.ptr(), 64);
    let run = dev.launch::<row_copy>(&args, &LaunchOptions::grid([8, 1, 1]))?;
    Ok(run.peak_commands)
}

#[test]
fn a_run_holding_more_commands_than_its_budget_stops_naming_it() {
    let topo = Topology::default_topology();
    // All eight start together (one per PE), so the run holds 8 x 128.
    let held = 8 * 2 * 64;
    let mut dev = Device::new(&topo).with_budget(budget(held, 1 << 30));
    assert_eq!(eight_copies(&mut dev).unwrap(), held as u64);
    let mut dev = Device::new(&topo).with_budget(budget(held - 1, 1 << 30));
    let e = eight_copies(&mut dev).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("`held_commands`") && m.contains(&(held - 1).to_string()),
        "{m}"
    );
    // The device is usable after the refused run.
    assert!(dev.alloc::<f16>(Place::hbm(0, 0), 8, 8).is_ok());
}

#[test]
fn a_run_is_held_to_its_commands_in_all_and_its_records() {
    let topo = Topology::default_topology();
    let all = 8 * 2 * 64;
    let run = |b: Budget| eight_copies(&mut Device::new(&topo).with_budget(b));
    let whole = Budget {
        run_commands: all,
        ..Budget::DEFAULT
    };
    assert!(run(whole).is_ok());
    let e = run(Budget {
        run_commands: all - 1,
        ..Budget::DEFAULT
    })
    .unwrap_err();
    assert!(e.to_string().contains("`run_commands`"), "{e}");
    // Records kept for a timeline: one per command at least.
    let e = run(Budget {
        records: 100,
        ..Budget::DEFAULT
    })
    .unwrap_err();
    assert!(e.to_string().contains("`records`"), "{e}");
}

#[test]
fn a_tensor_view_past_its_memory_is_refused() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let x = dev.alloc::<f16>(Place::hbm(0, 0), 8, 8).unwrap();
    let base = x.ptr().desc().base;
    // 2^20 x 2^20 fp16 is 2 TiB: past the 64 GiB an address's offset holds,
    // its last byte would carry into the fields above the offset.
    let huge = Ptr::<f16>::new(base, 1 << 20, 1 << 20);
    let e = dev
        .launch::<row_copy>(
            &row_copy::args(huge, x.ptr(), 1),
            &LaunchOptions::grid([1, 1, 1]),
        )
        .unwrap_err();
    assert!(matches!(e, RuntimeError::TensorPastMemory { .. }), "{e}");
    // Ending exactly at the top of the 64 GiB offset range is fine; one
    // element more is not.
    let top = 1u64 << 36;
    let fits = ((top - (base & (top - 1))) / 2) as usize;
    let edge = Ptr::<f16>::new(base, 1, fits);
    assert!(dev
        .trace::<row_copy>(
            &row_copy::args(edge, x.ptr(), 1),
            &LaunchOptions::grid([1, 1, 1])
        )
        .is_ok());
    let past = Ptr::<f16>::new(base, 1, fits + 1);
    let e = dev
        .trace::<row_copy>(
            &row_copy::args(past, x.ptr(), 1),
            &LaunchOptions::grid([1, 1, 1]),
        )
        .unwrap_err();
    assert!(e.to_string().contains("runs past the memory"), "{e}");
}

#[test]
fn a_collective_of_many_small_messages_is_held_to_the_budget() {
    // The class of `ring-allreduce --param seg=1`: every rank's program is
    // traced as its PE starts, and the sum is held to the budget.
    let topo = Topology::default_topology();
    let ring = Ring::intracube_pe_ring(&topo, 0, 0, 8).unwrap();
    let run = |held: usize| {
        let mut dev = Device::new(&topo)
            .with_data(false)
            .with_budget(budget(held, 1 << 30));
        let bufs: Vec<_> = ring
            .pes
            .iter()
            .map(|pe| dev.alloc::<f16>(Place::hbm(pe.sip, pe.cube), 1, 4096))
            .collect::<Result<_, _>>()?;
        dev.launch_ring::<ring_allreduce>(&ring, BufferKind::Tcm, |r| {
            ring_allreduce::args(bufs[r].ptr(), 4096, ReduceOp::Sum, 1)
        })
    };
    let peak = run(usize::MAX).unwrap().peak_commands;
    assert!(peak > 8 * 4096, "seg = 1: thousands of commands per rank");
    let e = run(peak as usize / 2).unwrap_err();
    assert!(
        matches!(
            &e,
            RuntimeError::Exec(kernbench_core::exec::pe::ExecError::Budget(
                BudgetError::Commands { .. }
            ))
        ),
        "{e}"
    );
}

#[test]
fn data_execution_is_held_to_its_memory_budget() {
    let topo = Topology::default_topology();
    // Allocations count while data is on: 2 KiB tensors against 5 KiB.
    let mut dev = Device::new(&topo).with_budget(budget(1 << 20, 5 << 10));
    let hbm = Place::hbm(0, 0);
    dev.alloc::<f16>(hbm, 32, 32).unwrap();
    dev.alloc::<f16>(hbm, 32, 32).unwrap();
    let e = dev.alloc::<f16>(hbm, 32, 32).unwrap_err();
    assert!(e.to_string().contains("`data_bytes` is 5120"), "{e}");
    // Timing-only keeps no values: nothing to budget.
    let mut dev = Device::new(&topo)
        .with_data(false)
        .with_budget(budget(1 << 20, 5 << 10));
    for _ in 0..8 {
        dev.alloc::<f16>(hbm, 32, 32).unwrap();
    }
    // Memory contents are held to the budget too: a TCM tensor lies past
    // the 1 MiB kernel scratch, so writing it grows the PE's TCM image
    // past a 1 MiB budget although the tensor is 2 KiB.
    let mut dev = Device::new(&topo).with_budget(budget(1 << 20, 1 << 20));
    let t = dev.alloc::<f16>(Place::tcm(0, 0, 0), 32, 32).unwrap();
    let e = dev
        .write(&t, &ndarray::Array2::zeros((32, 32)))
        .unwrap_err();
    assert!(e.to_string().contains("`data_bytes` is 1048576"), "{e}");
}

#[test]
fn a_grid_past_the_program_limit_is_refused_before_tracing() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let x = dev.alloc::<f16>(Place::hbm(0, 0), 8, 8).unwrap();
    let args = row_copy::args(x.ptr(), x.ptr(), 1);
    for grid in [
        [1 << 12, 1 << 11, 1],
        [usize::MAX, 2, 1],
        [1 << 40, 1 << 40, 0],
    ] {
        let e = dev
            .launch::<row_copy>(&args, &LaunchOptions::grid(grid))
            .unwrap_err();
        assert!(
            matches!(e, RuntimeError::GridTooLarge { .. }),
            "{grid:?}: {e}"
        );
    }
}

fn run_args(bench: &str, params: &[&str], trace: Option<PathBuf>) -> RunArgs {
    RunArgs {
        bench: bench.to_string(),
        params: params.iter().map(|p| p.to_string()).collect(),
        check: false,
        timing_only: true,
        json: true,
        trace,
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Entries of `dir` whose name marks a temporary.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn trace_destinations_that_are_not_regular_files_are_refused_before_the_run() {
    let topo = Topology::default_topology();
    let dir = scratch_dir("dest");
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let small = ["m=64", "n=64", "k=64"];
    for (dest, why) in [
        (fifo.clone(), "not a regular file"),
        (PathBuf::from("/dev/null"), "device"),
        (PathBuf::from("/dev/stdout"), "device"),
        (dir.join("t.json/."), "not a file name"),
        (dir.join("t.json/"), "not a file name"),
        (dir.clone(), "directory"),
        (dir.join("none/t.json"), "no such directory"),
    ] {
        let e = cli_run::run(&topo, &run_args("gemm", &small, Some(dest.clone()))).unwrap_err();
        assert!(e.to_string().contains(why), "{}: {e}", dest.display());
    }
    // A symbolic link is followed: its target is replaced, the link stays.
    let target = dir.join("target.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink("target.json", &link).unwrap();
    cli_run::run(&topo, &run_args("gemm", &small, Some(link.clone()))).unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.starts_with('{') && text.contains("traceEvents"),
        "{text:.40}"
    );
    // A loop of links is an error, not a hang.
    std::os::unix::fs::symlink("loop_b", dir.join("loop_a")).unwrap();
    std::os::unix::fs::symlink("loop_a", dir.join("loop_b")).unwrap();
    let e = cli_run::run(&topo, &run_args("gemm", &small, Some(dir.join("loop_a")))).unwrap_err();
    assert!(e.to_string().contains("symbolic links"), "{e}");
    assert!(temporaries(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_leaves_no_temporary_behind() {
    let dir = scratch_dir("sigterm");
    let trace = dir.join("t.json");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut interrupted = 0;
    // Signals at spread times land in the simulation, in the trace write
    // or after it; none may leave a temporary.
    for delay_ms in [50u64, 150, 300, 500, 800, 1200] {
        let child = Command::new(env!("CARGO_BIN_EXE_kernbench"))
            .current_dir(root)
            .args(["run", "--bench", "gemm", "--timing-only", "--trace"])
            .arg(&trace)
            .args([
                "--param", "m=2048", "--param", "n=2048", "--param", "k=1024",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        match out.status.code() {
            Some(130) => {
                interrupted += 1;
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(err.trim(), "error: interrupted");
            }
            Some(0) => {}
            other => panic!("exit {other:?} after {delay_ms} ms"),
        }
        assert!(temporaries(&dir).is_empty(), "after {delay_ms} ms");
    }
    assert!(
        interrupted > 0,
        "no run was interrupted: the test proves nothing"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_issues_examples_end_in_one_line_errors() {
    let topo = Topology::default_topology();
    for (bench, params, says) in [
        ("tp-mlp", &["hidden=1000000000"][..], "`hidden`"),
        ("tp-mlp", &["hidden=1000000"][..], "run budget exceeded"),
        ("gemm", &["k=9223372036854775808"][..], "`k`"),
        (
            "ring-allreduce",
            &["bytes=18446744073709551614"][..],
            "`bytes`",
        ),
        (
            "attention",
            &["seq=1048576", "d=1048576"][..],
            "bytes requested",
        ),
    ] {
        let mut a = run_args(bench, params, None);
        a.timing_only = false;
        let e = cli_run::run(&topo, &a).unwrap_err().to_string();
        assert!(e.contains(says), "{bench} {params:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let probe = kernbench::cli::probe::ProbeArgs {
        bytes: 1 << 40,
        ..Default::default()
    };
    let e = kernbench::cli::probe::run(&topo, &probe).unwrap_err();
    assert!(e.to_string().contains("hbm.capacity_mb"), "{e}");
}
