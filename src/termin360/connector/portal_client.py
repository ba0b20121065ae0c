"""The connector's only way to the portal: the sync API over HTTP(S).

``PortalApi`` is the interface (a few methods, one per endpoint of
``termin360.protocol.messages``); ``PortalClient`` is the real one on httpx, with a
deadline on every call (``deadline``), a cap on the size of every answer, and TLS from a
profile. Tests of the connector's logic may use an in-memory double with the same
methods.

Exception tree (every message is German, for the practice's IT person)::

    PortalError
    ├── PortalUnreachable   no connection (host unknown, refused, network down)
    ├── PortalTimeout       connected, but no (whole) answer within the call's deadline
    ├── TlsFailure          certificate not trusted, wrong host name, bad client certificate
    ├── AuthFailure         API key unknown or revoked (401/403)
    ├── Refused             the portal answered 4xx with a code (e.g. ``slot_taken``)
    └── BadAnswer           5xx, an answer too large, or not what the protocol says
"""

from __future__ import annotations

import json
import ssl
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from termin360.connector.deadline import DeadlineTransport, call_deadline
from termin360.connector.portal_errors import refusal_code, refusal_message
from termin360.protocol import (
    IDEMPOTENCY_HEADER,
    MAX_FEED_WAIT_SECONDS,
    SYNC_API_PREFIX,
    SYNC_API_VERSION,
)
from termin360.protocol.messages import (
    BookingState,
    BusyBatch,
    BusyBatchResult,
    CalendarList,
    Claim,
    ClaimRefused,
    ClaimReleased,
    ClaimResult,
    FeedPage,
    PracticeCancel,
    PracticeMove,
    Receipts,
    ReceiptsResult,
)

M = TypeVar("M", bound=BaseModel)


class PortalError(Exception):
    def __init__(self, message: str, *, code: str = "portal_error", **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


class PortalUnreachable(PortalError):
    pass


class PortalTimeout(PortalError):
    pass


class TlsFailure(PortalError):
    pass


class AuthFailure(PortalError):
    pass


class Refused(PortalError):
    """A 4xx answer with the portal's ``code`` and ``detail`` (and its other fields).
    The message is ours (``portal_errors``); the portal's detail only quoted in it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        extra = {k: v for k, v in body.items() if k not in ("code", "detail")}
        super().__init__(refusal_message(status, body), code=refusal_code(body), **extra)
        self.status = status
        self.body = body


class BadAnswer(PortalError):
    pass


class PortalApi(Protocol):
    def calendars(self) -> CalendarList: ...
    def events(self, after: int, wait: float = 0) -> FeedPage: ...
    def put_busy(self, batch: BusyBatch, idempotency_key: str) -> BusyBatchResult: ...
    def claim(self, claim: Claim, timeout: float) -> ClaimResult | ClaimRefused: ...
    def release_claim(self, claim_id: str, timeout: float) -> ClaimReleased: ...
    def cancel_booking(
        self, booking_id: int, body: PracticeCancel, idempotency_key: str
    ) -> BookingState: ...
    def move_booking(
        self, booking_id: int, body: PracticeMove, idempotency_key: str
    ) -> BookingState: ...
    def receipts(self, body: Receipts, idempotency_key: str) -> ReceiptsResult: ...
    def close(self) -> None: ...


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def ssl_context(
    ca_bundle: str = "", client_cert: str = "", client_key: str = ""
) -> ssl.SSLContext | bool:
    """An SSL context for the profile; ``True`` (the system's CAs) without a CA bundle."""
    try:
        ctx = ssl.create_default_context(cafile=ca_bundle or None)
        if client_cert:
            ctx.load_cert_chain(client_cert, client_key or None)
    except FileNotFoundError as exc:
        raise TlsFailure(
            f"TLS-Profil: Datei nicht gefunden: {exc.filename}", code="tls_file_missing"
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsFailure(
            f"TLS-Profil: Zertifikat oder Schlüssel nicht lesbar ({exc})", code="tls_file_invalid"
        ) from None
    return ctx


# Every call to the portal has a deadline; each step of it (connect, one read, one write,
# waiting for a pooled connection) its own, shorter timeout (decision 010).
CONNECT_TIMEOUT = 5.0
STEP_TIMEOUT = 10.0
POOL_TIMEOUT = 5.0
CALL_DEADLINE = 20.0
# The long poll may wait up to its ``wait``; the answer then has this long to arrive.
FEED_DEADLINE_MARGIN = 15.0
# The biggest answer the protocol gives is a feed page of 500 events (well under 1 MiB).
MAX_ANSWER_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class _Answer:
    status: int
    content: bytes
    path: str

    def json(self) -> Any:
        return json.loads(self.content)


class PortalClient:
    """The sync API over HTTP(S). One instance keeps one connection pool (keep-alive).

    ``deadline`` bounds each call as a whole (``deadline.call_deadline``): a portal that
    accepts and never answers, or answers a byte every few seconds, costs at most that
    long; an answer larger than ``max_answer_bytes`` is refused."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        ca_bundle: str = "",
        client_cert: str = "",
        client_key: str = "",
        timeout: float = CALL_DEADLINE,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        step = min(timeout, STEP_TIMEOUT)
        self._http = httpx.Client(
            base_url=self.base_url + SYNC_API_PREFIX,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"termin360-connector/{SYNC_API_VERSION}",
                "Accept-Language": "de",
            },
            transport=DeadlineTransport(
                verify=ssl_context(ca_bundle, client_cert, client_key),
                limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            ),
            timeout=httpx.Timeout(
                connect=min(step, CONNECT_TIMEOUT),
                read=step,
                write=step,
                pool=min(step, POOL_TIMEOUT),
            ),
            trust_env=False,
        )

    # ------------------------------------------------------------------ plumbing

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> _Answer:
        """One call, ended by its deadline (``timeout``, else the client's) whatever the
        portal does; ``read_timeout``: the longest silence between two reads (the long
        poll's is its wait)."""
        deadline = timeout if timeout is not None else self.timeout
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        content = body.model_dump_json() if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        step = min(deadline, STEP_TIMEOUT)
        steps = httpx.Timeout(
            connect=min(step, CONNECT_TIMEOUT),
            read=read_timeout if read_timeout is not None else step,
            write=step,
            pool=min(step, POOL_TIMEOUT),
        )
        try:
            with call_deadline(deadline):
                request = self._http.build_request(
                    method, path, content=content, params=params, headers=headers, timeout=steps
                )
                response = self._http.send(request, stream=True)
                try:
                    answer = _Answer(response.status_code, self._read(response, path), path)
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise PortalUnreachable(
                    f"Portal {self.base_url} nicht erreichbar (Zeitüberschreitung beim "
                    "Verbindungsaufbau).",
                    code="unreachable",
                ) from None
            raise PortalTimeout(
                f"Portal {self.base_url} antwortet nicht rechtzeitig (Frist "
                f"{_seconds(deadline)} s für {method} {path}).",
                code="timeout",
            ) from None
        except httpx.TransportError as exc:
            tls = _tls_cause(exc)
            if tls is not None:
                reason = getattr(tls, "verify_message", "") or getattr(tls, "reason", "") or tls
                raise TlsFailure(
                    f"TLS-Fehler bei {self.base_url}: {reason}. Stimmt das TLS-Profil "
                    "(CA-Zertifikate, Client-Zertifikat)?",
                    code="tls",
                ) from None
            raise PortalUnreachable(
                f"Portal {self.base_url} nicht erreichbar ({exc.__class__.__name__}: {exc}).",
                code="unreachable",
            ) from None
        return self._check(answer)

    def _read(self, response: httpx.Response, path: str) -> bytes:
        """The body, refused as soon as it grows past the cap (never held whole)."""
        too_big = BadAnswer(
            f"Die Antwort des Portals auf {path} ist größer als "
            f"{self.max_answer_bytes // 1024} KiB und wird nicht gelesen.",
            code="answer_too_large",
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise too_big
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.max_answer_bytes:
                raise too_big
        return bytes(body)

    def _check(self, answer: _Answer) -> _Answer:
        if answer.status in (401, 403):
            raise AuthFailure(
                "Das Portal lehnt den API-Schlüssel ab (unbekannt oder widerrufen). "
                "Bitte in `termin360 sync config` den aktuellen Schlüssel eintragen.",
                code="auth",
            )
        if answer.status >= 500:
            raise BadAnswer(
                f"Portal meldet einen Fehler (HTTP {answer.status}); später erneut.",
                code="server_error",
            )
        if answer.status >= 400:
            try:
                data = answer.json()
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            raise Refused(answer.status, data)
        return answer

    def _parse(self, response: _Answer, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise BadAnswer(
                f"Unerwartete Antwort des Portals auf {response.path}: "
                f"{exc.error_count()} Feld(er) passen nicht zum Protokoll {SYNC_API_VERSION}.",
                code="bad_answer",
            ) from None

    # ------------------------------------------------------------------ endpoints

    def calendars(self) -> CalendarList:
        return self._parse(self._send("GET", "/calendars"), CalendarList)

    def events(self, after: int, wait: float = 0) -> FeedPage:
        wait = max(0.0, min(float(wait), MAX_FEED_WAIT_SECONDS))
        response = self._send(
            "GET",
            "/events",
            params={"after": after, "wait": wait},
            timeout=wait + min(self.timeout, FEED_DEADLINE_MARGIN),
            read_timeout=wait + min(self.timeout, STEP_TIMEOUT),
        )
        return self._parse(response, FeedPage)

    def put_busy(self, batch: BusyBatch, idempotency_key: str) -> BusyBatchResult:
        response = self._send("PUT", "/busy", body=batch, idempotency_key=idempotency_key)
        return self._parse(response, BusyBatchResult)

    def claim(self, claim: Claim, timeout: float) -> ClaimResult | ClaimRefused:
        try:
            response = self._send("POST", "/claims", body=claim, timeout=timeout)
        except Refused as exc:
            if exc.status == 409 and exc.code == "online_booking_holds_time":
                try:
                    return ClaimRefused.model_validate(exc.body)
                except ValidationError:
                    raise BadAnswer(
                        "Unerwartete Antwort des Portals auf die Prüfung (S9).", code="bad_answer"
                    ) from None
            raise
        return self._parse(response, ClaimResult)

    def release_claim(self, claim_id: str, timeout: float) -> ClaimReleased:
        response = self._send("POST", f"/claims/{claim_id}/release", timeout=timeout)
        return self._parse(response, ClaimReleased)

    def cancel_booking(
        self, booking_id: int, body: PracticeCancel, idempotency_key: str
    ) -> BookingState:
        response = self._send(
            "POST", f"/bookings/{booking_id}/cancel", body=body, idempotency_key=idempotency_key
        )
        return self._parse(response, BookingState)

    def move_booking(
        self, booking_id: int, body: PracticeMove, idempotency_key: str
    ) -> BookingState:
        response = self._send(
            "POST", f"/bookings/{booking_id}/move", body=body, idempotency_key=idempotency_key
        )
        return self._parse(response, BookingState)

    def receipts(self, body: Receipts, idempotency_key: str) -> ReceiptsResult:
        response = self._send("POST", "/receipts", body=body, idempotency_key=idempotency_key)
        return self._parse(response, ReceiptsResult)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _seconds(value: float) -> str:
    return f"{value:g}".replace(".", ",")
