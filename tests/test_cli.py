"""End-to-end CLI runs on tiny data: outputs, reproducibility and every bad-input case."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FAST_LOGREG


def train(cli, files, out, *extra):
    return cli(
        "train",
        "--data",
        files["csv"],
        "--labels",
        files["labels"],
        "--target",
        "label",
        *FAST_LOGREG,
        "--out",
        out,
        *extra,
    )


@pytest.mark.slow
def test_train_writes_a_complete_run_folder(cli, tiny_files, tmp_path):
    result = train(cli, tiny_files, tmp_path / "run")
    assert result.code == 0, result.err
    run = tmp_path / "run"
    for name in (
        "config.yaml",
        "splits.json",
        "preprocess.safetensors",
        "model/model.json",
        "model/estimator.skops",
        "predictions.csv",
        "metrics.json",
        "run.json",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"accuracy", "balanced_accuracy", "macro_f1", "auroc"} <= set(metrics["test"])
    assert set(metrics) == {"train", "val", "test"}
    predictions = pd.read_csv(run / "predictions.csv")
    assert list(predictions.columns[:4]) == ["sample_id", "split", "true", "predicted"]
    assert [c for c in predictions.columns if c.startswith("prob_")] == [
        "prob_class_0",
        "prob_class_1",
        "prob_class_2",
    ]
    assert len(predictions) == 60
    splits = json.loads((run / "splits.json").read_text())
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == sorted(predictions.sample_id)
    assert "balanced_accuracy" in result.out and "test" in result.out
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.slow
def test_same_seed_gives_identical_predictions(cli, tiny_files, tmp_path):
    assert train(cli, tiny_files, tmp_path / "a", "--seed", "5").code == 0
    assert train(cli, tiny_files, tmp_path / "b", "--seed", "5").code == 0
    a = (tmp_path / "a" / "predictions.csv").read_text()
    assert a == (tmp_path / "b" / "predictions.csv").read_text()


@pytest.mark.slow
def test_config_yaml_reproduces_the_run(cli, tiny_files, tmp_path):
    assert train(cli, tiny_files, tmp_path / "a", "--seed", "2").code == 0
    again = cli("train", "--config", tmp_path / "a" / "config.yaml", "--out", tmp_path / "b")
    assert again.code == 0, again.err
    a = pd.read_csv(tmp_path / "a" / "predictions.csv")
    b = pd.read_csv(tmp_path / "b" / "predictions.csv")
    pd.testing.assert_frame_equal(a, b)


def test_predict_realigns_genes_by_name(cli, tiny_files, tiny, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run").code == 0
    reordered = tiny.frame[tiny.frame.columns[::-1]].iloc[::-1]
    reordered["extra_gene"] = 1.0
    path = tmp_path / "reordered.parquet"
    reordered.reset_index().to_parquet(path, index=False)
    assert (
        cli(
            "predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", tmp_path / "p1.csv"
        ).code
        == 0
    )
    assert cli("predict", tmp_path / "run", "--data", path, "--out", tmp_path / "p2.csv").code == 0
    p1 = pd.read_csv(tmp_path / "p1.csv").set_index("sample_id").sort_index()
    p2 = pd.read_csv(tmp_path / "p2.csv").set_index("sample_id").sort_index()
    pd.testing.assert_frame_equal(p1, p2)
    # predictions on the training file equal those saved at the end of training
    saved = pd.read_csv(tmp_path / "run" / "predictions.csv").set_index("sample_id").sort_index()
    np.testing.assert_array_equal(
        saved.filter(like="prob_").to_numpy(), p1.filter(like="prob_").to_numpy()
    )


def test_predict_with_labels_and_evaluate(cli, tiny_files, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run").code == 0
    out = tmp_path / "pred.csv"
    result = cli(
        "predict",
        tmp_path / "run",
        "--data",
        tiny_files["genes_by_samples"],
        "--layout",
        "genes-by-samples",
        "--labels",
        tiny_files["labels"],
        "--out",
        out,
    )
    assert result.code == 0, result.err
    assert list(pd.read_csv(out).columns[:3]) == ["sample_id", "true", "predicted"]
    result = cli(
        "evaluate",
        tmp_path / "run",
        "--data",
        tiny_files["csv"],
        "--labels",
        tiny_files["labels"],
        "--out",
        tmp_path / "eval.json",
    )
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert 0.0 <= metrics["balanced_accuracy"] <= 1.0 and metrics["n"] == 60
    assert "evaluation" in result.out


def test_predict_with_missing_genes_lists_them(cli, tiny_files, tiny, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run").code == 0
    path = tmp_path / "fewer.csv"
    tiny.frame.drop(columns=["G00003", "G00007"]).to_csv(path)
    result = cli("predict", tmp_path / "run", "--data", path, "--out", tmp_path / "p.csv")
    assert result.code == 2
    assert "2 of the 40 genes" in result.err and "G00003" in result.err
    assert not (tmp_path / "p.csv").exists()


def test_missing_targets_are_dropped_with_a_count(cli, tiny_files, tmp_path):
    labels = pd.read_csv(tiny_files["labels"])
    labels.loc[:4, "label"] = np.nan
    path = tmp_path / "labels_na.csv"
    labels.to_csv(path, index=False)
    result = cli(
        "train",
        "--data",
        tiny_files["csv"],
        "--labels",
        path,
        "--target",
        "label",
        *FAST_LOGREG,
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    assert "dropped 5 of 60 samples with a missing label" in result.err
    assert len(pd.read_csv(tmp_path / "run" / "predictions.csv")) == 55


def test_h5ad_target_comes_from_obs(cli, tiny, tmp_path):
    import anndata as ad

    adata = ad.AnnData(
        X=tiny.frame.to_numpy(),
        obs=pd.DataFrame({"diagnosis": tiny.labels.to_numpy()}, index=tiny.frame.index),
        var=pd.DataFrame(index=tiny.frame.columns),
    )
    path = tmp_path / "cohort.h5ad"
    adata.write_h5ad(path)
    result = cli(
        "train", "--data", path, "--target", "diagnosis", *FAST_LOGREG, "--out", tmp_path / "r"
    )
    assert result.code == 0, result.err


def test_builtin_dataset_with_default_target(cli, tmp_path):
    result = cli(
        "train",
        "--data",
        "synthetic:n_samples=80,n_genes=30",
        *FAST_LOGREG,
        "--out",
        tmp_path / "r",
    )
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "r" / "run.json").read_text())["target"]["columns"] == ["label"]


@pytest.mark.slow
def test_existing_output_needs_force(cli, tiny_files, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run").code == 0
    again = train(cli, tiny_files, tmp_path / "run")
    assert again.code == 2 and "already exists; use --force" in again.err
    assert train(cli, tiny_files, tmp_path / "run", "--force").code == 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def bad_cases(tmp_path: Path, files: dict[str, Path], tiny) -> list[tuple[list, str]]:
    frame = tiny.frame
    nan = frame.copy()
    nan.iloc[2, 3] = np.nan
    nan.to_csv(tmp_path / "nan.csv")
    dup = pd.concat([frame, frame.iloc[:1]])
    dup.to_csv(tmp_path / "dup.csv")
    text = frame.astype(object)
    text.iloc[1, 1] = "high"
    text.to_csv(tmp_path / "text.csv")
    (frame - 20).to_csv(tmp_path / "negative.csv")
    one_class = pd.DataFrame({"sample": frame.index, "label": "same"})
    one_class.to_csv(tmp_path / "one.csv", index=False)
    rare = pd.DataFrame({"sample": frame.index, "label": ["a"] * 30 + ["b"] * 28 + ["c"] * 2})
    rare.to_csv(tmp_path / "rare.csv", index=False)
    other_ids = pd.DataFrame({"sample": [f"P{i}" for i in range(60)], "label": "x"})
    other_ids.to_csv(tmp_path / "other.csv", index=False)
    lab = ["--labels", files["labels"], "--target", "label"]
    return [
        (["--data", tmp_path / "absent.csv", *lab], "file not found"),
        (["--data", _write(tmp_path / "empty.csv", ""), *lab], "file is empty"),
        (
            ["--data", files["csv"], "--labels", files["labels"], "--target", "diagnosis"],
            "unknown target column 'diagnosis'; available columns: label",
        ),
        (
            ["--data", files["csv"], "--labels", tmp_path / "other.csv", "--target", "label"],
            "none of the 60 matrix sample IDs match",
        ),
        (["--data", tmp_path / "dup.csv", *lab], "duplicate sample IDs"),
        (["--data", tmp_path / "text.csv", *lab], "non-numeric value 'high'"),
        (["--data", tmp_path / "nan.csv", *lab], "use --impute median"),
        (
            ["--data", tmp_path / "negative.csv", *lab, "--transform", "log1p"],
            "negative expression",
        ),
        (
            ["--data", files["csv"], "--labels", tmp_path / "rare.csv", "--target", "label"],
            "class too small for a stratified train/val/test split: 'c' (2)",
        ),
        (
            ["--data", files["csv"], "--labels", tmp_path / "one.csv", "--target", "label"],
            "fewer than 2 classes",
        ),
        (["--data", "nope-dataset", "--target", "label"], "neither a file nor a built-in dataset"),
        (
            ["--data", files["csv"], *lab, "--model", "transformerzz"],
            "unknown model 'transformerzz'",
        ),
        (["--data", files["csv"], *lab, "-o", "C=abc"], "expected a number"),
    ]


def test_bad_input_gives_one_line_and_exit_2_and_no_output(cli, tiny_files, tiny, tmp_path):
    for args, message in bad_cases(tmp_path, tiny_files, tiny):
        out = tmp_path / "out"
        result = cli("train", *args, "--out", out)
        assert result.code == 2, (args, result.err)
        lines = [line for line in result.err.splitlines() if line.startswith("omicsformer: error")]
        assert len(lines) == 1 and message in lines[0], (message, result.err)
        assert "Traceback" not in result.err
        assert not out.exists() and not list(tmp_path.glob(".out*")), args


def test_nan_passes_with_median_imputation(cli, tiny_files, tiny, tmp_path):
    frame = tiny.frame.copy()
    frame.iloc[2, 3] = np.nan
    frame.iloc[7, 1] = np.inf
    frame.to_csv(tmp_path / "nan.csv")
    result = cli(
        "train",
        "--data",
        tmp_path / "nan.csv",
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
        "--impute",
        "median",
        *FAST_LOGREG,
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err


@pytest.mark.slow
def test_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "omicsformer.cli",
            "train",
            "--data",
            str(tmp_path / "none.csv"),
            "--target",
            "y",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("omicsformer: error:") and "Traceback" not in result.stderr


def test_listing_commands(cli):
    datasets = cli("datasets")
    assert datasets.code == 0 and "all-leukemia" in datasets.out and "Artistic-2.0" in datasets.out
    assert "12625" in datasets.out and "synthetic" in datasets.out
    models = cli("models")
    assert models.code == 0
    assert all(name in models.out for name in ("logreg", "rf", "xgboost"))


@pytest.mark.parametrize("argv", [[], ["train"], ["predict"]])
def test_usage_errors_exit_2(cli, argv):
    assert cli(*argv).code == 2


@pytest.mark.slow
def test_neural_train_then_predict_is_bit_identical(cli, tiny_files, tmp_path):
    result = cli(
        "train",
        "--data",
        tiny_files["csv"],
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
        "--model",
        "attomics",
        "-o",
        "n_groups=4",
        "--max-epochs",
        "3",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    assert (
        cli(
            "predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", tmp_path / "p.csv"
        ).code
        == 0
    )
    exact = {"float_precision": "round_trip"}  # pandas' default float parser is not exact
    saved = pd.read_csv(tmp_path / "run" / "predictions.csv", **exact).set_index("sample_id")
    again = pd.read_csv(tmp_path / "p.csv", **exact).set_index("sample_id").loc[saved.index]
    columns = [c for c in saved.columns if c.startswith("prob_")]
    np.testing.assert_array_equal(saved[columns].to_numpy(), again[columns].to_numpy())


@pytest.mark.slow
def test_ddp_with_two_cpu_processes_matches_one_process(cli, tmp_path):
    """A real 2-process DDP run (gloo, loopback) through the console entry point; the
    one-process run it is compared with runs in this process (a console start is seconds of a
    core: the imports)."""
    data = "synthetic:n_samples=160,n_genes=40,n_modules=2,module_size=5"
    common = [
        "train",
        "--data",
        data,
        "--model",
        "mlp",
        "--max-epochs",
        "8",
        "--patience",
        "50",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--seed",
        "0",
    ]
    runs = {}
    for name, extra in (("one", []), ("two", ["--devices", "2", "--strategy", "ddp"])):
        out = tmp_path / name
        if not extra:
            result = cli(*common, "--out", out)
            assert result.code == 0, result.err[-2000:]
        else:
            proc = subprocess.run(
                [sys.executable, "-m", "omicsformer.cli", *common, *extra, "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr[-2000:]
        runs[name] = json.loads((out / "metrics.json").read_text())
        history = pd.read_csv(out / "history.csv")
        assert len(history) == 9  # epoch 0 (the untrained network: its base) and 8 epochs
    for part in ("train", "test"):
        for metric in ("balanced_accuracy", "auroc"):
            assert abs(runs["one"][part][metric] - runs["two"][part][metric]) < 0.15, (part, metric)
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.slow
def test_bench_augmentation_writes_curves(cli, tmp_path):
    out = tmp_path / "aug"
    result = cli(
        "bench",
        "augmentation",
        "--data",
        "synthetic:n_samples=120,n_genes=20",
        "--model",
        "mlp",
        "--max-epochs",
        "2",
        "--train-fractions",
        "0.5,1",
        "--augment",
        "none,noise,mixup,cvae:epochs=5",
        "--folds",
        "2",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "augmentation.csv")
    assert len(frame) == 2 * 2 * 4
    assert set(frame.augment) == {"none", "noise", "mixup", "cvae:epochs=5"}
    cvae = frame[frame.augment == "cvae:epochs=5"]
    assert cvae.discriminator_auroc.between(0, 1).all() and cvae.tstr.notna().all()
    assert frame[frame.fraction == 0.5].n_train.max() < frame[frame.fraction == 1].n_train.min()
    assert "gain" in (out / "summary.md").read_text()
    assert (out / "learning_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_train_with_augmentation_and_bad_specs(cli, tmp_path):
    data = "synthetic:n_samples=80,n_genes=20"
    ok = cli(
        "train",
        "--data",
        data,
        "--model",
        "mlp",
        "--augment",
        "noise:sigma=0.1,smote",
        "--max-epochs",
        "1",
        "--out",
        tmp_path / "r",
    )
    assert ok.code == 0, ok.err
    bad = cli(
        "train", "--data", data, "--model", "logreg", "--augment", "mixup", "--out", tmp_path / "b"
    )
    assert bad.code == 2 and "not trained in batches" in bad.err
    bad = cli(
        "train",
        "--data",
        data,
        "--task",
        "survival",
        "--model",
        "mlp",
        "--augment",
        "mixup",
        "--out",
        tmp_path / "s",
    )
    assert bad.code == 2 and "not available for survival" in bad.err
    assert not (tmp_path / "b").exists() and not (tmp_path / "s").exists()


@pytest.fixture
def ensembl_files(tiny, tmp_path):
    """The tiny cohort with its 40 genes renamed to real human genes of GO:0006281 (DNA repair),
    TP53 first, written with versioned Ensembl IDs (plus one _PAR_Y copy, all zeros), with
    other versions, and with symbols (genes in reverse order)."""
    from omicsformer.data.gene_ids import gene_table
    from omicsformer.data.grouping import read_gmt, shipped_gene_sets

    table = gene_table()
    one = ~table["symbol"].duplicated(keep=False) & ~table["ensembl"].duplicated(keep=False)
    repair = set(read_gmt(shipped_gene_sets("go-bp"))["GO:0006281 DNA repair"])
    pool = table[one & table["ensembl"].notna() & table["symbol"].isin(repair - {"TP53"})]
    genes = pd.concat([table[table["symbol"] == "TP53"], pool.head(39)])
    assert genes["ensembl"].iloc[0] == "ENSG00000141510" and len(genes) == 40
    frame = tiny.frame.copy()
    frame.columns = [f"{e}.7" for e in genes["ensembl"]]
    frame[f"{genes['ensembl'].iloc[1]}.7_PAR_Y"] = 0.0
    paths = {n: tmp_path / f"{n}.csv" for n in ("ensembl", "other_versions", "symbols")}
    frame.to_csv(paths["ensembl"])
    other = tiny.frame.copy()
    other.columns = [f"{e}.99" for e in genes["ensembl"]]
    other.to_csv(paths["other_versions"])
    symbols = tiny.frame.copy()
    symbols.columns = list(genes["symbol"])
    symbols[symbols.columns[::-1]].to_csv(paths["symbols"])
    return paths


@pytest.mark.slow
def test_gene_ids_mapped_in_training_are_reapplied_at_prediction(
    cli, tiny_files, ensembl_files, tmp_path
):
    run = tmp_path / "run"
    result = cli(
        "train",
        "--data",
        ensembl_files["ensembl"],
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
        *FAST_LOGREG,
        "--gene-id",
        "symbol",
        "--out",
        run,
    )
    assert result.code == 0, result.err
    err = " ".join(result.err.split())
    assert "mapped 40 of 41 genes to symbol (IDs read as ensembl); 0 unmapped" in err
    assert (
        "1 _PAR_Y rows dropped (duplicates of the X copy), 0 duplicates aggregated by mean" in err
    )
    assert "gene_id: symbol" in (run / "config.yaml").read_text()
    assert json.loads((run / "model" / "model.json").read_text())["genes"][0] == "TP53"
    saved = pd.read_csv(run / "predictions.csv").set_index("sample_id").sort_index()
    for name in ("symbols", "other_versions"):  # symbols, or Ensembl IDs of another release
        out = tmp_path / f"pred_{name}.csv"
        result = cli("predict", run, "--data", ensembl_files[name], "--out", out)
        assert result.code == 0, result.err
        again = pd.read_csv(out).set_index("sample_id").sort_index()
        columns = [c for c in saved.columns if c.startswith("prob_")]
        np.testing.assert_array_equal(saved[columns].to_numpy(), again[columns].to_numpy())
    result = cli(
        "evaluate", run, "--data", ensembl_files["symbols"], "--labels", tiny_files["labels"]
    )
    assert result.code == 0, result.err
    wrong = cli(
        "predict",
        run,
        "--data",
        ensembl_files["symbols"],
        "--gene-id",
        "ensembl",
        "--out",
        tmp_path / "x.csv",
    )
    assert wrong.code == 2 and "trained on genes mapped to symbol" in wrong.err
    assert len(wrong.err.strip().splitlines()) == 1 and not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_go_bp_grouping_from_the_command_line(cli, tiny_files, ensembl_files, tmp_path):
    result = cli(
        "train",
        "--data",
        ensembl_files["symbols"],
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
        "--model",
        "attomics",
        "--grouping",
        "go-bp",
        "--max-epochs",
        "2",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    # the genes are all in DNA repair (and its ancestors): one set covers them, no 'ungrouped'
    err = " ".join(result.err.split())
    assert re.search(r"go-bp: 1 of [\d,]+ sets kept .* covering 40 of 40 genes \(100 %", err)
    model = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    grouping = model["fitted"]["architecture"]["grouping"]
    assert grouping["strategy"] == "go-bp" and grouping["members"] == [list(range(40))]
    # Ensembl-named data and go-bp: told to map to symbols, before training
    result = cli(
        "train",
        "--data",
        ensembl_files["ensembl"],
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
        "--model",
        "attomics",
        "--grouping",
        "go-bp",
        "--max-epochs",
        "2",
        "--out",
        tmp_path / "run2",
    )
    assert result.code == 2 and "--gene-id symbol" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--data", "x.csv", "--out", "o"],
        ["compare", "--data", "x.csv", "--models", "logreg", "--out", "o"],
        ["tune", "--data", "x.csv", "--out", "o"],
        ["predict", "run", "--data", "x.csv", "--out", "o"],
        ["evaluate", "run", "--data", "x.csv"],
        ["pretrain", "--data", "x.csv", "--model", "hybrid", "--out", "o"],
    ],
)
def test_every_data_command_takes_gene_id_flags(argv):
    from omicsformer.cli import build_parser

    args = build_parser().parse_args([*argv, "--gene-id", "entrez", "--duplicate-genes", "sum"])
    assert (args.gene_id, args.duplicate_genes) == ("entrez", "sum")


def test_new_data_is_named_as_the_run_was_trained():
    from types import SimpleNamespace

    from omicsformer.config import RunConfig
    from omicsformer.errors import ConfigError
    from omicsformer.runs import gene_id_for

    def run(gene_id, genes):
        config = RunConfig()
        config.data.gene_id = gene_id
        return SimpleNamespace(
            config=config, preprocessor=SimpleNamespace(input_genes=genes), folder="r"
        )

    assert gene_id_for(run("symbol", ["TP53"]), None) == "symbol"
    assert gene_id_for(run("keep", ["TP53"]), "symbol") == "symbol"  # a kind for a keep run
    assert gene_id_for(run("keep", ["ENSG00000141510"]), None) == "keep"
    # a run trained on versioned IDs before they were normalised reads new data as it did then
    assert gene_id_for(run("keep", ["ENSG00000141510.17"]), None) is None
    with pytest.raises(ConfigError, match="mapped to symbol; --gene-id entrez"):
        gene_id_for(run("symbol", ["TP53"]), "entrez")


@pytest.mark.slow
def test_baselines_with_smote_train_predict_bench_and_compare(cli, tiny_files, tmp_path):
    labels = pd.read_csv(tiny_files["labels"])
    labels.loc[:5, "label"] = "rare"  # 6 of 60 patients: 3-4 in a training part
    labels.to_csv(tmp_path / "rare.csv", index=False)
    files = {"csv": tiny_files["csv"], "labels": tmp_path / "rare.csv"}
    bad = train(cli, files, tmp_path / "bad", "--model", "logreg", "--augment", "smote")
    assert bad.code == 2 and bad.err.count("error:") == 1
    assert "error: smote: class 'rare' has" in bad.err and "try smote:k=1" in bad.err
    assert "Traceback" not in bad.err and not (tmp_path / "bad").exists()
    bad = train(cli, files, tmp_path / "bad", "--augment", "mixup")
    assert bad.code == 2 and "not trained in batches" in bad.err

    run = tmp_path / "run"
    ok = train(cli, files, run, "--model", "logreg", "--augment", "smote:k=1")
    assert ok.code == 0, ok.err
    model = json.loads((run / "model" / "model.json").read_text())
    assert model["fitted"]["resampled"]["by"] == "smote"
    out = tmp_path / "p.csv"
    assert cli("predict", run, "--data", files["csv"], "--out", out).code == 0
    saved = pd.read_csv(run / "predictions.csv").set_index("sample_id").sort_index()
    again = pd.read_csv(out).set_index("sample_id").sort_index()
    np.testing.assert_array_equal(
        saved.filter(like="prob_").to_numpy(), again.filter(like="prob_").to_numpy()
    )

    data = ["--data", files["csv"], "--labels", files["labels"], "--target", "label"]
    bench = cli(
        "bench", "augmentation", *data, "--model", "logreg", "-o", "C=0.1",
        "--augment", "none,smote:k=1", "--train-fractions", "1", "--folds", "2",
        "--repeats", "2", "--out", tmp_path / "aug",
    )  # fmt: skip
    assert bench.code == 0, bench.err
    frame = pd.read_csv(tmp_path / "aug" / "augmentation.csv")
    assert len(frame) == 2 * 2 * 2 and (frame.status == "ok").all()
    pairs = sorted(set(zip(frame.repeat, frame.fold, strict=True)))
    assert pairs == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert ", p " in (tmp_path / "aug" / "summary.md").read_text()

    compare = cli(
        "compare", *data, "--models", "logreg,rf", "-o", "logreg.C=0.1", "-o",
        "rf.n_estimators=20", "-o", "rf.min_samples_leaf=2", "--augment", "smote:k=1",
        "--folds", "2", "--out", tmp_path / "cmp",
    )  # fmt: skip
    assert compare.code == 0, compare.err
    results = pd.read_csv(tmp_path / "cmp" / "results.csv")
    assert sorted(results.model) == ["logreg", "logreg", "rf", "rf"]
    assert results.balanced_accuracy.notna().all()
