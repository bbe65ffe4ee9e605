"""The API's JSON parser: REST framework's, with one more refusal."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """REST framework's JSON parser, answering JSON nested deeper than Python
    parses (``[[[[…``: a RecursionError, which REST framework does not catch)
    with a 400, as it answers any other JSON it cannot parse."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
