"""Which visit type a doctor page shows first (P4): never one that only some patients may
book, unless it is the only one this patient may book.

A returning patient once got the first type open to her — in the demo "Impfung (nur
Bestandspatienten)" — preselected on every slot, and booked vaccinations without
choosing them. The practice names a default per online calendar (one open to new and
existing patients); without it the first unrestricted type is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class VisitTypeLike(Protocol):
    @property
    def pk(self) -> int | None: ...

    new_patients: bool
    existing_patients: bool


V = TypeVar("V", bound=VisitTypeLike)


def for_patients(types: Sequence[V], *, existing: bool) -> list[V]:
    """The types open to an existing patient of the practice, or to a new one."""
    return [vt for vt in types if (vt.existing_patients if existing else vt.new_patients)]


def unrestricted(vt: VisitTypeLike) -> bool:
    """Open to new and existing patients alike."""
    return vt.new_patients and vt.existing_patients


def preferred(open_types: Sequence[V], default_id: int | None) -> V | None:
    """The type to preselect among ``open_types`` (those this patient may book, in the
    calendar's order): the practice's default if open to this patient and unrestricted,
    else the first unrestricted one, else the only one; ``None`` when the patient must
    choose (several types, each for new or for existing patients only)."""
    default = next((vt for vt in open_types if vt.pk == default_id), None)
    if default is not None and unrestricted(default):
        return default
    first_open = next((vt for vt in open_types if unrestricted(vt)), None)
    if first_open is not None:
        return first_open
    if len(open_types) == 1:
        return open_types[0]
    return None
