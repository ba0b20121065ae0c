"""C6: patients per location; search by name and date of birth."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Query, Router, Status
from pydantic import Field

from termin360.practice import selectors
from termin360.practice.api import schemas
from termin360.practice.models import Patient
from termin360.practice.services import patients as services
from termin360.practice.services.lookups import patient_by_id
from termin360.webapi.responses import BODY, errors
from termin360.webapi.schemas import Id, Input

router = Router(tags=["patients"])


class PatientSearch(Input):
    q: str = Field("", max_length=100, description="name parts, e.g. 'müller han'")
    date_of_birth: date | None = None
    location_id: Id | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get("/patients", response={200: list[schemas.PatientOut], **errors(401, 422)})
def search_patients(request: HttpRequest, search: Query[PatientSearch]) -> list[Patient]:
    return list(
        selectors.search_patients(
            location_id=search.location_id,
            query=search.q,
            date_of_birth=search.date_of_birth,
            limit=search.limit,
        )
    )


@router.post("/patients", response={201: schemas.PatientOut, **errors(401, 403, 404, *BODY)})
def create_patient(request: HttpRequest, payload: schemas.PatientIn) -> Status[Patient]:
    return Status(201, services.create_patient(**payload.dict()))


@router.get("/patients/{patient_id}", response={200: schemas.PatientOut, **errors(401, 404, 422)})
def get_patient(request: HttpRequest, patient_id: Id) -> Patient:
    return patient_by_id(patient_id)


@router.patch(
    "/patients/{patient_id}", response={200: schemas.PatientOut, **errors(401, 403, 404, *BODY)}
)
def update_patient(request: HttpRequest, patient_id: Id, payload: schemas.PatientPatch) -> Patient:
    return services.update_patient(patient_id=patient_id, **payload.dict(exclude_unset=True))
