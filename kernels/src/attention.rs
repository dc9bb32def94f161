//! Flash-style attention: two `dot`s per key/value block with an online
//! softmax, so scores never leave TCM.

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
    let [bm, d] = q.shape();
    let mut st = AttnState {
        acc: tl::zeros::<f32>(cx, [bm, d]),
        m: tl::full::<f32>(cx, [bm, 1], f32::NEG_INFINITY),
        l: tl::zeros::<f32>(cx, [bm, 1]),
    };
    for start in (kv_start..kv_end).step_by(bn.max(1)) {
        let rows = bn.min(kv_end - start);
        let kt = tl::load(cx, k.block([start, 0], [rows, d]));
        let s = tl::dot(cx, q, tl::trans(cx, &kt), tl::zeros::<f32>(cx, [bm, rows])) * sm_scale;
        let m_new = tl::max(cx, &st.m, &tl::row_max(cx, &s));
        let p = tl::exp(cx, &(&s - &m_new));
        let alpha = tl::exp(cx, &(&st.m - &m_new));
        st.l = &st.l * &alpha + tl::row_sum(cx, &p);
        let acc = &st.acc * &alpha;
        let vt = tl::load(cx, v.block([start, 0], [rows, d]));
        st.acc = tl::dot(cx, &p.cast::<f16>(), &vt, acc);
        st.m = m_new;
    }
    st
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
