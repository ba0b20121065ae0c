"""The connector's only way to the portal: the sync API over HTTP(S).

``PortalApi`` is the interface (a few methods, one per endpoint of
``termin360.protocol.messages``); ``PortalClient`` is the real one on httpx, with a
timeout on every call and TLS from a profile. Tests of the connector's logic may use
an in-memory double with the same methods.

Exception tree (every message is German, for the practice's IT person)::

    PortalError
    ├── PortalUnreachable   no connection (host unknown, refused, network down)
    ├── PortalTimeout       connected, but no answer in time
    ├── TlsFailure          certificate not trusted, wrong host name, bad client certificate
    ├── AuthFailure         API key unknown or revoked (401/403)
    ├── Refused             the portal answered 4xx with a code (e.g. ``slot_taken``)
    └── BadAnswer           5xx or an answer that is not what the protocol says
"""

from __future__ import annotations

import ssl
import uuid
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

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
    """A 4xx answer with the portal's ``code`` and ``detail`` (and its other fields)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        detail = str(body.get("detail") or f"HTTP {status}")
        extra = {k: v for k, v in body.items() if k not in ("code", "detail")}
        super().__init__(detail, code=str(body.get("code") or "refused"), **extra)
        self.status = status
        self.body = body


class BadAnswer(PortalError):
    pass


class PortalApi(Protocol):
    def calendars(self) -> CalendarList: ...
    def events(self, after: int, wait: float = 0) -> FeedPage: ...
    def put_busy(self, batch: BusyBatch, idempotency_key: str) -> BusyBatchResult: ...
    def claim(self, claim: Claim, timeout: float) -> ClaimResult | ClaimRefused: ...
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


class PortalClient:
    """The sync API over HTTP(S). One instance keeps one connection pool (keep-alive)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        ca_bundle: str = "",
        client_cert: str = "",
        client_key: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url + SYNC_API_PREFIX,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"termin360-connector/{SYNC_API_VERSION}",
                "Accept-Language": "de",
            },
            verify=ssl_context(ca_bundle, client_cert, client_key),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
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
    ) -> httpx.Response:
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        content = body.model_dump_json() if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                method,
                path,
                content=content,
                params=params,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)) if timeout else None,
            )
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise PortalUnreachable(
                    f"Portal {self.base_url} nicht erreichbar (Zeitüberschreitung beim "
                    "Verbindungsaufbau).",
                    code="unreachable",
                ) from None
            raise PortalTimeout(
                f"Portal {self.base_url} antwortet nicht rechtzeitig.", code="timeout"
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
        if response.status_code in (401, 403):
            raise AuthFailure(
                "Das Portal lehnt den API-Schlüssel ab (unbekannt oder widerrufen). "
                "Bitte in `termin360 sync config` den aktuellen Schlüssel eintragen.",
                code="auth",
            )
        if response.status_code >= 500:
            raise BadAnswer(
                f"Portal meldet einen Fehler (HTTP {response.status_code}); später erneut.",
                code="server_error",
            )
        if response.status_code >= 400:
            try:
                data = response.json()
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            raise Refused(response.status_code, data)
        return response

    def _parse(self, response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise BadAnswer(
                f"Unerwartete Antwort des Portals auf {response.request.url.path}: "
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
            timeout=self.timeout + wait,
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
