"""Accounts: password change and reset, session limits, two-factor login."""

import datetime
import re
from unittest import mock

from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry import accounts
from registry.middleware import LAST_ACTIVITY_KEY
from tests.cast import CastTestCase

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a quite different passphrase 2026"


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """Return the code the user's app shows now (or `steps_ahead` periods on)."""
    device.refresh_from_db()
    value = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0,
        digits=device.digits,
        drift=device.drift + steps_ahead,
    )
    return f"{value:0{device.digits}d}"


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    """Give `user` a confirmed authenticator app and backup codes; return both."""
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    return device, accounts.new_backup_codes(user)


def is_verified(client) -> bool:
    """Return True when the client's session is verified with a second factor."""
    return client.get(reverse("two_factor")).wsgi_request.user.is_verified()


class PasswordChangeTests(CastTestCase):
    def setUp(self):
        self.client.force_login(self.nina)

    def test_header_links_to_password_change_and_two_factor(self):
        response = self.client.get(reverse("registry:home"))
        self.assertContains(response, f'href="{reverse("password_change")}"')
        self.assertContains(response, f'href="{reverse("two_factor")}"')

    def test_password_change_needs_the_old_password(self):
        response = self.client.post(
            reverse("password_change"),
            {
                "old_password": "not my password",
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Your old password was entered incorrectly")
        self.nina.refresh_from_db()
        self.assertTrue(self.nina.check_password(PASSWORD))

    def test_password_change_sets_the_new_password_and_keeps_the_user_logged_in(self):
        response = self.client.post(
            reverse("password_change"),
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        self.assertRedirects(response, reverse("password_change_done"))
        self.nina.refresh_from_db()
        self.assertTrue(self.nina.check_password(NEW_PASSWORD))
        self.assertEqual(self.client.get(reverse("registry:home")).status_code, 200)


class PasswordResetTests(CastTestCase):
    def setUp(self):
        self.nina.email = "nina@north.example"
        self.nina.save()

    def test_login_page_links_to_password_reset(self):
        response = self.client.get(reverse("login"))
        self.assertContains(response, f'href="{reverse("password_reset")}"')
        self.assertContains(response, "Forgot your password?")

    def test_reset_pages_are_reachable_anonymously(self):
        confirm = reverse("password_reset_confirm", args=["MQ", "bad-token"])
        for url in (
            reverse("password_reset"),
            reverse("password_reset_done"),
            confirm,
            reverse("password_reset_complete"),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 200)
        self.assertContains(self.client.get(confirm), "This link does not work")

    def test_reset_mails_a_link_that_sets_the_new_password(self):
        response = self.client.post(
            reverse("password_reset"), {"email": "NINA@north.example"}
        )
        self.assertRedirects(response, reverse("password_reset_done"))
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["nina@north.example"])
        self.assertEqual(message.subject, "Reset your CRC registry password")
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body)

        form_page = self.client.get(link.group(1), follow=True)
        self.assertContains(form_page, "Choose a new password")
        response = self.client.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        self.assertRedirects(response, reverse("password_reset_complete"))
        self.nina.refresh_from_db()
        self.assertTrue(self.nina.check_password(NEW_PASSWORD))

    def test_reset_link_works_only_once(self):
        self.client.post(reverse("password_reset"), {"email": "nina@north.example"})
        link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
        form_page = self.client.get(link, follow=True)
        passwords = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        self.client.post(form_page.redirect_chain[-1][0], passwords)
        again = self.client.get(link, follow=True)
        self.assertContains(again, "This link does not work")

    def test_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(self):
        known = self.client.post(
            reverse("password_reset"), {"email": "nina@north.example"}
        )
        unknown = self.client.post(
            reverse("password_reset"), {"email": "nobody@north.example"}
        )
        self.assertEqual(
            (unknown.status_code, unknown["Location"]),
            (known.status_code, known["Location"]),
        )
        self.assertEqual(len(mail.outbox), 1)


class SessionLimitTests(CastTestCase):
    def setUp(self):
        self.log_in(self.client)

    def log_in(self, client):
        response = client.post(
            reverse("login"), {"username": "nina", "password": PASSWORD}
        )
        self.assertEqual(response.status_code, 302)

    def idle_for(self, seconds: int) -> None:
        session = self.client.session
        session[LAST_ACTIVITY_KEY] = int(timezone.now().timestamp()) - seconds
        session.save()

    def test_login_records_the_activity_time(self):
        stamp = self.client.session[LAST_ACTIVITY_KEY]
        self.assertAlmostEqual(stamp, timezone.now().timestamp(), delta=5)

    def test_a_session_idle_for_longer_than_allowed_is_logged_out(self):
        self.idle_for(settings.SESSION_IDLE_SECONDS + 5)
        response = self.client.get(reverse("registry:patient_list"), follow=True)
        first_hop = response.redirect_chain[0][0]
        self.assertEqual(
            first_hop,
            f"{reverse('login')}?next={reverse('registry:patient_list')}",
        )
        self.assertContains(
            response, "You were logged out after 30 minutes without activity"
        )
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_a_session_idle_for_less_than_allowed_stays_logged_in(self):
        self.idle_for(settings.SESSION_IDLE_SECONDS - 5)
        response = self.client.get(reverse("registry:home"))
        self.assertEqual(response.status_code, 200)

    def test_a_request_restarts_the_idle_clock(self):
        self.idle_for(settings.SESSION_IDLE_SECONDS - 5)
        self.client.get(reverse("registry:home"))
        stamp = self.client.session[LAST_ACTIVITY_KEY]
        self.assertAlmostEqual(stamp, timezone.now().timestamp(), delta=5)

    @override_settings(SESSION_IDLE_SECONDS=5 * 60)
    def test_the_message_names_the_configured_idle_time(self):
        self.idle_for(6 * 60)
        response = self.client.get(reverse("registry:home"), follow=True)
        self.assertContains(response, "after 5 minutes without activity")

    @override_settings(SESSION_COOKIE_AGE=2 * 3600)
    def test_a_busy_session_still_ends_at_the_hard_limit(self):
        client = self.client_class()
        start = timezone.now()
        with mock.patch("django.utils.timezone.now") as now:
            now.return_value = start
            self.log_in(client)
            # A request every 20 minutes: never idle, and each one saves the
            # session (which would move a sliding expiry on).
            for minutes in range(20, 120, 20):
                now.return_value = start + datetime.timedelta(minutes=minutes)
                response = client.get(reverse("password_change"))
                self.assertEqual(response.status_code, 200, minutes)
            now.return_value = start + datetime.timedelta(minutes=121)
            response = client.get(reverse("password_change"))
        self.assertRedirects(
            response,
            f"{reverse('login')}?next={reverse('password_change')}",
            fetch_redirect_response=False,
        )


class TwoFactorTests(CastTestCase):
    """Enrolment and the two-factor page."""

    def setUp(self):
        self.client.force_login(self.nina)

    def test_setup_page_shows_a_locally_drawn_qr_code_and_the_key(self):
        response = self.client.get(reverse("two_factor"))
        device = TOTPDevice.objects.get(user=self.nina, confirmed=False)
        self.assertContains(response, 'src="data:image/svg+xml')
        self.assertContains(response, accounts.spaced_secret(device))
        self.assertNotRegex(response.content.decode(), r'<img[^>]+src="(https?:)?//')

    def test_reloading_the_setup_page_keeps_the_key(self):
        self.client.get(reverse("two_factor"))
        self.client.get(reverse("two_factor"))
        self.assertEqual(TOTPDevice.objects.filter(user=self.nina).count(), 1)

    def test_enrolment_with_a_right_code_turns_it_on_and_shows_backup_codes(self):
        self.client.get(reverse("two_factor"))
        device = TOTPDevice.objects.get(user=self.nina)
        response = self.client.post(reverse("two_factor"), {"code": totp_code(device)})
        self.assertTemplateUsed(response, "accounts/backup_codes.html")
        codes = response.context["codes"]
        self.assertEqual(len(codes), accounts.BACKUP_CODE_COUNT)
        for code in codes:
            self.assertContains(response, code)
        device.refresh_from_db()
        self.assertTrue(device.confirmed)
        self.assertTrue(is_verified(self.client))

    def test_enrolment_with_a_wrong_code_leaves_it_off(self):
        self.client.get(reverse("two_factor"))
        response = self.client.post(reverse("two_factor"), {"code": "000000"})
        self.assertContains(response, "That code does not match")
        self.assertFalse(accounts.has_two_factor(self.nina))

    def test_regenerating_backup_codes_replaces_the_old_ones(self):
        device, old_codes = enrol(self.nina)
        response = self.client.post(
            reverse("two_factor"),
            {"action": "regenerate", "regenerate-code": totp_code(device)},
        )
        new_codes = response.context["codes"]
        stored = set(StaticToken.objects.values_list("token", flat=True))
        self.assertEqual(stored, set(new_codes))
        self.assertFalse(stored & set(old_codes))

    def test_turning_it_off_needs_a_current_code(self):
        enrol(self.nina)
        response = self.client.post(
            reverse("two_factor"), {"action": "disable", "disable-code": "123456"}
        )
        self.assertContains(response, accounts.CODE_WRONG)
        self.assertTrue(accounts.has_two_factor(self.nina))

    def test_turning_it_off_with_a_backup_code_removes_every_device(self):
        _, codes = enrol(self.nina)
        response = self.client.post(
            reverse("two_factor"), {"action": "disable", "disable-code": codes[0]}
        )
        self.assertRedirects(
            response, reverse("two_factor"), fetch_redirect_response=False
        )
        self.assertFalse(TOTPDevice.objects.filter(user=self.nina).exists())
        self.assertFalse(StaticDevice.objects.filter(user=self.nina).exists())

    def test_status_page_counts_the_backup_codes_left(self):
        enrol(self.nina)
        response = self.client.get(reverse("two_factor"))
        self.assertEqual(response.context["backup_codes_left"], 10)
        self.assertContains(response, "Turn off two-factor login")


@override_settings(OTP_TOTP_THROTTLE_FACTOR=0, OTP_STATIC_THROTTLE_FACTOR=0)
class TwoFactorLoginTests(CastTestCase):
    """The registry's login page with two-factor login set up."""

    def setUp(self):
        self.device, self.codes = enrol(self.nina)

    def log_in(self, code: str = "", username: str = "nina", url: str = ""):
        data = {"username": username, "password": PASSWORD, "otp_token": code}
        if url:
            data["next"] = reverse("admin:index")  # as the admin's form posts
        return self.client.post(url or reverse("login"), data)

    def assertLoggedIn(self, response, url=None):
        self.assertRedirects(
            response,
            url or reverse("registry:home"),
            fetch_redirect_response=False,
        )
        self.assertTrue(is_verified(self.client))

    def assertRefused(self, response, message):
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, message)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_login_page_asks_for_the_code(self):
        response = self.client.get(reverse("login"))
        self.assertContains(response, 'name="otp_token"')
        self.assertContains(response, "Only if you have set up two-factor login")

    def test_login_without_a_code_is_refused(self):
        self.assertRefused(self.log_in(), "This account uses two-factor login")

    def test_login_with_a_wrong_code_is_refused(self):
        self.assertRefused(self.log_in("123456"), accounts.CODE_WRONG)

    def test_login_with_the_app_code_is_accepted_and_verified(self):
        self.assertLoggedIn(self.log_in(totp_code(self.device)))

    def test_login_with_a_right_code_after_a_wrong_one_is_accepted(self):
        self.log_in("123456")
        self.assertLoggedIn(self.log_in(totp_code(self.device)))

    def test_a_backup_code_works_once(self):
        self.assertLoggedIn(self.log_in(self.codes[0].upper()))
        self.client.logout()
        self.assertRefused(self.log_in(self.codes[0]), accounts.CODE_WRONG)
        self.assertEqual(StaticToken.objects.count(), len(self.codes) - 1)

    def test_a_wrong_password_is_refused_before_the_code_is_asked_for(self):
        response = self.client.post(
            reverse("login"),
            {"username": "nina", "password": "wrong", "otp_token": ""},
        )
        self.assertContains(response, "Please enter a correct username and password")
        self.assertNotContains(response, "This account uses two-factor login")

    def test_another_users_code_is_refused(self):
        other, _ = enrol(self.sam)
        self.assertRefused(self.log_in(totp_code(other)), accounts.CODE_WRONG)

    def test_a_user_without_two_factor_logs_in_with_the_password_alone(self):
        response = self.log_in(username="sam")
        self.assertRedirects(
            response, reverse("registry:home"), fetch_redirect_response=False
        )

    def test_a_wrong_code_counts_as_a_failed_login(self):
        self.log_in("123456")
        attempt = AccessAttempt.objects.get(username="nina")
        self.assertEqual(attempt.failures_since_start, 1)
        self.assertNotIn("123456", attempt.post_data)

    def test_wrong_codes_lock_the_account_like_wrong_passwords(self):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.log_in("123456")
        response = self.log_in(totp_code(self.device))
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "Too many failed logins", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_admin_login_also_requires_the_code(self):
        device, _ = enrol(self.mark)
        admin_login = reverse("admin:login")
        response = self.log_in(username="mark", url=admin_login)
        self.assertRefused(response, "This account uses two-factor login")
        self.assertContains(response, 'name="otp_token"')
        response = self.log_in(totp_code(device), username="mark", url=admin_login)
        self.assertLoggedIn(response, reverse("admin:index"))

    def test_a_wrong_admin_code_counts_as_a_failed_login(self):
        enrol(self.mark)
        self.log_in("123456", username="mark", url=reverse("admin:login"))
        attempt = AccessAttempt.objects.get(username="mark")
        self.assertEqual(attempt.failures_since_start, 1)


@override_settings(REQUIRE_2FA=True)
class RequireTwoFactorTests(CastTestCase):
    def test_unverified_staff_are_sent_to_set_up_two_factor(self):
        self.client.force_login(self.mark)
        for url in (reverse("registry:home"), reverse("admin:index")):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertRedirects(response, reverse("two_factor"))

    def test_unverified_staff_can_still_reach_the_setup_page_logout_and_static(self):
        self.client.force_login(self.mark)
        self.assertEqual(self.client.get(reverse("two_factor")).status_code, 200)
        css = self.client.get(settings.STATIC_URL + "css/registry.css")
        self.assertEqual(css.status_code, 200)
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("login"))

    def test_staff_with_a_device_but_an_unverified_session_verify_with_a_code(self):
        device, _ = enrol(self.mark)
        self.client.force_login(self.mark)
        self.assertRedirects(self.client.get("/"), reverse("two_factor"))
        self.client.post(
            reverse("two_factor"),
            {"action": "verify", "verify-code": totp_code(device)},
        )
        self.assertEqual(self.client.get("/").status_code, 200)

    @override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
    def test_staff_logged_in_with_a_code_are_let_through(self):
        device, _ = enrol(self.mark)
        self.client.post(
            reverse("login"),
            {"username": "mark", "password": PASSWORD, "otp_token": totp_code(device)},
        )
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)

    def test_users_who_are_not_staff_are_not_held(self):
        self.client.force_login(self.nina)
        self.assertEqual(self.client.get("/").status_code, 200)

    @override_settings(REQUIRE_2FA=False)
    def test_staff_are_not_held_when_it_is_not_required(self):
        self.client.force_login(self.mark)
        self.assertEqual(self.client.get("/").status_code, 200)
