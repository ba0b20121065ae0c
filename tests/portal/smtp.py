"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port) that collects what
it receives.

Use the fixture (``from tests.portal.smtp import smtp_server`` in a test module or
conftest) or the context manager ``running_smtp_server()``::

    def test_x(smtp_server):
        ...  # point TERMIN360_SMTP_HOST / _PORT (or settings) at smtp_server.host / .port
        msg = smtp_server.wait_for(lambda m: "Termin" in m["Subject"], timeout=10)

``stop()`` and ``start()`` take the server down and up again on the same port, to
test what a sender does while SMTP is unreachable.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port

# aiosmtpd logs every SMTP command at INFO; keep test output readable.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class _Collect:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        msg = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
        with self.server._lock:
            self.server.messages.append(msg)
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


class SmtpServer:
    """The running server: ``host``, ``port``, received ``messages`` (newest last)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(_Collect(self), hostname=self.host, port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool] = lambda m: True, timeout: float = 10
    ) -> EmailMessage:
        """The first received message matching ``predicate``; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for msg in self.messages:
                    if predicate(msg):
                        return msg
                seen = [subject_of(m) for m in self.messages]
            if time.monotonic() > deadline:
                pytest.fail(f"no matching e-mail within {timeout}s; received: {seen}")
            time.sleep(0.05)


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def subject_of(msg: EmailMessage) -> str:
    """The decoded subject on one line (a long encoded subject arrives folded)."""
    return " ".join(str(msg["Subject"] or "").split())


def attachment(msg: EmailMessage, filename: str = "termin.ics") -> tuple[str, bytes] | None:
    """(content type with parameters, payload) of the attachment ``filename``, if any."""
    for part in msg.walk():
        if part.get_filename() == filename:
            payload = part.get_payload(decode=True)
            return str(part["Content-Type"]), cast(bytes, payload)
    return None
