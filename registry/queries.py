"""Data queries: open, answer, close, re-open; every step kept with who and when.

A data manager (``registry.manage_queries``) opens a query on one field of one
record; a research nurse of the patient's site (who may change that kind of
record) answers it, or corrects the value on the record's page and says so; the
manager closes it, or re-opens it if the answer does not settle it. Each step
is a ``QueryStep`` row (append-only in the database).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import capfirst

from registry.audit import AUDITED
from registry.models import DataQuery, Patient, QueryStep
from registry.models.queries import QueryAction, QueryStatus
from registry.selectors import display_value, entry_fields

MANAGE = "registry.manage_queries"
#: Which step moves a query to which status, and from which.
STEPS = {
    QueryAction.ANSWERED: ({QueryStatus.OPEN}, QueryStatus.ANSWERED),
    QueryAction.CORRECTED: ({QueryStatus.OPEN}, QueryStatus.ANSWERED),
    QueryAction.CLOSED: ({QueryStatus.OPEN, QueryStatus.ANSWERED}, QueryStatus.CLOSED),
    QueryAction.REOPENED: (
        {QueryStatus.ANSWERED, QueryStatus.CLOSED},
        QueryStatus.OPEN,
    ),
}
#: Steps that must say something (a closing note is optional).
NEEDS_TEXT = {QueryAction.ANSWERED, QueryAction.CORRECTED, QueryAction.REOPENED}


def queryable_fields(kind: str) -> list[models.Field]:
    """Return the fields of a kind of record a query may name (identifiers too)."""
    return [
        f
        for f in entry_fields(AUDITED[kind])
        if f.name not in ("site", "registry_number")
    ]


def field_label(kind: str, name: str) -> str:
    """Return the label of field `name` of `kind`, e.g. "CEA (ng/mL)"."""
    field = AUDITED[kind]._meta.get_field(name)
    return capfirst(field.verbose_name)


def record_of(query: DataQuery):
    """Return the record the query is about, or None if it was deleted."""
    return AUDITED[query.kind]._default_manager.filter(pk=query.record_id).first()


def current_value(query: DataQuery, record, *, hidden: frozenset[str]) -> str:
    """Return the queried field's value now, as the forms show it."""
    if record is None:
        return "(record deleted)"
    if query.field in hidden:
        return "(hidden)"
    field = AUDITED[query.kind]._meta.get_field(query.field)
    return display_value(field, getattr(record, field.attname))


def _last_editor(kind: str, record_id: int):
    """Return the user id of the last person who saved the record (its history)."""
    model = AUDITED[kind]
    return (
        model.history.filter(**{model._meta.pk.attname: record_id})
        .exclude(history_user=None)
        .order_by("-history_id")
        .values_list("history_user_id", flat=True)
        .first()
    )


def open_query(
    *, patient: Patient, kind: str, record_id: int, field: str, question: str, user
) -> DataQuery:
    """Open a query on `field` of record `record_id` (a `kind`) of `patient`."""
    if not user.has_perm(MANAGE):
        raise PermissionDenied("Only a data manager opens queries.")
    if kind not in AUDITED or kind == "status":
        raise ValidationError({"record": "Choose a record of this patient."})
    model = AUDITED[kind]
    owner = {"pk": patient.pk} if model is Patient else {"patient": patient}
    if not model._default_manager.filter(**owner).filter(pk=record_id).exists():
        raise ValidationError({"record": "Choose a record of this patient."})
    if field not in {f.name for f in queryable_fields(kind)}:
        raise ValidationError({"field": "Choose a field of that record."})
    question = question.strip()
    if not question:
        raise ValidationError({"question": "Write the question."})
    now = timezone.now()
    with transaction.atomic():
        query = DataQuery.objects.create(
            patient=patient,
            kind=kind,
            record_id=record_id,
            field=field,
            question=question,
            opened_by=user,
            opened_at=now,
            assigned_to_id=_last_editor(kind, record_id),
            updated_at=now,
        )
        QueryStep.objects.create(
            query=query, action=QueryAction.OPENED, text=question, by=user, at=now
        )
    return query


def may_take(user, query: DataQuery, action: str) -> bool:
    """Return whether `user` may take step `action` on `query` now."""
    if action not in STEPS or query.status not in STEPS[action][0]:
        return False
    if action in (QueryAction.CLOSED, QueryAction.REOPENED):
        return user.has_perm(MANAGE)
    model = AUDITED[query.kind]._meta.model_name
    return user.has_perm(f"registry.change_{model}")


def take_step(*, query: DataQuery, action: str, text: str, user) -> QueryStep:
    """Record a step on `query` and move its status on."""
    text = (text or "").strip()
    if action not in STEPS:
        raise ValidationError({"action": "No such step."})
    if not may_take(user, query, action):
        if query.status not in STEPS[action][0]:
            raise ValidationError(
                f"This query is {query.get_status_display().lower()}: it cannot be "
                f"{QueryAction(action).label.lower()} now."
            )
        raise PermissionDenied("You may not take this step on the query.")
    if action in NEEDS_TEXT and not text:
        raise ValidationError({"text": "Write your answer or reason."})
    now = timezone.now()
    with transaction.atomic():
        step = QueryStep.objects.create(
            query=query, action=action, text=text, by=user, at=now
        )
        query.status = STEPS[action][1]
        query.updated_at = now
        query.save(update_fields=["status", "updated_at"])
    return step


@dataclass(frozen=True)
class QueryCounts:
    """Unresolved queries per site and per assigned nurse."""

    by_site: list[dict]
    by_nurse: list[dict]


def counts(queries) -> QueryCounts:
    """Return the open and answered queries per site and per nurse (two queries)."""
    unresolved = queries.unresolved().order_by()
    tallies = {
        "open": Count("pk", filter=Q(status=QueryStatus.OPEN)),
        "answered": Count("pk", filter=Q(status=QueryStatus.ANSWERED)),
    }
    by_site = list(
        unresolved.values("patient__site__code", "patient__site__name")
        .annotate(**tallies)
        .order_by("patient__site__code")
    )
    by_nurse = list(
        unresolved.values("assigned_to__username")
        .annotate(**tallies)
        .order_by("assigned_to__username")
    )
    return QueryCounts(by_site=by_site, by_nurse=by_nurse)
