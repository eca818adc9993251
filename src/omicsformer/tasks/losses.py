"""Losses for survival: the Cox partial log-likelihood over a batch's risk sets.

Notation: ``risk`` (N,) log hazard ratios, ``time`` (N,), ``event`` (N,) 0/1.

For each observed event at time t the risk set is every sample of the batch still followed at t
(time >= t). Ties (several events at one time) are handled as

- Breslow: each tied event sees the whole risk set, -Σ_i [r_i - log Σ_{j in R(t_i)} e^{r_j}];
- Efron: the d tied events at t share it progressively,
  -Σ_t [Σ_{i in D(t)} r_i - Σ_{l=0}^{d-1} log(Σ_{R(t)} e^r - (l/d) Σ_{D(t)} e^r)].

The loss is averaged over the events of the batch (0 for a batch without events: it carries no
information for a Cox model). Computed in float64 on sorted times with a log-cumsum-exp.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cox_loss(risk: Tensor, time: Tensor, event: Tensor, ties: str = "breslow") -> Tensor:
    """Negative Cox partial log-likelihood per event."""
    risk, time, event = (
        risk.double().reshape(-1),
        time.double().reshape(-1),
        event.double().reshape(-1),
    )
    n_events = event.sum()
    if n_events == 0:
        return risk.sum() * 0.0  # keeps the graph; no information in this batch
    order = torch.argsort(time, descending=True, stable=True)
    r, t, e = risk[order], time[order], event[order]
    _, counts = torch.unique_consecutive(t, return_counts=True)  # tie groups, descending time
    ends = torch.cumsum(counts, 0) - 1
    log_risk_set = torch.logcumsumexp(r, 0)[ends].repeat_interleave(counts)  # log Σ_{t_j >= t_i}
    if ties == "breslow":
        log_lik = (e * (r - log_risk_set)).sum()
        return -log_lik / n_events
    if ties != "efron":
        raise ValueError(f"unknown ties method {ties!r}")
    group = torch.repeat_interleave(torch.arange(len(counts), device=r.device), counts)
    shift = r.max().detach()
    tied = torch.zeros(len(counts), dtype=r.dtype, device=r.device).index_add(
        0, group, e * torch.exp(r - shift)
    )  # Σ_{D(t)} e^{r - shift} per tie group
    d = torch.zeros(len(counts), dtype=r.dtype, device=r.device).index_add(0, group, e)
    # rank l of each event inside its tie group (0, 1, ..., d - 1)
    cum_events = torch.cumsum(e, 0)
    before_group = torch.cat([cum_events.new_zeros(1), cum_events[ends][:-1]])
    rank = (cum_events - before_group.repeat_interleave(counts) - 1) * e
    fraction = rank / d[group].clamp(min=1)
    risk_set = torch.exp(log_risk_set - shift)  # Σ_{R(t)} e^{r - shift}
    log_terms = torch.log(risk_set - fraction * tied[group]) + shift
    log_lik = (e * (r - log_terms)).sum()
    return -log_lik / n_events
