from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models.functions import Upper
from django.urls import reverse
from simple_history.models import HistoricalRecords

from registry.choices import AsaClass, PresentingSymptom, Sex
from registry.derive import age_problem
from registry.models.base import (
    ClinicalRecord,
    at_least,
    at_most,
    check_date,
    key_dates,
    raise_if,
)
from registry.models.querysets import PatientQuerySet

#: An MRN is one line of printable text: a line break or control character
#: in one (the API and imports took them) is a typing or export error.
ONE_LINE = RegexValidator(
    r"\A[^\x00-\x1f\x7f]*\Z",
    "An MRN holds no line breaks or control characters.",
    code="control_characters",
)


class Patient(ClinicalRecord):
    """A patient with colorectal cancer, identified in the registry by number.

    The medical record number and the date of birth are identifiers: they are
    listed in IDENTIFIER_FIELDS, shown only to users with the
    ``registry.view_identifiers`` permission, and never exported for analysis.
    """

    IDENTIFIER_FIELDS = ("mrn", "date_of_birth")
    #: The source system's own record id links a row to a person as surely as the
    #: MRN: shown to data staff like the registry number, but, like the
    #: identifiers, never in a de-identified export (registry.exporter).
    LINK_IDENTIFIERS = ("source_record_id",)

    registry_number = models.CharField(
        max_length=20,
        unique=True,
        blank=True,
        help_text="Non-identifying registry number; assigned on first save if blank.",
    )
    site = models.ForeignKey(
        "registry.Site", on_delete=models.PROTECT, related_name="patients"
    )
    source_record_id = models.CharField(
        "source record id",
        max_length=64,
        blank=True,
        help_text="The patient's record id in the system they were imported from "
        "(unique per site): how an import's rows name a patient new to the registry.",
    )
    mrn = models.CharField(
        "medical record number",
        max_length=30,
        blank=True,
        validators=[ONE_LINE],
        help_text="Identifier: the hospital's medical record number. Leave blank "
        "only for historical data whose hospital number is lost.",
    )
    date_of_birth = models.DateField(
        null=True,
        blank=True,
        help_text="Identifier. If unknown (historical data), give the age at "
        "diagnosis instead.",
    )
    age_at_diagnosis = models.PositiveSmallIntegerField(
        "age at diagnosis (years)",
        null=True,
        blank=True,
        help_text="Only when the date of birth is not known.",
    )
    sex = models.CharField(max_length=1, choices=Sex.choices)
    ecog = models.PositiveSmallIntegerField(
        "ECOG performance status",
        null=True,
        blank=True,
        validators=[at_least(0, "ECOG"), at_most(4, "ECOG")],
        help_text="0 (fully active) to 4 (completely disabled), at diagnosis.",
    )
    asa_class = models.CharField(
        "ASA class", max_length=3, choices=AsaClass.choices, blank=True
    )
    charlson_index = models.PositiveSmallIntegerField(
        "Charlson comorbidity index",
        null=True,
        blank=True,
        validators=[at_most(37, "The Charlson index")],
        help_text="Comorbidity score at diagnosis, excluding the colorectal cancer.",
    )
    presenting_symptom = models.CharField(
        max_length=12,
        choices=PresentingSymptom.choices,
        help_text="Most serious symptom of the primary tumour at presentation.",
    )
    is_synthetic = models.BooleanField(
        default=False, editable=False, help_text="Created by seed_demo: not real."
    )

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["registry_number"]
        # A site's patients in registry-number order (the data-quality page's
        # lists read a site's first failing patients down it).
        indexes = [
            models.Index(
                fields=["site", "registry_number"], name="patient_site_number_idx"
            ),
            # The admin's search matches an MRN whole, in any case
            # (``mrn__iexact``: UPPER(mrn)), at every site of the user.
            models.Index(Upper("mrn"), name="patient_mrn_upper_idx"),
        ]
        permissions = [
            ("view_identifiers", "Can see patient identifiers (MRN, date of birth)")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "mrn"],
                condition=~models.Q(mrn=""),
                name="patient_mrn_unique_per_site",
                violation_error_message="A patient with this MRN exists at this site.",
            ),
            models.UniqueConstraint(
                fields=["site", "source_record_id"],
                condition=~models.Q(source_record_id=""),
                name="patient_source_id_unique_per_site",
                violation_error_message="A patient with this source record id exists "
                "at this site.",
            ),
            models.CheckConstraint(
                condition=models.Q(ecog__lte=4),
                name="patient_ecog_0_to_4",
                violation_error_message="ECOG performance status runs from 0 to 4.",
            ),
        ]

    def __str__(self) -> str:
        return self.registry_number or "new patient"

    def save(self, *args, **kwargs) -> None:
        if not self.registry_number:
            with transaction.atomic():
                self.registry_number = self._next_registry_number()
                super().save(*args, **kwargs)
            return
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("registry:patient_detail", args=[self.pk])

    def validate_constraints(self, exclude=None) -> None:
        """Check the MRN and source id unique per site whenever the site is
        checked, even from a form that leaves those identifiers out (a user
        who may not see them can still move a patient to another site): a
        taken one is the constraint's message, which quotes no identifier,
        not a database error."""
        if exclude and "site" not in exclude:
            exclude = set(exclude) - {"mrn", "source_record_id"}
        super().validate_constraints(exclude=exclude)

    def clean(self) -> None:
        errors: dict = {}
        check_date(
            errors, "date_of_birth", self.date_of_birth, "Date of birth", birth=True
        )
        diagnosis = None
        if self.pk:
            diagnosis, _ = key_dates(self.pk)
            if diagnosis and self.date_of_birth and self.date_of_birth > diagnosis:
                errors.setdefault("date_of_birth", []).append(
                    f"Date of birth is after the date of diagnosis ({diagnosis})."
                )
        self.check_age(errors, diagnosis)
        raise_if(errors)

    def check_age(self, errors: dict, diagnosis) -> None:
        """Add derive.age_problem's refusal, at the age (or the date of birth)."""
        problem = age_problem(self.date_of_birth, diagnosis, self.age_at_diagnosis)
        if problem:
            # only "give one of the two" is about the missing date of birth
            neither = self.date_of_birth is None and self.age_at_diagnosis is None
            field = "date_of_birth" if neither else "age_at_diagnosis"
            errors.setdefault(field, []).append(problem)

    def _next_registry_number(self) -> str:
        """Return the next free registry number of this patient's site.

        The site's counter row is locked (SELECT ... FOR UPDATE) until the
        transaction ends, so simultaneous new patients at one site queue for
        their numbers instead of taking the same one. A number already in use
        (given by hand or by the demo generator) is skipped.
        """
        from registry.models.sites import Site

        site = Site.objects.select_for_update().get(pk=self.site_id)
        prefix = site.registry_prefix()
        number = site.last_registry_number + 1
        while (
            type(self).objects.filter(registry_number=f"{prefix}{number:05d}").exists()
        ):
            number += 1
        Site.objects.filter(pk=site.pk).update(last_registry_number=number)
        return f"{prefix}{number:05d}"
