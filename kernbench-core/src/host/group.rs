//! The tensor-parallel launcher: one host program per rank, rank = SIP,
//! in the spirit of `torch.multiprocessing.spawn` with a process group.
//!
//! Each rank's closure runs on its own thread against a [`Rank`] handle;
//! every device operation is posted to one coordinator that owns the
//! [`Device`]. The coordinator acts only when every live rank is waiting on
//! it, and then in rank order, so the outcome never depends on thread
//! timing: same program, same results and timings. Launches posted in the
//! same round run together (the SIPs work concurrently); a collective runs
//! once every rank has joined it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};

use half::f16;
use ndarray::Array2;

use crate::dsl::{Elem, Kernel};
use crate::fabric::addr::PeLoc;
use crate::fabric::topology::Topology;
use crate::support::{error_chain, panic_message};

use super::device::Device;
use super::error::{CollectiveError, GroupError, RuntimeError};
use super::launch::{trace_launch, LaunchOptions, Mapping, Work};
use super::place::{Place, Tensor};
use super::report::RunReport;
use super::ring::Ring;

/// Runs a sum all-reduce of one tensor per rank over `ring` (the kernel
/// comes from above this crate, e.g. `kernels::ring_allreduce`).
pub type AllReduceFn = fn(&mut Device, &Ring, &[Tensor<f16>]) -> Result<RunReport, RuntimeError>;

type Local = Box<dyn FnOnce(&mut Device) + Send>;

enum Msg {
    Local(Local),
    Launch(String, Work),
    AllReduce(Tensor<f16>),
    Barrier,
    Finished,
}

type Reply = Result<Option<RunReport>, RuntimeError>;

/// Errors of a spawned group, each with the rank that raised it.
#[derive(Debug, thiserror::Error)]
#[error("{}", errors.iter().map(|(r, e)| format!("rank {r}: {}", error_chain(e))).collect::<Vec<_>>().join("; "))]
pub struct SpawnError {
    /// `(rank, error)` of every rank that failed, in rank order.
    pub errors: Vec<(usize, RuntimeError)>,
}

/// One rank's view of the group: its rank, its SIP, and device operations
/// that the coordinator carries out.
pub struct Rank {
    rank: usize,
    world: usize,
    topo: Topology,
    post: Sender<(usize, Msg)>,
    reply: Receiver<Reply>,
}

fn gone() -> RuntimeError {
    GroupError::ShutDown.into()
}

impl Rank {
    /// This rank, `0..world_size()`; also its SIP.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of ranks: the SIPs of the topology.
    pub fn world_size(&self) -> usize {
        self.world
    }

    /// The SIP this rank owns.
    pub fn sip(&self) -> u32 {
        self.rank as u32
    }

    /// The HBM of cube 0 of this rank's SIP, where `alloc` puts tensors.
    pub fn home(&self) -> Place {
        Place::hbm(self.sip(), 0)
    }

    fn post(&self, m: Msg) -> Reply {
        self.post.send((self.rank, m)).map_err(|_| gone())?;
        self.reply.recv().map_err(|_| gone())?
    }

    /// Runs `f` on the device, in this rank's turn.
    pub fn on_device<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Device) -> R + Send + 'static,
    ) -> Result<R, RuntimeError> {
        let (tx, rx) = channel();
        self.post(Msg::Local(Box::new(move |d| {
            let _ = tx.send(f(d));
        })))?;
        rx.recv().map_err(|_| gone())
    }

    /// A `rows x cols` tensor in this rank's [`Self::home`].
    pub fn alloc<T: Elem + Send>(
        &self,
        rows: usize,
        cols: usize,
    ) -> Result<Tensor<T>, RuntimeError> {
        let place = self.home();
        self.on_device(move |d| d.alloc::<T>(place, rows, cols))?
    }

    /// Writes `data` into `t` from the host; returns the time it took, ns.
    pub fn write<T: Elem + Send>(
        &self,
        t: &Tensor<T>,
        data: &Array2<f32>,
    ) -> Result<f64, RuntimeError> {
        let (t, data) = (*t, data.clone());
        self.on_device(move |d| d.write(&t, &data))?
    }

    /// Reads `t` back to the host.
    pub fn read<T: Elem + Send>(&self, t: &Tensor<T>) -> Result<Array2<f32>, RuntimeError> {
        let t = *t;
        self.on_device(move |d| d.read(&t))?
    }

    /// Launches `K` on this rank's SIP (`Mapping::Spread` spreads over its
    /// PEs). Launches of all ranks in the same round run together.
    pub fn launch<K: Kernel>(
        &self,
        args: &K::Args,
        opts: &LaunchOptions,
    ) -> Result<RunReport, RuntimeError> {
        let mut opts = opts.clone();
        if opts.mapping == Mapping::Spread {
            let s = &self.topo.system;
            let sip = self.sip();
            opts.mapping = Mapping::Pes(
                (0..self.topo.cubes_per_sip())
                    .flat_map(|cube| (0..s.pes_per_cube).map(move |pe| PeLoc { sip, cube, pe }))
                    .collect(),
            );
        }
        let work = trace_launch::<K>(&self.topo, args, &opts)?;
        self.post(Msg::Launch(K::NAME.to_string(), work))?
            .ok_or(GroupError::NoReport.into())
    }

    /// Sum all-reduce of `t` across the ranks (every rank passes its own
    /// tensor of the same shape); returns the collective's run report.
    pub fn all_reduce(&self, t: &Tensor<f16>) -> Result<RunReport, RuntimeError> {
        self.post(Msg::AllReduce(*t))?
            .ok_or(GroupError::NoReport.into())
    }

    /// Waits until every rank has reached the barrier.
    pub fn barrier(&self) -> Result<(), RuntimeError> {
        self.post(Msg::Barrier).map(|_| ())
    }
}

/// Spawns one host program per rank (world size = SIPs of the device's
/// topology) and serves their device operations until all have returned.
/// Returns each rank's result in rank order, or every rank's error.
pub fn spawn<R, F>(dev: &mut Device, all_reduce: AllReduceFn, f: F) -> Result<Vec<R>, SpawnError>
where
    R: Send,
    F: Fn(&Rank) -> Result<R, RuntimeError> + Sync,
{
    let topo = dev.topology().clone();
    let world = topo.system.sips as usize;
    let ring = Ring::sips(&topo).map_err(|e| SpawnError {
        errors: vec![(0, GroupError::from(e).into())],
    })?;
    let (post, inbox) = channel::<(usize, Msg)>();
    let mut replies = Vec::with_capacity(world);
    let mut ranks = Vec::with_capacity(world);
    for rank in 0..world {
        let (tx, rx) = channel();
        replies.push(tx);
        ranks.push(Rank {
            rank,
            world,
            topo: topo.clone(),
            post: post.clone(),
            reply: rx,
        });
    }
    drop(post);
    let results: Vec<Result<R, RuntimeError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|r| {
                let f = &f;
                scope.spawn(move || {
                    let out = catch_unwind(AssertUnwindSafe(|| f(&r))).unwrap_or_else(|p| {
                        Err(GroupError::RankPanicked(panic_message(p.as_ref())).into())
                    });
                    let _ = r.post.send((r.rank, Msg::Finished));
                    out
                })
            })
            .collect();
        // `serve` owns the reply senders: however it ends, they are dropped,
        // so no rank can wait forever for an answer.
        serve(dev, &ring, all_reduce, &inbox, replies);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(GroupError::RankDied.into()))
            })
            .collect()
    });
    let mut ok = Vec::with_capacity(world);
    let mut errors = Vec::new();
    for (rank, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => errors.push((rank, e)),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(SpawnError { errors })
    }
}

/// Runs `f`, turning a panic into an error so the coordinator keeps
/// answering the ranks.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, RuntimeError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|p| GroupError::DevicePanicked(panic_message(p.as_ref())).into())
}

/// The coordinator: acts each time every live rank waits on it.
fn serve(
    dev: &mut Device,
    ring: &Ring,
    all_reduce: AllReduceFn,
    inbox: &Receiver<(usize, Msg)>,
    replies: Vec<Sender<Reply>>,
) {
    let world = replies.len();
    let mut pending: Vec<Option<Msg>> = (0..world).map(|_| None).collect();
    let mut alive = vec![true; world];
    loop {
        while (0..world).any(|r| alive[r] && pending[r].is_none()) {
            let Ok((rank, msg)) = inbox.recv() else {
                return;
            };
            match msg {
                Msg::Finished => alive[rank] = false,
                m => pending[rank] = Some(m),
            }
        }
        if !alive.iter().any(|&a| a) {
            return;
        }
        let waiting: Vec<usize> = (0..world).filter(|&r| pending[r].is_some()).collect();
        // Host-side operations first, in rank order.
        if waiting
            .iter()
            .any(|&r| matches!(pending[r], Some(Msg::Local(_))))
        {
            for &r in &waiting {
                if let Some(Msg::Local(op)) = pending[r].take_if(|m| matches!(m, Msg::Local(_))) {
                    let reply = guarded(|| op(dev)).map(|()| None);
                    let _ = replies[r].send(reply);
                }
            }
            continue;
        }
        // Then kernel launches, all of this round's together.
        if waiting
            .iter()
            .any(|&r| matches!(pending[r], Some(Msg::Launch(..))))
        {
            let mut work = Vec::new();
            let mut name = String::new();
            let mut who = Vec::new();
            for &r in &waiting {
                if let Some(Msg::Launch(k, w)) =
                    pending[r].take_if(|m| matches!(m, Msg::Launch(..)))
                {
                    if name.is_empty() {
                        name = k;
                    }
                    work.extend(w);
                    who.push(r);
                }
            }
            let result = guarded(|| dev.run_programs(&name, work)).and_then(|r| r);
            for r in who {
                let reply = match &result {
                    Ok(rep) => Ok(Some(rep.clone())),
                    Err(e) => Err(GroupError::Launch(Box::new(e.clone())).into()),
                };
                let _ = replies[r].send(reply);
            }
            continue;
        }
        // Only collectives are left: every rank must be in the same one.
        let missing: Vec<usize> = (0..world).filter(|&r| !alive[r]).collect();
        let barrier = waiting
            .iter()
            .all(|&r| matches!(pending[r], Some(Msg::Barrier)));
        let reduce = waiting
            .iter()
            .all(|&r| matches!(pending[r], Some(Msg::AllReduce(_))));
        let outcome: Result<Option<RunReport>, CollectiveError> = if !missing.is_empty() {
            Err(CollectiveError::Absent(missing))
        } else if barrier {
            Ok(None)
        } else if reduce {
            let tensors: Vec<Tensor<f16>> = waiting
                .iter()
                .filter_map(|&r| match &pending[r] {
                    Some(Msg::AllReduce(t)) => Some(*t),
                    _ => None,
                })
                .collect();
            let shapes_agree = tensors
                .windows(2)
                .all(|w| (w[0].rows(), w[0].cols()) == (w[1].rows(), w[1].cols()));
            if shapes_agree {
                guarded(|| all_reduce(dev, ring, &tensors))
                    .and_then(|r| r)
                    .map(Some)
                    .map_err(|e| CollectiveError::AllReduce(Box::new(e)))
            } else {
                Err(CollectiveError::Shapes)
            }
        } else {
            Err(CollectiveError::Mismatched)
        };
        for &r in &waiting {
            pending[r] = None;
            let reply = match &outcome {
                Ok(rep) => Ok(rep.clone()),
                Err(e) => Err(e.clone().into()),
            };
            let _ = replies[r].send(reply);
        }
    }
}
