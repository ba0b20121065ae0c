"""A database that a running server process loses, for the readiness tests.

``cuttable_database`` gives the URL a server process is started with and ``cut()``,
which makes that database unreachable while the process runs — for real, not by a
patched function: on PostgreSQL the process reaches the test database through a TCP
proxy in this process, and ``cut()`` closes the proxy and every connection through it
(as a database host that goes away); on SQLite the process has its own database file,
and ``cut()`` puts a directory where the file was (it cannot be opened any more).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dj_database_url

from tests.conftest import BACKEND, _test_database_url
from tests.db_outage import TcpProxy


@dataclass
class CuttableDatabase:
    url: str
    cut: Callable[[], None]


def url_path(url: str) -> str:
    return str(dj_database_url.parse(url)["NAME"])


@contextmanager
def cuttable_database(directory: Path) -> Iterator[CuttableDatabase]:
    """On PostgreSQL the test database itself, on SQLite a copy of it."""
    if BACKEND == "postgres":
        url = _test_database_url()
        cfg = dj_database_url.parse(url)
        proxy = TcpProxy((cfg["HOST"] or "127.0.0.1", int(cfg["PORT"] or 5432)))
        try:
            user = cfg["USER"] or "postgres"
            yield CuttableDatabase(
                f"postgres://{user}@127.0.0.1:{proxy.port}/{cfg['NAME']}", proxy.cut
            )
        finally:
            proxy.cut()
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "own.sqlite3"
    # a copy of the test database: migrated already, so the server starts at once
    source, copy = sqlite3.connect(url_path(_test_database_url())), sqlite3.connect(path)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()

    def cut() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.mkdir()

    try:
        yield CuttableDatabase(f"sqlite:///{path}", cut)
    finally:
        if path.is_dir():
            shutil.rmtree(path)
