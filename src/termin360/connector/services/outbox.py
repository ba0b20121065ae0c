"""Placeholder: the outbox listener (S8) — written by the connector engine work."""


def install() -> None:
    return None
