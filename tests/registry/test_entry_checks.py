"""Data a monitor can sign off: nothing invented, missing answers said, checks at
entry (refused, or warned and confirmed), and one date format (issue 11, 1-4)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import formats
from rest_framework.test import APIClient

from registry import choices, derive, importer, quality
from registry.models import (
    ConfirmedWarning,
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    SystemicTherapyLine,
)
from tests.cast import CastTestCase
from tests.factories import (
    make_death,
    make_full_patient,
    make_liver,
    make_patient,
    make_tumour,
)
from tests.registry.form_data import RECORD_DATA, new_patient_data
from tests.registry.import_files import csv_file, tumour_row

D = datetime.date

#: The coded answers a nurse could skip, each of which used to default to an
#: answer ("None", "Adenocarcinoma", "Synchronous", "Not tested", ...).
SKIPPABLE = [
    (Patient, "presenting_symptom"),
    (PrimaryTumour, "histology"),
    (PrimaryTumour, "kras"),
    (PrimaryTumour, "nras"),
    (PrimaryTumour, "braf"),
    (PrimaryTumour, "mmr"),
    (LiverMetastases, "timing"),
    (LiverMetastases, "extrahepatic"),
    (RadiationCourse, "concurrent_agent"),
    (SystemicTherapyLine, "biologic"),
    (Operation, "primary_procedure"),
    (Operation, "liver_procedure"),
    (Operation, "palliative_procedure"),
    (FollowUp, "contact_type"),
    (Death, "cause"),
]

#: The same fields as the new-patient form names them.
NEW_PATIENT_CHOICES = [
    "patient-presenting_symptom",
    "tumour-histology",
    "tumour-kras",
    "tumour-nras",
    "tumour-braf",
    "tumour-mmr",
    "liver-timing",
    "liver-extrahepatic",
]


def errors_at(response, field: str, *, prefix: str = "") -> list[str]:
    form = response.context["form"]
    if prefix:
        form = getattr(form, prefix)
    return [str(message) for message in form.errors.get(field, [])]


def refusal(record: models.Model, field: str) -> str:
    """Return the model's messages at `field` ("" if it validates there)."""
    try:
        record.full_clean()
    except ValidationError as error:
        return " ".join(error.message_dict.get(field, []))
    return ""


# --- 1. required choices start blank ------------------------------------------


class RequiredChoiceTests(CastTestCase):
    url = reverse("registry:patient_create")

    def setUp(self):
        self.client.force_login(self.nina)

    def test_no_coded_field_has_a_default_answer(self):
        for model, name in SKIPPABLE:
            with self.subTest(field=f"{model.__name__}.{name}"):
                field = model._meta.get_field(name)
                self.assertFalse(field.has_default())
                self.assertFalse(field.blank)

    def test_new_patient_form_starts_every_required_choice_blank(self):
        page = self.client.get(self.url).content.decode()
        for name in NEW_PATIENT_CHOICES:
            with self.subTest(field=name):
                select = re.search(
                    rf'<select name="{name}".*?</select>', page, re.S
                ).group(0)
                options = re.findall(r"<option[^>]*>", select)
                self.assertEqual(options[0], '<option value="" selected>')
                self.assertEqual(len(re.findall(r"selected", select)), 1)

    def test_a_skipped_required_choice_is_refused_at_its_field(self):
        for name in NEW_PATIENT_CHOICES:
            with self.subTest(field=name):
                response = self.client.post(
                    self.url,
                    new_patient_data(**{"patient-site": str(self.north.pk), name: ""}),
                )
                prefix, field = name.split("-")
                self.assertEqual(
                    errors_at(response, field, prefix=prefix),
                    ["This field is required."],
                )
                self.assertFalse(Patient.objects.exists())

    def test_every_record_form_starts_its_required_choices_blank(self):
        patient = make_full_patient(site=self.north)
        for slug in ("radiation", "systemic", "operation", "followup", "death"):
            with self.subTest(kind=slug):
                url = reverse("registry:record_create", args=[patient.pk, slug])
                form = self.client.get(url).context["form"]
                for name, field in form.fields.items():
                    if getattr(field, "choices", None) and field.required:
                        self.assertIn(form[name].value(), (None, ""), name)


# --- 2. missing-data codes -----------------------------------------------------


class MissingCodeVocabularyTests(SimpleTestCase):
    def test_the_fields_a_registry_may_not_know_offer_missing_codes(self):
        for vocabulary in (
            choices.PrimarySite,
            choices.ClinicalT,
            choices.ClinicalN,
            choices.ClinicalM,
            choices.MutationStatus,
            choices.MmrStatus,
            choices.PresentingSymptom,
            choices.ExtrahepaticDisease,
            choices.Histology,
            choices.Margin,
            choices.DiseaseStatus,
        ):
            with self.subTest(vocabulary=vocabulary.__name__):
                self.assertIn("nr", vocabulary.values)
                self.assertTrue(set(vocabulary.values) & choices.MISSING_CODES)

    def test_an_unknown_m_is_neither_m0_nor_m1(self):
        self.assertIsNone(derive.distant_metastases("unk"))
        self.assertIsNone(derive.distant_metastases("nr"))
        self.assertIs(derive.distant_metastases("M0"), False)
        self.assertIs(derive.distant_metastases("M1a"), True)
        self.assertIsNone(PrimaryTumour(clinical_m="unk").is_stage_iv)

    def test_an_unknown_margin_of_a_resection_is_a_missing_margin(self):
        for margin, missing in (("unk", True), ("nr", True), ("", True), ("R0", False)):
            with self.subTest(margin=margin):
                operation = derive.OperationFact(
                    D(2004, 8, 1), primary_procedure="lar", margin=margin
                )
                self.assertIs(derive.lacks_margin(operation), missing)

    def test_an_unknown_stage_is_not_a_complete_diagnosis(self):
        facts = derive.PatientFacts(
            diagnosis_date=D(2004, 1, 10),
            primary_site="sigmoid",
            stage=("T3", "unk", "M1a"),
            ecog=1,
        )
        self.assertTrue(derive.unknown_stage(facts))
        self.assertFalse(derive.key_fields(facts)["diagnosis"])


class MissingCodeEntryTests(CastTestCase):
    url = reverse("registry:patient_create")

    def setUp(self):
        self.client.force_login(self.nina)

    def post(self, **changes):
        data = new_patient_data(**{"patient-site": str(self.north.pk), **changes})
        return self.client.post(self.url, data)

    def test_a_trial_patient_with_unknown_stage_and_site_is_saved(self):
        response = self.post(
            **{
                "tumour-primary_site": "unk",
                "tumour-anal_verge_cm": "",
                "tumour-clinical_t": "unk",
                "tumour-clinical_n": "nr",
                "tumour-clinical_m": "unk",
            }
        )
        patient = Patient.objects.get()
        self.assertRedirects(response, patient.get_absolute_url())
        self.assertTrue(patient.facts.unknown_stage)
        # every key field but the diagnosis, whose site and stage are unknown
        self.assertEqual(patient.facts.key_fields_filled, len(derive.KEY_FIELDS) - 1)

    def test_unknown_stage_counts_as_missing_on_the_data_quality_page(self):
        complete = make_full_patient(site=self.north, ecog=1)
        PrimaryTumour.objects.filter(patient=complete).update(
            cea_ng_ml=5, anal_verge_cm=7
        )
        make_full_patient(site=self.north, ecog=1)
        PrimaryTumour.objects.filter(patient__site=self.north).exclude(
            patient=complete
        ).update(cea_ng_ml=5, anal_verge_cm=7, clinical_m="unk")
        Operation.objects.update(margin="R0")
        [site] = self.client.get(reverse("registry:data_quality")).context["sites"]
        self.assertEqual((site.complete_patients, site.counts["unknown_stage"]), (1, 1))

    def test_an_age_at_diagnosis_stands_in_for_an_unknown_date_of_birth(self):
        response = self.post(
            **{"patient-date_of_birth": "", "patient-age_at_diagnosis": "71"}
        )
        patient = Patient.objects.get()
        self.assertRedirects(response, patient.get_absolute_url())
        self.assertIsNone(patient.date_of_birth)
        self.assertEqual(patient.age_at_diagnosis, 71)

    def test_neither_date_of_birth_nor_age_is_refused(self):
        response = self.post(**{"patient-date_of_birth": ""})
        self.assertIn(
            "Give the date of birth, or the age at diagnosis",
            " ".join(errors_at(response, "date_of_birth", prefix="patient")),
        )
        self.assertFalse(Patient.objects.exists())

    def test_an_age_that_contradicts_the_date_of_birth_is_refused(self):
        patient = make_patient(site=self.north, date_of_birth=D(1950, 5, 17))
        make_tumour(patient, diagnosis_date=D(2004, 1, 10))
        patient.age_at_diagnosis = 60  # 53 by the date of birth
        self.assertIn("does not match", refusal(patient, "age_at_diagnosis"))
        patient.age_at_diagnosis = 53
        self.assertEqual(refusal(patient, "age_at_diagnosis"), "")

    def test_the_mrn_may_be_left_blank_and_two_blanks_do_not_clash(self):
        make_patient(site=self.north, mrn="")
        other = make_patient(site=self.north, mrn="")
        self.assertEqual(refusal(other, "mrn"), "")


# --- 3. checks at entry: refused --------------------------------------------------


class DateBoundTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_patient(site=cls.north, date_of_birth=D(1950, 5, 17))
        make_tumour(cls.patient, diagnosis_date=D(2004, 1, 10))

    def test_treatment_dates_in_year_1_or_1677_are_refused(self):
        for day in (D(1, 1, 1), D(1677, 1, 1), D(1899, 12, 31)):
            with self.subTest(day=day):
                course = RadiationCourse(
                    patient=self.patient,
                    course_type="long_crt",
                    start_date=day,
                    total_dose_gy=50,
                    fractions=25,
                    concurrent_agent="none",
                )
                self.assertIn("check the year", refusal(course, "start_date"))

    def test_a_birth_in_1899_is_accepted_and_1879_refused(self):
        old = make_patient(site=self.north, date_of_birth=D(1899, 3, 1))
        make_tumour(old, diagnosis_date=D(1984, 6, 1))
        self.assertEqual(refusal(old, "date_of_birth"), "")
        old.date_of_birth = D(1879, 12, 31)
        self.assertIn("before 1880-01-01", refusal(old, "date_of_birth"))

    def test_a_date_after_today_is_refused(self):
        contact = FollowUp(
            patient=self.patient,
            date=D(2999, 1, 1),
            contact_type="clinic",
            disease_status="ned",
        )
        self.assertIn("cannot be in the future", refusal(contact, "date"))

    def test_treatment_before_birth_is_refused(self):
        operation = Operation(
            patient=self.patient,
            date=D(1949, 1, 1),
            intent="curative",
            primary_procedure="lar",
            liver_procedure="none",
            palliative_procedure="none",
        )
        self.assertIn("before the date of birth", refusal(operation, "date"))


class RectalSiteTests(CastTestCase):
    def test_a_distance_outside_the_sites_band_is_refused(self):
        patient = make_patient(site=self.north)
        for site, cm, refused in (
            ("rectum_mid", "14", True),
            ("rectum_mid", "7.5", False),
            ("rectum_mid", "5", False),
            ("rectum_mid", "10", False),
            ("rectum_low", "6", True),
            ("rectum_high", "9.9", True),
        ):
            with self.subTest(site=site, cm=cm):
                tumour = PrimaryTumour(
                    patient=patient,
                    diagnosis_date=D(2004, 1, 10),
                    primary_site=site,
                    anal_verge_cm=Decimal(cm),
                    histology="adeno",
                    clinical_t="T3",
                    clinical_n="N0",
                    clinical_m="M1a",
                    kras="nt",
                    nras="nt",
                    braf="nt",
                    mmr="nt",
                )
                message = refusal(tumour, "anal_verge_cm")
                self.assertEqual("outside" in message, refused, message)


# --- 3. checks at entry: warnings the nurse confirms --------------------------------


class WarningConfirmationTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_patient(site=cls.north)
        make_tumour(cls.patient, diagnosis_date=D(2004, 1, 10))
        make_liver(cls.patient)

    def setUp(self):
        self.client.force_login(self.nina)
        self.url = reverse(
            "registry:record_create", args=[self.patient.pk, "operation"]
        )
        # a curative resection two weeks before the diagnosis
        self.data = {**RECORD_DATA["operation"], "date": "2003-12-27"}

    def test_a_resection_before_diagnosis_is_warned_and_not_saved(self):
        response = self.client.post(self.url, self.data)
        [message] = errors_at(response, "date")
        self.assertIn("Warning:", message)
        self.assertIn("before the diagnosis on 2004-01-10", message)
        self.assertContains(response, 'type="checkbox" name="confirm_warnings"')
        self.assertContains(response, "I confirm this is correct")
        self.assertFalse(Operation.objects.exists())

    def test_confirmed_it_is_saved_and_the_warning_kept_with_who(self):
        self.client.post(self.url, self.data)
        response = self.client.post(
            self.url,
            {
                **self.data,
                "confirm_warnings": "on",
                "warnings_seen": "treatment_before_diagnosis",
            },
        )
        operation = Operation.objects.get()
        self.assertRedirects(response, self.patient.get_absolute_url())
        warning = ConfirmedWarning.objects.get()
        self.assertEqual(
            (warning.record_kind, warning.record_id, warning.confirmed_by),
            ("operation", operation.pk, self.nina),
        )
        page = self.client.get(reverse("registry:data_quality"))
        self.assertContains(page, "Confirmed warnings")
        self.assertContains(page, "before the diagnosis on 2004-01-10")

    def test_a_tick_for_another_warning_does_not_confirm_this_one(self):
        response = self.client.post(
            self.url, {**self.data, "confirm_warnings": "on", "warnings_seen": ""}
        )
        self.assertTrue(errors_at(response, "date"))
        self.assertFalse(Operation.objects.exists())

    def test_an_edit_of_a_confirmed_record_does_not_ask_again(self):
        self.client.post(
            self.url,
            {
                **self.data,
                "confirm_warnings": "on",
                "warnings_seen": "treatment_before_diagnosis",
            },
        )
        operation = Operation.objects.get()
        url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "operation", operation.pk],
        )
        response = self.client.post(
            url, {**self.data, "length_of_stay_days": "12", "version": "1"}
        )
        self.assertRedirects(response, self.patient.get_absolute_url())
        self.assertEqual(ConfirmedWarning.objects.count(), 1)

    def test_cm0_with_synchronous_liver_metastases_is_warned_in_the_new_patient_form(
        self,
    ):
        url = reverse("registry:patient_create")
        data = new_patient_data(
            **{"patient-site": str(self.north.pk), "tumour-clinical_m": "M0"}
        )
        response = self.client.post(url, data)
        [message] = errors_at(response, "clinical_m", prefix="tumour")
        self.assertIn("synchronous", message)
        self.assertEqual(Patient.objects.count(), 1)  # the one of setUpTestData
        response = self.client.post(
            url,
            {
                **data,
                "tumour-confirm_warnings": "on",
                "tumour-warnings_seen": "m0_synchronous_liver",
            },
        )
        self.assertEqual(Patient.objects.count(), 2)
        warning = ConfirmedWarning.objects.get()
        self.assertEqual(warning.record_kind, "primarytumour")


# --- 4. wording and dates ---------------------------------------------------------


class CompletenessWordingTests(SimpleTestCase):
    def test_completeness_never_rounds_up_to_100(self):
        # 47 of 48 patients complete, one key field of six missing
        value = 100 * (48 * 6 - 1) / (48 * 6)
        self.assertEqual(quality.percent_down(value), "99.6")
        self.assertEqual(quality.percent_down(99.96), "99.9")
        self.assertEqual(quality.percent_down(100.0), "100")


class PatientListWordingTests(CastTestCase):
    url = reverse("registry:patient_list")

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.one = make_patient(site=cls.north)
        make_patient(site=cls.north)

    def setUp(self):
        self.client.force_login(self.nina)

    def status(self, response) -> str:
        text = response.content.decode()
        return re.search(r'role="status">([^<]*)<', text).group(1).strip()

    def test_without_a_filter_it_counts_patients(self):
        self.assertEqual(self.status(self.client.get(self.url)), "2 patients.")

    def test_an_empty_filter_form_sent_is_not_a_filter(self):
        empty = {"registry_number": "", "site": "", "strategy": "", "check": ""}
        self.assertEqual(self.status(self.client.get(self.url, empty)), "2 patients.")

    def test_one_match_is_singular(self):
        response = self.client.get(
            self.url, {"registry_number": self.one.registry_number}
        )
        self.assertEqual(self.status(response), "1 patient matches these filters.")

    def test_the_search_example_is_a_registry_number_of_the_users_site(self):
        self.client.force_login(self.sam)
        response = self.client.get(self.url)
        self.assertContains(response, 'placeholder="e.g. STH-00012"')
        self.assertNotContains(response, "NTH-00012")


class FollowUpAfterDeathTests(CastTestCase):
    def test_add_follow_up_is_not_offered_after_death(self):
        patient = make_full_patient(site=self.north)
        add = reverse("registry:record_create", args=[patient.pk, "followup"])
        self.client.force_login(self.nina)
        self.assertContains(self.client.get(patient.get_absolute_url()), add)
        make_death(patient)
        response = self.client.get(patient.get_absolute_url())
        self.assertNotContains(response, add)
        # and a contact after the death is still refused
        response = self.client.post(
            add, {**RECORD_DATA["followup"], "date": "2007-07-01"}
        )
        self.assertIn(
            "after the patient's death", " ".join(errors_at(response, "date"))
        )


class DateFormatTests(CastTestCase):
    def test_dates_show_as_iso_8601(self):
        self.assertEqual(formats.date_format(D(2002, 1, 28)), "2002-01-28")
        self.assertEqual(
            formats.date_format(D(2002, 1, 28), "SHORT_DATE_FORMAT"), "2002-01-28"
        )

    def test_the_admin_lists_dates_in_iso_8601(self):
        make_full_patient(site=self.north)
        self.client.force_login(self.mark)
        response = self.client.get(reverse("admin:registry_followup_changelist"))
        self.assertContains(response, "2005-01-10")
        self.assertNotContains(response, "10 Jan 2005")

    def test_date_inputs_take_yyyy_mm_dd_text_only(self):
        patient = make_full_patient(site=self.north)
        self.client.force_login(self.nina)
        url = reverse("registry:record_create", args=[patient.pk, "followup"])
        page = self.client.get(url).content.decode()
        field = re.search(r'<input[^>]*name="date"[^>]*>', page).group(0)
        self.assertIn('type="text"', field)
        self.assertIn('placeholder="YYYY-MM-DD"', field)
        response = self.client.post(
            url, {**RECORD_DATA["followup"], "date": "10/01/2005"}
        )
        self.assertEqual(errors_at(response, "date"), ["Enter a valid date."])

    def test_no_page_asks_for_a_date_in_the_browsers_locale(self):
        # <input type=date> shows 01/02/2004 as the browser's locale reads it: the
        # report builder and the audit log's filters take YYYY-MM-DD like the rest
        pages = [
            (self.ann, reverse("analytics:report_new")),
            (self.mark, reverse("registry:audit_log")),
        ]
        for user, url in pages:
            with self.subTest(url=url):
                self.client.force_login(user)
                page = self.client.get(url).content.decode()
                self.assertNotIn('type="date"', page)
                self.assertIn('placeholder="YYYY-MM-DD"', page)


class StageTextTests(SimpleTestCase):
    def test_a_missing_stage_code_is_written_out(self):
        from registry.selectors import clinical_stage

        tumour = PrimaryTumour(clinical_t="T3", clinical_n="unk", clinical_m="nr")
        self.assertEqual(clinical_stage(tumour), "cT3 N unknown M not recorded")
        tumour = PrimaryTumour(clinical_t="T3", clinical_n="N1a", clinical_m="M1a")
        self.assertEqual(clinical_stage(tumour), "cT3 N1a M1a")


class MissingAnswerRuleTests(SimpleTestCase):
    def test_a_blank_palliative_procedure_is_not_a_palliative_operation(self):
        blank = derive.OperationFact(D(2005, 1, 1), palliative_procedure="")
        stoma = derive.OperationFact(D(2005, 1, 1), palliative_procedure="stoma")
        self.assertFalse(blank.is_palliative)
        self.assertTrue(stoma.is_palliative)


class RulesAcrossRecordsTests(CastTestCase):
    """Rules between two records, found held from one side only by an audit:
    each is now refused from the other side too, on the form, the API and an
    import alike."""

    def test_a_new_patients_age_that_contradicts_the_date_of_birth_is_refused(self):
        # born 1950-03-01, diagnosed 2004-01-10: 53 at diagnosis, not 30 (the
        # import refused it; the form and the API saved it)
        self.client.force_login(self.nina)
        data = new_patient_data(
            **{
                "patient-site": str(self.north.pk),
                "patient-date_of_birth": "1950-03-01",
                "patient-age_at_diagnosis": "30",
                "tumour-diagnosis_date": "2004-01-10",
            }
        )
        response = self.client.post(reverse("registry:patient_create"), data)
        self.assertFalse(Patient.objects.exists())
        self.assertContains(response, "does not match the date of birth")
        # the API: the patient first, then the diagnosis that contradicts it
        patient = make_patient(site=self.north, date_of_birth=datetime.date(1950, 3, 1))
        Patient.objects.filter(pk=patient.pk).update(age_at_diagnosis=30)
        api = APIClient()
        api.force_authenticate(self.nina)
        body = {
            "registry_number": patient.registry_number,
            **{k: v for k, v in RECORD_DATA["tumour"].items() if v != ""},
            "diagnosis_date": "2004-01-10",
        }
        response = api.post(reverse("api:tumour-list"), body, format="json")
        self.assertEqual(response.status_code, 400, response.content)
        self.assertIn("does not match", response.json()["diagnosis_date"][0])

    def test_the_diagnosis_is_not_moved_after_the_metastases_detection(self):
        patient = make_patient(site=self.north)
        tumour = make_tumour(patient)  # 2004-01-10
        make_liver(
            patient, timing="metachronous", detected_date=datetime.date(2005, 3, 1)
        )
        self.client.force_login(self.nina)
        url = reverse("registry:record_update", args=[patient.pk, "tumour", tumour.pk])
        data = {**RECORD_DATA["tumour"], "diagnosis_date": "2005-06-01", "version": "1"}
        response = self.client.post(url, data)
        self.assertContains(response, "after the detection of metachronous liver")
        tumour.refresh_from_db()
        self.assertEqual(tumour.diagnosis_date, datetime.date(2004, 1, 10))
        row = tumour_row(0, diagnosis_date="2005-06-01")
        row.pop("source_record_id")
        row["registry_number"] = patient.registry_number
        result = importer.run_import(
            [csv_file("primary_tumour", [row])],
            site=self.north,
            user=self.mark,
            commit=False,
        )
        self.assertIn(
            "after the detection", " ".join(p.message for p in result.problems)
        )
