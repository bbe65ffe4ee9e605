"""Derived facts, stored one row per patient when the patient's records are written."""

from __future__ import annotations

from django.db import models

from registry.choices import (
    Biologic,
    Regimen,
    Resectability,
    StagedOrder,
    Strategy,
    VitalStatus,
)

#: The stored data-quality flags (registry.derive, "Data-quality flags").
DATA_QUALITY_FLAGS = (
    "no_diagnosis",
    "no_liver",
    "no_ecog",
    "no_cea",
    "no_verge",
    "unknown_stage",
    "no_margin",
    "late_operation",
    "follow_up_gap",
    "no_follow_up",
    "contradiction",
)


#: The stored facts the patient list can be sorted by (registry.tables).
LIST_SORTS = ("diagnosis_date", "strategy", "vital_status", "last_contact")


class FactsQuerySet(models.QuerySet):
    def for_user(self, user) -> FactsQuerySet:
        """Return the facts of the patients of the sites `user` belongs to (all
        for superusers): ``Patient.objects.for_user``, read on the facts' copy of
        the patient's site, so that counting them needs no join to the patients."""
        if user.is_superuser:
            return self
        return self.filter(site__members=user)


class DerivedFacts(models.Model):
    """A patient's derived facts, as registry.derive.stored_facts computes them.

    Never edited: ``registry.facts.refresh`` rewrites the row in the same
    transaction as every write to the patient's records (forms, admin, revert,
    services, the demo generator), so pages and reports filter, sort and count
    by these columns instead of deriving on every read. ``check_facts``
    recomputes the rows and lists any that differ.
    """

    patient = models.OneToOneField(
        "registry.Patient",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="facts",
    )
    # A copy of the patient's site (not a rule: ``refresh`` writes it with the
    # facts), so that a cohort scoped by site reads the facts alone, without
    # joining the patients (analytics.dataset.cohort_facts).
    site = models.ForeignKey(
        "registry.Site", on_delete=models.PROTECT, related_name="+"
    )
    diagnosis_date = models.DateField(null=True)
    death_date = models.DateField(null=True)
    cancer_death_date = models.DateField(
        null=True, help_text="The date of death, if from colorectal cancer."
    )
    initial_resectability = models.CharField(
        max_length=12, choices=Resectability.choices, blank=True
    )
    first_operation = models.DateField(null=True)
    first_primary_resection = models.DateField(null=True)
    first_liver_resection = models.DateField(null=True)
    strategy_completed = models.DateField(
        null=True, help_text="The later of the first primary and liver resections."
    )
    last_palliative = models.DateField(null=True)
    first_radiation = models.DateField(null=True)
    first_systemic = models.DateField(null=True)
    first_treatment = models.DateField(null=True)
    first_recurrence = models.DateField(
        null=True, help_text="First recurrence or progression on or after diagnosis."
    )
    recurrence_from_treatment = models.DateField(
        null=True, help_text="First recurrence on or after the first treatment."
    )
    recurrence_from_operation = models.DateField(
        null=True, help_text="First recurrence on or after the first operation."
    )
    # last_contact, strategy and vital_status are indexed by Meta.indexes'
    # list indexes, which lead with them
    last_contact = models.DateField(null=True)
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    staged_order = models.CharField(
        max_length=16, choices=StagedOrder.choices, blank=True
    )
    liver_resected = models.BooleanField()
    converted = models.BooleanField()
    later_palliative = models.BooleanField()
    vital_status = models.CharField(max_length=8, choices=VitalStatus.choices)
    # The data-quality flags (registry.quality.CHECKS; True: needs attention)
    # whose answer does not depend on today, and the completeness of key fields.
    no_diagnosis = models.BooleanField()
    no_liver = models.BooleanField()
    no_ecog = models.BooleanField()
    no_cea = models.BooleanField()
    no_verge = models.BooleanField()
    unknown_stage = models.BooleanField(
        default=False,
        help_text="Primary site or clinical T, N, M recorded as unknown / not "
        "recorded.",
    )
    no_margin = models.BooleanField()
    late_operation = models.BooleanField()
    follow_up_gap = models.BooleanField()
    no_follow_up = models.BooleanField()
    contradiction = models.BooleanField(
        default=False,
        help_text="A treatment dated before the diagnosis, or clinical M0 with "
        "synchronous liver metastases (the forms' warnings).",
    )
    key_fields_filled = models.PositiveSmallIntegerField(
        help_text="How many of the data-quality page's key fields are filled."
    )
    follow_up_overdue_from = models.DateField(
        null=True,
        help_text="The first day a living patient's follow-up is overdue "
        "(registry.derive.follow_up_overdue_from); empty after a death.",
    )
    # What reports describe and group patients by (registry.derive's rules).
    age = models.PositiveSmallIntegerField(
        "age at diagnosis (years)",
        null=True,
        help_text="From the date of birth, or the age recorded when it is unknown.",
    )
    first_regimen = models.CharField(
        max_length=12, choices=Regimen.choices, blank=True, default=""
    )
    first_biologic = models.CharField(
        max_length=12, choices=Biologic.choices, blank=True, default=""
    )

    objects = FactsQuerySet.as_manager()

    class Meta:
        verbose_name = "derived facts"
        verbose_name_plural = "derived facts"
        # The data-quality page lists each flag's patients: a partial index
        # holds only the flagged rows, so a rare flag is found without a scan.
        indexes = [
            models.Index(
                fields=["patient"],
                condition=models.Q(**{flag: True}),
                name=f"facts_{flag}_idx",
            )
            for flag in DATA_QUALITY_FLAGS
        ] + [
            # The patient list sorted by a stored fact reads its page down one
            # of these (ties broken by the patient), not by sorting every row.
            models.Index(fields=[name, "patient"], name=f"facts_{name}_list_idx")
            for name in LIST_SORTS
        ]

    def __str__(self) -> str:
        return f"facts of patient {self.patient_id}"


class FactsCheck(models.Model):
    """One run of ``check_facts``: how many patients' stored facts differed."""

    checked_at = models.DateTimeField(auto_now_add=True)
    patients = models.PositiveIntegerField()
    mismatched = models.PositiveIntegerField()
    fixed = models.BooleanField(default=False)
    by_site = models.JSONField(
        default=dict,
        help_text="The patients checked and those that differed, per site: "
        '{"<site id>": [patients, mismatched]}, for each user to see their '
        "sites' alone.",
    )

    class Meta:
        get_latest_by = "checked_at"
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        when = f"{self.checked_at:%Y-%m-%d}"
        return f"{self.mismatched} of {self.patients} differed ({when})"

    def at_sites(self, site_ids) -> tuple[int, int] | None:
        """Return (patients, mismatched) at these sites, or None for a check
        made before the counts were kept per site."""
        if not self.by_site:
            return None
        counted = [self.by_site.get(str(pk), [0, 0]) for pk in site_ids]
        return sum(c[0] for c in counted), sum(c[1] for c in counted)
