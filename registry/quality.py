"""Data quality: what needs a research nurse's attention, per site.

Each check is a rule about one patient. Those whose answer does not depend on
today are pure functions in ``registry.derive`` (the section "Data-quality
flags"), stored with the patient's derived facts whenever their records are
written (``registry.models.DerivedFacts``); whether follow-up is overdue is
asked here of the stored vital status and last contact. So the data quality
page counts every site in one query over the stored columns and lists each
check's patients in one more, whatever the size of the registry.
docs/data-entry.md explains each check to the nurses.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, replace

from django.db import connections
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.urls import reverse

from registry import derive, monitor, summaries
from registry.derive import (
    FOLLOW_UP_GAP,
    FOLLOW_UP_OVERDUE_MONTHS,
    KEY_FIELDS,
    UNTREATED_INTERVAL,
)
from registry.models import ConfirmedWarning, DerivedFacts, Operation, Patient

#: Patients listed per check and site on the page; the patient list has the rest.
LISTED_PER_SITE = 25


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
        "unknown_stage",
        "Primary site or stage unknown",
        "The diagnosis records the primary site or clinical T, N or M as unknown "
        "or not recorded: find the answer in the notes if it exists.",
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
        "contradiction",
        "Contradiction to check (treatment before diagnosis, cM0 with synchronous "
        "liver metastases)",
        "An operation, radiation course or therapy line dated before the "
        "diagnosis, or clinical M0 with liver metastases recorded as synchronous. "
        "The forms ask the nurse to confirm these (see Confirmed warnings below); "
        "records that came in through the admin, an import or the API were not "
        "asked. Check the dates or the stage against the notes.",
        CHRONOLOGY,
        "detail",
    ),
    Check(
        "overdue",
        f"Follow-up overdue (last contact over {FOLLOW_UP_OVERDUE_MONTHS} months ago)",
        f"Alive, and the latest dated record is more than {FOLLOW_UP_OVERDUE_MONTHS} "
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


#: The checks answered by a stored flag (registry.derive, "Data-quality flags").
STORED = frozenset(check.code for check in CHECKS) - {"overdue"}


def failing(code: str, *, today: datetime.date, facts: str = "facts__") -> Q:
    """Return the condition on a patient of failing the check `code`.

    Every check but "overdue" is a flag stored with the patient's derived
    facts; "overdue" depends on today, so it compares today with the stored
    first overdue day (registry.derive.follow_up_overdue). `facts` is the path
    from what is filtered to the facts: "" for a queryset of the facts.
    """
    if code == "overdue":
        return Q(**{f"{facts}follow_up_overdue_from__lte": today})
    if code not in STORED:
        raise ValueError(f"unknown data quality check {code!r}")
    return Q(**{f"{facts}{code}": True})


def with_checks(queryset: QuerySet, *, today: datetime.date) -> QuerySet:
    """Annotate one boolean per check in CHECKS (True: needs attention)."""
    return queryset.annotate(
        **{check.code: failing(check.code, today=today) for check in CHECKS}
    )


def filter_check(queryset: QuerySet, code: str, *, today: datetime.date) -> QuerySet:
    """Return the patients of `queryset` that fail the check `code`."""
    return queryset.filter(failing(code, today=today))


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
    #: Patients without a stored facts row: no check counts them until
    #: ``check_facts --fix`` writes it.
    without_facts: int = 0

    @property
    def completeness_label(self) -> str:
        """Return the completeness as shown: rounded down, to one decimal.

        Rounded down so that it never claims 100% while a field is missing
        (99.96% shows as 99.9%, not 100%).
        """
        return percent_down(self.completeness)

    @property
    def rows(self) -> list[tuple[Check, int, list[dict]]]:
        """Return (check, count, listed patients) for every check, in order."""
        return [
            (check, self.counts[check.code], self.items[check.code]) for check in CHECKS
        ]


def percent_down(value: float | None) -> str:
    """Return a percentage rounded down to one decimal ("100" only when complete)."""
    if value is None:
        return "–"
    if value >= 100:
        return "100"
    return f"{math.floor(value * 10) / 10:.1f}"


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


def site_quality(
    patients: QuerySet, facts: QuerySet, *, today: datetime.date
) -> list[SiteQuality]:
    """Return the data quality of each site of `patients` (a fixed few queries).

    One query counts the patients per site (monitor.patients_by_site); one
    counts every check and the completeness per site from `facts` (the same
    patients' stored facts, read alone: each row carries the patient's site);
    at most two queries per check
    that some patient fails list up to LISTED_PER_SITE patients of each site
    (:func:`_listed`), and one more finds the operation to fix of those without
    a margin.
    """
    by_site = monitor.patients_by_site(patients)
    counted = {
        row["site"]: row
        for row in facts.order_by()
        .values("site")
        .annotate(
            stored=Count("pk"),
            filled=Sum("key_fields_filled"),
            complete=Count("pk", filter=Q(key_fields_filled=len(KEY_FIELDS))),
            **{
                check.code: Count(
                    "pk", filter=failing(check.code, today=today, facts="")
                )
                for check in CHECKS
            },
        )
    }
    summaries = {}
    for row in by_site:
        found = counted.get(row["site"], {})
        summaries[row["site"]] = SiteQuality(
            site_id=row["site"],
            code=row["site__code"],
            name=row["site__name"],
            patients=row["n"],
            counts={check.code: found.get(check.code, 0) for check in CHECKS},
            completeness=(
                100 * (found.get("filled") or 0) / (row["n"] * len(KEY_FIELDS))
                if row["n"]
                else None
            ),
            complete_patients=found.get("complete", 0),
            items={check.code: [] for check in CHECKS},
            without_facts=row["n"] - found.get("stored", 0),
        )
    for check in CHECKS:
        failing_by_site = {
            site: (summary.patients, summary.counts[check.code])
            for site, summary in summaries.items()
        }
        for row in _listed(patients, check, today=today, counts=failing_by_site):
            summaries[row["site"]].items[check.code].append(row)
    return list(summaries.values())


def kept_site_quality(
    scope: summaries.Scope, *, today: datetime.date
) -> list[SiteQuality]:
    """Return :func:`site_quality` of the scope's user's sites (those with
    patients, in order of code), each site's kept per version of its data and
    day (registry.summaries.Scope.per_site): after a write, the written sites
    alone are checked again. Their codes and names are read on every page."""

    def check(sites: list[int]) -> dict[int, SiteQuality | None]:
        found = site_quality(
            Patient.objects.filter(site__in=sites),
            DerivedFacts.objects.filter(site__in=sites),
            today=today,
        )
        return {pk: None for pk in sites} | {site.site_id: site for site in found}

    kept = scope.per_site("data-quality", check, today=today)
    return [
        replace(kept[pk], code=code, name=name)
        for pk, code, name in scope.site_list
        if kept[pk] is not None
    ]


def walks_the_site(patients: int, failing: int) -> bool:
    """Return whether a site's first LISTED_PER_SITE patients failing a check
    are found faster by reading its patients in registry-number order (an
    index) until enough fail, than by ranking every patient that fails.

    The walk reads about LISTED_PER_SITE x patients / failing rows, the
    ranking sorts the failing ones: walk when failing^2 > LISTED x patients
    (a common failure such as overdue follow-up: at 10^6 patients, ranking the
    427,000 overdue took 1.4 s, walking 40 sites 17 ms).
    """
    return failing * failing > LISTED_PER_SITE * patients


def _listed(
    patients: QuerySet,
    check: Check,
    *,
    today: datetime.date,
    counts: dict[int, tuple[int, int]],
) -> list[dict]:
    """Return up to LISTED_PER_SITE patients per site failing `check`, in
    registry-number order, given each site's (patients, failing) `counts`
    (two queries at most, none when no patient fails).

    The sites where many fail are read in registry-number order, a branch of
    one ``UNION ALL`` per site, each stopping at LISTED_PER_SITE; the others
    by ranking their failing patients (``ROW_NUMBER``; a rare failure is found
    through its flag's partial index). SQLite, which takes no ``LIMIT`` in a
    ``UNION``'s branches, ranks every site.
    """
    extra = {}
    if check.fix_record == "tumour_pk":  # no_cea, no_verge, unknown_stage
        extra["tumour_pk"] = F("tumour__pk")
    if check.code == "overdue":
        extra["last_contact"] = F("facts__last_contact")
    columns = ("pk", "site", "registry_number", "diagnosis_date", *extra)
    failing = filter_check(patients, check.code, today=today).annotate(
        diagnosis_date=F("facts__diagnosis_date"), **extra
    )
    walked = [site for site, (n, f) in counts.items() if f and walks_the_site(n, f)]
    if not connections[patients.db].features.supports_slicing_ordering_in_compound:
        walked = []  # SQLite: no LIMIT in a UNION's branches; rank every site
    ranked = [site for site, (n, f) in counts.items() if f and site not in walked]
    rows = []
    if ranked:
        rows += (
            failing.filter(site__in=ranked)
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("site")],
                    order_by=[F("registry_number").asc()],
                )
            )
            .filter(rank__lte=LISTED_PER_SITE)
            .values(*columns)
        )
    if walked:
        firsts = [
            failing.filter(site=site)
            .order_by("registry_number")
            .values(*columns)[:LISTED_PER_SITE]
            for site in walked
        ]
        rows += firsts[0].union(*firsts[1:], all=True)
    rows.sort(key=lambda row: (row["site"], row["registry_number"]))
    if check.fix_record == "margin_operation_pk":
        operations = _margin_operations([row["pk"] for row in rows])
        for row in rows:
            row["margin_operation_pk"] = operations.get(row["pk"])
    return [{**row, "fix_url": fix_url(check, row)} for row in rows]


#: Confirmed warnings listed on the page (newest first); the page gives the total.
LISTED_WARNINGS = 100


def confirmed_warnings(patients: QuerySet) -> tuple[int, list[dict]]:
    """Return how many entry warnings were confirmed for `patients`, and the
    newest LISTED_WARNINGS of them (two queries).

    A warning (registry.derive, "Checks at entry") is data that may be right;
    the nurse confirmed it, and a data manager reviews it here.
    """
    warnings = ConfirmedWarning.objects.filter(patient__in=patients.values("pk"))
    rows = list(
        warnings.order_by("-confirmed_at", "-pk").values(
            "patient_id",
            "patient__registry_number",
            "patient__site__code",
            "record_kind",
            "message",
            "confirmed_by__username",
            "confirmed_at",
        )[:LISTED_WARNINGS]
    )
    for row in rows:
        row["url"] = reverse("registry:patient_detail", args=[row["patient_id"]])
    return warnings.count(), rows


def _margin_operations(patient_ids: list[int]) -> dict[int, int]:
    """Return, per patient, their first resection without a margin (one query).

    Which resection lacks its margin is registry.derive.lacks_margin's rule; only
    operations without one of the resection margins are read.
    """
    first: dict[int, int] = {}
    operations = (
        Operation.objects.filter(patient_id__in=patient_ids)
        .exclude(margin__in=list(derive.RESECTION_MARGINS))
        .order_by("patient_id", "date", "pk")
        .values_list(
            "patient_id",
            "pk",
            "date",
            "primary_procedure",
            "liver_procedure",
            "palliative_procedure",
            "margin",
        )
    )
    for patient_id, pk, *fact in operations:
        if patient_id not in first and derive.lacks_margin(derive.OperationFact(*fact)):
            first[patient_id] = pk
    return first
