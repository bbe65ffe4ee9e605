"""Production headers: CSP, HSTS and HTTPS, no caching of patient data."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase, override_settings
from django.urls import reverse

from tests.cast import CastTestCase
from tests.factories import make_full_patient

ROOT = Path(__file__).resolve().parents[2]

#: The production environment the README's Security section documents.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "registry.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://registry.example.org",
    "DJANGO_SECURE_COOKIES": "1",
    "DJANGO_SSL_REDIRECT": "1",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_HSTS_PRELOAD": "1",
    "DJANGO_BEHIND_HTTPS_PROXY": "1",
    "DJANGO_PROXY_FORWARDS_FOR": "1",
}

# Inline code a strict Content-Security-Policy blocks: a <script> with a body,
# a <style> element, a style="..." attribute, an on...="..." handler.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>\s*\S|<style\b|\sstyle=|\son[a-z]+=", re.I
)


class DeployCheckTests(SimpleTestCase):
    def run_check(self, **env) -> subprocess.CompletedProcess:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "REGISTRY_"))
        }
        environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
        environ.update(env)
        return subprocess.run(
            [
                sys.executable,
                "manage.py",
                "check",
                "--deploy",
                "--fail-level",
                "WARNING",
            ],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_deploy_check_passes_with_the_documented_production_environment(self):
        result = self.run_check(**PRODUCTION_ENV)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("no issues", result.stdout)

    def test_deploy_check_fails_without_https_settings(self):
        result = self.run_check(DJANGO_ALLOWED_HOSTS="registry.example.org")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SECURE_HSTS_SECONDS", result.stdout + result.stderr)


class HeaderTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_full_patient(site=cls.north)

    def test_every_page_has_a_strict_content_security_policy(self):
        for url in ("/accounts/login/", "/admin/login/"):
            with self.subTest(url=url):
                policy = self.client.get(url)["Content-Security-Policy"]
                self.assertIn("default-src 'self'", policy)
                self.assertIn("script-src 'self'", policy)
                self.assertIn("style-src 'self'", policy)
                self.assertIn("frame-ancestors 'none'", policy)
                self.assertNotIn("unsafe-inline", policy)
                self.assertNotIn("unsafe-eval", policy)

    def test_pages_with_patient_data_are_never_cached(self):
        self.client.force_login(self.nina)
        for url in (
            reverse("registry:patient_list"),
            reverse("registry:patient_detail", args=[self.patient.pk]),
            reverse("registry:data_quality"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertIn("no-store", response["Cache-Control"])

    def test_admin_pages_are_never_cached(self):
        self.client.force_login(self.mark)
        url = reverse("admin:registry_patient_change", args=[self.patient.pk])
        self.assertIn("no-store", self.client.get(url)["Cache-Control"])

    @override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_SSL_REDIRECT=True)
    def test_https_is_enforced_when_configured(self):
        plain = self.client.get("/accounts/login/")
        self.assertEqual(plain.status_code, 301)
        self.assertTrue(plain["Location"].startswith("https://"))
        secure = self.client.get("/accounts/login/", secure=True)
        self.assertIn("max-age=31536000", secure["Strict-Transport-Security"])

    def test_frames_and_sniffing_are_refused(self):
        response = self.client.get("/accounts/login/")
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")


class NothingInlineTests(SimpleTestCase):
    def test_no_template_of_the_registry_needs_unsafe_inline(self):
        for path in sorted((ROOT / "templates").rglob("*.html")):
            with self.subTest(template=str(path.relative_to(ROOT))):
                match = INLINE.search(path.read_text())
                self.assertIsNone(match, match and match.group(0))
