"""The home page of each role: the nurse's worklist, the data manager's overview.

Selectors with a fixed number of queries each: the worklist (overdue
follow-ups, open queries, incomplete records) reads the stored facts and the
status rows; the manager's overview counts accrual by year of diagnosis and
completeness and verification per site in the database. The analyst's recent
reports come from the analytics app's template tag (registry never imports
analytics).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, QuerySet, Sum
from django.db.models.functions import ExtractYear
from django.urls import reverse

from registry import monitor, quality, summaries
from registry.derive import KEY_FIELDS
from registry.models import DataQuery, DerivedFacts, Patient, RecordStatus
from registry.models.queries import QueryStatus
from registry.models.status import FormKind, FormStatus

#: Rows of each worklist section shown on the page (the CSV has them all).
SHOWN = 25


@dataclass(frozen=True)
class ListedPatient:
    """A patient as a worklist shows them: no identifier is kept with the lists
    (they are kept per data version: registry.summaries)."""

    pk: int
    registry_number: str
    last_contact: datetime.date | None = None

    def get_absolute_url(self) -> str:
        return reverse("registry:patient_detail", args=[self.pk])


@dataclass(frozen=True)
class Worklist:
    overdue: list
    overdue_count: int
    queries: list
    queries_count: int
    incomplete: list
    incomplete_count: int


def _overdue(patients: QuerySet, today: datetime.date) -> QuerySet:
    failing = quality.filter_check(patients, "overdue", today=today)
    return (
        patients.filter(pk__in=failing.values("pk"))
        .annotate(last_contact=F("facts__last_contact"))
        .order_by("facts__last_contact", "registry_number")
    )


def _incomplete(patients: QuerySet) -> QuerySet:
    """Patients with a kind of record not yet marked complete (or beyond)."""
    done = RecordStatus.objects.filter(
        patient=OuterRef("pk"), status__gte=FormStatus.COMPLETE
    )
    finished = (
        done.order_by()
        .values("patient")
        .annotate(n=Count("pk"))
        .filter(n=len(FormKind.values))
    )
    return patients.exclude(Exists(finished)).order_by("-updated_at", "pk")


def _open_queries(user) -> QuerySet:
    return (
        DataQuery.objects.for_user(user)
        .filter(status=QueryStatus.OPEN)
        .select_related("patient")
        .order_by("opened_at")
    )


def worklist(
    user, *, today: datetime.date, scope: summaries.Scope | None = None
) -> Worklist:
    """Return the nurse's worklist at her sites (six queries, or two and four).

    The overdue and incomplete patients are counted once per data version
    (registry.summaries; `scope`, the page's, if it shows other summaries); the
    open data queries, whose steps write no history, are read every time.
    """
    patients = Patient.objects.for_user(user)
    scope = scope or summaries.Scope(user)

    def first_and_count(rows: QuerySet, *columns: str) -> tuple[list, int]:
        first = rows.values_list("pk", "registry_number", *columns)[:SHOWN]
        return [ListedPatient(*row) for row in first], rows.count()

    overdue, overdue_count = scope.get(
        "worklist-overdue",
        lambda: first_and_count(_overdue(patients, today), "last_contact"),
        today=today,
    )
    incomplete, incomplete_count = scope.get(
        "worklist-incomplete", lambda: first_and_count(_incomplete(patients))
    )
    queries = _open_queries(user)
    return Worklist(
        overdue=overdue,
        overdue_count=overdue_count,
        queries=list(queries[:SHOWN]),
        queries_count=queries.count(),
        incomplete=incomplete,
        incomplete_count=incomplete_count,
    )


def worklist_rows(user, *, today: datetime.date):
    """Yield every worklist row for the CSV: section, patient, site, detail.

    Three queries, whose rows are read as tuples (not model instances: a
    national registry's nurse may have tens of thousands of rows).
    """
    patients = Patient.objects.for_user(user)
    overdue = _overdue(patients, today).values_list(
        "registry_number", "site__code", "last_contact"
    )
    for number, site, last_contact in overdue.iterator(chunk_size=5000):
        detail = (
            f"last contact {last_contact:%Y-%m-%d}" if last_contact else "no contact"
        )
        yield ("Follow-up overdue", number, site, detail)
    queries = _open_queries(user).values_list(
        "patient__registry_number", "patient__site__code", "pk", "question"
    )
    for number, site, pk, question in queries.iterator(chunk_size=5000):
        yield ("Open data query", number, site, f"query {pk}: {question}")
    incomplete = _incomplete(patients).values_list("registry_number", "site__code")
    for number, site in incomplete.iterator(chunk_size=5000):
        yield ("Records not complete", number, site, "")


@dataclass(frozen=True)
class Bar:
    year: int
    n: int
    x: float
    y: float
    height: float
    width: float

    @property
    def label_y(self) -> float:
        return self.y - 4


#: The accrual chart's drawing area (SVG user units).
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 600, 160, 4


@dataclass(frozen=True)
class FactsCounts:
    """The stored facts counted once by site, year of diagnosis and strategy,
    with the key fields filled: what the home pages show of them (the patients
    by strategy, the accrual chart, completeness per site), from one scan."""

    #: (site code, year of diagnosis or None, strategy, patients, key fields filled)
    rows: tuple[tuple[str, int | None, str, int, int], ...]

    def _summed(self, key: int, value: int) -> dict:
        """Return the rows' column `value` summed by their column `key`."""
        found: dict = {}
        for row in self.rows:
            found[row[key]] = found.get(row[key], 0) + row[value]
        return found

    def by_strategy(self) -> dict[str, int]:
        return self._summed(2, 3)

    def by_year(self) -> dict[int, int]:
        """Return the patients by year of diagnosis (the undiagnosed left out)."""
        found = self._summed(1, 3)
        years = sorted(year for year in found if year is not None)
        return {year: found[year] for year in years}

    def filled_by_site(self) -> dict[str, int]:
        return self._summed(0, 4)


def count_facts(sites: list[int]) -> dict[int, tuple]:
    """Return the stored facts of each of these sites counted by year of
    diagnosis and strategy: (year or None, strategy, patients, key fields
    filled) rows (one query of the facts alone)."""
    rows = (
        DerivedFacts.objects.filter(site__in=sites)
        .order_by()
        .annotate(year=ExtractYear("diagnosis_date"))
        .values("site", "year", "strategy")
        .annotate(n=Count("pk"), filled=Sum("key_fields_filled"))
        .values_list("site", "year", "strategy", "n", "filled")
    )
    found: dict[int, list] = {pk: [] for pk in sites}
    for site, year, strategy, n, filled in rows:
        found[site].append((year, strategy, n, filled or 0))
    return {pk: tuple(counted) for pk, counted in found.items()}


def kept_facts_counts(scope: summaries.Scope) -> FactsCounts:
    """Return the stored facts of the scope's user's sites counted
    (:func:`count_facts`), each site's rows kept per version of its data
    (registry.summaries.Scope.per_site)."""
    counted = scope.per_site("facts-counts", count_facts)
    return FactsCounts(
        tuple((code, *row) for pk, code, _ in scope.site_list for row in counted[pk])
    )


def accrual(counts: FactsCounts) -> list[Bar]:
    """Return patients by year of diagnosis, laid out as SVG bars."""
    rows = [{"year": year, "n": n} for year, n in counts.by_year().items()]
    if not rows:
        return []
    most = max(row["n"] for row in rows)
    width = CHART_WIDTH / len(rows)
    bars = []
    for i, row in enumerate(rows):
        height = CHART_HEIGHT * row["n"] / most
        bars.append(
            Bar(
                year=row["year"],
                n=row["n"],
                x=round(i * width + BAR_GAP / 2, 1),
                y=round(CHART_HEIGHT - height + 20, 1),
                height=round(height, 1),
                width=round(width - BAR_GAP, 1),
            )
        )
    return bars


@dataclass(frozen=True)
class SiteOverview:
    code: str
    name: str
    patients: int
    completeness: float | None
    verified: float | None

    @property
    def completeness_label(self) -> str:
        """Return the completeness as the data-quality page shows it: rounded
        down, so never 100% while a field is missing."""
        return quality.percent_down(self.completeness)

    @property
    def verified_label(self) -> str:
        """Return the share verified, rounded down likewise."""
        return quality.percent_down(self.verified)


def site_overview(
    patients: QuerySet, counts: FactsCounts, by_site: list[dict]
) -> list[SiteOverview]:
    """Return completeness of key fields and the share of forms verified or
    locked, per site (one aggregate query; the key fields filled come from
    `counts`, the same patients' stored facts counted, and the patients per
    site from `by_site`, monitor.patients_by_site)."""
    filled = counts.filled_by_site()
    result = []
    for site in monitor.site_status(patients, by_site=by_site):
        n = site.patients
        total = filled.get(site.code) or 0
        checked = site.counts["verified"] + site.counts["locked"]
        result.append(
            SiteOverview(
                code=site.code,
                name=site.name,
                patients=site.patients,
                completeness=100 * total / (n * len(KEY_FIELDS)) if n else None,
                verified=100 * checked / site.forms if site.forms else None,
            )
        )
    return result
