"""Data quality: what needs a research nurse's attention, per site.

Each check is a rule about one patient, written as an ORM expression so that the
data quality page counts every site in one query and lists each check's
patients in one more, whatever the size of the registry. The thresholds are
named constants; docs/data-entry.md explains each check to the nurses.
"""

from __future__ import annotations

import datetime
import functools
import operator
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.urls import reverse

from registry.choices import RECTAL_SITES, VitalStatus
from registry.derive import LIVER_RESECTIONS, PRIMARY_RESECTIONS
from registry.models import (
    FollowUp,
    Operation,
    RadiationCourse,
    SystemicTherapyLine,
)

#: A living patient whose last known contact is older than this is overdue.
OVERDUE_AFTER_MONTHS = 12
#: Two consecutive follow-up contacts further apart than this are a gap.
FOLLOW_UP_GAP = datetime.timedelta(days=365)
#: An operation this long after diagnosis with no therapy in between is unusual.
UNTREATED_INTERVAL = datetime.timedelta(days=365)
#: Patients listed per check and site on the page; the patient list has the rest.
LISTED_PER_SITE = 25


def months_before(day: datetime.date, months: int) -> datetime.date:
    """Return the same day of the month `months` earlier (clipped to month end)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month + 1, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def overdue_cutoff(today: datetime.date) -> datetime.date:
    """Return the date before which a last contact makes follow-up overdue."""
    return months_before(today, OVERDUE_AFTER_MONTHS)


@dataclass(frozen=True)
class Check:
    """One data-quality rule: a flag on a patient, and where to fix it."""

    code: str
    title: str
    explanation: str
    group: str
    #: What the fix link opens: "patient" (edit), "detail", or a record kind
    #: ("tumour", "followup", ...) to add or, with `fix_record`, to edit.
    fix: str
    #: The annotation holding the pk of the record to edit, if any.
    fix_record: str | None = None


MISSING = "Missing key fields"
CHRONOLOGY = "Chronology warnings"
FOLLOW_UP = "Follow-up"

CHECKS: tuple[Check, ...] = (
    Check(
        "no_diagnosis",
        "No diagnosis recorded",
        "Date of diagnosis, primary site and stage are missing.",
        MISSING,
        "tumour",
    ),
    Check(
        "no_liver",
        "No liver metastases assessment",
        "Number, size, extent of liver involvement and the MDT's initial call "
        "are missing.",
        MISSING,
        "liver",
    ),
    Check(
        "no_ecog",
        "ECOG performance status missing",
        "ECOG at diagnosis is blank.",
        MISSING,
        "patient",
    ),
    Check(
        "no_cea",
        "CEA at diagnosis missing",
        "The diagnosis has no CEA value.",
        MISSING,
        "tumour",
        "tumour_pk",
    ),
    Check(
        "no_verge",
        "Distance from the anal verge missing",
        "A rectal tumour without its distance from the anal verge.",
        MISSING,
        "tumour",
        "tumour_pk",
    ),
    Check(
        "no_margin",
        "Resection without a margin",
        "An operation resected the primary or the liver but has no R0/R1/R2.",
        MISSING,
        "operation",
        "margin_operation_pk",
    ),
    Check(
        "late_operation",
        "Operation long after diagnosis, no therapy between",
        f"An operation more than {UNTREATED_INTERVAL.days} days after diagnosis "
        "with no radiation or systemic therapy started in between: check the "
        "dates, or add the missing treatment.",
        CHRONOLOGY,
        "detail",
    ),
    Check(
        "follow_up_gap",
        "Gap between follow-up contacts",
        f"Two consecutive follow-up contacts more than {FOLLOW_UP_GAP.days} days "
        "apart: a contact may be missing.",
        CHRONOLOGY,
        "detail",
    ),
    Check(
        "overdue",
        f"Follow-up overdue (last contact over {OVERDUE_AFTER_MONTHS} months ago)",
        f"Alive, and the latest dated record is more than {OVERDUE_AFTER_MONTHS} "
        "months old: contact the patient or their doctor and add a follow-up.",
        FOLLOW_UP,
        "followup",
    ),
    Check(
        "no_follow_up",
        "No follow-up contact at all",
        "Alive, and no follow-up contact has ever been recorded.",
        FOLLOW_UP,
        "followup",
    ),
)

#: Key fields counted by the completeness percentage (one point each): when is
#: each one filled. A field that does not apply (the distance from the anal
#: verge of a colon tumour, the margin when nothing was resected) counts as
#: filled; one that cannot be filled yet (the CEA of a missing diagnosis) not.
KEY_FIELDS = {
    "diagnosis": Q(tumour__isnull=False),
    "liver metastases": Q(liver__isnull=False),
    "ECOG": Q(ecog__isnull=False),
    "CEA at diagnosis": Q(tumour__cea_ng_ml__isnull=False),
    "distance from the anal verge (rectal tumours)": Q(tumour__isnull=False)
    & (
        ~Q(tumour__primary_site__in=RECTAL_SITES)
        | Q(tumour__anal_verge_cm__isnull=False)
    ),
    "resection margins": Q(no_margin=False),
}


def _flag(condition) -> Case:
    return Case(
        When(condition, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def _resections():
    return Operation.objects.filter(
        Q(primary_procedure__in=PRIMARY_RESECTIONS)
        | Q(liver_procedure__in=LIVER_RESECTIONS),
        patient=OuterRef("pk"),
    )


def _late_operations():
    """Operations over UNTREATED_INTERVAL after diagnosis, no therapy between."""

    def started_between(model):
        return model.objects.filter(
            patient=OuterRef("patient"),
            start_date__gte=OuterRef("diagnosis"),
            start_date__lte=OuterRef("date"),
        )

    return (
        Operation.objects.filter(patient=OuterRef("pk"))
        .annotate(diagnosis=F("patient__tumour__diagnosis_date"))
        .annotate(
            interval=ExpressionWrapper(
                F("date") - F("diagnosis"), output_field=DurationField()
            )
        )
        .filter(interval__gt=UNTREATED_INTERVAL)
        .exclude(Exists(started_between(RadiationCourse)))
        .exclude(Exists(started_between(SystemicTherapyLine)))
    )


def _follow_up_gaps():
    """Follow-up contacts more than FOLLOW_UP_GAP after the previous contact."""
    previous = (
        FollowUp.objects.filter(patient=OuterRef("patient"), date__lt=OuterRef("date"))
        .order_by("-date")
        .values("date")[:1]
    )
    return (
        FollowUp.objects.filter(patient=OuterRef("pk"))
        .annotate(previous=Subquery(previous, output_field=DateField()))
        .annotate(
            gap=ExpressionWrapper(
                F("date") - F("previous"), output_field=DurationField()
            )
        )
        .filter(gap__gt=FOLLOW_UP_GAP)
    )


def with_checks(queryset: QuerySet, *, today: datetime.date) -> QuerySet:
    """Annotate one boolean per check in CHECKS (True: needs attention)."""
    alive = Q(facts__vital_status=VitalStatus.ALIVE)
    return queryset.annotate(
        no_diagnosis=_flag(Q(tumour__isnull=True)),
        no_liver=_flag(Q(liver__isnull=True)),
        no_ecog=_flag(Q(ecog__isnull=True)),
        no_cea=_flag(Q(tumour__isnull=False, tumour__cea_ng_ml__isnull=True)),
        no_verge=_flag(
            Q(
                tumour__primary_site__in=RECTAL_SITES,
                tumour__anal_verge_cm__isnull=True,
            )
        ),
        no_margin=_flag(Exists(_resections().filter(margin=""))),
        late_operation=_flag(Exists(_late_operations())),
        follow_up_gap=_flag(Exists(_follow_up_gaps())),
        overdue=_flag(alive & Q(facts__last_contact__lt=overdue_cutoff(today))),
        no_follow_up=_flag(
            alive & ~Exists(FollowUp.objects.filter(patient=OuterRef("pk")))
        ),
    )


def filter_check(queryset: QuerySet, code: str, *, today: datetime.date) -> QuerySet:
    """Return the patients of `queryset` that fail the check `code`."""
    return with_checks(queryset, today=today).filter(**{code: True})


@dataclass(frozen=True)
class SiteQuality:
    """The data quality summary of one site."""

    site_id: int
    code: str
    name: str
    patients: int
    counts: dict[str, int]
    completeness: float | None
    complete_patients: int
    items: dict[str, list]

    @property
    def rows(self) -> list[tuple[Check, int, list[dict]]]:
        """Return (check, count, listed patients) for every check, in order."""
        return [
            (check, self.counts[check.code], self.items[check.code]) for check in CHECKS
        ]


def fix_url(check: Check, row: dict) -> str:
    """Return the page where the item `row` (a listed patient) is fixed."""
    patient = row["pk"]
    if check.fix == "patient":
        return reverse("registry:patient_update", args=[patient])
    if check.fix == "detail":
        return reverse("registry:patient_detail", args=[patient])
    if check.fix_record and row.get(check.fix_record):
        return reverse(
            "registry:record_update", args=[patient, check.fix, row[check.fix_record]]
        )
    return reverse("registry:record_create", args=[patient, check.fix])


def site_quality(patients: QuerySet, *, today: datetime.date) -> list[SiteQuality]:
    """Return the data quality of each site of `patients` (a fixed few queries).

    One query counts every check and the completeness per site; one query per
    check lists up to LISTED_PER_SITE patients of each site.
    """
    checked = with_checks(patients, today=today)
    filled = list(KEY_FIELDS.values())
    rows = (
        checked.values("site", "site__code", "site__name")
        .annotate(
            n=Count("pk"),
            filled=Sum(
                sum(Case(When(condition, then=1), default=0) for condition in filled),
                output_field=IntegerField(),
            ),
            complete=Count("pk", filter=functools.reduce(operator.and_, filled)),
            **{
                check.code: Count("pk", filter=Q(**{check.code: True}))
                for check in CHECKS
            },
        )
        .order_by("site__code")
    )
    summaries = {
        row["site"]: SiteQuality(
            site_id=row["site"],
            code=row["site__code"],
            name=row["site__name"],
            patients=row["n"],
            counts={check.code: row[check.code] for check in CHECKS},
            completeness=(
                100 * row["filled"] / (row["n"] * len(filled)) if row["n"] else None
            ),
            complete_patients=row["complete"],
            items={check.code: [] for check in CHECKS},
        )
        for row in rows
    }
    for check in CHECKS:
        for row in _listed(checked, check, today=today):
            summaries[row["site"]].items[check.code].append(row)
    return list(summaries.values())


def _listed(checked: QuerySet, check: Check, *, today: datetime.date) -> list[dict]:
    """Return up to LISTED_PER_SITE patients per site failing `check`."""
    extra = {}
    if check.fix_record == "tumour_pk":
        extra["tumour_pk"] = F("tumour__pk")
    elif check.fix_record == "margin_operation_pk":
        extra["margin_operation_pk"] = Subquery(
            _resections().filter(margin="").order_by("date").values("pk")[:1]
        )
    if check.code == "overdue":
        extra["last_contact"] = F("facts__last_contact")
    rows = (
        checked.filter(**{check.code: True})
        .annotate(
            diagnosis_date=F("tumour__diagnosis_date"),
            rank=Window(
                RowNumber(),
                partition_by=[F("site")],
                order_by=[F("registry_number").asc()],
            ),
            **extra,
        )
        .filter(rank__lte=LISTED_PER_SITE)
        .order_by("site", "registry_number")
        .values("pk", "site", "registry_number", "diagnosis_date", *extra)
    )
    return [{**row, "fix_url": fix_url(check, row)} for row in rows]
