from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_save


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Clinical registry"

    def ready(self) -> None:
        from registry import facts

        # Every save and delete of a clinical record refreshes the patient's
        # stored derived facts, in the same transaction.
        facts.connect()
        # On SQLite, a migration that remakes a history table drops its
        # append-only triggers and its audit-log index: install them again
        # after every migrate.
        post_migrate.connect(reinstall_triggers, sender=self)
        # A record deleted with its patient keeps the patient's reason.
        from django.db.models.signals import pre_delete

        from registry.models.base import give_the_patients_reason

        for model in facts.clinical_models():
            pre_delete.connect(give_the_patients_reason, sender=model)
        # A new password revokes the user's API tokens.
        from django.contrib.auth import get_user_model

        from registry.api.tokens import revoke_on_new_password

        pre_save.connect(revoke_on_new_password, sender=get_user_model())


def reinstall_triggers(sender, using="default", plan=None, **kwargs) -> None:
    """Install the history tables' append-only triggers and audit-log indexes
    again after a migrate that ran migrations (not after a test flush, which
    manages them itself)."""
    from django.db import connections

    from registry import appendonly, audit

    if not plan:
        return
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    if not set(appendonly.TABLES) <= existing:
        return
    with connection.schema_editor() as editor:
        appendonly.reinstall(editor)
        audit.ensure_log_indexes(editor)
