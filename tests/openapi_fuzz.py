"""Schemathesis against an OpenAPI document a real server process serves: every operation
with generated valid and invalid requests, then the stateful phase along the links
schemathesis infers from the document (a resource created by one operation is read,
changed and deleted by the others).

Bounded and repeatable: a fixed number of examples per operation, derandomized, no
example database. Every check failure is collected with its operation, so one run shows
all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 50
# Invalid requests find the refusals a document leaves out; fewer of them keep the run
# within minutes (each is a request to the server).
NEGATIVE_EXAMPLES = 10
MODES = (
    (GenerationMode.POSITIVE, EXAMPLES_PER_OPERATION),
    (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
)


def _settings(max_examples: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        # shrinking would multiply the calls of a failing operation; the first failing
        # example is reported as it is
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **extra,
    )


def load(url: str) -> Any:
    """The document at ``url``; requests go to the server that served it."""
    schema = schemathesis.openapi.from_url(url)
    base = url.split("/api/", 1)[0]
    schema.config.update(base_url=base)
    return schema


def fuzz_operations(
    schema: Any,
    *,
    headers: dict[str, str],
    prepare: Callable[[Any], None] = lambda case: None,
) -> list[str]:
    """Each operation with ``EXAMPLES_PER_OPERATION`` valid requests and
    ``NEGATIVE_EXAMPLES`` invalid ones; the failures found. ``prepare`` may change a
    generated case before it is sent."""
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document lists no operation"
    for operation in operations:
        for mode, examples in MODES:

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @_settings(examples)
            def run(case: Any) -> None:
                prepare(case)
                case.call_and_validate(headers=headers, checks=CHECKS)

            began = time.monotonic()
            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label
                # no parameter and no body: there is nothing to make invalid
            except (Exception, BaseExceptionGroup) as exc:  # every failure, with its operation
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
            print(f"{operation.label} [{mode.value}] {time.monotonic() - began:.1f} s")
    return failures


def fuzz_stateful(
    schema: Any,
    *,
    headers: dict[str, str],
    scenarios: int = 10,
    prepare: Callable[[Any], None] = lambda case: None,
) -> list[str]:
    """The stateful phase over the links schemathesis infers (e.g. ``POST /patients`` →
    ``GET /patients/{patient_id}``); its failures.

    A failure is recorded, not raised: Hypothesis would replay a failing scenario, and
    against a server whose data the scenarios changed it would not go the same way."""
    failures: list[str] = []
    machine = schema.as_state_machine()

    class Machine(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            prepare(case)
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"stateful {case.operation.label}: {exc}")

    Machine.run(settings=_settings(scenarios, stateful_step_count=8))
    return failures
