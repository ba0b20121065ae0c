"""Liveness, readiness and metrics of the portal, against real ``termin360 portal
serve`` processes (docs/operations.md); the booking counters in process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server, require_shared_database, running_server
from tests.database_cut import cuttable_database
from tests.portal.conftest import PATIENT_PASSWORD, World, build_world
from tests.portal.test_api_bookings import bookable, patient_api

TOKEN = "metrics-token-" + "p" * 32


@pytest.fixture
def observed_portal(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    require_shared_database()
    with running_server(
        "portal", tmp_path, env={"TERMIN360_METRICS_TOKEN": TOKEN}, threads=8
    ) as server:
        yield server


def ready(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/health/ready", timeout=10)


def scrape(server: Server) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    return {family.name: family for family in text_string_to_metric_families(r.text)}


def by_label(family: Any, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in family.samples}


def queue_mail(minutes_ago: float, *, attempts: int = 0) -> Any:
    from termin360.portal.models import OutgoingEmail

    mail = OutgoingEmail.objects.create(
        to="patient@example.org", subject="Termin", body="…", kind="booked", attempts=attempts
    )
    OutgoingEmail.objects.filter(pk=mail.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return mail


def test_a_healthy_portal_is_live_and_ready(observed_portal: Server) -> None:
    live = httpx.get(f"{observed_portal.url}/health/live")
    assert live.json() == {"status": "ok", "role": "portal"}
    assert httpx.get(f"{observed_portal.url}/health").json() == live.json()
    r = ready(observed_portal)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "mail_queue"}
    assert body["checks"]["mail_queue"] == {"ok": True, "detail": "no unsent mail"}


def test_readiness_fails_while_the_mail_queue_is_stuck(observed_portal: Server) -> None:
    from termin360.portal.models import OutgoingEmail
    from termin360.portal.worker import MAX_ATTEMPTS

    queue_mail(2)
    queue_mail(60, attempts=MAX_ATTEMPTS)  # given up: the back office's, not readiness's
    assert ready(observed_portal).status_code == 200

    stuck = queue_mail(16, attempts=3)
    r = ready(observed_portal)
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["mail_queue"]["ok"] is False
    detail = re.fullmatch(
        r"oldest unsent mail is (\d+) s old \(limit 900 s\)", body["checks"]["mail_queue"]["detail"]
    )
    assert detail and int(detail[1]) >= 960, body
    assert "patient@example.org" not in r.text

    families = scrape(observed_portal)
    assert by_label(families["termin360_portal_mail_queue"], "status") == {
        "queued": 1,
        "retrying": 1,
        "failed": 1,
    }
    oldest = by_label(families["termin360_portal_mail_queue_oldest_seconds"], "status")
    assert 950 <= oldest["retrying"] < 1200
    assert oldest["failed"] >= 3600

    OutgoingEmail.objects.filter(pk=stuck.pk).update(sent_at=timezone.now())
    assert ready(observed_portal).status_code == 200


def test_readiness_fails_when_the_database_is_gone(transactional_db: None, tmp_path: Path) -> None:
    require_shared_database()
    with (
        cuttable_database(tmp_path / "db") as database,
        running_server("portal", tmp_path, env={"PORTAL_DATABASE_URL": database.url}) as s,
    ):
        assert ready(s).status_code == 200, ready(s).text
        database.cut()
        r = ready(s)
        assert r.status_code == 503, r.text
        checks = r.json()["checks"]
        assert checks["database"]["ok"] is False
        assert checks["mail_queue"] == {"ok": False, "detail": "skipped: database unavailable"}
        assert httpx.get(f"{s.url}/health/live").status_code == 200
        assert httpx.get(f"{s.url}/metrics").status_code == 404  # no token: switched off
    assert "Traceback" not in s.log.read_text()


def test_metrics_refuse_a_missing_or_wrong_token(observed_portal: Server) -> None:
    url = f"{observed_portal.url}/metrics"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN[:-1]}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_booking_over_http_is_counted_and_timed_under_its_route(
    observed_portal: Server,
) -> None:
    world = build_world()
    start = bookable()
    with httpx.Client(base_url=observed_portal.url, timeout=20) as http:
        token = http.post(
            "/api/v1/auth/token",
            json={"email": world.patient.user.email, "password": PATIENT_PASSWORD},
        ).json()["token"]
        body = {
            "calendar_id": world.calendar.pk,
            "visit_type_id": world.checkup.pk,
            "start": start.isoformat(),
        }
        auth = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/bookings", json=body, headers=auth).status_code == 201
        taken = http.post("/api/v1/bookings", json=body, headers=auth)
        assert taken.status_code == 409, taken.text
        assert http.get("/").status_code == 200

    families = scrape(observed_portal)
    assert families["termin360_portal_bookings_made"].samples[0].value == 1
    refusals = by_label(families["termin360_portal_booking_refusals"], "code")
    assert refusals == {"slot_taken": 1}
    assert by_label(families["termin360_portal_bookings"], "status") == {
        "active": 1,
        "cancelled": 0,
    }
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in families["termin360_http_request_duration_seconds"].samples
        if s.name.endswith("_count")
    }
    assert counts[("/api/v1/bookings", "POST", "2xx")] == 1
    assert counts[("/api/v1/bookings", "POST", "4xx")] == 1
    assert counts[("/", "GET", "2xx")] == 1
    # no connector key: nothing waits for a practice calendar
    assert families["termin360_portal_sync_undelivered_bookings"].samples[0].value == 0
    assert families["termin360_portal_sync_active_keys"].samples[0].value == 0
    assert families["termin360_database_metrics_up"].samples[0].value == 1
    assert "Müller" not in str(families) and world.patient.user.email not in str(families)


def test_a_booking_a_connector_has_not_confirmed_counts_as_sync_backlog(
    observed_portal: Server,
) -> None:
    from termin360.portal.models import Booking
    from termin360.portal.services import practices

    world = build_world()
    practices.issue_api_key(practice=world.practice, name="Praxis")
    booking = patient_api(world.patient).book(world, bookable())
    assert booking.status_code == 201, booking.content
    Booking.objects.update(created_at=timezone.now() - timedelta(minutes=3))

    families = scrape(observed_portal)
    assert families["termin360_portal_sync_undelivered_bookings"].samples[0].value == 1
    oldest = families["termin360_portal_sync_undelivered_oldest_seconds"].samples[0].value
    assert 180 <= oldest < 400
    assert families["termin360_portal_sync_active_keys"].samples[0].value == 1


def test_the_feed_lag_counts_the_events_a_connector_has_not_read(
    observed_portal: Server,
) -> None:
    from termin360.portal.services import practices

    world = build_world()
    _, key = practices.issue_api_key(practice=world.practice, name="Praxis")
    sync = httpx.Client(base_url=f"{observed_portal.url}/api/v1/sync", timeout=10)
    sync.headers["Authorization"] = f"Bearer {key}"
    for hour in (9, 10):
        booked = patient_api(world.patient).book(world, bookable(time(hour)))
        assert booked.status_code == 201, booked.content
    assert scrape(observed_portal)["termin360_portal_sync_feed_lag_events"].samples[0].value == 2

    page = sync.get("/events", params={"after": 0}).json()
    assert len(page["events"]) == 2
    sync.get("/events", params={"after": page["events"][0]["seq"]})  # the first one is done
    assert scrape(observed_portal)["termin360_portal_sync_feed_lag_events"].samples[0].value == 1
    sync.get("/events", params={"after": page["last_seq"]})
    assert scrape(observed_portal)["termin360_portal_sync_feed_lag_events"].samples[0].value == 0
    # a cursor beyond the feed (a connector pointed at another portal) moves nothing
    sync.get("/events", params={"after": page["last_seq"] + 50})
    world.practice.refresh_from_db()
    assert world.practice.feed_read_seq == page["last_seq"]


def test_the_booking_service_counts_bookings_and_refusals_by_code(world: World) -> None:
    from prometheus_client import REGISTRY

    from termin360.portal.services import bookings

    def made() -> float:
        return REGISTRY.get_sample_value("termin360_portal_bookings_made_total") or 0.0

    def taken() -> float:
        name, labels = "termin360_portal_booking_refusals_total", {"code": "slot_taken"}
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = made(), taken()
    args: dict[str, Any] = dict(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=bookable(),
    )
    bookings.book(**args)
    with pytest.raises(bookings.SlotGone):
        bookings.book(**args)
    assert (made(), taken()) == (before[0] + 1, before[1] + 1)
