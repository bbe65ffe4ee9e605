"""Import patients and their records from CSV or XLSX files (dry run by default)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry import importer
from registry.management.users import command_user
from registry.models import Site


class Command(BaseCommand):
    help = (
        "Check import files (a folder or .zip of CSV files named after the record "
        "kinds, or one XLSX workbook with a sheet per kind; columns as in the data "
        "dictionary) and list every problem by file, row and column. With --commit "
        "and no problem, write them all in one transaction. Exits with status 1 "
        "when there is any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A folder of CSV files, a .zip, an .xlsx.")
        parser.add_argument(
            "--site", required=True, help="The code of the site the patients are at."
        )
        parser.add_argument(
            "--commit",
            action="store_true",
            help="Write the records if the file has no problem (default: dry run).",
        )
        parser.add_argument(
            "--user",
            help="The registry user the history records as making the changes: one "
            "who may import at the site (default: none; the reason names the "
            "command-line user).",
        )

    def handle(self, *args, path: str, site: str, commit: bool, user, **options):
        found = Site.objects.filter(code=site).first()
        if found is None:
            raise CommandError(f"No site with the code {site!r}.")
        account = None
        if user:
            # the history credits the import to this user: one who may make it,
            # as the import page holds its users
            account = command_user(
                user,
                permission="registry.import_records",
                may_not="import records",
                who="data managers",
            )
            if not Site.objects.for_user(account).filter(pk=found.pk).exists():
                raise CommandError(f"No site with the code {site!r} among {user}'s.")
        if not Path(path).exists():
            raise CommandError(f"{path}: no such file or folder.")
        result = importer.run_import(
            path,
            site=found,
            user=account,
            commit=commit,
            file_name=Path(path).name,
            progress=lambda step: self.stderr.write(f"{step}..."),
        )
        for kind, counts in result.counts.items():
            summary = ", ".join(
                f"{n} {outcome}" for outcome, n in sorted(counts.items())
            )
            self.stdout.write(f"{kind}: {summary or 'no rows'}")
        if not result.ok:
            for problem in result.problems:
                self.stdout.write(str(problem))
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was written."
            )
        if result.committed:
            self.stdout.write(
                f"Imported: {result.rows} rows ({result.outcomes()}), "
                f"{result.patients} patients."
            )
        else:
            self.stdout.write(
                f"Dry run: no problems in {result.rows} rows; nothing written "
                "(add --commit to write)."
            )
