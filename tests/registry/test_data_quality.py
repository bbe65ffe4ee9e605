"""The data quality page and the checks behind it."""

from __future__ import annotations

import datetime

from django.db import connection
from django.test import SimpleTestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from registry import derive, quality
from registry.models import DerivedFacts, Patient
from registry.selectors import patient_chart, patient_for_user
from tests.cast import CastTestCase
from tests.factories import (
    make_death,
    make_followup,
    make_full_patient,
    make_liver,
    make_operation,
    make_patient,
    make_radiation,
    make_site,
    make_systemic,
    make_tumour,
)

D = datetime.date
TODAY = D(2026, 6, 15)
URL = reverse("registry:data_quality")


def complete_patient(site, **fields) -> Patient:
    """Return a patient with every key field filled and regular follow-up to now."""
    patient = make_patient(site=site, ecog=0, **fields)
    make_tumour(patient, diagnosis_date=D(2024, 1, 10), cea_ng_ml=5, anal_verge_cm=6)
    make_liver(patient)
    make_systemic(patient, start_date=D(2024, 2, 1), end_date=D(2024, 6, 1))
    make_operation(
        patient,
        date=D(2024, 7, 15),
        primary_procedure="lar",
        liver_procedure="minor",
        margin="R0",
    )
    make_followup(patient, date=D(2025, 1, 10))
    make_followup(patient, date=D(2025, 9, 10))
    make_followup(patient, date=TODAY - datetime.timedelta(days=30))
    return patient


def flags(patient: Patient) -> set[str]:
    """Return the codes of the checks `patient` fails today."""
    row = quality.with_checks(
        Patient.objects.filter(pk=patient.pk), today=TODAY
    ).values(*[check.code for check in quality.CHECKS])[0]
    return {code for code, failed in row.items() if failed}


class MonthsBeforeTests(SimpleTestCase):
    def test_same_day_a_year_earlier(self):
        self.assertEqual(derive.months_before(D(2026, 6, 15), 12), D(2025, 6, 15))

    def test_end_of_month_is_clipped(self):
        self.assertEqual(derive.months_before(D(2024, 2, 29), 12), D(2023, 2, 28))
        self.assertEqual(derive.months_before(D(2026, 3, 31), 1), D(2026, 2, 28))


class OverdueFromTests(SimpleTestCase):
    """The stored first overdue day answers "overdue today?" exactly as the rule
    reads: alive, and the last contact before the same day 12 months earlier."""

    @given(
        last=st.dates(D(1990, 1, 1), D(2030, 12, 31)),
        days=st.integers(300, 430),
    )
    def test_overdue_from_agrees_with_the_rule_on_every_day(self, last, days):
        facts = derive.PatientFacts(diagnosis_date=last)  # last contact: diagnosis
        today = last + datetime.timedelta(days=days)
        rule = last < derive.months_before(today, derive.FOLLOW_UP_OVERDUE_MONTHS)
        overdue_from = derive.follow_up_overdue_from(facts)
        self.assertEqual(derive.follow_up_overdue(overdue_from, today), rule)

    def test_month_ends_and_leap_days(self):
        # overdue from the first day whose date a year earlier is after the contact
        for last, first in (
            (D(2023, 2, 28), D(2024, 3, 1)),  # 2024-02-29 a year back is 2023-02-28
            (D(2024, 2, 29), D(2025, 3, 1)),
            (D(2025, 1, 31), D(2026, 2, 1)),
            (D(2025, 6, 15), D(2026, 6, 16)),
        ):
            with self.subTest(last=last):
                facts = derive.PatientFacts(diagnosis_date=last)
                self.assertEqual(derive.follow_up_overdue_from(facts), first)

    def test_the_dead_and_the_undated_are_never_overdue(self):
        dead = derive.PatientFacts(
            diagnosis_date=D(2004, 1, 1), death_date=D(2005, 1, 1)
        )
        self.assertIsNone(derive.follow_up_overdue_from(dead))
        undated = derive.PatientFacts(diagnosis_date=None)
        self.assertIsNone(derive.follow_up_overdue_from(undated))
        self.assertFalse(derive.follow_up_overdue(None, D(2030, 1, 1)))


class ChecksTests(CastTestCase):
    def test_a_complete_patient_with_recent_follow_up_needs_nothing(self):
        self.assertEqual(flags(complete_patient(self.north)), set())

    def test_missing_key_fields_are_each_flagged(self):
        patient = make_patient(site=self.north)
        self.assertEqual(
            flags(patient) & {"no_diagnosis", "no_liver", "no_ecog"},
            {"no_diagnosis", "no_liver", "no_ecog"},
        )
        make_tumour(patient)  # rectal, no CEA, no distance from the verge
        self.assertLessEqual({"no_cea", "no_verge"}, flags(patient))
        self.assertNotIn("no_diagnosis", flags(patient))

    def test_distance_from_the_verge_is_not_asked_of_a_colon_tumour(self):
        patient = complete_patient(self.north)
        patient.tumour.primary_site = "sigmoid"
        patient.tumour.anal_verge_cm = None
        patient.tumour.save()
        self.assertNotIn("no_verge", flags(patient))

    def test_resection_without_a_margin_is_flagged_but_a_stent_is_not(self):
        patient = complete_patient(self.north)
        make_operation(patient, date=D(2004, 9, 1), palliative_procedure="stent")
        self.assertNotIn("no_margin", flags(patient))
        make_operation(patient, date=D(2004, 10, 1), liver_procedure="wedge")
        self.assertIn("no_margin", flags(patient))

    def test_operation_over_a_year_after_diagnosis_without_therapy_is_flagged(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_operation(patient, date=D(2005, 1, 11), primary_procedure="lar")
        self.assertIn("late_operation", flags(patient))

    def test_operation_a_year_after_diagnosis_to_the_day_is_not_flagged(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_operation(patient, date=D(2005, 1, 9), primary_procedure="lar")
        self.assertNotIn("late_operation", flags(patient))

    def test_late_operation_after_therapy_in_between_is_not_flagged(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_systemic(patient, start_date=D(2004, 6, 1), end_date=D(2004, 12, 1))
        make_operation(patient, date=D(2005, 6, 1), primary_procedure="lar")
        self.assertNotIn("late_operation", flags(patient))

    def test_radiation_before_diagnosis_does_not_count_as_therapy_between(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_radiation(patient, start_date=D(2003, 12, 1), end_date=D(2003, 12, 30))
        make_operation(patient, date=D(2005, 6, 1), primary_procedure="lar")
        self.assertIn("late_operation", flags(patient))

    def test_operation_before_diagnosis_is_flagged_whatever_the_path(self):
        # saved without the form's "I confirm" box, as the admin, an import or
        # the API save it: the stored flag still lists it
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_operation(patient, date=D(2004, 1, 10), primary_procedure="lar")
        self.assertNotIn("contradiction", flags(patient))
        make_operation(patient, date=D(2003, 12, 27), primary_procedure="lar")
        self.assertIn("contradiction", flags(patient))

    def test_therapy_before_diagnosis_is_flagged(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_systemic(patient, start_date=D(2004, 1, 9), end_date=D(2004, 3, 1))
        self.assertIn("contradiction", flags(patient))

    def test_m0_with_synchronous_liver_metastases_is_flagged(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10), clinical_m="M0")
        make_liver(patient, timing="metachronous")
        self.assertNotIn("contradiction", flags(patient))
        liver = patient.liver
        liver.timing = "synchronous"
        liver.save()
        self.assertIn("contradiction", flags(patient))

    def test_gap_of_more_than_a_year_between_contacts_is_flagged(self):
        patient = complete_patient(self.north)
        self.assertNotIn("follow_up_gap", flags(patient))
        make_followup(patient, date=D(2030, 1, 1))
        self.assertIn("follow_up_gap", flags(patient))

    def test_overdue_follows_the_last_known_contact_of_a_living_patient(self):
        patient = make_full_patient(site=self.north)  # last contact 2005-01-10
        self.assertIn("overdue", flags(patient))
        a_year_back = derive.months_before(TODAY, derive.FOLLOW_UP_OVERDUE_MONTHS)
        make_followup(patient, date=a_year_back)
        self.assertNotIn("overdue", flags(patient))

    def test_overdue_agrees_with_the_patient_page(self):
        patient = make_full_patient(site=self.north)
        make_radiation(patient, start_date=D(2025, 1, 1), end_date=D(2025, 7, 1))
        chart = patient_chart(patient_for_user(self.nina, patient.pk), today=TODAY)
        self.assertEqual(chart.last_contact, D(2025, 7, 1))
        self.assertFalse(chart.follow_up_overdue)
        self.assertNotIn("overdue", flags(patient))
        late = make_full_patient(site=self.north)  # last contact 2005-01-10
        chart = patient_chart(patient_for_user(self.nina, late.pk), today=TODAY)
        self.assertTrue(chart.follow_up_overdue)
        self.assertIn("overdue", flags(late))

    def test_dead_patients_are_never_overdue_nor_missing_follow_up(self):
        patient = make_patient(site=self.north)
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        make_death(patient, date=D(2004, 3, 1))
        self.assertFalse({"overdue", "no_follow_up"} & flags(patient))

    def test_living_patient_without_any_follow_up_is_flagged(self):
        patient = make_patient(site=self.north)
        make_tumour(patient)
        self.assertIn("no_follow_up", flags(patient))

    def test_last_contact_listed_for_overdue_patients_agrees_with_derive(self):
        patient = make_full_patient(site=self.north)
        make_systemic(patient, start_date=D(2005, 3, 1), end_date=None)
        site = quality.site_quality(
            Patient.objects.all(), DerivedFacts.objects.all(), today=TODAY
        )[0]
        listed = site.items["overdue"][0]
        facts = derive.PatientFacts(
            diagnosis_date=D(2004, 1, 10),
            systemic=(
                derive.CourseFact(D(2004, 4, 1), D(2004, 7, 1)),
                derive.CourseFact(D(2005, 3, 1)),
            ),
            contacts=(derive.ContactFact(D(2005, 1, 10)),),
        )
        self.assertEqual(listed["last_contact"], derive.last_known_contact(facts))


class DataQualityTests(CastTestCase):
    def setUp(self):
        self.client.force_login(self.nina)

    def test_page_lists_each_site_with_its_completeness(self):
        complete_patient(self.north)
        # Nothing but the patient: of 6 key fields only the margins, which do
        # not apply without a resection, count as filled.
        make_patient(site=self.north)
        response = self.client.get(URL)
        [site] = response.context["sites"]
        self.assertEqual(
            (site.code, site.patients, site.complete_patients), ("NTH", 2, 1)
        )
        self.assertAlmostEqual(site.completeness, 100 * (6 + 1) / 12)
        self.assertContains(response, "58.3%")
        self.assertContains(response, "1 of 2 patients complete")

    def test_each_item_links_to_the_form_that_fixes_it(self):
        patient = make_patient(site=self.north)
        make_tumour(patient)
        response = self.client.get(URL)
        tumour = patient.tumour
        for url in (
            reverse("registry:record_create", args=[patient.pk, "liver"]),
            reverse("registry:patient_update", args=[patient.pk]),
            reverse("registry:record_update", args=[patient.pk, "tumour", tumour.pk]),
            reverse("registry:record_create", args=[patient.pk, "followup"]),
        ):
            self.assertContains(response, f'href="{url}"')

    def test_a_resection_without_margin_links_to_that_operation(self):
        patient = complete_patient(self.north)
        make_operation(patient, date=D(2024, 9, 1), palliative_procedure="stent")
        wedge = make_operation(patient, date=D(2024, 10, 1), liver_procedure="wedge")
        make_operation(patient, date=D(2024, 11, 1), liver_procedure="major")
        response = self.client.get(URL)
        [item] = response.context["sites"][0].items["no_margin"]
        self.assertEqual(
            item["fix_url"],
            reverse("registry:record_update", args=[patient.pk, "operation", wedge.pk]),
        )

    def test_counts_link_to_the_patient_list_filtered_by_the_check(self):
        make_patient(site=self.north)
        response = self.client.get(URL)
        self.assertContains(response, f"?check=no_diagnosis&amp;site={self.north.pk}")

    def test_only_the_users_sites_are_shown(self):
        make_patient(site=self.north)
        southern = make_patient(site=self.south)
        response = self.client.get(URL)
        self.assertEqual([s.code for s in response.context["sites"]], ["NTH"])
        self.assertNotContains(response, southern.registry_number)

    def test_analyst_has_no_access(self):
        self.client.force_login(self.ann)
        self.assertEqual(self.client.get(URL).status_code, 403)

    def test_number_of_queries_does_not_grow_with_the_registry(self):
        self.client.force_login(self.mark)
        counts = []
        for size in (2, 12):
            # first at South only, then at both sites: a query per site would show
            while Patient.objects.count() < size:
                first = size == 2
                make_full_patient(site=self.south if first else self.north)
                make_patient(site=self.south)
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(URL).status_code, 200)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])

    def test_same_number_of_queries_for_10_and_40_patients(self):
        self.client.force_login(self.mark)
        kinds = (
            complete_patient,
            make_full_patient,  # resected without a margin, overdue
            make_patient,  # nothing but the patient
            lambda site: make_tumour(make_patient(site=site)).patient,
        )
        counts = []
        for size in (10, 40):
            while Patient.objects.count() < size:
                n = Patient.objects.count()
                kinds[n % len(kinds)](site=self.north if n % 3 else self.south)
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(URL)
            self.assertEqual(
                sum(site.patients for site in response.context["sites"]), size
            )
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])

    def test_the_page_reads_stored_flags_not_the_treatment_records(self):
        patient = make_full_patient(site=self.north)
        make_followup(patient, date=D(2030, 1, 1))  # a gap
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(URL)
        self.assertEqual(response.context["sites"][0].counts["follow_up_gap"], 1)
        read = " ".join(query["sql"] for query in queries)
        for table in (
            "registry_followup",
            "registry_radiationcourse",
            "registry_systemictherapyline",
            "registry_death",
        ):
            self.assertNotIn(table, read)

    def test_a_patient_without_stored_facts_counts_as_nothing_filled(self):
        complete_patient(self.north)
        DerivedFacts.objects.filter(
            patient=make_patient(site=self.north, ecog=1)
        ).delete()
        response = self.client.get(URL)
        [site] = response.context["sites"]
        self.assertEqual((site.patients, site.complete_patients), (2, 1))
        self.assertAlmostEqual(site.completeness, 50)
        self.assertContains(response, "1 patient has no stored facts")


class ListedPerSiteTests(CastTestCase):
    """Each site's first LISTED_PER_SITE failing patients, whichever way a site
    is read: down its registry numbers (many fail) or ranked (few fail)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # the north (30 of 30 lack ECOG) and the south (27 of 28) are walked,
        # the west (2 of 4) ranked; the numbers are given out of order
        cls.west = make_site(code="WST", name="West Hospital")
        cls.failing = {"NTH": [], "STH": [], "WST": []}
        for site, code, total, fail in (
            (cls.north, "NTH", 30, 30),
            (cls.south, "STH", 28, 27),
            (cls.west, "WST", 4, 2),
        ):
            for n in range(total, 0, -1):
                number = f"{code}{n:05d}"
                ecog = None if n <= fail else 1
                make_patient(site=site, registry_number=number, ecog=ecog)
                if ecog is None:
                    cls.failing[code].append(number)

    def test_each_site_lists_its_first_failing_patients_in_registry_order(self):
        self.assertTrue(quality.walks_the_site(30, 30))
        self.assertTrue(quality.walks_the_site(28, 27))
        self.assertFalse(quality.walks_the_site(4, 2))
        with CaptureQueriesContext(connection) as queries:
            sites = quality.site_quality(
                Patient.objects.all(), DerivedFacts.objects.all(), today=TODAY
            )
        listed = {
            site.code: [row["registry_number"] for row in site.items["no_ecog"]]
            for site in sites
        }
        self.assertEqual(
            listed,
            {
                code: sorted(numbers)[: quality.LISTED_PER_SITE]
                for code, numbers in self.failing.items()
            },
        )
        self.assertEqual(len(listed["WST"]), 2)
        no_ecog = [q["sql"] for q in queries.captured_queries if "no_ecog" in q["sql"]]
        # the counts, one query ranking the west, one walking the north and
        # south (SQLite, with no LIMIT in a UNION's branches, ranks them all)
        self.assertTrue(any("ROW_NUMBER" in q and "UNION" not in q for q in no_ecog))
        walks = any("UNION ALL" in q and "ROW_NUMBER" not in q for q in no_ecog)
        self.assertEqual(walks, connection.vendor == "postgresql")

    def test_a_check_nobody_fails_costs_no_query(self):
        with CaptureQueriesContext(connection) as queries:
            quality.site_quality(
                Patient.objects.all(), DerivedFacts.objects.all(), today=TODAY
            )
        # the patients per site, the counts, and a list for each check failed
        failed = {
            check.code
            for site in quality.site_quality(
                Patient.objects.all(), DerivedFacts.objects.all(), today=TODAY
            )
            for check in quality.CHECKS
            if site.counts[check.code]
        }
        self.assertLess(len(failed), len(quality.CHECKS))
        self.assertLessEqual(len(queries.captured_queries), 2 + 2 * len(failed))
