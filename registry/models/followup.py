from django.db import models
from simple_history.models import HistoricalRecords

from registry.choices import CauseOfDeath, ContactType, DiseaseStatus
from registry.models.base import (
    DETECTION,
    ClinicalRecord,
    at_least,
    check_not_after_death,
    check_not_future,
    key_dates,
    known,
    raise_if,
)


class FollowUp(ClinicalRecord):
    """A follow-up contact: the patient was known to be alive on this date."""

    # indexed by Meta.indexes' (patient, date) index, which leads with it
    patient = models.ForeignKey(
        "registry.Patient",
        on_delete=models.CASCADE,
        related_name="followups",
        db_index=False,
    )
    date = models.DateField()
    contact_type = models.CharField(max_length=10, choices=ContactType.choices)
    disease_status = models.CharField(
        max_length=12,
        choices=DiseaseStatus.choices,
        help_text="Recurrence or progression ends recurrence-free survival.",
    )
    cea_ng_ml = models.DecimalField(
        "CEA (ng/mL)",
        max_digits=8,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[at_least(0, "CEA (ng/mL)")],
    )
    notes = models.CharField(max_length=500, blank=True)

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        verbose_name = "follow-up contact"
        ordering = ["patient", "date"]
        indexes = [models.Index(fields=["patient", "date"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cea_ng_ml__gte=0),
                name="followup_cea_not_negative",
                violation_error_message="CEA cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"Follow-up on {self.date}: {self.get_disease_status_display()}"

    def clean(self) -> None:
        errors: dict = {}
        check_not_future(errors, "date", self.date, "Follow-up date")
        diagnosis, death = key_dates(self.patient_id)
        if self.date and diagnosis and self.date < diagnosis:
            errors.setdefault("date", []).append(
                f"Follow-up date ({self.date}) is before the diagnosis on {diagnosis}."
            )
        check_not_after_death(errors, "date", self.date, "Follow-up date", death)
        raise_if(errors)


class Death(ClinicalRecord):
    """The patient's death: its date and cause."""

    patient = models.OneToOneField(
        "registry.Patient", on_delete=models.CASCADE, related_name="death"
    )
    date = models.DateField("date of death")
    cause = models.CharField(max_length=12, choices=CauseOfDeath.choices)

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        verbose_name_plural = "deaths"

    def __str__(self) -> str:
        return f"Died {self.date} ({self.get_cause_display().lower()})"

    def clean(self) -> None:
        errors: dict = {}
        check_not_future(errors, "date", self.date, "Date of death")
        if self.date and self.patient_id:
            diagnosis, _ = key_dates(self.patient_id)
            if diagnosis and self.date < diagnosis:
                errors.setdefault("date", []).append(
                    f"Date of death ({self.date}) is before the diagnosis on "
                    f"{diagnosis}."
                )
            later = latest_record_after(self.patient_id, self.date)
            if later:
                what, when = later
                errors.setdefault("date", []).append(
                    f"Date of death ({self.date}) is before the {what} on {when}: "
                    "no record can be dated after death."
                )
        raise_if(errors)


def latest_record_after(patient_id: int, date) -> tuple[str, object] | None:
    """Return (kind, date) of the latest record of the patient dated after `date`."""
    from registry.models.treatments import (
        Operation,
        RadiationCourse,
        SystemicTherapyLine,
    )
    from registry.models.tumours import LiverMetastases

    if (dates := known(patient_id)) is not None:
        later = [(when, what) for when, what in dates.dated if when > date]
        if not later:
            return None
        when, what = max(later)
        return what, when
    candidates = []
    for model, fields, what in (
        (Operation, ("date",), "operation"),
        (FollowUp, ("date",), "follow-up contact"),
        (RadiationCourse, ("start_date", "end_date"), "radiation course"),
        (SystemicTherapyLine, ("start_date", "end_date"), "line of systemic therapy"),
        (LiverMetastases, ("detected_date",), DETECTION),
    ):
        for field in fields:
            found = (
                model.objects.filter(patient_id=patient_id, **{f"{field}__gt": date})
                .order_by(f"-{field}")
                .values_list(field, flat=True)
                .first()
            )
            if found:
                candidates.append((found, what))
    if not candidates:
        return None
    when, what = max(candidates)
    return what, when
