"""No lost updates: a save over a version someone else changed is refused."""

from __future__ import annotations

from django.urls import reverse

from registry import services
from registry.models import Operation
from tests.cast import CastTestCase
from tests.factories import make_full_patient, make_operation, make_patient, make_tumour
from tests.registry.form_data import RECORD_DATA


class StaleEditTests(CastTestCase):
    def setUp(self):
        self.patient = make_patient(site=self.north)
        make_tumour(self.patient)
        # Stored as the form data of RECORD_DATA would store it.
        self.operation = make_operation(
            self.patient,
            primary_procedure="lar",
            liver_procedure="minor",
            margin="R0",
            clavien_dindo="II",
            length_of_stay_days=9,
        )
        self.url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "operation", self.operation.pk],
        )

    def save_as(self, user, version, **changes):
        self.client.force_login(user)
        data = {**RECORD_DATA["operation"], "version": str(version), **changes}
        return self.client.post(self.url, data)

    def test_second_save_over_the_same_version_is_refused_and_first_kept(self):
        first = self.save_as(self.mark, 1, margin="R1")
        self.assertEqual(first.status_code, 302)
        second = self.save_as(self.nina, 1, length_of_stay_days="12")
        self.assertEqual(second.status_code, 200)
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "R1")
        self.assertEqual(self.operation.length_of_stay_days, 9)
        self.assertEqual(self.operation.version, 2)

    def test_refusal_says_who_changed_which_field_from_what_to_what(self):
        self.save_as(self.mark, 1, margin="R1")
        response = self.save_as(self.nina, 1, length_of_stay_days="12")
        message = " ".join(response.context["form"].non_field_errors())
        self.assertIn("Not saved", message)
        self.assertIn("mark on", message)
        self.assertIn(
            "Resection margin: R0 – microscopically clear → R1 – microscopic residual",
            message,
        )
        self.assertContains(response, "Not saved")

    def test_other_persons_change_is_filled_in_and_own_entry_kept(self):
        self.save_as(self.mark, 1, margin="R1")
        response = self.save_as(self.nina, 1, length_of_stay_days="12")
        form = response.context["form"]
        self.assertEqual(form["margin"].value(), "R1")
        self.assertEqual(form["length_of_stay_days"].value(), "12")
        self.assertEqual(form["version"].value(), "2")

    def test_field_both_changed_is_marked_with_the_other_value(self):
        self.save_as(self.mark, 1, margin="R1")
        response = self.save_as(self.nina, 1, margin="R2")
        errors = response.context["form"].errors["margin"]
        self.assertIn(
            "Mark changed this to R1 – microscopic residual; your entry is kept here.",
            errors,
        )
        self.assertEqual(response.context["form"]["margin"].value(), "R2")

    def test_saving_again_after_the_refusal_stores_the_merged_record(self):
        self.save_as(self.mark, 1, margin="R1")
        refused = self.save_as(self.nina, 1, length_of_stay_days="12")
        form = refused.context["form"]
        again = {name: form[name].value() for name in form.fields}
        again = {
            k: ("on" if v is True else v)
            for k, v in again.items()
            if v not in (None, False)
        }
        response = self.client.post(self.url, again)
        self.assertEqual(response.status_code, 302)
        self.operation.refresh_from_db()
        self.assertEqual(
            (self.operation.margin, self.operation.length_of_stay_days), ("R1", 12)
        )
        self.assertEqual(self.operation.history.latest().history_user, self.nina)

    def admin_edit(self, **changes):
        """Return the admin change URL of the operation and its fields, changed,
        as the data manager would post them without the hidden version."""
        self.client.force_login(self.mark)
        admin_url = reverse("admin:registry_operation_change", args=[self.operation.pk])
        form = self.client.get(admin_url).context["adminform"].form
        data = {k: v for k, v in form.initial.items() if v is not None}
        data.update({"date": "2004-08-15", "patient": self.patient.pk, **changes})
        return admin_url, data

    def test_admin_post_without_its_version_is_refused_not_saved_blind(self):
        admin_url, data = self.admin_edit(margin="R2")
        response = self.client.post(admin_url, data)
        self.assertContains(response, "This form lost the version")
        self.operation.refresh_from_db()
        self.assertEqual((self.operation.margin, self.operation.version), ("R0", 1))

    def test_edit_in_the_admin_also_makes_open_forms_stale(self):
        admin_url, data = self.admin_edit(margin="R2")
        self.client.post(admin_url, {**data, "loaded_version": 1})
        self.operation.refresh_from_db()
        self.assertEqual((self.operation.margin, self.operation.version), ("R2", 2))
        response = self.save_as(self.nina, 1, clavien_dindo="I")
        self.assertEqual(response.status_code, 200)
        self.assertIn(
            "Not saved", " ".join(response.context["form"].non_field_errors())
        )

    def test_deleting_a_record_changed_since_it_was_shown_is_refused(self):
        self.save_as(self.mark, 1, margin="R1")
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_delete",
            args=[self.patient.pk, "operation", self.operation.pk],
        )
        response = self.client.post(url, {"version": "1", "reason": "duplicate"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Not deleted")
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())

    def test_saving_a_record_deleted_meanwhile_says_so_and_saves_nothing(self):
        self.client.force_login(self.mark)
        delete = reverse(
            "registry:record_delete",
            args=[self.patient.pk, "operation", self.operation.pk],
        )
        self.client.post(delete, {"version": "1", "reason": "duplicate"})
        response = self.save_as(self.nina, 1, margin="R1")
        self.assertRedirects(
            response, self.patient.get_absolute_url(), fetch_redirect_response=False
        )
        page = self.client.get(self.patient.get_absolute_url())
        self.assertContains(page, "This operation was deleted by mark on")
        self.assertFalse(Operation.objects.exists())

    def test_patient_form_refuses_a_stale_save_too(self):
        url = reverse("registry:patient_update", args=[self.patient.pk])
        data = {
            "mrn": self.patient.mrn,
            "date_of_birth": "1950-05-17",
            "sex": "F",
            "presenting_symptom": "none",
            "version": "1",
        }
        self.client.force_login(self.mark)
        self.client.post(url, {**data, "ecog": "1"})
        self.client.force_login(self.nina)
        response = self.client.post(url, {**data, "ecog": "3"})
        self.assertEqual(response.status_code, 200)
        self.patient.refresh_from_db()
        self.assertEqual(self.patient.ecog, 1)


class StaleEditServiceTests(CastTestCase):
    def test_update_over_an_old_version_raises_with_the_changes(self):
        patient = make_full_patient(site=self.north)
        first = Operation.objects.get(patient=patient)
        second = Operation.objects.get(patient=patient)
        first.margin = "R1"
        services.update_record(record=first, loaded_version=1)
        second.margin = "R2"
        with self.assertRaises(services.StaleEdit) as caught:
            services.update_record(record=second, loaded_version=1)
        stale = caught.exception
        self.assertEqual((stale.loaded_version, stale.current_version), (1, 2))
        self.assertEqual(stale.current_state["margin"], "R1")
        self.assertEqual(stale.loaded_state["margin"], "")
        self.assertEqual(
            [(f.name, f.old, f.new) for f in stale.changes[0].fields],
            [("margin", "blank", "R1 – microscopic residual")],
        )
        self.assertEqual(Operation.objects.get().margin, "R1")

    def test_save_from_any_path_counts_a_new_version(self):
        patient = make_full_patient(site=self.north)
        operation = patient.operations.get()
        operation.save()
        operation.save(update_fields=["margin"])
        operation.refresh_from_db()
        self.assertEqual(operation.version, 3)
