"""The data dictionary is generated from the models and covers every field."""

from __future__ import annotations

import csv
import io
import json

from django.db import models
from django.test import SimpleTestCase

from registry import derive, dictionary, facts
from registry.choices import Missing
from registry.dictionary import NOT_VARIABLES, PATIENT_REFERENCE


class DictionaryTests(SimpleTestCase):
    def test_every_model_field_has_an_entry(self):
        """Fails when a field is added to a clinical model without an entry."""
        for kind in dictionary.record_kinds():
            fields = {
                f.name
                for f in kind.model._meta.concrete_fields
                if f.name not in NOT_VARIABLES and not f.primary_key
            }
            names = set(dictionary.columns(kind.name))
            if kind.name != "patient":
                self.assertLessEqual(set(PATIENT_REFERENCE), names)
                names -= set(PATIENT_REFERENCE)
            with self.subTest(kind=kind.name):
                self.assertEqual(fields, names)

    def test_every_clinical_model_is_a_record_kind(self):
        self.assertEqual(
            {k.model for k in dictionary.record_kinds()}, set(facts.clinical_models())
        )

    def test_names_are_snake_case_and_kinds_stable(self):
        self.assertEqual(
            [k.name for k in dictionary.record_kinds()],
            [
                "patient",
                "primary_tumour",
                "liver_metastases",
                "radiation_course",
                "systemic_therapy_line",
                "operation",
                "follow_up",
                "death",
            ],
        )
        for entry in dictionary.entries():
            self.assertRegex(entry.name, r"^[a-z][a-z0-9_]*$")

    def test_entries_describe_the_field(self):
        dose = dictionary.entry_map("radiation_course")["total_dose_gy"]
        self.assertEqual((dose.type, dose.unit, dose.required), ("decimal", "Gy", True))
        self.assertIn("at most 100", dose.validation)
        sex = dictionary.entry_map("patient")["sex"]
        self.assertEqual(
            sex.codes, {"F": "Female", "M": "Male", "X": "Other / not stated"}
        )
        mrn = dictionary.entry_map("patient")["mrn"]
        self.assertTrue(mrn.identifier)
        self.assertTrue(dictionary.entry_map("patient")["source_record_id"].identifier)
        self.assertFalse(dictionary.entry_map("patient")["sex"].identifier)
        self.assertTrue(dictionary.entry_map("follow_up")["notes"].free_text)
        death = dictionary.entry_map("death")["date"]
        self.assertIn("not before diagnosis", death.validation)

    def test_missing_codes_are_the_fields_missing_data_members(self):
        for entry in dictionary.entries():
            self.assertEqual(
                entry.missing_codes,
                {c: t for c, t in entry.codes.items() if c in Missing.values},
            )
        # the margin's "not applicable" is a missing-data code
        self.assertIn("na", dictionary.entry_map("operation")["margin"].missing_codes)

    def test_the_age_at_diagnosis_stands_in_for_the_date_of_birth(self):
        patient = dictionary.entry_map("patient")
        age = patient["age_at_diagnosis"]
        self.assertEqual(
            (age.type, age.unit, age.required, age.identifier),
            ("integer", "years", False, False),
        )
        self.assertIn(f"at most {derive.MAX_AGE_AT_DIAGNOSIS}", age.validation)
        self.assertIn("only when the date of birth is not known", age.validation)
        birth = patient["date_of_birth"]
        self.assertEqual((birth.required, birth.identifier), (False, True))
        self.assertIn("required unless the age at diagnosis", birth.validation)
        self.assertIn(f"not before {derive.EARLIEST_BIRTH}", birth.validation)

    def test_limits_are_the_fields_not_the_databases(self):
        # Django adds the column's range to an integer field's validators
        # (SQLite 9223372036854775807, PostgreSQL 32767): not a limit to publish.
        for entry in dictionary.entries():
            with self.subTest(entry=entry.name):
                self.assertNotRegex(entry.validation, r"at most (32767|\d{6,})")
        self.assertIn(
            "at least 0; at most 37",
            dictionary.entry_map("patient")["charlson_index"].validation,
        )

    def test_missing_codes_are_marked_in_the_downloads(self):
        symptom = dictionary.entry_map("patient")["presenting_symptom"]
        self.assertEqual(
            symptom.missing_codes, {"unk": "Unknown", "nr": "Not recorded"}
        )
        self.assertIn("bleeding", symptom.codes)
        self.assertNotIn("bleeding", symptom.missing_codes)
        rows = list(csv.DictReader(io.StringIO(dictionary.as_csv().decode())))
        (row,) = [r for r in rows if r["name"] == "presenting_symptom"]
        self.assertEqual(row["missing_codes"], "unk=Unknown | nr=Not recorded")

    def test_units_only_on_numbers(self):
        for entry in dictionary.entries():
            if entry.unit:
                self.assertIn(entry.type, ("decimal", "integer"))

    def test_downloads_hold_every_entry(self):
        rows = list(csv.DictReader(io.StringIO(dictionary.as_csv().decode())))
        self.assertEqual(len(rows), len(dictionary.entries()))
        data = json.loads(dictionary.as_json())
        self.assertEqual(data[0]["record_kind"], "patient")
        self.assertEqual(len(data), len(rows))
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(dictionary.as_xlsx()))
        self.assertEqual(book["dictionary"].max_row, len(rows) + 1)

    def test_a_new_field_gets_an_entry_without_anyone_listing_it(self):
        """Generated, not hand-written: a field added to a model appears."""
        from registry.models import Operation

        extra = models.PositiveSmallIntegerField(
            "blood loss (mL)", null=True, blank=True
        )
        extra.set_attributes_from_name("blood_loss_ml")
        extra.model = Operation
        kind = dictionary.kind_named("operation")
        entry = dictionary._entry(kind, extra)
        self.assertEqual(
            (entry.name, entry.unit, entry.type), ("blood_loss_ml", "mL", "integer")
        )
