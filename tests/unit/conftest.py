"""Unit tests cover the pure domain: no database, no Django settings.

They run with ``-p no:django`` as well as inside the full runner, so fixtures of the
top-level conftest that need pytest-django are switched off here.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quick_password_hashing() -> None:
    """Overrides the suite-wide fixture of that name: nothing here hashes passwords."""
