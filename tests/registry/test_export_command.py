"""The export_records command: the export page's files, written to a file (CSV a
chunk of rows at a time), for a registry of any size."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

from django.core.management import CommandError, call_command

from registry import exporter
from registry.models import Patient, TransferLog
from tests.cast import CastTestCase
from tests.factories import make_death, make_full_patient
from tests.registry.test_exporter import members, xlsx_cells


class ExportCommandTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        for site in (cls.north, cls.north, cls.south):
            make_death(make_full_patient(site=site))

    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)

    def export(self, *args) -> Path:
        path = self.folder / "export.zip"
        call_command("export_records", str(path), *args, stdout=mock.Mock())
        return path

    def test_it_writes_the_export_pages_file_and_logs_it_with_the_user(self):
        path = self.export("--user", "mark")
        patients = Patient.objects.filter(site__in=[self.north, self.south])
        page = exporter.export_full(patients, fmt="csv")
        self.assertEqual(path.read_bytes(), page.data)
        log = TransferLog.objects.get()
        self.assertEqual(
            (log.action, log.user, log.patients, log.rows, log.sites),
            (TransferLog.Action.EXPORT_FULL, self.mark, 3, page.rows, "NTH,STH"),
        )
        self.assertEqual(log.detail, {"via": "export_records"})

    def test_xlsx_and_stata_are_the_export_pages_files(self):
        patients = Patient.objects.filter(site__in=[self.north, self.south])
        for fmt in ("xlsx", "dta"):
            with self.subTest(fmt=fmt):
                path = self.export("--user", "mark", "--format", fmt)
                page = exporter.export_full(patients, fmt=fmt)
                if fmt == "xlsx":  # its zip members carry the time they were written
                    self.assertEqual(
                        xlsx_cells(path.read_bytes()), xlsx_cells(page.data)
                    )
                else:
                    self.assertEqual(path.read_bytes(), page.data)
                log = TransferLog.objects.latest("pk")
                self.assertEqual((log.patients, log.rows), (3, page.rows))

    def test_an_xlsx_too_long_for_a_sheet_is_refused_and_nothing_written(self):
        with mock.patch.object(exporter, "XLSX_MAX_ROWS", 3):
            with self.assertRaisesMessage(
                CommandError,
                "An XLSX sheet holds at most 2 rows under its header, and the "
                "patient table has 3.",
            ):
                self.export("--user", "mark", "--format", "xlsx")
        self.assertEqual(list(self.folder.iterdir()), [])
        self.assertFalse(TransferLog.objects.exists())

    def test_the_deidentified_export_for_an_analyst(self):
        for site in (self.north, self.south):  # 5 patients: the minimum cell
            make_full_patient(site=site)
        path = self.export("--user", "ann", "--deidentified")
        patients = Patient.objects.filter(site__in=[self.north, self.south])
        files = members(path.read_bytes())
        text = "".join(data.decode() for data in files.values())
        for patient in patients:
            self.assertNotIn(patient.registry_number, text)
            self.assertNotIn(patient.mrn, text)
        self.assertEqual(files["patient.csv"].decode().count("\nS"), 5)
        log = TransferLog.objects.get()
        self.assertEqual(
            (log.action, log.user, log.patients, log.sites, log.detail),
            ("export_deidentified", self.ann, 5, "NTH,STH", {"via": "export_records"}),
        )
        # the page's tables, in any format
        page = exporter.export_deidentified(patients, fmt="dta", min_cell=5)
        path = self.export("--user", "ann", "--deidentified", "--format", "dta")
        self.assertEqual(sorted(members(path.read_bytes())), sorted(members(page.data)))
        # nurses may not; data managers may; a small cohort is refused
        with self.assertRaisesMessage(CommandError, "nina may not make the de-id"):
            self.export("--user", "nina", "--deidentified")
        self.export("--user", "mark", "--deidentified")
        with self.assertRaisesMessage(CommandError, "fewer than 5 patients"):
            self.export("--user", "ann", "--deidentified", "--site", "STH")
        self.assertEqual(TransferLog.objects.count(), 3)

    def test_one_site(self):
        path = self.export("--user", "mark", "--site", "STH")
        south = Patient.objects.filter(site=self.south)
        self.assertEqual(path.read_bytes(), exporter.export_full(south, fmt="csv").data)
        self.assertEqual(TransferLog.objects.get().patients, 1)

    def test_refused_with_what_and_nothing_written(self):
        cases = {
            ("--user", "nobody"): "--user: no user called 'nobody'",
            ("--user", "nina"): "nina may not make the full export",
            ("--user", "mark", "--site", "XXX"): "No site with the code 'XXX'",
        }
        for args, message in cases.items():
            with self.subTest(args=args):
                with self.assertRaisesMessage(CommandError, message):
                    self.export(*args)
        with self.assertRaisesMessage(CommandError, "no such folder"):
            call_command(
                "export_records",
                str(self.folder / "missing" / "export.zip"),
                "--user",
                "mark",
            )
        with self.assertRaisesMessage(CommandError, "is a folder"):
            call_command("export_records", str(self.folder), "--user", "mark")
        # a folder that takes no file (a traceback, found by an audit)
        with self.assertRaisesMessage(CommandError, "cannot write in /sys"):
            call_command("export_records", "/sys/export.zip", "--user", "mark")
        self.assertEqual(list(self.folder.iterdir()), [])
        self.assertFalse(TransferLog.objects.exists())

    def test_a_failed_export_leaves_no_file(self):
        failing = mock.patch.object(
            exporter, "write_csv", side_effect=OSError("disk full")
        )
        with failing, self.assertRaisesMessage(OSError, "disk full"):
            self.export("--user", "mark")
        self.assertEqual(list(self.folder.iterdir()), [])
        self.assertFalse(TransferLog.objects.exists())
