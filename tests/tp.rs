//! The rank = SIP process group: the tensor-parallel MLP, parity with a
//! direct launch, and errors reported with their rank.

use kernbench::bench::ring::rank_input;
use kernbench_core::host::Ring;
use kernbench_core::host::{Device, Place, RuntimeError};
use kernbench_core::Topology;
use kernels::tp::{all_reduce_sum, mlp_forward, mlp_reference, spawn};
use ndarray::Array2;

fn matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    rank_input(seed as usize, rows * cols)
        .into_shape_with_order((rows, cols))
        .unwrap()
}

#[test]
fn the_tp_mlp_matches_its_reference_on_every_rank() {
    let topo = Topology::default_topology();
    let world = topo.system.sips as usize;
    for (batch, hidden, ffn) in [(16, 128, 256), (5, 70, 130)] {
        let x = matrix(batch, hidden, 1);
        let w1 = matrix(hidden, ffn, 2).mapv(|v| v / (hidden as f32).sqrt());
        let w2 = matrix(ffn, hidden, 3).mapv(|v| v / (ffn as f32).sqrt());
        let mut dev = Device::new(&topo);
        let ys = spawn(&mut dev, |rank| {
            let out = mlp_forward(rank, &x, &w1, &w2)?;
            rank.read(&out.y)
        })
        .unwrap();
        assert_eq!(ys.len(), world);
        let want = mlp_reference(&x, &w1, &w2, world);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (r, y) in ys.iter().enumerate() {
            let err = y
                .iter()
                .zip(&want)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err <= 1e-2 * scale, "rank {r}: error {err} of {scale}");
            assert_eq!(y, &ys[0], "rank {r} differs from rank 0");
        }
    }
}

#[test]
fn direct_launch_and_process_group_agree_on_data_and_timing() {
    let topo = Topology::default_topology();
    let world = topo.system.sips as usize;
    let len = 3000;
    // Direct: tensors placed by hand, the all-reduce launched on the SIP ring.
    let mut dev = Device::new(&topo);
    let ring = Ring::sips(&topo).unwrap();
    let ts: Vec<_> = (0..world)
        .map(|r| {
            let t = dev.alloc(Place::hbm(r as u32, 0), 1, len).unwrap();
            dev.write(&t, &rank_input(r, len)).unwrap();
            t
        })
        .collect();
    let direct = all_reduce_sum(&mut dev, &ring, &ts).unwrap();
    let direct_data: Vec<_> = ts.iter().map(|t| dev.read(t).unwrap()).collect();
    // Process group: each rank allocates and writes its own tensor.
    let mut dev = Device::new(&topo);
    let group = spawn(&mut dev, |rank| {
        let t = rank.alloc(1, len)?;
        rank.write(&t, &rank_input(rank.rank(), len))?;
        let rep = rank.all_reduce(&t)?;
        Ok((rank.read(&t)?, rep))
    })
    .unwrap();
    for (r, (data, rep)) in group.iter().enumerate() {
        assert_eq!(data, &direct_data[r], "rank {r} data");
        assert_eq!(rep.kernel_ns, direct.kernel_ns, "rank {r} latency");
        assert_eq!(rep.summary, direct.summary);
    }
}

#[test]
fn errors_name_their_rank() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let e = spawn(&mut dev, |rank| {
        rank.barrier()?;
        if rank.rank() == 1 {
            // More than a slice holds.
            rank.alloc::<half::f16>(1 << 20, 1 << 16)?;
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].0, 1);
    assert!(matches!(e.errors[0].1, RuntimeError::OutOfMemory { .. }));
    assert!(e.to_string().starts_with("rank 1: out of memory"), "{e}");
}

#[test]
fn a_rank_that_skips_a_collective_fails_the_others_instead_of_hanging() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let e = spawn(&mut dev, |rank| {
        let t = rank.alloc::<half::f16>(1, 64)?;
        if rank.rank() == 0 {
            rank.all_reduce(&t)?;
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].0, 0);
    assert!(e.to_string().contains("returned without joining"), "{e}");
}

#[test]
fn a_panicking_device_operation_is_an_error_not_a_hang() {
    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let e = spawn(&mut dev, |rank| {
        if rank.rank() == 0 {
            rank.on_device(|_| -> () { panic!("boom") })?;
        }
        rank.barrier()
    })
    .unwrap_err();
    // Rank 0 sees its operation fail; rank 1 is not left waiting at the
    // barrier rank 0 never reaches.
    assert_eq!(e.errors.len(), 2, "{e}");
    assert_eq!(e.errors[0].0, 0);
    assert!(e.errors[0].1.to_string().contains("boom"), "{e}");
    assert!(
        e.errors[1]
            .1
            .to_string()
            .contains("returned without joining"),
        "{e}"
    );
}

/// Receives from rank 0 of a ring the group's plain launches never install.
#[kernbench::prelude::kernel]
fn lonely_recv(x: kernbench::prelude::Ptr<f32>) {
    let t = tl::recv::<f32>(0, [1, 4]);
    tl::store(x.block([0, 0], [1, 4]), t);
}

#[test]
fn a_failed_group_launch_keeps_its_cause_for_matching() {
    use kernbench_core::exec::pe::ExecError;
    use kernbench_core::host::{GroupError, LaunchOptions};
    use kernbench_core::support::error_chain;
    use std::error::Error as _;

    let topo = Topology::default_topology();
    let mut dev = Device::new(&topo);
    let e = spawn(&mut dev, |rank| {
        let x = rank.alloc::<f32>(1, 4)?;
        rank.launch::<lonely_recv>(&lonely_recv::args(x.ptr()), &LaunchOptions::grid([1, 1, 1]))
    })
    .unwrap_err();
    assert_eq!(e.errors.len(), 2, "{e}");
    for (rank, err) in &e.errors {
        // The cause is the executor's own error, reachable by matching...
        let RuntimeError::Group(GroupError::Launch(cause)) = err else {
            panic!("rank {rank}: not a group launch failure: {err:?}");
        };
        assert!(
            matches!(**cause, RuntimeError::Exec(ExecError::Command { .. })),
            "{cause:?}"
        );
        // ...and through `source()`, not repeated in the message.
        assert_eq!(err.to_string(), "launch failed");
        assert!(err.source().is_some());
        let line = error_chain(err);
        // The cause names the kernel's source line of the failing `tl::recv`.
        assert!(
            line.starts_with("launch failed: tests/tp.rs:")
                && line.contains(": kernel `lonely_recv`")
                && line.contains("IPCQ needs an installed ring"),
            "{line}"
        );
    }
    assert!(
        e.to_string().contains("IPCQ needs an installed ring"),
        "{e}"
    );
}

#[test]
fn checking_the_result_does_not_change_the_forward_time() {
    // --check reads the outputs back after the forward pass; that read is
    // the host's, not the model's, and must not be counted.
    let t = Topology::default_topology();
    let run = |mode| {
        kernbench::bench::find("tp-mlp")
            .unwrap()
            .run(&t, &[], mode)
            .unwrap()
    };
    let checked = run(kernbench::bench::RunMode {
        check: true,
        ..Default::default()
    });
    assert!(checked.check.as_ref().unwrap().ok);
    let timing = run(kernbench::bench::RunMode {
        data: false,
        ..Default::default()
    });
    assert_eq!(checked.extra["forward_ns"], timing.extra["forward_ns"]);
    assert_eq!(
        checked.to_json()["latency_ns"],
        timing.to_json()["latency_ns"]
    );
}
