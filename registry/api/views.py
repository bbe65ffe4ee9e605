"""API views: patients and each kind of record, read and written as the pages do.

Reads go through the pages' scoped querysets (``Patient.objects.for_user``,
``selectors.patient_rows``), so another site's patient is 404 as on the pages;
permissions are the model permissions of the user's group; writes go through
``registry.services`` (model validation, the version check, one transaction),
and the change history records the request's user.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, permissions, serializers, status, viewsets

from registry import monitor, selectors, services, summaries
from registry import status as form_status
from registry.api.serializers import RECORD_SERIALIZERS, PatientSerializer
from registry.filters import PatientFilter, _sites
from registry.forms import RECORD_KINDS, RecordKind
from registry.models import Patient, RecordStatus, Site
from registry.selectors import latest_deletion


class ModelPermissions(permissions.DjangoModelPermissions):
    """The group's model permissions, reading included (view_<model>)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = (
        "Send the version of the record you read: in the version field or an "
        'If-Match header (If-Match: "3"), so a newer change is never overwritten.'
    )
    default_code = "version_required"


class Locked(exceptions.APIException):
    """The record's kind is locked for the patient (registry.status)."""

    status_code = 423
    default_code = "locked"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "deleted"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "stale"

    def __init__(self, detail: dict):
        super().__init__()
        self.detail = detail  # as given: the version stays a number


VERSION_PARAMETER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The version read, quoted (e.g. "3"); or send the version field '
    "(or ?version= for a deletion).",
)


DELETE_PARAMETERS = [
    VERSION_PARAMETER,
    OpenApiParameter("version", OpenApiTypes.INT, description="The version read."),
    OpenApiParameter(
        "reason",
        OpenApiTypes.STR,
        description="Why (kept in the history): every deletion needs one.",
    ),
]


def _detail(name: str):
    return inline_serializer(name, fields={"detail": serializers.CharField()})


#: The refusals of a change or a deletion, as the README's API section gives them.
REFUSALS = {
    400: OpenApiResponse(
        description="The model's refusal at each field: {field: [messages]} "
        "(also a version the record never had, at version; a deletion's "
        "missing reason, at reason)."
    ),
    409: OpenApiResponse(
        inline_serializer(
            "Conflict",
            fields={
                "detail": serializers.CharField(),
                "current_version": serializers.IntegerField(),
                "changes": serializers.ListField(child=serializers.CharField()),
            },
        ),
        description="Saved by someone since the version read: nothing is saved.",
    ),
    410: OpenApiResponse(
        _detail("Deleted"), description="Deleted since read: by whom, and when."
    ),
    423: OpenApiResponse(
        _detail("Locked"), description="The patient's kind of record is locked."
    ),
    428: OpenApiResponse(_detail("VersionRequired"), description="No version sent."),
}


def write_schemas(serializer) -> dict:
    """Return extend_schema_view's arguments: the version, and the refusals."""
    return {
        "update": extend_schema(
            parameters=[VERSION_PARAMETER], responses={200: serializer, **REFUSALS}
        ),
        "partial_update": extend_schema(
            parameters=[VERSION_PARAMETER], responses={200: serializer, **REFUSALS}
        ),
        "destroy": extend_schema(
            parameters=DELETE_PARAMETERS, responses={204: None, **REFUSALS}
        ),
    }


def _refusal(error: ValidationError) -> exceptions.APIException:
    """Return the model layer's refusal: 423 for a lock, else a 400 naming each
    field. The messages are the model layer's, as the pages show them."""
    found = (
        [e for errors in error.error_dict.values() for e in errors]
        if hasattr(error, "error_dict")
        else error.error_list
    )
    locked = [m for e in found if e.code == "locked" for m in e.messages]
    if locked:
        return Locked({"detail": " ".join(locked)})
    if hasattr(error, "error_dict"):
        detail = {
            "non_field_errors" if field == NON_FIELD_ERRORS else field: messages
            for field, messages in error.message_dict.items()
        }
    else:
        detail = {"non_field_errors": error.messages}
    return exceptions.ValidationError(detail)


def refuse_if_locked(record) -> None:
    """Refuse (423) a write to a locked kind before reading the body.

    The model refuses the save anyway (registry.status.check_write, the same
    message); asking first means a locked record answers 423 whatever the body
    holds, rather than a 400 about fields that could not be saved either way.
    Other refusals of check_write (a verified record's missing reason) wait for
    the save, where the reason sent is known.
    """
    try:
        form_status.check_write(record)
    except ValidationError as error:
        refusal = _refusal(error)
        if isinstance(refusal, Locked):
            raise refusal from None


class VersionedViewSet(viewsets.ModelViewSet):
    """Create, update and delete through registry.services, never over a newer
    version; the loaded version comes with the request."""

    permission_classes = [ModelPermissions]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = f'"{response.data["version"]}"'
        return response

    def get_object(self):
        """Return the record; 410, saying who deleted it and when, if it was
        deleted where the user may see it."""
        try:
            record = super().get_object()
        except Http404:
            deletion = self._deletion()
            if deletion is None:
                raise
            what = self.get_queryset().model._meta.verbose_name
            raise Gone(f"This {what} was {deletion.describe()}.") from None
        if self.action in ("update", "partial_update"):
            refuse_if_locked(record)
        return record

    def deletions(self, pk: int):
        """Return the history rows of the record `pk`'s deletion, where the
        user may see it (the subclass's scope)."""
        raise NotImplementedError

    def _deletion(self):
        """Return the deletion of the record asked for, if the user may see it."""
        try:
            pk = int(self.kwargs["pk"])
        except (KeyError, ValueError):
            return None
        return latest_deletion(self.deletions(pk))

    def perform_create(self, serializer):
        values = dict(serializer.validated_data)
        values.pop("reason", None)
        record = serializer.Meta.model(**values)
        try:
            serializer.instance = self.create_record(record)
        except ValidationError as error:
            raise _refusal(error) from None

    def create_record(self, record):
        return services.add_record(record=record)

    def perform_update(self, serializer):
        record = serializer.instance
        loaded = self._loaded_version(serializer.validated_data.get("version"))
        for name, value in serializer.validated_data.items():
            if name not in ("version", "reason"):
                setattr(record, name, value)
        try:
            services.update_record(
                record=record,
                loaded_version=loaded,
                reason=serializer.validated_data.get("reason", ""),
            )
        except services.StaleEdit as stale:
            raise self._stale(stale, "Not saved", record) from None
        except ValidationError as error:
            raise _refusal(error) from None

    def perform_destroy(self, instance):
        loaded = self._loaded_version(self.request.query_params.get("version"))
        reason = self.request.query_params.get("reason", "")
        if len(reason) > 100:  # as a body's reason is refused, not cut short
            raise exceptions.ValidationError(
                {"reason": [f"At most 100 characters (got {len(reason)})."]}
            )
        try:
            services.delete_record(
                record=instance, loaded_version=loaded, reason=reason
            )
        except services.StaleEdit as stale:
            raise self._stale(stale, "Not deleted", instance) from None
        except ValidationError as error:
            raise _refusal(error) from None

    def _loaded_version(self, sent) -> int:
        """Return the version the client read: If-Match, else the field or query."""
        header = self.request.headers.get("If-Match", "").strip().strip('"')
        value = header or sent
        if value in (None, ""):
            raise PreconditionRequired
        try:
            version = int(value)
        except (TypeError, ValueError):
            version = 0
        if version < 1:  # the versions of a record count from 1
            raise exceptions.ValidationError(
                {"version": [f"Not a version number: {str(value)[:20]!r}."]}
            )
        return version

    def _stale(
        self, stale: services.StaleEdit, verb: str, record
    ) -> Conflict | exceptions.ValidationError:
        """Return the refusal of a stale edit, saying what changed and by whom.

        A version the record never had is no conflict with another user: the
        client sent a wrong one, and is told so.
        """
        if stale.never_written:
            return exceptions.ValidationError(
                {
                    "version": [
                        f"{verb}: this {record._meta.verbose_name} has no version "
                        f"{stale.loaded_version}; it is at version "
                        f"{stale.current_version}. Read it again and send the "
                        "version you read."
                    ]
                }
            )
        hidden = frozenset()
        if not self.request.user.has_perm("registry.view_identifiers"):
            hidden = frozenset(Patient.IDENTIFIER_FIELDS)
        changes = [change.describe(hidden=hidden) for change in stale.changes]
        name = record._meta.verbose_name
        message = (
            f"{verb}: this {name} was changed after you read version "
            f"{stale.loaded_version} — {'; '.join(changes) or 'by someone else'}. "
            "Read it again and decide before sending your change."
        )
        return Conflict(
            {
                "detail": message,
                "current_version": stale.current_version,
                "changes": changes,
            }
        )


# --- patients -----------------------------------------------------------------


class ApiPatientFilter(PatientFilter):
    """The patient list's filters, with the site given by its code."""

    site = django_filters.ModelChoiceFilter(
        queryset=_sites, to_field_name="code", label="Site code"
    )
    # any year, not only the years the user's patients were diagnosed in (the
    # page's list): a year without diagnoses is an empty list, not a 400
    diagnosis_year = django_filters.NumberFilter(
        label="Year of diagnosis (YYYY)",
        field_name="tumour__diagnosis_date",
        lookup_expr="year",
        min_value=1,
        max_value=9999,
        decimal_places=0,
    )

    def set_placeholder(self) -> None:
        """No example registry number: the page's search box is not drawn here."""


def with_form_status(patients: models.QuerySet) -> models.QuerySet:
    """Return `patients` with their form status rows, read in one query."""
    return patients.prefetch_related(
        models.Prefetch(
            "form_statuses",
            queryset=RecordStatus.objects.only("pk", "patient_id", "kind", "status"),
        )
    )


@extend_schema_view(**write_schemas(PatientSerializer))
class PatientViewSet(VersionedViewSet):
    """Patients of the user's sites, with their stored derived facts."""

    serializer_class = PatientSerializer
    filterset_class = ApiPatientFilter
    queryset = Patient.objects.none()  # for the permissions and the schema

    def deletions(self, pk: int):
        """A patient deleted while at one of the user's sites."""
        sites = Site.objects.for_user(self.request.user).values("pk")
        return Patient.history.filter(id=pk, history_type="-", site_id__in=sites)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Patient.objects.none()  # the schema's generator
        patients = Patient.objects.for_user(self.request.user)
        if self.action == "list":
            # the filters run on the plain queryset; the columns join afterwards
            return patients.order_by("registry_number")
        if self.action == "retrieve":
            return with_form_status(selectors.patient_rows(patients))
        return selectors.patient_rows(patients)

    def kept_count(self) -> int:
        """Return how many patients the user's sites have (Pagination)."""
        scope = summaries.Scope(self.request.user)
        return sum(row["n"] for row in monitor.kept_patients_by_site(scope))

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        ids = [patient.pk for patient in page]
        rows = with_form_status(
            selectors.patient_rows(Patient.objects.filter(pk__in=ids))
        )
        by_id = {row.pk: row for row in rows}
        return [by_id[pk] for pk in ids]

    def create(self, request, *args, **kwargs):
        # As the new-patient page: the MRN and date of birth are asked for (the
        # age at diagnosis only when the birth date is not known), so only users
        # who may see identifiers register patients.
        if not request.user.has_perm("registry.view_identifiers"):
            raise exceptions.PermissionDenied(
                "Registering a patient needs the permission to see identifiers."
            )
        return super().create(request, *args, **kwargs)

    def create_record(self, record):
        return services.create_patient(patient=record, tumour=None)

    def perform_create(self, serializer):
        super().perform_create(serializer)
        serializer.instance = self._with_facts(serializer.instance.pk)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        serializer.instance = self._with_facts(serializer.instance.pk)

    def _with_facts(self, pk: int) -> Patient:
        """Return the saved patient read again, with the refreshed stored facts."""
        return with_form_status(
            selectors.patient_rows(Patient.objects.filter(pk=pk))
        ).get()


# --- records of every kind ----------------------------------------------------


def record_filterset(kind: RecordKind) -> type[django_filters.FilterSet]:
    """Return the filters of one kind's list: patient, site, codes and dates."""
    attrs: dict = {
        "registry_number": django_filters.CharFilter(
            field_name="patient__registry_number", label="Patient's registry number"
        ),
        "site": django_filters.CharFilter(
            field_name="patient__site__code", label="Site code"
        ),
    }
    for name in kind.form_class.Meta.fields:
        field = kind.model._meta.get_field(name)
        if field.choices:
            attrs[name] = django_filters.ChoiceFilter(
                field_name=name, choices=field.choices
            )
        elif isinstance(field, models.DateField):
            attrs[f"{name}_from"] = django_filters.DateFilter(
                field_name=name, lookup_expr="gte", label=f"{name} on or after"
            )
            attrs[f"{name}_to"] = django_filters.DateFilter(
                field_name=name, lookup_expr="lte", label=f"{name} on or before"
            )
        elif isinstance(field, models.BooleanField):
            attrs[name] = django_filters.BooleanFilter(field_name=name)
    attrs["Meta"] = type("Meta", (), {"model": kind.model, "fields": []})
    return type(f"{kind.model.__name__}Filter", (django_filters.FilterSet,), attrs)


class RecordViewSet(VersionedViewSet):
    """One kind of record, of the patients of the user's sites."""

    kind: RecordKind

    def create(self, request, *args, **kwargs):
        # a locked kind refuses the addition (423) before the body is checked
        number = request.data.get("registry_number") if _is_dict(request.data) else None
        if isinstance(number, str):
            patient_id = (
                Patient.objects.for_user(request.user)
                .filter(registry_number=number)
                .values_list("pk", flat=True)
                .first()
            )
            if patient_id is not None:
                refuse_if_locked(self.kind.model(patient_id=patient_id))
        return super().create(request, *args, **kwargs)

    def deletions(self, pk: int):
        """A record of a patient at the user's sites."""
        patients = Patient.objects.for_user(self.request.user).values("pk")
        return self.kind.model.history.filter(
            id=pk, history_type="-", patient_id__in=patients
        )

    def kept_count(self) -> int:
        """Return how many records of this kind the user's sites have
        (Pagination)."""
        scope = summaries.Scope(self.request.user)
        return sum(monitor.kept_records_by_site(scope, self.kind.model).values())

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.kind.model._default_manager.none()  # the schema's generator
        patients = Patient.objects.for_user(self.request.user)
        return (
            self.kind.model._default_manager.filter(patient__in=patients)
            .select_related("patient")
            .order_by("pk")
        )


def _is_dict(data) -> bool:
    return hasattr(data, "get") and not isinstance(data, (str, bytes))


def record_viewset(kind: RecordKind) -> type[RecordViewSet]:
    """Return the viewset of one kind of record."""
    name = str(kind.model._meta.verbose_name_plural)
    return extend_schema_view(
        list=extend_schema(summary=f"List {name}"),
        **write_schemas(RECORD_SERIALIZERS[kind.slug]),
    )(
        type(
            f"{kind.model.__name__}ViewSet",
            (RecordViewSet,),
            {
                "kind": kind,
                "queryset": kind.model._default_manager.none(),
                "serializer_class": RECORD_SERIALIZERS[kind.slug],
                "filterset_class": record_filterset(kind),
                "__doc__": f"The {name} of the patients of the user's sites.",
                "__module__": __name__,
            },
        )
    )


#: The URL of each kind's collection, e.g. /api/v1/operations/.
RECORD_PATHS = {
    "tumour": "tumours",
    "liver": "liver-metastases",
    "radiation": "radiation-courses",
    "systemic": "systemic-lines",
    "operation": "operations",
    "followup": "follow-ups",
    "death": "deaths",
}
RECORD_VIEWSETS = {slug: record_viewset(kind) for slug, kind in RECORD_KINDS.items()}
