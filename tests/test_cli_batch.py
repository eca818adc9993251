"""--batch-key (ComBat) and --group-by (grouped splits) from the command line."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FAST_LOGREG

pytest.importorskip("combatlearn")


@pytest.fixture
def centred(tmp_path, tiny):
    """The tiny cohort measured in 3 centres (each shifts every gene), 2 samples per patient."""
    n = len(tiny.frame)
    centre = np.array(["c1", "c2", "c3"])[np.arange(n) % 3]
    frame = tiny.frame.copy()
    frame.loc[centre == "c2"] += 2.0
    frame.loc[centre == "c3"] *= 1.5
    labels = pd.DataFrame(
        {
            "sample": frame.index,
            "label": tiny.labels.to_numpy(),
            "centre": centre,
            "patient": [f"P{i // 2:02d}" for i in range(n)],
        }
    )
    paths = {"csv": tmp_path / "expr.csv", "labels": tmp_path / "labels.csv"}
    frame.to_csv(paths["csv"])
    labels.to_csv(paths["labels"], index=False)
    return paths, labels


def train(cli, paths, out, *extra):
    return cli(
        "train",
        "--data",
        paths["csv"],
        "--labels",
        paths["labels"],
        "--target",
        "label",
        *FAST_LOGREG,
        "--out",
        out,
        *extra,
    )


def test_train_with_combat_and_grouped_split_then_predict(cli, centred, tmp_path):
    paths, labels = centred
    result = train(cli, paths, tmp_path / "run", "--batch-key", "centre", "--group-by", "patient")
    assert result.code == 0, result.err
    assert "ComBat fitted on" in result.err
    splits = json.loads((tmp_path / "run" / "splits.json").read_text())
    patient = labels.set_index("sample")["patient"]
    sides = [set(patient[splits[part]]) for part in ("train", "val", "test")]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    # predict needs each sample's centre: from the labels table it works, without it one line
    ok = cli(
        "predict",
        tmp_path / "run",
        "--data",
        paths["csv"],
        "--labels",
        paths["labels"],
        "--out",
        tmp_path / "p.csv",
    )
    assert ok.code == 0, ok.err
    saved = pd.read_csv(tmp_path / "run" / "predictions.csv").set_index("sample_id").sort_index()
    again = pd.read_csv(tmp_path / "p.csv").set_index("sample_id").sort_index()
    np.testing.assert_allclose(
        saved.filter(like="prob_").to_numpy(), again.filter(like="prob_").to_numpy(), rtol=1e-5
    )
    missing = cli("predict", tmp_path / "run", "--data", paths["csv"], "--out", tmp_path / "q.csv")
    assert missing.code == 2
    assert missing.err.strip().splitlines()[-1].count("has no column 'centre'") == 1
    assert not (tmp_path / "q.csv").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-key", "centre", "--group-by", "centre"], "are both 'centre'"),
        (["--batch-key", "site"], "unknown --batch-key column 'site'"),
        (["--group-by", "site"], "unknown --group-by column 'site'"),
    ],
)
def test_bad_batch_or_group_column_is_one_line(cli, centred, tmp_path, extra, message):
    paths, _ = centred
    result = train(cli, paths, tmp_path / "run", *extra)
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err
    assert not (tmp_path / "run").exists()
