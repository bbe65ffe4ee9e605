"""Specification limits where a specification comes in: the builder, saving a
result and the ``report`` command refuse with the specification's messages."""

import json
import tempfile

from django.core.management import CommandError, call_command
from django.urls import reverse

from analytics.models import SavedReport
from analytics.spec import MAX_COVARIATES, MAX_JSON_CHARS, MAX_JSON_DEPTH, MAX_TIMES
from tests.cast import CastTestCase

QUERY = {
    "group_by": "strategy",
    "endpoint": "os",
    "index": "diagnosis",
    "time_unit": "months",
    "times": "12, 24",
    "conf_type": "log-log",
    "conf_level": "0.95",
}
DEEP = "[" * 5_000 + "]" * 5_000


class BuilderLimitTests(CastTestCase):
    def setUp(self):
        self.client.force_login(self.ann)

    def field_errors(self, **changes) -> dict:
        response = self.client.get(
            reverse("analytics:report_result"), {**QUERY, **changes}
        )
        self.assertEqual(response.status_code, 400)
        return response.context["form"].errors

    def test_ten_thousand_times_are_refused_at_the_field_with_the_limit(self):
        times = ", ".join(str(t) for t in range(1, 10_001))
        errors = self.field_errors(times=times)
        self.assertEqual(errors["times"], [f"at most {MAX_TIMES} times (got 10000)"])

    def test_a_title_longer_than_a_saved_report_name_is_refused_at_the_field(self):
        errors = self.field_errors(name="x" * 201)
        self.assertEqual(errors["name"], ["at most 200 characters (got 201)"])

    def test_too_many_covariates_are_refused_at_the_field(self):
        covariates = ["age", "charlson", "cea", "lesions", "largest_mm", "sex"]
        covariates += ["ecog", "asa_class", "grade", "kras", "mmr"]
        errors = self.field_errors(covariates=covariates)
        self.assertEqual(
            errors["covariates"],
            [f"at most {MAX_COVARIATES} fields (got {len(covariates)})"],
        )


class SaveLimitTests(CastTestCase):
    def setUp(self):
        self.client.force_login(self.ann)

    def save(self, spec: str) -> list[str]:
        response = self.client.post(
            reverse("analytics:report_save"), {"name": "Big", "spec": spec}
        )
        self.assertRedirects(response, reverse("analytics:report_list"))
        self.assertFalse(SavedReport.objects.exists())
        return [str(m) for m in response.wsgi_request._messages]

    def test_deeply_nested_specification_is_refused_with_a_message(self):
        self.assertEqual(
            self.save(DEEP),
            [
                "The report could not be saved: the specification is nested too "
                f"deeply: 5000 levels (at most {MAX_JSON_DEPTH})"
            ],
        )

    def test_a_thousand_times_are_refused_with_the_limit(self):
        [message] = self.save(json.dumps({"times": list(range(1, 1_001))}))
        self.assertIn(f"times: at most {MAX_TIMES} times (got 1000)", message)

    def test_specification_larger_than_the_limit_is_refused(self):
        [message] = self.save(json.dumps({"name": "x" * MAX_JSON_CHARS}))
        self.assertIn("the specification is too large", message)


class ReportCommandLimitTests(CastTestCase):
    def run_with(self, text: str) -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            spec.write(text)
        with self.assertRaises(CommandError) as caught:
            call_command("report", "--spec", spec.name)
        return str(caught.exception)

    def test_deeply_nested_spec_file_is_refused_with_a_message(self):
        self.assertIn(
            f"nested too deeply: 5000 levels (at most {MAX_JSON_DEPTH})",
            self.run_with(DEEP),
        )

    def test_spec_file_larger_than_the_limit_is_refused(self):
        message = self.run_with(json.dumps({"name": "x" * 10 * MAX_JSON_CHARS}))
        self.assertIn(
            f"the specification is too large: {MAX_JSON_CHARS + 1:,} characters",
            message,
        )
