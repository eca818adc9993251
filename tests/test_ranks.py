import pytest

from omicsformer import console
from omicsformer.ranks import global_rank, is_main_process

LAUNCHER = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK")


@pytest.fixture
def launcher(monkeypatch):
    for variable in LAUNCHER:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("environment", "rank"),
    [
        ({}, 0),
        ({"RANK": "3"}, 3),
        ({"SLURM_PROCID": "2"}, 2),
        ({"LOCAL_RANK": "1"}, 1),
        ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, 1_000_000),
    ],
)
def test_the_rank_comes_from_the_launcher(launcher, environment, rank):
    for variable, value in environment.items():
        launcher.setenv(variable, value)
    assert global_rank() == rank
    assert is_main_process() == (rank == 0)


def test_only_the_main_process_prints_notes(launcher, capsys):
    console.note("from rank 0")
    launcher.setenv("RANK", "1")
    console.note("from rank 1")
    err = capsys.readouterr().err
    assert "from rank 0" in err and "from rank 1" not in err
