"""Exports: the full export, the de-identified export, and the round trip."""

from __future__ import annotations

import csv
import datetime
import io
import random
import re
import zipfile
from contextlib import contextmanager
from dataclasses import replace
from unittest import mock

import pandas as pd
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import QuerySet
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from registry import dictionary, exporter, importer
from registry.exporter import ExportRefused
from registry.models import DerivedFacts, FollowUp, Operation, Patient, Site
from tests.factories import (
    make_death,
    make_followup,
    make_full_patient,
    make_operation,
    make_site,
    make_user,
)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def xlsx_cells(data: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def held_tables(patients) -> list[exporter.Table]:
    """Return the full export's tables with their rows in lists."""
    with exporter.snapshot(patients.db):
        return [
            replace(table, rows=[list(row) for row in table.rows])
            for table in exporter.streamed_tables(patients, deidentified=False)
        ]


@contextmanager
def reads_and_stata_files(events: list):
    """Note in `events`, in order, each read of rows a chunk at a time
    (QuerySet.iterator: ("read", chunk size)) and each Stata file made
    (("stata", table))."""
    iterate, stata = QuerySet.iterator, exporter.dta_bytes

    def iterator(self, chunk_size=None):
        events.append(("read", chunk_size))
        return iterate(self, chunk_size=chunk_size)

    def dta_bytes(table):
        events.append(("stata", table.name))
        return stata(table)

    with (
        mock.patch.object(QuerySet, "iterator", iterator),
        mock.patch.object(exporter, "dta_bytes", dta_bytes),
        mock.patch.object(exporter, "CHUNK_ROWS", 2),
    ):
        yield


KINDS = len(dictionary.record_kinds())


def assert_queries_do_not_grow(test, export) -> None:
    """Assert that `export()` makes as many queries with five more patients at
    the test's site."""

    def queries():
        with CaptureQueriesContext(connection) as captured:
            export()
        return len(captured)

    before = queries()
    for _ in range(5):
        make_full_patient(site=test.site)
    test.assertEqual(queries(), before)


class FullExportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.site = make_site(code="NTH", name="North")
        cls.patients = [make_full_patient(site=cls.site) for _ in range(3)]
        make_death(cls.patients[0])

    def test_one_file_per_record_kind_plus_the_dictionary(self):
        export = exporter.export_full(Patient.objects.all(), fmt="csv")
        files = members(export.data)
        self.assertEqual(
            sorted(files),
            sorted(
                [f"{k.name}.csv" for k in dictionary.record_kinds()]
                + ["dictionary.csv"]
            ),
        )
        header = files["operation.csv"].decode().splitlines()[0].split(",")
        self.assertEqual(header, dictionary.columns("operation"))
        self.assertIn(self.patients[0].mrn, files["patient.csv"].decode())
        self.assertEqual((export.patients, export.rows), (3, 22))

    def test_xlsx_has_a_sheet_per_kind(self):
        export = exporter.export_full(Patient.objects.all(), fmt="xlsx")
        sheets = xlsx_cells(export.data)
        self.assertEqual(list(sheets), [k.name for k in dictionary.record_kinds()])
        self.assertEqual(len(sheets["death"]), 2)

    def test_xlsx_dates_are_date_cells_in_iso_format(self):
        export = exporter.export_full(Patient.objects.all(), fmt="xlsx")
        book = load_workbook(io.BytesIO(export.data))
        sheet = book["operation"]
        column = [c.value for c in sheet[1]].index("date") + 1
        cell = sheet.cell(row=2, column=column)
        self.assertEqual(cell.value, datetime.datetime(2004, 8, 15))
        self.assertEqual(cell.number_format, "yyyy-mm-dd")
        self.assertEqual(sheet.cell(row=1, column=column).value, "date")

    def test_xlsx_with_a_table_longer_than_a_sheet_is_refused_before_reading(self):
        # 3 rows in every table but the follow-ups (5) and the deaths (1)
        make_followup(self.patients[0], date=datetime.date(2006, 1, 5))
        make_followup(self.patients[0], date=datetime.date(2007, 1, 5))
        with (
            mock.patch.object(exporter, "XLSX_MAX_ROWS", 5),
            CaptureQueriesContext(connection) as captured,
            self.assertRaises(ExportRefused) as refused,
        ):
            exporter.export_full(Patient.objects.all(), fmt="xlsx")
        self.assertEqual(
            str(refused.exception),
            "An XLSX sheet holds at most 4 rows under its header, and the "
            "follow_up table has 5. Choose the zip of CSV files or Stata instead.",
        )
        # counted, never read out
        self.assertTrue(captured)
        for query in captured:
            self.assertIn("COUNT(", query["sql"].upper())
        with mock.patch.object(exporter, "XLSX_MAX_ROWS", 6):
            export = exporter.export_full(Patient.objects.all(), fmt="xlsx")
        self.assertEqual(len(xlsx_cells(export.data)["follow_up"]), 6)
        # CSV and Stata have no such limit
        with mock.patch.object(exporter, "XLSX_MAX_ROWS", 5):
            for fmt in ("csv", "dta"):
                export = exporter.export_full(Patient.objects.all(), fmt=fmt)
                self.assertEqual(export.rows, 24)

    def test_stata_files_carry_value_labels(self):
        export = exporter.export_full(Patient.objects.all(), fmt="dta")
        data = members(export.data)["operation.dta"]
        frame = pd.read_stata(io.BytesIO(data))
        self.assertEqual(
            list(frame["primary_procedure"]), ["Low anterior resection"] * 3
        )
        self.assertEqual(frame["date"].iloc[0], pd.Timestamp("2004-08-15"))
        with pd.io.stata.StataReader(io.BytesIO(data)) as reader:
            labels = reader.variable_labels()
        self.assertEqual(labels["primary_procedure"], "Procedure on the primary")

    def test_stata_writes_an_empty_table(self):
        # no deaths among these two: an empty death.dta, with its variables
        alive = Patient.objects.exclude(pk=self.patients[0].pk)
        for export in (
            exporter.export_full(alive, fmt="dta"),
            exporter.export_deidentified(alive, fmt="dta", min_cell=1),
        ):
            frame = pd.read_stata(io.BytesIO(members(export.data)["death.dta"]))
            self.assertEqual(len(frame), 0)
            self.assertIn("cause", frame.columns)

    def test_queries_do_not_grow_with_the_patients(self):
        assert_queries_do_not_grow(
            self, lambda: exporter.export_full(Patient.objects.all(), fmt="csv")
        )


class DeidentifiedExportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.site = make_site(code="NTH", name="North")
        cls.patients = []
        for n in range(6):
            patient = make_full_patient(
                site=cls.site,
                mrn=f"HOSP{n:06d}",
                source_record_id=f"EPIC-{n:05d}",
                date_of_birth=datetime.date(1911 + n, 2, 3),
            )
            make_followup(
                patient, date=datetime.date(2006, 1, 5), notes=f"Seen by Dr Who {n}"
            )
            cls.patients.append(patient)
        make_death(cls.patients[0], date=datetime.date(2007, 6, 1))

    def export(self, fmt="csv", **kwargs):
        return exporter.export_deidentified(
            Patient.objects.all(), fmt=fmt, min_cell=5, **kwargs
        )

    def all_text(self, fmt: str) -> str:
        data = self.export(fmt).data
        if fmt == "xlsx":
            cells = [v for rows in xlsx_cells(data).values() for r in rows for v in r]
            self.assertFalse([v for v in cells if isinstance(v, datetime.date)])
            return repr(cells)
        parts = []
        for name, content in members(data).items():
            if name.endswith(".dta"):
                frame = pd.read_stata(io.BytesIO(content), convert_categoricals=True)
                parts.append(frame.to_csv())
            else:
                parts.append(content.decode())
        return "\n".join(parts)

    def test_no_identifier_in_any_format(self):
        for fmt in exporter.FORMATS:
            text = self.all_text(fmt)
            with self.subTest(fmt=fmt):
                for patient in self.patients:
                    self.assertNotIn(patient.mrn, text)
                    self.assertNotIn(patient.registry_number, text)
                    self.assertNotIn(patient.source_record_id, text)
                self.assertNotIn("Dr Who", text)  # free text left out
                # no calendar date at all: every date is days from diagnosis
                self.assertIsNone(re.search(r"\d{4}-\d{2}-\d{2}", text))
                self.assertNotIn("date_of_birth", text)

    def test_dates_are_days_from_diagnosis_with_the_year(self):
        files = members(self.export().data)
        patients = pd.read_csv(io.BytesIO(files["patient.csv"]))
        self.assertEqual(set(patients["diagnosis_year"]), {2004})
        operations = pd.read_csv(io.BytesIO(files["operation.csv"]))
        # 2004-01-10 to 2004-08-15
        self.assertEqual(set(operations["date_days"]), {218})
        deaths = pd.read_csv(io.BytesIO(files["death.csv"]))
        self.assertEqual(list(deaths["date_days"]), [1238])  # to 2007-06-01

    def test_ages_over_89_are_90(self):
        files = members(self.export().data)
        ages = sorted(pd.read_csv(io.BytesIO(files["patient.csv"]))["age_at_diagnosis"])
        # born 1911-1916, diagnosed 2004-01-10: 92, 91, 90, 89, 88, 87 years
        self.assertEqual(ages, [87, 88, 89, 90, 90, 90])
        self.assertEqual(
            [exporter.capped_age(years) for years in (None, 0, 89, 90, 104)],
            [None, 0, 89, 90, 90],
        )

    def test_the_age_is_the_one_stored_with_the_facts(self):
        # One rule, one place: the export reads the age registry.facts stored
        # (derive.age_at_diagnosis's), not one it works out again. A stored age
        # that no longer matches the dates shows which one the export wrote.
        oldest = self.patients[0]  # born 1911: 92 at diagnosis, written as 90
        DerivedFacts.objects.filter(patient=oldest).update(age=64)
        DerivedFacts.objects.filter(patient=self.patients[5]).update(age=None)
        files = members(self.export().data)
        ages = pd.read_csv(io.BytesIO(files["patient.csv"]))["age_at_diagnosis"]
        self.assertEqual(sorted(ages.dropna()), [64, 88, 89, 90, 90])
        self.assertEqual(ages.isna().sum(), 1)

    def test_recorded_age_is_used_without_a_date_of_birth_and_capped(self):
        # Historical patients without a date of birth carry the age at diagnosis
        # as recorded: 61 stays 61, 93 is written as 90 (Safe Harbor), and the
        # stored column is not written beside the computed one.
        for years in (61, 93):
            make_full_patient(
                site=self.site, date_of_birth=None, age_at_diagnosis=years
            )
        files = members(self.export().data)
        header = files["patient.csv"].decode().splitlines()[0].split(",")
        self.assertEqual(header.count("age_at_diagnosis"), 1)
        ages = sorted(pd.read_csv(io.BytesIO(files["patient.csv"]))["age_at_diagnosis"])
        self.assertEqual(ages, [61, 87, 88, 89, 90, 90, 90, 90])
        sheet = xlsx_cells(self.export("xlsx").data)["patient"]
        at = sheet[0].index("age_at_diagnosis")
        self.assertEqual(max(row[at] for row in sheet[1:]), 90)
        dta = members(self.export("dta").data)["patient.dta"]
        self.assertEqual(pd.read_stata(io.BytesIO(dta))["age_at_diagnosis"].max(), 90)

    def test_study_ids_are_drawn_again_for_each_export(self):
        def ids(seed):
            files = members(self.export(rng=random.Random(seed)).data)
            frame = pd.read_csv(io.BytesIO(files["death.csv"]))
            return frame["study_id"].iloc[0]

        self.assertNotEqual({ids(s) for s in range(10)}, {ids(0)})
        # drawn by the database's own random key (PostgreSQL), or the system's
        self.assertGreater(len({ids(None) for _ in range(10)}), 1)

    def test_the_orders_key_is_in_no_statement_on_postgresql(self):
        if connection.vendor != "postgresql":
            self.skipTest("PostgreSQL draws the key itself (SQLite logs nothing)")
        with CaptureQueriesContext(connection) as captured:
            files = members(self.export("csv").data)
        statements = " ".join(q["sql"] for q in captured)
        self.assertIn("current_setting('registry.export_order_key')", statements)
        self.assertIsNone(
            re.search(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}", statements)
        )
        # and every table's rows still find their patients' study ids
        deaths = pd.read_csv(io.BytesIO(files["death.csv"]))
        patients = pd.read_csv(io.BytesIO(files["patient.csv"]))
        self.assertEqual(len(patients), 6)
        self.assertLessEqual(set(deaths["study_id"]), set(patients["study_id"]))

    def test_each_tables_rows_come_by_study_id_with_their_patients_numbers(self):
        make_followup(self.patients[0], date=datetime.date(2005, 1, 10))
        # a stored age no other patient has tells patients[0]'s study id
        DerivedFacts.objects.filter(patient=self.patients[0]).update(age=64)
        for seed in [*range(5), None]:  # None: the database's (PostgreSQL) key
            rng = None if seed is None else random.Random(seed)
            files = members(self.export(rng=rng).data)
            tables = {
                name.removesuffix(".csv"): pd.read_csv(io.BytesIO(data))
                for name, data in files.items()
            }
            patients = tables["patient"]
            self.assertEqual(list(patients["study_id"]), [f"S{i}" for i in range(1, 7)])
            for name, table in tables.items():
                with self.subTest(seed=seed, table=name):
                    ids = list(table["study_id"])
                    self.assertEqual(ids, sorted(ids))
                    self.assertLessEqual(set(ids), set(patients["study_id"]))
            first = patients.loc[patients["age_at_diagnosis"] == 64, "study_id"].item()
            self.assertEqual(list(tables["death"]["study_id"]), [first])
            # the same patient's contacts, in date order: 2004-01-10 to 2005-01-10,
            # then to 2006-01-05
            followups = tables["follow_up"]
            days = followups.loc[followups["study_id"] == first, "date_days"]
            self.assertEqual(list(days)[-2:], [366, 726])

    def test_the_same_draw_gives_the_same_files_in_every_format(self):
        csv_data = self.export("csv", rng=random.Random(7)).data
        self.assertEqual(self.export("csv", rng=random.Random(7)).data, csv_data)
        sheets = xlsx_cells(self.export("xlsx", rng=random.Random(7)).data)

        def cell(value: str):  # a decimal is a number in XLSX: 50.40 is 50.4
            try:
                return float(value)
            except ValueError:
                return value

        for name, data in members(csv_data).items():
            rows = [
                tuple(cell(v) for v in r)
                for r in csv.reader(io.StringIO(data.decode()))
            ]
            # (a sheet's row ends at its last value)
            width = len(rows[0])
            sheet = [
                tuple(cell(exporter.text(v)) for v in row) + ("",) * (width - len(row))
                for row in sheets[name.removesuffix(".csv")]
            ]
            self.assertEqual(sheet, rows, name)

    def test_the_csv_export_never_holds_a_whole_table(self):
        # the patients, then each table, read 2 rows at a time
        events = []
        with reads_and_stata_files(events):
            streamed = self.export("csv", rng=random.Random(3))
        self.assertEqual(events, [("read", 2)] * (1 + KINDS))
        self.assertEqual(streamed.data, self.export("csv", rng=random.Random(3)).data)
        self.assertEqual((streamed.patients, streamed.rows), (6, 6 * 7 + 6 + 1))

    def test_the_stata_export_holds_one_table_at_a_time(self):
        events = []
        with reads_and_stata_files(events):
            streamed = self.export("dta", rng=random.Random(3))
        # the patients read first (their study ids), then each table read and
        # made into its file before the next is read
        tables = [name.removesuffix(".dta") for name in members(streamed.data)]
        expected = [("read", 2)]
        for name in tables:
            expected += [("read", 2), ("stata", name)]
        self.assertEqual(events, expected)
        self.assertEqual(len(tables), KINDS)
        self.assertEqual((streamed.patients, streamed.rows), (6, 6 * 7 + 6 + 1))

    def test_the_xlsx_export_never_holds_a_whole_table(self):
        # each sheet written as its rows are read, 2 at a time
        events = []
        with reads_and_stata_files(events):
            streamed = self.export("xlsx", rng=random.Random(3))
        self.assertEqual(events, [("read", 2)] * (1 + KINDS))
        csv_files = members(self.export("csv", rng=random.Random(3)).data)
        sheets = xlsx_cells(streamed.data)
        self.assertEqual(set(sheets), {n.removesuffix(".csv") for n in csv_files})
        for name, data in csv_files.items():
            lines = list(csv.reader(io.StringIO(data.decode())))
            sheet = sheets[name.removesuffix(".csv")]
            self.assertEqual((sheet[0], len(sheet)), (tuple(lines[0]), len(lines)))
        self.assertEqual((streamed.patients, streamed.rows), (6, 6 * 7 + 6 + 1))

    def test_queries_do_not_grow_with_the_patients(self):
        assert_queries_do_not_grow(self, lambda: self.export("csv"))

    def test_xlsx_with_a_table_longer_than_a_sheet_is_refused(self):
        with mock.patch.object(exporter, "XLSX_MAX_ROWS", 7):
            with self.assertRaisesMessage(ExportRefused, "the follow_up table has"):
                self.export("xlsx")
            self.assertTrue(self.export("csv").data)

    def test_a_cohort_below_the_minimum_cell_is_refused(self):
        few = Patient.objects.filter(pk__in=[p.pk for p in self.patients[:4]])
        with self.assertRaisesMessage(ExportRefused, "fewer than 5 patients"):
            exporter.export_deidentified(few, fmt="csv", min_cell=5)


class RoundTripTests(TestCase):
    """Export everything, import into an empty registry, export again: the same."""

    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())
        cls.nora = make_user("nora", group="Data manager")

    def exports(self, fmt):
        return {
            site.code: exporter.export_full(Patient.objects.filter(site=site), fmt=fmt)
            for site in Site.objects.all()
        }

    def reimport(self, files):
        Patient.objects.all().delete()
        self.assertEqual(Patient.objects.count(), 0)
        for code, export in files.items():
            result = importer.run_import(
                [(export.name, export.data)],
                site=Site.objects.get(code=code),
                user=self.nora,
                commit=True,
            )
            self.assertTrue(result.committed, result.problems[:5])

    def test_csv_round_trip_gives_identical_files(self):
        before = self.exports("csv")
        self.assertGreater(sum(e.patients for e in before.values()), 70)
        self.reimport(before)
        after = self.exports("csv")
        for code in before:
            self.assertEqual(members(after[code].data), members(before[code].data))
            self.assertEqual(after[code].data, before[code].data)

    def test_xlsx_round_trip_gives_identical_sheets(self):
        before = self.exports("xlsx")
        self.reimport(before)
        after = self.exports("xlsx")
        for code in before:
            self.assertEqual(
                xlsx_cells(after[code].data), xlsx_cells(before[code].data)
            )


class RoundTripOfAwkwardRecordsTests(TestCase):
    """Valid records an audit found did not survive the round trip: two
    operations (and two contacts) of one day, notes a spreadsheet would take
    for a formula or cannot hold, a birth before 1900-03-01."""

    @classmethod
    def setUpTestData(cls):
        cls.site = make_site(code="NTH", name="North")
        cls.nora = make_user("nora", group="Data manager", sites=[cls.site])
        patient = make_full_patient(site=cls.site)
        operation = patient.operations.get()
        # registry.derive: a synchronous resection may be two records of a day
        make_operation(
            patient,
            date=operation.date,
            primary_procedure="none",
            liver_procedure="major",
            margin="R1",
        )
        day = datetime.date(2005, 1, 10)
        make_followup(patient, date=day, contact_type="clinic", notes="=> MDT")
        make_followup(
            patient, date=day, contact_type="telephone", notes="CT clear\x0bCEA _x0041_"
        )
        make_full_patient(site=cls.site, date_of_birth=datetime.date(1899, 12, 31))

    def round_trip(self, fmt):
        before = exporter.export_full(Patient.objects.all(), fmt=fmt)
        Patient.objects.all().delete()
        result = importer.run_import(
            [(before.name, before.data)], site=self.site, user=self.nora, commit=True
        )
        self.assertTrue(result.committed, [str(p) for p in result.problems])
        after = exporter.export_full(Patient.objects.all(), fmt=fmt)
        again = importer.run_import(
            [(after.name, after.data)], site=self.site, user=self.nora, commit=True
        )
        self.assertTrue(again.committed, [str(p) for p in again.problems])
        changed = {
            kind: counts
            for kind, counts in again.counts.items()
            if set(counts) - {"unchanged"}
        }
        self.assertEqual(changed, {})  # importing its own export changes nothing
        return before, after

    def test_csv_round_trip_keeps_every_record(self):
        before, after = self.round_trip("csv")
        self.assertEqual(members(after.data), members(before.data))
        self.assertEqual(Operation.objects.count(), 3)
        notes = set(FollowUp.objects.values_list("notes", flat=True))
        self.assertLessEqual({"=> MDT", "CT clear\x0bCEA _x0041_"}, notes)

    def test_xlsx_round_trip_keeps_every_record_and_value(self):
        before, after = self.round_trip("xlsx")
        self.assertEqual(xlsx_cells(after.data), xlsx_cells(before.data))
        self.assertEqual(Operation.objects.count(), 3)
        self.assertEqual(FollowUp.objects.filter(notes="=> MDT").count(), 1)
        self.assertEqual(
            FollowUp.objects.filter(notes="CT clear\x0bCEA _x0041_").count(), 1
        )
        self.assertTrue(
            Patient.objects.filter(date_of_birth=datetime.date(1899, 12, 31)).exists()
        )
        # a note beginning with "=" is a text cell, not a formula a spreadsheet runs
        book = load_workbook(io.BytesIO(after.data))
        types = {
            cell.value: cell.data_type
            for row in book["follow_up"].iter_rows()
            for cell in row
        }
        self.assertEqual(types["=> MDT"], "s")

    def test_the_export_page_writes_a_note_with_a_control_character_as_xlsx(self):
        self.client.force_login(self.nora)
        response = self.client.get(reverse("registry:export_full"), {"format": "xlsx"})
        self.assertEqual(response.status_code, 200)

    def test_the_second_record_of_a_day_is_updated_from_a_file(self):
        self.margins = list(Operation.objects.values_list("margin", flat=True))
        self.assertIn("R1", self.margins)
        export = exporter.export_full(Patient.objects.all(), fmt="csv")
        files = members(export.data)
        lines = files["operation.csv"].decode().splitlines()
        margin = lines[0].split(",").index("margin")
        edited = [lines[0]]
        for line in lines[1:]:
            cells = line.split(",")
            if cells[margin] == "R1":
                cells[margin] = "R2"
            edited.append(",".join(cells))
        result = importer.run_import(
            [("operation.csv", "\n".join(edited).encode())],
            site=self.site,
            user=self.nora,
            commit=True,
        )
        self.assertTrue(result.committed, [str(p) for p in result.problems])
        self.assertEqual(
            dict(result.counts["operation"]), {"updated": 1, "unchanged": 2}
        )
        margins = sorted(Operation.objects.values_list("margin", flat=True))
        self.assertEqual(margins, sorted(m.replace("R1", "R2") for m in self.margins))


class StreamedExportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        site = make_site(code="NTH", name="North")
        for n in range(4):
            patient = make_full_patient(site=site)
            make_followup(
                patient, date=datetime.date(2006, 1, 5), notes=f'said "{n}",\n'
            )
        make_death(patient)

    def test_the_streamed_csv_export_holds_the_tables_the_other_formats_hold(self):
        patients = Patient.objects.all()
        streamed = exporter.export_full(patients, fmt="csv")
        files = members(streamed.data)
        tables = held_tables(patients)  # what a Stata file is made of
        for table in tables:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(table.columns)
            writer.writerows([exporter.text(v) for v in row] for row in table.rows)
            self.assertEqual(files[f"{table.name}.csv"].decode(), out.getvalue())
        self.assertEqual(files["dictionary.csv"], dictionary.as_csv())
        rows = sum(len(table.rows) for table in tables)
        self.assertEqual((streamed.patients, streamed.rows), (4, rows))

    def test_the_csv_export_never_holds_a_whole_table(self):
        # each table read a chunk of rows at a time (CHUNK_ROWS)
        events = []
        with reads_and_stata_files(events):
            export = exporter.export_full(Patient.objects.all(), fmt="csv")
        self.assertEqual(events, [("read", 2)] * KINDS)
        files = members(export.data)
        self.assertEqual(len(pd.read_csv(io.BytesIO(files["patient.csv"]))), 4)

    def test_the_stata_export_holds_one_table_at_a_time(self):
        events = []
        with reads_and_stata_files(events):
            export = exporter.export_full(Patient.objects.all(), fmt="dta")
        tables = held_tables(Patient.objects.all())
        expected = []
        for table in tables:
            expected += [("read", 2), ("stata", table.name)]
        self.assertEqual(events, expected)
        files = members(export.data)
        for table in tables:
            frame = pd.read_stata(io.BytesIO(files[f"{table.name}.dta"]))
            self.assertEqual(len(frame), len(table.rows), table.name)

    def test_the_xlsx_export_never_holds_a_whole_table(self):
        patients = Patient.objects.all()
        tables = held_tables(patients)
        events = []
        with reads_and_stata_files(events):
            export = exporter.export_full(patients, fmt="xlsx")
        self.assertEqual(events, [("read", 2)] * KINDS)
        sheets = xlsx_cells(export.data)
        self.assertEqual(list(sheets), [table.name for table in tables])
        for table in tables:
            self.assertEqual(sheets[table.name][0], tuple(table.columns))
            self.assertEqual(len(sheets[table.name]), len(table.rows) + 1)
        rows = sum(len(table.rows) for table in tables)
        self.assertEqual((export.patients, export.rows), (4, rows))


class SnapshotTests(TransactionTestCase):
    """An export reads one state of the registry, whatever is written meanwhile."""

    def test_an_export_of_its_own_reads_in_repeatable_read_on_postgresql(self):
        if connection.vendor != "postgresql":
            self.skipTest("PostgreSQL's isolation level (SQLite reads one state)")

        def isolation() -> str:
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                return cursor.fetchone()[0]

        with exporter.snapshot("default"):
            self.assertEqual(isolation(), "repeatable read")
        self.assertEqual(isolation(), "read committed")  # the default, after it
        # within another transaction, that transaction's own
        with transaction.atomic(), exporter.snapshot("default"):
            self.assertEqual(isolation(), "read committed")
