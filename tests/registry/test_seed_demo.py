"""The synthetic demo cohort has the shape of the study in DESIGN.md."""

import datetime
import io

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.test import SimpleTestCase, TestCase
from lifelines import KaplanMeierFitter

from registry import bulk, demo
from registry.choices import Strategy
from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)

CUTOFF = demo.DATA_CUTOFF


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


class SeedDemoTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = seed()
        extent = dict(Patient.objects.values_list("pk", "liver__extent"))
        cls.rows = [
            {**row, "liver__extent": extent[row["id"]]}
            for row in bulk.fetch_facts(Patient.objects.all(), as_of=CUTOFF)
        ]

    def by_strategy(self, strategy):
        return [row for row in self.rows if row["strategy"] == strategy]

    def test_creates_74_patients_with_the_studys_strategy_counts(self):
        counts = Patient.objects.with_derived().aggregate(
            **{code: Count("pk", filter=Q(strategy=code)) for code in Strategy.values}
        )
        self.assertEqual(
            counts,
            {
                "synchronous": 30,
                "staged": 13,
                "primary_only": 22,
                "liver_only": 0,
                "none": 9,
            },
        )

    def test_every_patient_had_chemoradiation_and_folfox_or_folfiri(self):
        self.assertEqual(
            RadiationCourse.objects.values("patient").distinct().count(), 74
        )
        regimens = set(SystemicTherapyLine.objects.values_list("regimen", flat=True))
        self.assertEqual(regimens, {"folfox", "folfiri"})

    def test_diagnoses_lie_in_2002_to_2008(self):
        dates = PrimaryTumour.objects.values_list("diagnosis_date", flat=True)
        self.assertGreaterEqual(min(dates), datetime.date(2002, 1, 1))
        self.assertLessEqual(max(dates), datetime.date(2008, 12, 31))

    def test_follow_up_runs_from_4_to_58_months(self):
        months = [row["survival_days"] / 30.4375 for row in self.rows]
        self.assertGreaterEqual(min(months), 4)
        self.assertLessEqual(max(months), 58)

    def test_median_survival_per_arm_is_near_the_study(self):
        # Study: 46 (synchronous), 47 (staged), 31 (primary only) months.
        for strategy, study in (
            ("synchronous", 46),
            ("staged", 47),
            ("primary_only", 31),
        ):
            rows = self.by_strategy(strategy)
            fit = KaplanMeierFitter().fit(
                [r["survival_days"] / 30.4375 for r in rows],
                [r["survival_event"] for r in rows],
            )
            with self.subTest(strategy=strategy):
                self.assertAlmostEqual(fit.median_survival_time_, study, delta=3)

    def test_about_a_quarter_converted_to_resectable(self):
        converted = sum(row["converted"] for row in self.rows)
        self.assertEqual(converted, 19)  # 26% of 74, as in the study

    def test_six_of_nine_unresected_needed_later_palliative_surgery(self):
        unresected = self.by_strategy("none")
        self.assertEqual(sum(row["later_palliative"] for row in unresected), 6)
        self.assertEqual(sum(row["later_palliative"] for row in self.rows), 6)

    def test_extent_of_liver_disease_is_associated_with_resection(self):
        small = [r for r in self.rows if r["liver__extent"] in ("lt25", "25to50")]
        large = [r for r in self.rows if r["liver__extent"] in ("50to75", "gt75")]
        share = lambda rows: sum(r["liver_resected"] for r in rows) / len(rows)  # noqa: E731
        self.assertGreater(share(small), 0.6)
        self.assertLess(share(large), 0.3)

    def test_every_generated_record_passes_model_validation(self):
        for model in (
            Patient,
            PrimaryTumour,
            LiverMetastases,
            RadiationCourse,
            SystemicTherapyLine,
            Operation,
            FollowUp,
            Death,
        ):
            for obj in model.objects.all():
                with self.subTest(model=model.__name__, pk=obj.pk):
                    obj.full_clean()

    def test_everything_is_marked_synthetic(self):
        self.assertFalse(Patient.objects.filter(is_synthetic=False).exists())
        self.assertFalse(Site.objects.filter(is_synthetic=False).exists())

    def test_creation_is_in_the_history(self):
        self.assertEqual(Patient.history.filter(history_type="+").count(), 74)
        self.assertEqual(
            Operation.history.filter(history_type="+").count(),
            Operation.objects.count(),
        )

    def test_one_demo_user_per_group_with_printed_credentials(self):
        for username, password, group, _, _ in (
            ("nurse", "nurse-demo-2026", "Data entry", 0, 0),
            ("manager", "manager-demo-2026", "Data manager", 0, 0),
            ("analyst", "analyst-demo-2026", "Analyst", 0, 0),
        ):
            user = get_user_model().objects.get(username=username)
            self.assertTrue(user.check_password(password))
            self.assertTrue(user.groups.filter(name=group).exists())
            self.assertIn(f"{username}", self.output)
            self.assertIn(password, self.output)

    def test_seeding_a_registry_that_holds_patients_is_refused(self):
        with self.assertRaisesMessage(CommandError, "already holds 74 patients"):
            seed()

    def test_if_empty_leaves_a_filled_registry_alone(self):
        output = seed("--if-empty")
        self.assertIn("not seeding", output)
        self.assertEqual(Patient.objects.count(), 74)

    def test_replace_swaps_the_synthetic_cohort(self):
        seed("--replace", "--patients", "20")
        self.assertEqual(Patient.objects.count(), 20)

    def test_synthetic_banner_shows_on_the_home_page(self):
        self.client.force_login(get_user_model().objects.get(username="manager"))
        response = self.client.get("/")
        self.assertContains(response, "Synthetic demonstration data")


class LargeSeedTests(TestCase):
    def test_patients_option_makes_a_registry_of_the_same_shape(self):
        seed("--patients", "740", "--seed", "7")
        self.assertEqual(Patient.objects.count(), 740)
        counts = Patient.objects.with_derived().aggregate(
            **{c: Count("pk", filter=Q(strategy=c)) for c in Strategy.values}
        )
        self.assertEqual(
            counts,
            {
                "synchronous": 300,
                "staged": 130,
                "primary_only": 220,
                "liver_only": 0,
                "none": 90,
            },
        )

    def test_zero_patients_is_refused_with_a_message(self):
        with self.assertRaisesMessage(CommandError, "--patients must be at least 1"):
            seed("--patients", "0")


class GeneratorTests(SimpleTestCase):
    def test_same_seed_gives_the_same_cohort(self):
        first = demo.generate(patients=30, seed=11)
        second = demo.generate(patients=30, seed=11)
        self.assertEqual(
            [(p.registry_number, p.tumour, p.operations) for p in first],
            [(p.registry_number, p.tumour, p.operations) for p in second],
        )

    def test_another_seed_gives_another_cohort(self):
        first = demo.generate(patients=30, seed=11)
        second = demo.generate(patients=30, seed=12)
        self.assertNotEqual(
            [p.tumour["diagnosis_date"] for p in first],
            [p.tumour["diagnosis_date"] for p in second],
        )

    def test_arm_sizes_scale_by_largest_remainder(self):
        self.assertEqual([n for _, n, _ in demo.arm_sizes(74)], [30, 13, 22, 9])
        self.assertEqual(sum(n for _, n, _ in demo.arm_sizes(1001)), 1001)

    def test_large_registries_spread_over_more_sites(self):
        self.assertEqual(len(demo.site_list(74)), 2)
        self.assertEqual(len(demo.site_list(100_000)), 4)
