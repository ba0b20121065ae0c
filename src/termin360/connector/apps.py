from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "termin360.connector"
    label = "connector"
    verbose_name = "Connector"

    def ready(self) -> None:
        # Every change in a mapped column writes its outbox row (and asks the portal
        # first, S9) inside the practice's own transaction.
        from termin360.connector.services import outbox
        from termin360.connector.services.consumer import online_booking_ids
        from termin360.practice.services import online_refs

        outbox.install()
        # The practice API names the portal's booking number of an online appointment.
        online_refs.set_lookup(online_booking_ids)
