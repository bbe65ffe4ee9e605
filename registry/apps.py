from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Clinical registry"

    def ready(self) -> None:
        from registry import facts

        # Every save and delete of a clinical record refreshes the patient's
        # stored derived facts, in the same transaction.
        facts.connect()
