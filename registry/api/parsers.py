"""The API's JSON parser: REST framework's, with two more refusals."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from registry.nulls import HOLDS_NUL, null_characters


class JSONParser(parsers.JSONParser):
    """REST framework's JSON parser, answering with a 400, as it answers any
    other JSON it cannot take:

    - JSON nested deeper than Python parses (``[[[[…``: a RecursionError,
      which REST framework does not catch);
    - a text or key holding a NUL character anywhere in the body, which would
      reach the database as it is (a site code, a registry number looked up)
      and fail there. Forms and query strings are refused the same way by
      registry.middleware.refuse_null_characters.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if nul := null_characters(data, whole="the body"):
            raise ParseError(f"{nul[0]}: {HOLDS_NUL}, which no field may hold")
        return data
