"""Settings come from the environment; a bad value stops start-up, naming it."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase

from registry import settings

ROOT = Path(__file__).resolve().parents[2]


class EnvironmentHelperTests(SimpleTestCase):
    def setUp(self):
        self.saved = dict(os.environ)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)

    def test_boolean_accepts_the_usual_spellings(self):
        for raw, expected in (("1", True), ("TRUE", True), ("off", False), ("", False)):
            os.environ["X_FLAG"] = raw
            self.assertIs(settings.env_bool("X_FLAG", not expected), expected)

    def test_malformed_boolean_names_the_variable(self):
        os.environ["DJANGO_DEBUG"] = "maybe"
        with self.assertRaisesMessage(ImproperlyConfigured, "DJANGO_DEBUG='maybe'"):
            settings.env_bool("DJANGO_DEBUG", False)

    def test_unknown_time_zone_names_the_variable(self):
        os.environ["DJANGO_TIME_ZONE"] = "Mars/Olympus"
        with self.assertRaisesMessage(ImproperlyConfigured, "DJANGO_TIME_ZONE"):
            settings.env_time_zone("DJANGO_TIME_ZONE", "UTC")

    def test_malformed_integer_names_the_variable(self):
        os.environ["DJANGO_SESSION_HOURS"] = "ten"
        with self.assertRaisesMessage(ImproperlyConfigured, "DJANGO_SESSION_HOURS"):
            settings.env_int("DJANGO_SESSION_HOURS", 10)

    def test_api_rate_is_requests_per_period(self):
        os.environ["REGISTRY_API_RATE"] = "120/hour"
        self.assertEqual(
            settings.env_rate("REGISTRY_API_RATE", "600/minute"), "120/hour"
        )
        for bad in ("lots", "0/minute", "10/fortnight", "-5/second"):
            os.environ["REGISTRY_API_RATE"] = bad
            with (
                self.subTest(bad=bad),
                self.assertRaisesMessage(
                    ImproperlyConfigured, f"REGISTRY_API_RATE={bad!r}"
                ),
            ):
                settings.env_rate("REGISTRY_API_RATE", "600/minute")

    def test_database_url_of_an_unsupported_engine_is_refused(self):
        os.environ["DATABASE_URL"] = "mysql://root@localhost/registry"
        with self.assertRaisesMessage(
            ImproperlyConfigured, "DATABASE_URL names the engine"
        ):
            settings.env_database("DATABASE_URL", "sqlite:///x.db")

    def test_garbage_database_url_is_refused(self):
        os.environ["DATABASE_URL"] = "not a url"
        with self.assertRaisesMessage(ImproperlyConfigured, "DATABASE_URL"):
            settings.env_database("DATABASE_URL", "sqlite:///x.db")

    def test_postgres_url_selects_psycopg_with_atomic_requests(self):
        os.environ["DATABASE_URL"] = "postgres://registry@db.example:5432/crc"
        config = settings.env_database("DATABASE_URL", "sqlite:///x.db")
        self.assertEqual(config["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual((config["HOST"], config["NAME"]), ("db.example", "crc"))
        self.assertTrue(config["ATOMIC_REQUESTS"])

    def test_postgres_sorts_in_memory_up_to_database_work_mem(self):
        os.environ["DATABASE_URL"] = "postgres://registry@db.example:5432/crc"
        os.environ.pop("DATABASE_WORK_MEM", None)
        config = settings.env_database("DATABASE_URL", "sqlite:///x.db")
        self.assertIn("-c work_mem=32MB", config["OPTIONS"]["options"])
        os.environ["DATABASE_WORK_MEM"] = "lots"
        with self.assertRaisesMessage(ImproperlyConfigured, "DATABASE_WORK_MEM='lots'"):
            settings.env_database("DATABASE_URL", "sqlite:///x.db")

    def test_allowed_hosts_split_on_commas(self):
        os.environ["DJANGO_ALLOWED_HOSTS"] = "registry.example.org, 10.0.0.5 ,"
        self.assertEqual(
            settings.env_list("DJANGO_ALLOWED_HOSTS", []),
            ["registry.example.org", "10.0.0.5"],
        )

    def test_mail_goes_to_the_console_without_a_mail_url(self):
        os.environ.pop("DJANGO_EMAIL_URL", None)
        self.assertEqual(
            settings.env_email("DJANGO_EMAIL_URL")["EMAIL_BACKEND"],
            "django.core.mail.backends.console.EmailBackend",
        )

    def test_mail_url_names_server_account_and_tls(self):
        os.environ["DJANGO_EMAIL_URL"] = (
            "smtp://reg%40trust.org:s%3Acret@mail.trust.org:587"
        )
        config = settings.env_email("DJANGO_EMAIL_URL")
        self.assertEqual(
            config["EMAIL_BACKEND"], "django.core.mail.backends.smtp.EmailBackend"
        )
        self.assertEqual(
            (config["EMAIL_HOST"], config["EMAIL_PORT"], config["EMAIL_USE_TLS"]),
            ("mail.trust.org", 587, True),
        )
        self.assertEqual(
            (config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]),
            ("reg@trust.org", "s:cret"),
        )

    def test_malformed_mail_url_names_the_variable(self):
        for raw in ("mail.trust.org", "http://mail.trust.org", "smtp://host:port"):
            os.environ["DJANGO_EMAIL_URL"] = raw
            with self.subTest(raw=raw):
                with self.assertRaisesMessage(ImproperlyConfigured, "DJANGO_EMAIL_URL"):
                    settings.env_email("DJANGO_EMAIL_URL")


class StartupTests(SimpleTestCase):
    def run_command(self, *command, **env):
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")
        }
        environment.pop("DATABASE_URL", None)
        # Never the developer's var/secret_key: each test says which key it has.
        environment["DJANGO_SECRET_KEY_FILE"] = os.devnull
        environment.update(env)
        return subprocess.run(
            [sys.executable, *command],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run_check(self, **env):
        return self.run_command("manage.py", "check", **env)

    def test_commands_that_sign_nothing_run_without_a_secret_key(self):
        result = self.run_command("manage.py", "makemigrations", "--check", "--dry-run")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("No changes detected", result.stdout)

    def test_serving_without_a_secret_key_stops_with_a_message(self):
        for command in (
            ("-c", "import registry.wsgi"),
            ("-c", "import registry.asgi"),
            ("manage.py", "runserver", "--noreload", "127.0.0.1:0"),
        ):
            with self.subTest(command=command):
                result = self.run_command(*command)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("DJANGO_SECRET_KEY must be set", result.stderr)

    def test_the_key_file_supplies_the_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".key") as key:
            key.write("from-the-file\n")
            key.flush()
            result = self.run_command(
                "-c",
                "import registry.wsgi; from django.conf import settings; "
                "print(settings.SECRET_KEY)",
                DJANGO_SECRET_KEY_FILE=key.name,
            )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "from-the-file")

    def test_a_key_file_that_is_not_there_stops_start_up_naming_it(self):
        result = self.run_check(DJANGO_SECRET_KEY_FILE="/nowhere/secret_key")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(
            "DJANGO_SECRET_KEY_FILE='/nowhere/secret_key': there is no such file",
            result.stderr,
        )

    def test_start_up_with_a_bad_debug_value_names_the_variable(self):
        result = self.run_check(DJANGO_SECRET_KEY="k", DJANGO_DEBUG="sometimes")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_DEBUG='sometimes' is not a boolean", result.stderr)

    def test_start_up_with_good_settings_passes_the_checks(self):
        result = self.run_check(DJANGO_SECRET_KEY="k", DJANGO_TIME_ZONE="Europe/London")
        self.assertEqual(result.returncode, 0, result.stderr)
