"""Serializers of the API: the data-entry forms' fields, under the same names.

Each serializer carries exactly the fields its data-entry form edits (the
forms' ``Meta.fields``), plus the record's id, the version it was read at and,
for records, the patient's registry number. They only convert types: model
validation (``full_clean``) runs in registry.services, as for the forms, so a
refusal reads the same whichever door the data came in by.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.choices import Strategy, VitalStatus
from registry.forms import RECORD_KINDS, PatientForm, RecordKind
from registry.models import Patient, Site
from registry.models.status import FormKind, FormStatus

#: Stored derived facts shown with each patient (read only; registry.facts).
PATIENT_FACTS = ("diagnosis_date", "strategy", "vital_status", "last_contact")


class VersionedSerializer(serializers.ModelSerializer):
    """A record with the version it was read at.

    On update the version the client read is sent back (in ``version`` or an
    ``If-Match`` header); a save over a newer version is refused (409).
    """

    version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        help_text="The version read; send it back when updating (or If-Match).",
    )

    reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Why the change is made (kept in the history); needed to "
        "correct a verified record.",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["version"] = instance.version
        return data

    def build_standard_field(self, field_name, model_field):
        # REST framework turns the model's limits into its own ("Ensure this
        # value is less than or equal to 60."), checked before the model's and
        # alone: the model's full_clean says it as the forms and the import do
        # ("Fractions must be at most 60."), with the field's other messages
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        kwargs.pop("min_value", None)
        kwargs.pop("max_value", None)
        return field_class, kwargs


#: A form status as the API writes it: incomplete, complete, verified, locked.
STATUS_NAMES = {status: status.name.lower() for status in FormStatus}


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            kind: {"type": "string", "enum": list(STATUS_NAMES.values())}
            for kind in FormKind.values
        },
        "required": list(FormKind.values),
        "readOnly": True,
        "description": "The form status of each kind of record (a locked kind "
        "refuses every write with 423; a verified one needs a reason).",
    }
)
class FormStatusField(serializers.Field):
    """Each kind's form status (registry.status); a kind without a row is
    incomplete. Reads the patient's prefetched ``form_statuses``."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def to_representation(self, patient):
        found = {row.kind: row.status for row in patient.form_statuses.all()}
        return {
            kind: STATUS_NAMES[FormStatus(found.get(kind, FormStatus.INCOMPLETE))]
            for kind in FormKind.values
        }


class PatientSerializer(VersionedSerializer):
    """A patient: the fields of the patient form, the stored derived facts and
    each kind's form status.

    The MRN and date of birth are left out for users without the identifier
    permission, in what they read and what they may write; the age at diagnosis
    (given when the date of birth is not known) is not an identifier, and is
    shown as on the patient form.
    """

    site = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Site.objects.none(),
        help_text="The site's code; set when the patient is created, then fixed.",
    )
    diagnosis_date = serializers.DateField(read_only=True, allow_null=True)
    strategy = serializers.ChoiceField(
        Strategy.choices, read_only=True, allow_null=True
    )
    vital_status = serializers.ChoiceField(
        VitalStatus.choices, read_only=True, allow_null=True
    )
    last_contact = serializers.DateField(read_only=True, allow_null=True)
    form_status = FormStatusField()

    class Meta:
        model = Patient
        fields = [
            "id",
            "registry_number",
            *PatientForm.Meta.fields,
            "version",
            "reason",
            *PATIENT_FACTS,
            "form_status",
        ]
        read_only_fields = ["registry_number"]
        # The model's full_clean checks uniqueness, with the forms' message.
        validators: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return  # the schema's generator: no user, no choices
        self.fields["site"].queryset = Site.objects.for_user(user)
        if self.instance is not None and not isinstance(self.instance, list):
            # Moving a patient to another site is a data manager's job (admin).
            self.fields["site"].read_only = True
        if not user.has_perm("registry.view_identifiers"):
            for name in Patient.IDENTIFIER_FIELDS:
                self.fields.pop(name, None)


class RecordSerializer(VersionedSerializer):
    """A patient's record of one kind; the patient named by registry number."""

    registry_number = serializers.SlugRelatedField(
        source="patient",
        slug_field="registry_number",
        queryset=Patient.objects.none(),
        help_text="The patient's registry number; set when the record is "
        "created, then fixed.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self.fields["registry_number"].queryset = Patient.objects.for_user(user)
        if self.instance is not None and not isinstance(self.instance, list):
            self.fields["registry_number"].read_only = True


def record_serializer(kind: RecordKind) -> type[RecordSerializer]:
    """Return the serializer of one kind of record, from its data-entry form."""
    meta = type(
        "Meta",
        (),
        {
            "model": kind.model,
            "fields": [
                "id",
                "registry_number",
                *kind.form_class.Meta.fields,
                "version",
                "reason",
            ],
            "validators": [],
        },
    )
    name = f"{kind.model.__name__}Serializer"
    return type(name, (RecordSerializer,), {"Meta": meta, "__module__": __name__})


RECORD_SERIALIZERS = {
    slug: record_serializer(kind) for slug, kind in RECORD_KINDS.items()
}
