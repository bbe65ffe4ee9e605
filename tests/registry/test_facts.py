"""Stored derived facts equal the pure rules after every write, on every path."""

import datetime
import re
from decimal import Decimal
from pathlib import Path
from unittest import mock

from django.apps import apps
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import SimpleTestCase
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from registry import bulk, dashboards, derive, monitor, quality, services, summaries
from registry import facts as facts_module
from registry.choices import (
    Biologic,
    CauseOfDeath,
    DiseaseStatus,
    Endpoint,
    IndexDate,
    LiverProcedure,
    Margin,
    PalliativeProcedure,
    PrimaryProcedure,
    PrimarySite,
    Regimen,
    Resectability,
)
from registry.derive import ContactFact, CourseFact, OperationFact, PatientFacts
from registry.models import (
    DataQuery,
    Death,
    DerivedFacts,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    RecordStatus,
    SystemicTherapyLine,
)
from registry.models.base import ClinicalQuerySet
from tests.factories import make_full_patient, make_site

dates = st.dates(datetime.date(2001, 1, 1), datetime.date(2009, 12, 31))


@st.composite
def courses(draw, *, systemic=False):
    # a few fixed days, so that lines starting the same day are drawn too
    start = draw(dates | st.sampled_from([datetime.date(2005, 3, d) for d in (1, 2)]))
    length = draw(st.none() | st.integers(0, 400))
    end = None if length is None else start + datetime.timedelta(days=length)
    if not systemic:
        return CourseFact(start, end)
    return CourseFact(
        start,
        end,
        regimen=draw(st.sampled_from(Regimen.values)),
        biologic=draw(st.sampled_from(Biologic.values)),
    )


operations = st.builds(
    OperationFact,
    dates,
    st.sampled_from(PrimaryProcedure.values),
    st.sampled_from(LiverProcedure.values),
    st.sampled_from(PalliativeProcedure.values),
    st.sampled_from(["", *Margin.values]),
)
contacts = st.builds(ContactFact, dates, st.sampled_from(DiseaseStatus.values))
patient_facts = st.builds(
    PatientFacts,
    diagnosis_date=st.none() | dates,
    initial_resectability=st.none() | st.sampled_from(Resectability.values),
    operations=st.lists(operations, max_size=4).map(tuple),
    radiation=st.lists(courses(), max_size=2).map(tuple),
    systemic=st.lists(courses(systemic=True), max_size=3).map(tuple),
    contacts=st.lists(contacts, max_size=4).map(tuple),
    death_date=st.none() | dates,
    death_cause=st.sampled_from(CauseOfDeath.values),
    ecog=st.none() | st.integers(0, 4),
    primary_site=st.sampled_from(PrimarySite.values),
    anal_verge_cm=st.none() | st.integers(0, 30).map(Decimal),
    cea_ng_ml=st.none() | st.integers(0, 900).map(Decimal),
    date_of_birth=st.none()
    | st.dates(datetime.date(1920, 1, 1), datetime.date(1980, 12, 31)),
    age_at_diagnosis=st.none() | st.integers(18, 100),
)


def store(site, facts: PatientFacts) -> Patient:
    """Write the facts as records (bypassing chronology checks: any facts), in
    one batch whose facts are refreshed once, when it ends, as an import's are."""
    with facts_module.deferred():
        return _store(site, facts)


def _store(site, facts: PatientFacts) -> Patient:
    patient = Patient.objects.create(
        site=site,
        mrn=f"M{Patient.objects.count()}",
        date_of_birth=facts.date_of_birth,
        age_at_diagnosis=facts.age_at_diagnosis,
        sex="M",
        ecog=facts.ecog,
    )
    if facts.diagnosis_date:
        PrimaryTumour.objects.create(
            patient=patient,
            diagnosis_date=facts.diagnosis_date,
            primary_site=facts.primary_site,
            anal_verge_cm=facts.anal_verge_cm,
            cea_ng_ml=facts.cea_ng_ml,
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
            margin=o.margin,
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
            regimen=c.regimen,
            biologic=c.biologic,
            start_date=c.start_date,
            end_date=c.end_date,
        )
    for c in facts.contacts:
        FollowUp.objects.create(
            patient=patient, date=c.date, disease_status=c.disease_status
        )
    if facts.death_date:
        Death.objects.create(
            patient=patient, date=facts.death_date, cause=facts.death_cause
        )
    return patient


def assert_facts_agree(test, patient_ids) -> None:
    """Assert each patient's stored facts row equals registry.derive's, with the
    patient's site."""
    stored = {
        row.pop("patient_id"): row
        for row in DerivedFacts.objects.filter(patient_id__in=patient_ids).values()
    }
    expected = facts_module.computed(patient_ids)
    sites = dict(Patient.objects.filter(pk__in=patient_ids).values_list("pk", "site"))
    test.assertEqual(set(stored), set(expected))
    for pk, value in expected.items():
        test.assertEqual(stored[pk], {"site_id": sites[pk], **value.as_dict()}, pk)


class StoredFactsAgreementTests(TestCase):
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
    def test_stored_facts_and_survival_agree_with_pure_rules(
        self, cohort, as_of, endpoint, index
    ):
        site = make_site()
        stored = {store(site, facts).pk: facts for facts in cohort}
        rows = {
            row["id"]: row
            for row in bulk.fetch_facts(
                Patient.objects.filter(pk__in=stored),
                endpoint=endpoint,
                index=index,
                as_of=as_of,
            )
        }
        self.assertEqual(set(rows), set(stored))
        for pk, facts in stored.items():
            # the facts the records give are the facts written as records
            self.assertEqual(
                derive.stored_facts(facts),
                facts_module.computed([pk])[pk],
            )
            self.assert_derived_agree(rows[pk], facts)
            self.assert_survival_agrees(
                rows[pk], facts, endpoint=endpoint, index=index, as_of=as_of
            )
        assert_facts_agree(self, list(stored))

    def assert_derived_agree(self, row, facts):
        """Assert one bulk row's derived facts equal the pure rules'."""
        strategy = derive.resection_strategy(facts.operations)
        expected = {
            "strategy": strategy.strategy,
            "staged_order": strategy.staged_order or "",
            "liver_resected": derive.liver_resected(facts.operations),
            "converted": derive.converted(facts),
            "later_palliative": derive.later_palliative_surgery(facts),
            "vital_status": derive.vital_status(facts),
            "last_contact": derive.last_known_contact(facts),
            "cancer_death_date": derive.cancer_death(facts),
        }
        stored = derive.stored_facts(facts)
        first = derive.first_line(facts)
        self.assertEqual(
            (stored.first_regimen, stored.first_biologic),
            (first.regimen, first.biologic) if first else ("", ""),
        )
        self.assertEqual(
            stored.age,
            derive.age_at_diagnosis(
                facts.date_of_birth, facts.diagnosis_date, facts.age_at_diagnosis
            ),
        )
        got = {key: row[key] for key in expected}
        self.assertEqual(got, expected, facts)

    def assert_survival_agrees(self, row, facts, *, endpoint, index, as_of):
        """Assert the SQL path's survival time and event equal the pure rules'."""
        survival = derive.survival(facts, endpoint=endpoint, index=index, as_of=as_of)
        at_risk = row["survival_start"] is not None and row["survival_start"] <= as_of
        self.assertEqual(at_risk, survival is not None, facts)
        if survival is not None:
            self.assertEqual(
                (
                    row["survival_start"],
                    row["survival_end"],
                    row["survival_event"],
                    row["survival_competing"],
                ),
                (survival.start, survival.end, survival.event, survival.competing),
                facts,
            )
            self.assertEqual(row["survival_days"], survival.days)


class BulkQueryCountTests(TestCase):
    def test_reading_the_facts_is_one_query_whatever_the_cohort_size(self):
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


class PlainFactsQueryCountTests(TestCase):
    def grown(self, *sizes):
        """Yield the ids of every patient as the registry grows to each size."""
        site = make_site()
        for size in sizes:
            while Patient.objects.count() < size:
                make_full_patient(site=site)
            yield list(Patient.objects.values_list("pk", flat=True))

    def test_plain_facts_read_two_queries_whatever_the_cohort_size(self):
        counts = []
        for ids in self.grown(2, 12):
            with CaptureQueriesContext(connection) as queries:
                facts = facts_module.plain_facts(ids)
            self.assertEqual(len(facts), len(ids))
            counts.append(len(queries))
        # the patients joined with their diagnoses, then every record at once
        self.assertEqual(counts, [2, 2])

    def test_a_refresh_locks_reads_twice_and_writes_twice_whatever_the_size(self):
        counts = []
        for ids in self.grown(1, 6):
            with CaptureQueriesContext(connection) as queries:
                facts_module.refresh(ids)
            statements = [
                q["sql"].lstrip("(").split()[0]
                for q in queries
                if "SAVEPOINT" not in q["sql"] and q["sql"] not in ("BEGIN", "COMMIT")
            ]
            counts.append(statements)
            assert_facts_agree(self, ids)
        # the patients locked (PostgreSQL: FOR NO KEY UPDATE), the patients with
        # their sites, their records, their facts, their sites' data versions
        self.assertEqual(
            counts, [["SELECT", "SELECT", "SELECT", "INSERT", "INSERT"]] * 2
        )


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


ACTIONS = (
    "save_new_operation",
    "edit_operation",
    "update_operations",
    "bulk_create_followups",
    "bulk_update_operations",
    "delete_a_record",
    "delete_followups",
    "revert_operation",
    "record_death",
    "service_edit",
    "delete_patient",
    "update_patient_ecog",
    "edit_diagnosis",
    "edit_margin",
    "edit_first_line",
    "edit_birth",
    "transfer_patient",
    "update_patient_site",
)
steps = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS),
        st.integers(0, 2),
        dates,
        st.sampled_from(PrimaryProcedure.values),
        st.sampled_from(LiverProcedure.values),
        st.sampled_from(DiseaseStatus.values),
    ),
    min_size=1,
    max_size=8,
)


class WritePathPropertyTests(TestCase):
    """Random sequences of writes, through each path, keep every row equal."""

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(cohort=st.lists(patient_facts, min_size=3, max_size=3), steps=steps)
    def test_stored_facts_equal_the_rules_after_every_write(self, cohort, steps):
        site = make_site()
        self.other_site = make_site()
        patients = [store(site, facts) for facts in cohort]
        ids = [p.pk for p in patients]
        assert_facts_agree(self, ids)
        self.assert_kept_summaries_fresh()
        for action, which, date, primary, liver, status in steps:
            patient = patients[which]
            if not Patient.objects.filter(pk=patient.pk).exists():
                continue
            self.apply(action, patient, date, primary, liver, status)
            alive = Patient.objects.filter(pk__in=ids).values_list("pk", flat=True)
            assert_facts_agree(self, list(alive))
            self.assert_kept_summaries_fresh()

    def assert_kept_summaries_fresh(self):
        """The summaries kept per site (registry.summaries.Scope.per_site) are
        those computed afresh: each write gave its sites a new version. Leaves
        the fresh ones kept, for the next write to make stale."""
        admin = User(is_superuser=True)  # every site
        today = datetime.date(2025, 6, 1)

        def read():
            scope = summaries.Scope(admin)
            counts = dashboards.kept_facts_counts(scope)
            return (
                monitor.kept_patients_by_site(scope),
                sorted(counts.rows, key=repr),
                quality.kept_site_quality(scope, today=today),
                # the API lists' counts of the records these writes touch
                monitor.kept_records_by_site(scope, Operation),
                monitor.kept_records_by_site(scope, FollowUp),
            )

        kept = read()
        cache.clear()
        self.assertEqual(kept, read())

    def apply(self, action, patient, date, primary, liver, status):
        operation = Operation.objects.filter(patient=patient).order_by("pk").first()
        match action:
            case "save_new_operation":
                Operation.objects.create(
                    patient=patient,
                    date=date,
                    primary_procedure=primary,
                    liver_procedure=liver,
                    intent="curative",
                )
            case "edit_operation" if operation:
                operation.date = date
                operation.liver_procedure = liver
                operation.save()
            case "update_operations":
                Operation.objects.filter(patient=patient).update(
                    primary_procedure=primary, date=date
                )
            case "bulk_create_followups":
                FollowUp.objects.bulk_create(
                    [FollowUp(patient=patient, date=date, disease_status=status)]
                )
            case "bulk_update_operations":
                ops = list(Operation.objects.filter(patient=patient))
                for op in ops:
                    op.liver_procedure = liver
                Operation.objects.bulk_update(ops, ["liver_procedure"])
            case "delete_a_record" if operation:
                operation.delete()
            case "delete_followups":
                FollowUp.objects.filter(patient=patient).delete()
            case "revert_operation" if operation:
                # what the admin's revert saves: an old version of the record
                operation.history.earliest().instance.save()
            case "record_death":
                # the cause changes which deaths end cancer-specific survival
                cause = CauseOfDeath.values[date.day % len(CauseOfDeath.values)]
                Death.objects.update_or_create(
                    patient=patient, defaults={"date": date, "cause": cause}
                )
            case "service_edit" if operation:
                operation.primary_procedure = primary
                try:
                    services.update_record(
                        record=operation, loaded_version=operation.version
                    )
                except ValidationError:
                    pass  # refused by the model's rules: nothing was written
            case "delete_patient":
                patient.delete()
            case "update_patient_ecog":
                ecog = None if date.day % 2 else date.day % 5
                Patient.objects.filter(pk=patient.pk).update(ecog=ecog)
            case "edit_diagnosis":
                tumour = PrimaryTumour.objects.filter(patient=patient).first()
                if tumour:
                    tumour.cea_ng_ml = None if tumour.cea_ng_ml else Decimal("5.0")
                    tumour.anal_verge_cm = None if date.day % 2 else Decimal("6")
                    tumour.save()
            case "edit_first_line":
                line = SystemicTherapyLine.objects.filter(patient=patient).first()
                if line:
                    line.regimen = "folfiri" if line.regimen == "folfox" else "folfox"
                    line.start_date, line.end_date = date, None
                    line.save()
            case "edit_birth":
                patient.refresh_from_db()
                patient.date_of_birth = (
                    None if patient.date_of_birth else datetime.date(1950, 6, 15)
                )
                patient.save()
            case "transfer_patient":
                # a transfer of care: the facts carry the patient's site
                patient.refresh_from_db()
                patient.site = self.other_site
                patient.save()
            case "update_patient_site":
                Patient.objects.filter(pk=patient.pk).update(site=self.other_site)
            case "edit_margin" if operation:
                operation.margin = "" if operation.margin else Margin.R0
                operation.save()


class BypassGuardTests(SimpleTestCase):
    """A write path that would skip the refresh fails here."""

    def test_every_model_of_a_patients_records_refreshes_the_facts(self):
        related = {
            model
            for model in apps.get_app_config("registry").get_models()
            if any(
                field.is_relation and field.related_model is Patient
                for field in model._meta.get_fields()
                if field.concrete
            )
            and not model.__name__.startswith("Historical")
            # the facts themselves, and the data managers' workflow around the
            # records (form status, data queries): no clinical fact in them
            and model not in (DerivedFacts, RecordStatus, DataQuery)
            and model not in facts_module.annotation_models()
        }
        self.assertTrue(related)
        self.assertLessEqual(related, set(facts_module.clinical_models()))

    def test_bulk_writes_of_every_clinical_model_refresh_the_facts(self):
        for model in facts_module.clinical_models():
            with self.subTest(model=model.__name__):
                queryset = type(model._default_manager.all())
                self.assertTrue(issubclass(queryset, ClinicalQuerySet))

    def test_no_bulk_write_of_clinical_records_without_history_in_the_code(self):
        # QuerySet.bulk_create and bulk_update write no history rows: the code
        # writes clinical records in bulk only through simple-history's
        # bulk_create_with_history / bulk_update_with_history (the importer),
        # or COPY with history (registry.copyrows). An audit found the bare
        # calls keep no history; this holds the code to the helpers.
        root = Path(__file__).resolve().parents[2]
        names = "|".join(m.__name__ for m in facts_module.clinical_models())
        bare = re.compile(
            rf"\b({names})\.(objects|_default_manager)\.bulk_(create|update)\("
        )
        for package in ("registry", "analytics"):
            for path in (root / package).rglob("*.py"):
                if "migrations" in path.parts:
                    continue
                with self.subTest(path=str(path.relative_to(root))):
                    self.assertIsNone(bare.search(path.read_text()))

    def test_no_raw_sql_writes_to_clinical_tables_in_the_code(self):
        root = Path(__file__).resolve().parents[2]
        tables = "|".join(m._meta.db_table for m in facts_module.clinical_models())
        write = re.compile(
            rf"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+({tables})\b", re.I
        )
        for package in ("registry", "analytics"):
            for path in (root / package).rglob("*.py"):
                if "migrations" in path.parts:
                    continue
                with self.subTest(path=str(path.relative_to(root))):
                    self.assertIsNone(write.search(path.read_text()))
