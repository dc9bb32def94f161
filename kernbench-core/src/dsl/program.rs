//! Which program instance a trace is for: its place in the launch grid
//! and, for collectives, its rank in the installed ring.

use std::fmt;

/// Which program instance is being traced: its position in the launch
/// grid and, for collectives, its rank in the installed ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgramInfo {
    /// `tl::program_id(axis)` for axes 0, 1, 2.
    pub program_id: [usize; 3],
    /// `tl::num_programs(axis)`.
    pub num_programs: [usize; 3],
    /// `tl::rank()`.
    pub rank: usize,
    /// `tl::world_size()`.
    pub world_size: usize,
}

impl ProgramInfo {
    /// The only program of a 1x1x1 grid, rank 0 of 1.
    pub fn single() -> Self {
        ProgramInfo {
            program_id: [0; 3],
            num_programs: [1; 3],
            rank: 0,
            world_size: 1,
        }
    }

    /// Program `program_id` of a `num_programs` grid, rank 0 of 1.
    pub fn grid(program_id: [usize; 3], num_programs: [usize; 3]) -> Self {
        ProgramInfo {
            program_id,
            num_programs,
            rank: 0,
            world_size: 1,
        }
    }

    /// The same program as rank `rank` of a ring of `world_size`.
    pub fn with_ring(self, rank: usize, world_size: usize) -> Self {
        ProgramInfo {
            rank,
            world_size,
            ..self
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        for axis in 0..3 {
            if self.num_programs[axis] == 0 {
                return Err(format!("num_programs({axis}) is 0"));
            }
            if self.program_id[axis] >= self.num_programs[axis] {
                return Err(format!(
                    "program_id({axis}) = {} is outside the grid of {}",
                    self.program_id[axis], self.num_programs[axis]
                ));
            }
        }
        if self.rank >= self.world_size {
            return Err(format!(
                "rank {} is outside the ring of {}",
                self.rank, self.world_size
            ));
        }
        Ok(())
    }
}

impl fmt::Display for ProgramInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.program_id;
        let [x, y, z] = self.num_programs;
        write!(
            f,
            "program ({a},{b},{c}) of ({x},{y},{z}), rank {} of {}",
            self.rank, self.world_size
        )
    }
}
