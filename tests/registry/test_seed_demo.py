"""The synthetic demo cohort has the shape of the study the registry grew from."""

import datetime
import io
import re
import unittest
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Q
from django.test import SimpleTestCase, TestCase
from lifelines import KaplanMeierFitter

from registry import bulk, demo, facts
from registry.choices import Strategy
from registry.management.commands import seed_demo
from registry.management.commands.seed_demo import REASON, RECORDS
from registry.models import (
    Death,
    DerivedFacts,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)
from tests.factories import make_full_patient

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

    def test_an_interrupted_replace_keeps_the_old_cohort(self):
        # Found by an audit: the old cohort was deleted in a transaction of its
        # own; Ctrl-C while the new one was made left an empty registry
        def interrupted(**kwargs):
            yield from []
            raise KeyboardInterrupt

        with mock.patch.object(demo, "generate_chunks", interrupted):
            with self.assertRaises(KeyboardInterrupt):
                seed("--replace", "--patients", "30")
        self.assertEqual(Patient.objects.synthetic().count(), 74)

    def test_a_replace_refused_for_real_patients_removes_nothing(self):
        # Found by an audit: it removed the demo cohort, then refused
        make_full_patient()
        with self.assertRaisesMessage(CommandError, "1 patients who are not"):
            seed("--replace", "--patients", "20")
        self.assertEqual(Patient.objects.synthetic().count(), 74)

    def test_the_help_names_no_file_the_repository_lacks(self):
        from pathlib import Path

        root = Path(__file__).resolve().parents[2]
        parser = seed_demo.Command().create_parser("manage.py", "seed_demo")
        for name in re.findall(r"[\w./-]+\.md\b", parser.format_help()):
            with self.subTest(name=name):
                self.assertTrue((root / name).exists(), name)

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

    def test_zero_or_too_many_patients_is_refused_with_a_message(self):
        # an audit's mistyped --patients 100000000000 ran until memory ran out
        for option, value in (
            ("--patients", "0"),
            ("--patients", str(10**11)),
            ("--chunk-size", str(10**9)),
        ):
            with self.subTest(option=option, value=value):
                with self.assertRaisesMessage(CommandError, f"{option} must be from 1"):
                    seed(option, value)
        self.assertFalse(Patient.objects.exists())


class ChunkedSeedTests(TestCase):
    """A registry written a chunk of patients at a time (seed_demo --chunk-size)."""

    @classmethod
    def setUpTestData(cls):
        seed("--patients", "40", "--seed", "3", "--chunk-size", "7")

    def test_chunks_write_the_cohort_one_chunk_writes(self):
        chunked = contents()
        seed("--replace", "--patients", "40", "--seed", "3")
        self.assertEqual(len(chunked), 40)
        self.assertEqual(contents(), chunked)

    def test_patient_ids_follow_the_registry_numbers(self):
        diagnoses = list(
            Patient.objects.order_by("pk").values_list(
                "tumour__diagnosis_date", flat=True
            )
        )
        self.assertEqual(diagnoses, sorted(diagnoses))
        for site in Site.objects.all():
            numbers = list(
                site.patients.order_by("pk").values_list("registry_number", flat=True)
            )
            with self.subTest(site=site.code):
                self.assertEqual(numbers, sorted(numbers))

    def test_stored_facts_equal_the_rules(self):
        ids = list(Patient.objects.values_list("pk", flat=True))
        self.assertEqual(len(ids), 40)
        self.assertEqual(facts.differences(ids), {})

    def test_every_record_has_its_creation_in_the_history(self):
        for model in (Patient, *(model for model, _ in RECORDS)):
            fields = [f.attname for f in model.history.model.tracked_fields]
            records = set(model.objects.values_list(*fields))
            created = model.history.filter(history_type="+")
            with self.subTest(model=model.__name__):
                self.assertTrue(records)
                self.assertEqual(set(created.values_list(*fields)), records)
                self.assertEqual(created.count(), len(records))
                self.assertEqual(
                    set(created.values_list("history_change_reason", flat=True)),
                    {REASON},
                )
                self.assertFalse(created.exclude(history_user=None).exists())

    def test_site_counters_follow_the_numbers_given(self):
        for site in Site.objects.all():
            with self.subTest(site=site.code):
                self.assertGreater(site.last_registry_number, 0)
                self.assertEqual(
                    site.last_registry_number, site.highest_registry_number()
                )
        site = Site.objects.get(code="NFG")
        self.assertEqual(
            make_full_patient(site=site).registry_number,
            f"NFG-{site.last_registry_number + 1:05d}",
        )

    def test_replace_deletes_a_chunk_at_a_time_keeping_the_deletions(self):
        before = {model: model.objects.count() for model in (Patient, FollowUp)}
        with mock.patch.object(seed_demo, "DELETE_CHUNK", 7):
            seed("--replace", "--patients", "20", "--seed", "4")
        self.assertEqual(Patient.objects.count(), 20)
        for model, count in before.items():
            with self.subTest(model=model.__name__):
                self.assertEqual(model.history.filter(history_type="-").count(), count)
        ids = list(Patient.objects.values_list("pk", flat=True))
        self.assertEqual(facts.differences(ids), {})

    def test_new_records_take_ids_after_the_seeded_ones(self):
        patient = make_full_patient(site=Site.objects.get(code="RUH"))
        for model in (Patient, *(model for model, _ in RECORDS)):
            rows = model.objects.filter(
                **({"pk": patient.pk} if model is Patient else {"patient": patient})
            )
            seeded = model.objects.exclude(pk__in=rows.values("pk"))
            highest = max(seeded.values_list("pk", flat=True))
            with self.subTest(model=model.__name__):
                self.assertTrue(
                    all(pk > highest for pk in rows.values_list("pk", flat=True))
                )


def indexes() -> dict[str, str]:
    """Return the definition of every index of the registry's tables, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename LIKE %s",
            ["registry_%"],
        )
        return dict(cursor.fetchall())


class LoadFailed(Exception):
    """Raised in the middle of a load by IndexRebuildTests."""


@unittest.skipUnless(connection.vendor == "postgresql", "COPY is PostgreSQL's")
class IndexRebuildTests(TestCase):
    """seed_demo drops the indexes that enforce nothing while it copies the rows
    in, and builds them again: as they were after a load, still there after a
    failed one."""

    def seed_watching_indexes(self, during: dict[str, str], *, fail: bool) -> None:
        """Seed 30 patients a chunk of 10 at a time; put the indexes found as the
        second chunk is written in `during` (and raise LoadFailed then if `fail`)."""
        write = seed_demo.PostgresTables.write
        calls = 0

        def watching(backend, rows):
            nonlocal calls
            calls += 1
            if calls == 2:
                during.update(indexes())
                if fail:
                    raise LoadFailed
            return write(backend, rows)

        with mock.patch.object(seed_demo.PostgresTables, "write", watching):
            seed("--patients", "30", "--seed", "6", "--chunk-size", "10")

    def assert_dropped_exactly_those_enforcing_nothing(self, before, during):
        dropped = {name: before[name] for name in before.keys() - during.keys()}
        self.assertIn("facts_diagnosis_date_list_idx", dropped)
        self.assertIn("registry_historicalfollowup_log", dropped)
        self.assertTrue(all("UNIQUE" not in d for d in dropped.values()), dropped)
        unique = {name for name, d in before.items() if "UNIQUE" in d}
        self.assertLessEqual(unique, during.keys())
        self.assertIn("registry_site_name_9d55b552_like", during, "table not written")
        self.assertEqual({name: before[name] for name in during}, during)

    def test_every_index_is_back_after_a_seed_as_it_was(self):
        before, during = indexes(), {}
        self.seed_watching_indexes(during, fail=False)
        self.assert_dropped_exactly_those_enforcing_nothing(before, during)
        self.assertEqual(Patient.objects.count(), 30)
        self.assertEqual(indexes(), before)

    def test_a_failed_seed_leaves_every_index_in_place(self):
        before, during = indexes(), {}
        with self.assertRaises(LoadFailed):
            self.seed_watching_indexes(during, fail=True)
        self.assert_dropped_exactly_those_enforcing_nothing(before, during)
        self.assertFalse(Patient.objects.exists())
        self.assertEqual(indexes(), before)


#: The stored facts' columns but their site's id (contents() reads its code).
FACTS_FIELDS = [
    f.attname for f in DerivedFacts._meta.concrete_fields if f.name != "site"
]


def contents() -> dict[str, dict]:
    """Return every patient's fields, records and stored facts by registry number,
    without ids."""
    patients = Patient.objects.values(
        "id", "registry_number", "site__code", "mrn", "date_of_birth", "sex", "ecog"
    )
    by_id = {
        patient.pop("id"): {**patient, **{m.__name__: [] for m, _ in RECORDS}}
        for patient in patients
    }
    skip = {"id", "patient_id", "created_at", "updated_at"}
    for model, _ in RECORDS:
        for row in model.objects.values():
            values = {name: value for name, value in row.items() if name not in skip}
            by_id[row["patient_id"]][model.__name__].append(values)
    for row in DerivedFacts.objects.values(*FACTS_FIELDS, "site__code"):
        by_id[row.pop("patient_id")]["facts"] = row
    for patient in by_id.values():
        for model, _ in RECORDS:
            patient[model.__name__].sort(key=repr)
    return {patient["registry_number"]: patient for patient in by_id.values()}


class GeneratorTests(SimpleTestCase):
    def test_default_cohort_is_drawn_as_it_always_was(self):
        # Pinned from the generator before it was chunked: the default cohort's
        # draws must not change (its report is pinned to R).
        cohort = demo.generate()
        self.assertEqual(
            [
                (p.registry_number, p.patient["mrn"], p.tumour["diagnosis_date"])
                for p in (*cohort[:3], cohort[-1])
            ],
            [
                ("NFG-00001", "SYN41046009", datetime.date(2002, 1, 28)),
                ("NFG-00002", "SYN20040373", datetime.date(2002, 5, 24)),
                ("NFG-00003", "SYN12269376", datetime.date(2002, 6, 13)),
                ("NFG-00047", "SYN21475003", datetime.date(2008, 6, 8)),
            ],
        )

    def test_chunks_hold_the_cohort_generate_gives(self):
        chunks = list(demo.generate_chunks(patients=50, seed=5, chunk_size=3))
        self.assertEqual(len(chunks), 17)
        self.assertTrue(all(len(chunk) <= 3 for chunk in chunks))
        for chunk in chunks:
            positions = [p.position for p in chunk]
            self.assertEqual(positions, sorted(positions))
        together = sorted(
            (p for chunk in chunks for p in chunk), key=lambda p: p.position
        )
        self.assertEqual(together, demo.generate(patients=50, seed=5))

    def test_first_pass_draws_what_the_full_draw_draws(self):
        # generate_chunks numbers the cohort from _patient_key's keys and sites,
        # then draws every patient again in full with _patient: the two must
        # give the same keys and sites and leave the generator in the same state
        # after each patient, or every later patient would differ.
        full_patients = []
        for patients, seed in (
            (1, 1),
            (9, 2),
            (74, demo.DEFAULT_SEED),
            (300, 3),
            (2000, 4),
        ):
            full, full_states = draws(patients, seed, demo._patient)
            keys, key_states = draws(patients, seed, demo._patient_key)
            with self.subTest(patients=patients, seed=seed):
                self.assertEqual(len(keys), patients)
                self.assertEqual(
                    keys, [(demo._registry_key(p), p.site_index) for p in full]
                )
                # A state is 625 numbers: name the first patient after whom the
                # states differ rather than diff them all.
                self.assertEqual(len(key_states), len(full_states))
                differing = (
                    drawn
                    for drawn, (state, expected) in enumerate(
                        zip(key_states, full_states, strict=True)
                    )
                    if state != expected
                )
                self.assertIsNone(next(differing, None))
            full_patients += full
        # Every branch of the draws was taken.
        unresected = [p for p in full_patients if p.strategy == Strategy.NONE]
        staged = [p for p in full_patients if p.strategy == Strategy.STAGED]
        lesions = {p.liver["lesion_count"] <= 2 for p in full_patients}
        self.assertEqual(
            {p.strategy for p in full_patients},
            {
                Strategy.SYNCHRONOUS,
                Strategy.STAGED,
                Strategy.PRIMARY_ONLY,
                Strategy.NONE,
            },
        )
        self.assertEqual({bool(p.operations) for p in unresected}, {True, False})
        self.assertEqual(
            {p.operations[0]["liver_procedure"] != "none" for p in staged},
            {True, False},
            "liver first and primary first",
        )
        self.assertEqual({p.death is None for p in full_patients}, {True, False})
        self.assertEqual(lesions, {True, False})
        self.assertGreater(len({len(p.followups) for p in full_patients}), 10)

    def test_positions_follow_registry_order(self):
        cohort = demo.generate(patients=60, seed=8)
        self.assertEqual([p.position for p in cohort], list(range(60)))
        self.assertEqual(len({p.patient["mrn"] for p in cohort}), 60, "MRNs are unique")

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


def draws(patients: int, seed: int, drawing) -> tuple[list, list[tuple]]:
    """Return what `drawing` made of each patient drawn, and the generator's
    state after each."""
    made, states = [], []

    def recording(rng, **arm_draws):
        made.append(drawing(rng, **arm_draws))
        states.append(rng.getstate())
        return made[-1]

    list(demo._draw(patients, seed, drawing=recording))
    return made, states
