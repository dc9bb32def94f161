//! Ring attention for prefill: every rank holds a shard of the sequence's
//! queries, keys and values; for `n` steps it attends its queries to one
//! shard of keys and values while it passes that shard on to the next rank
//! and receives the one it attends next, so the K/V shards go once around
//! the ring and each step's transfer hides behind the step's compute.
//!
//! The online-softmax state of every query block lives in HBM between
//! steps (the running output, max and sum, in f32), so any context fits
//! the 1 MiB TCM scratch: a step holds one query block, one K/V block and
//! the relay's in-flight pieces.

use kernbench_core::dsl::prelude::*;
use kernbench_core::dsl::{ArgKind, ArgValue, ConstexprArg, KernelArg};
use kernbench_core::support::{Named, UnknownName};

use crate::attention::{AttnState, Diagonal};
use crate::ring::SubRing;

/// How the sequence is cut into rank shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sharding {
    /// Rank `i` holds chunk `i` of `n` equal chunks. Causal attention is
    /// unbalanced: the last rank attends every key, the first only its own.
    Contiguous,
    /// The sequence is cut into `2n` chunks and rank `i` holds chunks `i`
    /// and `2n - 1 - i`, so every rank has the same causal work.
    Zigzag,
}

impl Sharding {
    /// Chunks per rank.
    pub const fn chunks(self) -> usize {
        match self {
            Sharding::Contiguous => 1,
            Sharding::Zigzag => 2,
        }
    }

    /// The global chunk index of local chunk `c` of rank `i` of `n`.
    pub const fn global_chunk(self, i: usize, n: usize, c: usize) -> usize {
        match (self, c) {
            (Sharding::Zigzag, 1) => 2 * n - 1 - i,
            _ => i,
        }
    }

    /// Global sequence position of local position `pos` of rank `i` of `n`
    /// when each rank holds `local` positions.
    pub fn position(self, i: usize, n: usize, local: usize, pos: usize) -> usize {
        let chunk = local / self.chunks();
        self.global_chunk(i, n, pos / chunk.max(1)) * chunk + pos % chunk.max(1)
    }
}

impl Named for Sharding {
    const WHAT: &'static str = "sharding";
    const ALL: &'static [Sharding] = &[Sharding::Contiguous, Sharding::Zigzag];
    fn name(self) -> &'static str {
        match self {
            Sharding::Contiguous => "contiguous",
            Sharding::Zigzag => "zigzag",
        }
    }
}
impl KernelArg for Sharding {
    const KIND: ArgKind = ArgKind::of_enum::<Sharding>();
    fn arg_value(&self) -> ArgValue {
        ArgValue::of_enum(*self)
    }
}
impl ConstexprArg for Sharding {}
impl std::str::FromStr for Sharding {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

/// Which keys of a K/V chunk a query chunk sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every key (a chunk wholly before the queries, or no mask).
    All,
    /// The chunks are the same positions: masked on the diagonal.
    Diagonal,
    /// None (a chunk wholly after the queries): skipped while tracing.
    None,
}

/// What query chunk `qa` sees of key chunk `kb` (global chunk indices).
pub fn visibility(causal: bool, qa: usize, kb: usize) -> Visibility {
    match (causal, kb.cmp(&qa)) {
        (false, _) | (true, std::cmp::Ordering::Less) => Visibility::All,
        (true, std::cmp::Ordering::Equal) => Visibility::Diagonal,
        (true, std::cmp::Ordering::Greater) => Visibility::None,
    }
}

/// The shape of a ring-attention launch, shared by the kernel and the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingShape {
    /// Users (independent sequences), one after another.
    pub users: usize,
    /// K/V heads this rank attends.
    pub heads: usize,
    /// Sequence positions per rank.
    pub local: usize,
    /// Query heads per K/V head.
    pub group: usize,
}

impl RingShape {
    /// Programs per rank: one per user, ring step and K/V head.
    pub fn programs(&self, steps: usize) -> usize {
        self.users * steps * self.heads
    }
    /// Stacked query rows per rank (`users x heads x local x group`).
    pub fn q_rows(&self) -> usize {
        self.users * self.heads * self.local * self.group
    }
    /// K/V rows per rank (`users x heads x local`).
    pub fn kv_rows(&self) -> usize {
        self.users * self.heads * self.local
    }
}

/// One program of ring attention: user `u`, ring step `s`, K/V head `h`
/// of this rank (program id `(u * n + s) * heads + h`).
///
/// Rank `r` of a `Ring::cube_grid` install is member `r / stride` of the
/// sequence ring of PE index `r % stride` (a single ring: `stride = 1`).
/// Layouts per rank, row-major fp16: `q`/`o` are `users x heads x local x
/// group` stacked rows of `head_dim` (user, K/V head, position, query head
/// in its group); `k`/`v` are `users x heads x local` rows; `acc` (f32,
/// like `q`), `m` and `l` (f32, one column) hold the online-softmax state
/// between steps; `stage_k`/`stage_v` are two K/V-sized halves the relay
/// fills alternately.
///
/// Step `s` attends the shard of member `i - s`: its own at step 0, then
/// what the relay of step `s - 1` stored. The relay of step `s` sends
/// that same shard on, `bn` rows at a time, and stores what the previous
/// member sends into the other half; its pieces are spread between the
/// query blocks, so the DMA, IPCQ and MAC array all work at once. A piece
/// is received one slot after it is sent when the queue holds four
/// messages (K and V of two pieces), so the receive's store finds its
/// message in; with a shallower queue each message is received right
/// after it is sent, which one message of depth suffices for.
#[kernel]
#[allow(clippy::too_many_arguments)]
pub fn ring_attention(
    q: Ptr<f16>,
    k: Ptr<f16>,
    v: Ptr<f16>,
    o: Ptr<f16>,
    acc: Ptr<f32>,
    m: Ptr<f32>,
    l: Ptr<f32>,
    stage_k: Ptr<f16>,
    stage_v: Ptr<f16>,
    users: usize,
    heads: usize,
    local: usize,
    stride: usize,
    #[constexpr] group: usize,
    #[constexpr] head_dim: usize,
    #[constexpr] bm: usize,
    #[constexpr] bn: usize,
    #[constexpr] sharding: Sharding,
    causal: bool,
    sm_scale: f32,
) {
    let cx = tl::context();
    let ring = SubRing::strided(cx, stride);
    let (i, n) = (ring.index, ring.size.max(1));
    let shape = RingShape {
        users,
        heads,
        local,
        group,
    };
    let p = tl::program_id(0);
    let (u, s, h) = (p / (n * heads), (p / heads) % n, p % heads);
    let chunks = sharding.chunks();
    let chunk = local / chunks;
    let (bm, bn) = (bm.max(1), bn.max(1));
    let kv_base = (u * heads + h) * local;
    let q_base = kv_base * group;
    let half = shape.kv_rows();
    // Step `s`'s shard: the rank's own K/V, or the stage half the relay of
    // step `s - 1` filled.
    let (kv_now, now_base) = if s == 0 {
        ([k, v], kv_base)
    } else {
        ([stage_k, stage_v], (s % 2) * half + kv_base)
    };
    let stage = [stage_k, stage_v];

    let relay_items = if s + 1 < n { local.div_ceil(bn) } else { 0 };
    let piece = |j: usize| {
        let start = j * bn;
        (start, bn.min(local - start))
    };
    // Piece `j` of K (`w = 0`) or V (`w = 1`): sent on, or received from
    // the previous member into the other stage half.
    let send_piece = |j: usize, w: usize| {
        let (start, rows) = piece(j);
        let out = tl::load(kv_now[w].block([now_base + start, 0], [rows, head_dim]));
        tl::send(ring.next(), &out);
    };
    let recv_piece = |j: usize, w: usize| {
        let (start, rows) = piece(j);
        let into = ((s + 1) % 2) * half + kv_base + start;
        let got = tl::recv::<f16>(ring.prev(), [rows, head_dim]);
        tl::store(stage[w].block([into, 0], [rows, head_dim]), &got);
    };
    // The relay sends piece `j` and receives the previous member's piece
    // `j - lag`: a receive's store blocks the in-order DMA engine until
    // its message is in, so receiving a slot late finds it there already.
    // That keeps `2 (lag + 1)` messages in flight per peer, so a shallower
    // queue receives each message right after sending it.
    let lag = usize::from(tl::queue_depth() >= 4);
    let relay = |j: usize| {
        for w in 0..2 {
            send_piece(j, w);
            if lag == 0 {
                recv_piece(j, w);
            }
        }
        if lag > 0 && j >= lag {
            (0..2).for_each(|w| recv_piece(j - lag, w));
        }
    };

    // Which K/V chunks of step `t`'s shard the query chunk `qa` sees.
    let seen = |t: usize, qa: usize| -> Vec<(usize, Visibility)> {
        let from = (i + n - t) % n;
        (0..chunks)
            .map(|c| (c, visibility(causal, qa, sharding.global_chunk(from, n, c))))
            .filter(|(_, vis)| *vis != Visibility::None)
            .collect()
    };
    let blocks_per_chunk = (chunk * group).div_ceil(bm);
    let blocks = chunks * blocks_per_chunk;
    let mut next_item = 0;
    for qc in 0..chunks {
        let qa = sharding.global_chunk(i, n, qc);
        let earlier = (0..s).any(|t| !seen(t, qa).is_empty());
        for b in 0..blocks_per_chunk {
            let t = qc * blocks_per_chunk + b;
            while next_item < relay_items && next_item * blocks <= t * relay_items {
                relay(next_item);
                next_item += 1;
            }
            let first = b * bm;
            let rows = bm.min(chunk * group - first);
            let row = q_base + qc * chunk * group + first;
            let visible = seen(s, qa);
            let last = s + 1 == n;
            if visible.is_empty() && !last {
                continue;
            }
            let mut st = if earlier {
                let a = tl::load(acc.block([row, 0], [rows, head_dim]));
                let mx = tl::load(m.block([row, 0], [rows, 1]));
                let sum = tl::load(l.block([row, 0], [rows, 1]));
                AttnState {
                    acc: a,
                    m: mx,
                    l: sum,
                }
            } else {
                AttnState::new(cx, [rows, head_dim])
            };
            if !visible.is_empty() {
                let qt = tl::load(q.block([row, 0], [rows, head_dim]));
                for (c, vis) in visible {
                    let diag = (vis == Visibility::Diagonal).then_some(Diagonal {
                        first,
                        real: rows,
                        group,
                    });
                    let base = now_base + c * chunk;
                    st.attend(cx, &qt, kv_now, base, chunk, bn, sm_scale, diag);
                }
            }
            if last {
                let out = st.output().cast::<f16>();
                tl::store(o.block([row, 0], [rows, head_dim]), &out);
            } else {
                tl::store(acc.block([row, 0], [rows, head_dim]), &st.acc);
                tl::store(m.block([row, 0], [rows, 1]), &st.m);
                tl::store(l.block([row, 0], [rows, 1]), &st.l);
            }
        }
    }
    while next_item < relay_items {
        relay(next_item);
        next_item += 1;
    }
    for j in relay_items.saturating_sub(lag)..relay_items {
        (0..2).for_each(|w| recv_piece(j, w));
    }
}
