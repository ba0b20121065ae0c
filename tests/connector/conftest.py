"""Fixtures of the connector engine's tests: the small practice of ``tests/conftest.py``
connected to an in-memory portal (``fake_portal.FakePortal``): online calendar 101 →
calendar 1 / column 1, 102 → calendar 1 / column 2. The S9 check talks to the same fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Practice
from tests.connector.fake_portal import FakePortal

BERLIN = ZoneInfo("Europe/Berlin")
CAL_A, CAL_B = 101, 102


def local(day: date, at: str) -> datetime:
    """The instant of local time ``at`` ("09:15") on ``day`` in Europe/Berlin."""
    return datetime.combine(day, time.fromisoformat(at), BERLIN)


@dataclass
class Connected:
    practice: Practice
    portal: FakePortal

    def day(self, offset: int) -> date:
        return self.practice.monday + timedelta(days=offset)

    def at(self, offset: int, clock: str) -> datetime:
        return local(self.day(offset), clock)

    def column(self, number: int) -> int:
        return int(self.practice.columns[number].pk)


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


def _connect(practice: Practice, portal: FakePortal, monkeypatch: pytest.MonkeyPatch) -> Connected:
    from termin360.connector.services import claims, config, config_check

    config.save_config(portal_url="https://portal.example.de", api_key="t360-test-key")
    config.set_mappings([(CAL_A, 1, 1), (CAL_B, 1, 2)])
    claims.reset_client()
    monkeypatch.setattr(claims, "client_factory", lambda _config: portal)
    # Saving settings asks the portal first (S1): the same fake answers.
    monkeypatch.setattr(config_check, "check_client_factory", lambda *_args, **_kwargs: portal)
    return Connected(practice, portal)


@pytest.fixture
def connected(
    practice: Practice, portal: FakePortal, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Connected]:
    from termin360.connector.services import claims

    yield _connect(practice, portal, monkeypatch)
    claims.reset_client()


@pytest.fixture
def connected_committed(
    transactional_db: None, portal: FakePortal, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Connected]:
    """Like ``connected`` but without the test's surrounding transaction, so that the
    occupancy gate's ``after_rollback`` runs as in production (S9 pull-in)."""
    from termin360.connector.services import claims
    from tests.conftest import build_practice

    yield _connect(build_practice(), portal, monkeypatch)
    claims.reset_client()
