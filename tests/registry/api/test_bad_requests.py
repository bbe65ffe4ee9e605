"""Requests no client should send are refused with a 400 or 404 saying why,
never a server error: a cursor that was never the API's, JSON nested past what
Python parses, and a NUL character, which PostgreSQL's text cannot hold."""

from __future__ import annotations

import base64

from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from tests.cast import CastTestCase
from tests.factories import make_full_patient


class BadApiRequestTests(CastTestCase):
    def setUp(self):
        cache.clear()
        self.patient = make_full_patient(site=self.north)
        self.api = APIClient()
        self.api.force_authenticate(self.nina)

    def test_a_cursor_whose_position_is_not_an_id_is_not_found(self):
        for position in (b"p=abc", b"p=1.5", b"p=", b"p=\x00", b"p=" + b"9" * 30):
            with self.subTest(position=position):
                cursor = base64.b64encode(position).decode()
                response = self.api.get(
                    reverse("api:followup-list"), {"cursor": cursor}
                )
                self.assertEqual(response.status_code, 404)
                self.assertIn("Invalid cursor", response.json()["detail"])

    def test_json_nested_past_what_python_parses_is_a_400(self):
        body = "[" * 100_000
        for method, url in (
            ("post", reverse("api:operation-list")),
            ("patch", reverse("api:patient-detail", args=[self.patient.pk])),
        ):
            with self.subTest(method=method):
                response = getattr(self.api, method)(
                    url, body, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("JSON parse error", response.json()["detail"])

    def test_a_null_character_in_a_code_or_number_is_a_400(self):
        self.api.force_authenticate(self.mark)
        cases = (
            (reverse("api:patient-list"), {"site": "N\x00TH"}, "site"),
            (
                reverse("api:followup-list"),
                {"registry_number": "NTH\x00-00001", "date": "2005-01-10"},
                "registry_number",
            ),
        )
        for url, body, field in cases:
            for how in ("json", "multipart"):
                with self.subTest(field=field, how=how):
                    response = self.api.post(url, body, format=how)
                    self.assertEqual(response.status_code, 400)
                    # refused before any view, naming the field: by the API's
                    # JSON parser, or by registry.middleware for a form
                    said = response.json()["detail"]
                    self.assertIn(field, said)
                    self.assertIn("holds a NUL character", said)


class MrnControlCharacterTests(CastTestCase):
    def test_an_mrn_with_a_line_break_or_control_character_is_refused(self):
        cache.clear()
        patient = make_full_patient(site=self.north)
        api = APIClient()
        api.force_authenticate(self.mark)
        for mrn in ("ZQ99\n8877", "ZQ99\t8877", "ZQ99\x1b8877"):
            with self.subTest(mrn=repr(mrn)):
                response = api.patch(
                    reverse("api:patient-detail", args=[patient.pk]),
                    {"mrn": mrn, "version": patient.version},
                    format="json",
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("line breaks or control characters", str(response.json()))
        patient.refresh_from_db()
        self.assertNotIn("8877", patient.mrn)
