"""Warnings a nurse confirmed at entry: possible data, checked and kept.

A warning is one of registry.derive's entry checks (a ``Finding``): the data
may be right, so the form asks the nurse to confirm instead of refusing. The
confirmation is kept here, with who confirmed it and when, and listed on the
data-quality page so a data manager can review it.
"""

from django.conf import settings
from django.db import models


class ConfirmedWarningQuerySet(models.QuerySet):
    def replace_for(self, record, findings, *, user) -> None:
        """Store the warnings `findings` confirmed for `record`, dropping the
        record's earlier confirmations that no longer apply."""
        kind = record._meta.model_name
        patient_id = record.pk if kind == "patient" else record.patient_id
        mine = self.filter(record_kind=kind, record_id=record.pk)
        mine.exclude(code__in=[f.code for f in findings]).delete()
        for finding in findings:
            self.update_or_create(
                record_kind=kind,
                record_id=record.pk,
                code=finding.code,
                defaults={
                    "patient_id": patient_id,
                    "field": finding.field,
                    "message": finding.message,
                    "confirmed_by": user,
                },
            )


class ConfirmedWarning(models.Model):
    """An entry warning (registry.derive, "Checks at entry") a user confirmed.

    Not clinical data: no derived fact reads it (registry.facts.annotation_models).
    """

    patient = models.ForeignKey(
        "registry.Patient", on_delete=models.CASCADE, related_name="confirmed_warnings"
    )
    #: The model name of the record warned about ("operation", "primarytumour").
    record_kind = models.CharField(max_length=40)
    record_id = models.PositiveBigIntegerField()
    code = models.CharField(max_length=40)
    field = models.CharField(max_length=40)
    message = models.TextField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(auto_now=True)

    objects = ConfirmedWarningQuerySet.as_manager()

    class Meta:
        ordering = ["-confirmed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["record_kind", "record_id", "code"],
                name="confirmed_warning_once_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_kind} {self.record_id}: {self.code}"
