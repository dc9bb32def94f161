//! Split-KV decode: every rank attends the new tokens' queries over its
//! shard of the K/V cache and produces a partial `(m, l, o)` per query
//! head; a ring all-reduce whose combine is the log-sum-exp merge leaves
//! the exact attention on every rank, and `o / l` is the output.

use kernbench_core::dsl::prelude::*;

use crate::ring::{ring_allreduce_on, Combine, SubRing};

/// The log-sum-exp merge of two partial attentions.
///
/// A record is one column per query head: row 0 the running max `m` of
/// its scaled scores, row 1 the sum `l` of `exp(score - m)`, rows `2..`
/// the unnormalised output `o` (`head_dim` values). Merging `a` and `b`:
/// `M = max(m_a, m_b)`, `L = l_a e^(m_a - M) + l_b e^(m_b - M)`,
/// `O = o_a e^(m_a - M) + o_b e^(m_b - M)`. It is associative and
/// commutative, so a ring all-reduce with it is exact. A record that saw
/// no key (`m = -inf`, `l = 0`, `o = 0`) is the identity; its max is
/// taken as `f32::MIN`, so two of them merge to zeros, not to
/// `e^(-inf - -inf)` = NaN.
///
/// ```
/// use kernbench_core::dsl::prelude::*;
/// use kernels::{Combine, LogSumExp};
///
/// #[kernel]
/// fn merge(a: Ptr<f32>, b: Ptr<f32>) {
///     let cx = tl::context();
///     let (x, y) = (tl::load(a.block([0, 0], [6, 2])), tl::load(b.block([0, 0], [6, 2])));
///     tl::store(a.block([0, 0], [6, 2]), LogSumExp.combine(cx, &x, &y));
/// }
/// let s = merge::trace_single(&merge::args(Ptr::new(0, 6, 2), Ptr::new(64, 6, 2))).unwrap();
/// assert!(s.counts().math > 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogSumExp;

impl Combine<f32> for LogSumExp {
    fn combine(&self, cx: &KernelCx, mine: &Tile<f32>, theirs: &Tile<f32>) -> Tile<f32> {
        // Row 0 holds m; every other row is weighted by e^(m - M). Filling
        // the other rows with f32::MIN floors the max there, at no extra
        // op, so M is finite and every exponent is at most 0.
        let is_m = tl::arange_rows(cx, 0, mine.rows()).lt(1.0);
        let m_a = tl::select(cx, &is_m, mine, f32::MIN).col_max();
        let m_b = tl::select(cx, &is_m, theirs, f32::MIN).col_max();
        let big = tl::max(cx, &m_a, &m_b);
        let a = tl::exp(cx, &(&m_a - &big));
        let b = tl::exp(cx, &(&m_b - &big));
        let merged = mine * &a + theirs * &b;
        tl::select(cx, &is_m, &big, &merged)
    }
}

/// Split-KV decode attention on one rank, then the log-sum-exp all-reduce.
///
/// Rank `r` of the install is member `r / stride` of the ring of PE index
/// `r % stride` (a single ring: `stride = 1`). Layouts per rank,
/// row-major fp16: `q` is `users x heads x group` rows of `head_dim` (the
/// new token's query heads, a K/V head's group together); `k`/`v` are
/// `users x heads x local` rows (this rank's slice of each user's cache);
/// `rec` (f32) is `head_dim + 2` rows by one column per query head;
/// member 0 writes `o`, `head_dim` rows by one column per query head.
///
/// Per user and K/V head, `bn` cache rows at a time, the scores are
/// computed transposed, `Sᵀ = K qᵀ` (one GEMM for the whole group), so the
/// softmax runs down columns and `oᵀ = Vᵀ Pᵀ` (the second GEMM) lands as
/// the record's columns without a transpose.
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn decode_attention(
    q: Ptr<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    rec: Ptr<f32>,
    o: Ptr<f16>,
    users: usize,
    heads: usize,
    local: usize,
    stride: usize,
    #[constexpr] group: usize,
    #[constexpr] head_dim: usize,
    #[constexpr] bn: usize,
    sm_scale: f32,
) {
    let cx = tl::context();
    let bn = bn.max(1);
    for u in 0..users {
        for h in 0..heads {
            let col = (u * heads + h) * group;
            let kv_base = (u * heads + h) * local;
            let qt = tl::load(q.block([col, 0], [group, head_dim]));
            let mut m = tl::full::<f32>([1, group], f32::NEG_INFINITY);
            let mut l = tl::zeros::<f32>([1, group]);
            let mut acc = tl::zeros::<f32>([head_dim, group]);
            for start in (0..local).step_by(bn) {
                let rows = bn.min(local - start);
                let kt = tl::load(k.block([kv_base + start, 0], [rows, head_dim]));
                let zero = tl::zeros::<f32>([rows, group]);
                let s = tl::dot(&kt, tl::trans(&qt), zero) * sm_scale;
                let m_new = tl::max(&m, tl::col_max(&s));
                let p = tl::exp(&(&s - &m_new));
                let alpha = tl::exp(&(&m - &m_new));
                l = &l * &alpha + tl::col_sum(&p);
                let vt = tl::load(v.block([kv_base + start, 0], [rows, head_dim]));
                acc = tl::dot(tl::trans(&vt), &p.cast::<f16>(), &acc * &alpha);
                m = m_new;
            }
            tl::store(rec.block([0, col], [1, group]), &m);
            tl::store(rec.block([1, col], [1, group]), &l);
            tl::store(rec.block([2, col], [head_dim, group]), &acc);
        }
    }
    let ring = SubRing::strided(cx, stride);
    ring_allreduce_on(cx, ring, &[rec], &LogSumExp);
    if ring.index == 0 {
        let cols = users * heads * group;
        for c in (0..cols).step_by(128) {
            let w = 128.min(cols - c);
            let sum = tl::load(rec.block([1, c], [1, w]));
            let out = tl::load(rec.block([2, c], [head_dim, w]));
            tl::store(o.block([0, c], [head_dim, w]), (&out / &sum).cast::<f16>());
        }
    }
}
