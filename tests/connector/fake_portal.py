"""An in-memory portal for the connector's tests: the ``PortalApi`` interface, with the
portal's rules of the sync API kept small but faithful — a change feed with gap-free
sequence numbers, busy days (and their bookable slots, S14, when sent) replaced per
(calendar, day) unless older than the revision held, the S9 claim refused only for
bookings booked or moved after ``after_seq`` and not ``known``, otherwise holding its
time until settled, released or expired (decision 009), practice cancel/move (move
refused when another active booking holds the time), receipts, and idempotency keys
answered from a store.

Patients "book" with :meth:`FakePortal.book`; with ``strict`` the booking is refused, as
on the real portal, where busy time or a hold blocks it (``Refused`` ``slot_taken``);
without, only another booking refuses it (tests that set up a collision on purpose).
``fail_with`` makes every call raise a portal error (network down, wrong key …);
``clock`` is the portal's time (leases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from termin360.connector.portal_client import PortalError, Refused
from termin360.protocol.messages import (
    CLAIM_LEASE_SECONDS,
    BookingEvent,
    BookingState,
    BusyBatch,
    BusyBatchResult,
    CalendarInfo,
    CalendarList,
    Claim,
    ClaimRefused,
    ClaimReleased,
    ClaimResult,
    FeedPage,
    PatientData,
    PracticeCancel,
    PracticeMove,
    Receipts,
    ReceiptsResult,
    TimeRange,
)


@dataclass
class FakePortal:
    practice: str = "Praxis Dr. Berger"
    calendar_names: dict[int, str] = field(
        default_factory=lambda: {101: "Dr. Berger online", 102: "Dr. Keller online"}
    )
    page_size: int = 500
    fail_with: PortalError | None = None
    bookings: dict[int, BookingState] = field(default_factory=dict)
    feed: list[BookingEvent] = field(default_factory=list)
    busy: dict[tuple[int, date], list[TimeRange]] = field(default_factory=dict)
    # S14: the bookable slots per (calendar, day) as last sent (absent: never sent)
    bookable: dict[tuple[int, date], list[TimeRange]] = field(default_factory=dict)
    delivered: dict[int, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    busy_batches: list[BusyBatch] = field(default_factory=list)
    cancel_reasons: dict[int, str] = field(default_factory=dict)
    strict: bool = False
    clock: Any = field(default=lambda: datetime.now(UTC))
    revisions: dict[tuple[int, date], int] = field(default_factory=dict)
    # claim id → (expires at, [(calendar, day, start, end)]); an ended claim keeps its id
    holds: dict[str, tuple[datetime, list[tuple[int, date, datetime, datetime]]]] = field(
        default_factory=dict
    )
    _changed_seq: dict[int, int] = field(default_factory=dict)
    _answers: dict[str, Any] = field(default_factory=dict)
    _next_id: int = 1

    # ------------------------------------------------------------------ the patient's side

    def _event(self, kind: str, booking: BookingState) -> BookingEvent:
        """Append the change; the booking as stored (and answered) carries its number."""
        seq = len(self.feed) + 1
        booking = booking.model_copy(update={"seq": seq})
        self.bookings[booking.booking_id] = booking
        event = BookingEvent.model_validate(
            {"seq": seq, "kind": kind, "at": datetime.now(UTC), "booking": booking}
        )
        self.feed.append(event)
        return event

    def held(self, calendar_id: int, start: datetime, end: datetime) -> bool:
        """Whether an active hold or busy time of the practice blocks [start, end)."""
        now = self.clock()
        for expires, ranges in self.holds.values():
            if expires > now and any(
                c == calendar_id and s < end and start < e for c, _d, s, e in ranges
            ):
                return True
        return any(
            r.start < end and start < r.end
            for (c, _day), ranges in self.busy.items()
            if c == calendar_id
            for r in ranges
        )

    def _overlapping(self, calendar_id: int, start: datetime, end: datetime) -> list[int]:
        return [
            b.booking_id
            for b in self.bookings.values()
            if b.online_calendar_id == calendar_id
            and b.status == "active"
            and b.start < end
            and start < b.end
        ]

    def book(
        self,
        calendar_id: int,
        start: datetime,
        minutes: int = 15,
        *,
        last_name: str = "Müller",
        first_name: str = "Hans",
        date_of_birth: date | None = date(1980, 5, 17),
        visit_type: str = "Sprechstunde",
        reason: str = "",
    ) -> BookingState:
        """A patient books online (refused like the portal would if the time is taken)."""
        end = start + timedelta(minutes=minutes)
        if self._overlapping(calendar_id, start, end):
            raise ValueError("the fake portal refuses two overlapping bookings")
        if self.strict and self.held(calendar_id, start, end):
            raise Refused(409, {"code": "slot_taken", "detail": "Diese Zeit ist vergeben."})
        booking = BookingState(
            booking_id=self._next_id,
            online_calendar_id=calendar_id,
            status="active",
            start=start,
            end=end,
            visit_type=visit_type,
            reason=reason,
            patient=PatientData(
                last_name=last_name, first_name=first_name, date_of_birth=date_of_birth
            ),
            booked_at=datetime.now(UTC),
        )
        self._next_id += 1
        self._changed_seq[booking.booking_id] = self._event("booked", booking).seq
        return self.bookings[booking.booking_id]

    def cancel(self, booking_id: int, by: str = "patient") -> BookingState:
        booking = self.bookings[booking_id].model_copy(
            update={"status": "cancelled", "cancelled_at": datetime.now(UTC), "cancelled_by": by}
        )
        self._event("cancelled", booking)
        return self.bookings[booking_id]

    def move(
        self, booking_id: int, start: datetime, end: datetime, *, by_patient: bool = False
    ) -> BookingState:
        """A move by the practice (S10), or with ``by_patient`` by the patient (P8: then
        busy time and holds refuse it too, as for a new booking)."""
        old = self.bookings[booking_id]
        if old.status != "active":
            raise Refused(
                409, {"code": "already_cancelled", "detail": "Diese Buchung ist storniert."}
            )
        others = self._overlapping(old.online_calendar_id, start, end)
        taken = [i for i in others if i != booking_id] or (
            by_patient and self.held(old.online_calendar_id, start, end)
        )
        if taken:
            raise Refused(409, {"code": "slot_taken", "detail": "Diese Zeit ist schon vergeben."})
        booking = old.model_copy(update={"start": start, "end": end})
        self._changed_seq[booking_id] = self._event("moved", booking).seq
        return self.bookings[booking_id]

    def busy_of(self, calendar_id: int, day: date) -> list[tuple[datetime, datetime]]:
        return [(r.start, r.end) for r in self.busy.get((calendar_id, day), [])]

    # ------------------------------------------------------------------ PortalApi

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_with is not None:
            raise self.fail_with

    def _once(self, key: str, fn: Any) -> Any:
        if key not in self._answers:
            self._answers[key] = fn()
        return self._answers[key]

    def calendars(self) -> CalendarList:
        self._call("calendars")
        return CalendarList(
            practice=self.practice,
            calendars=[
                CalendarInfo(
                    id=cid,
                    name=name,
                    doctor=name,
                    time_zone="Europe/Berlin",
                    slot_minutes=15,
                    published=True,
                )
                for cid, name in self.calendar_names.items()
            ],
        )

    def events(self, after: int, wait: float = 0) -> FeedPage:
        self._call("events")
        newer = [e for e in self.feed if e.seq > after]
        page = newer[: self.page_size]
        return FeedPage(events=page, last_seq=len(self.feed), more=len(newer) > len(page))

    def put_busy(self, batch: BusyBatch, idempotency_key: str) -> BusyBatchResult:
        self._call("put_busy")

        def apply() -> BusyBatchResult:
            self.busy_batches.append(batch)
            stale = 0
            for day in batch.days:
                key = (day.online_calendar_id, day.day)
                for claim_id in day.settles:
                    self._settle(claim_id, day.online_calendar_id, day.day)
                if day.revision and day.revision <= self.revisions.get(key, -1):
                    stale += 1
                    continue
                if day.revision:
                    self.revisions[key] = day.revision
                self.busy[key] = list(day.intervals)
                if day.bookable is not None:
                    self.bookable[key] = list(day.bookable)
            return BusyBatchResult(applied=len(batch.days) - stale, stale=stale)

        result: BusyBatchResult = self._once(f"busy:{idempotency_key}", apply)
        return result

    def claim(self, claim: Claim, timeout: float) -> ClaimResult | ClaimRefused:
        self._call("claim")
        if claim.claim_id in self.holds:  # a repeat, or settled / released before
            return ClaimResult(ok=True, claim_id=claim.claim_id)
        holding = {
            i: self.bookings[i]
            for day in claim.days
            for iv in day.intervals
            for i in self._overlapping(day.online_calendar_id, iv.start, iv.end)
            if self._changed_seq[i] > claim.after_seq and i not in claim.known
        }
        if holding:
            return ClaimRefused(
                detail="Diese Zeit ist online gebucht.", bookings=list(holding.values())
            )
        expires = self.clock() + timedelta(seconds=CLAIM_LEASE_SECONDS)
        self.holds[claim.claim_id] = (
            expires,
            [
                (day.online_calendar_id, day.day, iv.start, iv.end)
                for day in claim.days
                for iv in day.intervals
            ],
        )
        return ClaimResult(ok=True, claim_id=claim.claim_id, expires_at=expires)

    def _settle(self, claim_id: str, calendar_id: int, day: date) -> None:
        expires, ranges = self.holds.get(claim_id, (self.clock(), []))
        self.holds[claim_id] = (expires, [r for r in ranges if (r[0], r[1]) != (calendar_id, day)])

    def release_claim(self, claim_id: str, timeout: float) -> ClaimReleased:
        self._call("release_claim")
        _expires, ranges = self.holds.get(claim_id, (self.clock(), []))
        self.holds[claim_id] = (self.clock(), [])
        return ClaimReleased(claim_id=claim_id, released=bool(ranges))

    def active_holds(self) -> list[tuple[int, date, datetime, datetime]]:
        now = self.clock()
        return [r for expires, ranges in self.holds.values() if expires > now for r in ranges]

    def cancel_booking(
        self, booking_id: int, body: PracticeCancel, idempotency_key: str
    ) -> BookingState:
        self._call("cancel_booking")
        if booking_id not in self.bookings:
            raise Refused(404, {"code": "not_found", "detail": "Buchung unbekannt."})

        def apply() -> BookingState:
            self.cancel_reasons[booking_id] = body.reason
            if self.bookings[booking_id].status == "cancelled":
                return self.bookings[booking_id]
            return self.cancel(booking_id, by="practice")

        result: BookingState = self._once(f"cancel:{idempotency_key}", apply)
        return result

    def move_booking(
        self, booking_id: int, body: PracticeMove, idempotency_key: str
    ) -> BookingState:
        self._call("move_booking")
        if booking_id not in self.bookings:
            raise Refused(404, {"code": "not_found", "detail": "Buchung unbekannt."})
        result: BookingState = self._once(
            f"move:{idempotency_key}", lambda: self.move(booking_id, body.start, body.end)
        )
        return result

    def receipts(self, body: Receipts, idempotency_key: str) -> ReceiptsResult:
        self._call("receipts")
        for receipt in body.receipts:
            self.delivered.setdefault(receipt.booking_id, receipt.placement)
        return ReceiptsResult(delivered=len(body.receipts))

    def close(self) -> None:
        return None
