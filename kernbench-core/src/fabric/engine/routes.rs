//! The routes transfers take, computed once per pair of places.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::fabric::addr::{Endpoint, PhysAddr};
use crate::fabric::link::NodeId;
use crate::fabric::machine::Machine;
use crate::fabric::route::{Hop, Route, RouteError};

use super::TransferError;

/// A route as transfers hold it: its hops shared, one indirection away
/// (the burst model reads them at every hop of every burst).
#[derive(Debug, Clone)]
pub(super) struct Path {
    /// The source node.
    pub from: NodeId,
    /// Hops in order.
    pub hops: Arc<[Hop]>,
}

impl Path {
    /// The same route, as reports give it.
    pub fn route(&self) -> Route {
        Route {
            from: self.from,
            hops: self.hops.to_vec(),
        }
    }

    /// Identifies the route (paths of one pair of places share their hops).
    pub fn key(&self) -> usize {
        Arc::as_ptr(&self.hops) as *const Hop as usize
    }
}

/// Routes by endpoint pair, offsets zeroed: a route depends on places, not
/// addresses.
#[derive(Default)]
pub(super) struct RouteCache {
    map: HashMap<(Endpoint, Endpoint), Path, FnvBuild>,
}

impl RouteCache {
    /// The route from `src` to `dst` on `m`; both addresses are checked
    /// against the machine every time, the route computed once.
    pub fn get(
        &mut self,
        m: &Machine,
        src: Endpoint,
        dst: Endpoint,
    ) -> Result<Path, TransferError> {
        let place = |e: Endpoint| -> Result<Endpoint, TransferError> {
            Ok(match e {
                Endpoint::Mem(a) => {
                    a.check(&m.topo).map_err(RouteError::from)?;
                    Endpoint::Mem(PhysAddr { offset: 0, ..a })
                }
                Endpoint::Host => Endpoint::Host,
            })
        };
        let key = (place(src)?, place(dst)?);
        if let Some(r) = self.map.get(&key) {
            return Ok(r.clone());
        }
        let r = m.route(src, dst)?;
        let path = Path {
            from: r.from,
            hops: r.hops.into(),
        };
        self.map.insert(key, path.clone());
        Ok(path)
    }
}

/// Hash maps of the engine's hot path (the route cache, flow mode's posted
/// sends per route).
pub(super) type FnvBuild = BuildHasherDefault<Fnv>;

/// FNV-1a: the keys are a few small integers, looked up once per transfer
/// on the hot path, where SipHash's cost shows.
#[derive(Default)]
pub(super) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}
