"""Which practice patient an online booking is for (SPEC S6).

Last name, first name and date of birth must match exactly one patient of the
location — compared the way a receptionist would (case, accents and surrounding
spaces ignored, see ``core.names``). One match: the appointment is linked to the
record. None: free text. Several: free text as well, but flagged, because the
staff must decide which record it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from termin360.core.names import normalize_name

MatchKind = Literal["linked", "free_text", "ambiguous"]


@dataclass(frozen=True, slots=True)
class PatientCandidate:
    id: int
    last_name: str
    first_name: str
    date_of_birth: date | None


@dataclass(frozen=True, slots=True)
class MatchResult:
    kind: MatchKind
    patient_id: int | None = None
    candidates: int = 0


def match_patient(
    *,
    last_name: str,
    first_name: str,
    date_of_birth: date | None,
    candidates: Iterable[PatientCandidate],
) -> MatchResult:
    """Decide S6 from the candidates of the location (pre-filtered or not)."""
    if date_of_birth is None or not last_name.strip() or not first_name.strip():
        return MatchResult("free_text")
    last, first = normalize_name(last_name), normalize_name(first_name)
    hits = [
        c.id
        for c in candidates
        if c.date_of_birth == date_of_birth
        and normalize_name(c.last_name) == last
        and normalize_name(c.first_name) == first
    ]
    if len(hits) == 1:
        return MatchResult("linked", patient_id=hits[0], candidates=1)
    if hits:
        return MatchResult("ambiguous", candidates=len(hits))
    return MatchResult("free_text")
