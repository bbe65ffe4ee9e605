"""Form status of a patient's records, one row per patient and kind of record.

REDCap calls this the form status and OpenClinica source data verification and
record locking: a research nurse marks the records of one kind (the diagnosis,
the operations, the follow-up, ...) complete, a data manager verifies them
against the source documents and locks them. A locked kind refuses every write
until a data manager unlocks it with a reason (``registry.status``). A kind
without a row is incomplete.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class FormKind(models.TextChoices):
    """The kinds of record a status covers (the data-entry pages' kinds)."""

    PATIENT = "patient", "Patient"
    TUMOUR = "tumour", "Diagnosis"
    LIVER = "liver", "Liver metastases"
    RADIATION = "radiation", "Radiation courses"
    SYSTEMIC = "systemic", "Systemic therapy"
    OPERATION = "operation", "Operations"
    FOLLOWUP = "followup", "Follow-up"
    DEATH = "death", "Death"


#: The kind of each clinical model, by model name.
MODEL_KINDS = {
    "patient": FormKind.PATIENT,
    "primarytumour": FormKind.TUMOUR,
    "livermetastases": FormKind.LIVER,
    "radiationcourse": FormKind.RADIATION,
    "systemictherapyline": FormKind.SYSTEMIC,
    "operation": FormKind.OPERATION,
    "followup": FormKind.FOLLOWUP,
    "death": FormKind.DEATH,
}


class FormStatus(models.IntegerChoices):
    """Ordered: each step needs the one before it."""

    INCOMPLETE = 0, "Incomplete"
    COMPLETE = 1, "Complete"
    VERIFIED = 2, "Verified"
    LOCKED = 3, "Locked"


class RecordStatus(models.Model):
    """The status of one kind of record of one patient, and its last change."""

    # indexed by the unique constraint on (patient, kind), which leads with it
    patient = models.ForeignKey(
        "registry.Patient",
        on_delete=models.CASCADE,
        related_name="form_statuses",
        db_index=False,
    )
    kind = models.CharField(max_length=12, choices=FormKind.choices)
    status = models.PositiveSmallIntegerField(
        choices=FormStatus.choices, default=FormStatus.INCOMPLETE
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "form status"
        verbose_name_plural = "form statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind"], name="record_status_one_per_kind"
            )
        ]
        indexes = [models.Index(fields=["kind", "status"])]
        permissions = [
            ("verify_records", "Can verify records against the source documents"),
            ("lock_records", "Can lock and unlock records"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_status_display()}"
