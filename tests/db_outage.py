"""Real database outages for tests: a SQLite write lock held by another connection, and
a TCP proxy in front of PostgreSQL that a test can cut, so a running server process
loses its database (connections broken, new ones refused)."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATABASE_URL_VARIABLE, Server, free_port, role_env, stop


@contextlib.contextmanager
def sqlite_write_lock(path: str) -> Iterator[None]:
    """Hold the write lock of the SQLite file ``path`` from a second connection."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextlib.contextmanager
def short_sqlite_busy_timeout(seconds: float = 0.2) -> Iterator[None]:
    """This process's connection waits only ``seconds`` for a lock (instead of 20 s)."""
    from django.db import connection

    options: dict[str, Any] = connection.settings_dict["OPTIONS"]
    before = options.get("timeout")
    connection.close()
    options["timeout"] = seconds
    try:
        yield
    finally:
        connection.close()
        options["timeout"] = before


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target`` until ``cut()``: then it closes every
    open connection and stops listening (a database server that went away)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.is_cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:  # the database itself is away: so is this connection
                client.close()
                continue
            upstream.settimeout(None)  # an idle database connection is not a dead one
            with self.lock:
                if self.is_cut:
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            self.is_cut = True
            # shutdown wakes the thread blocked in accept(); close alone would not
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


@contextlib.contextmanager
def server_behind_proxy(role: str, directory: Path) -> Iterator[tuple[Server, TcpProxy]]:
    """``termin360 <role> serve`` on the PostgreSQL test database, through a ``TcpProxy``."""
    from django.db import connection

    s = connection.settings_dict
    proxy = TcpProxy((s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)))
    url = f"postgres://{s['USER'] or 'postgres'}@127.0.0.1:{proxy.port}/{s['NAME']}"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = {DATABASE_URL_VARIABLE[role]: url}
    if role == "portal":
        extra["TERMIN360_PORTAL_URL"] = base
    log = directory / f"{role}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "termin360", role, "serve", "--port", str(port)],
            env={**role_env(role, directory), **extra},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{role} server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(base, proc, log), proxy
    finally:
        stop(proc)
        proxy.cut()


def csrf_form(http: httpx.Client, path: str) -> str:
    """GET the form at ``path`` and return its CSRF token (the cookie is kept by ``http``)."""
    import re

    page = http.get(path)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)
