"""Data queries: a data manager's question about one field of one record.

REDCap's data resolution workflow and OpenClinica's discrepancy notes: the
manager opens a query ("CEA 1530 — typo?"), the research nurse answers it or
corrects the value, the manager closes it or opens it again. Every step is a
``QueryStep`` row, kept with who and when; step rows are never changed or
deleted (database triggers, migration ``r11_status_triggers``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from registry.models.status import FormKind


class QueryStatus(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    CLOSED = "closed", "Closed"


class QueryAction(models.TextChoices):
    OPENED = "opened", "Opened"
    ANSWERED = "answered", "Answered"
    CORRECTED = "corrected", "Corrected the value"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Re-opened"


class DataQueryQuerySet(models.QuerySet):
    def for_user(self, user) -> DataQueryQuerySet:
        """Return the queries on patients of the user's sites (all for superusers)."""
        if user.is_superuser:
            return self
        return self.filter(patient__site__members=user)

    def unresolved(self) -> DataQueryQuerySet:
        """Return the queries waiting on someone: open or answered, not closed."""
        return self.exclude(status=QueryStatus.CLOSED)


class DataQuery(models.Model):
    """A question about one field of one record of a patient."""

    patient = models.ForeignKey(
        "registry.Patient", on_delete=models.CASCADE, related_name="data_queries"
    )
    kind = models.CharField(max_length=12, choices=FormKind.choices)
    #: The record's id (the patient's own for kind "patient").
    record_id = models.PositiveIntegerField()
    field = models.CharField(max_length=50, help_text="The model field queried.")
    question = models.TextField()
    status = models.CharField(
        max_length=10, choices=QueryStatus.choices, default=QueryStatus.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    #: The nurse who last entered the record when the query was opened.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_queries",
    )
    updated_at = models.DateTimeField()

    objects = DataQueryQuerySet.as_manager()

    class Meta:
        verbose_name = "data query"
        verbose_name_plural = "data queries"
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "patient"])]
        permissions = [("manage_queries", "Can open, close and re-open data queries")]

    def __str__(self) -> str:
        return f"Query {self.pk} on patient {self.patient}: {self.question[:40]}"


class QueryStep(models.Model):
    """One step of a query: opened, answered, corrected, closed, re-opened.

    The key to the query keeps no database constraint and deletes nothing: a
    step, like a history row, outlives what it is about.
    """

    query = models.ForeignKey(
        DataQuery,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="steps",
    )
    action = models.CharField(max_length=10, choices=QueryAction.choices)
    text = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.by} at {self.at:%Y-%m-%d %H:%M}"
