"""Unit tests of the connector's pure rules: no database, no Django settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quick_password_hashing() -> None:
    """Overrides the suite-wide fixture of that name: nothing here hashes passwords."""
