//! Ring all-reduce over IPCQ: reduce-scatter, then all-gather.

use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::Elem;

/// How two partial results of the same chunk combine. Must be associative
/// and commutative for the ring's order not to matter.
///
/// Implement it for richer payloads: decode attention packs each head's
/// `(m, l, o)` into a chunk and combines with log-sum-exp.
pub trait Combine<T: Elem> {
    /// `mine ⊕ theirs`.
    fn combine(&self, cx: &KernelCx, mine: &Tile<T>, theirs: &Tile<T>) -> Tile<T>;
}

/// Built-in element-wise reductions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// `a + b`.
    Sum,
    /// `max(a, b)`.
    Max,
}

impl ReduceOp {
    /// Stable code, for passing the operator as a `#[constexpr]` argument.
    pub const fn code(self) -> u32 {
        match self {
            ReduceOp::Sum => 0,
            ReduceOp::Max => 1,
        }
    }

    /// Inverse of [`ReduceOp::code`].
    pub const fn from_code(code: u32) -> Option<ReduceOp> {
        match code {
            0 => Some(ReduceOp::Sum),
            1 => Some(ReduceOp::Max),
            _ => None,
        }
    }

    /// Name used in parameters: `sum`, `max`.
    pub const fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
        }
    }

    /// Parses [`ReduceOp::name`].
    pub fn from_name(s: &str) -> Option<ReduceOp> {
        [ReduceOp::Sum, ReduceOp::Max]
            .into_iter()
            .find(|o| o.name() == s)
    }
}

impl<T: Elem> Combine<T> for ReduceOp {
    fn combine(&self, cx: &KernelCx, mine: &Tile<T>, theirs: &Tile<T>) -> Tile<T> {
        match self {
            ReduceOp::Sum => mine + theirs,
            ReduceOp::Max => tl::max(cx, mine, theirs),
        }
    }
}

/// Columns `[start, end)` of chunk `i` when `len` columns are split into
/// `n` near-equal chunks (sizes differ by at most one; chunks are empty
/// only when `len < n`).
pub fn chunk_bounds(len: usize, n: usize, i: usize) -> (usize, usize) {
    let n = n.max(1);
    (i * len / n, (i + 1) * len / n)
}

/// All-reduces the first `len` columns of `buf` (all its rows) across the
/// ring with `combine`, leaving the result in every rank's `buf`.
///
/// Reduce-scatter: at step `s` rank `r` sends its running chunk
/// `(r - s) mod n` to `r + 1` and combines what `r - 1` sends with its own
/// chunk `(r - s - 1) mod n`; after `n - 1` steps it owns the reduced chunk
/// `(r + 1) mod n`. All-gather: `n - 1` more steps forward reduced chunks.
/// That is `2(n - 1)` sends and `2(n - 1)` receives per rank (fewer only
/// for empty chunks, which both sides skip).
pub fn ring_allreduce_with<T: Elem, C: Combine<T>>(
    cx: &KernelCx,
    buf: Ptr<T>,
    len: usize,
    combine: &C,
) {
    let (r, n) = (tl::rank(cx), tl::world_size(cx));
    if n < 2 {
        return;
    }
    let (next, prev) = ((r + 1) % n, (r + n - 1) % n);
    let rows = buf.rows();
    let chunk = |i: usize| {
        let (s, e) = chunk_bounds(len, n, i);
        (buf.block([0, s], [rows, e - s]), [rows, e - s])
    };
    let nonempty = |i: usize| chunk(i).1[1] > 0;

    let mut cur = nonempty(r).then(|| tl::load(cx, chunk(r).0));
    for s in 0..n - 1 {
        if let Some(t) = &cur {
            tl::send(cx, next, t);
        }
        let idx = (r + 2 * n - s - 1) % n;
        cur = nonempty(idx).then(|| {
            let (block, shape) = chunk(idx);
            let theirs = tl::recv::<T>(cx, prev, shape);
            let mine = tl::load(cx, block);
            combine.combine(cx, &mine, &theirs)
        });
    }
    let owned = (r + 1) % n;
    if let Some(t) = &cur {
        tl::store(cx, chunk(owned).0, t);
    }
    for s in 0..n - 1 {
        if let Some(t) = &cur {
            tl::send(cx, next, t);
        }
        let idx = (r + n - s) % n;
        cur = nonempty(idx).then(|| {
            let (block, shape) = chunk(idx);
            let t = tl::recv::<T>(cx, prev, shape);
            tl::store(cx, block, &t);
            t
        });
    }
}

/// Sum (or max, per `op`, a [`ReduceOp::code`]) all-reduce of `buf`'s
/// first `len` columns across the installed ring. See
/// [`ring_allreduce_with`] for the algorithm and [`Combine`] for custom
/// reductions.
#[kernel]
pub fn ring_allreduce(buf: Ptr<f16>, len: usize, #[constexpr] op: u32) {
    let combine = ReduceOp::from_code(op).unwrap_or(ReduceOp::Sum);
    ring_allreduce_with(tl::context(), buf, len, &combine);
}
