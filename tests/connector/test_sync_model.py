"""The sync model (``sync_model.SyncModel``) checked by Hypothesis: the real practice
calendar and connector on the test database, the portal's rules in memory, a faulty
network in between — see ``sync_model`` for the steps, faults and invariants.

Profiles (``TERMIN360_MODEL_PROFILE``):

- ``ci`` (default, in the test command): 1,000 examples of up to 25 steps — two halves of
  500 that explore different examples and run side by side on the two test workers —
  derandomized (the same examples on every run, so CI stays deterministic);
- ``long``: 10,000 examples of up to 80 steps with fresh randomness, for a night run:
  ``TERMIN360_MODEL_PROFILE=long scripts/test -k sync_model``.

The run's figures (examples, steps, faults by kind) go to
``var/test-artifacts/sync-model-<backend>-<half>.json`` (quoted in docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import ARTIFACTS, BACKEND
from tests.connector import sync_model
from tests.connector.sync_model import STATS, SyncExecutor, SyncModel, SyncModelSecondHalf

PROFILES = {
    "ci": settings(
        max_examples=500,  # per half
        stateful_step_count=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    ),
    "long": settings(
        max_examples=5_000,  # per half
        stateful_step_count=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    ),
}
PROFILE = os.environ.get("TERMIN360_MODEL_PROFILE", "ci")
# A quick look while working on the model: TERMIN360_MODEL_EXAMPLES=50 (the test then
# asks for fewer examples; CI never sets it).
EXAMPLES = int(os.environ.get("TERMIN360_MODEL_EXAMPLES", "0"))


@pytest.fixture
def model_world(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Committed data (no test transaction around it), so that rollbacks, ``on_commit``
    and the S9 pull-in after a refusal behave as in production."""
    from termin360.connector.services import claims, config_check

    monkeypatch.setattr(claims, "client_factory", lambda _config: SyncModel.current.net)  # type: ignore[union-attr]
    monkeypatch.setattr(
        config_check, "check_client_factory", lambda *_a, **_k: SyncModel.current.net
    )  # type: ignore[union-attr]
    monkeypatch.setattr(claims, "_executor", SyncExecutor())
    monkeypatch.setattr(claims, "CONFIG_TTL_SECONDS", 0.0)
    claims.reset_client()
    world = sync_model.build_world()
    yield world
    SyncModel.world = None  # type: ignore[assignment]
    claims.reset_client()


@pytest.mark.parametrize(
    ("half", "machine"), [("first", SyncModel), ("second", SyncModelSecondHalf)]
)
def test_sync_model_both_sides_agree_and_one_time_never_has_two_holders(
    model_world: Any, half: str, machine: type[SyncModel]
) -> None:
    STATS.clear()
    started = time.monotonic()
    chosen = PROFILES[PROFILE]
    if EXAMPLES:
        chosen = settings(chosen, max_examples=EXAMPLES)
    monkeypatch_world(machine, model_world)
    run_state_machine_as_test(machine, settings=chosen)
    summary = {
        "profile": PROFILE,
        "half": half,
        "backend": BACKEND,
        "seconds": round(time.monotonic() - started, 1),
        **dict(sorted(STATS.items())),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Path(ARTIFACTS / f"sync-model-{BACKEND}-{half}.json").write_text(json.dumps(summary, indent=2))
    print("\nsync model:", json.dumps(summary))
    assert STATS["examples"] >= chosen.max_examples
    assert STATS["converged"] == STATS["examples"]  # every example came to rest and agreed
    # The faults were really there: each kind, on the way to the portal and back.
    for fault in sync_model.FAULTS:
        assert STATS[f"fault:{fault}"] > 0, fault
    for step in ("connector_crashes", "portal_restarts", "partition", "grid_edit"):
        assert STATS[f"step:{step}"] > 0, step


def monkeypatch_world(machine: type[SyncModel], world: Any) -> None:
    """Every example of this test starts from ``world`` (the model resets it)."""
    machine.world = world
