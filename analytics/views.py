"""Outcome report pages: build, run, download, save and re-run reports.

pandas, scipy and matplotlib are imported by the functions that compute and
render (analytics.resultcache, analytics.export), not here: Django imports the
URLs, and so this module, when it starts, for every command.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, Max, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from analytics import resultcache
from analytics.forms import ReportForm
from analytics.models import ReportDownload, ReportRun, SavedReport
from analytics.presets import PRESETS
from analytics.spec import InvalidSpec, ReportSpec, parse_json
from analytics.versions import software_version
from registry import exporter

RUN_REPORTS = "analytics.run_report"


def _run_from_query(request):
    """Return (form, computed result) for the specification in the query string.

    The result is None when the form, the specification or the data cannot give
    a report; the form then carries every message, each at its field. The
    result is computed once and stored (analytics.resultcache): the page and
    each download of the same report on the same data read it.
    """
    from analytics.reports import ReportError  # the statistics, on first use

    form = ReportForm(request.GET, user=request.user)
    if not form.is_valid():
        return form, None
    try:
        result = resultcache.computed(
            form.spec(), user=request.user, today=timezone.localdate()
        )
    except (InvalidSpec, ReportError) as exc:
        form.add_spec_errors(exc.errors)
        return form, None
    return form, result


@permission_required(RUN_REPORTS, raise_exception=True)
def report_list(request):
    """List the saved reports, with the runs this user may open and the last."""
    visible = Q(runs__in=ReportRun.objects.visible_to(request.user).values("pk"))
    saved = SavedReport.objects.select_related("owner").annotate(
        run_count=Count("runs", filter=visible),
        last_run=Max("runs__run_at", filter=visible),
    )
    return render(request, "analytics/report_list.html", {"saved_reports": saved})


@permission_required(RUN_REPORTS, raise_exception=True)
def report_new(request):
    """Show the report builder, empty or filled from a saved report."""
    if "preset" in request.GET:
        preset = PRESETS.get(request.GET["preset"])
        if preset is None:
            raise Http404("No such preset.")
        form = ReportForm(
            user=request.user, initial=ReportForm.initial_from_spec(preset.spec)
        )
    elif "saved" in request.GET:
        try:
            pk = int(request.GET["saved"])
        except ValueError:
            raise Http404("No such saved report.") from None
        saved = get_object_or_404(SavedReport, pk=pk)
        try:
            initial = ReportForm.initial_from_spec(saved.spec)
        except InvalidSpec as exc:  # edited since (the admin), or older rules
            messages.error(request, f"“{saved.name}” cannot be opened here: {exc}")
            initial = {}
        form = ReportForm(user=request.user, initial=initial)
    elif request.GET:
        # "Change" on a result page: the builder, filled with that report.
        form = ReportForm(request.GET, user=request.user)
    else:
        form = ReportForm(user=request.user)
    return _builder(request, form)


def _builder(request, form, status: int = 200):
    ctx = {"form": form, "presets": PRESETS.values()}
    return render(request, "analytics/report_new.html", ctx, status=status)


@permission_required(RUN_REPORTS, raise_exception=True)
def report_result(request):
    """Run the report the query string specifies (or read it, stored) and show it."""
    form, result = _run_from_query(request)
    if result is None:
        return _builder(request, form, status=400)
    data = result.data
    ctx = {
        "data": data,
        "figure": result.figure_data_uri(),
        "competing_figure": _competing_figure(data),
        "query": request.GET.urlencode(),
        # the specification as given: a blank cut-off stays blank when saved
        "spec_json": json.dumps(form.spec().to_dict()),
        "cutoff_given": bool(form.cleaned_data.get("as_of")),
        "landmark_query": _landmark_query(request, data),
        "downloads": _downloads(
            lambda fmt: reverse("analytics:report_download", args=[fmt]),
            request.GET.urlencode(),
        ),
    }
    return render(request, "analytics/report_result.html", ctx)


@permission_required(RUN_REPORTS, raise_exception=True)
def report_download(request, fmt: str):
    """Return the report of the query string as a file, from its stored result."""
    if fmt not in DOWNLOADS:
        raise Http404(f"Unknown format {fmt!r}")
    form, result = _run_from_query(request)
    if result is None:
        errors = [str(e) for e in form.non_field_errors()] + [
            f"{name}: {error}"
            for name, errs in form.errors.items()
            if name != "__all__"
            for error in errs
        ]
        return HttpResponse(
            json.dumps({"errors": errors}, indent=2),
            status=400,
            content_type="application/json",
        )
    response = _file_response(
        result.data, fmt, request.GET.get("table", "groups"), result
    )
    _log_download(request, fmt, what=request.GET.urlencode())
    return response


@require_POST
@permission_required("analytics.add_savedreport", raise_exception=True)
def report_save(request):
    """Save the specification of a result under a name."""
    name = request.POST.get("name", "").strip()
    try:
        spec = ReportSpec.from_dict(parse_json(request.POST.get("spec", "")))
    except InvalidSpec as exc:
        messages.error(request, f"The report could not be saved: {exc}")
        return redirect("analytics:report_list")
    if request.POST.get("fix_cutoff") and spec.as_of is None:
        try:
            fixed = datetime.date.fromisoformat(request.POST["fix_cutoff"])
        except ValueError:
            messages.error(request, "The report could not be saved: bad cut-off date.")
            return redirect("analytics:report_list")
        spec = spec.with_as_of(fixed)
    name = name or spec.name or "Untitled report"
    # one title: the saved report's name is its runs' title too
    saved = SavedReport(
        name=name, spec=replace(spec, name=name).to_dict(), owner=request.user
    )
    try:
        saved.full_clean()
    except ValidationError as exc:
        for field, found in exc.message_dict.items():
            where = "" if field == NON_FIELD_ERRORS else f"{field}: "
            for message in found:
                messages.error(
                    request, f"The report could not be saved: {where}{message}"
                )
        return redirect("analytics:report_list")
    saved.save()
    name = saved.name
    messages.success(request, f"Saved “{name}”. Run it again at any time from here.")
    return redirect(saved)


@permission_required(RUN_REPORTS, raise_exception=True)
def saved_report_detail(request, pk: int):
    """Show a saved report: its specification and the provenance of its runs."""
    saved = get_object_or_404(SavedReport.objects.select_related("owner"), pk=pk)
    runs = list(
        _visible_runs(request, saved.runs.select_related("run_by").defer("result"))
    )
    # each run against the same user's run before it, as saved_report_run says
    # (a run covers its runner's sites, so another user's run is no comparison)
    last_fingerprint: dict = {}
    for run in reversed(runs):
        previous = last_fingerprint.get(run.run_by_id)
        run.first = previous is None
        run.data_changed = previous is not None and previous != run.fingerprint
        last_fingerprint[run.run_by_id] = run.fingerprint
    ctx = {
        "saved": saved,
        "runs": runs,
        "spec_json": json.dumps(saved.spec, indent=2),
    }
    return render(request, "analytics/saved_report_detail.html", ctx)


@require_POST
@permission_required(RUN_REPORTS, raise_exception=True)
def saved_report_run(request, pk: int):
    """Run a saved report now, store the run with its provenance, show it."""
    from analytics.reports import ReportError  # the statistics, on first use

    saved = get_object_or_404(SavedReport, pk=pk)
    today = timezone.localdate()
    try:
        # the saved name titles every run, even when renamed since (the admin)
        spec = replace(ReportSpec.from_dict(saved.spec), name=saved.name)
        result = resultcache.computed(spec, user=request.user, today=today)
    except (InvalidSpec, ReportError) as exc:
        for message in exc.errors:
            messages.error(request, message)
        return redirect(saved)
    spec = spec.with_as_of(today)  # the cut-off this run used
    previous = saved.runs.filter(run_by=request.user).defer("result").first()
    run = ReportRun.objects.create(
        saved_report=saved,
        run_by=request.user,
        software_version=software_version(),
        data_cutoff=spec.as_of,
        fingerprint=result.data["fingerprint"],
        patients=result.data["cohort"]["analysed"],
        result=result.data,
    )
    run.record_sites(request.user, spec.cohort.sites)
    if previous is None:
        messages.info(request, "First run of this report: its provenance is stored.")
    elif previous.fingerprint == run.fingerprint:
        messages.success(
            request,
            "The analysis data are unchanged since your run of "
            f"{previous.run_at:%Y-%m-%d %H:%M}.",
        )
    else:
        messages.warning(
            request,
            "The analysis data have changed since your run of "
            f"{previous.run_at:%Y-%m-%d %H:%M}.",
        )
    return redirect(run)


@permission_required(RUN_REPORTS, raise_exception=True)
def report_run_detail(request, pk: int):
    """Show a stored run as it was computed (masked if this user may not see it)."""
    from analytics.reports import disclosed

    run = _get_run(request, pk)
    data = disclosed(run.result, user=request.user)
    ctx = {
        "data": data,
        "run": run,
        "figure": _png_data_uri(data),
        "competing_figure": _competing_figure(data),
        "downloads": _downloads(
            lambda fmt: reverse("analytics:report_run_download", args=[run.pk, fmt]), ""
        ),
    }
    return render(request, "analytics/report_result.html", ctx)


@permission_required(RUN_REPORTS, raise_exception=True)
def report_run_download(request, pk: int, fmt: str):
    """Return a stored run as a file (masked if this user may not see it)."""
    from analytics.reports import disclosed

    if fmt not in DOWNLOADS:
        raise Http404(f"Unknown format {fmt!r}")
    run = _get_run(request, pk)
    data = disclosed(run.result, user=request.user)
    response = _file_response(data, fmt, request.GET.get("table", "groups"))
    _log_download(request, fmt, run=run)
    return response


# --- helpers ------------------------------------------------------------------


def _log_download(request, fmt: str, *, what: str = "", run=None) -> None:
    """Keep who downloaded which report file when (ReportDownload)."""
    ReportDownload.objects.create(
        downloaded_by=request.user, fmt=fmt, run=run, what=what[:2000]
    )


@permission_required("registry.export_deidentified", raise_exception=True)
def deidentified_export(request):
    """Download a de-identified dataset: a report's cohort, or all the user's sites.

    The cohort is the report's (the same query string as the report page); with
    no report query, every patient of the user's sites.
    """
    from analytics import dataset  # pandas: only when a report's data is read

    query = request.GET.copy()
    fmt = query.pop("format", [""])[-1]
    form, cohort = None, dataset.Cohort()
    if query:
        form = ReportForm(query, user=request.user)
        if not form.is_valid():
            ctx = {"form": form, "query": query.urlencode()}
            return render(
                request, "analytics/deidentified_export.html", ctx, status=400
            )
        cohort = ReportSpec.from_dict(form.to_spec_data()).cohort
    ctx = {"form": form, "query": query.urlencode(), "cohort": vars(cohort)}
    if fmt not in exporter.FORMATS:
        return render(request, "analytics/deidentified_export.html", ctx)
    patients = dataset.cohort_queryset(request.user, cohort)
    try:
        made = exporter.export_deidentified(
            patients,
            fmt=fmt,
            min_cell=settings.REGISTRY_MIN_CELL,
            most_rows=exporter.web_row_limit(fmt),
        )
    except exporter.ExportRefused as exc:
        ctx["refused"] = str(exc)
        return render(request, "analytics/deidentified_export.html", ctx, status=400)
    exporter.log(
        request.user,
        "export_deidentified",
        **made.logged(),
        sites=exporter.site_codes(request.user),
        detail={"cohort": {k: _plain(v) for k, v in vars(cohort).items() if v}},
    )
    response = HttpResponse(made.data, content_type=made.content_type)
    response["Content-Disposition"] = content_disposition_header(True, made.name)
    return response


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return list(value) if isinstance(value, tuple) else value


def _visible_runs(request, runs):
    """Return the runs this user may open (ReportRunQuerySet.visible_to): their
    own, and with the right to manage saved reports those over their sites."""
    return runs.visible_to(request.user)


def _get_run(request, pk: int) -> ReportRun:
    """Return the run if this user may open it; else 404, as for no run at all
    (403 would confirm that another user's run exists)."""
    runs = ReportRun.objects.select_related("saved_report", "run_by")
    return get_object_or_404(_visible_runs(request, runs), pk=pk)


@dataclass(frozen=True)
class Download:
    """One download format: its content type, file name and how it is written
    from a result's data (``render(data, table)``)."""

    content_type: str
    filename: str  # formatted with stem= and table=
    render: object


def _figure(fmt: str):
    def render(data, table):
        from analytics import export

        return export.km_rendered(data, fmt).content

    return render


def _csv(data, table):
    from analytics import export

    if table not in export.TABLES:
        raise Http404(f"No table {table!r}; tables: {', '.join(export.TABLES)}")
    return export.to_csv(data, table)


def _report_pdf(data, table):
    from analytics import export

    return export.to_pdf(data)


def _xlsx(data, table):
    from analytics import export

    return export.to_xlsx(data)


def _docx(data, table):
    from analytics import export

    return export.to_docx(data)


def _json(data, table):
    from analytics import export

    return export.to_json(data)


#: Every download, by the format named in its URL. Add a format here (and its
#: link in report_result.html) and both the live result and stored runs offer it.
DOWNLOADS: dict[str, Download] = {
    "png": Download("image/png", "{stem}_km.png", _figure("png")),
    "svg": Download("image/svg+xml", "{stem}_km.svg", _figure("svg")),
    "pdf": Download("application/pdf", "{stem}_km.pdf", _figure("pdf")),
    "report.pdf": Download("application/pdf", "{stem}.pdf", _report_pdf),
    "xlsx": Download(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "{stem}.xlsx",
        _xlsx,
    ),
    "docx": Download(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "{stem}.docx",
        _docx,
    ),
    "json": Download("application/json", "{stem}.json", _json),
    "csv": Download("text/csv", "{stem}_{table}.csv", _csv),
}


def _downloads(url_for, query: str) -> dict[str, str]:
    """Return the download links of a result, keyed by format (csv_<table>)."""
    from analytics.export import TABLES

    suffix = f"?{query}" if query else ""
    links = {
        fmt.replace(".", "_"): url_for(fmt) + suffix
        for fmt in DOWNLOADS
        if fmt != "csv"
    }
    joiner = "&" if query else "?"
    for table in TABLES:
        links[f"csv_{table}"] = f"{url_for('csv')}{suffix}{joiner}table={table}"
    return links


def _png_data_uri(data: dict) -> str:
    import base64

    from analytics import export

    png = export.km_rendered(data, "png").content
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _competing_figure(data: dict) -> dict | None:
    """Return the competing-risks figure as a PNG data URI with its caption (the
    PDF's and the DOCX's), or None without the section or with every group
    hidden. Drawn from the result's data: the page reads nothing more from the
    database."""
    import base64

    from analytics import export
    from analytics.documents.common import competing_caption

    section = data.get("competing_risks")
    if not section or not any(a["groups"] for a in section["analyses"]):
        return None
    png = export.competing_rendered(data, "png").content
    return {
        "src": "data:image/png;base64," + base64.b64encode(png).decode(),
        "caption": competing_caption(data),
    }


def _landmark_query(request, data: dict) -> str | None:
    """Return the query string of the landmark version of this report, if offered."""
    if data.get("suggested_landmark") is None:
        return None
    query = request.GET.copy()
    query["index"] = "landmark"
    query["landmark"] = f"{data['suggested_landmark']:g}"
    return query.urlencode()


def _file_response(data: dict, fmt: str, table: str, result=None) -> HttpResponse:
    """Return the download `fmt` of a result's data; a stored live result
    (analytics.resultcache) serves its figure as rendered for the page."""
    download = DOWNLOADS[fmt]
    stem = (data["spec"].get("name") or "report").strip().replace(" ", "_")[
        :60
    ] or "report"
    if fmt == "png" and result is not None:
        body = result.figure_png()
    else:
        body = download.render(data, table)
    response = HttpResponse(body, content_type=download.content_type)
    filename = download.filename.format(stem=stem, table=table)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
