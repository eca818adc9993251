"""The Optuna storage checks: a server gets a connect timeout unless its URL sets one; a SQLite
file is checked without being created or written; a study's own file passes."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url  # optuna's dependency

from omicsformer.errors import ConfigError
from omicsformer.tuning.storage import (
    CONNECT_TIMEOUT,
    check_storage,
    engine_kwargs,
    open_storage,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg2://u@h/db", {"connect_timeout": CONNECT_TIMEOUT}),
        ("postgresql://u@h/db", {"connect_timeout": CONNECT_TIMEOUT}),  # psycopg 3
        ("mysql+pymysql://u@h/db", {"connect_timeout": CONNECT_TIMEOUT}),
        ("mysql+mysqlconnector://u@h/db", {"connection_timeout": CONNECT_TIMEOUT}),
        ("postgresql+pg8000://u@h/db", {"timeout": CONNECT_TIMEOUT}),
        ("postgresql+psycopg2://u@h/db?connect_timeout=3", None),  # the URL's own wins
        ("sqlite:///study.db", None),  # SQLite: its own lock wait
    ],
)
def test_a_server_gets_a_connect_timeout(url, expected):
    kwargs = engine_kwargs(make_url(url))
    assert kwargs == ({} if expected is None else {"connect_args": expected})


def test_a_new_file_is_checked_without_being_made_and_a_study_file_passes(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    check_storage(url)
    assert not (tmp_path / "study.db").exists()
    storage = open_storage(url)  # Optuna makes its tables
    storage.engine.dispose()
    check_storage(url)  # an Optuna study's file: accepted
    check_storage("sqlite://")  # in memory: nothing to check


def test_an_empty_file_is_taken_and_a_folder_is_not(tmp_path):
    (tmp_path / "empty.db").touch()
    check_storage(f"sqlite:///{tmp_path / 'empty.db'}")  # SQLite makes an empty file a database
    with pytest.raises(ConfigError, match="braces are read by Optuna"):
        check_storage(f"sqlite:///{tmp_path}/{{name}}.db")
