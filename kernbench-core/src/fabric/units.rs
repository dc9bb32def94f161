//! Simulated time and bandwidth as integers, so that the same inputs give
//! bit-identical timings on every run.

/// Simulated time in picoseconds.
pub type Ps = u64;

/// The longest any single duration is held as, and the latest time a run
/// may reach: 2^62 ps (53 days). A duration computed past it (a huge
/// transfer over a slow link) is capped here, so adding a few of them to
/// the clock cannot wrap it, and the run stops with an error once time
/// passes it.
pub const TIME_LIMIT: Ps = 1 << 62;

/// Picoseconds from a computed duration, rounded up and capped at
/// [`TIME_LIMIT`].
pub fn ps_ceil(ps: f64) -> Ps {
    // `as` saturates; NaN (impossible from validated figures) gives 0.
    ps.ceil().min(TIME_LIMIT as f64) as Ps
}

/// Converts a topology figure in ns to picoseconds (rounded to the nearest ps).
pub fn ns_to_ps(ns: f64) -> Ps {
    (ns * 1000.0).round() as Ps
}

/// Converts picoseconds to ns for reports.
pub fn ps_to_ns(ps: Ps) -> f64 {
    ps as f64 / 1000.0
}

/// A link's bandwidth, held as bytes per microsecond so serialization times
/// are exact integer arithmetic (GB/s = bytes/ns = 1000 bytes/us).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth {
    bytes_per_us: u64,
}

impl Bandwidth {
    /// From GB/s (bytes per ns). Values below 1 byte/us are clamped up.
    pub fn from_gbs(gbs: f64) -> Self {
        Bandwidth {
            bytes_per_us: ((gbs * 1000.0).round() as u64).max(1),
        }
    }

    /// The bandwidth in GB/s.
    pub fn gbs(self) -> f64 {
        self.bytes_per_us as f64 / 1000.0
    }

    /// Time to serialize `bytes` onto the link, rounded up to whole ps
    /// (at most [`TIME_LIMIT`]).
    pub fn ser_ps(self, bytes: u64) -> Ps {
        // u64 arithmetic while the result cannot pass the limit (bytes up
        // to 4.6e12); the rare larger transfer is capped in u128.
        match bytes.checked_mul(1_000_000).filter(|&n| n <= TIME_LIMIT) {
            Some(num) => num.div_ceil(self.bytes_per_us),
            None => (u128::from(bytes) * 1_000_000)
                .div_ceil(u128::from(self.bytes_per_us))
                .min(u128::from(TIME_LIMIT)) as Ps,
        }
    }

    /// The same bandwidth `n` times over (parallel channels).
    pub fn times(self, n: u64) -> Self {
        Bandwidth {
            bytes_per_us: self.bytes_per_us.saturating_mul(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_is_exact() {
        // 256 B at 25.6 GB/s = 10 ns.
        assert_eq!(Bandwidth::from_gbs(25.6).ser_ps(256), 10_000);
        // 1 B at 3 GB/s = 333.3 ps, rounded up.
        assert_eq!(Bandwidth::from_gbs(3.0).ser_ps(1), 334);
        assert_eq!(ns_to_ps(0.01 * 10.0), 100);
    }
}
