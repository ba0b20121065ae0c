"""The one gate for changes to what is occupied in a column.

Usage::

    with occupancy_change() as change:
        change.lock(column)          # SELECT … FOR UPDATE on the column row(s)
        ...                          # the writes
        change.touch(column.id, day) # this (column, day) may now be occupied differently

The listeners run inside the same transaction, right before commit, with the
set of touched (column id, day) pairs; after them the gate raises the version of the
touched days (and of those given with ``touch_view``) that open day and week views poll
(``view_versions``, C8) — last, so that
its row locks are held for the shortest time (a listener may wait for the portal).
An exception in a listener rolls the whole change back — which is what the outbox
needs. If that exception has an ``after_rollback()`` method, it is called once the
transaction is gone (the connector uses it to pull in the online booking that refused
a change, S9).
A listener may also ask, with ``on_rollback(callback)``, to be told when the change
does not happen after all — whatever the reason (the connector then releases the time
it claimed on the portal).

``current_origin()`` tells a listener who is changing: ``"staff"`` (default),
``"grid_edit"`` (editing a year's grid) or ``"sync"`` (the connector placing
online bookings); set it with ``with origin("…"):``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction

from termin360.practice.models import Column
from termin360.practice.services import view_versions

OccupancyListener = Callable[[frozenset[tuple[int, date]]], None]

_listeners: list[OccupancyListener] = []
_origin: ContextVar[str] = ContextVar("occupancy_origin", default="staff")
_current: ContextVar[OccupancyChange | None] = ContextVar("occupancy_change", default=None)
log = logging.getLogger(__name__)


def current_origin() -> str:
    return _origin.get()


@contextmanager
def origin(name: str) -> Iterator[None]:
    token = _origin.set(name)
    try:
        yield
    finally:
        _origin.reset(token)


def add_occupancy_listener(listener: OccupancyListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def remove_occupancy_listener(listener: OccupancyListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def on_rollback(callback: Callable[[], None]) -> None:
    """Call ``callback`` (without arguments, after the rollback) if the change being made
    now is rolled back. Outside an occupancy change it is never called."""
    change = _current.get()
    if change is not None:
        change.rollback_callbacks.append(callback)


@dataclass
class OccupancyChange:
    touched: set[tuple[int, date]] = field(default_factory=set)
    views: set[tuple[int, date]] = field(default_factory=set)  # (calendar id, day)
    rollback_callbacks: list[Callable[[], None]] = field(default_factory=list)

    def lock(self, *columns: Column | int) -> None:
        """Serialize writers per column. Lock in id order so two writers never deadlock."""
        ids = sorted({c if isinstance(c, int) else c.pk for c in columns})
        list(Column.objects.select_for_update().filter(id__in=ids).order_by("id").values("id"))

    def touch(self, column_id: int, day: date) -> None:
        self.touched.add((column_id, day))

    def touch_days(self, column_id: int, days: Iterable[date]) -> None:
        for day in days:
            self.touch(column_id, day)

    def touch_view(self, calendar_id: int, day: date) -> None:
        """What the views of this day show changes, though no column's occupancy does
        (an entry of the additional list comes or goes). Listeners are not told."""
        self.views.add((calendar_id, day))


def _rolled_back(change: OccupancyChange) -> None:
    for callback in change.rollback_callbacks:
        try:
            callback()
        except Exception:  # a follow-up must not hide why the change failed
            log.exception("a rollback callback of an occupancy change failed")


@contextmanager
def occupancy_change() -> Iterator[OccupancyChange]:
    change = OccupancyChange()
    parent = _current.get()
    token = _current.set(change)
    try:
        with transaction.atomic():
            yield change
            if change.touched:
                frozen = frozenset(change.touched)
                for listener in list(_listeners):
                    listener(frozen)
            view_versions.columns_changed(change.touched, also=change.views)
    except Exception as exc:
        _current.reset(token)
        _rolled_back(change)
        follow_up = getattr(exc, "after_rollback", None)
        if callable(follow_up) and not transaction.get_connection().in_atomic_block:
            follow_up()
        raise
    _current.reset(token)
    if parent is not None:
        # Saved only as part of the enclosing change: undone if that one is.
        parent.rollback_callbacks.extend(change.rollback_callbacks)
