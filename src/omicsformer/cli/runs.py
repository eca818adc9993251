"""Commands on a saved run: ``predict``, ``evaluate``, ``embed``, ``interpret``; and ``report``,
the HTML page of any folder omicsformer wrote."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from omicsformer.cli.common import names, print_frame
from omicsformer.cli.declarations import Interpret
from omicsformer.cli.options import (
    DATA_FLAGS,
    add_data_args,
    add_eval_batch,
    add_options,
    add_output,
    read_flags,
)
from omicsformer.config import TrainConfig
from omicsformer.console import note
from omicsformer.errors import ConfigError


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    predict = command("predict", "predict new samples with a trained run")
    _run_dir(predict, "a run folder made by `omicsformer train`")
    add_data_args(predict, required=True, with_target=False, from_run=True)
    add_output(predict, "predictions CSV to write")
    add_eval_batch(predict)
    predict.set_defaults(func=cmd_predict)

    embed = command(
        "embed", "patient embeddings and predictions of a trained neural run, as AnnData"
    )
    _run_dir(embed, "a run folder of a neural model")
    add_data_args(embed, required=True, with_target=False, from_run=True)
    add_output(
        embed,
        "AnnData (.h5ad) to write: the data, predictions in .obs, the embedding in "
        ".obsm['X_omicsformer']",
    )
    add_eval_batch(embed)
    embed.set_defaults(func=cmd_embed)

    report = command(
        "report", "one self-contained HTML page of a run, comparison, benchmark or interpretation"
    )
    report.add_argument("folder", help="a folder written by omicsformer")
    add_output(report, "HTML file to write (default: FOLDER/report.html)", required=False)
    report.set_defaults(func=cmd_report)

    evaluate = command("evaluate", "score a trained run on labelled data")
    _run_dir(evaluate, "a run folder made by `omicsformer train`")
    add_data_args(evaluate, required=True, from_run=True)
    add_output(evaluate, "also write the metrics to this JSON file", required=False)
    add_eval_batch(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    interp = command("interpret", "per-patient gene-gene interactions of a trained run")
    _run_dir(interp, "a run folder of a neural model")
    add_data_args(interp, required=True, with_target=False, from_run=True)
    add_options(interp.add_mutually_exclusive_group(), Interpret, ["samples", "all"])
    add_options(interp, Interpret, ["top_k", "methods", "per_head", "plots"])
    add_output(interp, "output folder to create")
    add_eval_batch(interp)
    interp.set_defaults(func=cmd_interpret)


def _run_dir(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("run_dir", help=help)


def _load_run(args: argparse.Namespace) -> Any:
    """The saved run of ``args.run_dir``, with ``--eval-batch-size`` if given."""
    from omicsformer.runs import load_run

    given = read_flags(args, TrainConfig, ["eval_batch_size"])
    return load_run(args.run_dir, eval_batch_size=given.get("eval_batch_size"))


def _read_data(args: argparse.Namespace, run: Any) -> Any:
    """The data of ``--data`` as ``run`` reads it (:func:`omicsformer.runs.read_for_run`)."""
    from omicsformer.runs import read_for_run

    flags = [f for f in DATA_FLAGS if f != "source"]
    given = {f: getattr(args, f) for f in [*flags, "gene_id", "duplicate_genes", "gdc_column"]}
    targets = [getattr(args, f, None) for f in ("target", "time", "event")]
    return read_for_run(
        run, args.data, **given, sample_types=args.sample_types, targets=[t for t in targets if t]
    )


def cmd_predict(args: argparse.Namespace) -> int:
    from omicsformer.fileio import check_output_file, write_with
    from omicsformer.runs import predictions_for

    check_output_file(args.out, overwrite=args.force)  # before any data is read
    run = _load_run(args)
    frame = predictions_for(run, _read_data(args, run))
    write_with(args.out, lambda tmp: frame.to_csv(tmp, index=False))
    note(f"{len(frame)} predictions written to {args.out}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from omicsformer.api import from_run
    from omicsformer.fileio import check_output_file, write_with

    if not args.out.endswith(".h5ad"):
        raise ConfigError(f"--out {args.out}: the embedding is written as AnnData (.h5ad)")
    check_output_file(args.out, overwrite=args.force)  # before any data is read
    run = _load_run(args)
    estimator = from_run(run)
    estimator.check_embeddable()  # before any data is read
    adata = _read_data(args, run)
    estimator.predict(adata)  # predictions into .obs, embedding into .obsm
    write_with(args.out, lambda tmp: adata.write_h5ad(tmp))
    width = adata.obsm["X_omicsformer"].shape[1]
    note(f"{adata.n_obs} samples embedded ({width} dimensions) in {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from omicsformer.report.pages import write_report

    path = write_report(args.folder, args.out, overwrite=args.force)
    note(f"report written to {path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from omicsformer.fileio import check_output_file, write_json
    from omicsformer.report.tables import print_metrics
    from omicsformer.runs import evaluate_run, warn_if_seen

    if args.out:
        check_output_file(args.out, overwrite=args.force)
    run = _load_run(args)
    adata = _read_data(args, run)
    columns = [args.target] if args.target else None
    if args.time or args.event:
        columns = [args.time or run.target.columns[0], args.event or run.target.columns[1]]
    warn_if_seen(run, adata)
    metrics = evaluate_run(run, adata, columns)
    print_metrics({run.spec.name: {"evaluation": metrics}}, run.task.metric_names)
    if args.out:
        write_json(args.out, metrics)
    return 0


def cmd_interpret(args: argparse.Namespace) -> int:
    from omicsformer.interpret.run import DEFAULT_METHODS, interpret

    run = _load_run(args)
    adata = _read_data(args, run)
    samples = names(args.samples) if args.samples and not args.all else None
    methods = tuple(names(args.methods)) if args.methods else DEFAULT_METHODS
    result = interpret(
        run,
        adata,
        args.out,
        samples=samples,
        top_k=args.top_k,
        methods=methods,
        per_head=args.per_head,
        plots=args.plots,
        overwrite=args.force,
    )
    recurrent = result["recurrent"]
    if len(recurrent):
        print_frame(recurrent.groupby(["method", "layer"]).head(5), list(recurrent.columns))
    note(f"written to {args.out} (interactions.parquet, gene_importance.csv, heatmaps)")
    return 0
