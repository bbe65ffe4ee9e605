"""The bulk path (ORM annotations) agrees with the pure rules on generated cohorts."""

import datetime
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from registry import bulk, derive
from registry.choices import (
    DiseaseStatus,
    Endpoint,
    IndexDate,
    LiverProcedure,
    PalliativeProcedure,
    PrimaryProcedure,
    Resectability,
)
from registry.derive import ContactFact, CourseFact, OperationFact, PatientFacts
from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    SystemicTherapyLine,
)
from tests.factories import make_full_patient, make_site

dates = st.dates(datetime.date(2001, 1, 1), datetime.date(2009, 12, 31))


@st.composite
def courses(draw):
    start = draw(dates)
    length = draw(st.none() | st.integers(0, 400))
    end = None if length is None else start + datetime.timedelta(days=length)
    return CourseFact(start, end)


operations = st.builds(
    OperationFact,
    dates,
    st.sampled_from(PrimaryProcedure.values),
    st.sampled_from(LiverProcedure.values),
    st.sampled_from(PalliativeProcedure.values),
)
contacts = st.builds(ContactFact, dates, st.sampled_from(DiseaseStatus.values))
patient_facts = st.builds(
    PatientFacts,
    diagnosis_date=st.none() | dates,
    initial_resectability=st.none() | st.sampled_from(Resectability.values),
    operations=st.lists(operations, max_size=4).map(tuple),
    radiation=st.lists(courses(), max_size=2).map(tuple),
    systemic=st.lists(courses(), max_size=3).map(tuple),
    contacts=st.lists(contacts, max_size=4).map(tuple),
    death_date=st.none() | dates,
)


def store(site, facts: PatientFacts) -> Patient:
    """Write the facts as records (bypassing chronology checks: any facts)."""
    patient = Patient.objects.create(
        site=site,
        mrn=f"M{Patient.objects.count()}",
        date_of_birth=datetime.date(1940, 1, 1),
        sex="M",
    )
    if facts.diagnosis_date:
        PrimaryTumour.objects.create(
            patient=patient,
            diagnosis_date=facts.diagnosis_date,
            primary_site="rectum_low",
            clinical_t="T3",
            clinical_n="N1a",
            clinical_m="M1a",
        )
    if facts.initial_resectability:
        LiverMetastases.objects.create(
            patient=patient,
            lesion_count=1,
            largest_mm=10,
            distribution="unilobar",
            extent="lt25",
            initial_resectability=facts.initial_resectability,
        )
    for o in facts.operations:
        Operation.objects.create(
            patient=patient,
            date=o.date,
            primary_procedure=o.primary_procedure,
            liver_procedure=o.liver_procedure,
            palliative_procedure=o.palliative_procedure,
            intent="curative",
        )
    for c in facts.radiation:
        RadiationCourse.objects.create(
            patient=patient,
            course_type="long_crt",
            start_date=c.start_date,
            end_date=c.end_date,
            total_dose_gy=50.4,
            fractions=28,
        )
    for c in facts.systemic:
        SystemicTherapyLine.objects.create(
            patient=patient,
            setting="neoadjuvant",
            regimen="folfox",
            start_date=c.start_date,
            end_date=c.end_date,
        )
    for c in facts.contacts:
        FollowUp.objects.create(
            patient=patient, date=c.date, disease_status=c.disease_status
        )
    if facts.death_date:
        Death.objects.create(patient=patient, date=facts.death_date)
    return patient


class DeriveBulkAgreementTests(TestCase):
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        cohort=st.lists(patient_facts, min_size=1, max_size=5),
        as_of=dates,
        endpoint=st.sampled_from(list(Endpoint)),
        index=st.sampled_from(list(IndexDate)),
    )
    def test_annotations_agree_with_pure_rules_on_generated_cohorts(
        self, cohort, as_of, endpoint, index
    ):
        site = make_site()
        stored = {store(site, facts).pk: facts for facts in cohort}
        rows = Patient.objects.filter(pk__in=stored).with_derived().values()
        sql_rows = {
            row["id"]: row
            for row in bulk.fetch_facts(
                Patient.objects.filter(pk__in=stored),
                endpoint=endpoint,
                index=index,
                as_of=as_of,
            )
        }
        self.assertEqual(set(sql_rows), set(stored))
        strategies = dict(
            Patient.objects.filter(pk__in=stored)
            .with_strategy()
            .values_list("id", "strategy")
        )
        for row in rows:
            # the strategy alone (filters, counts) is the full derivation's
            self.assertEqual(strategies[row["id"]], row["strategy"])
            facts = stored[row["id"]]
            self.assert_derived_agree(row, facts)
            self.assert_derived_agree(sql_rows[row["id"]], facts)
            self.assert_survival_agrees(
                sql_rows[row["id"]], facts, endpoint=endpoint, index=index, as_of=as_of
            )

    def assert_derived_agree(self, row, facts):
        """Assert one bulk row's derived facts (ORM or SQL) equal the pure rules'."""
        strategy = derive.resection_strategy(facts.operations)
        expected = {
            "strategy": strategy.strategy,
            "staged_order": strategy.staged_order,
            "liver_resected": derive.liver_resected(facts.operations),
            "converted": derive.converted(facts),
            "later_palliative": derive.later_palliative_surgery(facts),
            "vital_status": derive.vital_status(facts),
            "last_contact": derive.last_known_contact(facts),
        }
        got = {key: row[key] for key in expected}
        self.assertEqual(got, expected, facts)

    def assert_survival_agrees(self, row, facts, *, endpoint, index, as_of):
        """Assert the SQL path's survival time and event equal the pure rules'."""
        survival = derive.survival(facts, endpoint=endpoint, index=index, as_of=as_of)
        at_risk = row["survival_start"] is not None and row["survival_start"] <= as_of
        self.assertEqual(at_risk, survival is not None, facts)
        if survival is not None:
            self.assertEqual(
                (row["survival_start"], row["survival_end"], row["survival_event"]),
                (survival.start, survival.end, survival.event),
                facts,
            )
            self.assertEqual(row["survival_days"], survival.days)


class DeriveBulkQueryCountTests(TestCase):
    def test_both_bulk_paths_use_one_query_whatever_the_cohort_size(self):
        site = make_site()
        counts = []
        for size in (2, 12):
            while Patient.objects.count() < size:
                make_full_patient(site=site)
            with CaptureQueriesContext(connection) as orm:
                rows = list(Patient.objects.with_derived().values())
            with CaptureQueriesContext(connection) as sql:
                facts = bulk.fetch_facts(
                    Patient.objects.all(),
                    endpoint=Endpoint.RECURRENCE_FREE,
                    index=IndexDate.TREATMENT,
                    as_of=datetime.date(2010, 1, 1),
                )
            self.assertEqual((len(rows), len(facts)), (size, size))
            counts.append((len(orm), len(sql)))
        self.assertEqual(counts, [(1, 1), (1, 1)])


class FetchFrameTests(TestCase):
    def test_frame_in_chunks_holds_the_facts_of_every_patient(self):
        site = make_site()
        for _ in range(7):
            make_full_patient(site=site)
        as_of = datetime.date(2010, 1, 1)
        facts = bulk.fetch_facts(Patient.objects.all(), as_of=as_of)
        columns = ("registry_number", "first_liver_resection", "survival_event")
        # FETCH_CHUNK below the cohort size: three chunks
        with mock.patch.object(bulk, "FETCH_CHUNK", 3):
            frame = bulk.fetch_frame(
                Patient.objects.all(), as_of=as_of, columns=columns
            )
        self.assertEqual(list(frame.columns), list(columns))
        self.assertEqual(
            sorted(frame["registry_number"]),
            sorted(f["registry_number"] for f in facts),
        )
        by_number = {f["registry_number"]: f for f in facts}
        for row in frame.itertuples():
            expected = by_number[row.registry_number]
            self.assertEqual(
                row.first_liver_resection.date(), expected["first_liver_resection"]
            )
            self.assertIs(bool(row.survival_event), expected["survival_event"])

    def test_unknown_column_is_refused(self):
        with self.assertRaisesMessage(ValueError, "unknown fact column(s): mrn"):
            bulk.fetch_frame(
                Patient.objects.all(), as_of=datetime.date(2010, 1, 1), columns=("mrn",)
            )
