"""Run an outcome report from a specification file, without the web server.

The statistics (pandas, scipy, matplotlib) are imported by handle(), not here:
``manage.py help`` and ``report --help`` load this module and need none of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.spec import (
    CSV_TABLES,
    MAX_JSON_CHARS,
    InvalidSpec,
    ReportSpec,
    parse_json,
)
from registry.management.output import output_path
from registry.management.users import command_user

FORMATS = ("json", "csv", "xlsx", "pdf", "docx")
#: Formats written as a file, never to standard output.
BINARY = ("xlsx", "pdf", "docx")


class Command(BaseCommand):
    help = (
        "Run an outcome report: --spec SPEC.json --format json|csv|xlsx|pdf|docx "
        "[--output FILE]. See the README for the specification and the JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--spec", required=True, help="Specification file (JSON).")
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument(
            "--output",
            help="Write here instead of standard output (needed for xlsx, pdf, docx).",
        )
        parser.add_argument(
            "--table",
            default="groups",
            help="With --format csv: which table (default groups; "
            f"{', '.join(CSV_TABLES)}).",
        )
        parser.add_argument(
            "--user",
            help="Read only this user's sites (default: every site in the database).",
        )

    def handle(
        self,
        *args,
        spec: str,
        format: str,
        output: str | None,
        table: str,
        user,
        **opts,
    ):
        from analytics import export
        from analytics.reports import ReportError, run_report

        if format in BINARY and not output:
            raise CommandError(
                f"--format {format} writes a binary file: give --output FILE."
            )
        if table not in export.TABLES:
            raise CommandError(
                f"--table: no table {table!r} (tables: {', '.join(export.TABLES)})"
            )
        if output:
            output_path(output)
        reader = self._reader(user)
        data = self._read_spec(spec)
        try:
            parsed = ReportSpec.from_dict(data).with_as_of(timezone.localdate())
            report = run_report(parsed, user=reader)
        except (InvalidSpec, ReportError) as exc:
            if format == "json":
                self._write(json.dumps({"errors": exc.errors}, indent=2), output)
            raise CommandError(
                "The specification cannot be run:\n  " + "\n  ".join(exc.errors)
            ) from None
        result = export.result_json(report)
        if format == "json":
            self._write(export.to_json(result), output)
        elif format == "csv":
            if len(export.tables(result)[table].columns) == 0:
                # an empty file, and success, for a table the report has not
                raise CommandError(
                    f"--table: this report has no {table} table (its "
                    "specification asks for none)"
                )
            self._write(export.to_csv(result, table), output)
        elif format == "xlsx":
            Path(output).write_bytes(export.to_xlsx(result))
        elif format == "docx":
            Path(output).write_bytes(export.to_docx(result))
        else:
            Path(output).write_bytes(export.to_pdf(result))
        if output:
            self.stderr.write(
                f"Wrote {format} report of {report['cohort']['analysed']} patients "
                f"(cut-off {parsed.as_of}) to {output}."
            )

    def _read_spec(self, path: str):
        """Return the data of the specification file, within the JSON limits."""
        try:
            with open(path, encoding="utf-8") as file:
                # one character more than the limit is enough to refuse it
                text = file.read(MAX_JSON_CHARS + 1)
        except FileNotFoundError:
            raise CommandError(f"--spec: no file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"--spec: cannot read {path} ({exc})") from None
        try:
            return parse_json(text)
        except InvalidSpec as exc:
            raise CommandError(f"--spec: {path}: {exc}") from None

    def _reader(self, username: str | None):
        if not username:
            from analytics.variables import AllSites

            # Whoever runs manage.py holds the database: every site.
            return AllSites()
        # as the report pages and the API hold their users
        return command_user(
            username,
            permission="analytics.run_report",
            may_not="run reports",
            who="analysts and data managers",
        )

    def _write(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text)
        else:
            self.stdout.write(text)
