"""A NUL character in a query string or a form is a 400 saying where, before
any view reads it: PostgreSQL's text holds none, and values read outside a
form (a reason for a change, an admin list filter, the admin's autocomplete
term) reached the database, a server error there."""

from __future__ import annotations

from django.urls import reverse

from registry.models import FollowUp
from tests.cast import CastTestCase
from tests.factories import make_full_patient
from tests.registry.form_data import RECORD_DATA


class NullCharacterTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.followup = self.patient.followups.get()

    def assertRefused(self, response, name):
        self.assertEqual(response.status_code, 400)
        self.assertIn(f"'{name}' holds a NUL character", response.content.decode())

    def test_a_reason_for_a_change_on_the_edit_page(self):
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "followup", self.followup.pk],
        )
        data = {
            **RECORD_DATA["followup"],
            "notes": "seen again",
            "version": str(self.followup.version),
            "change_reason": "typo\x00",
        }
        self.assertRefused(self.client.post(url, data), "change_reason")
        self.followup.refresh_from_db()
        self.assertNotEqual(self.followup.notes, "seen again")

    def test_a_reason_for_a_deletion_in_the_admin(self):
        self.client.force_login(self.mark)
        url = reverse("admin:registry_followup_delete", args=[self.followup.pk])
        response = self.client.post(url, {"post": "yes", "change_reason": "a\x00b"})
        self.assertRefused(response, "change_reason")
        self.assertTrue(FollowUp.objects.filter(pk=self.followup.pk).exists())

    def test_an_admin_list_filter_and_the_autocomplete_term(self):
        self.client.force_login(self.mark)
        for url, name in (
            ("/admin/registry/primarytumour/?histology__exact=%00", "histology__exact"),
            (
                "/admin/autocomplete/?app_label=registry&model_name=primarytumour"
                "&field_name=patient&term=a%00",
                "term",
            ),
        ):
            with self.subTest(url=url):
                self.assertRefused(self.client.get(url), name)

    def test_a_parameters_name_is_shown_without_its_nul(self):
        self.client.force_login(self.nina)
        response = self.client.get(reverse("registry:patient_list") + "?a%00b=1")
        self.assertRefused(response, "a\\\\x00b")
