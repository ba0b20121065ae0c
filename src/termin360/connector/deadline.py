"""An overall deadline for each HTTP call of the connector, enforced at the socket.

httpx's timeouts bound each step — connecting, one write, one read, waiting for a
pooled connection — but not the call: a portal that sends one byte every few seconds
never trips a read timeout and holds the caller forever. Here every socket operation
(connect, TLS handshake, read, write) gets at most the time left until the call's
deadline, so a call ends by its deadline whatever the other side does.

``with call_deadline(seconds): client.request(...)`` sets the deadline for the calls made
in that block (a context variable: per thread, so the job's loops and the S9 check each
have their own). ``DeadlineTransport`` is httpx's own HTTP transport with the socket
layer wrapped; everything else — TLS, keep-alive, HTTP/1.1 — stays httpx's.
"""

from __future__ import annotations

import math
import ssl
import time
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

_deadline: ContextVar[float] = ContextVar("termin360_call_deadline", default=math.inf)


@contextmanager
def call_deadline(seconds: float) -> Iterator[float]:
    """Every socket operation in this block ends by ``seconds`` from now (monotonic)."""
    at = time.monotonic() + seconds
    token = _deadline.set(min(at, _deadline.get()))
    try:
        yield at
    finally:
        _deadline.reset(token)


def deadline_passed() -> bool:
    return time.monotonic() >= _deadline.get()


def _left(timeout: float | None, exc: type[Exception]) -> float | None:
    """The step's own timeout, cut to what is left of the call's deadline."""
    left = _deadline.get() - time.monotonic()
    if left == math.inf:
        return timeout
    if left <= 0:
        raise exc("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._stream.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host,
            port,
            _left(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options=socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's HTTP transport whose sockets keep the call's deadline (``call_deadline``)."""

    def __init__(self, *, verify: ssl.SSLContext | bool, limits: httpx.Limits) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        context = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
        # The pool httpx built, once more with the wrapped socket layer. ``_pool`` is
        # httpx's (0.28) own attribute; tests/connector/test_portal_deadlines.py fails at
        # once should a new httpx name it differently.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )
