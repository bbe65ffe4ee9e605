"""The log of data leaving and entering the registry in bulk: who, what, when."""

from django.conf import settings
from django.db import models


class TransferLog(models.Model):
    """One import committed or one export downloaded.

    Kept for the audit: a de-identified dataset is still a disclosure, and a bulk
    import changes many records at once. The clinical changes themselves are in
    each record's history; this row says which file or download they came from.
    The permissions to import and export live here, on the log every one writes.
    """

    class Action(models.TextChoices):
        IMPORT = "import", "Import"
        EXPORT_FULL = "export_full", "Full export"
        EXPORT_DEIDENTIFIED = "export_deidentified", "De-identified export"

    action = models.CharField(max_length=20, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Blank for a command run without --user (server access).",
    )
    at = models.DateTimeField(auto_now_add=True)
    file_format = models.CharField(max_length=10, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    sites = models.CharField(
        max_length=500, blank=True, help_text="Codes of the sites, comma-separated."
    )
    patients = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    detail = models.JSONField(
        default=dict,
        blank=True,
        help_text="What was exported (the report's cohort) or what the import did "
        "(rows created, updated, unchanged per kind). Never an identifier.",
    )

    class Meta:
        ordering = ["-at"]
        permissions = [
            ("import_records", "Can import records from files"),
            ("export_full", "Can export all records with identifiers"),
            ("export_deidentified", "Can export a de-identified dataset"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.user} at {self.at:%Y-%m-%d %H:%M}"
