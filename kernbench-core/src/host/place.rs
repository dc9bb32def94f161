//! Placement: where a tensor lives ([`Place`]), the typed handle a kernel
//! takes ([`Tensor`]), and the part of each memory the host may allocate.

use crate::dsl::{Elem, Ptr};
use crate::exec::memory::Window;
use crate::fabric::addr::{PhysAddr, Space};
use crate::fabric::topology::Topology;

/// Where a tensor is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// SIP index.
    pub sip: u32,
    /// Cube index within the SIP.
    pub cube: u32,
    /// Memory within the cube: HBM, SRAM or a PE's TCM.
    pub space: Space,
}

impl Place {
    /// A cube's HBM slice.
    pub fn hbm(sip: u32, cube: u32) -> Self {
        Place {
            sip,
            cube,
            space: Space::Hbm,
        }
    }
    /// A cube's SRAM (the half not reserved for kernel buffers).
    pub fn sram(sip: u32, cube: u32) -> Self {
        Place {
            sip,
            cube,
            space: Space::Sram,
        }
    }
    /// A PE's TCM beyond its kernel scratch.
    pub fn tcm(sip: u32, cube: u32, pe: u32) -> Self {
        Place {
            sip,
            cube,
            space: Space::Tcm { pe },
        }
    }

    /// The place's first byte.
    pub(super) fn base(self) -> PhysAddr {
        PhysAddr {
            sip: self.sip,
            cube: self.cube,
            space: self.space,
            offset: 0,
        }
    }

    /// The byte range the host may allocate here, and its alignment:
    /// all of HBM; the upper half of SRAM (the lower half holds the PEs'
    /// kernel-buffer windows); TCM past the kernel scratch.
    pub(super) fn region(self, t: &Topology) -> (u64, u64, u64) {
        const MIB: u64 = 1 << 20;
        match self.space {
            Space::Hbm => (0, t.hbm.capacity_mb * MIB, t.hbm.burst_bytes),
            Space::Sram => (t.sram.size_mb * MIB / 2, t.sram.size_mb * MIB, 64),
            Space::Tcm { .. } => (t.pe_tcm.scratch_bytes(), t.pe_tcm.size_mb * MIB, 64),
        }
    }
}

/// A tensor on the device: a typed handle kernels take as `Ptr<T>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tensor<T: Elem> {
    pub(super) ptr: Ptr<T>,
    pub(super) addr: PhysAddr,
}

impl<T: Elem> Tensor<T> {
    /// The kernel argument naming this tensor.
    pub fn ptr(&self) -> Ptr<T> {
        self.ptr
    }
    /// Rows, in elements.
    pub fn rows(&self) -> usize {
        self.ptr.rows()
    }
    /// Columns, in elements.
    pub fn cols(&self) -> usize {
        self.ptr.cols()
    }
    /// Physical address of element `[0, 0]`.
    pub fn addr(&self) -> PhysAddr {
        self.addr
    }
    pub(super) fn bytes(&self) -> u64 {
        (self.rows() * self.cols()) as u64 * T::DTYPE.size_bytes()
    }
    pub(super) fn window(&self) -> Window {
        Window {
            at: self.addr,
            rows: self.rows(),
            cols: self.cols(),
            row_stride: self.ptr.row_stride(),
            dtype: T::DTYPE,
        }
    }
}
