"""Gene-set masks: the rule, the chunked CPU kernel and FlexAttention against eager."""

import re

import pytest
import torch

from omicsformer.errors import ConfigError
from omicsformer.nn.attention import BACKENDS, make_backend
from omicsformer.nn.attention.eager import EagerAttention
from omicsformer.nn.attention.masks import GeneSetMask, GroupMask, masked_attention
from omicsformer.nn.settings import AttentionSettings

# 30 genes: sets 0-4 by residue, a few genes in two sets, every fourth gene in none
GENE_SETS = [[] if i % 4 == 3 else ([i % 5, 5] if i % 7 == 0 else [i % 5]) for i in range(30)]
TOLERANCE = {torch.float32: dict(atol=1e-5, rtol=1e-4), torch.bfloat16: dict(atol=2e-2, rtol=2e-2)}


def brute_force(gene_sets, n_global):
    """The mask by its definition, one entry at a time."""
    t = n_global + len(gene_sets)
    mask = torch.zeros(t, t, dtype=torch.bool)
    for a in range(t):
        for b in range(t):
            if a == b or a < n_global or b < n_global:
                mask[a, b] = True
            else:
                mask[a, b] = bool(set(gene_sets[a - n_global]) & set(gene_sets[b - n_global]))
    return mask


def qkv(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g).to(dtype).requires_grad_() for _ in range(3)]


def run(fn, q, k, v):
    out = fn(q, k, v)
    out.backward(torch.linspace(-1, 1, out.numel()).view_as(out).to(out.dtype))
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    return out.detach(), grads


@pytest.mark.parametrize("n_global", [0, 2])
def test_gene_set_rows_follow_the_definition(n_global):
    mask = GeneSetMask(GENE_SETS, n_global)
    expected = brute_force(GENE_SETS, n_global)
    assert torch.equal(mask.dense(1)[0, 0], expected)
    rows = torch.tensor([0, n_global + 3, n_global + 7, mask.n_queries - 1])
    assert torch.equal(mask.rows(rows), expected[rows])
    t = torch.arange(mask.n_queries)
    assert torch.equal(mask.mask_mod()(0, 0, t[:, None], t[None, :]), expected)  # the bitsets
    assert mask.covered() == sum(1 for s in GENE_SETS if s)
    order = mask.query_order()  # the CPU kernel's chunks: genes by first set, globals last
    assert sorted(order.tolist()) == list(range(mask.n_queries))
    first = [min(GENE_SETS[t - n_global], default=99) for t in order.tolist() if t >= n_global]
    assert first == sorted(first) and order[len(order) - n_global :].tolist() == list(
        range(n_global)
    )


def test_bitsets_span_several_words():
    gene_sets = [[i, 70 + i % 3, 130] if i % 2 else [64 + i] for i in range(12)]
    mask = GeneSetMask(gene_sets, 1)
    assert mask.bitsets().shape == (13, 3)
    t = torch.arange(13)
    assert torch.equal(mask.mask_mod()(0, 0, t[:, None], t[None, :]), brute_force(gene_sets, 1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("chunk_rows", [None, 7])
@pytest.mark.parametrize("n_global", [0, 1])
def test_chunked_kernel_equals_eager_with_the_dense_mask(dtype, chunk_rows, n_global):
    mask = GeneSetMask(GENE_SETS, n_global)
    mask.chunk_rows = chunk_rows  # 7: five chunks, the last one short
    dense = mask.dense(1)
    q, k, v = qkv((2, 3, mask.n_queries, 8), dtype)
    expected, expected_grads = run(
        lambda q, k, v: EagerAttention()(q, k, v, mask=dense)[0], q, k, v
    )
    got, grads = run(lambda q, k, v: masked_attention(q, k, v, mask), q, k, v)
    torch.testing.assert_close(got, expected, **TOLERANCE[dtype])
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, **TOLERANCE[dtype])


def test_sparse_sets_gather_the_visible_keys_and_stay_exact():
    """Most genes in no set: each chunk sees few key columns, which are gathered."""
    gene_sets = [[j % 3] if j < 12 else [] for j in range(120)]
    mask = GeneSetMask(gene_sets, 1)
    mask.chunk_rows = 16
    q, k, v = qkv((1, 2, 121, 8))
    expected, expected_grads = run(
        lambda q, k, v: EagerAttention()(q, k, v, mask=mask.dense(1))[0], q, k, v
    )
    got, grads = run(lambda q, k, v: masked_attention(q, k, v, mask), q, k, v)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


def test_group_masks_repeat_over_the_batch():
    """Hybrid layout: batch rows (sample, group); row b uses group b % K's (S, S) mask."""
    index = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 9], [7, 8, 9, 9]])  # 9 = padding
    gene_sets = [[0], [0, 1], [1], [], [2], [2], [0], [3], [4], []][:9]
    mask = GroupMask(gene_sets, index, 9)
    table = torch.stack([mask.rows(torch.arange(4), j) for j in range(3)])  # (K, S, S)
    assert table[0].tolist() == [
        [True, True, False, False],
        [True, True, True, False],
        [False, True, True, False],
        [False, False, False, True],
    ]
    assert table[2].tolist()[2] == [False, False, True, False]  # padding: itself only
    assert table[1].tolist()[0] == [True, True, False, False]  # gene 4 and 5 share set 2
    t = torch.arange(4)
    mod = mask.mask_mod()
    for b in range(6):  # the FlexAttention rule: batch row b is group b % 3
        assert torch.equal(mod(torch.tensor(b), 0, t[:, None], t[None, :]), table[b % 3])
    mask.chunk_rows = 3
    q, k, v = qkv((2 * 3, 2, 4, 8))
    dense = mask.dense(6)  # (B·K, 1, S, S)
    assert torch.equal(dense[4, 0], table[1])
    expected, expected_grads = run(
        lambda q, k, v: EagerAttention()(q, k, v, mask=dense)[0], q, k, v
    )
    got, grads = run(lambda q, k, v: masked_attention(q, k, v, mask), q, k, v)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


MASKING_CPU = [n for n, c in BACKENDS.items() if c.info.supports_mask and "cpu" in c.info.devices]


def test_exact_cpu_backends_with_mask_support_are_eager_and_sdpa():
    assert MASKING_CPU == ["eager", "sdpa"]


@pytest.mark.parametrize("name", MASKING_CPU)
def test_backends_take_the_mask_object_and_give_masked_weight_rows(name):
    mask = GeneSetMask(GENE_SETS, 1)
    q, k, v = (t.detach() for t in qkv((2, 2, mask.n_queries, 8)))
    backend = make_backend(name, n_tokens=mask.n_queries, head_dim=8)
    out, weights = backend(q, k, v, mask=mask, need_weights=True)
    reference, _ = EagerAttention()(q, k, v, mask=mask.dense(1))
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-4)
    allowed = mask.dense(1)[0, 0]
    assert torch.all(weights[..., ~allowed] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, mask.n_queries))
    rows = torch.tensor([0, 5, 30])
    torch.testing.assert_close(backend.weight_rows(q, k, rows, mask), weights[:, :, rows])


def test_mask_settings_are_checked_with_one_clear_line(tmp_path):
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("S1\td\tg0\tg1\n")
    assert AttentionSettings().gene_set_file() is None
    assert AttentionSettings(attention_mask=f"gmt:{gmt}").gene_set_file() == gmt
    shipped = AttentionSettings(attention_mask="go-bp").gene_set_file()
    assert shipped.name == "go_bp.gmt.gz" and shipped.is_file()
    cases = [
        ({"attention_mask": "go-mf"}, "attention_mask must be none or gmt:PATH (or go-bp"),
        ({"attention_mask": "go-bp", "attention": "linformer"}, "'linformer' is an approx"),
        ({"attention_mask": "sets.gmt"}, "attention_mask must be none or gmt:PATH"),
        ({"attention_mask": f"gmt:{tmp_path / 'no.gmt'}"}, "gene-set file"),
        (
            {"attention_mask": f"gmt:{gmt}", "attention": "performer"},
            "needs a backend that honours masks (eager, sdpa); 'performer' is an approximation",
        ),
        ({"attention_mask": f"gmt:{gmt}", "attention": "linformer"}, "'linformer' is an approx"),
        ({"attention_mask": f"gmt:{gmt}", "attention": "flash"}, "a kernel without masks"),
        ({"attention_mask": f"gmt:{gmt}", "sdpa_kernel": "math"}, "sdpa_kernel=math cannot"),
    ]
    for options, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)) as caught:
            AttentionSettings(**options).gene_set_file()
        assert "\n" not in str(caught.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("kind", ["gene-sets", "groups"])
def test_flex_attention_on_gpu_equals_eager(kind):  # pragma: no cover - runs only where a GPU is
    if kind == "gene-sets":
        mask, batch = GeneSetMask(GENE_SETS * 10, 1), 2
    else:
        index = torch.arange(12).view(3, 4)
        mask, batch = GroupMask([[i % 2] for i in range(12)], index, 12), 6
    mask = mask.cuda()
    q, k, v = (t.cuda().detach().requires_grad_() for t in qkv((batch, 2, mask.n_queries, 16)))
    dense = mask.dense(batch)
    expected, expected_grads = run(
        lambda q, k, v: EagerAttention()(q, k, v, mask=dense)[0], q, k, v
    )
    got, grads = run(lambda q, k, v: masked_attention(q, k, v, mask), q, k, v)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-3)
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, atol=1e-4, rtol=1e-3)


def test_a_gpu_without_triton_is_refused_before_any_data(tmp_path, monkeypatch):
    import importlib.util

    gmt = tmp_path / "sets.gmt"
    gmt.write_text("S1\td\tg0\tg1\n")
    settings = AttentionSettings(attention_mask=f"gmt:{gmt}")
    assert settings.gene_set_file("cpu") == gmt
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "triton" else real(name, *a)
    )
    with pytest.raises(ConfigError, match="needs triton"):
        settings.gene_set_file("cuda")
