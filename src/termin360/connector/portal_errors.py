"""What the connector says when the portal refuses a request (a 4xx with ``{code,
detail}``): our own German text for the codes we know, the portal's ``detail`` only as
a quoted addition — cut to ``MAX_DETAIL`` characters, control and format characters
(line breaks, ANSI escapes, bidi overrides) removed. The portal is another system: its
words go into our pages, logs and console lines, so they must not be able to pose as
ours or break the line they are in."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_DETAIL = 160
MAX_CODE = 40
_CODE = re.compile(r"[a-z][a-z0-9_]*")

# The codes of the sync API (portal/api/sync.py, portal/services/sync.py, webapi/errors.py).
KNOWN_CODES: dict[str, str] = {
    "unknown_calendar": "Das Portal kennt diesen Online-Kalender nicht (Zuordnung prüfen).",
    "not_found": "Das Portal kennt diese Buchung oder diesen Kalender nicht (mehr).",
    "slot_taken": "Die Zeit ist im Portal schon vergeben.",
    "online_booking_holds_time": "Eine Online-Buchung belegt diese Zeit.",
    "already_cancelled": "Die Buchung ist im Portal schon storniert.",
    "deadline_passed": "Die Frist für diese Änderung ist im Portal abgelaufen.",
    "bad_day": "Der Tag liegt außerhalb des Bereichs, den das Portal annimmt.",
    "interval_outside_day": "Eine Zeitspanne liegt nicht auf dem angegebenen Tag.",
    "naive_time": "Eine Uhrzeit ohne Zeitzone wurde gesendet.",
    "invalid": "Das Portal hält die Anfrage für ungültig.",
    "malformed_body": "Das Portal konnte die Anfrage nicht lesen.",
    "too_large": "Die Anfrage ist dem Portal zu groß.",
    "bad_request": "Das Portal hält die Anfrage für ungültig.",
    "idempotency_key_reused": "Das Portal hat eine Wiederholung mit anderem Inhalt abgelehnt.",
    "bad_idempotency_key": "Das Portal lehnt den Wiederholungsschlüssel der Anfrage ab.",
    "conflict": "Die Anfrage widerspricht dem Stand im Portal.",
    "forbidden": "Das Portal erlaubt diese Änderung nicht.",
    "unauthenticated": "Das Portal lehnt den API-Schlüssel ab.",
    "too_many_attempts": "Das Portal nimmt gerade keine weiteren Versuche an.",
    "database_busy": "Das Portal ist gerade ausgelastet; der Abgleich wird wiederholt.",
    "database_unavailable": "Das Portal ist gerade gestört; der Abgleich wird wiederholt.",
}


def clean_text(text: Any, limit: int = MAX_DETAIL) -> str:
    """``text`` as one harmless line: no control or format characters, whitespace
    collapsed, at most ``limit`` characters (``…`` when cut)."""
    raw = str(text or "")[: limit * 4]
    kept = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in raw)
    line = " ".join(kept.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def refusal_code(body: dict[str, Any]) -> str:
    """The portal's ``code`` if it looks like one, else ``refused``."""
    code = body.get("code")
    if isinstance(code, str) and len(code) <= MAX_CODE and _CODE.fullmatch(code):
        return code
    return "refused"


def refusal_message(status: int, body: dict[str, Any]) -> str:
    """Our German sentence for the refusal, with the portal's detail quoted after it."""
    code = refusal_code(body)
    ours = KNOWN_CODES.get(code) or (
        f"Das Portal lehnt die Anfrage ab (HTTP {status}, Code {code})."
    )
    detail = clean_text(body.get("detail"))
    return f"{ours} Portal: „{detail}“" if detail else ours
