"""Survival (prognosis): time-to-event with censoring; models output a risk (log hazard ratio).

Targets are two columns, the follow-up time and the event indicator (1 = the event was observed,
0 = censored). Bad values are an error, never silently dropped: a missing or negative time, an
event that is not 0/1 or boolean, no events at all; a split with fewer than :data:`MIN_EVENTS`
events (or no comparable pair) in one of its parts (:meth:`SurvivalTask.check_parts`, before
anything is trained).

Neural models are trained with the Cox partial likelihood over each batch's risk sets
(:mod:`omicsformer.tasks.losses`). After training, a Breslow baseline hazard is fitted on the
training risks, which turns any model's risk into survival curves S(t | x); predictions.csv gets
the risk and the survival probabilities at the horizons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from omicsformer.errors import ConfigError, DataError
from omicsformer.metrics import survival as sm
from omicsformer.tasks.base import TargetInfo
from omicsformer.tasks.losses import cox_loss
from omicsformer.tuning.space import Choice

if TYPE_CHECKING:
    from omicsformer.report.html import Section

TRUE_WORDS = {"1", "1.0", "true", "yes", "dead", "event"}
# events every part of a split (train / val / test, each fold's) needs: with fewer, Harrell's C
# rests on a handful of pairs (0 or 1 from a single pair), the time-dependent AUC and Brier score
# are undefined, and the inner folds of coxph / rsf have no comparable pair to score
MIN_EVENTS = 3
FALSE_WORDS = {"0", "0.0", "false", "no", "alive", "censored"}


def parse_events(series: pd.Series, column: str) -> np.ndarray:
    """0/1, booleans or their usual words -> bool; anything else (missing too) is an error."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=bool)
    text = series.astype(str).str.strip().str.lower()
    bad = series.isna().to_numpy() | ~text.isin(TRUE_WORDS | FALSE_WORDS).to_numpy()
    if bad.any():
        values = ", ".join(sorted(set(series[bad].astype(str)))[:5])
        raise DataError(
            f"event column {column!r} must hold 0/1 or true/false; found {int(bad.sum())} other "
            f"value(s): {values}"
        )
    return text.isin(TRUE_WORDS).to_numpy()


def comparable_pairs(time: np.ndarray, event: np.ndarray) -> int:
    """The pairs Harrell's C can order: patient i with an event, j followed longer (t_j > t_i)."""
    time = np.asarray(time, float)
    later = len(time) - np.searchsorted(np.sort(time), time[np.asarray(event, bool)], "right")
    return int(later.sum())


def parse_times(series: pd.Series, column: str) -> np.ndarray:
    numbers = pd.to_numeric(series, errors="coerce")
    missing = numbers.isna().to_numpy()
    if missing.any():
        shown = ", ".join(map(str, series.index[missing][:5]))
        raise DataError(
            f"time column {column!r} has {int(missing.sum())} missing or non-numeric values "
            f"(samples {shown})"
        )
    times = numbers.to_numpy(dtype=float)
    if (times < 0).any() or not np.isfinite(times).all():
        shown = ", ".join(map(str, series.index[(times < 0) | ~np.isfinite(times)][:5]))
        raise DataError(f"time column {column!r} has negative or infinite times (samples {shown})")
    return times


class SurvivalTask:
    name = "survival"
    main_metric = "c_index"
    metric_names = ("c_index", "uno_c_index", "mean_auc", "integrated_brier_score")
    lower_is_better = frozenset({"integrated_brier_score"})
    # the Cox likelihood of a batch compares its patients only: tuning tries larger batches
    tuning_overrides: ClassVar[dict[str, Any]] = {"batch_size": Choice((32, 64, 128))}
    default_batch_size = 64
    drops_missing = False
    linear_baseline = "coxph"

    def encode(self, obs: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, TargetInfo]:
        time_column, event_column = columns
        y = np.column_stack(
            [
                parse_times(obs[time_column], time_column),
                parse_events(obs[event_column], event_column),
            ]
        ).astype(float)  # (N, 2): time, event
        if y[:, 1].sum() == 0:
            raise DataError(f"no events in {event_column!r}: every sample is censored")
        return y, TargetInfo(task=self.name, columns=[time_column, event_column])

    def encode_like(self, obs: pd.DataFrame, info: TargetInfo) -> np.ndarray:
        return self.encode(obs, info.columns)[0]

    def strata(self, y: np.ndarray, info: TargetInfo) -> np.ndarray:
        return np.where(y[:, 1] > 0, "event", "censored")

    def check_parts(
        self, y: np.ndarray, split: dict[str, np.ndarray], where: str = "", remedy: str = ""
    ) -> None:
        """Refuse a split one of whose non-empty parts has fewer than :data:`MIN_EVENTS` events
        or no comparable pair: its scores would be published as 0, 1 or NaN. ``where`` names
        the split (`` in fold 2/5``), ``remedy`` the way out in the caller's language."""
        short = []
        for part, idx in split.items():
            if not len(idx):
                continue
            time, event = y[idx, 0], y[idx, 1] > 0
            n_events, pairs = int(event.sum()), comparable_pairs(time, event)
            if n_events < MIN_EVENTS or pairs == 0:
                short.append(
                    f"{part} part {n_events} event{'s' * (n_events != 1)} in {len(idx)} patients"
                    + ("" if pairs else " and no comparable pair")
                )
        if short:
            split_rows = np.unique(np.concatenate([np.asarray(i, int) for i in split.values()]))
            total = int((y[split_rows, 1] > 0).sum())
            parts = list(split)
            rule = f"every part ({' / '.join(parts)})" if len(parts) > 1 else f"the {parts[0]} part"
            raise DataError(
                f"too few events to score survival{where}: {'; '.join(short)}; {rule} needs at "
                f"least {MIN_EVENTS} events and a comparable pair ({total} event"
                f"{'s' * (total != 1)} in "
                f"{len(split_rows)} patients{': ' + remedy if remedy else ''})"
            )

    def fit_state(self, y_train: np.ndarray, settings: Any) -> dict[str, Any]:
        time, event = y_train[:, 0], y_train[:, 1] > 0
        if not event.any():
            raise DataError("the training split has no events; a survival model cannot be fitted")
        horizons = list(getattr(settings, "horizons", []) or [])
        if not horizons:
            horizons = np.percentile(time[event], [25, 50, 75]).round(6).tolist()
        grid = np.percentile(time[event], np.linspace(10, 90, 15)).round(6)
        return {
            "ties": getattr(settings, "ties", "breslow"),
            "horizons": [float(h) for h in horizons],
            "brier_times": np.unique(grid).tolist(),
            "train_time": time.tolist(),
            "train_event": event.astype(int).tolist(),
        }

    def calibrate(
        self, state: dict[str, Any], y_train: np.ndarray, output_train: np.ndarray
    ) -> dict[str, Any]:
        """Fit the Breslow baseline hazard on the training risks (centred for stability)."""
        centre = float(np.mean(output_train))
        times, cumhaz = sm.breslow_baseline(y_train[:, 0], y_train[:, 1] > 0, output_train - centre)
        return {
            **state,
            "risk_centre": centre,
            "baseline_times": times.tolist(),
            "baseline_cumhaz": cumhaz.tolist(),
        }

    def survival(self, output: np.ndarray, state: dict[str, Any], times: list[float]) -> np.ndarray:
        return sm.survival_probabilities(
            np.asarray(state["baseline_times"]),
            np.asarray(state["baseline_cumhaz"]),
            output - state["risk_centre"],
            times,
        )

    def metrics(self, y: np.ndarray, output: np.ndarray, state: dict[str, Any]) -> dict[str, Any]:
        time, event = y[:, 0], y[:, 1] > 0
        train_time = np.asarray(state["train_time"], float)
        train_event = np.asarray(state["train_event"], bool)
        horizons = np.asarray(state["horizons"], float)
        aucs = sm.time_dependent_auc(train_time, train_event, time, event, output, horizons)
        finite = [a for a in aucs.values() if a == a]
        result: dict[str, Any] = {
            "n": len(y),
            "n_events": int(event.sum()),
            "c_index": sm.harrell_c(time, event, output),
            "uno_c_index": sm.uno_c(train_time, train_event, time, event, output),
            "mean_auc": float(np.mean(finite)) if finite else float("nan"),
        }
        result.update({f"auc_at_{h:g}": a for h, a in aucs.items()})
        if "baseline_times" in state:
            grid = state["brier_times"]
            result["integrated_brier_score"] = sm.integrated_brier(
                train_time,
                train_event,
                time,
                event,
                self.survival(output, state, grid),
                np.asarray(grid),
            )
        return result

    def epoch_metrics(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        return {"c_index": sm.harrell_c(y[:, 0], y[:, 1] > 0, output)}

    def prediction_columns(
        self, y: np.ndarray | None, output: np.ndarray, info: TargetInfo, state: dict[str, Any]
    ) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        if y is not None:
            columns[info.columns[0]] = y[:, 0]
            columns[info.columns[1]] = y[:, 1].astype(int)
        columns["risk"] = output
        if "baseline_times" in state:
            probabilities = self.survival(output, state, state["horizons"])
            for j, h in enumerate(state["horizons"]):
                columns[f"survival_at_{h:g}"] = probabilities[:, j]
        return columns

    # ------------------------------------------------------------------ scikit-learn side
    sklearn_scoring = None  # scikit-survival's estimators score by Harrell's C themselves

    def sklearn_target(self, y: np.ndarray) -> np.ndarray:
        """(N, 2) time, event -> scikit-survival's structured array."""
        from sksurv.util import Surv

        return Surv.from_arrays(event=y[:, 1] > 0, time=y[:, 0])

    def inner_strata(self, y: np.ndarray) -> np.ndarray | None:
        return (y[:, 1] > 0).astype(int)  # the event indicator

    def balanced_weights(self, y: np.ndarray) -> np.ndarray | None:
        return None

    def base_map(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        present: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A Cox linear predictor is already the network's output, a log hazard ratio."""
        return weight.reshape(1, -1), np.reshape(bias, 1)

    def sklearn_output(self, estimator: Any, x: np.ndarray, info: TargetInfo) -> np.ndarray:
        return np.asarray(estimator.predict(x), dtype=np.float64)

    # ------------------------------------------------------------------ augmentation, plots
    def mix_targets(self, y: Tensor, partner: Tensor, lam: Tensor, n_classes: int) -> Tensor:
        raise ConfigError(
            "mixing follow-up times and censoring of two patients has no valid meaning"
        )

    def plots(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        from omicsformer.report.plots import kaplan_meier_by_risk

        return {"km_test.png": lambda tmp: kaplan_meier_by_risk(y[:, 0], y[:, 1] > 0, output, tmp)}

    # ------------------------------------------------------------------ reports
    report_resamples = 200  # a resample's metrics take ~20 ms (IPCW C, AUC, Brier score)

    def from_prediction_columns(
        self, frame: pd.DataFrame, info: TargetInfo
    ) -> tuple[np.ndarray, np.ndarray]:
        y = frame[info.columns].astype(float).to_numpy()  # (N, 2): time, event
        return y, frame["risk"].astype(float).to_numpy()

    def pooled_report(
        self, frame: pd.DataFrame, info: TargetInfo, *, seed: int = 0
    ) -> list[Section]:
        """Kaplan-Meier curves of the pooled out-of-fold predictions. Risk scores of different
        folds' models are not on one scale (a Cox score is defined up to a constant), so each
        patient is placed by the rank of its risk among its own test fold's patients; the
        per-fold metrics (with fitted censoring weights) are in the comparison's tables."""
        from omicsformer.report import plots
        from omicsformer.report.html import Figure, Section, Table

        y, risk = self.from_prediction_columns(frame, info)
        rank = pd.Series(risk).groupby(frame["fold"].to_numpy()).rank(pct=True).to_numpy()
        figure, p, at_risk = plots.kaplan_meier_figure(y[:, 0], y[:, 1] > 0, rank, 2)
        return [
            Section(
                "Kaplan-Meier curves by predicted risk",
                [
                    Figure.of(
                        figure,
                        "Out-of-fold predictions of all test folds; each patient is low or high "
                        "risk by the median of its own test fold's predicted risk (folds' "
                        f"models are not on one risk scale); log-rank p = {p:.3g}.",
                    ),
                    Table(at_risk, "Numbers at risk.", index=True),
                ],
            )
        ]

    def report(
        self,
        y: np.ndarray,
        output: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        *,
        seed: int = 0,
        risk_groups: int = 2,
    ) -> list[Section]:
        """Metrics with 95% intervals; Kaplan-Meier curves by predicted risk group (median
        split, or tertiles with ``risk_groups=3``) with numbers at risk and the log-rank test;
        the time-dependent AUC over the follow-up."""
        from omicsformer.report import plots
        from omicsformer.report.html import Figure, Section, Table, Text
        from omicsformer.report.intervals import task_metrics_table

        time, event = y[:, 0], y[:, 1] > 0
        table = task_metrics_table(
            self,
            y,
            output,
            state,
            seed=seed,
            n_resamples=self.report_resamples,
            note=f"Survival metrics are slow to compute, so {self.report_resamples} resamples "
            "(not 1000).",
        )
        figure, p, at_risk = plots.kaplan_meier_figure(time, event, output, risk_groups)
        split = "median" if risk_groups == 2 else "tertiles"
        train_time = np.asarray(state["train_time"], float)
        grid = np.unique(np.r_[state["brier_times"], state["horizons"]])
        aucs = sm.time_dependent_auc(
            train_time, np.asarray(state["train_event"], bool), time, event, output, grid
        )
        sections = [
            Section("Metrics", [table]),
            Section(
                "Kaplan-Meier curves by predicted risk",
                [
                    Figure.of(
                        figure,
                        f"Patients split at the {split} of their predicted risk; log-rank "
                        f"p = {p:.3g} (scikit-survival's compare_survival). Numbers at risk "
                        "under the plot.",
                    ),
                    Table(
                        at_risk,
                        caption="Numbers at risk: patients still followed at each time (columns), "
                        "by risk group.",
                        index=True,
                    ),
                ],
            ),
        ]
        defined = {t: a for t, a in aucs.items() if a == a}
        if defined:
            curve = plots.time_auc_figure(
                np.array(list(defined)), np.array(list(defined.values())), state["horizons"]
            )
            caption = (
                "Cumulative/dynamic AUC (sksurv.metrics.cumulative_dynamic_auc): how well the "
                "risk separates patients with an event by time t from those still event-free; "
                "censoring weighted by the training follow-up. Times: percentiles of the "
                "training event times inside the follow-up of these patients."
            )
            sections.append(Section("Time-dependent AUC", [Figure.of(curve, caption)]))
        else:
            sections.append(
                Section("Time-dependent AUC", [Text("Undefined: no event inside the follow-up.")])
            )
        return sections

    # ------------------------------------------------------------------ neural-network side
    def target_tensor(self, y: np.ndarray) -> Tensor:
        return torch.as_tensor(y, dtype=torch.float32)  # (N, 2): time, event

    def loss_function(
        self, y_train: np.ndarray, info: TargetInfo, class_weight: str, state: dict[str, Any]
    ) -> Callable[[Tensor, Tensor], Tensor]:
        ties = state.get("ties", "breslow")

        def loss(logits: Tensor, y: Tensor) -> Tensor:
            return cox_loss(logits.reshape(-1), y[:, 0], y[:, 1], ties).float()

        return loss

    def output(self, logits: Tensor, state: dict[str, Any]) -> np.ndarray:
        return logits.reshape(-1).double().cpu().numpy()
