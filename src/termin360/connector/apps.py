from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "termin360.connector"
    label = "connector"
    verbose_name = "Connector"

    def ready(self) -> None:
        # Every change in a mapped column writes its outbox row (and asks the portal
        # first, S9) inside the practice's own transaction.
        from termin360.connector.services import outbox

        outbox.install()
