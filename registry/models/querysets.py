"""Patient querysets: site scoping and the derived facts as ORM annotations.

The annotations here are the bulk path of the rules defined in
``registry.derive`` for pages, which filter, sort and paginate (analytics over
whole cohorts uses ``registry.bulk``); each must give, for every patient, what
the pure function gives (``tests/registry/test_derive_bulk.py``). Facts about
operations are aggregate annotations over one join (``Min(..., filter=Q(...))``),
which the design measured as the fastest way to derive the strategy; facts from
the other one-to-many tables are correlated subqueries, so that joining several
of them never multiplies rows.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, NullIf
from django.db.models.lookups import GreaterThan, LessThan

from registry.choices import (
    PalliativeProcedure,
    StagedOrder,
    Strategy,
    VitalStatus,
)
from registry.derive import (
    CONVERSION_CALLS,
    LIVER_RESECTIONS,
    PRIMARY_RESECTIONS,
)

# A date earlier than any clinical date, standing in for "none" where SQL's
# GREATEST would otherwise return NULL (SQLite's multi-argument MAX does).
_NO_DATE = datetime.date(1, 1, 1)


def _per_patient(queryset: models.QuerySet, aggregate) -> Subquery:
    """Return a correlated subquery giving `aggregate` over the patient's rows."""
    return Subquery(
        queryset.filter(patient=OuterRef("pk"))
        .order_by()
        .values("patient")
        .annotate(value=aggregate)
        .values("value")[:1],
        output_field=DateField(),
    )


def _least(a, b):
    """Return the earlier of two nullable dates (NULL only if both are NULL)."""
    return Least(Coalesce(a, b), Coalesce(b, a), output_field=DateField())


def _greatest(*dates):
    """Return the latest of nullable dates (NULL only if all are NULL)."""
    padded = [Coalesce(d, Value(_NO_DATE), output_field=DateField()) for d in dates]
    return NullIf(Greatest(*padded, output_field=DateField()), Value(_NO_DATE))


def _first_resections() -> dict:
    """Return the annotations of the first primary and first liver resection."""
    return {
        "first_primary_resection": Min(
            "operations__date",
            filter=Q(operations__primary_procedure__in=PRIMARY_RESECTIONS),
        ),
        "first_liver_resection": Min(
            "operations__date",
            filter=Q(operations__liver_procedure__in=LIVER_RESECTIONS),
        ),
    }


def _strategy() -> Case:
    """Return registry.derive's strategy rule over the first-resection annotations."""
    return Case(
        When(
            first_primary_resection__isnull=True,
            first_liver_resection__isnull=True,
            then=Value(Strategy.NONE),
        ),
        When(first_liver_resection__isnull=True, then=Value(Strategy.PRIMARY_ONLY)),
        When(first_primary_resection__isnull=True, then=Value(Strategy.LIVER_ONLY)),
        When(
            first_primary_resection=F("first_liver_resection"),
            then=Value(Strategy.SYNCHRONOUS),
        ),
        default=Value(Strategy.STAGED),
        output_field=CharField(),
    )


def last_contact():
    """Return the latest dated record of the patient (registry.derive's
    last_known_contact): diagnosis, death, operations, courses, follow-up."""
    from registry.models.followup import FollowUp
    from registry.models.treatments import (
        Operation,
        RadiationCourse,
        SystemicTherapyLine,
    )

    return _greatest(
        F("tumour__diagnosis_date"),
        F("death__date"),
        _per_patient(Operation.objects, Max("date")),
        _per_patient(RadiationCourse.objects, Max(Coalesce("end_date", "start_date"))),
        _per_patient(
            SystemicTherapyLine.objects, Max(Coalesce("end_date", "start_date"))
        ),
        _per_patient(FollowUp.objects, Max("date")),
    )


class PatientQuerySet(models.QuerySet):
    def for_user(self, user) -> PatientQuerySet:
        """Return the patients of the sites `user` belongs to (all for superusers)."""
        if user.is_superuser:
            return self
        return self.filter(site__members=user)

    def synthetic(self) -> PatientQuerySet:
        """Return the patients created by seed_demo."""
        return self.filter(is_synthetic=True)

    def with_facts(self) -> PatientQuerySet:
        """Annotate the dated facts the derivations read.

        Adds diagnosis_date, death_date, initial_resectability, first_operation,
        first_primary_resection, first_liver_resection, last_palliative,
        first_radiation, first_systemic, first_treatment and last_contact.
        """
        from registry.models.treatments import RadiationCourse, SystemicTherapyLine

        palliative = ~Q(operations__palliative_procedure=PalliativeProcedure.NONE)
        return self.annotate(
            diagnosis_date=F("tumour__diagnosis_date"),
            death_date=F("death__date"),
            initial_resectability=F("liver__initial_resectability"),
            first_operation=Min("operations__date"),
            **_first_resections(),
            last_palliative=Max("operations__date", filter=palliative),
            first_radiation=_per_patient(RadiationCourse.objects, Min("start_date")),
            first_systemic=_per_patient(SystemicTherapyLine.objects, Min("start_date")),
            last_contact=last_contact(),
        ).annotate(
            first_treatment=_least(F("first_radiation"), F("first_systemic")),
        )

    def with_strategy(self) -> PatientQuerySet:
        """Annotate the first resections and the strategy only (what the strategy
        filter and counts need), without the other facts' subqueries."""
        return self.annotate(**_first_resections()).annotate(strategy=_strategy())

    def with_derived(self) -> PatientQuerySet:
        """Annotate strategy, staged_order, liver_resected, converted,
        later_palliative and vital_status, as registry.derive defines them."""
        primary, liver = F("first_primary_resection"), F("first_liver_resection")
        return self.with_facts().annotate(
            strategy=_strategy(),
            staged_order=Case(
                When(LessThan(primary, liver), then=Value(StagedOrder.PRIMARY_FIRST)),
                When(LessThan(liver, primary), then=Value(StagedOrder.LIVER_FIRST)),
                default=None,
                output_field=CharField(),
            ),
            liver_resected=Case(
                When(first_liver_resection__isnull=False, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            converted=Case(
                When(
                    LessThan(F("first_systemic"), liver),
                    initial_resectability__in=CONVERSION_CALLS,
                    then=Value(True),
                ),
                default=Value(False),
                output_field=BooleanField(),
            ),
            later_palliative=Case(
                When(
                    GreaterThan(
                        F("last_palliative"),
                        Coalesce(
                            F("first_treatment"),
                            F("diagnosis_date"),
                            output_field=DateField(),
                        ),
                    ),
                    then=Value(True),
                ),
                default=Value(False),
                output_field=BooleanField(),
            ),
            vital_status=Case(
                When(death_date__isnull=False, then=Value(VitalStatus.DEAD)),
                default=Value(VitalStatus.ALIVE),
                output_field=CharField(),
            ),
        )
