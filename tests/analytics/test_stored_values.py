"""No stored value crashes a report: out-of-range data written past validation.

The forms and the models refuse dates outside the registry's bounds
(registry.derive.date_out_of_bounds), but a value can still reach the tables
by a path that skips validation (the ORM's save() without full_clean(), a
restore, SQL). A full report of such data must still run: an impossible date
is a missing value to the statistics, never a server error.
"""

import datetime

from django.test import TestCase

from analytics import dataset, export
from analytics.reports import run_report
from analytics.spec import ReportSpec
from registry.models import Operation, Patient, PrimaryTumour, RadiationCourse
from tests.factories import make_full_patient, make_site

CUTOFF = datetime.date(2012, 1, 1)
EVERY_SECTION = {
    "as_of": CUTOFF.isoformat(),
    "baseline": ["age", "sex", "primary_site", "clinical_m", "kras", "histology"],
    "covariates": ["age"],
    "subgroups": ["sex"],
}


class OutOfRangeStoredValueTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        site = make_site(code="OLD")
        cls.patients = [make_full_patient(site=site) for _ in range(8)]
        odd = cls.patients[0]
        # Written with save(), which does not call full_clean(): as a restore
        # or a careless script would.
        Patient.objects.filter(pk=odd.pk).update(date_of_birth=datetime.date(1, 1, 1))
        radiation = RadiationCourse.objects.filter(patient=odd).get()
        radiation.start_date = datetime.date(1677, 1, 1)
        radiation.end_date = datetime.date(1677, 2, 1)
        radiation.save()
        operation = Operation.objects.filter(patient=cls.patients[1]).get()
        operation.date = datetime.date(1, 1, 1)
        operation.save()
        tumour = PrimaryTumour.objects.get(patient=cls.patients[2])
        tumour.primary_site = "zz_gone"  # a code no vocabulary has
        tumour.clinical_m = "unk"
        tumour.save()

    def test_a_full_report_of_out_of_range_dates_runs(self):
        spec = ReportSpec.from_dict(EVERY_SECTION)
        report = run_report(spec, user=dataset.AllSites())
        self.assertEqual(sum(group["n"] for group in report["groups"]), 8)
        self.assertIn("baseline", report.sections)

    def test_the_downloads_of_that_report_are_made(self):
        spec = ReportSpec.from_dict(EVERY_SECTION)
        report = run_report(spec, user=dataset.AllSites())
        data = report.to_dict()
        self.assertTrue(export.to_xlsx(data))
        self.assertTrue(export.to_pdf(export.result_json(report)))


class MissingCodeTests(TestCase):
    """A missing-data code is a missing value in reports, not a category."""

    @classmethod
    def setUpTestData(cls):
        site = make_site(code="MIS")
        cls.known = make_full_patient(site=site)
        cls.unknown = make_full_patient(site=site)
        PrimaryTumour.objects.filter(patient=cls.unknown).update(
            clinical_m="unk", kras="nr", primary_site="unk"
        )

    def frame(self):
        return dataset.patient_frame(
            Patient.objects.all(),
            group="strategy",
            as_of=CUTOFF,
            variables=["clinical_m", "kras", "primary_site"],
        ).set_index("registry_number")

    def test_missing_codes_are_missing_values(self):
        frame = self.frame()
        for name in ("clinical_m", "kras", "primary_site"):
            with self.subTest(variable=name):
                self.assertTrue(frame[name].isna()[self.unknown.registry_number])
                self.assertFalse(frame[name].isna()[self.known.registry_number])

    def test_missing_codes_are_not_categories(self):
        frame = self.frame()
        for name in ("clinical_m", "kras", "primary_site"):
            with self.subTest(variable=name):
                labels = list(frame[name].cat.categories)
                shown = [
                    label
                    for label in labels
                    if label in ("unk", "nr") or label.startswith(("Unknown", "Not r"))
                ]
                self.assertEqual(shown, [])

    def test_baseline_table_counts_them_as_missing(self):
        spec = ReportSpec.from_dict(
            {"as_of": CUTOFF.isoformat(), "baseline": ["clinical_m"]}
        )
        report = run_report(spec, user=dataset.AllSites())
        [row] = report["baseline"]["rows"]
        self.assertEqual(sum(row["missing"].values()), 1)
        self.assertNotIn("Unknown (not staged)", row["overall"])


class AgeWithoutDateOfBirthTests(TestCase):
    def test_the_recorded_age_stands_in_for_an_unknown_date_of_birth(self):
        site = make_site(code="AGE")
        dated = make_full_patient(site=site, date_of_birth=datetime.date(1950, 5, 17))
        aged = make_full_patient(site=site)
        Patient.objects.filter(pk=aged.pk).update(
            date_of_birth=None, age_at_diagnosis=71
        )
        frame = dataset.patient_frame(
            Patient.objects.all(), group="strategy", as_of=CUTOFF, variables=["age"]
        ).set_index("registry_number")
        # 1950-05-17 to the diagnosis on 2004-01-10: 53 whole years
        self.assertEqual(frame.loc[dated.registry_number, "age"], 53)
        self.assertEqual(frame.loc[aged.registry_number, "age"], 71)
