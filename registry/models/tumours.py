from django.db import models
from simple_history.models import HistoricalRecords

from registry import derive
from registry.choices import (
    RECTAL_SITES,
    ClinicalM,
    ClinicalN,
    ClinicalT,
    ExtrahepaticDisease,
    Grade,
    Histology,
    LiverDistribution,
    LiverExtent,
    MetastasisTiming,
    MmrStatus,
    MutationStatus,
    PrimarySite,
    Resectability,
)
from registry.models.base import (
    ClinicalRecord,
    at_least,
    at_most,
    check_not_after_death,
    check_not_before_birth,
    check_not_future,
    detection_date,
    first_follow_up,
    key_dates,
    known,
    raise_if,
)


class PrimaryTumour(ClinicalRecord):
    """The diagnosis: the primary tumour as staged at presentation."""

    patient = models.OneToOneField(
        "registry.Patient", on_delete=models.CASCADE, related_name="tumour"
    )
    diagnosis_date = models.DateField(
        help_text="Date of histological diagnosis (or of the diagnostic imaging)."
    )
    primary_site = models.CharField(max_length=20, choices=PrimarySite.choices)
    anal_verge_cm = models.DecimalField(
        "distance from the anal verge (cm)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[at_least(0, "Distance (cm)"), at_most(30, "Distance (cm)")],
        help_text="Rectal tumours: lower edge, in cm from the anal verge.",
    )
    histology = models.CharField(max_length=10, choices=Histology.choices)
    grade = models.CharField(max_length=2, choices=Grade.choices, blank=True)
    clinical_t = models.CharField("clinical T", max_length=3, choices=ClinicalT.choices)
    clinical_n = models.CharField("clinical N", max_length=3, choices=ClinicalN.choices)
    clinical_m = models.CharField(
        "clinical M",
        max_length=3,
        choices=ClinicalM.choices,
        help_text="AJCC 8th edition.",
    )
    cea_ng_ml = models.DecimalField(
        "CEA at diagnosis (ng/mL)",
        max_digits=8,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[at_least(0, "CEA (ng/mL)")],
    )
    kras = models.CharField("KRAS", max_length=3, choices=MutationStatus.choices)
    nras = models.CharField("NRAS", max_length=3, choices=MutationStatus.choices)
    braf = models.CharField("BRAF V600E", max_length=3, choices=MutationStatus.choices)
    mmr = models.CharField("MMR / MSI", max_length=4, choices=MmrStatus.choices)

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        verbose_name = "primary tumour"
        # the patient list's span of diagnosis years, read from both ends
        indexes = [models.Index(fields=["diagnosis_date"], name="tumour_diagnosis_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cea_ng_ml__gte=0),
                name="tumour_cea_not_negative",
                violation_error_message="CEA cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(anal_verge_cm__gte=0),
                name="tumour_anal_verge_not_negative",
                violation_error_message="Distance from the anal verge cannot be "
                "negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_primary_site_display()}, diagnosed {self.diagnosis_date}"

    def clean(self) -> None:
        errors: dict = {}
        check_not_future(errors, "diagnosis_date", self.diagnosis_date, "Diagnosis")
        check_not_before_birth(
            errors, "diagnosis_date", self.diagnosis_date, "Diagnosis", self
        )
        if self.patient_id and self.diagnosis_date:
            _, death = key_dates(self.patient_id)
            if death and death < self.diagnosis_date:
                errors.setdefault("diagnosis_date", []).append(
                    f"Diagnosis ({self.diagnosis_date}) is after the patient's death "
                    f"on {death}."
                )
            first_contact = first_follow_up(self.patient_id)
            if first_contact and first_contact < self.diagnosis_date:
                errors.setdefault("diagnosis_date", []).append(
                    f"Diagnosis ({self.diagnosis_date}) is after a follow-up contact "
                    f"on {first_contact}."
                )
            detected = detection_date(self.patient_id)
            if detected and detected < self.diagnosis_date:
                errors.setdefault("diagnosis_date", []).append(
                    f"Diagnosis ({self.diagnosis_date}) is after the detection of "
                    f"metachronous liver metastases on {detected}."
                )
            if known(self.patient_id) is None:  # an import checks it at the patient
                self._check_age(errors)
        if self.anal_verge_cm is not None and self.primary_site not in RECTAL_SITES:
            errors.setdefault("anal_verge_cm", []).append(
                "Distance from the anal verge applies to rectal tumours only."
            )
        contradiction = derive.verge_contradiction(
            self.primary_site, self.anal_verge_cm
        )
        if contradiction:
            errors.setdefault("anal_verge_cm", []).append(contradiction)
        raise_if(errors)

    def _check_age(self, errors: dict) -> None:
        """Refuse a diagnosis date at which the patient's recorded age at
        diagnosis and date of birth disagree (derive.age_problem)."""
        from registry.models.patients import Patient

        birth, age = (
            Patient.objects.filter(pk=self.patient_id)
            .values_list("date_of_birth", "age_at_diagnosis")
            .first()
        ) or (None, None)
        if birth is None or age is None:
            return
        problem = derive.age_problem(birth, self.diagnosis_date, age)
        if problem:
            errors.setdefault("diagnosis_date", []).append(problem)

    def entry_warnings(self, *, liver_timing: str | None = None) -> list:
        """Return registry.derive's warnings about this diagnosis.

        ``liver_timing`` is the liver record's timing when both are entered
        together; otherwise the stored liver record's is read.
        """
        from registry.models.treatments import Operation

        if liver_timing is None and self.patient_id:
            liver_timing = (
                LiverMetastases.objects.filter(patient_id=self.patient_id)
                .values_list("timing", flat=True)
                .first()
            )
        found = [derive.m0_with_synchronous_liver(self.clinical_m, liver_timing)]
        if self.patient_id and self.diagnosis_date:
            first = (
                Operation.objects.filter(
                    patient_id=self.patient_id, date__lt=self.diagnosis_date
                )
                .order_by("date")
                .first()
            )
            if first is not None:
                finding = derive.treatment_before_diagnosis(
                    first.date,
                    self.diagnosis_date,
                    what=f"The operation of {first.date}",
                    resects_primary=first.fact.resects_primary,
                )
                found.append(
                    derive.Finding(finding.code, "diagnosis_date", finding.message)
                )
        return [finding for finding in found if finding]

    @property
    def is_stage_iv(self) -> bool | None:
        """Return True if the tumour had distant metastases at diagnosis (None if
        the M category is unknown)."""
        return derive.distant_metastases(self.clinical_m)


class LiverMetastases(ClinicalRecord):
    """Liver metastases as assessed before any treatment of them."""

    patient = models.OneToOneField(
        "registry.Patient", on_delete=models.CASCADE, related_name="liver"
    )
    timing = models.CharField(
        max_length=12,
        choices=MetastasisTiming.choices,
    )
    detected_date = models.DateField(
        null=True, blank=True, help_text="Metachronous metastases: date detected."
    )
    lesion_count = models.PositiveSmallIntegerField(
        "number of lesions",
        validators=[
            at_least(1, "Number of lesions"),
            at_most(200, "Number of lesions"),
        ],
    )
    largest_mm = models.PositiveSmallIntegerField(
        "largest diameter (mm)",
        validators=[
            at_least(1, "Largest diameter (mm)"),
            at_most(300, "Largest diameter (mm)"),
        ],
    )
    distribution = models.CharField(max_length=8, choices=LiverDistribution.choices)
    extent = models.CharField(
        "extent of liver involvement",
        max_length=6,
        choices=LiverExtent.choices,
        help_text="Share of the liver replaced by tumour (an ordered category).",
    )
    extrahepatic = models.CharField(
        "extrahepatic disease",
        max_length=10,
        choices=ExtrahepaticDisease.choices,
    )
    initial_resectability = models.CharField(
        "initial resectability (MDT)",
        max_length=12,
        choices=Resectability.choices,
        help_text="The multidisciplinary team's first call on the liver disease.",
    )

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        verbose_name = "liver metastases"
        verbose_name_plural = "liver metastases"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lesion_count__gte=1),
                name="liver_at_least_one_lesion",
                violation_error_message="Number of lesions must be at least 1.",
            ),
            models.CheckConstraint(
                condition=models.Q(largest_mm__gte=1),
                name="liver_size_positive",
                violation_error_message="Largest diameter must be at least 1 mm.",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.lesion_count} lesion(s), "
            f"{self.get_distribution_display().lower()}, {self.get_extent_display()}"
        )

    def clean(self) -> None:
        errors: dict = {}
        check_not_future(errors, "detected_date", self.detected_date, "Detection")
        if self.timing == MetastasisTiming.METACHRONOUS and not self.detected_date:
            errors.setdefault("detected_date", []).append(
                "Give the date metachronous metastases were detected."
            )
        if self.patient_id and self.detected_date:
            diagnosis, death = key_dates(self.patient_id)
            if diagnosis and self.detected_date < diagnosis:
                errors.setdefault("detected_date", []).append(
                    f"Detection ({self.detected_date}) is before diagnosis "
                    f"({diagnosis})."
                )
            check_not_after_death(
                errors, "detected_date", self.detected_date, "Detection", death
            )
        raise_if(errors)

    def entry_warnings(self, *, clinical_m: str | None = None) -> list:
        """Return registry.derive's warnings about this liver assessment.

        ``clinical_m`` is the diagnosis' M when both are entered together;
        otherwise the stored diagnosis' is read.
        """
        if clinical_m is None and self.patient_id:
            clinical_m = (
                PrimaryTumour.objects.filter(patient_id=self.patient_id)
                .values_list("clinical_m", flat=True)
                .first()
            )
        finding = derive.m0_with_synchronous_liver(clinical_m or "", self.timing)
        if finding is None:
            return []
        return [derive.Finding(finding.code, "timing", finding.message)]
