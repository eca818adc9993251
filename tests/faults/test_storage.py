"""``tune --storage`` with storages that cannot hold a study: each is one line with exit 2,
before any data is read (so at once) and before any trial; a damaged or foreign database file
keeps its bytes, and no output folder is made."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest


def tune(cli, tmp_path, storage):
    return cli(
        "tune", "--data", tmp_path / "absent.csv", "--model", "logreg", "--trials", "1",
        "--out", tmp_path / "run", "--storage", storage,
    )  # fmt: skip


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path):
    """A plain file, a damaged database, another program's SQLite database."""
    (tmp_path / "notes.txt").write_text("not a folder\n")
    (tmp_path / "damaged.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    (tmp_path / "text.db").write_text("id,value\n1,2\n")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE samples (id TEXT, value REAL)")
    other.commit()
    other.close()
    names = ("notes.txt", "damaged.db", "text.db", "other.db")
    return {name: md5(tmp_path / name) for name in names}


@pytest.mark.parametrize(
    ("storage", "said"),
    [
        ("sqlite:////{tmp}/notes.txt/study.db", "{tmp}/notes.txt is a file, not a folder"),
        ("sqlite:////{tmp}/missing/study.db", "folder {tmp}/missing does not exist"),
        ("sqlite:////{tmp}/text.db", "{tmp}/text.db is not a SQLite database (damaged, or"),
        ("sqlite:////{tmp}/damaged.db", "{tmp}/damaged.db cannot be read as a SQLite database"),
        ("sqlite:////{tmp}/other.db", "{tmp}/other.db is a database of another program (tables"),
        ("sqlite:////{tmp}", "{tmp} is a folder, not a database file"),
        ("sqlite:/relative.db", "not a database URL (e.g. sqlite:///study.db (relative)"),
        ("no-scheme.db", "not a database URL"),
        ("nosuchdb://host/db", "unknown database kind or driver 'nosuchdb'"),
        ("postgresql+nosuchdriver://h/db", "postgresql+nosuchdriver"),
    ],
)
def test_a_storage_that_cannot_hold_a_study_is_one_line(cli, tmp_path, files, storage, said):
    storage = storage.format(tmp=str(tmp_path).lstrip("/"))
    said = said.format(tmp=tmp_path)
    result = tune(cli, tmp_path, storage)
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert line.startswith(f"omicsformer: error: --storage {storage}: ") and said in line, line
    assert "absent.csv" not in line  # before the data was read: at once, before any trial
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run.partial"))
    assert {name: md5(tmp_path / name) for name in files} == files  # nothing written to them
    assert not (tmp_path / "missing").exists()


def test_a_missing_driver_is_named(cli, tmp_path):
    pytest.importorskip("sqlalchemy")
    if importable("psycopg"):
        pytest.skip("psycopg is installed")
    result = tune(cli, tmp_path, "postgresql://user:secret@127.0.0.1:9/optuna")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "postgresql://user:***@127.0.0.1:9/optuna" in line  # the password is not shown
    assert "the postgresql driver is not installed (No module named 'psycopg')" in line


def importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_compare_tune_checks_the_storage_before_the_data(cli, tmp_path):
    result = cli("compare", "--data", tmp_path / "absent.csv", "--models", "logreg", "--tune", "1",
                 "--out", tmp_path / "cmp", "--storage", "sqlite:/relative.db")  # fmt: skip
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "--storage sqlite:/relative.db: not a database URL" in line
    assert not (tmp_path / "cmp").exists()
