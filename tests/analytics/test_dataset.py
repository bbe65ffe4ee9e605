"""analytics.dataset: the one bridge from the ORM, in a fixed number of queries."""

import datetime
from unittest import mock

import pandas as pd
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from analytics import dataset
from registry import bulk, derive
from registry.choices import Endpoint, IndexDate
from registry.models import Patient
from registry.selectors import patient_facts
from tests.cast import CastTestCase
from tests.factories import (
    make_death,
    make_full_patient,
    make_operation,
    make_patient,
    make_site,
    make_tumour,
)
from tests.statements import reads

AS_OF = datetime.date(2010, 1, 1)


def cohort(user=None):
    return dataset.cohort_queryset(user or dataset.AllSites(), dataset.Cohort())


def frame_with_flags(queryset, group):
    return dataset.patient_frame(
        queryset,
        group=group,
        as_of=AS_OF,
        variables=["liver_resected", "converted", "later_palliative"],
    )


def assert_same_tables(a, b):
    """Assert two SurvivalTables hold the same counts, exclusions, resections
    and flags."""

    def rows(frame):
        frame = (
            frame.assign(group=frame["group"].astype(str))
            if "group" in frame
            else frame
        )
        return sorted(map(tuple, frame.to_numpy().tolist()))

    assert list(a.counts.columns) == list(b.counts.columns)
    assert rows(a.counts) == rows(b.counts)
    assert list(a.counts["group"].cat.categories) == list(
        b.counts["group"].cat.categories
    )
    assert a.excluded == b.excluded
    assert rows(a.resections) == rows(b.resections)
    assert list(a.flags.columns) == list(b.flags.columns)
    assert rows(a.flags) == rows(b.flags)


class PatientFrameTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        site = make_site()
        cls.synchronous = make_full_patient(site=site)
        cls.dead = make_full_patient(site=site)
        make_death(cls.dead, date=datetime.date(2006, 3, 1))
        cls.staged = make_full_patient(site=site)
        cls.staged.operations.update(liver_procedure="none")
        make_operation(
            cls.staged, date=datetime.date(2004, 11, 1), liver_procedure="major"
        )
        cls.undiagnosed = make_patient(site=site)

    def test_one_row_per_patient_with_time_and_event_as_derive_defines_them(self):
        frame = dataset.patient_frame(
            cohort(), group="strategy", endpoint=Endpoint.OVERALL, as_of=AS_OF
        ).set_index("registry_number")
        for patient in (self.synchronous, self.dead, self.staged):
            expected = derive.survival(patient_facts(patient), as_of=AS_OF)
            row = frame.loc[patient.registry_number]
            with self.subTest(patient=patient.registry_number):
                self.assertEqual(row["days"], expected.days)
                self.assertEqual(bool(row["event"]), expected.event)
        self.assertEqual(
            frame.loc[self.staged.registry_number, "group"], "Staged resection"
        )

    def test_patient_without_diagnosis_has_no_time(self):
        frame = dataset.patient_frame(cohort(), group="strategy", as_of=AS_OF)
        row = frame[frame["registry_number"] == self.undiagnosed.registry_number]
        self.assertTrue(row["days"].isna().all())

    def test_identifiers_never_leave_the_dataset(self):
        frame = dataset.patient_frame(
            cohort(), group="strategy", as_of=AS_OF, variables=list(dataset.VARIABLES)
        )
        self.assertNotIn("mrn", frame.columns)
        self.assertNotIn("date_of_birth", frame.columns)
        for patient in Patient.objects.all():
            self.assertFalse((frame.astype(str) == patient.mrn).any().any())
        self.assertEqual(
            frame.loc[0, "age"], 53.0
        )  # born 1950-05-17, diagnosed 2004-01-10

    def test_categorical_variables_come_as_labels_in_vocabulary_order(self):
        frame = dataset.patient_frame(
            cohort(), group="strategy", as_of=AS_OF, variables=["extent", "sex"]
        )
        self.assertEqual(
            list(frame["extent"].cat.categories), ["< 25%", "25–50%", "50–75%", "> 75%"]
        )
        self.assertTrue(frame["extent"].cat.ordered)
        self.assertEqual(
            list(frame["group"].cat.categories)[0], "Synchronous resection"
        )

    def test_counts_in_the_database_agree_with_the_patient_frame(self):
        for group in ("strategy", "extent"):
            with self.subTest(group=group):
                assert_same_tables(
                    dataset.survival_table(cohort(), group=group, as_of=AS_OF),
                    dataset.table_from_frame(frame_with_flags(cohort(), group)),
                )

    def test_counts_exclude_patients_without_index_date_or_group(self):
        Patient.objects.filter(pk=self.dead.pk).update(sex="")
        table = dataset.survival_table(cohort(), group="sex", as_of=AS_OF)
        self.assertEqual(table.excluded, {"no_index_date": 1, "group_unknown": 1})
        self.assertEqual(table.patients, 4)
        self.assertEqual(table.counts["n"].sum(), 2)
        assert_same_tables(
            table, dataset.table_from_frame(frame_with_flags(cohort(), "sex"))
        )

    def test_counts_carry_the_treatment_flags_and_resection_times(self):
        table = dataset.survival_table(cohort(), group="strategy", as_of=AS_OF)
        # the three fully treated patients: liver and primary resected, not
        # converted, no later palliative surgery; counted once each
        flags = table.flags
        self.assertEqual(flags["n"].sum(), table.counts["n"].sum())
        treated = flags[
            flags["liver_resected"]
            & ~flags["unresected_primary"]
            & ~flags["converted"]
            & ~flags["later_palliative"]
        ]
        self.assertEqual(treated["n"].sum(), 3)
        # synchronous patients: primary and liver on the day of make_full_patient's
        # operation; the staged one's liver comes later, on 2004-11-01
        diagnosed = self.staged.tumour.diagnosis_date
        self.assertIn(
            (datetime.date(2004, 11, 1) - diagnosed).days,
            table.resections["days"].tolist(),
        )
        self.assertEqual(table.resections["n"].sum(), 3)

    def test_frame_read_in_small_chunks_is_the_same_frame(self):
        # four patients, chunks of two and of three: codes, dates, numbers and
        # flags survive the compaction of each chunk and the concatenation
        variables = list(dataset.VARIABLES)
        whole = dataset.patient_frame(
            cohort(), group="strategy", as_of=AS_OF, variables=variables
        )
        for size in (2, 3):
            with self.subTest(chunk=size), mock.patch.object(bulk, "FETCH_CHUNK", size):
                chunked = dataset.patient_frame(
                    cohort(), group="strategy", as_of=AS_OF, variables=variables
                )
                pd.testing.assert_frame_equal(chunked, whole)

    def test_unknown_variable_is_refused(self):
        with self.assertRaisesMessage(KeyError, "unknown variable(s): shoe_size"):
            dataset.patient_frame(
                cohort(), group="strategy", as_of=AS_OF, variables=["shoe_size"]
            )


class DatasetQueryCountTests(TestCase):
    def test_frame_and_counts_use_a_fixed_number_of_queries_whatever_the_size(self):
        site = make_site()
        seen = []
        for size in (3, 15):
            while Patient.objects.count() < size:
                make_full_patient(site=site)
            with CaptureQueriesContext(connection) as frame_queries:
                frame = dataset.patient_frame(
                    cohort(),
                    group="strategy",
                    index=IndexDate.TREATMENT,
                    as_of=AS_OF,
                    variables=["age", "regimen", "extent", "site"],
                )
            with CaptureQueriesContext(connection) as count_queries:
                dataset.survival_table(cohort(), group="strategy", as_of=AS_OF)
                dataset.variable_counts(
                    cohort(),
                    group="regimen",
                    as_of=AS_OF,
                    baseline=["age", "extent", "site"],
                    subgroups=["sex"],
                    associations=[("extent", "liver_resected")],
                )
            self.assertEqual(len(frame), size)
            seen.append((reads(frame_queries), reads(count_queries)))
        # Facts, recorded variables (the stored age and first line among them);
        # one aggregated query for survival, one for the tables.
        self.assertEqual(seen, [(2, 2), (2, 2)])

    def test_the_tables_count_gathers_parallel_rows_on_postgresql_alone(self):
        # The tables' count sets parallel_tuple_cost for its own statement
        # (analytics.dataset.variable_counts) and leaves the session as it was.
        if connection.vendor != "postgresql":
            self.skipTest("a PostgreSQL planner setting")
        make_full_patient(site=make_site())
        with connection.cursor() as cursor:
            cursor.execute("SHOW parallel_tuple_cost")
            before = cursor.fetchone()[0]
        with CaptureQueriesContext(connection) as queries:
            dataset.variable_counts(
                cohort(), group="strategy", as_of=AS_OF, baseline=["sex"]
            )
        statements = [q["sql"] for q in queries.captured_queries]
        counting = next(i for i, sql in enumerate(statements) if "GROUPING" in sql)
        self.assertIn("SET LOCAL parallel_tuple_cost = 0", statements[:counting])
        with connection.cursor() as cursor:
            cursor.execute("SHOW parallel_tuple_cost")
            self.assertEqual(cursor.fetchone()[0], before)


class CohortScopeTests(CastTestCase):
    def test_a_user_sees_only_the_patients_of_their_sites(self):
        north = make_full_patient(site=self.north)
        make_full_patient(site=self.south)
        frame = dataset.patient_frame(cohort(self.nina), group="strategy", as_of=AS_OF)
        self.assertEqual(list(frame["registry_number"]), [north.registry_number])

    def test_cohort_filters_narrow_the_patients(self):
        make_full_patient(site=self.north)
        later = make_patient(site=self.south)
        make_tumour(later, diagnosis_date=datetime.date(2007, 5, 1))
        chosen = dataset.cohort_queryset(
            self.mark,
            dataset.Cohort(sites=("STH",), diagnosed_from=datetime.date(2007, 1, 1)),
        )
        self.assertEqual(list(chosen.values_list("pk", flat=True)), [later.pk])
        self.assertEqual(
            dataset.unknown_sites(self.nina, ["NTH", "STH", "ZZZ"]), ["STH", "ZZZ"]
        )


class CohortFactsTests(CastTestCase):
    """cohort_facts: the cohort's patients, selected on their stored facts."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patients = [make_full_patient(site=cls.north) for _ in range(3)]
        cls.patients += [make_full_patient(site=cls.south) for _ in range(2)]
        later = make_patient(site=cls.south, sex="M")
        make_tumour(later, diagnosis_date=datetime.date(2007, 5, 1))
        cls.patients.append(later)
        cls.patients[1].operations.update(liver_procedure="none")

    def test_every_filter_selects_the_same_patients_as_the_patient_cohort(self):
        cohorts = {
            "all": dataset.Cohort(),
            "site": dataset.Cohort(sites=("STH",)),
            "diagnosed": dataset.Cohort(
                diagnosed_from=datetime.date(2007, 1, 1),
                diagnosed_to=datetime.date(2008, 1, 1),
            ),
            "strategy": dataset.Cohort(strategies=("primary_only",)),
            "records": dataset.Cohort(sexes=("F",), m_stages=("M1a",)),
            "synthetic": dataset.Cohort(synthetic=False),
        }
        sizes = {}
        everyone = dataset.AllSites()
        for user in (everyone, self.nina, self.mark):
            for name, chosen in cohorts.items():
                with self.subTest(user=str(user), cohort=name):
                    patients = dataset.cohort_queryset(user, chosen)
                    facts = dataset.cohort_facts(user, chosen)
                    self.assertEqual(
                        sorted(facts.values_list("patient_id", flat=True)),
                        sorted(patients.values_list("pk", flat=True)),
                    )
                    sizes[user, name] = facts.count()
        # the filters and the sites narrow the cohort (nina sees the north only)
        self.assertEqual([sizes[everyone, n] for n in cohorts], [6, 3, 1, 1, 5, 6])
        self.assertEqual(sizes[self.nina, "all"], 3)

    def test_a_cohort_of_sites_and_facts_reads_the_facts_without_the_patients(self):
        chosen = dataset.Cohort(sites=("NTH",), strategies=("synchronous",))
        facts = dataset.cohort_facts(self.mark, chosen)
        with CaptureQueriesContext(connection) as queries:
            table = dataset.survival_table(facts, group="strategy", as_of=AS_OF)
        (statement,) = [q["sql"] for q in queries.captured_queries]
        # the registry number's LEFT JOIN (never read here) is the only mention
        self.assertEqual(statement.count("registry_patient"), 1)
        self.assertIn("LEFT JOIN registry_patient p", statement)
        assert_same_tables(
            table,
            dataset.survival_table(
                dataset.cohort_queryset(self.mark, chosen),
                group="strategy",
                as_of=AS_OF,
            ),
        )
        self.assertEqual(table.patients, 2)

    def test_a_filter_on_the_records_joins_the_patients(self):
        chosen = dataset.Cohort(sexes=("M",))
        facts = dataset.cohort_facts(self.mark, chosen)
        assert_same_tables(
            dataset.survival_table(facts, group="sex", as_of=AS_OF),
            dataset.survival_table(
                dataset.cohort_queryset(self.mark, chosen), group="sex", as_of=AS_OF
            ),
        )


class FingerprintTests(TestCase):
    def test_fingerprint_ignores_row_order_and_sees_any_change(self):
        import pandas as pd

        rows = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        same = dataset.fingerprint(rows, ["a", "b"])
        self.assertEqual(same, dataset.fingerprint(rows.iloc[::-1], ["a", "b"]))
        changed = rows.assign(a=[1, 2, 4])
        self.assertNotEqual(same, dataset.fingerprint(changed, ["a", "b"]))

    def test_fingerprint_is_the_hash_of_the_sorted_rows_as_pandas_writes_them(self):
        # The definition stored fingerprints were made with (saved reports compare
        # runs by it): the rows as text, sorted, written by pandas' to_csv.
        import hashlib

        import numpy as np
        import pandas as pd

        def by_pandas(frame, columns):
            rows = frame[columns].astype(str).sort_values(columns)
            text = rows.to_csv(index=False, header=False)
            return hashlib.sha256(text.encode()).hexdigest()

        labels = ["A", "A B", "A,B", 'say "hi"', "", "Zeta", "line\nbreak", "a"]
        rng = np.random.default_rng(9)
        n = 400
        frame = pd.DataFrame(
            {
                "group": pd.Categorical(
                    rng.choice(labels + [None], n), categories=labels
                ),
                "text": rng.choice(labels, n).astype(object),
                "days": rng.integers(-3, 1200, n),
                "months": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 40),
                "event": rng.random(n) < 0.5,
                "n": rng.integers(1, 12, n),
            }
        )
        columns = list(frame.columns)
        self.assertEqual(dataset.fingerprint(frame, columns), by_pandas(frame, columns))
        for column in columns:
            with self.subTest(column=column):
                self.assertEqual(
                    dataset.fingerprint(frame, [column]), by_pandas(frame, [column])
                )
        empty = frame.iloc[:0]
        self.assertEqual(dataset.fingerprint(empty, columns), by_pandas(empty, columns))


class StrategyAtLandmarkTests(TestCase):
    def test_strategy_at_a_landmark_counts_only_the_resections_done_by_then(self):
        import pandas as pd

        frame = pd.DataFrame(
            {
                "diagnosis_date": pd.to_datetime(["2004-01-01"] * 3),
                # staged: primary at 3 months, liver at 9 months
                "first_primary_resection": pd.to_datetime(
                    ["2004-04-01", "2004-04-01", None]
                ),
                "first_liver_resection": pd.to_datetime(
                    ["2004-10-01", "2004-04-01", None]
                ),
            }
        )
        at_six_months = dataset.strategy_by(frame, 182)
        at_a_year = dataset.strategy_by(frame, 365)
        self.assertEqual(
            list(at_six_months),
            ["Primary only", "Synchronous resection", "No resection"],
        )
        self.assertEqual(
            list(at_a_year),
            ["Staged resection", "Synchronous resection", "No resection"],
        )


class CancerSpecificEndpointTests(TestCase):
    """The endpoint css on a small cohort: death from colorectal cancer is the
    event; deaths from other or unknown causes are censored at death and marked
    competing; the living are censored at their last contact."""

    @classmethod
    def setUpTestData(cls):
        site = make_site()
        cls.patients = {}
        for cause in ("colorectal", "other", "unknown", "treatment", None):
            patient = make_full_patient(site=site)
            if cause:
                make_death(patient, date=datetime.date(2006, 3, 1), cause=cause)
            cls.patients[cause or "alive"] = patient.registry_number
        # diagnosed 2004-01-10 (make_tumour); last contact 2005-01-10 (follow-up)
        cls.death_days = (datetime.date(2006, 3, 1) - datetime.date(2004, 1, 10)).days
        cls.alive_days = (datetime.date(2005, 1, 10) - datetime.date(2004, 1, 10)).days

    def expected(self):
        return {
            "colorectal": (self.death_days, True, False),
            "other": (self.death_days, False, True),
            "unknown": (self.death_days, False, True),
            "treatment": (self.death_days, False, True),
            "alive": (self.alive_days, False, False),
        }

    def test_patient_frame_codes_the_cause_of_death(self):
        frame = dataset.patient_frame(
            cohort(), group="strategy", endpoint=Endpoint.CANCER_SPECIFIC, as_of=AS_OF
        ).set_index("registry_number")
        got = {
            name: (
                int(frame.loc[number, "days"]),
                bool(frame.loc[number, "event"]),
                bool(frame.loc[number, "competing"]),
            )
            for name, number in self.patients.items()
        }
        self.assertEqual(got, self.expected())

    def test_counted_table_has_one_event_and_three_competing_deaths(self):
        table = dataset.survival_table(
            cohort(), group="sex", endpoint=Endpoint.CANCER_SPECIFIC, as_of=AS_OF
        )
        rows = sorted(
            (int(r.days), bool(r.event), bool(r.competing), int(r.n))
            for r in table.counts.itertuples()
        )
        self.assertEqual(
            rows,
            [
                (self.alive_days, False, False, 1),
                (self.death_days, False, True, 3),
                (self.death_days, True, False, 1),
            ],
        )
        assert_same_tables(
            table,
            dataset.table_from_frame(
                dataset.patient_frame(
                    cohort(),
                    group="sex",
                    endpoint=Endpoint.CANCER_SPECIFIC,
                    as_of=AS_OF,
                    variables=["liver_resected", "converted", "later_palliative"],
                )
            ),
        )

    def test_overall_survival_counts_all_four_deaths_as_events(self):
        table = dataset.survival_table(cohort(), group="sex", as_of=AS_OF)
        events = table.counts.loc[table.counts["event"], "n"].sum()
        self.assertEqual(events, 4)
        self.assertFalse(table.counts["competing"].any())
