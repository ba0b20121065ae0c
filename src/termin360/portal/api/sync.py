"""The portal's sync API (``/api/v1/sync/…``): the only door of the practice's connector.

A NinjaAPI of its own — own OpenAPI document (``/api/v1/sync/openapi.json``), own
authentication (a practice API key, ``Authorization: Bearer t360k_…``) — with the wire
schemas of ``termin360.protocol.messages`` as request and answer bodies, so that the
document describes exactly what the connector sends and reads. The endpoints only
translate; ``services.sync`` decides.

Writes take an ``Idempotency-Key`` header (``services.sync_idempotency``): a repeated key
answers with the first answer. An id of another practice answers 404 like an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy
from ninja import Header, Path, Query
from ninja.security import HttpBearer

from termin360.portal.api.schemas import MAX_ID
from termin360.portal.models import Practice
from termin360.portal.services import practices, sync, sync_feed
from termin360.portal.services.sync_idempotency import Answer, run_once
from termin360.protocol import IDEMPOTENCY_HEADER, MAX_FEED_WAIT_SECONDS
from termin360.protocol.messages import (
    MAX_CLAIM_ID_LENGTH,
    MAX_FEED_PAGE,
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
from termin360.webapi.errors import JsonBodyParser, install_error_handlers
from termin360.webapi.responses import BODY, DocumentedAPI, errors


class PracticeKey(HttpBearer):
    """``Authorization: Bearer <API key>`` — a key the practice issued on the portal (P1)."""

    def authenticate(self, request: HttpRequest, token: str) -> Practice | None:
        if not token or len(token) > 200:
            return None
        return practices.practice_for_key(token)


sync_api = DocumentedAPI(
    title="termin360 portal sync API",
    version="1",
    description=(
        "For the connector beside a practice calendar (SPEC S1–S13, P6; decision 008). "
        "Every call needs the practice's API key (`Authorization: Bearer …`); every write "
        "takes an `Idempotency-Key` header (a repeated key gets the first answer). Times are "
        "UTC instants with their offset; `day` is the practice's local day. Errors are "
        "`{code, detail}`."
    ),
    urls_namespace="portal-sync-api",
    parser=JsonBodyParser(),
    auth=PracticeKey(),
)
install_error_handlers(
    sync_api, unauthenticated=gettext_lazy("The API key is missing, unknown or revoked.")
)

IdempotencyKey = Annotated[
    str | None,
    Header(alias=IDEMPOTENCY_HEADER, description="any unique text up to 100 characters"),
]
BookingId = Annotated[int, Path(ge=1, le=MAX_ID)]
ClaimIdPath = Annotated[
    str, Path(min_length=8, max_length=MAX_CLAIM_ID_LENGTH, pattern=r"^[\w-]+$")
]


def _practice(request: HttpRequest) -> Practice:
    practice = request.auth  # type: ignore[attr-defined]  # set by PracticeKey
    assert isinstance(practice, Practice)
    return practice


def _respond(request: HttpRequest, answer: Answer) -> HttpResponse:
    return sync_api.create_response(request, answer.body, status=answer.status)


@sync_api.get("/calendars", response={200: CalendarList, **errors(401)})
def calendars(request: HttpRequest) -> CalendarList:
    """The practice's online calendars (S1: the connector maps them and shows their names)."""
    return sync.calendar_list(_practice(request))


@sync_api.get("/events", response={200: FeedPage, **errors(401, 422)})
def events(
    request: HttpRequest,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="the connector's cursor")] = 0,
    wait: Annotated[
        float, Query(ge=0, le=MAX_FEED_WAIT_SECONDS, description="long poll: seconds to wait")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_PAGE)] = MAX_FEED_PAGE,
) -> FeedPage:
    """The change feed after ``after``: answers at once when there are events, otherwise
    waits up to ``wait`` seconds for the first one. A cursor above ``last_seq`` answers at
    once (the connector was pointed at another portal, or this one was restored)."""
    practice = _practice(request)
    sync_feed.connector_read(practice_id=practice.pk, after=after)
    page = sync_feed.feed_page(practice_id=practice.pk, after=after, limit=limit)
    if page.events or wait <= 0 or after > page.last_seq:
        return page
    if sync_feed.wait_for_events(practice_id=practice.pk, after=after, timeout=wait):
        page = sync_feed.feed_page(practice_id=practice.pk, after=after, limit=limit)
    return page


@sync_api.put("/busy", response={200: BusyBatchResult, **errors(401, 404, *BODY)})
def put_busy(
    request: HttpRequest, body: BusyBatch, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    """Replace the busy time of whole (online calendar, day)s with what the practice
    calendar holds (S8). Free slots of those days follow at once. A day whose
    ``revision`` is lower than the one the portal has is left as it is (``stale``); the
    claims a day ``settles`` stop holding time on that day (S9)."""
    practice = _practice(request)

    def action() -> Answer:
        result = sync.replace_busy(practice=practice, days=body.days)
        return Answer(200, result.model_dump(mode="json"))

    return _respond(
        request,
        run_once(
            practice=practice,
            key=idempotency_key,
            method="PUT",
            path=request.path,
            action=action,
        ),
    )


@sync_api.post("/claims", response={200: ClaimResult, **errors(401, 404, *BODY), 409: ClaimRefused})
def claims(request: HttpRequest, body: Claim) -> ClaimResult:
    """S9: a practice action wants to occupy this time. 409 ``online_booking_holds_time``
    with the bookings the connector has not seen yet (booked or moved after ``after_seq``,
    not in ``known``) that hold it; otherwise the portal holds the time under
    ``claim_id`` — online bookings are refused there — until the busy state of the day
    arrives naming the claim (``settles``), the claim is released, or ``expires_at``.
    Sending the same ``claim_id`` again changes nothing, so it needs no Idempotency-Key."""
    return sync.claim(practice=_practice(request), claim=body)


@sync_api.post("/claims/{claim_id}/release", response={200: ClaimReleased, **errors(401, 422)})
def release_claim(request: HttpRequest, claim_id: ClaimIdPath) -> ClaimReleased:
    """S9: the practice action behind the claim was not saved — its holds end at once.
    Releasing twice, or a claim the portal never got, answers ``released: false``."""
    return sync.release(practice=_practice(request), claim_id=claim_id)


@sync_api.post(
    "/bookings/{booking_id}/cancel",
    response={200: BookingState, **errors(401, 404, 409, *BODY)},
)
def cancel_booking(
    request: HttpRequest,
    booking_id: BookingId,
    body: PracticeCancel,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    """S10: the appointment was deleted in the practice calendar — the booking is cancelled
    and the patient told. Cancelling a cancelled booking answers its state."""
    practice = _practice(request)

    def action() -> Answer:
        state = sync.cancel_booking(practice=practice, booking_id=booking_id, reason=body.reason)
        return Answer(200, state)

    return _respond(
        request,
        run_once(
            practice=practice,
            key=idempotency_key,
            method="POST",
            path=request.path,
            action=action,
        ),
    )


@sync_api.post(
    "/bookings/{booking_id}/move",
    response={200: BookingState, **errors(401, 404, 409, *BODY)},
)
def move_booking(
    request: HttpRequest,
    booking_id: BookingId,
    body: PracticeMove,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    """S10: the appointment was moved in the practice calendar — the booking follows and
    the patient is told. 409 ``slot_taken`` if another online booking holds that time."""
    practice = _practice(request)

    def action() -> Answer:
        state = sync.move_booking(
            practice=practice, booking_id=booking_id, start=body.start, end=body.end
        )
        return Answer(200, state)

    return _respond(
        request,
        run_once(
            practice=practice,
            key=idempotency_key,
            method="POST",
            path=request.path,
            action=action,
        ),
    )


@sync_api.post("/receipts", response={200: ReceiptsResult, **errors(401, 404, *BODY)})
def receipts(
    request: HttpRequest, body: Receipts, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    """P6: these bookings reached the practice calendar (the patient sees "delivered")."""
    practice = _practice(request)

    def action() -> Answer:
        count = sync.record_receipts(practice=practice, receipts=body.receipts)
        return Answer(200, ReceiptsResult(delivered=count).model_dump(mode="json"))

    return _respond(
        request,
        run_once(
            practice=practice,
            key=idempotency_key,
            method="POST",
            path=request.path,
            action=action,
        ),
    )
