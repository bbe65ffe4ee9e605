"""The bulk import: every problem found, all or nothing, history, no per-row queries."""

from __future__ import annotations

import datetime
import io

import pytest
from django.apps import apps
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from registry import importer
from registry.models import (
    DerivedFacts,
    FollowUp,
    Operation,
    Patient,
    PrimaryTumour,
    TransferLog,
)
from tests.factories import make_full_patient, make_site, make_user
from tests.registry.import_files import (
    cohort,
    csv_file,
    death_row,
    follow_up_row,
    operation_row,
    patient_row,
    tumour_row,
)


def history_rows() -> int:
    return sum(
        model.history.count() for model in (Patient, PrimaryTumour, Operation, FollowUp)
    )


def one_batch() -> int:
    """Return the most rows every registry table takes in one bulk INSERT here."""
    return min(
        connection.ops.bulk_batch_size(model._meta.concrete_fields, [None] * 1000)
        for model in apps.get_app_config("registry").get_models()
    )


class ImportTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.site = make_site(code="NTH", name="North Hospital")
        # Nora, a data manager at North
        cls.nora = make_user("nora", group="Data manager", sites=[cls.site])

    def run_import(self, files, *, commit=True, name="trial.zip"):
        return importer.run_import(
            files, site=self.site, user=self.nora, commit=commit, file_name=name
        )

    def where(self, result) -> set[tuple]:
        return {(p.source, p.row, p.column) for p in result.problems}


class DryRunTests(ImportTestCase):
    def test_dry_run_lists_every_problem_with_its_row_and_column(self):
        files = [
            csv_file(
                "patient",
                [
                    patient_row(1),
                    patient_row(2, sex="Q"),  # unknown code
                    patient_row(3, date_of_birth="17/05/1950"),  # bad date
                    patient_row(4, mrn="M0000001"),  # duplicate MRN of row 2
                ],
            ),
            csv_file(
                "primary_tumour",
                [tumour_row(1), tumour_row(2, clinical_m="M9")],
            ),
            csv_file(
                "operation",
                [
                    operation_row(1),
                    operation_row(1),  # duplicate: same patient and date
                    operation_row(99),  # unknown patient
                    operation_row(
                        2,
                        date="2003-01-01",
                        margin="R0",
                        primary_procedure="none",
                        liver_procedure="none",
                    ),
                ],
            ),
            # death before the diagnosis: chronology
            csv_file("death", [death_row(1, date="2003-12-31")]),
        ]
        result = self.run_import(files, commit=False)
        self.assertFalse(result.ok)
        self.assertLessEqual(
            {
                ("patient.csv", 3, "sex"),
                ("patient.csv", 4, "date_of_birth"),
                ("patient.csv", 5, "mrn"),
                ("primary_tumour.csv", 3, "clinical_m"),
                ("operation.csv", 3, "date"),
                ("operation.csv", 4, "source_record_id"),
                ("operation.csv", 5, "margin"),
                ("death.csv", 2, "date"),
            },
            self.where(result),
        )
        messages = " | ".join(str(p) for p in result.problems)
        self.assertIn("unknown code", messages)
        self.assertIn("bad date", messages)
        self.assertIn("duplicate", messages)
        self.assertIn("unknown patient", messages)
        self.assertIn("before the diagnosis", messages)
        self.assertIn("'Q'", messages)
        self.assertEqual(Patient.objects.count(), 0)

    def test_a_clean_dry_run_writes_nothing(self):
        result = self.run_import(cohort(3), commit=False)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual(result.counts["patient"]["created"], 3)
        self.assertFalse(result.committed)
        self.assertEqual(Patient.objects.count(), 0)

    def test_an_operation_before_a_new_patients_birth_is_refused(self):
        # The file's own date of birth is the one checked (read from the file,
        # not from the database, where the new patient is not yet).
        files = [
            csv_file("patient", [patient_row(1, date_of_birth="1950-03-01")]),
            csv_file("primary_tumour", [tumour_row(1, diagnosis_date="1960-01-10")]),
            csv_file("operation", [operation_row(1, date="1949-08-15")]),
        ]
        result = self.run_import(files, commit=False)
        self.assertIn(("operation.csv", 2, "date"), self.where(result))
        messages = " | ".join(str(p) for p in result.problems)
        self.assertIn(
            "Operation date (1949-08-15) is before the date of birth", messages
        )
        self.assertNotIn("1950-03-01", messages)  # an identifier (test below)

    def test_identifier_values_are_not_repeated_in_problems(self):
        # not a date, a date in the future, a date before the earliest birth:
        # the rules' messages quote the date they read; the problem must not
        for born in ("1950-13-01", "2095-03-04", " 1801-02-03 "):
            with self.subTest(born=born):
                files = [csv_file("patient", [patient_row(1, date_of_birth=born)])]
                result = self.run_import(files, commit=False)
                (problem,) = result.problems
                self.assertEqual(problem.column, "date_of_birth")
                self.assertNotIn(born.strip(), str(problem))
                self.assertNotIn(born.strip(), problem.message)

    def test_an_mrn_with_a_control_character_is_a_problem_not_shown(self):
        files = [csv_file("patient", [patient_row(1, mrn="M12\x1b345")])]
        result = self.run_import(files, commit=False)
        (problem,) = result.problems
        self.assertEqual((problem.row, problem.column), (2, "mrn"))
        self.assertIn("no line breaks or control characters", problem.message)
        self.assertNotIn("M12", str(problem))

    def test_unknown_file_and_column_are_named(self):
        files = [
            csv_file("patient", [patient_row(1, favourite_colour="blue")]),
            ("surgery.csv", b"a,b\n1,2\n"),
        ]
        result = self.run_import(files, commit=False)
        self.assertIn(("patient.csv", 1, "favourite_colour"), self.where(result))
        self.assertIn(("surgery.csv", None, ""), self.where(result))

    def test_columns_named_twice_or_not_at_all_are_named_by_place(self):
        # Found by an audit: of two "sex" columns the last won in silence, and a
        # blank header cell was "unknown column" with no name to find it by.
        twice = (
            b"source_record_id,mrn,date_of_birth,sex,presenting_symptom,sex\n"
            b"E1,M1,1950-01-01,F,none,M\n"
        )
        unnamed = (
            b"source_record_id,mrn,date_of_birth,sex,,presenting_symptom\n"
            b"E1,M1,1950-01-01,F,,none\n"
            b"E2,M2,1950-01-01,F,oops,none\n"
        )
        book = Workbook()
        book.active.title = "patient"
        book.active.append(["source_record_id", "mrn", None, "sex"])
        book.active.append(["E1", "M1", "stray", "F"])
        saved = io.BytesIO()
        book.save(saved)
        for name, data, where, says in (
            ("patient.csv", twice, (1, "sex"), "given twice (column 4 and column 6)"),
            ("patient.csv", unnamed, (3, "column 5"), "column without a name"),
            ("trial.xlsx", saved.getvalue(), (2, "column C"), "without a name"),
        ):
            with self.subTest(name=name, where=where):
                result = self.run_import([(name, data)])
                self.assertFalse(result.committed)
                found = {(p.row, p.column): p.message for p in result.problems}
                self.assertIn(says, found.get(where, ""), found)
                self.assertFalse(Patient.objects.exists())

    def test_a_column_with_no_name_and_no_value_is_left_out(self):
        # a trailing comma in every row, as spreadsheets often save
        data = (
            b"source_record_id,mrn,date_of_birth,sex,presenting_symptom,\n"
            b"E1,M1,1950-01-01,F,none,\n"
        )
        result = self.run_import([("patient.csv", data)], commit=False)
        self.assertEqual(result.problems, [])

    def test_a_row_longer_than_the_header_is_a_problem_not_cut(self):
        # an unquoted comma in the last column's text: the rest was dropped
        data = (
            b"source_record_id,date,contact_type,disease_status,notes\n"
            b"SRC1,2005-01-10,clinic,ned,CT clear, CEA normal, see letter\n"
        )
        files = [
            csv_file("patient", [patient_row(1)]),
            csv_file("primary_tumour", [tumour_row(1)]),
            ("follow_up.csv", data),
        ]
        result = self.run_import(files)
        self.assertFalse(result.committed)
        (problem,) = result.problems
        self.assertEqual((problem.source, problem.row), ("follow_up.csv", 2))
        self.assertIn("7 cells, where row 1 names 5 columns", problem.message)
        self.assertIn("double quotes", problem.message)
        self.assertFalse(Patient.objects.exists())

    def test_a_file_not_in_utf8_names_the_row_to_look_at(self):
        data = "source_record_id,mrn\nE1,M1\nE2,Müller\n".encode("latin-1")
        result = self.run_import([("patient.csv", data)], commit=False)
        (problem,) = result.problems
        self.assertIn("row 3 is not UTF-8 text", problem.message)
        self.assertIn("save the file as CSV UTF-8", problem.message)

    def test_dates_and_numbers_are_read_as_the_forms_read_them(self):
        # Found by an audit: Python's ISO parser read a week date and 20040110
        # as dates, a time of 25:99 was cut off, a decimal comma and 1e1 were
        # read as numbers, where the forms refuse each; 2004-1-10, which the
        # forms read, was refused
        def problems(**values):
            rows = [patient_row(1), tumour_row(1, **values)]
            files = [
                csv_file("patient", rows[:1]),
                csv_file("primary_tumour", rows[1:]),
            ]
            return {
                (p.column, p.message.split(":")[0])
                for p in self.run_import(files, commit=False).problems
            }

        for text in ("2004-W02-6", "20040110", "2004-01-10T25:99", "10/01/2004"):
            with self.subTest(date=text):
                self.assertIn(
                    ("diagnosis_date", "bad date"), problems(diagnosis_date=text)
                )
        for text in ("2004-1-10", "2004-01-10T00:00:00", "2004-01-10 09:30"):
            with self.subTest(date=text):
                self.assertEqual(problems(diagnosis_date=text), set())
        self.assertIn(("cea_ng_ml", "not a number"), problems(cea_ng_ml="12,5"))
        self.assertEqual(problems(cea_ng_ml="12.5"), set())

    def test_files_that_cannot_be_read_are_named_not_crashed_on(self):
        import zipfile

        # a CSV cell longer than the csv module reads (131,072 characters)
        huge = b'source_record_id,sex\n"' + b"x" * 200_000 + b'",F\n'
        # an XLSX whose sheet is not XML
        book = Workbook()
        book.active.title = "patient"
        book.active.append(["source_record_id"])
        saved = io.BytesIO()
        book.save(saved)
        broken = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(saved.getvalue())) as old,
            zipfile.ZipFile(broken, "w") as new,
        ):
            for item in old.infolist():
                data = old.read(item)
                if item.filename.startswith("xl/worksheets/"):
                    data = b"<worksheet><sheetData><row"
                new.writestr(item, data)
        # a .zip whose member is encrypted (the flag set in both headers)
        locked = io.BytesIO()
        with zipfile.ZipFile(locked, "w") as archive:
            archive.writestr("patient.csv", "source_record_id\nSRC1\n")
        locked = bytearray(locked.getvalue())
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = locked.index(signature) + offset
            locked[at] |= 0x1
        files = [
            ("patient.csv", huge),
            ("trial.xlsx", broken.getvalue()),
            ("trial.zip", bytes(locked)),
        ]
        result = self.run_import(files, commit=False)
        self.assertFalse(result.ok)
        problems = {p.source: p.message for p in result.problems}
        for name in ("patient.csv", "trial.xlsx", "trial.zip"):
            self.assertIn("cannot be read", problems.get(name, ""), problems)
        self.assertIn("row 2", problems["patient.csv"])
        self.assertFalse(Patient.objects.exists())

    def test_another_sites_patient_is_refused(self):
        south = make_site(code="STH", name="South")
        other = make_full_patient(site=south)
        files = [
            csv_file(
                "follow_up",
                [
                    follow_up_row(
                        0, source_record_id="", registry_number=other.registry_number
                    )
                ],
            )
        ]
        result = self.run_import(files, commit=False)
        (problem,) = result.problems
        self.assertIn("no patient of site NTH has this number", problem.message)
        # Found by an audit: the import said "belongs to another site", where a
        # page of another site's patient does not confirm that it exists
        self.assertNotIn("another site", problem.message)
        files[0] = csv_file(
            "follow_up",
            [follow_up_row(0, source_record_id="", registry_number="STH-99999")],
        )
        (missing,) = self.run_import(files, commit=False).problems
        self.assertEqual(missing.message, problem.message)


class CommitTests(ImportTestCase):
    def test_import_writes_patients_records_history_and_facts(self):
        result = self.run_import(cohort(4))
        self.assertTrue(result.committed, result.problems)
        self.assertEqual(Patient.objects.count(), 4)
        numbers = sorted(Patient.objects.values_list("registry_number", flat=True))
        self.assertEqual(numbers, [f"NTH-{i:05d}" for i in range(1, 5)])
        patient = Patient.objects.get(source_record_id="SRC2")
        self.assertEqual(patient.operations.get().liver_procedure, "minor")
        record = patient.operations.get().history.get()
        self.assertEqual(record.history_user, self.nora)
        self.assertEqual(record.history_change_reason, "import of trial.zip by nora")
        self.assertEqual(record.history_type, "+")
        self.assertEqual(patient.facts.strategy, "synchronous")
        self.assertEqual(DerivedFacts.objects.count(), 4)
        log = TransferLog.objects.get()
        self.assertEqual((log.action, log.user, log.patients), ("import", self.nora, 4))

    def test_codes_or_labels_are_accepted(self):
        files = [
            csv_file(
                "patient",
                [
                    patient_row(1, sex="Female", presenting_symptom="Bleeding"),
                    patient_row(2, sex="m", presenting_symptom="OBSTRUCTION"),
                ],
            )
        ]
        result = self.run_import(files)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual(
            sorted(Patient.objects.values_list("sex", "presenting_symptom")),
            [("F", "bleeding"), ("M", "obstruction")],
        )

    def test_one_bad_row_among_ten_thousand_writes_nothing_and_names_it(self):
        rows = [patient_row(i) for i in range(1, 10_001)]
        rows[7_000]["ecog"] = "7"  # file row 7,002 (the header is row 1)
        result = self.run_import([csv_file("patient", rows)])
        self.assertFalse(result.committed)
        self.assertEqual(
            [(p.row, p.column) for p in result.problems], [(7_002, "ecog")]
        )
        self.assertIn("ECOG must be at most 4", result.problems[0].message)
        self.assertEqual(Patient.objects.count(), 0)
        self.assertEqual(Patient.history.count(), 0)

    def test_re_importing_the_same_file_changes_nothing(self):
        files = cohort(3) + [csv_file("death", [death_row(1)])]
        self.run_import(files)
        versions = sorted(Operation.objects.values_list("pk", "version"))
        before = history_rows()
        result = self.run_import(files)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual(
            {kind: dict(c) for kind, c in result.counts.items()},
            {
                kind: {"unchanged": 3}
                for kind in ("patient", "primary_tumour", "operation", "follow_up")
            }
            | {"death": {"unchanged": 1}},
        )
        self.assertEqual(history_rows(), before)
        self.assertEqual(
            sorted(Operation.objects.values_list("pk", "version")), versions
        )

    def test_a_changed_row_updates_that_record(self):
        self.run_import(cohort(3))
        files = cohort(3)
        files[2] = csv_file(
            "operation",
            [
                operation_row(1),
                operation_row(2, liver_procedure="none"),
                operation_row(3),
            ],
        )
        result = self.run_import(files, name="trial-v2.zip")
        self.assertEqual(
            dict(result.counts["operation"]), {"unchanged": 2, "updated": 1}
        )
        operation = Operation.objects.get(patient__source_record_id="SRC2")
        self.assertEqual((operation.liver_procedure, operation.version), ("none", 2))
        latest = operation.history.first()
        self.assertEqual(latest.history_type, "~")
        self.assertEqual(latest.history_change_reason, "import of trial-v2.zip by nora")
        # the stored facts follow: no liver resection now
        self.assertEqual(operation.patient.facts.strategy, "primary_only")
        self.assertEqual(Operation.objects.count(), 3)

    def test_a_new_patients_given_number_is_not_given_again_to_another(self):
        # a file naming a new patient NTH-00001 and another with no number: the
        # registry numbers the other after it, not as NTH-00001 again
        files = [
            csv_file(
                "patient",
                [patient_row(1), patient_row(2, registry_number="NTH-00001")],
            ),
        ]
        result = self.run_import(files)
        self.assertTrue(result.ok, result.problems)
        self.assertEqual(
            sorted(Patient.objects.values_list("registry_number", flat=True)),
            ["NTH-00001", "NTH-00002"],
        )

    def test_a_nul_character_in_a_cell_is_a_problem_not_a_server_error(self):
        files = [
            csv_file("patient", [patient_row(1)]),
            csv_file("follow_up", [follow_up_row(1, notes="seen\x00 in clinic")]),
        ]
        result = self.run_import(files)
        self.assertFalse(result.ok)
        (problem,) = result.problems
        self.assertEqual((problem.row, problem.column), (2, "notes"))
        self.assertIn("NUL", problem.message)
        self.assertFalse(Patient.objects.exists())

    def import_with_a_write_between(self, files, between):
        """Run the import of `files` with `between()` run after its check and
        before its write: another user's write while a large file is checked."""
        from unittest import mock

        checked = importer._Import.check

        def check_then(job):
            checked(job)
            between()

        with mock.patch.object(importer._Import, "check", check_then):
            return self.run_import(files, name="v2.zip")

    def test_a_record_changed_since_the_check_stops_the_write(self):
        # a nurse saves the operation between the import's check and its
        # write: the import must not write over her change with her version
        from registry import services

        self.run_import(cohort(1))
        operation = Operation.objects.get()

        def a_nurse_saves():
            mine = Operation.objects.get(pk=operation.pk)
            mine.margin = "R1"
            services.update_record(record=mine, loaded_version=mine.version)

        files = cohort(1)
        files[2] = csv_file("operation", [operation_row(1, margin="R0")])
        result = self.import_with_a_write_between(files, a_nurse_saves)
        self.assertFalse(result.committed)
        (problem,) = result.problems
        self.assertEqual((problem.source, problem.row), ("operation.csv", 2))
        self.assertIn("changed since the file was checked", problem.message)
        operation.refresh_from_db()
        self.assertEqual((operation.margin, operation.version), ("R1", 2))

    def test_records_locked_since_the_check_stop_the_write_with_a_problem(self):
        from registry.models.status import FormStatus, RecordStatus

        self.run_import(cohort(1))
        operation = Operation.objects.get()
        files = cohort(1)
        files[2] = csv_file("operation", [operation_row(1, margin="R0")])
        result = self.import_with_a_write_between(
            files,
            lambda: RecordStatus.objects.update_or_create(
                patient=operation.patient,
                kind="operation",
                defaults={"status": FormStatus.LOCKED},
            ),
        )
        self.assertFalse(result.committed)
        self.assertIn("Locked", " ".join(p.message for p in result.problems))
        operation.refresh_from_db()
        self.assertEqual(operation.version, 1)

    def test_a_patient_deleted_since_the_check_stops_the_write(self):
        self.run_import(cohort(1))
        patient = Patient.objects.get()
        files = cohort(1)
        files[3] = csv_file(
            "follow_up", [follow_up_row(1), follow_up_row(1, date="2006-01-10")]
        )
        result = self.import_with_a_write_between(
            files, lambda: Patient.objects.get(pk=patient.pk).delete()
        )
        self.assertFalse(result.committed)
        self.assertIn(
            "deleted since the file was checked",
            " ".join(p.message for p in result.problems),
        )
        self.assertFalse(FollowUp.objects.exists())

    def test_a_verified_kind_sent_back_by_an_import_names_who_imported(self):
        # run as import_records --user runs it: outside any request
        from registry import status
        from registry.models.status import FormStatus, RecordStatus

        self.run_import(cohort(3))
        operation = Operation.objects.get(patient__source_record_id="SRC2")
        for to in (FormStatus.COMPLETE, FormStatus.VERIFIED):
            status.set_status(
                patient=operation.patient, kind="operation", to=to, user=self.nora
            )
        files = cohort(3)
        files[2] = csv_file(
            "operation",
            [operation_row(1), operation_row(2, margin="R1"), operation_row(3)],
        )
        self.run_import(files, name="trial-v2.zip")
        row = RecordStatus.objects.get(patient=operation.patient, kind="operation")
        self.assertEqual(row.status, FormStatus.COMPLETE)
        self.assertEqual(row.changed_by, self.nora)
        self.assertEqual(row.history.first().history_user, self.nora)
        self.assertEqual(operation.history.first().history_user, self.nora)

    def test_rows_may_name_stored_patients_by_registry_number(self):
        patient = make_full_patient(site=self.site)
        files = [
            csv_file(
                "follow_up",
                [
                    follow_up_row(
                        0,
                        source_record_id="",
                        registry_number=patient.registry_number,
                        date="2006-02-01",
                        disease_status="Hepatic recurrence",
                    )
                ],
            )
        ]
        result = self.run_import(files)
        self.assertTrue(result.committed, result.problems)
        self.assertEqual(patient.followups.count(), 2)
        patient.facts.refresh_from_db()
        self.assertEqual(patient.facts.last_contact, datetime.date(2006, 2, 1))

    def test_xlsx_with_a_sheet_per_kind(self):
        book = Workbook()
        book.remove(book.active)
        for name, data in cohort(2):
            sheet = book.create_sheet(name.removesuffix(".csv"))
            for line in data.decode().splitlines():
                sheet.append(line.split(","))
        book["primary_tumour"]["B2"] = datetime.datetime(2004, 1, 10)  # a date cell
        out = io.BytesIO()
        book.save(out)
        result = self.run_import([("trial.xlsx", out.getvalue())])
        self.assertTrue(result.committed, result.problems)
        self.assertEqual(PrimaryTumour.objects.count(), 2)

    def test_an_interrupted_import_leaves_nothing_behind(self):
        """Killed half way (after the patients and diagnoses are written)."""
        write_kind = importer._Import._write_kind
        calls = []

        def fail_halfway(job, kind, ids, why):
            calls.append(kind.name)
            if kind.name == "operation":
                raise RuntimeError("killed")
            return write_kind(job, kind, ids, why)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(importer._Import, "_write_kind", fail_halfway)
            with self.assertRaises(RuntimeError):
                self.run_import(cohort(5))
        self.assertIn("primary_tumour", calls)  # it had written some kinds
        self.assertEqual(Patient.objects.count(), 0)
        self.assertEqual(PrimaryTumour.objects.count(), 0)
        self.assertEqual(history_rows(), 0)
        self.assertEqual(TransferLog.objects.count(), 0)

    def test_queries_do_not_grow_with_the_rows(self):
        def queries(n, offset):
            files = cohort(n)
            files = [
                (
                    name,
                    data.replace(b"SRC", f"S{offset}-".encode()).replace(
                        b",M0", f",M{offset}".encode()
                    ),
                )
                for name, data in files
            ]
            with CaptureQueriesContext(connection) as captured:
                result = self.run_import(files)
            self.assertTrue(result.committed, result.problems)
            return len(captured)

        # SQLite takes at most 999 parameters a statement, so Django splits a
        # bulk INSERT of a wide table (DerivedFacts: 34 columns, 29 rows) in
        # batches: the larger file stays within one batch, to count rows' queries
        # and not the batches.
        self.assertEqual(queries(3, 1), queries(min(30, one_batch()), 2))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
class CopyTests(ImportTestCase):
    def test_new_records_and_their_history_are_copied_not_inserted(self):
        # Preparing each value for an INSERT was most of a large commit's time
        # (benchmarks/import_benchmark.py): new rows go by COPY instead, and
        # only the stored facts, the transfer log and the site's new data
        # version (one row) are INSERTed.
        with CaptureQueriesContext(connection) as captured:
            result = self.run_import(cohort(4))
        self.assertTrue(result.committed, result.problems)
        inserted = {
            q["sql"].split()[2].strip('"')
            for q in captured
            if q["sql"].startswith("INSERT INTO")
        }
        self.assertEqual(
            inserted,
            {"registry_derivedfacts", "registry_transferlog", "registry_siteversion"},
        )
        self.assertEqual(Patient.history.count(), 4)
        self.assertEqual(Operation.history.count(), Operation.objects.count())


class LockedRecordTests(ImportTestCase):
    def test_a_locked_kind_refuses_changes_and_new_records_in_the_dry_run(self):
        from registry.models.status import FormStatus, RecordStatus

        self.run_import(cohort(2))
        patient = Patient.objects.get(source_record_id="SRC1")
        RecordStatus.objects.create(
            patient=patient, kind="operation", status=FormStatus.LOCKED
        )
        files = cohort(2)
        files[2] = csv_file(
            "operation",
            [
                operation_row(1, margin="R0"),  # a change to a locked record
                operation_row(1, date="2005-03-01"),  # a new one of a locked kind
                operation_row(2, margin="R0"),  # another patient: not locked
            ],
        )
        result = self.run_import(files, commit=False)
        self.assertEqual(
            [(p.source, p.row) for p in result.problems],
            [("operation.csv", 2), ("operation.csv", 3)],
        )
        self.assertIn("locked", result.problems[0].message)
        # the same rows as stored: nothing changes, so nothing is refused
        self.assertTrue(self.run_import(cohort(2), commit=False).ok)
