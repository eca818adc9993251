"""Starting a network from a pretrained one (``--init P``): copy its weights, freeze all but the
head (``--finetune head``).

A model module, so that :mod:`omicsformer.models.neural` needs nothing from
:mod:`omicsformer.pretrain` (which builds on the models); ``pretrained`` is a
:class:`~omicsformer.pretrain.run.Pretrained`: ``genes``, ``state`` and ``describe()`` are read.
"""

from __future__ import annotations

from typing import Any

from torch import nn


def transfer(module: nn.Module, pretrained: Any, genes: list[str]) -> str:
    """Copy ``pretrained``'s weights into ``module`` (built for ``genes``); return a summary.

    Every tensor whose name and shape match is copied, except the output head (the network's
    ``head_prefixes``); per-gene tables (``gene_tables``) are matched row by row by gene name
    when the gene lists differ. Nothing that does not fit is forced: what was skipped is said.
    """
    state = module.state_dict()
    source = pretrained.state
    heads = tuple(getattr(module, "head_prefixes", ("head",)))
    tables = set(getattr(module, "gene_tables", ()))
    position = {g: i for i, g in enumerate(pretrained.genes)}
    rows = [(i, position[g]) for i, g in enumerate(genes) if g in position]
    same_genes = list(genes) == list(pretrained.genes)
    copied, skipped = 0, []
    for name, tensor in state.items():
        if name.startswith(heads):
            continue
        if name not in source:
            skipped.append(name)
            continue
        if name in tables and not same_genes:
            mine, theirs = zip(*rows, strict=True) if rows else ((), ())
            tensor[list(mine)] = source[name][list(theirs)].to(tensor.dtype)
            copied += 1
        elif source[name].shape == tensor.shape:
            tensor.copy_(source[name])
            copied += 1
        else:
            skipped.append(name)
    module.load_state_dict(state)
    total = sum(1 for name in state if not name.startswith(heads))
    text = (
        f"initialised from {pretrained.describe()}: {copied} of {total} tensors, "
        f"{len(rows)} of {len(genes)} genes matched"
    )
    if skipped:
        text += f"; not transferred (new or of another shape): {', '.join(skipped[:6])}"
        text += f" ... ({len(skipped)} in all)" if len(skipped) > 6 else ""
    return text


def freeze_all_but_head(module: nn.Module) -> int:
    """``--finetune head``: only the output head trains; returns its parameter count."""
    heads = tuple(getattr(module, "head_prefixes", ("head",)))
    trainable = 0
    for name, parameter in module.named_parameters():
        parameter.requires_grad_(name.startswith(heads))
        trainable += parameter.numel() if name.startswith(heads) else 0
    return trainable
