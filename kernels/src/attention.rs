//! Flash-style attention: two `dot`s per key/value block with an online
//! softmax, so scores never leave TCM; causal attention masks in the
//! kernel and skips key blocks no query may see.

use kernbench_core::dsl::prelude::*;

/// Running state of the online softmax for one block of query rows.
#[derive(Debug)]
pub struct AttnState {
    /// Unnormalised output, `bm x head_dim`.
    pub acc: Tile<f32>,
    /// Running row maximum of the scaled scores, `bm x 1`.
    pub m: Tile<f32>,
    /// Running row sum of `exp(score - m)`, `bm x 1`.
    pub l: Tile<f32>,
}

impl AttnState {
    /// The normalised output, `acc / l`.
    pub fn output(&self) -> Tile<f32> {
        &self.acc / &self.l
    }
}

/// Attends the query tile `q` (`bm x d`, in TCM) over key/value rows
/// `kv_start..kv_end` of `k` and `v` (row-major `seq x d`), `bn` rows at a
/// time. The last block is shortened rather than masked, so any length
/// works. GQA kernels call this once per (query block, kv head).
#[allow(clippy::too_many_arguments)]
pub fn flash_attention_block(
    cx: &KernelCx,
    q: &Tile<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    kv_start: usize,
    kv_end: usize,
    bn: usize,
    sm_scale: f32,
) -> AttnState {
    let mut st = AttnState::new(cx, q.shape());
    let rows = kv_end.saturating_sub(kv_start);
    st.attend(cx, q, [k, v], kv_start, rows, bn, sm_scale, None);
    st
}

/// Where a query tile meets the causal diagonal of the keys it attends:
/// row `r` of the tile (of which `real` are real) is query position
/// `(first + r) / group`, and key `c` (counted from the first key
/// attended) is visible to it iff `c * group <= first + r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diagonal {
    /// Stacked row of the tile's first row (position x group + head).
    pub first: usize,
    /// Real rows of the tile.
    pub real: usize,
    /// Query heads stacked per position.
    pub group: usize,
}

/// Scaled scores `q kᵀ · sm_scale` of the query tile against key rows
/// `start..start + rows`: one load and one GEMM.
fn scores(
    cx: &KernelCx,
    q: &Tile<f16>,
    k: Ptr<f16>,
    start: usize,
    rows: usize,
    sm_scale: f32,
) -> Tile<f32> {
    let kt = tl::load(cx, k.block([start, 0], [rows, q.cols()]));
    let zero = tl::zeros::<f32>(cx, [q.rows(), rows]);
    tl::dot(cx, q, tl::trans(cx, &kt), zero) * sm_scale
}

impl AttnState {
    /// The state before any key: `m = -inf`, `l = 0`, `acc = 0`.
    pub fn new(cx: &KernelCx, [bm, d]: [usize; 2]) -> Self {
        AttnState {
            acc: tl::zeros::<f32>(cx, [bm, d]),
            m: tl::full::<f32>(cx, [bm, 1], f32::NEG_INFINITY),
            l: tl::zeros::<f32>(cx, [bm, 1]),
        }
    }

    /// Attends `q` over key/value rows `kv_base .. kv_base + kv_rows` of
    /// `kv = [k, v]`, `bn` rows at a time. Without a diagonal every key is
    /// visible; with one, key blocks past the tile's last position are
    /// skipped while tracing and a block crossing the diagonal is masked
    /// in the kernel. The state may already hold earlier keys (ring
    /// attention attends one shard per step).
    #[allow(clippy::too_many_arguments)]
    pub fn attend(
        &mut self,
        cx: &KernelCx,
        q: &Tile<f16>,
        [k, v]: [Ptr<f16>; 2],
        kv_base: usize,
        kv_rows: usize,
        bn: usize,
        sm_scale: f32,
        diag: Option<Diagonal>,
    ) {
        let bm = q.rows();
        let (end, first_pos, group) = match diag {
            None => (kv_rows, usize::MAX, 1),
            Some(d) => {
                let group = d.group.max(1);
                let last = (d.first + d.real.clamp(1, bm) - 1) / group;
                (kv_rows.min(last + 1), d.first / group, group)
            }
        };
        for start in (0..end).step_by(bn.max(1)) {
            let rows = bn.min(end - start);
            let mut s = scores(cx, q, k, kv_base + start, rows, sm_scale);
            if let Some(d) = diag.filter(|_| start + rows - 1 > first_pos) {
                let mut keys = tl::arange_cols(cx, start, rows);
                if group > 1 {
                    keys = keys * group as f32;
                }
                let future = tl::arange_rows(cx, d.first, bm).lt(keys);
                s = tl::select(cx, &future, f32::NEG_INFINITY, &s);
            }
            self.absorb(cx, &s, v, kv_base + start);
        }
    }

    /// Folds in one block of scaled scores `s` (`bm x rows`) against value
    /// rows `start..start + rows`: the online-softmax update.
    pub fn absorb(&mut self, cx: &KernelCx, s: &Tile<f32>, v: Ptr<f16>, start: usize) {
        let d = self.acc.cols();
        let m_new = tl::max(cx, &self.m, tl::row_max(cx, s));
        let p = tl::exp(cx, &(s - &m_new));
        let alpha = tl::exp(cx, &(&self.m - &m_new));
        self.l = &self.l * &alpha + tl::row_sum(cx, &p);
        let acc = &self.acc * &alpha;
        let vt = tl::load(cx, v.block([start, 0], [s.cols(), d]));
        self.acc = tl::dot(cx, &p.cast::<f16>(), &vt, acc);
        self.m = m_new;
    }
}

/// Causal attention of the query tile `q` (`bm x d`; its first row is at
/// sequence position `q_pos`, and `q_rows <= bm` of its rows are real) over
/// key/value rows `0..kv_end`, `bn` at a time: query `i` sees keys
/// `0..=q_pos + i`.
///
/// Key blocks wholly after the last real query are skipped while tracing
/// (no command at all); a block that crosses the diagonal is masked in the
/// kernel: index tiles of the query and key positions, a comparison, and
/// `select` set the future keys' scores to -inf. Blocks wholly before the
/// first query need no mask. Any offset works: prefill (`q_pos = 0`),
/// chunked prefill, or decode (one row at `q_pos = S - 1`).
#[allow(clippy::too_many_arguments)]
pub fn causal_attention_block(
    cx: &KernelCx,
    q: &Tile<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    q_pos: usize,
    q_rows: usize,
    kv_end: usize,
    bn: usize,
    sm_scale: f32,
) -> AttnState {
    causal_rows(cx, q, k, v, 0, q_pos, q_rows, 1, kv_end, bn, sm_scale)
}

/// The causal loop both layouts share: row `r` of `q` (of which `real`
/// are real) is query `(first + r) / group`'s position, keys are rows
/// `kv_base + 0 .. kv_base + kv_end` of `k` and `v`. Key `c` is visible to
/// row `r` iff `c * group <= first + r` (`c <= pos` for integer `c`), an
/// integer comparison of index tiles with no division; with one head per
/// position there is no multiply either.
#[allow(clippy::too_many_arguments)]
fn causal_rows(
    cx: &KernelCx,
    q: &Tile<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    kv_base: usize,
    first: usize,
    real: usize,
    group: usize,
    kv_end: usize,
    bn: usize,
    sm_scale: f32,
) -> AttnState {
    let mut st = AttnState::new(cx, q.shape());
    let diag = Diagonal { first, real, group };
    st.attend(cx, q, [k, v], kv_base, kv_end, bn, sm_scale, Some(diag));
    st
}

/// Causal `o = softmax(q kᵀ · sm_scale + mask) v` for one head: program
/// `p` handles query rows `p * bm ..`, the first of which sits at sequence
/// position `q_offset` (0 for prefill, `seq_kv - 1` for one decode row);
/// see [`causal_attention_block`].
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn causal_attention(
    q: Ptr<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    o: Ptr<f16>,
    seq_kv: usize,
    q_offset: usize,
    #[constexpr] head_dim: usize,
    #[constexpr] bm: usize,
    #[constexpr] bn: usize,
    sm_scale: f32,
) {
    let row = tl::program_id(0) * bm;
    let qt = tl::load(q.block([row, 0], [bm, head_dim]));
    let q_rows = bm.min(q.rows().saturating_sub(row));
    let st = causal_attention_block(
        tl::context(),
        &qt,
        k,
        v,
        q_offset + row,
        q_rows,
        seq_kv,
        bn,
        sm_scale,
    );
    tl::store(o.block([row, 0], [bm, head_dim]), st.output().cast::<f16>());
}

/// `o = softmax(q kᵀ · sm_scale) v` for one head: program `p` handles
/// query rows `p * bm ..`, all `seq_kv` key/value rows in blocks of `bn`.
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn flash_attention(
    q: Ptr<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    o: Ptr<f16>,
    seq_kv: usize,
    #[constexpr] head_dim: usize,
    #[constexpr] bm: usize,
    #[constexpr] bn: usize,
    sm_scale: f32,
) {
    let row = tl::program_id(0) * bm;
    let qt = tl::load(q.block([row, 0], [bm, head_dim]));
    let st = flash_attention_block(tl::context(), &qt, k, v, 0, seq_kv, bn, sm_scale);
    tl::store(o.block([row, 0], [bm, head_dim]), st.output().cast::<f16>());
}

/// Grouped-query attention of one query tile over one K/V head.
///
/// The `q` tile stacks the query heads that share the K/V head: row `r`
/// is query head `(row0 + r) % group` at position `(row0 + r) / group`, so
/// the whole group goes through one GEMM against each shared K block and
/// one against each V block; K/V rows `kv_base ..` of `k` and `v` are the
/// K/V head's. Causal: key blocks past the tile's last position are
/// skipped while tracing, a block that crosses the diagonal is masked in
/// the kernel (key `c` is visible to row `r` iff `c * group <= row0 + r`).
#[allow(clippy::too_many_arguments)]
pub fn gqa_attention_block(
    cx: &KernelCx,
    q: &Tile<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    kv_base: usize,
    row0: usize,
    group: usize,
    seq: usize,
    bn: usize,
    causal: bool,
    sm_scale: f32,
) -> AttnState {
    if causal {
        // The diagonal block stops at the tile's last position.
        let rows = q.rows();
        let kv_end = seq.min((row0 + rows.max(1) - 1) / group.max(1) + 1);
        causal_rows(
            cx, q, k, v, kv_base, row0, rows, group, kv_end, bn, sm_scale,
        )
    } else {
        flash_attention_block(cx, q, k, v, kv_base, kv_base + seq, bn, sm_scale)
    }
}

/// Flash attention for grouped-query heads: `heads = kv_heads x group`
/// query heads, each group sharing one K/V head.
///
/// Layouts (row-major, fp16): `q` and `o` are `kv_heads x seq x group`
/// rows of `head_dim` — K/V head, then position, then query head within
/// the group, so a group's queries for consecutive positions are
/// consecutive rows; `k` and `v` are `kv_heads x seq` rows. Program `p`
/// takes the `bm` stacked query rows at `(p % blocks) * bm` of K/V head
/// `p / blocks`, where `blocks = ceil(seq x group / bm)`, and loads each
/// K and V block once for all of them (see [`gqa_attention_block`]).
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn gqa_attention(
    q: Ptr<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    o: Ptr<f16>,
    seq: usize,
    #[constexpr] group: usize,
    #[constexpr] head_dim: usize,
    #[constexpr] bm: usize,
    #[constexpr] bn: usize,
    causal: bool,
    sm_scale: f32,
) {
    let per_head = seq * group;
    let blocks = per_head.div_ceil(bm.max(1));
    let p = tl::program_id(0);
    let (head, row0) = (p / blocks, (p % blocks) * bm);
    let rows = bm.min(per_head - row0);
    let at = [head * per_head + row0, 0];
    let qt = tl::load(q.block(at, [rows, head_dim]));
    let st = gqa_attention_block(
        tl::context(),
        &qt,
        k,
        v,
        head * seq,
        row0,
        group,
        seq,
        bn,
        causal,
        sm_scale,
    );
    tl::store(o.block(at, [rows, head_dim]), st.output().cast::<f16>());
}

/// Programs of a [`gqa_attention`] launch: `kv_heads x ceil(seq x group / bm)`.
pub fn gqa_programs(kv_heads: usize, seq: usize, group: usize, bm: usize) -> usize {
    kv_heads * (seq * group).div_ceil(bm.max(1))
}
