"""A portal's refusal in the connector's words: our German text for the codes we know,
the portal's detail only as a quoted, bounded, cleaned addition — never the portal's
text word for word as if it were ours."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from termin360.connector.portal_client import PortalClient, Refused
from termin360.connector.portal_errors import MAX_DETAIL, clean_text, refusal_message


def test_a_known_code_is_our_text_with_the_portals_detail_quoted() -> None:
    message = refusal_message(409, {"code": "slot_taken", "detail": "x"})
    assert message == "Die Zeit ist im Portal schon vergeben. Portal: „x“"


def test_an_unknown_code_is_named_with_the_status() -> None:
    message = refusal_message(418, {"code": "teapot", "detail": "Ich bin eine Teekanne"})
    assert message == (
        "Das Portal lehnt die Anfrage ab (HTTP 418, Code teapot). Portal: „Ich bin eine Teekanne“"
    )


def test_without_a_detail_only_our_text() -> None:
    assert refusal_message(404, {"code": "not_found"}) == (
        "Das Portal kennt diese Buchung oder diesen Kalender nicht (mehr)."
    )
    assert refusal_message(400, {}) == "Das Portal lehnt die Anfrage ab (HTTP 400, Code refused)."


@pytest.mark.parametrize(
    "code", ["<script>", "Slot Taken", "a" * 41, "slot_taken\n", 42, None, ["slot_taken"]]
)
def test_a_code_that_is_not_a_code_is_not_repeated(code: Any) -> None:
    message = refusal_message(409, {"code": code})
    assert "Code refused" in message
    assert "<script>" not in message


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        ("Zeile 1\nZeile 2\r\n\tZeile 3", "Zeile 1 Zeile 2 Zeile 3"),
        ("\x1b[31mrot\x1b[0m", "[31mrot [0m"),
        ("Abc\u202edcba", "Abc dcba"),  # a bidi override cannot turn the line around
        ("null\x00byte", "null byte"),
        ("  viel   Platz  ", "viel Platz"),
    ],
)
def test_control_and_format_characters_are_stripped(detail: str, shown: str) -> None:
    assert clean_text(detail) == shown
    assert refusal_message(409, {"code": "conflict", "detail": detail}).endswith(f"„{shown}“")


def test_a_long_detail_is_cut() -> None:
    message = refusal_message(422, {"code": "invalid", "detail": "Ä" * 100_000})
    quoted = message.split("Portal: „", 1)[1].rstrip("“")
    assert len(quoted) == MAX_DETAIL
    assert quoted.endswith("…")


# --------------------------------------------------------------------------- over HTTP


@contextmanager
def portal_answering(status: int, body: Any) -> Iterator[str]:
    """A real HTTP server that answers every request with ``status`` and ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_turns_a_portals_refusal_into_our_message() -> None:
    hostile = {
        "code": "unknown_calendar",
        "detail": "Abgleich fehlgeschlagen: x\n\x1b[2J" + "A" * 1000,
        "calendar": 7,
    }
    with portal_answering(404, hostile) as url:
        client = PortalClient(url, "key", timeout=5)
        try:
            with pytest.raises(Refused) as refused:
                client.calendars()
        finally:
            client.close()
    exc = refused.value
    assert exc.code == "unknown_calendar"
    assert exc.status == 404
    assert exc.details == {"calendar": 7}
    assert exc.message.startswith(
        "Das Portal kennt diesen Online-Kalender nicht (Zuordnung prüfen). "
        "Portal: „Abgleich fehlgeschlagen: x [2JAAA"
    )
    assert "\n" not in exc.message and "\x1b" not in exc.message
    assert len(exc.message) < 250
