"""What the sync model (``sync_model``) acts on: the practice database of every example
(``World``: one location, calendar 1 with columns 1 and 2 mapped to online calendars
101 and 102, two days of grid), and the faulty network between connector and the
in-memory portal (``FaultyNetwork``)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from termin360.core.intervals import Interval, merge

T = TypeVar("T")
BERLIN = ZoneInfo("Europe/Berlin")
CAL_A, CAL_B = 101, 102
TEMPLATES = {
    "A": [(time(8), time(10), 15)],
    "B": [(time(8), time(9), 15), (time(9), time(10), 30)],
}
# What the model counts (steps, faults by kind, refusals), for the test's summary.
STATS: Counter[str] = Counter()


# --------------------------------------------------------------------------- the network


class SyncExecutor:
    """The S9 check's thread pool, run inline: the model decides the order of things."""

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@dataclass
class FaultyNetwork:
    """The ``PortalApi`` the connector and the S9 check see: the fake portal behind a
    network that loses, duplicates and delays what the model tells it to."""

    portal: Any
    delayed: list[Callable[[], Any]] = field(default_factory=list)
    next_fault: str | None = None
    partitioned: bool = False

    def _call(self, name: str, apply: Callable[[], T]) -> T:
        from termin360.connector.portal_client import PortalTimeout, PortalUnreachable

        fault, self.next_fault = self.next_fault, None
        if self.partitioned:
            fault = "lost_request"
        if fault is not None:
            STATS[f"fault:{fault}"] += 1
            STATS[f"fault:{fault}:{name}"] += 1
        if fault == "lost_request":
            raise PortalUnreachable("Portal nicht erreichbar (Modell).", code="unreachable")
        if fault == "lost_response":
            apply()
            raise PortalTimeout("Portal antwortet nicht rechtzeitig (Modell).", code="timeout")
        if fault == "delay":
            self.delayed.append(apply)
            raise PortalTimeout("Portal antwortet nicht rechtzeitig (Modell).", code="timeout")
        if fault == "duplicate":
            with contextlib.suppress(Exception):
                apply()
        return apply()

    def calendars(self) -> Any:
        return self._call("calendars", self.portal.calendars)

    def events(self, after: int, wait: float = 0) -> Any:
        return self._call("events", lambda: self.portal.events(after))

    def put_busy(self, batch: Any, idempotency_key: str) -> Any:
        return self._call("put_busy", lambda: self.portal.put_busy(batch, idempotency_key))

    def claim(self, claim: Any, timeout: float) -> Any:
        return self._call("claim", lambda: self.portal.claim(claim, timeout))

    def release_claim(self, claim_id: str, timeout: float) -> Any:
        return self._call("release", lambda: self.portal.release_claim(claim_id, timeout))

    def cancel_booking(self, booking_id: int, body: Any, idempotency_key: str) -> Any:
        return self._call(
            "cancel", lambda: self.portal.cancel_booking(booking_id, body, idempotency_key)
        )

    def move_booking(self, booking_id: int, body: Any, idempotency_key: str) -> Any:
        return self._call(
            "move", lambda: self.portal.move_booking(booking_id, body, idempotency_key)
        )

    def receipts(self, body: Any, idempotency_key: str) -> Any:
        return self._call("receipts", lambda: self.portal.receipts(body, idempotency_key))

    def close(self) -> None:
        return None


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """What the practice database holds for every example: one location, calendar 1 with
    columns 1 and 2 mapped to online calendars 101 and 102, two days of grid."""

    columns: dict[int, Any]
    days: list[date]


def build_world() -> World:
    from termin360.connector.services import config
    from termin360.practice.services import setup
    from tests.conftest import next_monday

    location = setup.create_location(name="Bruchsal")
    calendar = setup.create_calendar(number=1, name="Allgemeinmedizin", location_id=location.pk)
    monday = next_monday()
    days = [monday, monday + timedelta(days=1)]
    columns = {n: setup.create_column(calendar=calendar, number=n, name=f"Sp {n}") for n in (1, 2)}
    world = World(columns, days)
    for column in columns.values():
        set_template(world, column, "A")
        setup.generate_grid(column=column, first=days[0], last=days[-1])
    config.save_config(portal_url="https://portal.model", api_key="t360-model-key")
    config.set_mappings([(CAL_A, 1, 1), (CAL_B, 1, 2)])
    return world


def set_template(world: World, column: Any, name: str) -> None:
    from termin360.practice.domain.grid import TemplateRule
    from termin360.practice.services import setup

    setup.set_template(
        column=column,
        rules=[
            TemplateRule(weekday=day.weekday(), start=a, end=b, slot_minutes=m)
            for day in world.days
            for a, b, m in TEMPLATES[name]
        ],
    )


def reset_world(world: World) -> None:
    """Back to the empty calendar of ``build_world`` (cheaper than a new database)."""
    from termin360.connector.models import BusyState, OnlineBooking, OutboxEntry, SyncState
    from termin360.practice.models import Appointment, AuditEntry, Reservation, Slot
    from termin360.practice.services import setup

    OnlineBooking.objects.all().delete()
    OutboxEntry.objects.all().delete()
    BusyState.objects.all().delete()
    SyncState.objects.update_or_create(
        pk=1, defaults={"cursor": 0, "last_error": "", "last_success_at": None}
    )
    Slot.objects.update(appointment=None, annotated=False, annotation="", note="")
    Appointment.objects.all().delete()
    Reservation.objects.all().delete()
    AuditEntry.objects.all().delete()
    for column in world.columns.values():
        if column.template_rules.count() != len(world.days):
            set_template(world, column, "A")
            setup.rebuild_grid(column=column, first=world.days[0], last=world.days[-1])
            OutboxEntry.objects.all().delete()
            BusyState.objects.all().delete()


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), BERLIN)


def calendar_of(column_number: int) -> int:
    return CAL_A if column_number == 1 else CAL_B


Busy = dict[tuple[int, date], tuple[list[Interval], list[Interval]]]


def busy_snapshot(world: World) -> Busy:
    """For each (column number, day): the busy time as the connector computes it (slots
    with an appointment or an annotation, and reservations), and the part of it the
    practice holds itself — without the appointments of online bookings (those hold their
    time on the portal as bookings). Two queries for all of it."""
    from termin360.practice.models import Reservation, Slot
    from termin360.practice.services.grid_cells import reservation_range

    number_of = {c.pk: n for n, c in world.columns.items()}
    full: dict[tuple[int, date], list[Interval]] = {}
    own: dict[tuple[int, date], list[Interval]] = {}
    for r in Reservation.objects.prefetch_related("columns"):
        rng = reservation_range(r)
        for day in world.days:
            iv = rng.interval_on(day, BERLIN) if r.first_day <= day <= r.last_day else None
            for column in r.columns.all() if iv is not None else ():
                key = (number_of[column.pk], day)
                full.setdefault(key, []).append(iv)  # type: ignore[arg-type]
                own.setdefault(key, []).append(iv)  # type: ignore[arg-type]
    rows = Slot.objects.filter(
        column__in=list(world.columns.values()), day__in=world.days
    ).values_list("column_id", "day", "start", "end", "annotated", "appointment__origin")
    for column_id, day, start, end, annotated, origin in rows:
        if not annotated and origin is None:
            continue
        key = (number_of[column_id], day)
        full.setdefault(key, []).append(Interval(start, end))
        if annotated or origin != "online":
            own.setdefault(key, []).append(Interval(start, end))
    return {
        (n, day): (merge(full.get((n, day), [])), merge(own.get((n, day), [])))
        for n in world.columns
        for day in world.days
    }


def overlaps(a: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [iv for iv in a if iv.start < end and start < iv.end]
