"""Name comparison for patient search and matching (SPEC C6, S6)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termin360.core.names import normalize_name
from tests.unit.strategies import PROPERTY


@pytest.mark.parametrize(
    "spelling",
    [
        "Müller",
        "MÜLLER",
        "Muller",
        "muller",
        "  Müller  ",
        "Mu\u0308ller",
        "MU\u0308LLER",
        "\tmüller\n",
    ],
)
def test_case_accents_and_surrounding_spaces_are_ignored(spelling: str) -> None:
    assert normalize_name(spelling) == "muller"


@pytest.mark.parametrize("spelling", ["Straße", "STRASSE", "strasse", "STRAẞE"])
def test_sharp_s_compares_equal_to_double_s(spelling: str) -> None:
    assert normalize_name(spelling) == "strasse"


def test_inner_runs_of_whitespace_collapse_to_one_space() -> None:
    assert normalize_name(" Anna   Lena\t Maria ") == "anna lena maria"


def test_hyphens_are_kept() -> None:
    assert normalize_name("  Müller-Lüdenscheidt ") == "muller-ludenscheidt"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Søren", "soren"),
        ("SØREN", "soren"),
        ("Ærø", "aero"),
        ("Œuvre", "oeuvre"),
        ("Łukasz", "lukasz"),
        ("Đorđe", "dorde"),
        ("Ǿrsted", "orsted"),  # ø with an accent on top
        ("François", "francois"),
        ("Zoë", "zoe"),
        ("José", "jose"),
    ],
)
def test_letters_a_german_reader_treats_as_variants_fold_to_plain_letters(
    name: str, expected: str
) -> None:
    assert normalize_name(name) == expected


def test_compatibility_letters_fold_to_lower_case() -> None:
    # "ℌ" decomposes to a capital "H"; it must still end up lower-case.
    assert normalize_name("ℌans") == "hans"
    assert normalize_name("Ｍüller") == "muller"  # full-width letters


def test_blank_name_normalizes_to_empty() -> None:
    assert normalize_name("") == ""
    assert normalize_name(" \t\n ") == ""


def test_different_names_stay_different() -> None:
    assert normalize_name("Müller") != normalize_name("Möller")
    assert normalize_name("Anna Lena") != normalize_name("Annalena")


# Any text, and text made of the letters the folding treats specially, of accents and of
# "letterlike symbols" (ℌ, ℃, №), which decompose into capitals.
special_characters = st.sampled_from(
    "AaZz -ßẞøØǾǿæÆǢœŒłŁđĐİıÜü\u0308\u0301" + "".join(map(chr, range(0x2100, 0x2150)))
)
names = st.one_of(st.text(), st.text(alphabet=special_characters))


@PROPERTY
@given(names)
def test_normalize_name_is_idempotent(name: str) -> None:
    once = normalize_name(name)
    assert normalize_name(once) == once


@PROPERTY
@given(names)
def test_normalized_name_has_no_marks_and_no_stray_whitespace(name: str) -> None:
    result = normalize_name(name)
    assert result == result.strip()
    assert "  " not in result
    assert not any(unicodedata.combining(ch) for ch in result)


@PROPERTY
@given(st.text(alphabet=st.characters(codec="latin-1")), st.text(" \t\n", max_size=3))
def test_upper_lower_case_and_padding_do_not_change_a_latin_name(name: str, pad: str) -> None:
    assert normalize_name(pad + name.upper() + pad) == normalize_name(name.lower())
