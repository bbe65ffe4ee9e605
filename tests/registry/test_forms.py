"""The data-entry forms: new patient, and add/edit/delete of every kind of record."""

from __future__ import annotations

import datetime

from django.urls import reverse

from registry.forms import RECORD_KINDS
from registry.models import (
    Death,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
)
from tests.cast import CastTestCase
from tests.factories import (
    make_death,
    make_full_patient,
    make_liver,
    make_patient,
    make_tumour,
)
from tests.registry.form_data import BAD_RECORD_DATA, RECORD_DATA, new_patient_data


def record_counts() -> dict[str, int]:
    """Return how many records of each kind (and patients) are stored."""
    counts = {slug: kind.model.objects.count() for slug, kind in RECORD_KINDS.items()}
    counts["patient"] = Patient.objects.count()
    return counts


def errors_at(response, field: str, *, prefix: str = "") -> list[str]:
    """Return the messages the page shows at `field` of the form in its context."""
    form = response.context["form"]
    if prefix:
        form = getattr(form, prefix)
    return [str(message) for message in form.errors.get(field, [])]


class PatientCreateTests(CastTestCase):
    url = reverse("registry:patient_create")

    def setUp(self):
        self.client.force_login(self.nina)

    def post(self, **changes):
        data = new_patient_data(**{"patient-site": str(self.north.pk), **changes})
        return self.client.post(self.url, data)

    def test_form_offers_only_the_sites_of_the_user(self):
        response = self.client.get(self.url)
        self.assertContains(response, "North Hospital")
        self.assertNotContains(response, "South Hospital")

    def test_form_uses_date_inputs_selects_and_shows_units(self):
        response = self.client.get(self.url)
        self.assertContains(response, 'name="tumour-diagnosis_date"')
        self.assertContains(response, 'placeholder="YYYY-MM-DD"')
        self.assertContains(response, '<select name="tumour-clinical_m"')
        self.assertContains(response, "Largest diameter (mm)")
        self.assertContains(response, "CEA at diagnosis (ng/mL)")
        self.assertContains(response, '<label for="id_patient-mrn"')

    def test_valid_submission_saves_patient_diagnosis_and_liver_together(self):
        response = self.post()
        patient = Patient.objects.get()
        self.assertRedirects(response, patient.get_absolute_url())
        self.assertEqual(patient.site, self.north)
        self.assertTrue(patient.registry_number.startswith("NTH-"))
        self.assertEqual(patient.tumour.diagnosis_date, datetime.date(2004, 1, 10))
        self.assertEqual(patient.liver.extent, "25to50")

    def test_history_records_the_nurse_who_entered_the_patient(self):
        self.post()
        patient = Patient.objects.get()
        self.assertEqual(patient.history.get().history_user, self.nina)
        self.assertEqual(patient.tumour.history.get().history_user, self.nina)
        self.assertEqual(patient.liver.history.get().history_user, self.nina)

    def test_bad_liver_part_saves_nothing_and_shows_the_message_at_the_field(self):
        response = self.post(**{"liver-largest_mm": "0"})
        self.assertEqual(response.status_code, 200)
        self.assertIn(
            "Largest diameter (mm) must be at least 1.",
            errors_at(response, "largest_mm", prefix="liver"),
        )
        self.assertEqual(Patient.objects.count(), 0)
        self.assertEqual(PrimaryTumour.objects.count(), 0)

    def test_diagnosis_before_birth_is_refused_at_the_diagnosis_date(self):
        response = self.post(**{"tumour-diagnosis_date": "1949-01-01"})
        self.assertTrue(
            any(
                "before the date of birth" in message
                for message in errors_at(response, "diagnosis_date", prefix="tumour")
            )
        )
        self.assertEqual(Patient.objects.count(), 0)

    def test_detection_before_diagnosis_is_refused_at_the_detection_date(self):
        response = self.post(**{"liver-detected_date": "2000-01-01"})
        messages = errors_at(response, "detected_date", prefix="liver")
        self.assertTrue(any("before" in message for message in messages), messages)
        self.assertEqual(Patient.objects.count(), 0)

    def test_duplicate_mrn_at_the_site_is_refused_at_the_mrn_field(self):
        make_patient(site=self.north, mrn="H123456")
        response = self.post()
        self.assertIn(
            "A patient with this MRN exists at this site.",
            errors_at(response, "mrn", prefix="patient"),
        )
        self.assertEqual(Patient.objects.count(), 1)

    def test_liver_metastases_can_be_left_for_later(self):
        data = {"liver-later": "on", "liver-lesion_count": "", "liver-extent": ""}
        response = self.post(**data)
        patient = Patient.objects.get()
        self.assertRedirects(response, patient.get_absolute_url())
        self.assertFalse(LiverMetastases.objects.exists())

    def test_liver_left_for_later_is_not_checked_when_another_part_is_wrong(self):
        # Found by an audit: the page rendered the skipped liver part as seven
        # missing required fields beside the real error (a mid rectum 14 cm
        # from the anal verge), though the nurse had chosen to leave it.
        blank = {f"liver-{name}": "" for name in ("timing", "lesion_count", "extent")}
        response = self.post(
            **{"liver-later": "on", "liver-largest_mm": "35"},
            **{"tumour-anal_verge_cm": "14", **blank},
        )
        self.assertEqual(Patient.objects.count(), 0)
        self.assertTrue(errors_at(response, "anal_verge_cm", prefix="tumour"))
        self.assertEqual(response.context["form"].liver.errors, {})
        self.assertNotContains(response, "This field is required.")
        self.assertNotContains(response, 'id="id_liver-lesion_count_error"')
        # what was typed in the skipped part is shown again, as typed
        self.assertContains(response, 'name="liver-largest_mm" value="35"')
        self.assertContains(response, 'id="id_liver-later" checked')

    def test_a_date_that_cannot_be_read_is_told_only_that(self):
        # Found by an audit: "14/07/1951" got "Enter a valid date." and "Give
        # the date of birth, or the age at diagnosis ...", though it was given.
        response = self.post(**{"patient-date_of_birth": "14/07/1951"})
        self.assertEqual(Patient.objects.count(), 0)
        self.assertEqual(
            errors_at(response, "date_of_birth", prefix="patient"),
            ["Enter a valid date."],
        )
        self.assertNotContains(response, "Give the date of birth")

    def test_site_of_another_user_cannot_be_chosen(self):
        response = self.post(**{"patient-site": str(self.south.pk)})
        self.assertTrue(errors_at(response, "site", prefix="patient"))
        self.assertEqual(Patient.objects.count(), 0)

    def test_analyst_is_refused(self):
        self.client.force_login(self.ann)
        self.assertEqual(self.client.get(self.url).status_code, 403)
        self.assertEqual(self.post().status_code, 403)
        self.assertEqual(Patient.objects.count(), 0)


class RecordCreateTests(CastTestCase):
    def setUp(self):
        self.patient = make_patient(site=self.north)
        make_tumour(self.patient)
        self.client.force_login(self.nina)

    def url(self, kind: str) -> str:
        return reverse("registry:record_create", args=[self.patient.pk, kind])

    def test_every_kind_of_record_can_be_added(self):
        PrimaryTumour.objects.all().delete()
        for slug in RECORD_KINDS:
            with self.subTest(kind=slug):
                response = self.client.post(self.url(slug), RECORD_DATA[slug])
                self.assertRedirects(response, self.patient.get_absolute_url())
                record = RECORD_KINDS[slug].model.objects.get(patient=self.patient)
                self.assertEqual(record.history.get().history_user, self.nina)

    def test_every_form_refuses_bad_input_at_the_field_and_saves_nothing(self):
        for slug, (field, value, error_field, fragment) in BAD_RECORD_DATA.items():
            with self.subTest(kind=slug):
                if slug == "tumour":
                    PrimaryTumour.objects.all().delete()
                before = record_counts()
                data = {**RECORD_DATA[slug], field: value}
                response = self.client.post(self.url(slug), data)
                self.assertEqual(response.status_code, 200)
                messages = errors_at(response, error_field)
                self.assertTrue(
                    any(fragment in message for message in messages), messages
                )
                self.assertContains(response, f'id="id_{error_field}_error"')
                self.assertContains(response, 'aria-invalid="true"')
                self.assertEqual(record_counts(), before)
                if slug == "tumour":
                    make_tumour(self.patient)

    def test_operation_after_death_is_refused_with_the_date_of_death(self):
        make_death(self.patient, date=datetime.date(2004, 6, 1))
        response = self.client.post(self.url("operation"), RECORD_DATA["operation"])
        self.assertIn(
            "Operation date (2004-08-15) is after the patient's death on 2004-06-01.",
            errors_at(response, "date"),
        )
        self.assertFalse(Operation.objects.exists())

    def test_second_record_of_a_single_kind_opens_the_existing_one(self):
        response = self.client.get(self.url("tumour"))
        self.assertRedirects(
            response,
            reverse(
                "registry:record_update",
                args=[self.patient.pk, "tumour", self.patient.tumour.pk],
            ),
        )

    def test_unknown_kind_of_record_is_not_found(self):
        self.assertEqual(self.client.get(self.url("scan")).status_code, 404)

    def test_patient_of_another_site_is_not_found(self):
        self.client.force_login(self.sam)
        response = self.client.post(self.url("operation"), RECORD_DATA["operation"])
        self.assertEqual(response.status_code, 404)
        self.assertFalse(Operation.objects.exists())

    def test_analyst_may_not_add_records(self):
        self.client.force_login(self.ann)
        response = self.client.post(self.url("operation"), RECORD_DATA["operation"])
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Operation.objects.exists())


class RecordUpdateTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.operation = self.patient.operations.get()
        self.url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "operation", self.operation.pk],
        )
        self.client.force_login(self.nina)

    def test_form_shows_the_stored_values_and_the_version(self):
        response = self.client.get(self.url)
        self.assertContains(response, 'value="2004-08-15"')
        self.assertContains(
            response, f'name="version" value="{self.operation.version}"'
        )

    def test_saving_changes_the_record_bumps_the_version_and_records_the_user(self):
        data = {**RECORD_DATA["operation"], "version": self.operation.version}
        data["margin"] = "R1"
        response = self.client.post(self.url, data)
        self.assertRedirects(response, self.patient.get_absolute_url())
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "R1")
        self.assertEqual(self.operation.version, 2)
        latest = self.operation.history.latest()
        self.assertEqual(latest.history_user, self.nina)
        self.assertEqual(latest.history_type, "~")

    def test_bad_edit_saves_nothing_and_keeps_the_version(self):
        data = {**RECORD_DATA["operation"], "version": 1, "length_of_stay_days": "400"}
        response = self.client.post(self.url, data)
        self.assertIn(
            "Length of stay (days) must be at most 365.",
            errors_at(response, "length_of_stay_days"),
        )
        self.operation.refresh_from_db()
        self.assertEqual(
            (self.operation.length_of_stay_days, self.operation.version), (None, 1)
        )

    def test_submission_without_a_version_is_refused(self):
        response = self.client.post(self.url, RECORD_DATA["operation"])
        self.assertTrue(errors_at(response, "version"))
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "")

    def test_record_of_another_patient_is_not_found(self):
        other = make_full_patient(site=self.north)
        url = reverse(
            "registry:record_update",
            args=[other.pk, "operation", self.operation.pk],
        )
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_patient_details_can_be_edited_without_moving_the_site(self):
        url = reverse("registry:patient_update", args=[self.patient.pk])
        data = {
            "mrn": self.patient.mrn,
            "date_of_birth": "1950-05-17",
            "sex": "M",
            "ecog": "2",
            "presenting_symptom": "none",
            "version": "1",
        }
        response = self.client.post(url, data)
        self.assertRedirects(response, self.patient.get_absolute_url())
        self.patient.refresh_from_db()
        self.assertEqual((self.patient.sex, self.patient.ecog), ("M", 2))
        self.assertEqual(self.patient.site, self.north)

    def test_user_without_identifier_permission_never_sees_them_in_the_form(self):
        editor = self.make_editor_without_identifiers()
        self.client.force_login(editor)
        url = reverse("registry:patient_update", args=[self.patient.pk])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, self.patient.mrn)
        self.assertNotContains(response, "date_of_birth")

    def make_editor_without_identifiers(self):
        from django.contrib.auth.models import Permission

        from tests.factories import make_user

        user = make_user("eddie", sites=[self.north])
        user.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_patient", "change_patient"])
        )
        return user


class RecordDeleteTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.operation = self.patient.operations.get()
        self.url = reverse(
            "registry:record_delete",
            args=[self.patient.pk, "operation", self.operation.pk],
        )

    def test_confirmation_page_names_the_record(self):
        self.client.force_login(self.nina)
        response = self.client.get(self.url)
        self.assertContains(response, "Operation on 2004-08-15")

    def test_nurse_deletes_a_record_and_the_history_keeps_who(self):
        self.client.force_login(self.nina)
        response = self.client.post(
            self.url, {"version": "1", "reason": "entered twice"}
        )
        self.assertRedirects(response, self.patient.get_absolute_url())
        self.assertFalse(Operation.objects.exists())
        deletion = Operation.history.get(history_type="-")
        self.assertEqual(deletion.history_user, self.nina)

    def test_nurse_may_not_delete_a_patient(self):
        self.client.force_login(self.nina)
        url = reverse("registry:patient_delete", args=[self.patient.pk])
        self.assertEqual(
            self.client.post(
                url, {"version": "1", "reason": "entered twice"}
            ).status_code,
            403,
        )
        self.assertTrue(Patient.objects.filter(pk=self.patient.pk).exists())

    def test_data_manager_deletes_a_patient_with_all_records(self):
        self.client.force_login(self.mark)
        url = reverse("registry:patient_delete", args=[self.patient.pk])
        response = self.client.post(url, {"version": "1", "reason": "entered twice"})
        self.assertRedirects(response, reverse("registry:patient_list"))
        self.assertFalse(Patient.objects.exists())
        self.assertFalse(Operation.objects.exists())

    def test_death_can_be_deleted_and_patient_is_alive_again(self):
        death = make_death(self.patient)
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_delete", args=[self.patient.pk, "death", death.pk]
        )
        self.client.post(url, {"version": "1", "reason": "entered twice"})
        self.assertFalse(Death.objects.exists())
        response = self.client.get(self.patient.get_absolute_url())
        self.assertContains(response, "Alive")

    def test_liver_record_of_a_patient_can_be_removed_and_added_again(self):
        patient = make_patient(site=self.north)
        make_tumour(patient)
        liver = make_liver(patient)
        self.client.force_login(self.nina)
        url = reverse("registry:record_delete", args=[patient.pk, "liver", liver.pk])
        self.client.post(url, {"version": "1", "reason": "entered twice"})
        add = reverse("registry:record_create", args=[patient.pk, "liver"])
        self.assertEqual(self.client.get(add).status_code, 200)
