"""Report downloads are logged: who downloaded what, when."""

from __future__ import annotations

from django.urls import reverse

from analytics.models import ReportDownload
from tests.cast import CastTestCase
from tests.factories import make_full_patient
from tests.registry.test_access_matrix import REPORT_QUERY, _run


class DownloadLogTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        for _ in range(3):
            make_full_patient(site=cls.north)

    def test_a_download_of_a_report_is_logged_with_who_what_and_when(self):
        self.client.force_login(self.mark)
        url = reverse("analytics:report_download", args=["json"]) + "?" + REPORT_QUERY
        self.assertEqual(self.client.get(url).status_code, 200)
        download = ReportDownload.objects.get()
        self.assertEqual(download.downloaded_by, self.mark)
        self.assertEqual(download.fmt, "json")
        self.assertIn("group_by=sex", download.what)
        self.assertIsNotNone(download.downloaded_at)

    def test_a_download_of_a_stored_run_names_the_run(self):
        from analytics.models import SavedReport

        saved = SavedReport.objects.create(name="S", spec={}, owner=self.mark)
        run = _run(saved, self.mark, [self.north])
        self.client.force_login(self.mark)
        url = reverse("analytics:report_run_download", args=[run.pk, "csv"])
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(ReportDownload.objects.get().run, run)

    def test_a_refused_download_logs_nothing(self):
        self.client.force_login(self.mark)
        url = reverse("analytics:report_download", args=["json"]) + "?group_by=nope"
        self.assertEqual(self.client.get(url).status_code, 400)
        self.assertFalse(ReportDownload.objects.exists())
