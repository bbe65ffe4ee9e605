"""The audit trail in words: every change to a patient and their records.

The history tables (django-simple-history's, append-only: registry.appendonly)
hold one row per save or deletion. Here they are read as a monitor reads an
audit log: newest first, the record named in words, each changed field by its
label with the old and new value as the forms show them ("Disease status: No
evidence of disease → Stable"), who, when and the reason given. The form status
changes (registry.status) and the steps of data queries are part of the story
and are listed with them.

Reads take a fixed number of queries whatever the number of rows: one per
history table for a patient's page; for the registry's log, per history table
one capped count and one read of its newest rows (down an index on
(history_date, history_id), only as deep as the page), merged in Python, then two
per history table on the page (the rows and the versions before them).
"""

from __future__ import annotations

import datetime
import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, Max, OuterRef, Subquery, Value
from django.utils.functional import cached_property
from django.utils.text import capfirst

from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    QueryStep,
    RadiationCourse,
    RecordStatus,
    Site,
    SystemicTherapyLine,
)
from registry.models.status import FormKind, FormStatus
from registry.selectors import COUNT_LIMIT, count_up_to, display_value, entry_fields

#: The audited models, by the kind name the log filters by.
AUDITED: dict[str, type[models.Model]] = {
    "patient": Patient,
    "tumour": PrimaryTumour,
    "liver": LiverMetastases,
    "radiation": RadiationCourse,
    "systemic": SystemicTherapyLine,
    "operation": Operation,
    "followup": FollowUp,
    "death": Death,
    "status": RecordStatus,
}
#: Labels of the kinds, for the log's filter.
KIND_LABELS = {
    **{kind: capfirst(model._meta.verbose_name) for kind, model in AUDITED.items()},
    "status": "Form status",
}
ACTIONS = {"+": "Created", "~": "Changed", "-": "Deleted"}
#: Shown instead of an identifier's value to users without the permission.
HIDDEN = "(hidden)"


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class AuditEntry:
    """One save, deletion, status change or query step, in words."""

    when: datetime.datetime
    who: str
    kind: str
    record: str
    action: str
    changes: tuple[FieldChange, ...]
    reason: str
    patient_id: int | None
    patient: str = ""

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, "Data query")

    def summary(self) -> str:
        """Return the changes as one line of text (the CSV's column)."""
        if not self.changes:
            return self.action
        return "; ".join(f"{c.label}: {c.old} → {c.new}" for c in self.changes)


def _patient_field(model) -> str:
    return "id" if model is Patient else "patient_id"


def _fields(model) -> list[models.Field]:
    if model is RecordStatus:
        return [model._meta.get_field("status")]
    return entry_fields(model)


def _value(field, value, hidden: frozenset[str], sites: dict[int, str]) -> str:
    if field.name in hidden:
        return HIDDEN
    if field.name == "site" and value is not None:  # a transfer of care
        return sites.get(value, f"site {value}")
    return display_value(field, value)


def _site_names() -> dict[int, str]:
    """Return each site as an entry names it ("NTH – North Hospital"): one
    query, the sites being tens."""
    sites = Site.objects.values_list("pk", "code", "name")
    return {pk: f"{code} – {name}" for pk, code, name in sites}


def _entry(row, previous, *, kind, users, hidden, patients, sites) -> AuditEntry:
    """Return the audit entry of history `row`, given the version before it."""
    model = AUDITED[kind]
    changes = []
    if row.history_type != "-":
        for field in _fields(model):
            new = getattr(row, field.attname)
            old = getattr(previous, field.attname) if previous is not None else None
            if previous is not None and old == new:
                continue
            if previous is None and new in (None, ""):
                continue
            changes.append(
                FieldChange(
                    capfirst(field.verbose_name),
                    "—" if previous is None else _value(field, old, hidden, sites),
                    _value(field, new, hidden, sites),
                )
            )
    if kind == "status":
        record = f"Form status of the {FormKind(row.kind).label.lower()}"
        action = f"{FormStatus(row.status).label}"
    else:
        record = _record_name(model, row)
        action = ACTIONS[row.history_type]
    patient_id = getattr(row, _patient_field(model))
    return AuditEntry(
        when=row.history_date,
        who=users.get(row.history_user_id, "system"),
        kind=kind,
        record=record,
        action=action,
        changes=tuple(changes),
        reason=row.history_change_reason or "",
        patient_id=patient_id,
        patient=patients.get(patient_id, ""),
    )


def _record_name(model, row) -> str:
    """Return the record in words from its history row, without a query."""
    name = capfirst(model._meta.verbose_name)
    if model is Patient:
        return f"Patient {row.registry_number}"
    for attname in ("date", "diagnosis_date", "start_date"):
        value = getattr(row, attname, None)
        if value:
            return f"{name} of {value:%Y-%m-%d}"
    return name


def _user_names(ids: Iterable[int | None]) -> dict[int, str]:
    ids = {pk for pk in ids if pk is not None}
    return dict(
        get_user_model().objects.filter(pk__in=ids).values_list("pk", "username")
    )


def _query_entries(steps, users, patients) -> Iterator[AuditEntry]:
    for step in steps:
        query = step.query
        yield AuditEntry(
            when=step.at,
            who=users.get(step.by_id, "system"),
            kind="query",
            record=f"Data query {query.pk} on {query.field}",
            action=step.get_action_display(),
            changes=(),
            reason=step.text,
            patient_id=query.patient_id,
            patient=patients.get(query.patient_id, ""),
        )


# --- one patient -----------------------------------------------------------------


def patient_trail(patient: Patient, *, hidden: frozenset[str]) -> list[AuditEntry]:
    """Return every change to `patient` and their records, newest first.

    One query per history table, one for the query steps and one for the users:
    a patient's history is read whole and compared version by version.
    """
    rows_by_kind = {
        kind: list(
            model.history.filter(**{_patient_field(model): patient.pk}).order_by(
                model._meta.pk.attname, "history_id"
            )
        )
        for kind, model in AUDITED.items()
    }
    steps = list(
        QueryStep.objects.filter(query__patient=patient).select_related("query")
    )
    users = _user_names(
        [row.history_user_id for rows in rows_by_kind.values() for row in rows]
        + [step.by_id for step in steps]
    )
    names = {patient.pk: patient.registry_number}
    sites = _site_names()
    entries = []
    for kind, rows in rows_by_kind.items():
        pk = AUDITED[kind]._meta.pk.attname
        previous = None
        for row in rows:
            if previous is not None and getattr(previous, pk) != getattr(row, pk):
                previous = None
            entries.append(
                _entry(
                    row,
                    previous,
                    kind=kind,
                    users=users,
                    hidden=hidden,
                    patients=names,
                    sites=sites,
                )
            )
            previous = row
    entries.extend(_query_entries(steps, users, names))
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries


# --- the whole registry ----------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """What the registry's audit log is narrowed to (all optional)."""

    site_ids: tuple[int, ...]
    user_id: int | None = None
    kind: str | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None

    @cached_property
    def moved_away(self) -> tuple[int, ...]:
        """Return the patients once at the log's sites whose changes now show at
        another: now at another site (a transfer of care), or deleted at
        another after one. Two queries, once per log; few patients."""
        sites = self.site_ids
        once_here = Patient.history.filter(id=OuterRef("id"), site_id__in=sites)
        elsewhere = (
            Patient.objects.exclude(site_id__in=sites)
            .filter(Exists(once_here))
            .order_by()
            .values_list("id", flat=True)
        )
        # the deletions' rows: few, read down their own partial index
        # (ensure_log_indexes)
        deleted_elsewhere = (
            Patient.history.filter(history_type="-")
            .exclude(site_id__in=sites)
            .exclude(Exists(Patient.objects.filter(pk=OuterRef("id"))))
            .filter(Exists(once_here))
            .order_by()
            .values_list("id", flat=True)
        )
        return tuple(sorted({*elsewhere, *deleted_elsewhere}))


def _history(kind: str, log: LogFilter) -> models.QuerySet:
    """Return the history rows of `kind` that the log shows.

    A patient's changes go with the patient, as their pages do: to the site
    they are at now (a transfer of care takes the changes made before it too),
    or, once deleted, to the site they were at when deleted, as the admin's
    history pages decide it. Read as the patients ever at the log's sites (the
    patients' history: a join the database walks in step with the log's date
    index and stops where the page does) less those that have left them
    (:attr:`LogFilter.moved_away`, a few ids read once per log).
    """
    model = AUDITED[kind]
    patient = "id" if model is Patient else "patient_id"
    ever_here = Patient.history.filter(site_id__in=log.site_ids).values("id")
    rows = model.history.filter(**{f"{patient}__in": ever_here})
    if log.moved_away:
        rows = rows.exclude(**{f"{patient}__in": log.moved_away})
    if log.user_id:
        rows = rows.filter(history_user_id=log.user_id)
    if log.date_from:
        rows = rows.filter(history_date__date__gte=log.date_from)
    if log.date_to:
        rows = rows.filter(history_date__date__lte=log.date_to)
    return rows


def _kinds(log: LogFilter) -> list[str]:
    return [log.kind] if log.kind in AUDITED else list(AUDITED)


def log_index_tables() -> list[str]:
    """Return the history tables the log reads, each indexed on (history_date,
    history_id) newest first (migration 0015_audit_log_index)."""
    return [model.history.model._meta.db_table for model in AUDITED.values()]


#: The partial index of the patients' deletions (migration 0025).
DELETIONS_INDEX = "registry_historicalpatient_deleted"


def ensure_log_indexes(schema_editor) -> None:
    """Create each log index that is missing (registry.apps, after every migrate),
    and the partial index of the patients' deletions.

    On SQLite a migration that remakes a history table (any change to one of
    its fields) builds it again from the model, which does not declare the
    index: it would be lost with the old table, as the append-only triggers
    would (registry.appendonly).
    """
    q = schema_editor.quote_name
    for table in log_index_tables():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {q(table + '_log')} "
            f"ON {q(table)} (history_date DESC, history_id DESC)"
        )
    # the patients' deletions, which LogFilter.moved_away reads (0025)
    patients = Patient.history.model._meta.db_table
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {q(DELETIONS_INDEX)} "
        f"ON {q(patients)} (id, site_id) WHERE history_type = '-'"
    )


#: The registry's log counts its entries exactly up to this many; past it, the
#: page says "more than" and pages no further (the CSV download has them all).
LOG_COUNT_LIMIT = COUNT_LIMIT


class LogIndex:
    """The log's rows as (kind, history_id, history_date), newest first.

    A :class:`~django.core.paginator.Paginator` reads it as it reads a queryset
    (``count()`` and slices). Each history table is read on its own, newest
    first down its index on (history_date, history_id) (migration
    0015_audit_log_index), only as far as the page asked for, and the tables'
    rows are merged in Python: the database never sorts the whole log, so the
    first page costs the same at 10^3 entries or 10^7. The count stops at
    ``limit`` (:attr:`exact` says whether it did): counting every history row
    of a national registry would cost more than the page.
    """

    def __init__(self, log: LogFilter, *, limit: int | None = None):
        self.limit = LOG_COUNT_LIMIT if limit is None else limit
        self.parts = [
            _history(kind, log)
            .order_by("-history_date", "-history_id")
            .annotate(audit_kind=Value(kind, output_field=models.CharField()))
            .values_list("audit_kind", "history_id", "history_date")
            for kind in _kinds(log)
        ]

    @cached_property
    def _counts(self) -> list[int]:
        # one COUNT over a LIMIT per table: each stops at limit + 1 rows
        return [count_up_to(part, self.limit) for part in self.parts]

    @property
    def exact(self) -> bool:
        """Return whether :meth:`count` is every entry, not a floor."""
        return sum(self._counts) <= self.limit

    def count(self) -> int:
        """Return how many entries the log has, or ``limit`` when it has more."""
        return min(sum(self._counts), self.limit)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("the audit log is read a page (a slice) at a time")
        start, stop = key.start or 0, key.stop
        if stop is None or start < 0 or stop < 0:
            raise TypeError("the audit log is read a page (a slice) at a time")
        newest = [list(part[:stop]) for part in self.parts]
        merged = heapq.merge(*newest, key=lambda row: (row[2], row[1]), reverse=True)
        return list(itertools.islice(merged, start, stop))


def log_index(log: LogFilter) -> LogIndex:
    """Return the log's rows as (kind, history_id, history_date), newest first."""
    return LogIndex(log)


def log_entries(index_rows, *, hidden: frozenset[str]) -> list[AuditEntry]:
    """Return the audit entries of a page of `log_index` rows, in its order.

    Two queries per history table on the page (its rows, and the version
    before each), one for the users and one for the patients' numbers.
    """
    wanted: dict[str, list[int]] = {}
    for kind, history_id, _ in index_rows:
        wanted.setdefault(kind, []).append(history_id)
    rows: dict[tuple[str, int], tuple] = {}
    for kind, ids in wanted.items():
        rows |= {(kind, pair[0].history_id): pair for pair in _with_previous(kind, ids)}
    users = _user_names(row[0].history_user_id for row in rows.values())
    patients = _patient_numbers(
        getattr(row, _patient_field(AUDITED[kind]))
        for (kind, _), (row, _) in rows.items()
    )
    sites = _site_names()
    return [
        _entry(
            *rows[(kind, history_id)],
            kind=kind,
            users=users,
            hidden=hidden,
            patients=patients,
            sites=sites,
        )
        for kind, history_id, _ in index_rows
    ]


def _with_previous(kind: str, history_ids: list[int]) -> Iterator[tuple]:
    """Yield (row, the version before it or None) for the history rows given."""
    model = AUDITED[kind]
    pk = model._meta.pk.attname
    before = model.history.filter(
        **{pk: OuterRef(pk)}, history_id__lt=OuterRef("history_id")
    ).order_by("-history_id")
    found = list(
        model.history.filter(history_id__in=history_ids).annotate(
            previous_id=Subquery(before.values("history_id")[:1])
        )
    )
    previous = model.history.in_bulk(
        [row.previous_id for row in found if row.previous_id], field_name="history_id"
    )
    for row in found:
        yield row, previous.get(row.previous_id)


def _patient_numbers(ids: Iterable[int | None]) -> dict[int, str]:
    """Return registry numbers by patient id, deleted patients included."""
    ids = {pk for pk in ids if pk is not None}
    # each patient's latest version only, not every version they have
    latest = (
        Patient.history.filter(id__in=ids)
        .order_by()
        .values("id")
        .annotate(last=Max("history_id"))
        .values("last")
    )
    return dict(
        Patient.history.filter(history_id__in=latest).values_list(
            "id", "registry_number"
        )
    )


def export_rows(log: LogFilter, *, hidden: frozenset[str]) -> Iterator[AuditEntry]:
    """Yield every entry of the log, kind by kind, for the CSV download.

    Per kind, one query reads every version of the records the log touches
    (in record and version order, so each version is compared with the one
    before it in Python), then the entries inside the filter are yielded.
    Plus one query for the users.
    """
    kinds = _kinds(log)
    streams = {}
    for kind in kinds:
        model = AUDITED[kind]
        pk = model._meta.pk.attname
        touched = _history(kind, log).values(pk)
        number = Patient.history.filter(id=OuterRef(_patient_field(model))).order_by(
            "-history_id"
        )
        streams[kind] = (
            model.history.filter(**{f"{pk}__in": touched})
            .order_by(pk, "history_id")
            .annotate(
                in_log=_in_log(kind, log),
                patient_number=Subquery(number.values("registry_number")[:1]),
            )
        )
    users = dict(get_user_model().objects.values_list("pk", "username"))
    sites = _site_names()
    for kind in kinds:
        pk = AUDITED[kind]._meta.pk.attname
        previous = None
        for row in streams[kind].iterator(chunk_size=2000):
            if previous is not None and getattr(previous, pk) != getattr(row, pk):
                previous = None
            if row.in_log:
                entry = _entry(
                    row,
                    previous,
                    kind=kind,
                    users=users,
                    hidden=hidden,
                    patients={},
                    sites=sites,
                )
                yield replace(entry, patient=row.patient_number or "")
            previous = row


def _in_log(kind: str, log: LogFilter):
    """Return an expression: is this history row inside the log's filter."""
    return Exists(_history(kind, log).filter(history_id=OuterRef("history_id")))
