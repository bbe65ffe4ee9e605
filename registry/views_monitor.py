"""Monitoring pages: form status moves, data queries, the audit trail.

Short function views: a scoped fetch (the patient through
``selectors.patient_for_user``, queries through ``DataQuery.objects.for_user``),
a form, one service call (``registry.status``, ``registry.queries``) or
selector (``registry.audit``), render.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, When
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from registry import audit, queries, selectors, status
from registry.models import DataQuery, Patient
from registry.models.queries import QueryAction, QueryStatus
from registry.models.status import FormKind
from registry.monitor_forms import AuditFilterForm, QueryForm, QueryStepForm, StatusForm

#: Who may read the whole registry's audit log (the data managers).
AUDIT_LOG_PERM = "registry.view_historicalpatient"
AUDIT_PAGE_SIZE = 50


def _require(request, *perms: str) -> None:
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _hidden(request) -> frozenset[str]:
    """Return the fields whose values this user may not see (identifiers)."""
    if request.user.has_perm("registry.view_identifiers"):
        return frozenset()
    return frozenset(Patient.IDENTIFIER_FIELDS)


# --- form status ------------------------------------------------------------------


@require_POST
def record_status(request, pk: int, kind: str):
    """Move one kind of the patient's records on: complete, verified, locked."""
    _require(request, "registry.view_patient")
    if kind not in FormKind.values:
        raise Http404("No such kind of record.")
    patient = selectors.patient_for_user(request.user, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the status to move to.")
        return redirect(_status_anchor(patient))
    try:
        row = status.set_status(
            patient=patient,
            kind=kind,
            to=form.cleaned_data["to"],
            user=request.user,
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"{FormKind(kind).label}: {row.get_status_display().lower()}."
        )
    return redirect(_status_anchor(patient))


def _status_anchor(patient) -> str:
    return f"{patient.get_absolute_url()}#form-status"


# --- data queries -----------------------------------------------------------------


def query_list(request):
    """List the data queries of the user's sites, unresolved first, with counts."""
    _require(request, "registry.view_patient")
    scoped = DataQuery.objects.for_user(request.user)
    show = request.GET.get("show", "unresolved")
    shown = scoped.unresolved() if show != "all" else scoped
    if request.GET.get("mine") and not request.user.has_perm(queries.MANAGE):
        shown = shown.filter(assigned_to=request.user)
    closed_last = Case(When(status=QueryStatus.CLOSED, then=1), default=0)
    page = Paginator(
        shown.select_related("patient", "opened_by", "assigned_to").order_by(
            closed_last, "status", "-updated_at", "pk"
        ),
        AUDIT_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    ctx = {"page": page, "show": show, "counts": queries.counts(scoped)}
    return render(request, "registry/query_list.html", ctx)


@require_http_methods(["GET", "POST"])
def query_create(request, pk: int):
    """Open a query on one field of one of the patient's records (data managers)."""
    _require(request, "registry.view_patient", queries.MANAGE)
    patient = selectors.patient_for_user(request.user, pk)
    records = _record_choices(patient)
    form = QueryForm(
        request.POST or None,
        records=records,
        initial={"record": request.GET.get("record")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            query = queries.open_query(
                patient=patient,
                kind=data["kind"],
                record_id=data["record_id"],
                field=data["field_name"],
                question=data["question"],
                user=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Query {query.pk} opened.")
            return redirect("registry:query_detail", query_pk=query.pk)
    ctx = {"form": form, "patient": patient}
    return render(request, "registry/query_create.html", ctx)


def _record_choices(patient) -> list[tuple[str, str]]:
    """Return ("kind:id", label) of the patient and each of their records."""
    chart = selectors.patient_chart(patient, today=timezone.localdate())
    choices = [(f"patient:{patient.pk}", f"Patient {patient.registry_number}")]
    seen = set()
    for event in chart.timeline:
        if event.record is None:
            continue
        value = f"{event.kind}:{event.record.pk}"
        if value not in seen:
            seen.add(value)
            choices.append((value, f"{event.title} of {event.date:%Y-%m-%d}"))
    return choices


@require_http_methods(["GET", "POST"])
def query_detail(request, query_pk: int):
    """Show a query's thread; answer it (nurse) or close / re-open it (manager)."""
    _require(request, "registry.view_patient")
    query = get_object_or_404(
        DataQuery.objects.for_user(request.user).select_related("patient"),
        pk=query_pk,
    )
    form = QueryStepForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            queries.take_step(
                query=query,
                action=form.cleaned_data["action"],
                text=form.cleaned_data["text"],
                user=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Query {query.pk}: {query.get_status_display().lower()}."
            )
            return redirect("registry:query_detail", query_pk=query.pk)
    record = queries.record_of(query)
    ctx = {
        "query": query,
        "form": form,
        "steps": query.steps.select_related("by"),
        "field_label": queries.field_label(query.kind, query.field),
        "value": queries.current_value(query, record, hidden=_hidden(request)),
        "record": record,
        "edit_url": _edit_url(request.user, query, record),
        "actions": [
            (action, label)
            for action, label in QueryAction.choices
            if queries.may_take(request.user, query, action)
        ],
        "is_closed": query.status == QueryStatus.CLOSED,
    }
    return render(request, "registry/query_detail.html", ctx)


def _edit_url(user, query, record) -> str | None:
    """Return the data-entry page where the queried value is corrected."""
    if record is None:
        return None
    if query.kind == "patient":
        if user.has_perm("registry.change_patient"):
            return reverse("registry:patient_update", args=[query.patient_id])
        return None
    model = type(record)._meta.model_name
    if not user.has_perm(f"registry.change_{model}"):
        return None
    return reverse(
        "registry:record_update", args=[query.patient_id, query.kind, record.pk]
    )


# --- the audit trail ------------------------------------------------------------------


def patient_audit(request, pk: int):
    """List every change to the patient and their records, newest first."""
    _require(request, "registry.view_patient")
    patient = selectors.patient_for_user(request.user, pk)
    entries = audit.patient_trail(patient, hidden=_hidden(request))
    ctx = {"patient": patient, "entries": entries}
    return render(request, "registry/patient_audit.html", ctx)


def audit_log(request):
    """The whole registry's audit log, filtered and paginated (data managers)."""
    _require(request, AUDIT_LOG_PERM)
    form = AuditFilterForm(request.GET or None, user=request.user)
    entries, page = [], None
    if not form.is_bound or form.is_valid():
        if not form.is_bound:
            form = AuditFilterForm({}, user=request.user)
            form.is_valid()
        log = form.log_filter(request.user)
        page = Paginator(audit.log_index(log), AUDIT_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        entries = audit.log_entries(list(page.object_list), hidden=_hidden(request))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {"form": form, "page": page, "entries": entries, "query": query.urlencode()}
    return render(request, "registry/audit_log.html", ctx)


class _Echo:
    def write(self, value):
        return value


def audit_export(request):
    """The filtered audit log as CSV (streamed; a fixed number of queries)."""
    _require(request, AUDIT_LOG_PERM)
    form = AuditFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return audit_log(request)
    log = form.log_filter(request.user)
    writer = csv.writer(_Echo())
    header = [
        "when",
        "who",
        "patient",
        "record kind",
        "record",
        "action",
        "changes",
        "reason",
    ]

    def rows():
        yield writer.writerow(header)
        for entry in sorted(
            audit.export_rows(log, hidden=_hidden(request)),
            key=lambda entry: entry.when,
            reverse=True,
        ):
            yield writer.writerow(
                [
                    timezone.localtime(entry.when).strftime("%Y-%m-%d %H:%M:%S"),
                    entry.who,
                    entry.patient,
                    entry.kind_label,
                    entry.record,
                    entry.action,
                    entry.summary(),
                    entry.reason,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
