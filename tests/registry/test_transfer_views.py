"""The pages and command for data in and out: dictionary, import, exports."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse

from registry import exporter
from registry.models import Patient, TransferLog
from tests.factories import make_full_patient, make_site, make_user
from tests.registry.import_files import cohort, csv_file, patient_row
from tests.registry.test_access_matrix import REPORT_QUERY


def zipped(files) -> bytes:
    return exporter.zip_bytes(dict(files))


class TransferPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.north = make_site(code="NTH", name="North")
        cls.south = make_site(code="STH", name="South")
        # Nora, data manager at North; Ann, analyst at North; Nina, research nurse
        cls.nora = make_user("nora", group="Data manager", sites=[cls.north])
        cls.ann = make_user("ann", group="Analyst", sites=[cls.north])
        cls.nina = make_user("nina", group="Data entry", sites=[cls.north])
        cls.own = [make_full_patient(site=cls.north) for _ in range(5)]
        cls.other = [make_full_patient(site=cls.south) for _ in range(5)]

    def upload(self, files, **extra):
        self.client.force_login(self.nora)
        data = {
            "site": self.north.pk,
            "files": SimpleUploadedFile("trial.zip", zipped(files)),
        }
        return self.client.post(reverse("registry:import_records"), data | extra)

    def test_dictionary_page_and_downloads(self):
        self.client.force_login(self.nina)
        page = self.client.get(reverse("registry:data_dictionary"))
        self.assertContains(page, "total_dose_gy")
        self.assertContains(page, 'id="follow_up"')
        for fmt, kind in (
            ("csv", "text/csv"),
            ("json", "application/json"),
            ("xlsx", "spreadsheetml"),
        ):
            response = self.client.get(
                reverse("registry:data_dictionary_download", args=[fmt])
            )
            self.assertIn(kind, response["Content-Type"])
            self.assertIn("attachment", response["Content-Disposition"])

    def test_import_page_dry_run_lists_problems_and_writes_nothing(self):
        files = [csv_file("patient", [patient_row(1), patient_row(2, sex="Q")])]
        response = self.upload(files, commit="1")
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "1 problem", status_code=400)
        self.assertContains(response, "unknown code", status_code=400)
        self.assertEqual(Patient.objects.filter(site=self.north).count(), 5)

    def test_import_page_commit_records_the_user(self):
        response = self.upload(cohort(2), commit="1")
        self.assertContains(response, "Imported")
        patient = Patient.objects.get(source_record_id="SRC1")
        record = patient.history.get()
        self.assertEqual(record.history_user, self.nora)
        self.assertEqual(record.history_change_reason, "import of trial.zip by nora")

    def test_import_page_check_writes_nothing(self):
        response = self.upload(cohort(2), check="1")
        self.assertContains(response, "No problems found")
        self.assertFalse(Patient.objects.filter(source_record_id="SRC1").exists())

    def test_import_only_to_own_sites(self):
        self.client.force_login(self.nora)
        data = {
            "site": self.south.pk,
            "files": SimpleUploadedFile("trial.zip", zipped(cohort(1))),
            "commit": "1",
        }
        response = self.client.post(reverse("registry:import_records"), data)
        self.assertContains(response, "Select a valid choice")
        self.assertEqual(Patient.objects.filter(site=self.south).count(), 5)

    def test_full_export_is_of_own_sites_and_logged(self):
        self.client.force_login(self.nora)
        response = self.client.get(reverse("registry:export_full"), {"format": "csv"})
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            patients = archive.read("patient.csv").decode()
        for patient in self.own:
            self.assertIn(patient.registry_number, patients)
        for patient in self.other:
            self.assertNotIn(patient.registry_number, patients)
        log = TransferLog.objects.get()
        self.assertEqual(
            (log.action, log.user, log.patients, log.sites),
            ("export_full", self.nora, 5, "NTH"),
        )

    def export_pages(self):
        """Return each export page with a user who may use it."""
        return (
            (self.nora, reverse("registry:export_full")),
            (self.ann, reverse("analytics:deidentified_export")),
        )

    def test_an_xlsx_export_too_long_for_a_sheet_is_refused_on_the_page(self):
        for user, url in self.export_pages():
            self.client.force_login(user)
            # five patients, each with one row in every table but the deaths
            with mock.patch.object(exporter, "XLSX_MAX_ROWS", 5):
                response = self.client.get(url, {"format": "xlsx"})
            with self.subTest(url=url):
                self.assertContains(
                    response,
                    "An XLSX sheet holds at most 4 rows under its header, and the "
                    "patient table has 5.",
                    status_code=400,
                )
                self.assertFalse(TransferLog.objects.exists())

    def test_an_xlsx_export_too_large_for_a_web_page_is_refused_there(self):
        # North's 5 patients: 5 rows in each of 7 tables, no deaths
        for user, url in self.export_pages():
            self.client.force_login(user)
            with self.subTest(url=url), self.settings(REGISTRY_WEB_XLSX_ROWS=34):
                logged = TransferLog.objects.count()
                response = self.client.get(url, {"format": "xlsx"})
                self.assertContains(
                    response,
                    "These patients&#x27; records make 35 rows, and an XLSX workbook "
                    "of more than 34 takes longer",
                    status_code=400,
                )
                self.assertContains(
                    response, "manage.py export_records --format xlsx", status_code=400
                )
                self.assertEqual(TransferLog.objects.count(), logged)
                # CSV has a limit of its own (REGISTRY_WEB_EXPORT_ROWS)
                response = self.client.get(url, {"format": "csv"})
                self.assertEqual(response.status_code, 200)
            with self.subTest(url=url), self.settings(REGISTRY_WEB_XLSX_ROWS=35):
                response = self.client.get(url, {"format": "xlsx"})
                self.assertEqual(response.status_code, 200)

    def test_an_export_too_large_for_a_web_page_is_refused_there_in_any_format(self):
        # North's 5 patients: 5 rows in each of 7 tables, no deaths
        for user, url in self.export_pages():
            self.client.force_login(user)
            for fmt in ("csv", "dta"):
                with (
                    self.subTest(url=url, fmt=fmt),
                    self.settings(REGISTRY_WEB_EXPORT_ROWS=34),
                ):
                    logged = TransferLog.objects.count()
                    response = self.client.get(url, {"format": fmt})
                    self.assertContains(
                        response,
                        "These patients&#x27; records make 35 rows, and an export of "
                        "more than 34 takes longer",
                        status_code=400,
                    )
                    self.assertContains(
                        response,
                        f"manage.py export_records --format {fmt}",
                        status_code=400,
                    )
                    self.assertEqual(TransferLog.objects.count(), logged)
                with (
                    self.subTest(url=url, fmt=fmt),
                    self.settings(REGISTRY_WEB_EXPORT_ROWS=35),
                ):
                    response = self.client.get(url, {"format": fmt})
                    self.assertEqual(response.status_code, 200)

    def test_deidentified_export_for_analysts(self):
        self.client.force_login(self.ann)
        url = reverse("analytics:deidentified_export")
        response = self.client.get(url, {"format": "csv"})
        self.assertEqual(response.status_code, 200)
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            text = "".join(archive.read(n).decode() for n in archive.namelist())
        self.assertEqual(text.count("\nS"), 5 * 7)  # own site: 5 patients x 7 kinds
        for patient in self.own + self.other:
            self.assertNotIn(patient.registry_number, text)
            self.assertNotIn(patient.mrn, text)
        log = TransferLog.objects.get()
        self.assertEqual((log.action, log.patients), ("export_deidentified", 5))

    def test_deidentified_export_of_a_report_cohort_below_the_minimum(self):
        self.client.force_login(self.ann)
        url = reverse("analytics:deidentified_export")
        response = self.client.get(f"{url}?{REPORT_QUERY}&sexes=M&format=csv")
        self.assertContains(response, "fewer than 5 patients", status_code=400)
        self.assertFalse(TransferLog.objects.exists())

    def test_nurses_may_not_export(self):
        self.client.force_login(self.nina)
        url = reverse("analytics:deidentified_export")
        self.assertEqual(self.client.get(url, {"format": "csv"}).status_code, 403)
        url = reverse("registry:export_full")
        self.assertEqual(self.client.get(url, {"format": "csv"}).status_code, 403)


class ImportCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.site = make_site(code="NTH", name="North")

    def write(self, tmp: Path, files) -> Path:
        tmp.mkdir(exist_ok=True)
        for name, data in files:
            (tmp / name).write_bytes(data)
        return tmp

    def test_dry_run_by_default_and_commit(self):
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = self.write(Path(folder) / "trial", cohort(3))
            out = io.StringIO()
            call_command("import_records", str(path), "--site", "NTH", stdout=out)
            self.assertIn("Dry run: no problems", out.getvalue())
            self.assertEqual(Patient.objects.count(), 0)
            call_command(
                "import_records", str(path), "--site", "NTH", "--commit", stdout=out
            )
            self.assertEqual(Patient.objects.count(), 3)
            self.assertRegex(out.getvalue(), r"Imported: (\d+) rows \(\1 created\)")
            # the same files again: said to change nothing (an audit found it said
            # "Imported: 25 rows" as if it had written them again)
            again = io.StringIO()
            call_command(
                "import_records", str(path), "--site", "NTH", "--commit", stdout=again
            )
            self.assertRegex(again.getvalue(), r"Imported: (\d+) rows \(\1 unchanged\)")

    def test_problems_exit_non_zero_with_the_list(self):
        import tempfile

        files = [csv_file("patient", [patient_row(1, sex="Q"), patient_row(2)])]
        with tempfile.TemporaryDirectory() as folder:
            path = self.write(Path(folder) / "bad", files)
            out = io.StringIO()
            with self.assertRaisesMessage(CommandError, "1 problem(s) found"):
                call_command(
                    "import_records",
                    str(path),
                    "--site",
                    "NTH",
                    "--commit",
                    stdout=out,
                )
        self.assertIn(
            "patient.csv, row 2, column sex ('Q'): unknown code", out.getvalue()
        )
        self.assertEqual(Patient.objects.count(), 0)

    def test_unknown_site(self):
        with self.assertRaisesMessage(CommandError, "No site with the code 'XX'"):
            call_command("import_records", ".", "--site", "XX", stdout=io.StringIO())

    def test_the_user_credited_must_be_one_who_may_import_at_the_site(self):
        # Found by an audit: --user sam (a nurse of another site) committed, and
        # the history credited him with the import.
        import tempfile

        south = make_site(code="STH", name="South")
        make_user("sam", group="Data entry", sites=[south])
        make_user("sue", group="Data manager", sites=[south])
        make_user("nora", group="Data manager", sites=[self.site])
        with tempfile.TemporaryDirectory() as folder:
            path = str(self.write(Path(folder) / "trial", cohort(1)))
            for user, says in (
                ("sam", "sam may not import records"),
                ("sue", "No site with the code 'NTH' among sue's"),
            ):
                with self.subTest(user=user):
                    with self.assertRaisesMessage(CommandError, says):
                        call_command(
                            "import_records",
                            path,
                            *("--site", "NTH", "--commit", "--user", user),
                            stdout=io.StringIO(),
                        )
                    self.assertFalse(Patient.objects.exists())
            call_command(
                "import_records",
                path,
                *("--site", "NTH", "--commit", "--user", "nora"),
                stdout=io.StringIO(),
            )
            self.assertEqual(
                Patient.objects.get().history.get().history_user.username, "nora"
            )
