//! Ring all-reduce over IPCQ: reduce-scatter, then all-gather.

use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::{ArgKind, ArgValue, ConstexprArg, Elem, Float, KernelArg};
use kernbench_core::support::{Named, UnknownName};

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
    /// Name used in parameters: `sum`, `max` (see [`Named`]).
    pub const fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
        }
    }
}

impl Named for ReduceOp {
    const WHAT: &'static str = "reduction";
    const ALL: &'static [ReduceOp] = &[ReduceOp::Sum, ReduceOp::Max];
    fn name(self) -> &'static str {
        ReduceOp::name(self)
    }
}
impl KernelArg for ReduceOp {
    const KIND: ArgKind = ArgKind::of_enum::<ReduceOp>();
    fn arg_value(&self) -> ArgValue {
        ArgValue::of_enum(*self)
    }
}
impl ConstexprArg for ReduceOp {}

impl std::str::FromStr for ReduceOp {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

impl<T: Float> Combine<T> for ReduceOp {
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
    let view = Ptr::with_stride(
        buf.base(),
        buf.rows(),
        len.min(buf.cols()),
        buf.row_stride(),
    )
    .unwrap_or(buf);
    ring_allreduce_lockstep(cx, &[view], combine);
}

/// [`ring_allreduce_with`] over several independent buffers at once, step
/// by step in lockstep: each step sends one message per buffer, so while
/// one buffer's chunk is being combined the others' are on the wire.
///
/// Each step sends to the next rank once per buffer before it receives, so
/// pass no more buffers than `tl::queue_depth()`: a wider batch can
/// deadlock the ring ([`ring_allreduce`] batches by [`window`]).
pub fn ring_allreduce_lockstep<T: Elem, C: Combine<T>>(
    cx: &KernelCx,
    bufs: &[Ptr<T>],
    combine: &C,
) {
    ring_allreduce_on(cx, SubRing::whole(cx), bufs, combine);
}

/// A ring inside the installed one: `size` members, member `i` being
/// installed rank `first + i * stride`, this program member `index`.
/// Kernels that split a cube's PEs over independent work (one K/V head
/// group per PE) run one such ring per PE index over a
/// `Ring::cube_grid` install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRing {
    /// This program's place in the sub-ring.
    pub index: usize,
    /// Members.
    pub size: usize,
    /// Installed rank of member 0.
    pub first: usize,
    /// Installed ranks between consecutive members.
    pub stride: usize,
}

impl SubRing {
    /// The whole installed ring.
    pub fn whole(cx: &KernelCx) -> Self {
        SubRing {
            index: tl::rank(cx),
            size: tl::world_size(cx),
            first: 0,
            stride: 1,
        }
    }

    /// Member `index` of the ring of installed ranks `p, p + stride, ...`
    /// that this program's rank belongs to, where `stride` ranks form one
    /// group (a cube's PEs): rank `i * stride + p` is member `i`.
    pub fn strided(cx: &KernelCx, stride: usize) -> Self {
        let stride = stride.max(1);
        let (r, n) = (tl::rank(cx), tl::world_size(cx));
        SubRing {
            index: r / stride,
            size: n / stride,
            first: r % stride,
            stride,
        }
    }

    /// The installed rank of member `i` (modulo the size).
    pub fn rank_of(&self, i: usize) -> usize {
        self.first + (i % self.size.max(1)) * self.stride
    }

    /// The installed rank of the next member.
    pub fn next(&self) -> usize {
        self.rank_of(self.index + 1)
    }

    /// The installed rank of the previous member.
    pub fn prev(&self) -> usize {
        self.rank_of(self.index + self.size.max(1) - 1)
    }
}

/// [`ring_allreduce_lockstep`] over the members of `ring` only.
pub fn ring_allreduce_on<T: Elem, C: Combine<T>>(
    cx: &KernelCx,
    ring: SubRing,
    bufs: &[Ptr<T>],
    combine: &C,
) {
    let (r, n) = (ring.index, ring.size);
    if n < 2 {
        return;
    }
    let (next, prev) = (ring.next(), ring.prev());
    let chunk = |buf: &Ptr<T>, i: usize| {
        let (s, e) = chunk_bounds(buf.cols(), n, i);
        (buf.block([0, s], [buf.rows(), e - s]), [buf.rows(), e - s])
    };
    let nonempty = |buf: &Ptr<T>, i: usize| chunk(buf, i).1[1] > 0;

    let mut cur: Vec<Option<Tile<T>>> = bufs
        .iter()
        .map(|b| nonempty(b, r).then(|| tl::load(cx, chunk(b, r).0)))
        .collect();
    // The chunk each reduce-scatter step combines into, by step.
    let rs_idx = |s: usize| (r + 2 * n - s - 1) % n;
    let load_step = |s: usize| -> Vec<Option<Tile<T>>> {
        bufs.iter()
            .map(|b| nonempty(b, rs_idx(s)).then(|| tl::load(cx, chunk(b, rs_idx(s)).0)))
            .collect()
    };
    // Software pipelining: a step's own chunks need nothing from the ring,
    // so they are loaded one step ahead, into their own buffers: the DMA
    // engine streams them while the current step's messages are on the
    // wire and its combines run.
    let mut mine_next = load_step(0);
    for s in 0..n - 1 {
        for t in cur.iter().flatten() {
            tl::send(cx, next, t);
        }
        let mine = std::mem::take(&mut mine_next);
        if s + 2 < n {
            mine_next = load_step(s + 1);
        }
        for ((b, c), m) in bufs.iter().zip(cur.iter_mut()).zip(mine) {
            *c = m.map(|mine| {
                let theirs = tl::recv::<T>(cx, prev, chunk(b, rs_idx(s)).1);
                combine.combine(cx, &mine, &theirs)
            });
        }
    }
    let owned = (r + 1) % n;
    for (b, c) in bufs.iter().zip(&cur) {
        if let Some(t) = c {
            tl::store(cx, chunk(b, owned).0, t);
        }
    }
    for s in 0..n - 1 {
        let idx = (r + n - s) % n;
        for t in cur.iter().flatten() {
            tl::send(cx, next, t);
        }
        for (b, c) in bufs.iter().zip(cur.iter_mut()) {
            *c = nonempty(b, idx).then(|| {
                let (block, shape) = chunk(b, idx);
                let t = tl::recv::<T>(cx, prev, shape);
                tl::store(cx, block, &t);
                t
            });
        }
    }
}

/// `op` (sum or max) all-reduce of `buf`'s first `len` columns across the
/// installed ring. See
/// [`ring_allreduce_with`] for the algorithm and [`Combine`] for custom
/// reductions.
///
/// `seg` bounds a message: the columns are all-reduced in groups of
/// `world_size x seg`, so no chunk in flight is wider than `seg` and a
/// large buffer streams through TCM in pieces (`seg = 0`: one group). Each
/// group costs `2(n - 1)` sends and receives per rank. Up to [`WINDOW`]
/// groups run in lockstep so their messages overlap their combines, never
/// more than the IPCQ holds per peer ([`window`]): a step sends one
/// message per group before it receives, and a batch wider than the queue
/// can deadlock the ring (a blocked send holds TCM a receive would reuse).
#[kernel]
pub fn ring_allreduce(
    buf: Ptr<f16>,
    len: usize,
    #[constexpr] op: ReduceOp,
    #[constexpr] seg: usize,
) {
    let cx = tl::context();
    let views: Vec<Ptr<f16>> = groups(len, tl::world_size(), seg)
        .into_iter()
        .map(|(start, width)| column_view(buf, start, width))
        .collect();
    for batch in views.chunks(window(tl::queue_depth())) {
        ring_allreduce_lockstep(cx, batch, &op);
    }
}

/// Most groups of a segmented all-reduce in flight at once.
pub const WINDOW: usize = 4;

/// Groups [`ring_allreduce`] runs in lockstep on a machine whose IPCQ holds
/// `depth` messages per pair: [`WINDOW`], or fewer if the queue is shallower.
pub fn window(depth: usize) -> usize {
    depth.clamp(1, WINDOW)
}

/// `(first column, width)` of each group of at most `n x seg` columns.
pub fn groups(len: usize, n: usize, seg: usize) -> Vec<(usize, usize)> {
    let group = if seg == 0 { len.max(1) } else { seg * n.max(1) };
    (0..len)
        .step_by(group)
        .map(|s| (s, group.min(len - s)))
        .collect()
}

/// Columns `[start, start + width)` of `buf` as a tensor of their own.
fn column_view<T: Elem>(buf: Ptr<T>, start: usize, width: usize) -> Ptr<T> {
    let base = buf.base() + (start as u64) * T::DTYPE.size_bytes();
    // The stride is the parent's, which is at least its width.
    Ptr::with_stride(base, buf.rows(), width, buf.row_stride()).unwrap_or(buf)
}
