import csv
from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig

from registry import (
    dashboards,
    disclosure,
    monitor,
    quality,
    queries,
    selectors,
    services,
    summaries,
)
from registry.choices import Strategy
from registry.filters import PatientFilter
from registry.forms import (
    RECORD_KINDS,
    DeleteForm,
    MrnSearchForm,
    NewPatientForm,
    PatientForm,
    RecordKind,
)
from registry.models import (
    ConfirmedWarning,
    DataQuery,
    FactsCheck,
    Patient,
)
from registry.tables import PAGE_SIZES, PAGINATION, PatientTable


def home(request):
    """Show what the registry holds: patients by site and by resection strategy."""
    user = request.user
    patients = Patient.objects.for_user(user)
    scope = summaries.Scope(user)
    # the patients by site, and their stored facts counted, each site's kept
    # until a write to its patients' data (registry.summaries.Scope.per_site)
    by_site = monitor.kept_patients_by_site(scope)
    counts = dashboards.kept_facts_counts(scope)
    strategies = counts.by_strategy()
    # a user who may not see identifiers sees no small count, as in reports
    min_cell = disclosure.min_cell_for(user)
    ctx = {
        "total": sum(row["n"] for row in by_site),
        "by_site": [
            {**row, "n": disclosure.cell(row["n"], min_cell)} for row in by_site
        ],
        "by_strategy": [
            (code, label, disclosure.cell(strategies.get(code, 0), min_cell))
            for code, label in Strategy.choices
        ],
        **_role_home(user, patients, counts, by_site, scope),
    }
    return render(request, "registry/home.html", ctx)


def _role_home(user, patients, counts, by_site, scope: summaries.Scope) -> dict:
    """Return what the user's role sees first (registry.dashboards): the nurse's
    worklist, the data manager's accrual, completeness and verification."""
    if user.has_perm("registry.verify_records"):
        return {
            "accrual": dashboards.accrual(counts),
            "site_overview": scope.get(
                "site-overview",
                lambda: dashboards.site_overview(patients, counts, by_site),
            ),
            "counts": queries.counts(DataQuery.objects.for_user(user)),
        }
    if user.has_perm("registry.add_followup"):
        worklist = dashboards.worklist(user, today=timezone.localdate(), scope=scope)
        return {"worklist": worklist}
    return {}


def worklist_export(request):
    """The nurse's whole worklist as CSV (overdue, open queries, not complete)."""
    _require(request, "registry.view_patient")
    response = HttpResponse(content_type="text/csv")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="worklist-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(["section", "registry number", "site", "detail"])
    writer.writerows(dashboards.worklist_rows(request.user, today=timezone.localdate()))
    return response


# --- data entry ---------------------------------------------------------------


def _require(request, *perms: str) -> None:
    """Refuse the request (403) unless the user has every one of `perms`."""
    if not request.user.has_perms(perms):
        raise PermissionDenied


def _kind(slug: str) -> RecordKind:
    if slug not in RECORD_KINDS:
        raise Http404("No such kind of record.")
    return RECORD_KINDS[slug]


def _hidden_fields(request) -> frozenset[str]:
    """Return the fields whose values this user may not see."""
    if request.user.has_perm("registry.view_identifiers"):
        return frozenset()
    return frozenset(Patient.IDENTIFIER_FIELDS)


@require_http_methods(["GET", "POST"])
def patient_list(request):
    """List, sort, filter and search the patients of the user's sites."""
    _require(request, "registry.view_patient")
    patients = Patient.objects.for_user(request.user)
    search = MrnSearchForm(request.POST or None)
    filterset = PatientFilter(request.GET or None, patients, request=request)
    if request.method == "POST":
        # By POST, so that the MRN never appears in a URL, a log or the history.
        _require(request, "registry.view_identifiers")
        patients = patients.none()
        if search.is_valid():
            patients = Patient.objects.for_user(request.user).filter(
                mrn=search.cleaned_data["mrn"]
            )
            found = list(patients.values_list("pk", flat=True)[:2])
            if len(found) == 1:
                return redirect("registry:patient_detail", pk=found[0])
    else:
        patients = filterset.qs
    table = PatientTable(monitor.with_status_counts(selectors.patient_rows(patients)))
    # Count the patients without the list's columns, once per data version and
    # set of filters (a filtered count at 10^6 patients, such as the 427,000
    # overdue, takes a second: paging through the list should not repeat it).
    count = patients.count
    if request.method == "GET" and (
        not filterset.is_bound or filterset.form.is_valid()
    ):
        cleaned = filterset.form.cleaned_data if filterset.is_bound else {}
        chosen = sorted(
            (name, str(getattr(value, "pk", value)))
            for name, value in cleaned.items()
            if value not in (None, "", False)
        )
        count = partial(
            summaries.per_version,
            f"list-count {chosen!r}",
            request.user,
            count,
            today=timezone.localdate() if chosen else None,
        )
    paginate = {**PAGINATION, "count": count}
    RequestConfig(request, paginate=paginate).configure(table)
    ctx = {
        "table": table,
        "filter": filterset,
        "search": MrnSearchForm(),
        "searched_mrn": request.method == "POST",
        "page_sizes": PAGE_SIZES,
    }
    return render(request, "registry/patient_list.html", ctx)


def patient_detail(request, pk: int):
    """Show one patient: timeline, derived strategy, survival, and what to add."""
    _require(request, "registry.view_patient")
    patient = selectors.patient_for_user(request.user, pk)
    chart = selectors.patient_chart(patient, today=timezone.localdate())
    status_rows = monitor.status_rows(request.user, patient)
    ctx = {
        "chart": chart,
        "patient": patient,
        "add_buttons": _add_buttons(request.user, chart),
        "timeline": _timeline_rows(request.user, chart),
        "show_identifiers": request.user.has_perm("registry.view_identifiers"),
        # form status and data queries (registry.monitor)
        "status_rows": status_rows,
        "patient_queries": monitor.patient_queries(request.user, patient),
    }
    return render(request, "registry/patient_detail.html", monitor.without_locked(ctx))


def _add_buttons(user, chart) -> list[tuple[RecordKind, str]]:
    """Return (kind, URL) of each record the user may add to this patient now."""
    single = chart.single_records
    # A follow-up contact is a sign of life: none is offered once a death is
    # recorded (the form still refuses a contact dated after the death).
    after_death = {"followup"} if single["death"] is not None else set()
    return [
        (kind, reverse("registry:record_create", args=[chart.patient.pk, slug]))
        for slug, kind in RECORD_KINDS.items()
        if user.has_perm(kind.perm("add"))
        and not (kind.single and single[slug] is not None)
        and slug not in after_death
    ]


def _timeline_rows(user, chart) -> list[tuple]:
    """Return (event, edit URL, delete URL) for the timeline; URLs the user may use."""
    rows = []
    for event in chart.timeline:
        edit = delete = None
        if event.record is not None:
            kind = RECORD_KINDS[event.kind]
            args = [chart.patient.pk, kind.slug, event.record.pk]
            if user.has_perm(kind.perm("change")):
                edit = reverse("registry:record_update", args=args)
            if user.has_perm(kind.perm("delete")):
                delete = reverse("registry:record_delete", args=args)
        rows.append((event, edit, delete))
    return rows


@require_http_methods(["GET", "POST"])
def patient_create(request):
    """Enter a new patient with the diagnosis and the liver metastases."""
    _require(
        request,
        "registry.add_patient",
        "registry.add_primarytumour",
        "registry.add_livermetastases",
        "registry.view_identifiers",
    )
    form = NewPatientForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.create_patient(
                patient=form.patient.instance,
                tumour=form.tumour.instance,
                liver=None if form.skip_liver else form.liver.instance,
            )
        except ValidationError as error:
            getattr(form, error.part).add_model_error(error)
        else:
            _keep_confirmed(request, form.tumour, patient.tumour)
            if not form.skip_liver:
                _keep_confirmed(request, form.liver, patient.liver)
            messages.success(request, f"Patient {patient} registered.")
            return redirect(patient)
    return render(request, "registry/patient_create.html", {"form": form})


@require_http_methods(["GET", "POST"])
def patient_update(request, pk: int):
    """Edit the patient's own fields (not the site, not the registry number)."""
    _require(request, "registry.change_patient")
    patient = selectors.patient_for_user(request.user, pk)
    form = PatientForm(request.POST or None, instance=patient, user=request.user)
    if request.method == "POST" and form.is_valid():
        if _save_update(request, form):
            return redirect(patient)
    ctx = {"form": form, "patient": patient}
    return render(request, "registry/patient_update.html", ctx)


@require_http_methods(["GET", "POST"])
def patient_delete(request, pk: int):
    """Delete a patient and all their records (data managers only)."""
    _require(request, "registry.delete_patient")
    patient = selectors.patient_for_user(request.user, pk)
    form = DeleteForm(request.POST or None, initial={"version": patient.version})
    if request.method == "POST" and form.is_valid():
        if _delete(request, form, patient):
            messages.success(request, f"Patient {patient} deleted.")
            return redirect("registry:patient_list")
    ctx = {"form": form, "patient": patient}
    return render(request, "registry/patient_delete.html", ctx)


@require_http_methods(["GET", "POST"])
def record_create(request, pk: int, kind: str):
    """Add a record of one kind (an operation, a follow-up, ...) to a patient."""
    kind = _kind(kind)
    _require(request, kind.perm("add"))
    patient = selectors.patient_for_user(request.user, pk)
    existing = selectors.single_record(patient, kind.slug) if kind.single else None
    if existing is not None:
        messages.info(request, f"This patient has a {kind.name}: edit it here.")
        return redirect(
            "registry:record_update", pk=pk, kind=kind.slug, record_pk=existing.pk
        )
    form = kind.form_class(request.POST or None, instance=kind.model(patient=patient))
    if request.method == "POST" and form.is_valid():
        try:
            record = services.add_record(record=form.instance)
        except ValidationError as error:
            form.add_model_error(error)
        else:
            _keep_confirmed(request, form, record)
            messages.success(request, f"Added: {record}.")
            return redirect(patient)
    ctx = {"form": form, "patient": patient, "kind": kind}
    return render(request, "registry/record_create.html", ctx)


@require_http_methods(["GET", "POST"])
def record_update(request, pk: int, kind: str, record_pk: int):
    """Edit a record; a save over a newer version is refused, showing the change."""
    kind = _kind(kind)
    _require(request, kind.perm("change"))
    patient = selectors.patient_for_user(request.user, pk)
    record = _record_or_gone(request, patient, kind, record_pk)
    if record is None:
        return redirect(patient)
    form = kind.form_class(request.POST or None, instance=record)
    if request.method == "POST" and form.is_valid():
        if _save_update(request, form):
            return redirect(patient)
    ctx = {"form": form, "patient": patient, "kind": kind, "record": record}
    return render(request, "registry/record_update.html", ctx)


@require_http_methods(["GET", "POST"])
def record_delete(request, pk: int, kind: str, record_pk: int):
    """Delete a record after confirmation, unless it changed since shown."""
    kind = _kind(kind)
    _require(request, kind.perm("delete"))
    patient = selectors.patient_for_user(request.user, pk)
    record = _record_or_gone(request, patient, kind, record_pk)
    if record is None:
        return redirect(patient)
    form = DeleteForm(request.POST or None, initial={"version": record.version})
    if request.method == "POST" and form.is_valid():
        if _delete(request, form, record):
            messages.success(request, f"Deleted: {record}.")
            return redirect(patient)
    ctx = {"form": form, "patient": patient, "kind": kind, "record": record}
    return render(request, "registry/record_delete.html", ctx)


def _facts_check(scope: summaries.Scope) -> dict | None:
    """Return the last check_facts as the scope's user may see it: the patients
    of their sites only (a superuser's: every patient)."""
    check = FactsCheck.objects.first()
    if check is None:
        return None
    if scope.user.is_superuser:
        counted = (check.patients, check.mismatched)
    else:
        counted = check.at_sites(pk for pk, _, _ in scope.site_list)
    patients, mismatched = counted or (None, None)
    return {
        "checked_at": check.checked_at,
        "fixed": check.fixed,
        "patients": patients,
        "mismatched": mismatched,
    }


def data_quality(request):
    """List, per site, the records that need attention and the completeness."""
    _require(request, "registry.view_patient")
    patients = Patient.objects.for_user(request.user)
    today = timezone.localdate()
    scope = summaries.Scope(request.user)
    # each site's checks, and its patients for the form statuses (shared with
    # the home page), kept until a write to its patients' data
    # (registry.summaries.Scope.per_site)
    by_site = monitor.kept_patients_by_site(scope)
    sites = quality.kept_site_quality(scope, today=today)
    warnings_count, warnings = quality.confirmed_warnings(patients)
    ctx = {
        "warnings_count": warnings_count,
        "warnings": warnings,
        "sites": sites,
        "checks": quality.CHECKS,
        "key_fields": quality.KEY_FIELDS,
        # the stored derived facts: the last check_facts, and any row missing now
        "facts_check": _facts_check(scope),
        "facts_missing": sum(site.without_facts for site in sites),
        # form status and data queries per site (registry.monitor, .queries)
        "site_status": scope.get(
            "site-status", lambda: monitor.site_status(patients, by_site=by_site)
        ),
        "counts": queries.counts(DataQuery.objects.for_user(request.user)),
    }
    return render(request, "registry/data_quality.html", ctx)


def _record_or_gone(request, patient, kind: RecordKind, record_pk: int):
    """Return the patient's record; None, with a message, if someone deleted it."""
    record = selectors.patient_record(patient, kind.model, record_pk)
    if record is not None:
        return record
    deletion = selectors.deletion_of(patient, kind.model, record_pk)
    if deletion is None:
        raise Http404("No such record.")
    messages.error(
        request,
        f"This {kind.name} was {deletion.describe()}: nothing was saved.",
    )
    return None


def _save_update(request, form) -> bool:
    """Save the edited record through the service; False if it was refused."""
    try:
        record = services.update_record(
            record=form.instance,
            loaded_version=form.cleaned_data["version"],
            reason=request.POST.get("change_reason", "")[:100],
        )
    except services.StaleEdit as stale:
        form.refuse_stale(stale, hidden=_hidden_fields(request))
        return False
    except ValidationError as error:
        form.add_model_error(error)
        return False
    _keep_confirmed(request, form, record)
    messages.success(request, f"Saved: {record}.")
    return True


def _keep_confirmed(request, form, record) -> None:
    """Store the entry warnings the user confirmed for the saved `record`."""
    ConfirmedWarning.objects.replace_for(
        record, form.confirmed_findings, user=request.user
    )


def _delete(request, form, record) -> bool:
    """Delete through the service; False (with a message) if it was refused."""
    try:
        services.delete_record(
            record=record,
            loaded_version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"],
        )
    except services.StaleEdit as stale:
        changes = "; ".join(
            c.describe(hidden=_hidden_fields(request)) for c in stale.changes
        )
        form.add_error(
            None,
            f"Not deleted: it changed after you opened this page — {changes}. "
            "Check the record again before deleting it.",
        )
        form.data = form.data.copy()
        form.data["version"] = stale.current_version
        return False
    except ValidationError as error:
        form.add_error(None, error)
        return False
    return True
