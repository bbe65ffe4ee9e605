"""Identifiers searched for in a query string never reach the log."""

import logging

from django.test import SimpleTestCase

from registry.logging import RedactQueryStringFilter


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
