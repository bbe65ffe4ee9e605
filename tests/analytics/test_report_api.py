"""POST /api/v1/reports/: the report command's JSON, for the requesting user."""

from __future__ import annotations

import io
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.spec import MAX_JSON_CHARS
from registry.api.tokens import create_token

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "demo-study.json"


class ReportApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())
        users = get_user_model().objects
        cls.analyst = users.get(username="analyst")
        cls.nurse = users.get(username="nurse")

    def setUp(self):
        cache.clear()
        _, key = create_token(user=self.analyst, name="R")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.url = reverse("analytics_api:report_run")

    def command(self, spec: Path, user: str) -> str:
        out = io.StringIO()
        call_command(
            "report", "--spec", str(spec), "--user", user, stdout=out, stderr=out
        )
        return out.getvalue()

    def test_answer_is_the_json_the_report_command_prints(self):
        response = self.client.post(
            self.url, EXAMPLE.read_text(), content_type="application/json"
        )
        self.assertEqual(response.status_code, 200, response.content[:500])
        self.assertEqual(response["Content-Type"], "application/json")
        printed = self.command(EXAMPLE, "analyst")
        self.assertEqual(response.content.decode(), printed.rstrip("\n"))
        self.assertEqual(json.loads(response.content)["groups"][0]["n"], 30)

    def test_minimum_cell_rule_applies_to_the_analyst(self):
        # three months of diagnoses: fewer patients than the minimum cell (5)
        spec = {
            "cohort": {"diagnosed_from": "2002-01-01", "diagnosed_to": "2002-03-31"}
        }
        response = self.client.post(self.url, spec, format="json")
        self.assertEqual(response.status_code, 400, response.content[:300])
        self.assertIn("cohort: fewer than 5 patients", response.json()["errors"][0])
        # a data manager, who may see identifiers, gets the same cohort's report
        manager = APIClient()
        manager.force_authenticate(get_user_model().objects.get(username="manager"))
        response = manager.post(self.url, spec, format="json")
        self.assertEqual(response.status_code, 200, response.content[:300])
        self.assertGreater(response.json()["cohort"]["analysed"], 0)

    def test_bad_specification_names_each_field(self):
        spec = {"group_by": "shoe_size", "endpoint": "forever", "colour": "red"}
        response = self.client.post(self.url, spec, format="json")
        self.assertEqual(response.status_code, 400)
        errors = response.json()["errors"]
        self.assertTrue(any(e.startswith("group_by:") for e in errors), errors)
        self.assertTrue(any(e.startswith("endpoint:") for e in errors), errors)
        self.assertTrue(any(e.startswith("colour:") for e in errors), errors)

    def test_body_that_is_not_json_says_where(self):
        response = self.client.post(
            self.url, '{"group_by": "sex",', content_type="application/json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("line 1, column", response.json()["errors"][0])

    def test_a_specification_sent_as_a_form_is_refused_not_defaulted(self):
        # Found by an audit: a form's fields read as no specification, and the
        # default report came back, 200, for a study nobody asked for
        response = self.client.post(
            self.url, {"group_by": "sex", "endpoint": "os"}, format="multipart"
        )
        self.assertEqual(response.status_code, 415, response.content[:300])
        self.assertIn("application/json", response.json()["errors"][0])
        response = self.client.post(
            self.url, "group_by=sex", content_type="application/x-www-form-urlencoded"
        )
        self.assertEqual(response.status_code, 415)

    def test_oversized_body_is_refused(self):
        body = json.dumps({"name": "x" * (MAX_JSON_CHARS + 10)})
        response = self.client.post(self.url, body, content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertIn("too large", response.json()["errors"][0])

    def test_nurse_may_not_run_reports(self):
        client = APIClient()
        client.force_authenticate(self.nurse)
        response = client.post(self.url, {}, format="json")
        self.assertEqual(response.status_code, 403)
