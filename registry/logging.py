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


# PostgreSQL's DETAIL lines quote the offending values: "Key (site_id, mrn)=(1,
# H123) already exists", "Failing row contains (..., H123, 1950-05-17, ...)".
_KEY_VALUES = re.compile(
    r"(Key \([^)\n]*\))=\((?s:.*?)\)"  # a value may hold a line break
    r"(?=\s+(?:already exists|is not present|is still referenced|conflicts with)"
    r"|\.?\s*$)",
    re.MULTILINE,
)
_FAILING_ROW = re.compile(
    r"(Failing row contains )\((?s:.*?)\)(?=\.?\s*$)", re.MULTILINE
)
REDACTED = "[redacted]"


def redact_database_detail(text: str) -> str:
    """Return `text` with the values quoted by database errors redacted.

    The constraint and column names stay, so the log still says what failed.
    """
    text = _KEY_VALUES.sub(rf"\1=({REDACTED})", text)
    return _FAILING_ROW.sub(rf"\1({REDACTED})", text)


class RedactDatabaseDetailFilter(logging.Filter):
    """Remove the values database errors quote (an MRN, a date of birth) from
    log records: from the message, its arguments and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            # Format the traceback now, redacted; formatters reuse exc_text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_database_detail(record.exc_text)
        record.msg = redact_database_detail(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_database_detail(str(arg))
                if isinstance(arg, str | Exception)
                else arg
                for arg in record.args
            )
        return True
