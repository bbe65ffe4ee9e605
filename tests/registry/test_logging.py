"""Identifiers searched for in a query string never reach the log."""

import io
import logging
import sys

from django.db import IntegrityError, connection, transaction
from django.test import SimpleTestCase, TestCase

from registry.logging import RedactDatabaseDetailFilter, RedactQueryStringFilter
from registry.models import Patient
from tests.factories import make_patient


class RedactQueryStringFilterTests(SimpleTestCase):
    def test_request_line_loses_its_query_string(self):
        record = logging.LogRecord(
            "django.server",
            logging.INFO,
            __file__,
            1,
            '"%s" %s %s',
            ("GET /admin/registry/patient/?q=MRN0042 HTTP/1.1", "200", "1234"),
            None,
        )
        RedactQueryStringFilter().filter(record)
        message = record.getMessage()
        self.assertNotIn("MRN0042", message)
        self.assertIn("/admin/registry/patient/?[redacted] HTTP/1.1", message)

    def test_message_without_arguments_is_redacted_too(self):
        record = logging.LogRecord(
            "django.request",
            logging.WARNING,
            __file__,
            1,
            "Not Found: /x/?mrn=123",
            None,
            None,
        )
        RedactQueryStringFilter().filter(record)
        self.assertEqual(record.getMessage(), "Not Found: /x/?[redacted]")

    def test_the_server_logger_uses_the_filter(self):
        logger = logging.getLogger("django.server")
        filters = [f for h in logger.handlers for f in h.filters]
        self.assertTrue(any(isinstance(f, RedactQueryStringFilter) for f in filters))


PG_UNIQUE = (
    'duplicate key value violates unique constraint "patient_mrn_unique_per_site"\n'
    "DETAIL:  Key (site_id, mrn)=(1, H12(3)45) already exists."
)
PG_CHECK = (
    'new row for relation "registry_patient" violates check constraint '
    '"patient_ecog_0_to_4"\n'
    "DETAIL:  Failing row contains (7, NTH-00007, H123456, 1950-05-17, F, 9)."
)


class RedactDatabaseDetailFilterTests(SimpleTestCase):
    def format(self, record: logging.LogRecord) -> str:
        RedactDatabaseDetailFilter().filter(record)
        return logging.Formatter().format(record)

    def error_record(self, exc: Exception) -> logging.LogRecord:
        try:
            raise exc
        except Exception:
            exc_info = sys.exc_info()
        return logging.LogRecord(
            "django.request",
            logging.ERROR,
            __file__,
            1,
            "Internal Server Error: %s",
            ("/patients/new/",),
            exc_info,
        )

    def test_key_values_of_a_unique_violation_leave_the_traceback(self):
        text = self.format(self.error_record(IntegrityError(PG_UNIQUE)))
        self.assertNotIn("H12(3)45", text)
        self.assertIn("Key (site_id, mrn)=([redacted]) already exists", text)
        self.assertIn("patient_mrn_unique_per_site", text)

    def test_key_values_across_a_line_break_leave_the_traceback(self):
        # an MRN stored with a line break in it (the API took one)
        error = IntegrityError(PG_UNIQUE.replace("H12(3)45", "ZQ99\n8877"))
        text = self.format(self.error_record(error))
        self.assertNotIn("8877", text)
        self.assertIn("Key (site_id, mrn)=([redacted]) already exists", text)

    def test_a_failing_row_across_a_line_break_leaves_the_traceback(self):
        error = IntegrityError(PG_CHECK.replace("H123456", "ZQ99\n8877"))
        text = self.format(self.error_record(error))
        self.assertNotIn("8877", text)
        self.assertNotIn("1950-05-17", text)
        self.assertIn("Failing row contains ([redacted])", text)

    def test_a_failing_row_leaves_the_traceback(self):
        text = self.format(self.error_record(IntegrityError(PG_CHECK)))
        self.assertNotIn("H123456", text)
        self.assertNotIn("1950-05-17", text)
        self.assertIn("Failing row contains ([redacted])", text)

    def test_an_exception_passed_as_an_argument_is_redacted(self):
        record = logging.LogRecord(
            "registry", logging.ERROR, __file__, 1, "save failed: %s", None, None
        )
        record.args = (IntegrityError(PG_UNIQUE),)
        self.assertNotIn("H12(3)45", self.format(record))

    def test_every_handler_of_the_registry_redacts(self):
        for name in ("django.request", "django.server", "axes", ""):
            # The settings' handlers; pytest adds capturing handlers of its own.
            handlers = [
                handler
                for handler in logging.getLogger(name).handlers
                if type(handler) is logging.StreamHandler
            ]
            with self.subTest(logger=name or "root"):
                self.assertTrue(handlers)
                for handler in handlers:
                    kinds = {type(f) for f in handler.filters}
                    self.assertIn(RedactDatabaseDetailFilter, kinds)


class DatabaseErrorLogTests(TestCase):
    def test_a_real_duplicate_mrn_error_logs_no_identifier(self):
        patient = make_patient(mrn="ZQ998877")
        try:
            with transaction.atomic():
                Patient.objects.bulk_create(
                    [
                        Patient(
                            site=patient.site,
                            registry_number="DUP-1",
                            mrn="ZQ998877",
                            date_of_birth=patient.date_of_birth,
                            sex="F",
                        )
                    ]
                )
        except IntegrityError:
            exc_info = sys.exc_info()
        raw = logging.Formatter().formatException(exc_info)
        if connection.vendor == "postgresql":
            self.assertIn("ZQ998877", raw)  # what the filter has to remove
        stream = io.StringIO()
        handler = logging.getLogger("django.request").handlers[0]
        old = handler.setStream(stream)
        try:
            logging.getLogger("django.request").error(
                "Internal Server Error: %s", "/patients/new/", exc_info=exc_info
            )
        finally:
            handler.setStream(old)
        self.assertIn("IntegrityError", stream.getvalue())
        self.assertNotIn("ZQ998877", stream.getvalue())
