"""The outcome of one readiness check, shared by the roles' checks (no Django here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """``ok`` and a short ``detail`` for machines: an age, a count, an error class —
    never patient data."""

    ok: bool
    detail: str


def age_check(age_seconds: float | None, limit_seconds: float, what: str) -> CheckResult:
    """``ok`` while the oldest ``what`` is at most ``limit_seconds`` old (``None``: none)."""
    if age_seconds is None:
        return CheckResult(True, f"no {what}")
    detail = f"oldest {what} is {int(age_seconds)} s old (limit {int(limit_seconds)} s)"
    return CheckResult(age_seconds <= limit_seconds, detail)
