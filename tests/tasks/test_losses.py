"""The Cox partial likelihood against a brute-force reference, with tied event times."""

import math

import numpy as np
import pytest
import torch

from omicsformer.tasks.losses import cox_loss


def brute_force(risk, time, event, ties):
    """Textbook partial likelihood, one event time at a time."""
    log_lik, n_events = 0.0, 0
    for t in sorted(set(time[event == 1])):
        dead = [i for i in range(len(time)) if time[i] == t and event[i] == 1]
        at_risk = [j for j in range(len(time)) if time[j] >= t]
        risk_sum = sum(math.exp(risk[j]) for j in at_risk)
        tied_sum = sum(math.exp(risk[i]) for i in dead)
        for rank, i in enumerate(dead):
            log_lik += risk[i]
            if ties == "breslow":
                log_lik -= math.log(risk_sum)
            else:
                log_lik -= math.log(risk_sum - rank / len(dead) * tied_sum)
        n_events += len(dead)
    return -log_lik / n_events


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cox_loss_matches_brute_force_with_ties(ties, seed):
    rng = np.random.default_rng(seed)
    n = 25
    time = rng.integers(1, 8, size=n).astype(float)  # few distinct times: many ties
    event = (rng.random(n) < 0.7).astype(float)
    risk = rng.normal(size=n)
    got = cox_loss(torch.tensor(risk), torch.tensor(time), torch.tensor(event), ties).item()
    assert got == pytest.approx(brute_force(risk, time, event, ties), rel=1e-10)


def test_efron_equals_breslow_without_ties():
    rng = np.random.default_rng(3)
    time = torch.tensor(rng.permutation(20).astype(float) + 1)
    event = torch.tensor((rng.random(20) < 0.6).astype(float))
    risk = torch.tensor(rng.normal(size=20))
    assert cox_loss(risk, time, event, "efron").item() == pytest.approx(
        cox_loss(risk, time, event, "breslow").item()
    )


def test_no_events_gives_zero_loss_with_a_gradient_path():
    risk = torch.randn(5, requires_grad=True)
    loss = cox_loss(risk, torch.arange(5.0), torch.zeros(5))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(risk.grad == 0)


def test_gradient_is_finite_for_large_risks_and_orders_correctly():
    risk = torch.tensor([50.0, -50.0, 0.0], requires_grad=True, dtype=torch.float64)
    loss = cox_loss(risk, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 0.0]), "efron")
    loss.backward()
    assert torch.isfinite(risk.grad).all()
    # the correct ordering (early death = high risk) has a lower loss than the reverse
    good = cox_loss(torch.tensor([2.0, 1.0, 0.0]), torch.tensor([1.0, 2.0, 3.0]), torch.ones(3))
    bad = cox_loss(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0]), torch.ones(3))
    assert good < bad
