"""The NinjaAPI object of the portal and the mapping of errors to HTTP answers.

Whatever a client sends gets a JSON ``{code, detail}`` answer with a 4xx status:
malformed JSON 400 ``malformed_body``, wrong types, NUL characters and absurd dates
422 ``invalid``, unknown or foreign ids 404. A 500 means a bug and is logged.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from termin360.webapi.errors import JsonBodyParser, install_error_handlers
from termin360.webapi.responses import DocumentedAPI

api = DocumentedAPI(
    title="termin360 portal API",
    version="1",
    description=(
        "Patients: search doctors, see free slots, book and cancel (P2–P4). Search and "
        "slots are public; bookings need a patient token (`Authorization: Bearer …`, from "
        "`POST /auth/token`) or a browser session (with its CSRF token). Times are local "
        "to the practice, with their UTC offset. Messages follow `Accept-Language` "
        "(German by default)."
    ),
    urls_namespace="portal-api",
    parser=JsonBodyParser(),
)
install_error_handlers(api, unauthenticated=gettext_lazy("Please log in."))


from termin360.portal.api import auth, bookings, search  # noqa: E402  (routers use the api)

api.add_router("/auth", auth.router)
api.add_router("/", search.router)
api.add_router("/", bookings.router)
