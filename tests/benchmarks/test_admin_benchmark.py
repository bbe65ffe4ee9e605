"""The admin benchmark asks every admin list of the registry's records, and they
answer (benchmarks/admin_benchmark.py)."""

from django.contrib import admin

from benchmarks import admin_benchmark
from tests.cast import CastTestCase
from tests.factories import make_full_patient


class AdminBenchmarkTests(CastTestCase):
    def test_every_registry_list_is_measured_and_answers(self):
        patient = make_full_patient(site=self.north)
        urls = admin_benchmark.admin_urls(patient.registry_number)
        lists = {
            model._meta.model_name
            for model in admin.site._registry
            if model._meta.app_label == "registry"
        }
        for name in lists:
            self.assertIn(f"/admin/registry/{name}/", urls)
        rows = admin_benchmark.measure(self.mark, urls, repeats=1)
        self.assertEqual([row["url"] for row in rows], urls)
        for row in rows:
            with self.subTest(url=row["url"]):
                self.assertEqual(row["status"], 200)
                self.assertGreater(row["queries"], 0)
                self.assertGreater(row["first_ms"], 0)

    def test_an_unknown_user_is_a_message_not_a_traceback(self):
        # Found by an audit: User.DoesNotExist, a traceback, for --user nobody
        from unittest import mock

        from benchmarks import transfer_benchmark

        make_full_patient(site=self.north)
        for benchmark in (admin_benchmark, transfer_benchmark):
            with self.subTest(benchmark=benchmark.__name__):
                argv = [benchmark.__file__, "--user", "nobody"]
                with (
                    mock.patch("sys.argv", argv),
                    mock.patch("benchmarks.django_setup.setup_django"),
                    self.assertRaises(SystemExit) as stopped,
                ):
                    benchmark.main()
                self.assertIn("no user called 'nobody'", str(stopped.exception))
