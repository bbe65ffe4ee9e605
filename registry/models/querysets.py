"""Patient querysets: site scoping and the derived facts as ORM annotations.

The annotations here are the bulk path of the rules defined in
``registry.derive``; each must give, for every patient, what the pure function
gives (``tests/registry/test_derive_bulk.py``). Facts about operations are
aggregate annotations over one join (``Min(..., filter=Q(...))``), which the
design measured as the fastest way to derive the strategy; facts from the other
one-to-many tables are correlated subqueries, so that joining several of them
never multiplies rows.
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
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, NullIf
from django.db.models.lookups import GreaterThan, LessThan, LessThanOrEqual

from registry.choices import (
    Endpoint,
    IndexDate,
    PalliativeProcedure,
    StagedOrder,
    Strategy,
    VitalStatus,
)
from registry.derive import (
    CONVERSION_CALLS,
    LIVER_RESECTIONS,
    PRIMARY_RESECTIONS,
    RECURRENCE_STATUSES,
)


class DaysBetween(Func):
    """Whole days from the second date to the first, as an integer on every database.

    Django's date subtraction gives an interval (PostgreSQL) or microseconds
    (SQLite); analytics groups and counts by whole days, so say it directly.
    """

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra):
        end, start = self.source_expressions
        end_sql, end_params = compiler.compile(end)
        start_sql, start_params = compiler.compile(start)
        return f"(({end_sql}) - ({start_sql}))", (*end_params, *start_params)

    def as_sqlite(self, compiler, connection, **extra):
        end, start = self.source_expressions
        end_sql, end_params = compiler.compile(end)
        start_sql, start_params = compiler.compile(start)
        sql = f"CAST(julianday({end_sql}) - julianday({start_sql}) AS INTEGER)"
        return sql, (*end_params, *start_params)


# A date earlier than any clinical date, standing in for "none" where SQL's
# GREATEST would otherwise return NULL (SQLite's multi-argument MAX does).
_NO_DATE = datetime.date(1, 1, 1)


def _per_patient(
    queryset: models.QuerySet, aggregate, *, outer: str = "pk"
) -> Subquery:
    """Return a correlated subquery giving `aggregate` over the patient's rows."""
    return Subquery(
        queryset.filter(patient=OuterRef(outer))
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


def _first_treatment(outer: str):
    """Return the start of the first radiation course or systemic line."""
    from registry.models.treatments import RadiationCourse, SystemicTherapyLine

    return _least(
        _per_patient(RadiationCourse.objects, Min("start_date"), outer=outer),
        _per_patient(SystemicTherapyLine.objects, Min("start_date"), outer=outer),
    )


def _index_for_followup(index: IndexDate):
    """Return the index date of a follow-up row's patient, inside a subquery."""
    from registry.models.treatments import Operation

    match index:
        case IndexDate.DIAGNOSIS:
            return F("patient__tumour__diagnosis_date")
        case IndexDate.TREATMENT:
            return _first_treatment("patient")
        case IndexDate.OPERATION:
            return _per_patient(Operation.objects, Min("date"), outer="patient")
    raise ValueError(f"unknown index date {index!r}")


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
        from registry.models.followup import FollowUp
        from registry.models.treatments import RadiationCourse, SystemicTherapyLine

        resects_primary = Q(operations__primary_procedure__in=PRIMARY_RESECTIONS)
        resects_liver = Q(operations__liver_procedure__in=LIVER_RESECTIONS)
        palliative = ~Q(operations__palliative_procedure=PalliativeProcedure.NONE)
        return self.annotate(
            diagnosis_date=F("tumour__diagnosis_date"),
            death_date=F("death__date"),
            initial_resectability=F("liver__initial_resectability"),
            first_operation=Min("operations__date"),
            last_operation=Max("operations__date"),
            first_primary_resection=Min("operations__date", filter=resects_primary),
            first_liver_resection=Min("operations__date", filter=resects_liver),
            last_palliative=Max("operations__date", filter=palliative),
            first_radiation=_per_patient(RadiationCourse.objects, Min("start_date")),
            first_systemic=_per_patient(SystemicTherapyLine.objects, Min("start_date")),
            last_radiation=_per_patient(
                RadiationCourse.objects, Max(Coalesce("end_date", "start_date"))
            ),
            last_systemic=_per_patient(
                SystemicTherapyLine.objects, Max(Coalesce("end_date", "start_date"))
            ),
            last_followup=_per_patient(FollowUp.objects, Max("date")),
        ).annotate(
            first_treatment=_least(F("first_radiation"), F("first_systemic")),
            last_contact=_greatest(
                F("diagnosis_date"),
                F("death_date"),
                F("last_operation"),
                F("last_radiation"),
                F("last_systemic"),
                F("last_followup"),
            ),
        )

    def with_derived(self) -> PatientQuerySet:
        """Annotate strategy, staged_order, liver_resected, converted,
        later_palliative and vital_status, as registry.derive defines them."""
        primary, liver = F("first_primary_resection"), F("first_liver_resection")
        return self.with_facts().annotate(
            strategy=Case(
                When(
                    first_primary_resection__isnull=True,
                    first_liver_resection__isnull=True,
                    then=Value(Strategy.NONE),
                ),
                When(
                    first_liver_resection__isnull=True,
                    then=Value(Strategy.PRIMARY_ONLY),
                ),
                When(
                    first_primary_resection__isnull=True,
                    then=Value(Strategy.LIVER_ONLY),
                ),
                When(first_primary_resection=liver, then=Value(Strategy.SYNCHRONOUS)),
                default=Value(Strategy.STAGED),
                output_field=CharField(),
            ),
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

    def with_survival(
        self,
        *,
        endpoint: Endpoint = Endpoint.OVERALL,
        index: IndexDate = IndexDate.DIAGNOSIS,
        as_of: datetime.date,
    ) -> PatientQuerySet:
        """Annotate survival_start, survival_end, survival_event and survival_days.

        As registry.derive.survival defines them. survival_start is NULL when the
        index date is missing; callers exclude patients whose start is NULL or
        after ``as_of`` (they are not yet at risk).
        """
        from registry.models.followup import FollowUp

        starts = {
            IndexDate.DIAGNOSIS: F("diagnosis_date"),
            IndexDate.TREATMENT: F("first_treatment"),
            IndexDate.OPERATION: F("first_operation"),
        }
        if index not in starts:
            raise ValueError(f"unknown index date {index!r}")
        queryset = self.with_facts().annotate(survival_start=starts[index])
        if endpoint == Endpoint.RECURRENCE_FREE:
            recurrences = FollowUp.objects.filter(
                disease_status__in=RECURRENCE_STATUSES,
                date__gte=_index_for_followup(index),
            )
            queryset = queryset.annotate(
                first_recurrence=_per_patient(recurrences, Min("date")),
                event_date=_least(F("death_date"), F("first_recurrence")),
            )
        elif endpoint == Endpoint.OVERALL:
            queryset = queryset.annotate(event_date=F("death_date"))
        else:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        cutoff = Value(as_of, output_field=DateField())
        censored_at = Least(
            Coalesce(F("last_contact"), F("survival_start"), output_field=DateField()),
            cutoff,
            output_field=DateField(),
        )
        return (
            queryset.annotate(
                survival_event=Case(
                    When(LessThanOrEqual(F("event_date"), cutoff), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            )
            .annotate(
                survival_end=Case(
                    When(survival_start__isnull=True, then=None),
                    When(survival_event=True, then=F("event_date")),
                    default=censored_at,
                    output_field=DateField(),
                ),
            )
            .annotate(
                survival_days=DaysBetween(F("survival_end"), F("survival_start")),
            )
        )
