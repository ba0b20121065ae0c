"""The portal's patient JSON API (``/api/v1/``): search, slots, bookings. OpenAPI document
at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``."""

from termin360.portal.api.app import api

__all__ = ["api"]
