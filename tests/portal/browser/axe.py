"""axe-core (shipped inside ``axe-playwright-python``) on a page of the running portal:
the serious and critical violations, each with the rule, its help text and where."""

from __future__ import annotations

from typing import Any

BLOCKING = ("critical", "serious")


def violations(tab: Any) -> list[str]:
    """``rule: help (selector, …)`` for every serious or critical violation on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)
    found = []
    for v in results.response["violations"]:
        if v.get("impact") in BLOCKING:
            targets = ", ".join(str(n["target"]) for n in v["nodes"][:5])
            found.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
    return found


def assert_accessible(tab: Any, where: str) -> None:
    found = violations(tab)
    assert not found, f"axe-core on {where} ({tab.url}):\n" + "\n".join(found)
