"""The data dictionary and the import, through the API.

The same modules as the pages and the command: ``registry.dictionary`` for the
variables (the names the patients' and records' endpoints use too) and
``registry.importer.run_import`` for the import, so a dry run lists the same
problems, by file, row, column and value, and a commit writes all or nothing
with "import of FILE by USER" in each history row.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import dictionary, importer
from registry.models import Site


class EntrySerializer(serializers.Serializer):
    """One variable of the data dictionary."""

    name = serializers.CharField()
    record_kind = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    unit = serializers.CharField()
    codes = serializers.DictField(child=serializers.CharField())
    missing_codes = serializers.DictField(child=serializers.CharField())
    required = serializers.BooleanField()
    identifier = serializers.BooleanField()
    free_text = serializers.BooleanField()
    validation = serializers.CharField()


class DictionaryApi(APIView):
    """Every variable of the registry, generated from the models."""

    @extend_schema(summary="The data dictionary", responses=EntrySerializer(many=True))
    def get(self, request):
        return Response([entry.to_dict() for entry in dictionary.entries()])


class CanImport(permissions.BasePermission):
    message = "Importing needs the import permission (data managers)."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("registry.import_records")


class ImportRequestSerializer(serializers.Serializer):
    site = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Site.objects.none(),
        help_text="The code of the site the patients belong to (one of yours).",
    )
    files = serializers.ListField(
        child=serializers.FileField(),
        allow_empty=False,
        help_text="One .xlsx workbook, one .zip of CSV files, or CSV files named "
        "after their record kind (README, Import and export).",
    )
    commit = serializers.BooleanField(
        default=False,
        help_text="false (default): a dry run that lists every problem and writes "
        "nothing; true: write everything, if there is no problem.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["site"].queryset = Site.objects.for_user(request.user)


ImportResultSerializer = inline_serializer(
    "ImportResult",
    {
        "ok": serializers.BooleanField(),
        "committed": serializers.BooleanField(),
        "patients": serializers.IntegerField(),
        "rows": serializers.IntegerField(),
        "counts": serializers.DictField(
            child=serializers.DictField(child=serializers.IntegerField())
        ),
        "problems": serializers.ListField(child=serializers.DictField()),
        "messages": serializers.ListField(child=serializers.CharField()),
    },
)


class ImportApi(APIView):
    """Check import files (dry run) or import them (commit), all or nothing."""

    permission_classes = [permissions.IsAuthenticated, CanImport]
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        summary="Import records from files",
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(
                ImportResultSerializer,
                description="Problems found: every one listed; nothing written.",
            ),
        },
    )
    def post(self, request):
        form = ImportRequestSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        uploads = form.validated_data["files"]
        result = importer.run_import(
            [(upload.name, upload.read()) for upload in uploads],
            site=form.validated_data["site"],
            user=request.user,
            commit=form.validated_data["commit"],
            file_name=", ".join(upload.name for upload in uploads),
        )
        body = {**result.to_dict(), "messages": [str(p) for p in result.problems]}
        code = status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST
        return Response(body, status=code)
