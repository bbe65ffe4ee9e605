"""API tokens: made on the user's page (shown once), hashed, revoked, throttled."""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from registry.api import tokens
from registry.models import ApiToken, Operation
from registry.models.tokens import hash_key
from tests.cast import CastTestCase
from tests.factories import make_full_patient


class ApiTokensPageTests(CastTestCase):
    def setUp(self):
        cache.clear()
        self.client.force_login(self.nina)

    def make(self, name="R scripts", lifetime="90"):
        return self.client.post(
            reverse("api_tokens"), {"name": name, "lifetime": lifetime}
        )

    def test_new_token_is_shown_once_and_stored_only_hashed(self):
        response = self.make()
        key = response.context["key"]
        self.assertContains(response, key)
        token = ApiToken.objects.get(user=self.nina)
        self.assertEqual(token.key_hash, hash_key(key))
        self.assertEqual(token.prefix, key[:8])
        self.assertNotIn(key, str(ApiToken.objects.values().get()))
        self.assertNotContains(self.client.get(reverse("api_tokens")), key)

    def test_token_expires_after_the_chosen_lifetime_or_never(self):
        self.make(lifetime="30")
        self.make(name="sync", lifetime="")
        thirty, never = ApiToken.objects.order_by("created_at")
        expected = timezone.now() + datetime.timedelta(days=30)
        self.assertAlmostEqual(
            thirty.expires_at, expected, delta=datetime.timedelta(minutes=1)
        )
        self.assertIsNone(never.expires_at)

    def test_page_gives_dates_as_iso_8601_as_every_page_does(self):
        # Found by an audit: "30 Nov 2026, 13:20", where the README says the
        # pages give dates as YYYY-MM-DD everywhere.
        self.make(lifetime="90")
        token = ApiToken.objects.get(user=self.nina)
        page = self.client.get(reverse("api_tokens"))
        made = timezone.localtime(token.created_at)
        self.assertContains(page, made.strftime("%Y-%m-%d %H:%M"))
        self.assertContains(
            page, timezone.localtime(token.expires_at).date().isoformat()
        )
        self.assertNotContains(page, made.strftime("%b %Y"))

    def test_page_lists_only_own_tokens_by_name(self):
        tokens.create_token(user=self.sam, name="Sam's sync")
        self.make(name="Nina's scripts")
        page = self.client.get(reverse("api_tokens"))
        self.assertContains(page, "Nina&#x27;s scripts")
        self.assertNotContains(page, "Sam&#x27;s sync")

    def test_revoked_token_stops_working(self):
        key = self.make().context["key"]
        token = ApiToken.objects.get()
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.assertEqual(api.get(reverse("api:patient-list")).status_code, 200)
        response = self.client.post(reverse("api_token_revoke", args=[token.pk]))
        self.assertRedirects(response, reverse("api_tokens"))
        self.assertEqual(api.get(reverse("api:patient-list")).status_code, 401)

    def test_another_users_token_cannot_be_revoked(self):
        token, _ = tokens.create_token(user=self.sam, name="Sam's sync")
        response = self.client.post(reverse("api_token_revoke", args=[token.pk]))
        self.assertEqual(response.status_code, 404)
        token.refresh_from_db()
        self.assertIsNone(token.revoked_at)

    @override_settings(REQUIRE_2FA=True)
    def test_staff_without_a_verified_session_cannot_make_tokens_when_required(self):
        self.client.force_login(self.mark)
        response = self.make()
        # the registry's middleware sends unverified staff to the two-factor page
        self.assertRedirects(response, reverse("two_factor"))
        self.assertFalse(ApiToken.objects.exists())

    def test_user_with_two_factor_needs_a_verified_session(self):
        TOTPDevice.objects.create(user=self.nina, name="phone", confirmed=True)
        response = self.make()
        self.assertContains(response, tokens.TWO_FACTOR_NEEDED)
        self.assertFalse(ApiToken.objects.exists())

    def test_verified_session_makes_tokens(self):
        device = TOTPDevice.objects.create(user=self.nina, name="phone", confirmed=True)
        session = self.client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
        response = self.make()
        self.assertIsNotNone(response.context["key"])
        self.assertEqual(ApiToken.objects.count(), 1)


class BearerTokenTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_full_patient(site=cls.north)

    nina_password = "correct horse battery staple"  # tests.factories.make_user's

    def setUp(self):
        cache.clear()
        self.token, self.key = tokens.create_token(user=self.nina, name="test")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")

    def test_a_new_password_revokes_the_users_tokens(self):
        # An audit noted that a token made by whoever stole a password kept
        # working after its user reset it; the sessions stop, so do tokens.
        patients = reverse("api:patient-list")
        self.assertEqual(self.client.get(patients).status_code, 200)
        self.nina.refresh_from_db()
        self.nina.set_password(self.nina_password)  # hashed again: no change
        self.nina.save()
        self.assertEqual(self.client.get(patients).status_code, 200)
        self.nina.set_password("a brand new passphrase 2026")
        self.nina.save()
        self.assertEqual(self.client.get(patients).status_code, 401)
        self.token.refresh_from_db()
        self.assertIsNotNone(self.token.revoked_at)

    def test_token_acts_as_its_user_and_records_its_use(self):
        response = self.client.get(reverse("api:patient-list"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["count"], 1)
        self.token.refresh_from_db()
        self.assertIsNotNone(self.token.last_used_at)

    def test_expired_token_is_refused(self):
        ApiToken.objects.filter(pk=self.token.pk).update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
        response = self.client.get(reverse("api:patient-list"))
        self.assertEqual(response.status_code, 401)
        self.assertIn("expired", response.json()["detail"])

    def test_token_of_a_deactivated_user_is_refused(self):
        self.nina.is_active = False
        self.nina.save()
        self.assertEqual(self.client.get(reverse("api:patient-list")).status_code, 401)

    def test_wrong_key_is_refused(self):
        self.client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
        self.assertEqual(self.client.get(reverse("api:patient-list")).status_code, 401)

    def test_write_by_token_records_the_user_in_the_history(self):
        operation = self.patient.operations.get()
        response = self.client.patch(
            reverse("api:operation-detail", args=[operation.pk]),
            {"margin": "R1", "version": operation.version},
            format="json",
        )
        self.assertEqual(response.status_code, 200, response.content)
        latest = Operation.history.filter(id=operation.pk).latest("history_date")
        self.assertEqual(latest.history_user, self.nina)
        self.assertEqual(latest.margin, "R1")

    def test_token_needs_no_csrf_token(self):
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        response = client.post(
            reverse("api:followup-list"),
            {
                "registry_number": self.patient.registry_number,
                "date": "2006-01-10",
                "contact_type": "clinic",
                "disease_status": "ned",
            },
            format="json",
        )
        self.assertEqual(response.status_code, 201, response.content)

    @override_settings(API_RATE="3/minute")
    def test_requests_over_the_rate_are_refused_with_429(self):
        url = reverse("api:patient-list")
        for _ in range(3):
            self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.get(url)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Retry-After", response)
        # counted per token: another token of the same user has its own count
        _, other_key = tokens.create_token(user=self.nina, name="other")
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
        self.assertEqual(other.get(url).status_code, 200)
