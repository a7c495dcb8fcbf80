"""The T5 forward pass for inference, written out over the Hugging Face weights of `ProofNet.t5`.

The same arithmetic as `transformers`' T5 (RMS layer norms, relative position buckets shared by all
layers of a stack, gated or plain feed-forward, the `d_model ** -0.5` rescale before a tied LM head),
arranged for decoding many tactics of few states:
- the encoder runs on states grouped by length, so short states are not padded to the longest;
- each state's cross-attention keys and values are computed once, from its own encoder states: the
  K decodes of a state are K queries against the same keys (never K copies of them);
- the self-attention keys and values go into a cache allocated once for the whole decode;
- one decoder step is a handful of large tensor operations per layer, nothing per row.

`T5Weights.of` reads the weights from the module (fused copies of q/k/v and of the gated input
projections); `ProofNetInference` makes them again whenever a parameter has changed, so a model trained
or loaded in place is always the one that decodes. Nothing here is used for training, and the export is
the Hugging Face model itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

GELU_TANH = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")  # HF names for the tanh approximation


@dataclass(frozen=True)
class Block:
    """One T5 block's weights in `F.linear` layout (out, in); q/k/v and the gated pair fused."""

    self_norm: Tensor
    qkv: Tensor  # (3 inner, d)
    self_out: Tensor  # (d, inner)
    ff_norm: Tensor
    wi: Tensor  # (2 d_ff, d) gated (wi_0 then wi_1), (d_ff, d) plain
    wo: Tensor  # (d, d_ff)
    cross_norm: Tensor | None = None  # decoder blocks only
    cross_q: Tensor | None = None  # (inner, d)
    cross_kv: Tensor | None = None  # (2 inner, d), applied to encoder states
    cross_out: Tensor | None = None  # (d, inner)


@dataclass(frozen=True)
class T5Weights:
    encoder: tuple[Block, ...]
    decoder: tuple[Block, ...]
    encoder_bias: Tensor  # (buckets, heads): relative position bias of the encoder's first layer
    decoder_bias: Tensor
    encoder_norm: Tensor
    decoder_norm: Tensor
    embed: Tensor  # (vocab, d), shared by both stacks
    lm_head: Tensor  # (vocab, d)
    heads: int
    d_kv: int
    eps: float
    buckets: int
    max_distance: int
    gated: bool
    act: str
    output_scale: float  # applied to the decoder output before the LM head (1.0: none)

    @classmethod
    def of(cls, t5) -> T5Weights:
        """The weights of a `T5ForConditionalGeneration` (read now, fused where it saves a matmul)."""
        c = t5.config

        def block(b, decoder: bool) -> Block:
            att, ff = b.layer[0].SelfAttention, b.layer[-1]
            dense = ff.DenseReluDense
            wi = torch.cat([dense.wi_0.weight, dense.wi_1.weight]) if c.is_gated_act else dense.wi.weight
            kw = {}
            if decoder:
                cross = b.layer[1].EncDecAttention
                kw = dict(cross_norm=b.layer[1].layer_norm.weight, cross_q=cross.q.weight,
                          cross_kv=torch.cat([cross.k.weight, cross.v.weight]), cross_out=cross.o.weight)
            return Block(b.layer[0].layer_norm.weight, torch.cat([att.q.weight, att.k.weight, att.v.weight]),
                         att.o.weight, ff.layer_norm.weight, wi, dense.wo.weight, **kw)

        enc, dec = t5.encoder, t5.decoder
        return cls(
            encoder=tuple(block(b, False) for b in enc.block),
            decoder=tuple(block(b, True) for b in dec.block),
            encoder_bias=enc.block[0].layer[0].SelfAttention.relative_attention_bias.weight,
            decoder_bias=dec.block[0].layer[0].SelfAttention.relative_attention_bias.weight,
            encoder_norm=enc.final_layer_norm.weight, decoder_norm=dec.final_layer_norm.weight,
            embed=t5.shared.weight, lm_head=t5.lm_head.weight,
            heads=c.num_heads, d_kv=c.d_kv, eps=c.layer_norm_epsilon,
            buckets=c.relative_attention_num_buckets, max_distance=c.relative_attention_max_distance,
            gated=c.is_gated_act, act=c.dense_act_fn,
            output_scale=c.d_model ** -0.5 if getattr(c, "scale_decoder_outputs", c.tie_word_embeddings) else 1.0,
        )

    @property
    def inner(self) -> int:
        return self.heads * self.d_kv


# --- the pieces --------------------------------------------------------------------------------


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """T5's layer norm: scale by the root mean square (accumulated in float32), no mean, no bias."""
    if x.dtype == torch.float32:
        return F.rms_norm(x, weight.shape, weight, eps)
    return weight * F.rms_norm(x.float(), weight.shape, None, eps).to(weight.dtype)


def activation(x: Tensor, name: str) -> Tensor:
    if name in GELU_TANH:
        return F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu(x)
    if name == "relu":
        return F.relu(x)
    from transformers.activations import ACT2FN

    return ACT2FN[name](x)


def residual(x: Tensor, h: Tensor, weight: Tensor) -> Tensor:
    """x + F.linear(h, weight), the add done by the matmul (one kernel instead of two)."""
    return torch.addmm(x.reshape(-1, x.shape[-1]), h.reshape(-1, h.shape[-1]), weight.t()).view(x.shape)


def feed_forward(x: Tensor, b: Block, w: T5Weights) -> Tensor:
    """x + FF(norm(x)): gated (act(h W0) * h W1) or plain (act(h W))."""
    h = F.linear(rms_norm(x, b.ff_norm, w.eps), b.wi)
    if w.gated:
        gate, lin = h.chunk(2, -1)
        h = activation(gate, w.act) * lin
    else:
        h = activation(h, w.act)
    return residual(x, h, b.wo)


def position_bias(w: T5Weights, table: Tensor, queries: Tensor, keys: Tensor, bidirectional: bool) -> Tensor:
    """(heads, len(queries), len(keys)) relative position bias, T5's buckets of key - query."""
    from transformers.models.t5.modeling_t5 import T5Attention

    bucket = T5Attention._relative_position_bucket(keys[None, :] - queries[:, None], bidirectional=bidirectional,
                                                   num_buckets=w.buckets, max_distance=w.max_distance)
    return table[bucket].permute(2, 0, 1)


def key_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """(batch, 1, 1, len) additive attention mask: 0 on tokens, the dtype's minimum on padding."""
    return ((1 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min)


# --- encoder -----------------------------------------------------------------------------------


@dataclass
class Group:
    """States `start`..`end` (positions in the length order) of similar length, encoded together."""

    start: int
    end: int
    states: Tensor  # (end - start, width, d) encoder states; zeros past a state's length
    mask: Tensor  # (end - start, width) 1 on tokens


def length_order(lengths: list[int], slack: float = 1.25) -> tuple[list[int], list[tuple[int, int]]]:
    """Indices sorted by length (shortest first) and cut into runs whose padded size (rows x longest)
    stays within `slack` x their tokens: the (start, end) positions of each run in that order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    runs: list[tuple[int, int]] = []
    tokens = 0
    for p, i in enumerate(order):
        if runs and (p - runs[-1][0] + 1) * lengths[i] <= slack * (tokens + lengths[i]):
            runs[-1] = (runs[-1][0], p + 1)
            tokens += lengths[i]
        else:
            runs.append((p, p + 1))
            tokens = lengths[i]
    return order, runs


def encode(w: T5Weights, ids: Tensor, mask: Tensor, order: list[int], runs: list[tuple[int, int]]) -> list[Group]:
    """The encoder on right-padded `ids`, states taken in `order`, each run of `runs` as one batch
    cut to its longest state."""
    lengths = mask.sum(-1).tolist()
    groups = []
    for start, end in runs:
        rows = torch.tensor(order[start:end], device=ids.device)
        width = int(lengths[order[end - 1]])
        gmask = mask[rows, :width]
        groups.append(Group(start, end, _encode(w, ids[rows, :width], gmask), gmask))
    return groups


def _encode(w: T5Weights, ids: Tensor, mask: Tensor) -> Tensor:
    n, length = ids.shape
    pos = torch.arange(length, device=ids.device)
    bias = position_bias(w, w.encoder_bias, pos, pos, bidirectional=True)[None] + key_mask(mask, w.embed.dtype)
    x = F.embedding(ids, w.embed)
    for b in w.encoder:
        qkv = F.linear(rms_norm(x, b.self_norm, w.eps), b.qkv).view(n, length, 3, w.heads, w.d_kv)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        x = residual(x, a.transpose(1, 2).reshape(n, length, w.inner), b.self_out)
        x = feed_forward(x, b, w)
    return rms_norm(x, w.encoder_norm, w.eps) * mask[..., None].to(x.dtype)


# --- decoder -----------------------------------------------------------------------------------


def attend(q: Tensor, keys_t: Tensor, values: Tensor, bias: Tensor) -> Tensor:
    """softmax(q k^T + bias) v, T5's attention (no 1/sqrt(d) scaling); `keys_t` is k transposed,
    (..., d_kv, len). Plain matmuls: with few queries per state they beat the fused kernel on a CPU."""
    return torch.matmul((torch.matmul(q, keys_t) + bias).softmax(-1), values)


@dataclass
class CrossAttention:
    """Each group's keys and values, per decoder layer: computed once from the group's encoder states,
    then shared by all decoder rows of a state."""

    groups: list[tuple[int, int]]  # (start, end) state positions
    keys_t: list[list[Tensor]]  # [group][layer] (states, heads, d_kv, width)
    values: list[list[Tensor]]  # [group][layer] (states, heads, width, d_kv)
    masks: list[Tensor]  # [group] (states, 1, 1, width) additive

    @classmethod
    def of(cls, w: T5Weights, groups: list[Group]) -> CrossAttention:
        keys_t, values = [], []
        for g in groups:
            s, width, _ = g.states.shape
            ks, vs = [], []
            for b in w.decoder:
                kv = F.linear(g.states, b.cross_kv).view(s, width, 2, w.heads, w.d_kv)
                ks.append(kv[:, :, 0].permute(0, 2, 3, 1).contiguous())
                vs.append(kv[:, :, 1].transpose(1, 2).contiguous())
            keys_t.append(ks)
            values.append(vs)
        return cls([(g.start, g.end) for g in groups], keys_t, values,
                    [key_mask(g.mask, g.states.dtype) for g in groups])

    @property
    def states(self) -> int:
        return self.groups[-1][1]


def cross_attend(x: Tensor, b: Block, w: T5Weights, cross: CrossAttention, layer: int) -> Tensor:
    """x + cross-attention, x being (states, m, d) in the groups' order: the m rows of a state (its K
    decodes, or its candidates' positions) are m queries against that state's keys."""
    s, m, _ = x.shape
    q = F.linear(rms_norm(x, b.cross_norm, w.eps), b.cross_q).view(s, m, w.heads, w.d_kv).transpose(1, 2)
    parts = [attend(q[start:end], cross.keys_t[g][layer], cross.values[g][layer], cross.masks[g])
             for g, (start, end) in enumerate(cross.groups)]
    a = parts[0] if len(parts) == 1 else torch.cat(parts)
    return residual(x, a.transpose(1, 2).reshape(s, m, w.inner), b.cross_out)


def logits_of(x: Tensor, w: T5Weights) -> Tensor:
    h = rms_norm(x, w.decoder_norm, w.eps)
    if w.output_scale != 1.0:
        h = h * w.output_scale
    return F.linear(h, w.lm_head).float()


class IncrementalDecoder:
    """Decodes `rows_per_state` sequences for each state in lock step, one token per `step`.

    Rows are state-major in the cross-attention's state order (row r belongs to state position
    r // rows_per_state), and `reorder` may only move rows within their state (beam search does).
    The self-attention cache holds `max_len` positions, allocated once."""

    def __init__(self, w: T5Weights, cross: CrossAttention, rows_per_state: int, max_len: int) -> None:
        self.w, self.cross, self.per_state = w, cross, rows_per_state
        n = cross.states * rows_per_state
        dtype, device = w.embed.dtype, w.embed.device
        # [layer, row]: (heads, position, d_kv), so that (row, head) fold into one matmul batch
        shape = (len(w.decoder), n, w.heads, max_len, w.d_kv)
        self.keys = torch.empty(shape, dtype=dtype, device=device)
        self.values = torch.empty(shape, dtype=dtype, device=device)
        pos = torch.arange(max_len, device=device)
        # bias[:, t, :t+1] is step t's: query position t against keys 0..t (causal by construction)
        self.bias = position_bias(w, w.decoder_bias, pos, pos, bidirectional=False).to(dtype)
        self.t = 0

    def start(self, token: int) -> Tensor:
        """(rows, vocab) float32 logits of the first step, every row reading `token`: the rows of a
        state are alike until then, so each state's is computed once and copied to its rows."""
        w, s, r = self.w, self.cross.states, self.per_state
        x = F.embedding(torch.full((s,), token, dtype=torch.long, device=w.embed.device), w.embed)
        for i, b in enumerate(w.decoder):
            qkv = F.linear(rms_norm(x, b.self_norm, w.eps), b.qkv).view(s, 3, w.heads, w.d_kv)
            self.keys[i, :, :, 0] = qkv[:, 1].repeat_interleave(r, 0)
            self.values[i, :, :, 0] = qkv[:, 2].repeat_interleave(r, 0)
            x = residual(x, qkv[:, 2].reshape(s, w.inner), b.self_out)  # one key: attention gives its value
            x = cross_attend(x.view(s, 1, -1), b, w, self.cross, i).view(s, -1)
            x = feed_forward(x, b, w)
        self.t = 1
        return logits_of(x, w).repeat_interleave(r, 0)

    def step(self, tokens: Tensor) -> Tensor:
        """(rows, vocab) float32 next-token logits after feeding `tokens` (rows,) at position t."""
        w, t, n = self.w, self.t, tokens.shape[0]
        x = F.embedding(tokens, w.embed)
        bias = self.bias[None, :, t : t + 1, : t + 1]
        for i, b in enumerate(w.decoder):
            qkv = F.linear(rms_norm(x, b.self_norm, w.eps), b.qkv).view(n, 3, w.heads, w.d_kv)
            self.keys[i, :, :, t] = qkv[:, 1]
            self.values[i, :, :, t] = qkv[:, 2]
            a = attend(qkv[:, 0, :, None], self.keys[i, :, :, : t + 1].transpose(-1, -2),
                       self.values[i, :, :, : t + 1], bias)
            x = residual(x, a.view(n, w.inner), b.self_out)
            x = cross_attend(x.view(self.cross.states, self.per_state, -1), b, w, self.cross, i).view(n, -1)
            x = feed_forward(x, b, w)
        self.t += 1
        return logits_of(x, w)

    def reorder(self, rows: Tensor) -> None:
        """Row r continues from row rows[r] (same state): its cache is copied over."""
        t = self.t
        self.keys[:, :, :, :t] = self.keys[:, rows, :, :t]
        self.values[:, :, :, :t] = self.values[:, rows, :, :t]


def teacher_forced_logits(w: T5Weights, cross: CrossAttention, inputs: Tensor) -> Tensor:
    """(states, rows, len, vocab) float32 logits of reading `inputs` (states, rows, len), states in the
    cross-attention's order: decoder input ids (pad, then the target shifted right), all at once."""
    s, r, length = inputs.shape
    n = s * r
    pos = torch.arange(length, device=inputs.device)
    causal = torch.ones(length, length, dtype=torch.bool, device=inputs.device).tril()
    bias = position_bias(w, w.decoder_bias, pos, pos, bidirectional=False).to(w.embed.dtype)
    bias = bias.masked_fill(~causal, torch.finfo(bias.dtype).min)[None]
    x = F.embedding(inputs.view(n, length), w.embed)
    for i, b in enumerate(w.decoder):
        qkv = F.linear(rms_norm(x, b.self_norm, w.eps), b.qkv).view(n, length, 3, w.heads, w.d_kv)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        x = residual(x, a.transpose(1, 2).reshape(n, length, w.inner), b.self_out)
        x = cross_attend(x.view(s, r * length, -1), b, w, cross, i).view(n, length, -1)
        x = feed_forward(x, b, w)
    return logits_of(x, w).view(s, r, length, -1)


class HFDecoder:
    """The Hugging Face T5 decoder with its own cache, one token per `step`, on encoder states repeated
    for each of a state's k rows (cross-attention keys and values computed for every copy): the path
    `IncrementalDecoder` replaces, with the same interface, kept as the reference and the baseline."""

    def __init__(self, t5, encoder_states: Tensor, mask: Tensor, k: int) -> None:
        self.t5, self.enc, self.mask = t5, encoder_states.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
        self.cache = None

    def start(self, token: int) -> Tensor:
        return self.step(torch.full((self.enc.shape[0],), token, dtype=torch.long, device=self.enc.device))

    def step(self, tokens: Tensor) -> Tensor:
        out = self.t5(encoder_outputs=(self.enc,), attention_mask=self.mask, decoder_input_ids=tokens[:, None],
                      cache=self.cache, use_cache=True)
        self.cache = out.cache
        return out.logits[:, -1].float()

    def reorder(self, rows: Tensor) -> None:
        self.cache.reorder_cache(rows)
