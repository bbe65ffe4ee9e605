"""Repeated failed logins lock that account from that address (django-axes)."""

import datetime

from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from tests.cast import CastTestCase

WRONG = {"username": "nina", "password": "not her password"}
RIGHT = {"username": "nina", "password": "correct horse battery staple"}


class LoginLockoutTests(CastTestCase):
    def fail_logins(
        self, times: int, url: str = "/accounts/login/", ip: str = "10.1.1.1"
    ):
        for _ in range(times):
            response = self.client.post(url, WRONG, REMOTE_ADDR=ip)
        return response

    def test_four_failures_still_allow_the_right_password(self):
        self.fail_logins(4)
        response = self.client.post("/accounts/login/", RIGHT, REMOTE_ADDR="10.1.1.1")
        self.assertEqual(response.status_code, 302)

    def test_the_fifth_failure_locks_and_says_when_to_try_again(self):
        with self.assertLogs("axes", level="WARNING") as logs:
            response = self.fail_logins(5)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "Try again in 15 minutes", status_code=429)
        self.assertIn("after repeated login failures", " ".join(logs.output))
        response = self.client.post("/accounts/login/", RIGHT, REMOTE_ADDR="10.1.1.1")
        self.assertEqual(response.status_code, 429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_admin_login_counts_and_is_locked_too(self):
        self.fail_logins(3, url="/admin/login/")
        self.fail_logins(2)
        response = self.client.post("/admin/login/", RIGHT, REMOTE_ADDR="10.1.1.1")
        self.assertEqual(response.status_code, 429)

    def test_the_lock_is_for_that_user_from_that_address_only(self):
        self.fail_logins(5)
        other_address = self.client.post(
            "/accounts/login/", RIGHT, REMOTE_ADDR="10.2.2.2"
        )
        self.assertEqual(other_address.status_code, 302)
        self.client.logout()
        other_user = self.client.post(
            "/accounts/login/",
            {"username": "sam", "password": "correct horse battery staple"},
            REMOTE_ADDR="10.1.1.1",
        )
        self.assertEqual(other_user.status_code, 302)

    def test_the_lock_ends_fifteen_minutes_after_the_last_failure(self):
        self.fail_logins(5)
        AccessAttempt.objects.update(
            attempt_time=timezone.now() - datetime.timedelta(minutes=16)
        )
        response = self.client.post("/accounts/login/", RIGHT, REMOTE_ADDR="10.1.1.1")
        self.assertEqual(response.status_code, 302)

    def test_a_failure_during_the_lock_starts_the_wait_again(self):
        self.fail_logins(5)
        AccessAttempt.objects.update(
            attempt_time=timezone.now() - datetime.timedelta(minutes=10)
        )
        response = self.fail_logins(1)  # ten minutes into the lock
        self.assertEqual(response.status_code, 429)
        # the lock now ends fifteen minutes after this failure, not five
        last = AccessAttempt.objects.get(username="nina").attempt_time
        self.assertLess(timezone.now() - last, datetime.timedelta(minutes=1))

    def test_a_data_manager_unlocks_from_the_admin(self):
        self.fail_logins(5)
        attempt = AccessAttempt.objects.get(username="nina")
        manager = self.client_class()
        manager.force_login(self.mark)
        delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
        self.assertEqual(manager.post(delete, {"post": "yes"}).status_code, 302)
        response = self.client.post("/accounts/login/", RIGHT, REMOTE_ADDR="10.1.1.1")
        self.assertEqual(response.status_code, 302)


@override_settings(AXES_CLIENT_IP_CALLABLE="registry.lockout.client_address")
class BehindAProxyTests(CastTestCase):
    """DJANGO_PROXY_FORWARDS_FOR: every login comes from the proxy's address, the
    client's in the header the proxy appends to. An audit noted that the lock
    was then by the proxy's address: anyone could lock a user out everywhere."""

    def login(self, data, *, client_sent="", proxy_saw="203.0.113.7"):
        forwarded = f"{client_sent}, {proxy_saw}" if client_sent else proxy_saw
        return self.client.post(
            "/accounts/login/",
            data,
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    def test_a_lock_is_for_the_client_not_for_everyone_behind_the_proxy(self):
        for _ in range(5):
            response = self.login(WRONG)
        self.assertEqual(response.status_code, 429)
        self.assertEqual(self.login(RIGHT).status_code, 429)
        # a forged entry before the proxy's own changes nothing
        self.assertEqual(self.login(RIGHT, client_sent="198.51.100.1").status_code, 429)
        self.assertEqual(self.login(RIGHT, proxy_saw="198.51.100.2").status_code, 302)
