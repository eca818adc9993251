"""Structured attention masks (gene sets) and the exact kernels that honour them without N x M.

Notation as in :mod:`omicsformer.nn.attention.base` (B batch, H heads, N queries, M keys, D head
dimension), plus R query rows of a chunk, P mask patterns, g global tokens, S gene sets.

A dense boolean mask of 60,000 gene tokens would take 3.6 GB (and the float mask SDPA converts it
to, 14.4 GB). A :class:`StructuredMask` is instead a rule that produces any rows of the mask on
demand, ``rows(rows, pattern) -> (R, M)``; batch row b uses pattern ``b % P`` (P = 1: the same
mask for every row; the hybrid: one pattern per gene group, its rows being (sample, group)):

- :class:`GeneSetMask`: a gene attends to itself and to the genes it shares at least one gene set
  with; the first g tokens are global (they attend to every token, every token attends to them),
  as in BigBird (Zaheer et al., NeurIPS 2020), so information crosses sets within two layers.
- :class:`GroupMask`: the gene-set rule within each gene group of the hybrid (S positions per
  group, padding sees itself only), repeated over the batch.

:func:`masked_attention` computes softmax(QKᵀ/√D + mask)V exactly with one of two kernels:

- CUDA: FlexAttention (Guessous et al. 2024, ``torch.nn.attention.flex_attention``) with a
  ``BlockMask`` made by ``create_block_mask`` from the rule's ``mask_mod`` (a gene's set
  memberships as a bitset, compared with a bitwise and), compiled with ``torch.compile``: one
  fused kernel, forward and backward, that never forms N x M and skips the 128 x 128 blocks
  with no allowed pair (few, with genes in data order: sets are scattered over it). Not measured
  in this project yet (no GPU was available); covered by a test that runs where CUDA is.
- CPU: query chunks. FlexAttention is *not* used on CPU, because in PyTorch 2.13 it cannot train
  there: with inputs that require grad it raises "FlexAttention does not support backward on
  CPU", eagerly and under ``torch.compile`` alike. For inference alone it is slower than the
  alternatives: eagerly it materialises the full score matrix; compiled (10 s of compilation),
  a forward over 2,048 tokens (4 heads of 32, 5 % gene-set density) took 0.18 s on the
  development machine, against 0.06 s for SDPA with a dense boolean mask and 0.04 s for this
  kernel. Instead, each chunk of R query rows (256) builds its (R, M) mask slice from the rule,
  drops the key columns that no query of the chunk may see, and runs PyTorch's fused CPU
  flash-attention kernel on it, forward and backward (the private ATen ops behind
  ``scaled_dot_product_attention``: the public function neither returns the log-sum-exp nor
  offers a backward that takes it); the backward rebuilds each slice instead of storing it.
  Chunks take the genes sorted by set (:meth:`StructuredMask.query_order`), so that a chunk's
  rows share sets and see few key columns: the work then follows the number of allowed pairs,
  not N x M. Memory: O(R·M) for the slice, O(N·D) for what autograd keeps, never N x M.

Every query row must allow at least one key: both rules allow the diagonal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

CHUNK_ROWS = 256  # query rows per chunk: small chunks of set-sorted genes see few key columns
CHUNK_ELEMENTS = 2**24  # at most this many mask-slice entries per chunk (64 MB of fp32 bias)
GATHER_BELOW = 0.5  # gather a chunk's visible key columns when fewer than this fraction of M


def _ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """The concatenation of ``arange(s, s + c)`` for every (s, c) pair: (sum(counts),)."""
    total = int(counts.sum())
    if total == 0:
        return starts.new_zeros(0)
    offsets = torch.cumsum(counts, 0) - counts  # where each range begins in the output
    return torch.repeat_interleave(starts - offsets, counts) + torch.arange(
        total, device=starts.device
    )


class StructuredMask(nn.Module):
    """A boolean attention mask (P, N, M) given by a rule; rows are built on demand.

    True = may attend (the SDPA convention). Batch row b of the attention uses pattern b % P.
    Subclasses implement :meth:`rows` and :meth:`mask_mod`; buffers are not saved with the model
    (they are rebuilt from the architecture recorded in model.json).

    Attributes
    ----------
    patterns
        P, the number of distinct masks.
    n_queries, n_keys
        N and M.
    chunk_rows
        Query rows per chunk of the CPU kernel; None: ``CHUNK_ROWS``, fewer if M is so large
        that a chunk's mask slice would exceed ``CHUNK_ELEMENTS``.
    """

    patterns: int
    n_queries: int
    n_keys: int

    def __init__(self) -> None:
        super().__init__()
        self.chunk_rows: int | None = None
        self._block_masks: dict[tuple[int, str], object] = {}

    def rows(self, rows: Tensor, pattern: int = 0) -> Tensor:
        """Mask rows ``rows`` (R,) of pattern ``pattern``: (R, M) bool."""
        raise NotImplementedError

    def mask_mod(self) -> Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]:
        """The rule as a FlexAttention ``mask_mod(b, h, q_idx, kv_idx) -> bool``."""
        raise NotImplementedError

    def query_order(self, pattern: int = 0) -> Tensor:
        """The order in which the CPU kernel takes query rows, chunk by chunk: (N,). Rows that
        see the same keys should be close, so that a chunk sees few key columns."""
        return torch.arange(self.n_queries, device=self._device())

    def dense(self, batch: int, rows: Tensor | None = None) -> Tensor:
        """The mask as a tensor for SDPA-style kernels: (batch or 1, 1, R, M) bool.

        Materialises R x M per pattern: for the reference kernel, tests and small N only.
        """
        device = self._device()
        rows = torch.arange(self.n_queries, device=device) if rows is None else rows.to(device)
        if self.patterns == 1:
            return self.rows(rows)[None, None]  # (1, 1, R, M)
        each = torch.stack([self.rows(rows, p) for p in range(self.patterns)])  # (P, R, M)
        pattern = torch.arange(batch, device=device) % self.patterns
        return each[pattern].unsqueeze(1)  # (B, 1, R, M)

    def block_mask(self, batch: int, device: torch.device) -> object:
        """A FlexAttention ``BlockMask`` for ``batch`` rows on ``device``, made once and kept."""
        from torch.nn.attention.flex_attention import create_block_mask

        b = batch if self.patterns > 1 else 1
        key = (b, str(device))
        if key not in self._block_masks:
            # torch.compile'd creation evaluates the rule block by block (never N x M at once)
            make = torch.compile(create_block_mask)
            self._block_masks[key] = make(
                self.mask_mod(),
                b if self.patterns > 1 else None,
                None,
                self.n_queries,
                self.n_keys,
                device=device,
            )
        return self._block_masks[key]

    def _apply(self, fn, recurse=True):  # moving the buffers invalidates the block masks
        self._block_masks = {}
        return super()._apply(fn, recurse)

    def _device(self) -> torch.device:
        buffer = next(self.buffers(), None)
        return buffer.device if buffer is not None else torch.device("cpu")


class GeneSetMask(StructuredMask):
    """Gene tokens attend to the genes they share a gene set with; g global tokens in front.

    Token t < g is global; token t >= g is gene t - g. Query t may attend key u if t == u, t < g,
    u < g, or genes t - g and u - g share a set. One pattern (P = 1).

    Parameters
    ----------
    gene_sets
        For each gene, the indices of the sets it belongs to (an empty list: in no set).
    n_global
        g, the number of global tokens in front of the genes.
    """

    def __init__(self, gene_sets: Sequence[Sequence[int]], n_global: int = 0) -> None:
        super().__init__()
        self.patterns = 1
        self.n_global = n_global
        self.n_queries = self.n_keys = n_global + len(gene_sets)
        counts = torch.tensor([len(s) for s in gene_sets], dtype=torch.long)
        flat = torch.tensor([i for s in gene_sets for i in s], dtype=torch.long)  # (nnz,)
        gene_of = torch.repeat_interleave(torch.arange(len(gene_sets)), counts)  # (nnz,)
        self.n_sets = int(flat.max()) + 1 if len(flat) else 0
        order = torch.argsort(flat * len(gene_sets) + gene_of)  # pairs sorted by set, then gene
        set_counts = torch.bincount(flat, minlength=self.n_sets)
        # compressed rows both ways: gene -> its sets, set -> its genes
        self.register_buffer("gene_ptr", _pointers(counts), persistent=False)  # (G + 1,)
        self.register_buffer("gene_sets", flat, persistent=False)  # (nnz,)
        self.register_buffer("set_ptr", _pointers(set_counts), persistent=False)  # (S + 1,)
        self.register_buffer("set_genes", gene_of[order], persistent=False)  # (nnz,)
        # the CPU kernel's query order: genes by their first set (members of a set together),
        # genes in no set after them, the global tokens (which see everything) last
        first = torch.full((len(gene_sets),), self.n_sets, dtype=torch.long)
        first = first.scatter_reduce(0, gene_of, flat, reduce="amin")  # (G,)
        genes_by_set = torch.argsort(first, stable=True) + n_global
        by_set = torch.cat([genes_by_set, torch.arange(n_global)])  # (N,)
        self.register_buffer("by_set", by_set, persistent=False)

    def rows(self, rows: Tensor, pattern: int = 0) -> Tensor:
        g = self.n_global
        rows = rows.to(self.gene_ptr.device)
        r = len(rows)
        out = torch.zeros(r, self.n_keys, dtype=torch.bool, device=rows.device)  # (R, M)
        out[:, :g] = True  # every token sees the global tokens
        out.index_fill_(0, torch.nonzero(rows < g).squeeze(1), True)  # globals see every token
        out[torch.arange(r, device=rows.device), rows] = True  # itself
        local = torch.nonzero(rows >= g).squeeze(1)  # chunk positions holding genes
        genes = rows[local] - g
        starts = self.gene_ptr[genes]
        counts = self.gene_ptr[genes + 1] - starts
        pair_row = torch.repeat_interleave(local, counts)  # one (row, set) pair per membership
        pair_set = self.gene_sets[_ranges(starts, counts)]
        set_starts = self.set_ptr[pair_set]
        sizes = self.set_ptr[pair_set + 1] - set_starts
        keys = self.set_genes[_ranges(set_starts, sizes)] + g  # every member of every such set
        out[torch.repeat_interleave(pair_row, sizes), keys] = True
        return out

    def query_order(self, pattern: int = 0) -> Tensor:
        return self.by_set

    def bitsets(self) -> Tensor:
        """Each token's sets as bits of int64 words: (N, W), W = ceil(S / 64); globals are 0."""
        words = max(1, -(-self.n_sets // 64))
        bits = torch.zeros(self.n_keys, words, dtype=torch.long, device=self.gene_ptr.device)
        counts = self.gene_ptr[1:] - self.gene_ptr[:-1]
        token = torch.repeat_interleave(torch.arange(len(counts), device=bits.device), counts)
        token = token + self.n_global
        word, bit = self.gene_sets // 64, self.gene_sets % 64
        value = torch.ones_like(bit) << bit  # bit 63 gives the sign bit, fine for & and != 0
        # one set appears once per gene, so adding the bits of a word is the same as or-ing them
        bits.index_put_((token, word), value, accumulate=True)
        return bits

    def mask_mod(self) -> Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]:
        bits, g = self.bitsets(), self.n_global  # (N, W)

        def gene_sets(b: Tensor, h: Tensor, q: Tensor, kv: Tensor) -> Tensor:
            allowed = (q == kv) | (q < g) | (kv < g)
            for w in range(bits.shape[1]):
                allowed = allowed | ((bits[q, w] & bits[kv, w]) != 0)
            return allowed

        return gene_sets

    def covered(self) -> int:
        """Number of genes in at least one set."""
        return int(((self.gene_ptr[1:] - self.gene_ptr[:-1]) > 0).sum())


class GroupMask(StructuredMask):
    """Gene-set masks within gene groups, repeated over the batch (batch row b is group b % K).

    Within group j, position a attends to position b if a == b or their genes share a set;
    padded positions (``index`` = ``n_genes``) attend only to themselves. Each group is a
    :class:`GeneSetMask` over its own positions (no global tokens), so the rows are made on demand
    too: a large group (e.g. the genes in no set of a ``gmt:`` grouping) never needs S x S.

    Parameters
    ----------
    gene_sets
        For each gene, the indices of the sets it belongs to.
    index
        (K, S) the gene at each position of each group; ``n_genes`` marks padding.
    n_genes
        G, the number of genes.
    """

    def __init__(self, gene_sets: Sequence[Sequence[int]], index: Tensor, n_genes: int) -> None:
        super().__init__()
        self.patterns, self.n_queries = index.shape
        self.n_keys = self.n_queries
        groups = []
        for genes in index.tolist():
            members = [gene_sets[gene] if gene < n_genes else [] for gene in genes]
            local = {i: c for c, i in enumerate(sorted({i for m in members for i in m}))}
            groups.append(GeneSetMask([[local[i] for i in m] for m in members]))
        self.groups = nn.ModuleList(groups)

    def rows(self, rows: Tensor, pattern: int = 0) -> Tensor:
        return self.groups[pattern].rows(rows)  # (R, S)

    def query_order(self, pattern: int = 0) -> Tensor:
        return self.groups[pattern].query_order()

    def mask_mod(self) -> Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]:
        each = [group.bitsets() for group in self.groups]  # K x (S, W_j)
        words = max(b.shape[1] for b in each)
        bits = torch.stack([nn.functional.pad(b, (0, words - b.shape[1])) for b in each])
        k = self.patterns  # bits: (K, S, W)

        def group_sets(b: Tensor, h: Tensor, q: Tensor, kv: Tensor) -> Tensor:
            allowed = q == kv
            for w in range(words):
                allowed = allowed | ((bits[b % k, q, w] & bits[b % k, kv, w]) != 0)
            return allowed

        return group_sets


def _pointers(counts: Tensor) -> Tensor:
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


def masked_attention(q: Tensor, k: Tensor, v: Tensor, mask: StructuredMask) -> Tensor:
    """Exact softmax(QKᵀ/√D)V under ``mask``: q (B, H, N, D), k, v (B, H, M, D) -> (B, H, N, D).

    FlexAttention on CUDA, the chunked flash kernel on CPU (see the module docstring).
    """
    if q.shape[0] % mask.patterns:
        raise ValueError(f"batch {q.shape[0]} is not a multiple of {mask.patterns} mask patterns")
    if q.device.type == "cuda":
        block = mask.block_mask(q.shape[0], q.device)
        return _compiled_flex_attention()(q, k, v, block_mask=block)  # (B, H, N, D)
    if q.device.type != "cpu":
        raise ValueError(f"gene-set masks run on cpu and cuda, not {q.device.type}")
    with torch.autocast("cpu", enabled=False):  # the kernel runs in the dtype of q, k, v
        return _ChunkedMaskedAttention.apply(q, k, v, mask)


@functools.cache
def _compiled_flex_attention() -> Callable[..., Tensor]:
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention)


def _chunks(mask: StructuredMask, pattern: int, m: int, device: torch.device) -> list[Tensor]:
    """Query rows of each chunk, in the mask's query order: a list of (R,) indices."""
    size = mask.chunk_rows or max(1, min(CHUNK_ROWS, CHUNK_ELEMENTS // max(m, 1)))
    return list(mask.query_order(pattern).to(device).split(size))


def _slice(mask: StructuredMask, rows: Tensor, pattern: int, dtype: torch.dtype, device):
    """The additive mask of a chunk (1, 1, R, M') and the key columns it keeps (None: all M)."""
    allowed = mask.rows(rows, pattern).to(device)  # (R, M)
    columns = None
    visible = allowed.any(dim=0)  # (M,) keys some query of the chunk may see
    if int(visible.sum()) < GATHER_BELOW * allowed.shape[1]:
        columns = torch.nonzero(visible).squeeze(1)  # (M',)
        allowed = allowed[:, columns]  # (R, M')
    zero = torch.zeros((), dtype=dtype, device=device)
    bias = torch.where(allowed, zero, float("-inf"))  # (R, M') additive mask
    return bias[None, None], columns


def _by_pattern(t: Tensor, patterns: int, pattern: int) -> Tensor:
    """Batch rows b with b % P == pattern, as a view: (B / P, H, T, D)."""
    return t.view(t.shape[0] // patterns, patterns, *t.shape[1:])[:, pattern]


class _ChunkedMaskedAttention(torch.autograd.Function):
    """Query chunks through ATen's fused CPU flash-attention forward and backward.

    The backward of attention is a sum over queries for dK and dV and row-local for dQ, so
    running the flash backward on each chunk (with that chunk's output and log-sum-exp) and
    adding the dK, dV of the chunks gives the exact gradients. Chunks follow the mask's query
    order (gene-set masks: genes sorted by set), so that a chunk sees few key columns and only
    those are computed.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, mask: StructuredMask) -> Tensor:
        flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        b, h, n, d = q.shape
        scale = d**-0.5
        out = q.new_empty(b, h, n, d)  # (B, H, N, D)
        lse = q.new_empty(b, h, n, dtype=torch.float32)  # (B, H, N) log-sum-exp of each row
        for p in range(mask.patterns):
            qp, kp, vp = (_by_pattern(t, mask.patterns, p) for t in (q, k, v))
            out_p, lse_p = _by_pattern(out, mask.patterns, p), _by_pattern(lse, mask.patterns, p)
            for rows in _chunks(mask, p, k.shape[-2], q.device):
                bias, columns = _slice(mask, rows, p, q.dtype, q.device)  # (1, 1, R, M')
                kc, vc = (kp, vp) if columns is None else (kp[:, :, columns], vp[:, :, columns])
                qc = qp.index_select(2, rows)  # (B / P, H, R, D)
                o, row_lse = flash(qc, kc, vc, attn_mask=bias, scale=scale)
                out_p[:, :, rows] = o  # (B / P, H, R, D)
                lse_p[:, :, rows] = row_lse  # (B / P, H, R)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.mask = mask
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        flash_backward = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
        q, k, v, out, lse = ctx.saved_tensors
        mask: StructuredMask = ctx.mask
        scale = q.shape[-1] ** -0.5
        grad_out = grad_out.contiguous()  # (B, H, N, D); may arrive expanded or strided
        dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        with torch.autocast("cpu", enabled=False):
            for p in range(mask.patterns):
                qp, kp, vp, op, gp = (
                    _by_pattern(t, mask.patterns, p) for t in (q, k, v, out, grad_out)
                )
                lp = _by_pattern(lse, mask.patterns, p)
                dqp, dkp, dvp = (_by_pattern(t, mask.patterns, p) for t in (dq, dk, dv))
                for rows in _chunks(mask, p, k.shape[-2], q.device):
                    bias, columns = _slice(mask, rows, p, q.dtype, q.device)
                    kc, vc = (kp, vp) if columns is None else (kp[:, :, columns], vp[:, :, columns])
                    gq, gk, gv = flash_backward(
                        gp.index_select(2, rows),  # (B / P, H, R, D)
                        qp.index_select(2, rows),
                        kc,
                        vc,
                        op.index_select(2, rows),
                        lp.index_select(2, rows),  # (B / P, H, R)
                        0.0,
                        False,
                        attn_mask=bias,
                        scale=scale,
                    )
                    dqp[:, :, rows] = gq  # (B / P, H, R, D)
                    if columns is None:
                        dkp += gk  # (B / P, H, M, D)
                        dvp += gv
                    else:
                        dkp.index_add_(2, columns, gk)
                        dvp.index_add_(2, columns, gv)
        return dq, dk, dv, None
