"""The baseline table, associations and subgroups counted in the database.

A report without Cox covariates or a landmark reads its tables from counts
(dataset.variable_counts) instead of one row per patient; its sections must be
the per-patient path's to the last digit, whose numbers test_demo_report.py
and test_colon_import_report.py pin to R. The per-patient path is forced here
by making needs_rows answer yes.
"""

import datetime
import io
import math
from decimal import Decimal
from unittest import mock

from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from analytics import dataset, reports
from analytics.reports import run_report
from analytics.spec import ReportSpec
from registry.models import Patient, PrimaryTumour, Site
from tests.factories import (
    make_death,
    make_full_patient,
    make_patient,
    make_site,
    make_systemic,
    make_user,
)
from tests.statements import read_statements

CUTOFF = "2009-12-31"

#: Variables of every kind: continuous, binary, categorical, ordinal, derived,
#: stored (age, first line) and the site.
EVERY_KIND = {
    "baseline": [
        "age",
        "cea",
        "lesions",
        "largest_mm",
        "charlson",
        "sex",
        "liver_resected",
        "converted",
        "strategy",
        "primary_site",
        "kras",
        "mmr",
        "regimen",
        "biologic",
        "site",
        "ecog",
        "asa_class",
        "grade",
        "extent",
    ],
    "subgroups": ["sex", "extent", "regimen", "ecog", "liver_resected"],
    "associations": [
        ["extent", "liver_resected"],
        ["ecog", "converted"],
        ["grade", "later_palliative"],
        ["sex", "liver_resected"],
    ],
}


def run(spec: dict, *, user=None, rows: bool = False) -> reports.Report:
    """Run the report `spec`, from counts or (``rows``) from one row per patient."""
    spec = ReportSpec.from_dict({"as_of": CUTOFF, **spec})
    user = user or dataset.AllSites()
    if rows:
        with mock.patch("analytics.reports.needs_rows", return_value=True):
            return run_report(spec, user=user)
    return run_report(spec, user=user)


def assert_same(test, a, b, where="report"):
    """Assert two JSON-like values are equal: floats exactly (NaN equal to NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        test.assertEqual(list(a), list(b), where)
        for key in a:
            assert_same(test, a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        test.assertEqual(len(a), len(b), where)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(test, x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        test.assertTrue(math.isnan(b), where)
    else:
        test.assertEqual(a, b, where)


class CountedSectionsMixin:
    def assert_counted_equals_rows(self, spec: dict, *, user=None):
        counted = run(spec, user=user)
        rows = run(spec, user=user, rows=True)
        self.assertIsNone(
            reports.read_cohort(
                ReportSpec.from_dict({"as_of": CUTOFF, **spec}),
                user=user or dataset.AllSites(),
                min_cell=None,
            ).analysed,
            "the report was not read from counts",
        )
        assert_same(self, counted.sections, rows.sections)
        return counted


class CountedReportOnDemoCohortTests(CountedSectionsMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())

    def test_the_default_full_report_is_the_per_patient_report(self):
        result = self.assert_counted_equals_rows({})
        self.assertTrue(result["baseline"]["rows"])
        self.assertTrue(result["subgroups"])
        self.assertTrue(result["associations"])

    def test_variables_of_every_kind_give_the_per_patient_numbers(self):
        for spec in (
            EVERY_KIND,
            {**EVERY_KIND, "group_by": "sex"},
            {**EVERY_KIND, "group_by": "regimen"},
            {**EVERY_KIND, "group_by": "ecog", "endpoint": "rfs"},
            {**EVERY_KIND, "group_by": "extent", "index": "treatment"},
            {"group_by": "liver_resected", "cohort": {"regimens": ["folfox"]}},
        ):
            with self.subTest(spec=spec):
                self.assert_counted_equals_rows(spec)

    def test_a_group_a_minimum_cell_hides_is_left_out_in_both(self):
        site = make_site(code="SML", name="Small Hospital")
        for _ in range(2):
            make_full_patient(site=site)
        user = make_user("ann", sites=list(Site.objects.all()))
        result = self.assert_counted_equals_rows(
            {**EVERY_KIND, "group_by": "site"}, user=user
        )
        self.assertIn("Small Hospital", result["disclosure"]["suppressed_groups"])
        self.assertNotIn("Small Hospital", result["baseline"]["groups"])

    def test_the_full_report_reads_two_statements_of_counts(self):
        with CaptureQueriesContext(connection) as queries:
            run({})
        # the survival table, the tables' counts
        statements = read_statements(queries)
        self.assertEqual(len(statements), 2)
        self.assertIn("GROUP BY", statements[1])

    def test_the_fingerprint_changes_with_a_value_the_baseline_table_counts(self):
        before = run({}).fingerprint
        self.assertEqual(before, run({}).fingerprint)
        patient = Patient.objects.filter(ecog=1).order_by("pk").first()
        patient.ecog = 3
        patient.save()
        self.assertNotEqual(before, run({}).fingerprint)

    def test_the_fingerprint_changes_with_a_covariate_an_adjusted_report_reads(self):
        # Found by an audit: a corrected CEA changed the hazard ratios of a
        # report adjusted for it, and the rerun said the data were unchanged
        spec = {"covariates": ["cea"], "baseline": [], "associations": []}
        spec["subgroups"] = []
        before = run(spec)
        tumour = PrimaryTumour.objects.exclude(cea_ng_ml=None).order_by("pk")[0]
        tumour.cea_ng_ml = tumour.cea_ng_ml * 100 + 5000
        tumour.save()
        after = run(spec)
        self.assertNotEqual(
            before.sections["cox"]["terms"], after.sections["cox"]["terms"]
        )
        self.assertNotEqual(before.fingerprint, after.fingerprint)

    def test_the_fingerprint_changes_with_the_patients_left_out(self):
        # Found by an audit: a new patient without a diagnosis changed the
        # cohort's counts and exclusions, not the fingerprint
        for spec, rows in (({}, False), ({}, True)):
            with self.subTest(rows=rows):
                before = run(spec, rows=rows)
                make_patient(site=Site.objects.order_by("pk")[0])
                after = run(spec, rows=rows)
                self.assertNotEqual(before.sections["cohort"], after.sections["cohort"])
                self.assertNotEqual(before.fingerprint, after.fingerprint)

    def test_the_fingerprint_does_not_depend_on_the_order_of_the_counts(self):
        spec = ReportSpec.from_dict({"as_of": CUTOFF})
        cohort = reports.read_cohort(spec, user=dataset.AllSites(), min_cell=None)
        before = cohort.fingerprint()
        counted = cohort.counted
        cohort.counted = dataset.VariableCounts(
            baseline={k: f.iloc[::-1] for k, f in counted.baseline.items()},
            subgroups={k: f.iloc[::-1] for k, f in counted.subgroups.items()},
            associations={k: f.iloc[::-1] for k, f in counted.associations.items()},
        )
        self.assertEqual(cohort.fingerprint(), before)


class CountedReportOnBuiltCohortTests(CountedSectionsMixin, TestCase):
    """Missing values, missing-data codes and stored rules, patient by patient."""

    @classmethod
    def setUpTestData(cls):
        site = make_site(code="BLT")
        cls.patients = []
        for i in range(24):
            patient = make_full_patient(
                site=site,
                sex="MF"[i % 2],
                ecog=None if i % 5 == 0 else i % 3,
                asa_class=["", "unk", "II", "III", "nr"][i % 5],
                # the age recorded when the date of birth is not known
                date_of_birth=None if i % 4 == 0 else datetime.date(1940 + i, 3, 1),
                age_at_diagnosis=50 + i if i % 4 == 0 else None,
            )
            tumour = PrimaryTumour.objects.get(patient=patient)
            tumour.kras = ["mut", "unk", "wt", "na", "nr", "wt"][i % 6]
            tumour.grade = ["G1", "G2", "", "G3"][i % 4]
            tumour.cea_ng_ml = None if i % 3 == 0 else Decimal(2 + i * 1.5)
            tumour.save()
            if i % 3 == 1:
                # a second line the same day: the one entered first is first
                make_systemic(
                    patient, regimen="folfiri", start_date=tumour.diagnosis_date
                )
            if i % 2:
                make_death(patient, date=datetime.date(2005 + i % 4, 6, 1))
            cls.patients.append(patient)

    def test_missing_values_and_codes_count_as_missing_in_both(self):
        spec = {
            **EVERY_KIND,
            "group_by": "sex",
            "baseline": [*EVERY_KIND["baseline"], "asa_class"],
        }
        result = self.assert_counted_equals_rows(spec)
        rows = {row["variable"]: row for row in result["baseline"]["rows"]}
        self.assertNotIn("Unknown", str(rows["kras"]))
        self.assertEqual(sum(rows["kras"]["missing"].values()), 12)

    def test_a_grouping_with_missing_codes_leaves_those_patients_out_in_both(self):
        for group in ("kras", "asa_class", "ecog", "grade"):
            with self.subTest(group=group):
                self.assert_counted_equals_rows({**EVERY_KIND, "group_by": group})

    def test_a_survival_report_lists_a_grouping_recorded_as_missing_as_excluded(self):
        survival_only = {"baseline": [], "associations": [], "subgroups": []}
        result = run({**survival_only, "group_by": "kras"})
        # kras is unk, na or nr for 12 of the 24 patients (i % 6 in 1, 3, 4)
        self.assertEqual(result["cohort"]["excluded"], {"KRAS not recorded": 12})
        self.assertEqual(result["cohort"]["analysed"], 12)


class QueryCountTests(TestCase):
    def test_the_full_reports_queries_do_not_grow_with_the_cohort(self):
        site = make_site()
        for _ in range(3):
            make_full_patient(site=site)
        make_full_patient(site=site, sex="M")
        with CaptureQueriesContext(connection) as small:
            run(EVERY_KIND)
        for i in range(12):
            make_full_patient(site=site, sex="MF"[i % 2], ecog=i % 4)
        with CaptureQueriesContext(connection) as large:
            run(EVERY_KIND)
        self.assertEqual(len(large), len(small))
