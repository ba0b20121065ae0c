"""S6: linking an online booking to the practice's patient record."""

from __future__ import annotations

from datetime import date

from termin360.connector.domain.matching import PatientCandidate, match_patient

BORN = date(1980, 5, 17)


def candidates(*rows: tuple[int, str, str, date]) -> list[PatientCandidate]:
    return [PatientCandidate(*row) for row in rows]


def test_s6_exactly_one_match_links_the_patient() -> None:
    result = match_patient(
        last_name="Müller",
        first_name="Hans",
        date_of_birth=BORN,
        candidates=candidates((1, "Müller", "Hans", BORN), (2, "Müller", "Hans", date(1981, 1, 1))),
    )
    assert result.kind == "linked" and result.patient_id == 1


def test_s6_case_accents_and_surrounding_spaces_are_ignored() -> None:
    result = match_patient(
        last_name="  MUELLER ".replace("UE", "Ü"),
        first_name="hans ",
        date_of_birth=BORN,
        candidates=candidates((4, "Muller", "Hans", BORN)),
    )
    assert result.kind == "linked" and result.patient_id == 4


def test_s6_inner_spaces_collapse_but_different_names_do_not_match() -> None:
    found = match_patient(
        last_name="von  der Heide",
        first_name="Anna Lena",
        date_of_birth=BORN,
        candidates=candidates((5, "von der Heide", "Anna  Lena", BORN)),
    )
    assert found.kind == "linked"
    other = match_patient(
        last_name="Meier",
        first_name="Hans",
        date_of_birth=BORN,
        candidates=candidates((6, "Maier", "Hans", BORN)),
    )
    assert other.kind == "free_text" and other.patient_id is None


def test_s6_two_matching_records_are_ambiguous_and_link_nobody() -> None:
    result = match_patient(
        last_name="Müller",
        first_name="Hans",
        date_of_birth=BORN,
        candidates=candidates((1, "Müller", "Hans", BORN), (2, "MÜLLER", "hans", BORN)),
    )
    assert result.kind == "ambiguous" and result.patient_id is None and result.candidates == 2


def test_s6_no_date_of_birth_or_wrong_date_is_free_text() -> None:
    rows = candidates((1, "Müller", "Hans", BORN))
    none = match_patient(last_name="Müller", first_name="Hans", date_of_birth=None, candidates=rows)
    other = match_patient(
        last_name="Müller", first_name="Hans", date_of_birth=date(1990, 1, 1), candidates=rows
    )
    assert none.kind == "free_text" and other.kind == "free_text"
