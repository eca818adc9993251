"""``omicsformer demo``: the baselines on the bundled leukemia cohort's molecular subtype."""

from __future__ import annotations

from pathlib import Path

from omicsformer.config import DataConfig, ModelConfig, RunConfig
from omicsformer.console import note
from omicsformer.models import MODELS
from omicsformer.pipeline import train_run
from omicsformer.report.tables import print_metrics


def default_models() -> list[str]:
    """The baselines whose dependencies are installed (XGBoost is an optional extra)."""
    import importlib.util

    return [
        name
        for name, spec in MODELS.items()
        if spec.family == "baseline"
        and (spec.extra is None or importlib.util.find_spec(spec.extra) is not None)
    ]


def run_demo(out: Path, models: list[str] | None = None) -> dict[str, dict]:
    """Train each model on all-leukemia ``subtype`` (70/15/15, seed 0); print and return metrics."""
    results: dict[str, dict] = {}
    metric_names: tuple[str, ...] = ()
    for name in models or default_models():
        config = RunConfig(
            data=DataConfig(source="all-leukemia", target="subtype"),
            model=ModelConfig(name=name),
            seed=0,
        )
        note(f"training {name} on all-leukemia subtype ...")
        folder, result = train_run(config, out / name, overwrite=True)
        results[name] = {p: result.metrics[p] for p in ("val", "test")}
        metric_names = result.task.metric_names
        note(f"{name}: fit {result.fit_seconds:.1f} s, run folder {folder}")
    print_metrics(results, metric_names, title="all-leukemia subtype (seed 0, 70/15/15 split)")
    return results
