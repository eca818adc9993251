"""The Optuna storage of a search (``--storage URL``): checked before any data is read, opened
before any trial runs, every failure one :class:`ConfigError` line.

- :func:`check_storage` (before the data): the URL parses as a database URL; a SQLite file's
  folder exists and is a folder, and a file already there is a SQLite database holding an
  Optuna study or nothing (a damaged file, or another program's database, is refused and left
  as it is); another database's driver is installed and the server takes a connection within
  :data:`CONNECT_TIMEOUT` seconds.
- :func:`open_storage` (before the trials): Optuna's ``RDBStorage`` with that connect timeout;
  what the database says (unwritable, locked, a schema of another Optuna version) is the line.

A server's connect timeout is the URL's own ``connect_timeout`` query parameter when it has
one (``postgresql://host/db?connect_timeout=30``), else :data:`CONNECT_TIMEOUT`; SQLite waits
for a locked file as long as SQLite's default (5 s).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from omicsformer.errors import ConfigError

CONNECT_TIMEOUT = 10  # seconds a database server has to take a connection
# the connect-timeout argument of each driver that has one (psycopg, MySQL drivers, pg8000)
TIMEOUT_ARGUMENT = {
    "psycopg2": "connect_timeout",
    "psycopg": "connect_timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mariadbconnector": "connect_timeout",
    "mysqlconnector": "connection_timeout",
    "pg8000": "timeout",
}
EXAMPLES = "sqlite:///study.db (relative), sqlite:////abs/path/study.db, postgresql://user@host/db"
SQLITE_HEADER = b"SQLite format 3\x00"
OPTUNA_TABLES = {"studies", "version_info"}


def _url(storage: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage)
    except (ArgumentError, ValueError):
        raise ConfigError(f"--storage {storage}: not a database URL (e.g. {EXAMPLES})") from None
    try:  # Optuna fills {SCHEMA_VERSION} in a URL: any other braces break it
        storage.format(SCHEMA_VERSION=0)
    except (KeyError, IndexError, ValueError):
        raise ConfigError(
            f"--storage {_shown(url)}: braces are read by Optuna as a template field; only "
            "{SCHEMA_VERSION} may appear"
        ) from None
    return url


def _shown(url: Any) -> str:
    """The URL as the user may see it: the password hidden."""
    return url.render_as_string(hide_password=True)


def _sqlite_path(url: Any) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def check_storage(storage: str) -> None:
    """Refuse, before any data is read, a ``--storage`` URL that cannot hold a study.

    Raises
    ------
    ConfigError
        A malformed URL; a SQLite file whose folder is missing or is a file, a file that is
        not a SQLite database (damaged, or another kind of file) or that holds another
        program's tables; a database whose driver is missing, or whose server does not take a
        connection within the connect timeout. Nothing is created or changed.
    """
    url = _url(storage)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is not None:
            _check_sqlite_file(_shown(url), path)
        return
    engine = _engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # refused, unknown host, no answer, refused credentials
        raise ConfigError(f"--storage {_shown(url)}: {_database_reason(exc)}") from None
    finally:
        engine.dispose()


def _check_sqlite_file(shown: str, path: Path) -> None:
    above = next((p for p in path.absolute().parents if p.exists()), None)
    if not path.parent.is_dir():
        if above is not None and not above.is_dir():
            raise ConfigError(f"--storage {shown}: {above} is a file, not a folder")
        raise ConfigError(f"--storage {shown}: folder {path.parent} does not exist")
    if not path.exists():
        return
    if path.is_dir():
        raise ConfigError(f"--storage {shown}: {path} is a folder, not a database file")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ConfigError(f"--storage {shown}: {path}: {exc.strerror or exc}") from None
    if header and header != SQLITE_HEADER:
        raise ConfigError(
            f"--storage {shown}: {path} is not a SQLite database (damaged, or another kind of "
            "file); it was left as it is"
        )
    try:  # read-only: a damaged file is never written to
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise ConfigError(
            f"--storage {shown}: {path} cannot be read as a SQLite database ({exc}); it was "
            "left as it is"
        ) from None
    if tables and not OPTUNA_TABLES <= tables:
        names = sorted(tables)
        listed = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise ConfigError(
            f"--storage {shown}: {path} is a database of another program (tables {listed}); "
            "give a new file or one of an Optuna study"
        )


def _engine(url: Any) -> Any:
    """A SQLAlchemy engine for a server database, with the connect timeout; a missing driver
    is one line."""
    import sqlalchemy
    from sqlalchemy.exc import NoSuchModuleError

    try:
        return sqlalchemy.create_engine(url, **engine_kwargs(url))
    except ImportError as exc:
        raise ConfigError(
            f"--storage {_shown(url)}: the {url.drivername} driver is not installed ({exc}); "
            f"install it with pip, or name an installed driver ({url.get_backend_name()}"
            "+DRIVER://...)"
        ) from None
    except NoSuchModuleError:
        raise ConfigError(
            f"--storage {_shown(url)}: unknown database kind or driver {url.drivername!r} (e.g. "
            f"{EXAMPLES})"
        ) from None
    except Exception as exc:  # a bad argument in the URL
        raise ConfigError(f"--storage {_shown(url)}: {_database_reason(exc)}") from None


def engine_kwargs(url: Any) -> dict[str, Any]:
    """Optuna's ``engine_kwargs`` for ``url``: its driver's connect timeout,
    :data:`CONNECT_TIMEOUT` unless the URL sets one."""
    argument = TIMEOUT_ARGUMENT.get(url.get_driver_name())
    if argument is None or argument in url.query:
        return {}
    return {"connect_args": {argument: CONNECT_TIMEOUT}}


def _database_reason(exc: BaseException) -> str:
    """The database's or driver's own words for a failure, on one line, without the SQL."""
    reason = getattr(exc, "orig", None) or exc
    text = " ".join(str(reason).split()) or type(reason).__name__
    return text[:300]


def open_storage(storage: str) -> Any:
    """Optuna's ``RDBStorage`` of ``storage`` (tables created when new), with the connect
    timeout; any failure (unwritable, locked, damaged, another Optuna version's schema) is one
    :class:`ConfigError` line."""
    import optuna

    url = _url(storage)
    shown = _shown(url)
    if url.get_backend_name() != "sqlite":
        _engine(url).dispose()  # a missing driver, an unknown kind: their own lines
    elif (path := _sqlite_path(url)) is not None:
        _check_sqlite_file(shown, path)
    try:
        return optuna.storages.RDBStorage(storage, engine_kwargs=engine_kwargs(url))
    except Exception as exc:  # sqlalchemy's errors, Optuna's version check (RuntimeError)
        raise ConfigError(f"--storage {shown}: {_database_reason(exc)}") from None
