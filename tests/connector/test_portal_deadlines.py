"""Every call to the portal ends by its deadline, whatever the server does (decision 010):
a real socket server that accepts and never answers, one that drips its answer a byte at a
time, one that sends far too much — and one that answers properly, so the tests can fail.

No database: this is ``PortalClient`` against real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import httpx
import pytest

from termin360.connector.deadline import DeadlineTransport
from termin360.connector.portal_client import BadAnswer, PortalClient, PortalTimeout

CALENDARS = b'{"practice": "Praxis Dr. Berger", "calendars": []}'
Behaviour = Callable[[socket.socket], None]


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


@contextmanager
def server(behaviour: Behaviour) -> Iterator[str]:
    """An HTTP 'portal' on a free port that treats every connection with ``behaviour``."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)

    def serve(conn: socket.socket) -> None:
        with conn:
            with suppress(OSError):
                behaviour(conn)
            stop.wait(10)  # keep the connection open: the client must give up by itself

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


def silent(conn: socket.socket) -> None:
    _read_request(conn)


def dripping(every: float) -> Behaviour:
    def behaviour(conn: socket.socket) -> None:
        _read_request(conn)
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        answer += b"Content-Length: %d\r\n\r\n" % len(CALENDARS) + CALENDARS
        for i in range(len(answer)):
            conn.sendall(answer[i : i + 1])
            time.sleep(every)

    return behaviour


def huge(*, declared: bool) -> Behaviour:
    def behaviour(conn: socket.socket) -> None:
        _read_request(conn)
        size = 3 * 1024 * 1024
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if declared:
            conn.sendall(head + b"Content-Length: %d\r\n\r\n" % size)
        else:
            conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
        block = b"x" * 65536
        for _ in range(size // len(block)):
            conn.sendall(block if declared else b"%x\r\n%s\r\n" % (len(block), block))

    return behaviour


def proper(conn: socket.socket) -> None:
    _read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(CALENDARS)
        + CALENDARS
    )


def timed(fn: Callable[[], object]) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        fn()
    except Exception as exc:
        return time.monotonic() - start, exc
    return time.monotonic() - start, None


def test_a_portal_that_answers_in_time_is_read() -> None:
    with server(proper) as url, PortalClient(url, "k", timeout=2) as client:
        assert client.calendars().practice == "Praxis Dr. Berger"


def test_a_portal_that_accepts_and_never_answers_costs_at_most_the_deadline() -> None:
    with server(silent) as url, PortalClient(url, "k", timeout=1.5) as client:
        took, exc = timed(client.calendars)
    assert isinstance(exc, PortalTimeout), exc
    assert "antwortet nicht rechtzeitig" in exc.message and "1,5 s" in exc.message
    assert 1.4 <= took < 2.5, took


def test_a_portal_that_drips_its_answer_is_cut_off_at_the_deadline() -> None:
    """A byte every 0.2 s never trips the per-read timeout; only the deadline ends it."""
    with server(dripping(0.2)) as url, PortalClient(url, "k", timeout=2.0) as client:
        took, exc = timed(client.calendars)
    assert isinstance(exc, PortalTimeout), exc
    assert 1.9 <= took < 3.0, took


def test_the_long_poll_may_wait_its_wait_but_not_longer() -> None:
    with server(silent) as url, PortalClient(url, "k", timeout=1.0) as client:
        took, exc = timed(lambda: client.events(after=0, wait=1.0))
    assert isinstance(exc, PortalTimeout), exc
    assert 1.9 <= took < 3.0, took  # wait 1 s + the 1 s the answer may take


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_answer_over_the_cap_is_refused_clearly(declared: bool) -> None:
    with (
        server(huge(declared=declared)) as url,
        PortalClient(url, "k", timeout=10, max_answer_bytes=1024 * 1024) as client,
    ):
        took, exc = timed(client.calendars)
    assert isinstance(exc, BadAnswer) and exc.code == "answer_too_large", exc
    assert "größer als 1024 KiB" in exc.message
    assert took < 5, took


def test_the_deadline_transport_replaces_the_socket_layer_of_this_httpx() -> None:
    """The transport swaps httpx's private ``_pool``: should a new httpx rename it, this
    fails at once instead of silently losing the deadline."""
    transport = DeadlineTransport(verify=True, limits=httpx.Limits())
    pool = transport._pool
    assert type(pool._network_backend).__name__ == "_DeadlineBackend"
    transport.close()
