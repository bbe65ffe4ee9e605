from decimal import Decimal

from django.db import models
from simple_history.models import HistoricalRecords

from registry import derive
from registry.choices import (
    Biologic,
    ClavienDindo,
    ConcurrentAgent,
    Intent,
    LiverProcedure,
    Margin,
    PalliativeProcedure,
    PrimaryProcedure,
    RadiationType,
    Regimen,
    Response,
    StopReason,
    TherapySetting,
)
from registry.models.base import (
    ClinicalRecord,
    at_least,
    at_most,
    check_ends_after_start,
    check_not_after_death,
    check_not_before_birth,
    check_not_future,
    key_dates,
    raise_if,
)


def _check_course_dates(record, what: str) -> dict:
    """Return errors for a course ending before it starts, or dated impossibly."""
    errors: dict = {}
    check_ends_after_start(errors, record.start_date, record.end_date, what)
    check_not_future(errors, "start_date", record.start_date, "Start")
    check_not_future(errors, "end_date", record.end_date, "End")
    check_not_before_birth(errors, "start_date", record.start_date, "Start", record)
    _, death = key_dates(record.patient_id)
    check_not_after_death(errors, "start_date", record.start_date, "Start", death)
    check_not_after_death(errors, "end_date", record.end_date, "End", death)
    return errors


def _course_warnings(record, what: str) -> list:
    """Return registry.derive's warnings: a course started before the diagnosis."""
    diagnosis, _ = key_dates(record.patient_id)
    finding = derive.treatment_before_diagnosis(
        record.start_date, diagnosis, what=what, field="start_date"
    )
    return [finding] if finding else []


class RadiationCourse(ClinicalRecord):
    """A course of radiotherapy, usually long-course chemoradiation to the pelvis."""

    # indexed by Meta.indexes' (patient, date) index, which leads with it
    patient = models.ForeignKey(
        "registry.Patient",
        on_delete=models.CASCADE,
        related_name="radiation_courses",
        db_index=False,
    )
    course_type = models.CharField(max_length=10, choices=RadiationType.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Blank while ongoing.")
    total_dose_gy = models.DecimalField(
        "total dose (Gy)",
        max_digits=5,
        decimal_places=2,
        validators=[
            at_least(Decimal("0.01"), "Total dose (Gy)"),
            at_most(100, "Total dose (Gy)"),
        ],
    )
    fractions = models.PositiveSmallIntegerField(
        validators=[at_least(1, "Fractions"), at_most(60, "Fractions")]
    )
    concurrent_agent = models.CharField(max_length=12, choices=ConcurrentAgent.choices)
    completed = models.BooleanField(
        default=True, help_text="Untick if the course stopped short of the plan."
    )

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["patient", "start_date"]
        indexes = [models.Index(fields=["patient", "start_date"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date"))
                | models.Q(end_date__isnull=True),
                name="radiation_ends_after_start",
                violation_error_message="A radiation course cannot end before it "
                "starts.",
            ),
            models.CheckConstraint(
                condition=models.Q(total_dose_gy__gt=0),
                name="radiation_dose_positive",
                violation_error_message="Total dose must be more than 0 Gy.",
            ),
            models.CheckConstraint(
                condition=models.Q(fractions__gte=1),
                name="radiation_at_least_one_fraction",
                violation_error_message="A course has at least one fraction.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_course_type_display()} from {self.start_date}"

    def clean(self) -> None:
        raise_if(_check_course_dates(self, "radiation course"))

    def entry_warnings(self) -> list:
        """Return registry.derive's warnings about this course."""
        return _course_warnings(self, "This radiation course")

    @property
    def dose_per_fraction_gy(self):
        """Return the dose per fraction in Gy."""
        if self.total_dose_gy is None or not self.fractions:
            return None
        return self.total_dose_gy / self.fractions


class SystemicTherapyLine(ClinicalRecord):
    """One line of systemic therapy: a regimen, optionally with a biologic."""

    # indexed by Meta.indexes' (patient, date) index, which leads with it
    patient = models.ForeignKey(
        "registry.Patient",
        on_delete=models.CASCADE,
        related_name="systemic_lines",
        db_index=False,
    )
    setting = models.CharField(max_length=12, choices=TherapySetting.choices)
    regimen = models.CharField(max_length=12, choices=Regimen.choices)
    regimen_other = models.CharField(
        "other regimen", max_length=100, blank=True, help_text="If regimen is Other."
    )
    biologic = models.CharField(max_length=12, choices=Biologic.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Blank while ongoing.")
    cycles = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[at_least(1, "Cycles"), at_most(100, "Cycles")],
        help_text="Number of cycles given.",
    )
    stop_reason = models.CharField(
        "reason stopped", max_length=12, choices=StopReason.choices, blank=True
    )
    best_response = models.CharField(
        "best response (RECIST)", max_length=2, choices=Response.choices, blank=True
    )

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["patient", "start_date"]
        indexes = [models.Index(fields=["patient", "start_date"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date"))
                | models.Q(end_date__isnull=True),
                name="systemic_ends_after_start",
                violation_error_message="A line of therapy cannot end before it "
                "starts.",
            ),
            models.CheckConstraint(
                condition=models.Q(cycles__gte=1) | models.Q(cycles__isnull=True),
                name="systemic_at_least_one_cycle",
                violation_error_message="Cycles, if given, must be at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.regimen_label} from {self.start_date}"

    def clean(self) -> None:
        errors = _check_course_dates(self, "line of therapy")
        if self.regimen == Regimen.OTHER and not self.regimen_other.strip():
            errors.setdefault("regimen_other", []).append("Name the other regimen.")
        if self.end_date and self.stop_reason == StopReason.ONGOING:
            errors.setdefault("stop_reason", []).append(
                "A line with an end date is not ongoing: give the reason it stopped."
            )
        raise_if(errors)

    def entry_warnings(self) -> list:
        """Return registry.derive's warnings about this line."""
        return _course_warnings(self, "This line of therapy")

    @property
    def regimen_label(self) -> str:
        """Return the regimen with its biologic, e.g. "FOLFOX + bevacizumab"."""
        name = self.regimen_other or self.get_regimen_display()
        if self.biologic and self.biologic != Biologic.NONE:
            name = f"{name} + {self.get_biologic_display().lower()}"
        return name


class Operation(ClinicalRecord):
    """An operation: what was done to the primary, the liver, and palliatively."""

    # indexed by Meta.indexes' (patient, date) index, which leads with it
    patient = models.ForeignKey(
        "registry.Patient",
        on_delete=models.CASCADE,
        related_name="operations",
        db_index=False,
    )
    date = models.DateField()
    primary_procedure = models.CharField(
        "procedure on the primary",
        max_length=12,
        choices=PrimaryProcedure.choices,
    )
    liver_procedure = models.CharField(
        "procedure on the liver",
        max_length=20,
        choices=LiverProcedure.choices,
    )
    palliative_procedure = models.CharField(
        max_length=8,
        choices=PalliativeProcedure.choices,
    )
    intent = models.CharField(max_length=10, choices=Intent.choices)
    emergency = models.BooleanField(default=False)
    margin = models.CharField(
        "resection margin", max_length=3, choices=Margin.choices, blank=True
    )
    clavien_dindo = models.CharField(
        "worst complication (Clavien-Dindo)",
        max_length=4,
        choices=ClavienDindo.choices,
        blank=True,
        help_text="Worst complication within 90 days.",
    )
    length_of_stay_days = models.PositiveSmallIntegerField(
        "length of stay (days)",
        null=True,
        blank=True,
        validators=[at_most(365, "Length of stay (days)")],
    )

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["patient", "date"]
        indexes = [models.Index(fields=["patient", "date"])]

    def __str__(self) -> str:
        return f"Operation on {self.date}: {self.summary}"

    def clean(self) -> None:
        errors: dict = {}
        check_not_future(errors, "date", self.date, "Operation date")
        _, death = key_dates(self.patient_id)
        check_not_after_death(errors, "date", self.date, "Operation date", death)
        check_not_before_birth(errors, "date", self.date, "Operation date", self)
        nothing_done = (
            self.primary_procedure == PrimaryProcedure.NONE
            and self.liver_procedure == LiverProcedure.NONE
            and self.palliative_procedure == PalliativeProcedure.NONE
        )
        if nothing_done and self.intent != Intent.DIAGNOSTIC:
            errors.setdefault("primary_procedure", []).append(
                "Record what was done to the primary, the liver or palliatively "
                "(or set the intent to diagnostic)."
            )
        problem = derive.margin_problem(self.fact)
        if problem:
            errors.setdefault("margin", []).append(problem)
        raise_if(errors)

    @property
    def fact(self) -> derive.OperationFact:
        """Return what registry.derive reads of this operation."""
        return derive.OperationFact(
            self.date,
            self.primary_procedure,
            self.liver_procedure,
            self.palliative_procedure,
            self.margin,
        )

    def entry_warnings(self) -> list:
        """Return registry.derive's warnings: an operation before the diagnosis."""
        diagnosis, _ = key_dates(self.patient_id)
        finding = derive.treatment_before_diagnosis(
            self.date,
            diagnosis,
            what="This operation",
            resects_primary=self.fact.resects_primary,
        )
        return [finding] if finding else []

    @property
    def summary(self) -> str:
        """Return the procedures of this operation in words."""
        parts = []
        if self.primary_procedure != PrimaryProcedure.NONE:
            parts.append(self.get_primary_procedure_display())
        if self.liver_procedure != LiverProcedure.NONE:
            parts.append(self.get_liver_procedure_display())
        if self.palliative_procedure != PalliativeProcedure.NONE:
            parts.append(self.get_palliative_procedure_display())
        return " + ".join(parts) or "no procedure recorded"
