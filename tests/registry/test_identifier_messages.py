"""A refused value never repeats an identifier to a user who may not see it.

A date before the patient's birth is refused on every path (form page, admin,
API) by the model's validation: the message must say so without quoting the
date of birth, which a user without the ``view_identifiers`` permission could
otherwise read back one request at a time.
"""

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from registry.derive import before_birth
from tests.cast import CastTestCase
from tests.factories import make_full_patient, make_user
from tests.registry.form_data import RECORD_DATA


def without_identifiers(username: str, group: str, sites, **fields):
    """Return a member of `group` with all its permissions but view_identifiers."""
    user = make_user(username, sites=sites, **fields)
    user.user_permissions.set(
        Group.objects.get(name=group).permissions.exclude(codename="view_identifiers")
    )
    assert not user.has_perm("registry.view_identifiers")
    return user


class DateOfBirthNotInRefusalsTests(CastTestCase):
    def setUp(self):
        cache.clear()
        self.patient = make_full_patient(site=self.north)
        self.born = self.patient.date_of_birth.isoformat()
        self.operation = self.patient.operations.get()

    def test_the_rule_says_what_is_before_birth_without_the_birth_date(self):
        message = before_birth(
            self.operation.date.replace(year=1901),
            self.patient.date_of_birth,
            what="Operation date",
        )
        self.assertIn("Operation date (1901-", message)
        self.assertIn("before the date of birth", message)
        self.assertNotIn(self.born, message)

    def test_the_api_refuses_an_operation_before_birth_without_the_birth_date(self):
        clerk = without_identifiers("clerk", "Data entry", [self.north])
        client = APIClient()
        client.force_authenticate(clerk)
        patient = client.get(reverse("api:patient-detail", args=[self.patient.pk]))
        self.assertNotIn(self.born, patient.content.decode())
        response = client.patch(
            reverse("api:operation-detail", args=[self.operation.pk]),
            {"date": "1901-01-01", "version": self.operation.version},
            format="json",
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("before the date of birth", response.content.decode())
        self.assertNotIn(self.born, response.content.decode())

    def test_the_form_page_refuses_it_without_the_birth_date(self):
        self.client.force_login(
            without_identifiers("clerk", "Data entry", [self.north])
        )
        url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "operation", self.operation.pk],
        )
        response = self.client.post(
            url,
            {
                **RECORD_DATA["operation"],
                "date": "1949-12-31",
                "version": str(self.operation.version),
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "before the date of birth")
        self.assertNotContains(response, self.born)

    def test_the_admin_refuses_it_without_the_birth_date(self):
        self.client.force_login(
            without_identifiers("clerk", "Data manager", [self.north], is_staff=True)
        )
        url = reverse("admin:registry_operation_change", args=[self.operation.pk])
        page = self.client.get(url)
        self.assertNotContains(page, self.born)
        data = filled(page.context["adminform"].form)
        response = self.client.post(url, {**data, "date": "1901-01-01"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "before the date of birth")
        self.assertNotContains(response, self.born)


class MrnTakenAtTheNewSiteTests(CastTestCase):
    def test_a_move_onto_a_taken_mrn_is_refused_by_a_form_without_the_mrn(self):
        # a staff user who may change patients but not see identifiers: the
        # admin's form has no MRN field, yet moving the patient to a site where
        # their MRN is taken must be a message (naming no MRN), not a server error
        cache.clear()
        moving = make_full_patient(site=self.north, mrn="SAME01")
        make_full_patient(site=self.south, mrn="SAME01")
        self.client.force_login(
            without_identifiers(
                "clerk", "Data manager", [self.north, self.south], is_staff=True
            )
        )
        url = reverse("admin:registry_patient_change", args=[moving.pk])
        page = self.client.get(url)
        self.assertNotIn("mrn", page.context["adminform"].form.fields)
        data = filled(page.context["adminform"].form)
        for inline in page.context["inline_admin_formsets"]:
            formset = inline.formset
            data |= filled(formset.management_form)
            for form in formset.forms:
                data |= filled(form)
        response = self.client.post(url, {**data, "site": str(self.south.pk)})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "A patient with this MRN exists at this site.")
        self.assertNotContains(response, "SAME01")
        moving.refresh_from_db()
        self.assertEqual(moving.site, self.north)


def filled(form) -> dict:
    """Return the POST data of `form` as it stands, under its prefix."""
    return {
        form.add_prefix(name): form[name].value()
        for name in form.fields
        if form[name].value() is not None
    }
