"""Survival metrics (pure functions) and the Breslow baseline hazard.

Notation: ``time`` (N,) follow-up times, ``event`` (N,) booleans (True = the event was observed,
False = censored), ``risk`` (N,) predicted log hazard ratios (higher = earlier event).

The concordance indices, time-dependent AUC and Brier score come from scikit-survival (a
maintained library; its numbers are checked against a brute-force implementation in the tests).
Uno's C, the AUC and the Brier score weight by the inverse probability of censoring, estimated
with Kaplan-Meier on the *training* targets. That estimate ends at the last training time, so
evaluated patients followed beyond it are left out of these three (as scikit-survival requires);
they are NaN where they are undefined (no comparable pair, horizons outside the follow-up).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.util import Surv


def _surv(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    return Surv.from_arrays(event=np.asarray(event, dtype=bool), time=np.asarray(time, float))


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance index: the share of comparable pairs ordered correctly by risk."""
    event = np.asarray(event, dtype=bool)
    if event.sum() == 0:
        return math.nan
    try:
        return float(concordance_index_censored(event, np.asarray(time, float), risk)[0])
    except ValueError:  # no comparable pair
        return math.nan


def _within_training(
    train_time: np.ndarray, time: np.ndarray, *arrays: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Keep the evaluated patients whose time is below the largest training time."""
    keep = np.asarray(time, float) < float(np.max(train_time))
    return tuple(np.asarray(a)[keep] for a in (time, *arrays))


def uno_c(
    train_time: np.ndarray,
    train_event: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
) -> float:
    """Uno's IPCW concordance, truncated at τ = the 90th percentile of the training follow-up.

    Beyond that few patients remain at risk and the inverse-censoring weights explode (a single
    late event can swing the index by 0.5); Uno et al. (2011) truncate for the same reason.
    """
    time, event, risk = _within_training(train_time, time, event, risk)
    if np.asarray(event, bool).sum() == 0:
        return math.nan
    tau = float(np.quantile(train_time, 0.9))
    try:
        return float(
            concordance_index_ipcw(
                _surv(train_time, train_event), _surv(time, event), risk, tau=tau
            )[0]
        )
    except ValueError:
        return math.nan


def valid_times(times: np.ndarray, time: np.ndarray, train_time: np.ndarray) -> np.ndarray:
    """The ``times`` inside the evaluated follow-up [min, max) and below the training maximum."""
    times = np.asarray(times, float)
    low, high = float(np.min(time)), min(float(np.max(time)), float(np.max(train_time)))
    return times[(times >= low) & (times < high)]


def time_dependent_auc(
    train_time: np.ndarray,
    train_event: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    horizons: np.ndarray,
) -> dict[float, float]:
    """Cumulative/dynamic AUC at each horizon (NaN where the horizon is outside the follow-up)."""
    result = {float(h): math.nan for h in horizons}
    time, event, risk = _within_training(train_time, time, event, risk)
    if len(time) == 0:
        return result
    usable = valid_times(horizons, time, train_time)
    if len(usable) == 0 or np.asarray(event, bool).sum() == 0:
        return result
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aucs, _ = cumulative_dynamic_auc(
                _surv(train_time, train_event), _surv(time, event), risk, usable
            )
    except ValueError:
        return result
    result.update({float(h): float(a) for h, a in zip(usable, np.atleast_1d(aucs), strict=True)})
    return result


def integrated_brier(
    train_time: np.ndarray,
    train_event: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    survival: np.ndarray,
    times: np.ndarray,
) -> float:
    """Integrated Brier score of predicted survival probabilities ``survival`` (N, T) at ``times``.

    Only the times inside the evaluated follow-up are used; NaN if fewer than two remain.
    """
    times = np.asarray(times, float)
    time, event, survival = _within_training(train_time, time, event, survival)
    if len(time) == 0:
        return math.nan
    keep = np.isin(times, valid_times(times, time, train_time))
    if keep.sum() < 2:
        return math.nan
    try:
        return float(
            integrated_brier_score(
                _surv(train_time, train_event), _surv(time, event), survival[:, keep], times[keep]
            )
        )
    except ValueError:
        return math.nan


def breslow_baseline(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Breslow's estimate of the cumulative baseline hazard H₀ at the distinct event times.

    ΔH₀(τ) = d(τ) / Σ_{j: t_j >= τ} exp(risk_j); risks are used as given (centre them first for
    numerical safety). Returns (event times, H₀ at those times).
    """
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    order = np.argsort(-time, kind="stable")
    at_risk = np.cumsum(np.exp(risk[order]))  # Σ exp(risk) over t_j >= t_(i), descending order
    t_sorted = time[order]
    event_times = np.unique(time[event])
    hazard = np.empty(len(event_times))
    for i, tau in enumerate(event_times):
        d = np.sum(event & (time == tau))
        last = np.searchsorted(-t_sorted, -tau, side="right") - 1  # last index with t >= tau
        hazard[i] = d / at_risk[last]
    return event_times, np.cumsum(hazard)


def survival_probabilities(
    event_times: np.ndarray, cumulative_hazard: np.ndarray, risk: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """S(t | x) = exp(-H₀(t) exp(risk)) at ``times``: (N, T)."""
    index = np.searchsorted(event_times, np.asarray(times, float), side="right") - 1
    h0 = np.where(index >= 0, np.asarray(cumulative_hazard)[np.clip(index, 0, None)], 0.0)  # (T,)
    return np.exp(-np.outer(np.exp(np.asarray(risk, float)), h0))
