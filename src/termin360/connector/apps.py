from datetime import date

from django.apps import AppConfig


def _on_occupancy_change(touched: frozenset[tuple[int, date]]) -> None:
    # Imported on the first change, not at start-up: the outbox brings the portal client
    # (httpx, the protocol's schemas), which a console command that only reads, such as
    # `sync list`, never needs.
    from termin360.connector.services.outbox import on_occupancy_change

    on_occupancy_change(touched)


def _online_booking_ids(appointment_ids: list[int]) -> dict[int, int]:
    from termin360.connector.services.consumer import online_booking_ids

    return online_booking_ids(appointment_ids)


class ConnectorConfig(AppConfig):
    name = "termin360.connector"
    label = "connector"
    verbose_name = "Connector"

    def ready(self) -> None:
        from termin360.practice.services import occupancy, online_refs

        # Every change in a mapped column writes its outbox row (and asks the portal
        # first, S9) inside the practice's own transaction.
        occupancy.add_occupancy_listener(_on_occupancy_change)
        # The practice API names the portal's booking number of an online appointment.
        online_refs.set_lookup(_online_booking_ids)
