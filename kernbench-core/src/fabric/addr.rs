//! Physical addresses: (sip, cube, space, offset), packed into a `u64` the
//! way a device pointer would carry them, and decoded back with checks
//! against the machine's shape; where a PE sits ([`PeLoc`]).

use std::fmt;

use crate::fabric::topology::Topology;

/// The memory an address lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// The cube's HBM slice.
    Hbm,
    /// The cube's shared SRAM.
    Sram,
    /// A PE's tightly coupled memory.
    Tcm {
        /// The PE within the cube.
        pe: u32,
    },
}

/// A decoded physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysAddr {
    /// SIP index.
    pub sip: u32,
    /// Cube index within the SIP, row-major: `y * mesh_x + x`.
    pub cube: u32,
    /// HBM, SRAM or a PE's TCM.
    pub space: Space,
    /// Byte offset within that memory.
    pub offset: u64,
}

/// Where a transfer starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// Host memory, behind PCIe.
    Host,
    /// Device memory at an address.
    Mem(PhysAddr),
}

/// A PE's place in the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeLoc {
    /// SIP index.
    pub sip: u32,
    /// Cube index within the SIP.
    pub cube: u32,
    /// PE index within the cube.
    pub pe: u32,
}

impl PeLoc {
    /// Index of the PE over the whole machine: PEs of a cube, then cubes,
    /// then SIPs.
    pub fn global(&self, topo: &Topology) -> u32 {
        (self.sip * topo.cubes_per_sip() + self.cube) * topo.system.pes_per_cube + self.pe
    }

    /// Inverse of [`Self::global`].
    pub fn from_global(g: u32, topo: &Topology) -> Self {
        let pes = topo.system.pes_per_cube;
        let cubes = topo.cubes_per_sip();
        PeLoc {
            sip: g / (pes * cubes),
            cube: (g / pes) % cubes,
            pe: g % pes,
        }
    }

    /// The PE's TCM at `offset`.
    pub fn tcm(&self, offset: u64) -> PhysAddr {
        PhysAddr {
            sip: self.sip,
            cube: self.cube,
            space: Space::Tcm { pe: self.pe },
            offset,
        }
    }
}

/// Why an address is not valid on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("address {addr:#018x}: sip {sip} does not exist (the machine has {sips})")]
    NoSuchSip { addr: u64, sip: u32, sips: u32 },
    #[error("address {addr:#018x}: cube {cube} does not exist (a SIP has {cubes})")]
    NoSuchCube { addr: u64, cube: u32, cubes: u32 },
    #[error("address {addr:#018x}: PE {pe} does not exist (a cube has {pes})")]
    NoSuchPe { addr: u64, pe: u32, pes: u32 },
    #[error("address {addr:#018x}: unknown memory space tag {tag}")]
    BadSpace { addr: u64, tag: u64 },
    #[error("offset {offset:#x} does not fit the {bits}-bit offset field")]
    OffsetTooLarge { offset: u64, bits: u32 },
}

const OFFSET_BITS: u32 = 36;
const PE_SHIFT: u32 = OFFSET_BITS;
const SPACE_SHIFT: u32 = PE_SHIFT + 8;
const CUBE_SHIFT: u32 = SPACE_SHIFT + 4;
const SIP_SHIFT: u32 = CUBE_SHIFT + 8;

impl PhysAddr {
    /// Packs the address: sip in bits 63..56, cube 55..48, space 47..44, pe
    /// 43..36, offset 35..0.
    pub fn encode(&self) -> Result<u64, AddrError> {
        if self.offset >> OFFSET_BITS != 0 {
            return Err(AddrError::OffsetTooLarge {
                offset: self.offset,
                bits: OFFSET_BITS,
            });
        }
        let (tag, pe) = match self.space {
            Space::Hbm => (0u64, 0u64),
            Space::Sram => (1, 0),
            Space::Tcm { pe } => (2, u64::from(pe & 0xff)),
        };
        Ok((u64::from(self.sip & 0xff) << SIP_SHIFT)
            | (u64::from(self.cube & 0xff) << CUBE_SHIFT)
            | (tag << SPACE_SHIFT)
            | (pe << PE_SHIFT)
            | self.offset)
    }

    /// Unpacks an address without checking it against a machine.
    pub fn unpack(addr: u64) -> Result<Self, AddrError> {
        let sip = (addr >> SIP_SHIFT) as u32 & 0xff;
        let cube = (addr >> CUBE_SHIFT) as u32 & 0xff;
        let tag = (addr >> SPACE_SHIFT) & 0xf;
        let pe = (addr >> PE_SHIFT) as u32 & 0xff;
        let offset = addr & ((1u64 << OFFSET_BITS) - 1);
        let space = match tag {
            0 => Space::Hbm,
            1 => Space::Sram,
            2 => Space::Tcm { pe },
            _ => return Err(AddrError::BadSpace { addr, tag }),
        };
        Ok(PhysAddr {
            sip,
            cube,
            space,
            offset,
        })
    }

    /// Unpacks and checks an address against the machine's shape.
    pub fn decode(addr: u64, topo: &Topology) -> Result<Self, AddrError> {
        let p = Self::unpack(addr)?;
        p.check(topo).map_err(|e| match e {
            // Report the raw address the caller gave, not the re-encoded one.
            AddrError::NoSuchSip { sip, sips, .. } => AddrError::NoSuchSip { addr, sip, sips },
            AddrError::NoSuchCube { cube, cubes, .. } => {
                AddrError::NoSuchCube { addr, cube, cubes }
            }
            AddrError::NoSuchPe { pe, pes, .. } => AddrError::NoSuchPe { addr, pe, pes },
            other => other,
        })?;
        Ok(p)
    }

    /// Checks that the sip, cube and PE exist on `topo`.
    pub fn check(&self, topo: &Topology) -> Result<(), AddrError> {
        let addr = self.encode().unwrap_or(0);
        if self.sip >= topo.system.sips {
            return Err(AddrError::NoSuchSip {
                addr,
                sip: self.sip,
                sips: topo.system.sips,
            });
        }
        if self.cube >= topo.cubes_per_sip() {
            return Err(AddrError::NoSuchCube {
                addr,
                cube: self.cube,
                cubes: topo.cubes_per_sip(),
            });
        }
        if let Space::Tcm { pe } = self.space {
            if pe >= topo.system.pes_per_cube {
                return Err(AddrError::NoSuchPe {
                    addr,
                    pe,
                    pes: topo.system.pes_per_cube,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Hbm => f.write_str("hbm"),
            Space::Sram => f.write_str("sram"),
            Space::Tcm { pe } => write!(f, "pe{pe}.tcm"),
        }
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sip{}.cube{}.{}+{:#x}",
            self.sip, self.cube, self.space, self.offset
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let topo = Topology::default_topology();
        for space in [Space::Hbm, Space::Sram, Space::Tcm { pe: 7 }] {
            let a = PhysAddr {
                sip: 1,
                cube: 15,
                space,
                offset: 0x1234_5678,
            };
            let raw = a.encode().unwrap();
            assert_eq!(PhysAddr::decode(raw, &topo).unwrap(), a);
        }
    }

    #[test]
    fn decode_rejects_what_the_machine_lacks() {
        let topo = Topology::default_topology();
        let bad_sip = PhysAddr {
            sip: 2,
            cube: 0,
            space: Space::Hbm,
            offset: 0,
        };
        let err = PhysAddr::decode(bad_sip.encode().unwrap(), &topo).unwrap_err();
        assert!(matches!(
            err,
            AddrError::NoSuchSip {
                sip: 2,
                sips: 2,
                ..
            }
        ));
        let bad_pe = PhysAddr {
            sip: 0,
            cube: 0,
            space: Space::Tcm { pe: 8 },
            offset: 0,
        };
        assert!(PhysAddr::decode(bad_pe.encode().unwrap(), &topo).is_err());
        let too_far = PhysAddr {
            offset: 1 << 40,
            ..bad_sip
        };
        assert!(too_far.encode().is_err());
    }
}
