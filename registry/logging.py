"""Logging filters that keep identifiers out of log files."""

import logging
import re

# "GET /patients/?q=MRN123 HTTP/1.1" -> "GET /patients/?[redacted] HTTP/1.1"
_QUERY = re.compile(r"\?[^\s\"']*")


class RedactQueryStringFilter(logging.Filter):
    """Remove query strings from log records: a search may hold an MRN."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _QUERY.sub("?[redacted]", str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(
                _QUERY.sub("?[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True
