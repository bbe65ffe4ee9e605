"""Patient querysets: site scoping, and the stored derived facts as columns.

The derived facts are not computed here: ``registry.facts`` stores them, one row
per patient, whenever the patient's records are written (by the rules of
``registry.derive``), and these methods only read that row's columns.
"""

from __future__ import annotations

from django.db.models import F

from registry.models.base import ClinicalQuerySet

#: The stored facts the patient pages read, by the name they are read under.
DERIVED_COLUMNS = (
    "diagnosis_date",
    "death_date",
    "initial_resectability",
    "first_operation",
    "first_primary_resection",
    "first_liver_resection",
    "first_treatment",
    "last_contact",
    "strategy",
    "staged_order",
    "liver_resected",
    "converted",
    "later_palliative",
    "vital_status",
)


class PatientQuerySet(ClinicalQuerySet):
    def for_user(self, user) -> PatientQuerySet:
        """Return the patients of the sites `user` belongs to (all for superusers)."""
        if user.is_superuser:
            return self
        return self.filter(site__members=user)

    def synthetic(self) -> PatientQuerySet:
        """Return the patients created by seed_demo."""
        return self.filter(is_synthetic=True)

    def with_derived(self) -> PatientQuerySet:
        """Annotate the stored derived facts (strategy, vital status, last
        contact, ...; DERIVED_COLUMNS) from the patient's facts row (one join)."""
        return self.annotate(**{name: F(f"facts__{name}") for name in DERIVED_COLUMNS})

    def with_strategy(self) -> PatientQuerySet:
        """Annotate the stored resection strategy only."""
        return self.annotate(strategy=F("facts__strategy"))
