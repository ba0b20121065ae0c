"""The portal's booking number of an appointment that stands for an online booking.

The practice calendar knows nothing of the portal or the connector (import-linter); the
connector, where it is installed, tells it through ``set_lookup`` (as it listens to
occupancy changes through ``occupancy.add_occupancy_listener``). Without a connector
every appointment has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Lookup = Callable[[list[int]], dict[int, int]]

_lookup: Lookup | None = None


def set_lookup(lookup: Lookup | None) -> None:
    """``lookup(appointment ids) → {appointment id: online booking id}``."""
    global _lookup
    _lookup = lookup


def online_booking_ids(appointment_ids: Iterable[int]) -> dict[int, int]:
    ids = [i for i in appointment_ids if i is not None]
    if _lookup is None or not ids:
        return {}
    return _lookup(ids)
