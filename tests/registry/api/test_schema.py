"""The OpenAPI schema and its documentation page, served by the registry itself."""

from __future__ import annotations

import io
import re

from django.core.management import call_command
from django.urls import reverse

from tests.cast import CastTestCase


class SchemaTests(CastTestCase):
    def test_schema_generates_and_validates_without_warnings(self):
        out = io.StringIO()
        call_command(
            "spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=out
        )
        schema = out.getvalue()
        for path in (
            "/api/v1/patients/",
            "/api/v1/operations/{id}/",
            "/api/v1/reports/",
        ):
            self.assertIn(path, schema)
        self.assertIn("scheme: bearer", schema)

    def test_schema_says_what_the_api_does(self):
        # Found by an audit: no refusal documented, a cursor's page invalid
        # against the list schema (count required), the year filter a "date"
        from drf_spectacular.generators import SchemaGenerator

        schema = SchemaGenerator().get_schema(request=None, public=True)
        record = schema["paths"]["/api/v1/operations/{id}/"]
        patient = schema["paths"]["/api/v1/patients/{id}/"]
        for operation in (record, patient):
            for method, success in (("patch", "200"), ("delete", "204")):
                with self.subTest(method=method):
                    documented = set(operation[method]["responses"])
                    self.assertLessEqual(
                        {success, "400", "409", "410", "423", "428"}, documented
                    )
        listed = schema["components"]["schemas"]["PaginatedFollowUpList"]
        self.assertNotIn("count", listed["required"])
        (year,) = [
            p
            for p in schema["paths"]["/api/v1/patients/"]["get"]["parameters"]
            if p["name"] == "diagnosis_year"
        ]
        self.assertNotEqual(year["schema"].get("format"), "date")

    def test_schema_is_served_to_logged_in_users(self):
        self.client.force_login(self.ann)
        response = self.client.get(reverse("api:schema"))
        self.assertEqual(response.status_code, 200)
        self.assertIn(b"openapi:", response.content)


class DocsPageTests(CastTestCase):
    def test_docs_page_loads_only_local_static_files(self):
        self.client.force_login(self.nina)
        response = self.client.get(reverse("api:docs"))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        references = re.findall(r'(?:src|href)="([^"]+)"', html)
        self.assertTrue(any("swagger-ui-bundle.js" in r for r in references), html)
        for reference in references:
            with self.subTest(reference=reference):
                self.assertTrue(
                    reference.startswith("/static/") or reference.startswith("/api/"),
                    reference,
                )
        self.assertNotIn("<style", html)
        self.assertNotRegex(html, r"<script>(?!</script>)")

    def test_docs_static_files_are_served(self):
        self.client.force_login(self.nina)
        html = self.client.get(reverse("api:docs")).content.decode()
        for reference in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            with self.subTest(reference=reference):
                response = self.client.get(reference)
                self.assertEqual(response.status_code, 200)

    def test_docs_init_script_is_a_separate_file(self):
        self.client.force_login(self.nina)
        response = self.client.get(reverse("api:docs") + "?script=")
        self.assertEqual(response.status_code, 200)
        self.assertIn("javascript", response["Content-Type"])
        self.assertIn(b"SwaggerUIBundle", response.content)


class BrowsableApiTests(CastTestCase):
    """The API's own pages, for a browser session (REST framework's templates)."""

    def test_pages_open_with_the_session_and_load_only_local_files(self):
        from tests.factories import make_full_patient

        patient = make_full_patient(site=self.north)
        self.client.force_login(self.nina)
        for url in (
            reverse("api:patient-list"),
            reverse("api:patient-detail", args=[patient.pk]),
            reverse("api:operation-list"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_ACCEPT="text/html")
                self.assertEqual(response.status_code, 200)
                self.assertIn("text/html", response["Content-Type"])
                html = response.content.decode()
                self.assertIn(patient.registry_number, html)
                for reference in re.findall(r'(?:src|href)="(https?:[^"]+)"', html):
                    self.assertTrue(
                        reference.startswith("http://testserver/"), reference
                    )
