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

/// FNV-1a over whole words: the keys are a few small integers (an
/// endpoint pair is about ten of them), looked up once per transfer on the
/// hot path, where SipHash's cost shows, and so does byte-at-a-time FNV's.
#[derive(Default)]
pub(super) struct Fnv(u64);

impl Fnv {
    #[inline]
    fn mix(&mut self, word: u64) {
        let h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        self.0 = (h ^ word).wrapping_mul(0x100_0000_01b3);
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits, which pick the bucket, with
        // little of the high words' entropy: fold the high half in.
        self.0 ^ (self.0 >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.mix(u64::from(*b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }
}
