"""The practice JSON API (``/api/v1/``), with its OpenAPI document at ``/api/v1/openapi.json``
and interactive docs at ``/api/v1/docs``.

Endpoints translate HTTP to service calls; no rules live here."""

from termin360.practice.api.app import api

__all__ = ["api"]
