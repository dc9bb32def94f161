//! Per-transfer state and its report.

use crate::fabric::addr::{Endpoint, Space};
use crate::fabric::link::NodeId;
use crate::fabric::machine::Machine;
use crate::fabric::route::{Route, RouteError};
use crate::fabric::units::Ps;

/// Handle of a transfer in a [`super::Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u32);

/// First and last arrival of a transfer's bytes at one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopTime {
    /// The node.
    pub node: NodeId,
    /// The first burst's head arrived.
    pub first: Ps,
    /// The last burst's tail arrived.
    pub last: Ps,
}

impl HopTime {
    fn new(node: NodeId) -> Self {
        HopTime {
            node,
            first: Ps::MAX,
            last: 0,
        }
    }

    pub(super) fn touch(&mut self, first: Ps, last: Ps) {
        self.first = self.first.min(first);
        self.last = self.last.max(last);
    }
}

pub(super) struct Transfer<T> {
    pub route: Route,
    pub bytes: u64,
    pub burst_bytes: u64,
    pub n_bursts: u32,
    pub injected: u32,
    pub arrived: u32,
    /// Burst index of address offset 0 at the source / destination HBM, so
    /// bursts interleave across pseudo-channels by address.
    src_lane0: u64,
    dst_lane0: u64,
    pub start: Ps,
    pub setup_ps: Ps,
    pub last_tail: Ps,
    pub done_at: Option<Ps>,
    pub source: HopTime,
    pub hop_times: Vec<HopTime>,
    /// A transfer to start when this one is done (a read's data phase).
    pub then: Option<u32>,
    /// The first phase of this transfer's chain (itself unless a read's data).
    pub head: u32,
    /// The driving model's token, returned in the completion notice.
    pub token: T,
}

impl<T: Copy> Transfer<T> {
    pub fn new(
        m: &Machine,
        src: Endpoint,
        dst: Endpoint,
        bytes: u64,
        setup_ps: Ps,
        at: Ps,
        token: T,
    ) -> Result<Self, RouteError> {
        let route = m.route(src, dst)?;
        let burst_bytes = m.topo.hbm.burst_bytes;
        let n_bursts = bytes.div_ceil(burst_bytes).max(1) as u32;
        let lane0 = |e: Endpoint| match e {
            Endpoint::Mem(a) if a.space == Space::Hbm => a.offset / burst_bytes,
            _ => 0,
        };
        let hop_times = route.hops.iter().map(|h| HopTime::new(h.to)).collect();
        Ok(Transfer {
            source: HopTime::new(route.from),
            route,
            bytes,
            burst_bytes,
            n_bursts,
            injected: 0,
            arrived: 0,
            src_lane0: lane0(src),
            dst_lane0: lane0(dst),
            start: at,
            setup_ps,
            last_tail: 0,
            done_at: None,
            hop_times,
            then: None,
            head: 0,
            token,
        })
    }

    /// Bytes in burst `b` (the last one may be short).
    pub fn burst_len(&self, b: u32) -> u64 {
        let off = u64::from(b) * self.burst_bytes;
        self.burst_bytes.min(self.bytes.saturating_sub(off)).max(1)
    }

    /// The interleave index of burst `b` at hop `hop`: an HBM stage at the
    /// start of the route belongs to the source, any other to the destination.
    pub fn lane(&self, hop: usize, b: u32) -> u64 {
        let base = if hop == 0 {
            self.src_lane0
        } else {
            self.dst_lane0
        };
        base + u64::from(b)
    }
}

/// A completed transfer: when it started and ended and when its bytes
/// passed each node of its route(s).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferReport {
    /// Bytes moved (the data phase's, for a read).
    pub bytes: u64,
    /// When it was started.
    pub start: Ps,
    /// When its last byte arrived.
    pub done: Ps,
    /// Setup cost paid before the first byte moved (all phases).
    pub setup_ps: Ps,
    /// Routes of all phases, in order (a read has the request, then the data).
    pub routes: Vec<Route>,
    /// Per node, in route order, starting with each phase's source.
    pub trace: Vec<HopTime>,
}

pub(super) fn report<T>(all: &[Transfer<T>], id: TransferId) -> Option<TransferReport> {
    let first = all.get(id.0 as usize)?;
    let mut phases = vec![first];
    let mut cur = first;
    while let Some(n) = cur.then {
        cur = all.get(n as usize)?;
        phases.push(cur);
    }
    let last = phases.last()?;
    let done = last.done_at?;
    let mut trace = Vec::new();
    for p in &phases {
        trace.push(p.source);
        trace.extend_from_slice(&p.hop_times);
    }
    Some(TransferReport {
        bytes: last.bytes,
        start: first.start,
        done,
        setup_ps: phases.iter().map(|p| p.setup_ps).sum(),
        routes: phases.iter().map(|p| p.route.clone()).collect(),
        trace,
    })
}
