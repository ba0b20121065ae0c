"""Practice → portal: the transactional outbox of busy state (S8, S12) and its relay.

The listener runs inside every practice transaction that changed what is occupied
or the grid (the occupancy gate; grid edits pass it too). For each touched (column,
day) of a mapped column it computes the day's busy intervals and its bookable slots
(S14), stores them in ``BusyState`` and, if either changed, bumps the coalescing
``OutboxEntry`` — in the same transaction, so a committed change is never lost and a
rolled-back one never sent. For a staff action that claims new time it asks the portal
first (S9, ``claims``).

The relay sends whole days (state, not deltas) in batches with ``PUT /busy`` and
deletes an entry only if its ``version`` did not change while it was on the way.
"""

from __future__ import annotations

import functools
import operator
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q
from django.utils import timezone

from termin360.connector.domain import busy
from termin360.connector.models import BusyState, Mapping, OutboxEntry
from termin360.connector.portal_client import PortalApi, PortalError, new_idempotency_key
from termin360.connector.services import claims
from termin360.core.intervals import Interval
from termin360.practice.domain.runs import GridCell
from termin360.practice.models import Column
from termin360.practice.services import occupancy
from termin360.practice.services.grid_cells import day_slots, facts_of, reserved_intervals
from termin360.protocol.messages import (
    MAX_BATCH_DAYS,
    MAX_SETTLES_PER_DAY,
    BusyBatch,
    BusyDay,
    TimeRange,
)

RELAY_BATCH = 200
MAX_BACKOFF_SECONDS = 60
# relay_all gives up after this many batches: under a storm of changes it would
# otherwise chase entries whose version keeps moving; the next round picks them up.
MAX_BATCHES_PER_CALL = 1000


# --------------------------------------------------------------------------- busy state


def state_of_column_day(column: Column, day: date) -> tuple[list[Interval], list[Interval]]:
    """The busy intervals and the bookable slots (S14) of one column day as the database
    holds them now."""
    tz = ZoneInfo(column.calendar.location.time_zone)
    reserved = reserved_intervals(column, day, tz)
    cells = [
        GridCell(slot_id=s.pk, start=s.start, end=s.end, facts=facts_of(s, reserved))
        for s in day_slots(column, day)
    ]
    return busy.busy_intervals(cells, reserved), busy.bookable_slots(cells)


def busy_of_column_day(column: Column, day: date) -> list[Interval]:
    """The busy intervals of one column day as the database holds them now."""
    return state_of_column_day(column, day)[0]


def bump_outbox(mapping: Mapping, days: list[date], claim_id: str | None = None) -> None:
    """Queue these days of the mapping for the relay: a new entry, or ``version + 1`` on
    the waiting one (so a relay sending the old version keeps it). ``claim_id``: the S9
    claim of the action that changed the days — the busy state sent next settles it."""
    if not days:
        return
    if claim_id is not None or len(days) == 1:
        for day in days:
            _bump_one(mapping, day, claim_id)
        return
    OutboxEntry.objects.filter(mapping=mapping, day__in=days).update(version=F("version") + 1)
    waiting = set(
        OutboxEntry.objects.filter(mapping=mapping, day__in=days).values_list("day", flat=True)
    )
    OutboxEntry.objects.bulk_create(
        [OutboxEntry(mapping=mapping, day=d) for d in sorted(set(days) - waiting)]
    )


def _bump_one(mapping: Mapping, day: date, claim_id: str | None) -> None:
    """The common case, one change to one day: two statements at most (three with a
    claim). The relay may delete the entry meanwhile (it is not under the column lock),
    hence the conditional update and the create when it is gone."""
    if claim_id is None:
        if OutboxEntry.objects.filter(mapping=mapping, day=day).update(version=F("version") + 1):
            return
        OutboxEntry.objects.create(mapping=mapping, day=day)
        return
    entry = OutboxEntry.objects.filter(mapping=mapping, day=day).first()
    if entry is not None:
        claims = [*entry.claims, claim_id][-MAX_SETTLES_PER_DAY:]
        if OutboxEntry.objects.filter(pk=entry.pk, version=entry.version).update(
            version=entry.version + 1, claims=claims
        ):
            return
    OutboxEntry.objects.create(mapping=mapping, day=day, claims=[claim_id])


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class _DayChange:
    mapping: Mapping
    day: date
    row: BusyState | None
    old: list[Interval]
    new: list[Interval]
    # The bookable slots (S14): before (``None``: a state stored before they were kept)
    # and now. A grid edit that adds or removes free slots changes only these.
    old_bookable: list[Interval] | None
    new_bookable: list[Interval]

    @property
    def changed(self) -> bool:
        return self.row is None or self.old != self.new or self.old_bookable != self.new_bookable

    @property
    def claimed(self) -> list[Interval]:
        return busy.newly_claimed(self.old, self.new) if self.changed else []


def _compare(mapping: Mapping, day: date) -> _DayChange:
    # No row lock needed: the occupancy gate holds the column's lock, and a mapping is
    # one column.
    intervals, bookable = state_of_column_day(mapping.column, day)
    row = BusyState.objects.filter(mapping=mapping, day=day).first()
    old = busy.from_json(row.intervals) if row is not None else []
    old_bookable = (
        busy.from_json(row.bookable) if row is not None and row.bookable is not None else None
    )
    return _DayChange(mapping, day, row, old, intervals, old_bookable, bookable)


def _store(change: _DayChange, claim_id: str | None = None) -> None:
    if not change.changed:
        return
    serialized = busy.to_json(change.new)
    bookable = busy.to_json(change.new_bookable)
    if change.row is None:
        BusyState.objects.create(
            mapping=change.mapping,
            day=change.day,
            intervals=serialized,
            bookable=bookable,
            revision=busy.next_revision(0, now_us()),
        )
    else:
        change.row.intervals = serialized
        change.row.bookable = bookable
        change.row.revision = busy.next_revision(change.row.revision, now_us())
        change.row.save(update_fields=["intervals", "bookable", "revision"])
    bump_outbox(change.mapping, [change.day], claim_id)


def on_occupancy_change(touched: frozenset[tuple[int, date]]) -> None:
    """The occupancy gate's listener. A touched pair in an unmapped column costs only the
    one mapping query below — most practices map a few of many columns.

    Order: read what changed, send the S9 check (staff actions that claim new time), write
    busy state and outbox while the portal answers, then wait for the answer."""
    column_ids = {column_id for column_id, _day in touched}
    mappings = {
        m.column_id: m
        for m in Mapping.objects.filter(column_id__in=column_ids).select_related(
            "column__calendar__location"
        )
    }
    if not mappings:
        return
    changes = [
        _compare(mappings[column_id], day)
        for column_id, day in sorted(touched)
        if column_id in mappings
    ]
    claimed = [
        (change.mapping.online_calendar_id, change.day, change.claimed)
        for change in changes
        if change.claimed
    ]
    pending = None
    if claimed and occupancy.current_origin() == "staff":
        pending = claims.start_check(claimed)
    claim_of = pending.claim_of if pending is not None else {}
    for change in changes:
        _store(change, claim_of.get((change.mapping.online_calendar_id, change.day)))
    claims.finish_check(pending)


# --------------------------------------------------------------------------- relay


def pending_count() -> int:
    return OutboxEntry.objects.count()


def backoff_seconds(attempts: int) -> float:
    """1, 2, 4 … 60 s with ±20 % jitter, so many practices do not retry in step."""
    base = min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts - 1))
    return float(base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


_State = tuple[list[Interval], int, list[Interval] | None]


def _busy_day(entry: OutboxEntry, states: dict[tuple[int, date], _State]) -> BusyDay:
    intervals, revision, bookable = states.get((entry.mapping_id, entry.day), ([], 0, None))
    return BusyDay(
        online_calendar_id=entry.mapping.online_calendar_id,
        day=entry.day,
        intervals=[TimeRange(start=iv.start, end=iv.end) for iv in intervals],
        revision=revision,
        settles=list(entry.claims)[-MAX_SETTLES_PER_DAY:],
        bookable=(
            None if bookable is None else [TimeRange(start=iv.start, end=iv.end) for iv in bookable]
        ),
    )


def relay_once(
    client: PortalApi,
    *,
    limit: int | None = None,
    include_waiting: bool = False,
    now: datetime | None = None,
) -> int:
    """Send up to ``limit`` (default ``RELAY_BATCH``) outbox entries in one ``PUT /busy``;
    returns the days sent.

    Entries still in their backoff after a failure are left for later unless
    ``include_waiting`` (an explicit ``sync now`` retries at once). On a portal error the
    entries record it and the error is raised for the caller to report.
    """
    now = now or timezone.now()
    limit = max(1, min(limit or RELAY_BATCH, MAX_BATCH_DAYS))
    entries = OutboxEntry.objects.select_related("mapping")
    if not include_waiting:
        entries = entries.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    batch = list(entries.order_by("created_at", "id")[:limit])
    if not batch:
        return 0
    # The states are read after the entries: a state is then at least as new as the claims
    # its entry names, so settling them never frees time the state does not block yet.
    wanted = functools.reduce(operator.or_, (Q(mapping_id=e.mapping_id, day=e.day) for e in batch))
    states = {
        (s.mapping_id, s.day): (
            busy.from_json(s.intervals),
            s.revision,
            None if s.bookable is None else busy.from_json(s.bookable),
        )
        for s in BusyState.objects.filter(wanted)
    }
    body = BusyBatch(days=[_busy_day(e, states) for e in batch])
    try:
        client.put_busy(body, new_idempotency_key())
    except PortalError as exc:
        for entry in batch:
            attempts = entry.attempts + 1
            OutboxEntry.objects.filter(pk=entry.pk).update(
                attempts=attempts,
                next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
                last_error=exc.message[:300],
            )
        raise
    sent = functools.reduce(operator.or_, (Q(pk=e.pk, version=e.version) for e in batch))
    OutboxEntry.objects.filter(sent).delete()
    return len(batch)


def relay_all(client: PortalApi, *, include_waiting: bool = True) -> int:
    """Send everything pending, batch by batch; returns the days sent."""
    total = 0
    for _batch in range(MAX_BATCHES_PER_CALL):
        sent = relay_once(client, limit=RELAY_BATCH, include_waiting=include_waiting)
        total += sent
        if sent < RELAY_BATCH:
            break
    return total
