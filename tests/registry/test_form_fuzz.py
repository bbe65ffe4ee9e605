"""Generated submissions to every data-entry form never cause a server error.

Whatever is posted, a form either saves a record that passes the model's
validation (a redirect) or shows the form again with messages and saves nothing.
"""

from __future__ import annotations

import datetime

from django.conf import settings as django_settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import DateField, DecimalField, IntegerField
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from registry.forms import RECORD_KINDS, PatientForm
from tests.cast import CastTestCase
from tests.factories import make_full_patient
from tests.registry.form_data import RECORD_DATA, new_patient_data
from tests.registry.test_forms import record_counts

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text a browser could send: any Unicode that encodes as UTF-8 (including NUL).
text = st.text(st.characters(codec="utf-8"), max_size=40)
dates = st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31)).map(
    datetime.date.isoformat
)
near_dates = st.dates(datetime.date(1899, 1, 1), datetime.date(2030, 12, 31)).map(
    datetime.date.isoformat
)
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
)


def values_for(model_field):
    """Return a strategy of strings to post for one model field."""
    options = [text, st.just("")]
    if model_field is None:
        return st.one_of(*options)
    if model_field.choices:
        options.append(
            st.sampled_from([str(code) for code, _ in model_field.flatchoices])
        )
    if isinstance(model_field, DateField):
        options += [dates, near_dates]
    if isinstance(model_field, (IntegerField, DecimalField)):
        options += [numbers, st.integers(-5, 400).map(str)]
    return st.one_of(*options)


@st.composite
def submissions(draw, model, valid: dict[str, str], *, prefix: str = ""):
    """Return POST data: a valid submission with a few fields replaced or left out.

    Changing a few fields at a time reaches the model's cross-field rules (dates
    against each other and against the patient's other records), which a fully
    random submission rarely gets past the field checks to.
    """
    changed = draw(st.sets(st.sampled_from(sorted(valid)), max_size=4))
    posted = {}
    for name, value in valid.items():
        if name in changed:
            try:
                model_field = model._meta.get_field(name)
            except FieldDoesNotExist:
                model_field = None
            value = draw(st.none() | values_for(model_field))
        if value is not None:
            posted[f"{prefix}{name}"] = value
    return posted


versions = st.one_of(
    st.just("1"), st.integers(-(2**70), 2**70).map(str), text, st.just("")
)


class FormFuzzTests(CastTestCase, TestCase):
    # Hypothesis runs each example in its own transaction, rolled back after it,
    # with a client of its own: every example starts from the patient and the
    # login (a stored session) made once here.
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_full_patient(site=cls.north)
        login = Client()
        login.force_login(cls.nina)
        cls.session = login.cookies[django_settings.SESSION_COOKIE_NAME].value

    def setup_example(self):
        super().setup_example()
        self.client.cookies[django_settings.SESSION_COOKIE_NAME] = self.session

    def assertAnswered(self, response, posted: dict):
        """Assert a page or a redirect; or, for a NUL character anywhere in
        what was posted, the 400 that names it (registry.middleware)."""
        event(f"status {response.status_code}")  # --hypothesis-show-statistics
        nul = any("\x00" in f"{key}{value}" for key, value in posted.items())
        self.assertIn(response.status_code, (200, 302, 400) if nul else (200, 302))
        if response.status_code == 400:
            self.assertIn(b"holds a NUL character", response.content)

    def assertNoServerErrorAndNothingPartial(self, response, before, posted):
        self.assertAnswered(response, posted)
        if response.status_code in (200, 400):
            self.assertEqual(record_counts(), before)

    @FUZZ
    @given(data=st.data())
    def test_new_patient_form_never_fails_with_a_server_error(self, data):
        valid = new_patient_data(**{"patient-site": str(self.north.pk)})
        posted = {}
        for part, model in (
            ("patient-", PatientForm._meta.model),
            ("tumour-", RECORD_KINDS["tumour"].model),
            ("liver-", RECORD_KINDS["liver"].model),
        ):
            own = {k[len(part) :]: v for k, v in valid.items() if k.startswith(part)}
            posted.update(data.draw(submissions(model, own, prefix=part)))
        posted["liver-later"] = data.draw(st.sampled_from(["", "on", "x"]))
        before = record_counts()
        response = self.client.post(reverse("registry:patient_create"), posted)
        self.assertNoServerErrorAndNothingPartial(response, before, posted)
        if response.status_code == 302:
            self.assertEqual(record_counts()["patient"], before["patient"] + 1)

    @FUZZ
    @given(data=st.data(), slug=st.sampled_from(sorted(RECORD_KINDS)))
    def test_add_forms_never_fail_with_a_server_error(self, data, slug):
        kind = RECORD_KINDS[slug]
        kind.model.objects.filter(
            patient=self.patient
        ).delete() if kind.single else None
        posted = data.draw(submissions(kind.model, RECORD_DATA[slug]))
        before = record_counts()
        url = reverse("registry:record_create", args=[self.patient.pk, slug])
        response = self.client.post(url, posted)
        self.assertNoServerErrorAndNothingPartial(response, before, posted)
        if response.status_code == 302:
            for record in kind.model.objects.filter(patient=self.patient):
                record.full_clean()

    @FUZZ
    @given(
        data=st.data(),
        slug=st.sampled_from(
            ["tumour", "liver", "radiation", "systemic", "operation", "followup"]
        ),
    )
    def test_edit_forms_never_fail_with_a_server_error(self, data, slug):
        kind = RECORD_KINDS[slug]
        record = kind.model.objects.filter(patient=self.patient).first()
        posted = data.draw(submissions(kind.model, RECORD_DATA[slug]))
        posted["version"] = data.draw(versions)
        before = record_counts()
        url = reverse("registry:record_update", args=[self.patient.pk, slug, record.pk])
        response = self.client.post(url, posted)
        self.assertNoServerErrorAndNothingPartial(response, before, posted)
        record.refresh_from_db()
        if response.status_code in (200, 400):
            self.assertEqual(record.version, 1)
        else:
            record.full_clean()

    @FUZZ
    @given(data=st.data())
    def test_patient_edit_form_never_fails_with_a_server_error(self, data):
        valid = {
            k.removeprefix("patient-"): v
            for k, v in new_patient_data().items()
            if k.startswith("patient-")
        }
        posted = data.draw(submissions(PatientForm._meta.model, valid))
        posted["version"] = data.draw(versions)
        url = reverse("registry:patient_update", args=[self.patient.pk])
        response = self.client.post(url, posted)
        self.assertAnswered(response, posted)
        self.patient.refresh_from_db()
        if response.status_code == 302:
            self.patient.full_clean()

    @FUZZ
    @given(version=versions, slug=st.sampled_from(["radiation", "followup"]))
    def test_delete_forms_never_fail_with_a_server_error(self, version, slug):
        record = RECORD_KINDS[slug].model.objects.get(patient=self.patient)
        url = reverse("registry:record_delete", args=[self.patient.pk, slug, record.pk])
        posted = {"version": version, "reason": "fuzz"}
        response = self.client.post(url, posted)
        self.assertAnswered(response, posted)
        deleted = not RECORD_KINDS[slug].model.objects.filter(pk=record.pk).exists()
        self.assertEqual(deleted, response.status_code == 302)

    @FUZZ
    @given(mrn=text, extra=st.dictionaries(text, text, max_size=3))
    def test_mrn_search_never_fails_with_a_server_error(self, mrn, extra):
        posted = {**extra, "mrn": mrn}
        response = self.client.post(reverse("registry:patient_list"), posted)
        self.assertAnswered(response, posted)
