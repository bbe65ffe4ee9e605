"""Pages for data in and out: the data dictionary, the import, the full export.

The de-identified export for analysts is a report page (analytics.views), since
it exports a report's cohort.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from registry import dictionary, exporter, importer
from registry.models import Patient, Site, TransferLog

DICTIONARY_FORMATS = {
    "csv": ("text/csv", dictionary.as_csv),
    "json": ("application/json", dictionary.as_json),
    "xlsx": (exporter.CONTENT_TYPES["xlsx"], dictionary.as_xlsx),
}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)]


class ImportForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    files = MultipleFileField(
        widget=MultipleFileInput(attrs={"accept": ".csv,.zip,.xlsx"}),
        help_text="One .xlsx workbook (a sheet per record kind), one .zip of CSV "
        "files, or several CSV files, each named after its record kind.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.for_user(user)


class ExportForm(forms.Form):
    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, empty_label="All my sites"
    )
    format = forms.ChoiceField(
        choices=[("csv", "Zip of CSV files"), ("xlsx", "XLSX"), ("dta", "Stata")]
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.for_user(user)


def file_response(export: exporter.ExportFile) -> HttpResponse:
    response = HttpResponse(export.data, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.name)
    return response


@login_required
def data_dictionary(request):
    """Show every variable: name, kind, label, type, unit, codes, rule."""
    kinds = [
        (kind, [e for e in dictionary.entries() if e.record_kind == kind.name])
        for kind in dictionary.record_kinds()
    ]
    return render(request, "registry/data_dictionary.html", {"kinds": kinds})


@login_required
def data_dictionary_download(request, fmt: str):
    """Return the dictionary as CSV, JSON or XLSX."""
    if fmt not in DICTIONARY_FORMATS:
        raise Http404("No such format.")
    content_type, build = DICTIONARY_FORMATS[fmt]
    response = HttpResponse(build(), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        True, f"registry-dictionary.{fmt}"
    )
    return response


@permission_required("registry.import_records", raise_exception=True)
def import_records(request):
    """Check an import file (dry run) and, when asked and clean, import it."""
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    result = None
    if request.method == "POST" and form.is_valid():
        uploads = form.cleaned_data["files"]
        result = importer.run_import(
            [(f.name, f.read()) for f in uploads],
            site=form.cleaned_data["site"],
            user=request.user,
            commit="commit" in request.POST,
            file_name=", ".join(f.name for f in uploads),
        )
    ctx = {"form": form, "result": result}
    status = 400 if result is not None and not result.ok else 200
    return render(request, "registry/import_records.html", ctx, status=status)


@permission_required("registry.export_full", raise_exception=True)
def export_full(request):
    """Download every record of the user's sites (or one), with identifiers."""
    form = ExportForm(request.GET or None, user=request.user)
    if not request.GET or not form.is_valid():
        return render(request, "registry/export_full.html", {"form": form})
    sites = Site.objects.for_user(request.user)
    if form.cleaned_data["site"]:
        sites = sites.filter(pk=form.cleaned_data["site"].pk)
    patients = Patient.objects.filter(site__in=sites)
    try:
        export = exporter.export_full(
            patients,
            fmt=form.cleaned_data["format"],
            most_rows=exporter.web_row_limit(form.cleaned_data["format"]),
        )
    except exporter.ExportRefused as exc:
        ctx = {"form": form, "refused": str(exc)}
        return render(request, "registry/export_full.html", ctx, status=400)
    exporter.log(
        request.user,
        TransferLog.Action.EXPORT_FULL,
        **export.logged(),
        sites=sites.values_list("code", flat=True),
    )
    return file_response(export)
