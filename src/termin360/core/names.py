"""Comparing people's names the way a receptionist would: case, accents, spaces ignored."""

from __future__ import annotations

import unicodedata

# Letters that do not decompose in Unicode but that a German reader treats as variants.
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe"})


def normalize_name(name: str) -> str:
    """``"  Müller-Lüdenscheidt "`` → ``"muller-ludenscheidt"``.

    Used for search and for matching an online patient to a practice record
    (SPEC S6): lower-cased, accents removed, inner runs of spaces collapsed.
    """
    # Decompose before case-folding too: a compatibility character can decompose into
    # a capital ("ℌ" → "H"), which would otherwise survive into the result.
    decomposed = unicodedata.normalize("NFKD", name)
    folded = unicodedata.normalize("NFKD", decomposed.casefold().translate(_FOLD))
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(stripped.split())
