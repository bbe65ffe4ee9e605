"""The reports' API endpoint: POST a specification, get the report's JSON.

The same specification as the ``report`` command and the report pages
(analytics.spec), run by the same ``run_report`` for the requesting user, so
their sites and the minimum cell rule apply; the answer is the JSON the command
prints, byte for byte. A specification that cannot be run answers 400 with the
command's ``{"errors": [...]}``, each message naming the field.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, parsers, permissions, status
from rest_framework.views import APIView

from analytics.spec import MAX_JSON_CHARS, InvalidSpec, ReportSpec, parse_json

app_name = "analytics_api"


class SpecParser(parsers.BaseParser):
    """A JSON body read within the specification's limits (size, depth)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # one character more than the limit is enough to refuse it
        raw = stream.read(4 * (MAX_JSON_CHARS + 1)) if stream else b""
        try:
            return parse_json(raw)
        except InvalidSpec as exc:
            raise exceptions.ParseError({"errors": exc.errors}) from None


class CanRunReports(permissions.BasePermission):
    message = "Running reports needs the permission to run reports (analysts)."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("analytics.run_report")


def _errors(messages: list[str], code: int = status.HTTP_400_BAD_REQUEST):
    from analytics import export  # pandas: only when a report is answered

    return HttpResponse(
        export.to_json({"errors": messages}),
        status=code,
        content_type="application/json",
    )


class ReportApi(APIView):
    """Run an outcome report from a specification."""

    permission_classes = [permissions.IsAuthenticated, CanRunReports]
    parser_classes = [SpecParser]

    @extend_schema(
        summary="Run a report",
        description=(
            "The body is a report specification (README, Reports); the answer "
            "is the JSON that `manage.py report --format json` prints. Cohorts "
            "and groups under the minimum cell size are refused or masked for "
            "users who may not see identifiers."
        ),
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The report."),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"errors": [...]}: what is wrong, and where.',
            ),
            415: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='{"errors": [...]}: a body not sent as application/json.',
            ),
        },
        examples=[
            OpenApiExample(
                "Overall survival by resection strategy",
                value={"group_by": "strategy", "endpoint": "os", "times": [12, 24]},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        # the statistics libraries load when a report is run, not with the URLs
        from analytics import export
        from analytics.reports import ReportError, run_report

        sent = int(request.META.get("CONTENT_LENGTH") or 0)
        media_type = (request.content_type or "").split(";")[0].strip()
        if sent and media_type != SpecParser.media_type:
            # a form's fields are no specification: read as none, the default
            # report would come back for a study nobody asked for
            return _errors(
                [
                    f"the specification is sent as {SpecParser.media_type}, "
                    f"not {media_type or 'without a content type'}"
                ],
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            data = request.data
        except exceptions.ParseError as exc:
            return _errors(exc.detail["errors"])
        try:
            spec = ReportSpec.from_dict(data).with_as_of(timezone.localdate())
            report = run_report(spec, user=request.user)
        except (InvalidSpec, ReportError) as exc:
            return _errors(exc.errors)
        result = export.result_json(report)
        return HttpResponse(export.to_json(result), content_type="application/json")


urlpatterns = [
    path("reports/", login_not_required(ReportApi.as_view()), name="report_run"),
]
