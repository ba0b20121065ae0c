"""The practice API object: staff authentication, and the error answers every termin360
API shares (``termin360.webapi.errors``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from termin360.practice.api.auth_schemes import STAFF_AUTH
from termin360.webapi.errors import JsonBodyParser, install_error_handlers
from termin360.webapi.responses import DocumentedAPI

api = DocumentedAPI(
    title="termin360 practice calendar API",
    version="1",
    description=(
        "The practice calendar (C1–C7): locations, calendars, columns, slot grid, "
        "appointments, additional list, reservations, patients. Authenticate with a "
        "staff token (`Authorization: Bearer …`, from `POST /auth/token`) or a browser session."
    ),
    auth=STAFF_AUTH,
    urls_namespace="practice-api",
    parser=JsonBodyParser(),
)
install_error_handlers(api, unauthenticated=gettext_lazy("Please log in or send a valid token."))


from termin360.practice.api import (  # noqa: E402  (routers register on the api above)
    appointments,
    auth,
    calendars,
    live,
    patients,
    reservations,
    setup,
)

api.add_router("/auth", auth.router)
api.add_router("/", setup.router)
api.add_router("/", calendars.router)
api.add_router("/", live.router)
api.add_router("/", appointments.router)
api.add_router("/", reservations.router)
api.add_router("/", patients.router)
