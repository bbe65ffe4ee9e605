"""Write the full or de-identified export of a user's sites to a file, for a
registry of any size."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry import exporter
from registry.management.output import output_path
from registry.management.users import command_user
from registry.models import Patient, Site, TransferLog


class Command(BaseCommand):
    help = (
        "Write the full export (identifiers included) of the sites USER may "
        "export, or of one of them, to a file laid out as the export page's and "
        "the import's: a .zip of CSV files (the default), an XLSX workbook or a "
        ".zip of Stata files; with --deidentified, the de-identified export of "
        "those patients (as the de-identified export page's, without a report's "
        "cohort filters). CSV and XLSX are read and written a chunk of rows at a "
        "time, so the memory they take does not grow with the registry; a Stata "
        "file is made from its table held whole, one table at a time. There is no "
        "request's time or size limit, as on the pages. The export is logged as "
        "the page's is, with USER."
    )

    def add_arguments(self, parser):
        parser.add_argument("output", help="The .zip file to write.")
        parser.add_argument(
            "--user",
            required=True,
            help="The registry user exporting: their sites, their permission, the log.",
        )
        parser.add_argument("--site", help="The code of one of the user's sites.")
        parser.add_argument(
            "--format",
            choices=exporter.FORMATS,
            default="csv",
            help="csv (a .zip of CSV files, the default), xlsx or dta (a .zip of "
            "Stata files).",
        )
        parser.add_argument(
            "--deidentified",
            action="store_true",
            help="The de-identified export (Safe Harbor; needs the permission "
            "registry.export_deidentified), not the full one.",
        )

    def handle(
        self,
        *args,
        output: str,
        user: str,
        site: str | None,
        format: str,
        deidentified: bool,
        **options,
    ):
        action = "export_deidentified" if deidentified else "export_full"
        what, who = (
            ("de-identified", "analysts and data managers")
            if deidentified
            else ("full", "data managers")
        )
        account = command_user(
            user,
            permission=f"registry.{action}",
            may_not=f"make the {what} export",
            who=who,
        )
        sites = Site.objects.for_user(account)
        if site:
            sites = sites.filter(code=site)
            if not sites.exists():
                raise CommandError(f"No site with the code {site!r} among {user}'s.")
        path = output_path(output, option="output")
        patients = Patient.objects.filter(site__in=sites)
        try:
            if deidentified:
                exporter.check_cohort(patients, min_cell=settings.REGISTRY_MIN_CELL)
            exporter.check_size(patients, format)
        except exporter.ExportRefused as exc:
            raise CommandError(str(exc)) from exc
        # written beside the output and renamed at the end: a failed export
        # leaves no partial file
        handle, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out:
                count, rows = exporter.write_export(
                    patients, out, fmt=format, deidentified=deidentified
                )
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        exporter.log(
            account,
            TransferLog.Action(action),
            file_name=path.name,
            patients=count,
            rows=rows,
            sites=sites.values_list("code", flat=True),
            detail={"via": "export_records"},
        )
        self.stdout.write(f"Exported {count} patients, {rows} rows, to {path}.")
