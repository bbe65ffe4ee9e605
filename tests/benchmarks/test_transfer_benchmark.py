"""The transfer benchmark makes every export and asks the API's pages it names,
and they answer (benchmarks/transfer_benchmark.py)."""

from benchmarks import transfer_benchmark
from registry import exporter
from tests.cast import CastTestCase
from tests.factories import make_followup, make_full_patient


class TransferBenchmarkTests(CastTestCase):
    def test_every_export_and_page_is_measured_and_answers(self):
        for _ in range(2):
            patient = make_full_patient(site=self.north)
            make_followup(patient, date="2006-02-01")
        for kind in transfer_benchmark.EXPORTS:
            for fmt in exporter.FORMATS:
                with self.subTest(kind=kind, fmt=fmt):
                    row = transfer_benchmark.export_once(kind, fmt)
                    self.assertEqual((row["patients"], row["rows"]), (2, 2 * 7 + 2))
                    self.assertGreater(row["megabytes"], 0)
                    self.assertGreater(row["peak_mb"], 0)
        pages = transfer_benchmark.api_pages(self.mark, repeats=1)
        self.assertEqual(len(pages), 5)
        for page in pages:
            with self.subTest(page=page["page"]):
                self.assertEqual(page["status"], 200)
                self.assertGreater(page["ms"], 0)
        self.assertEqual([p["rows"] for p in pages[2:4]], [4, 4])
