"""Data-entry forms: one ModelForm per kind of record, and the new-patient form.

Validation lives in the models (``clean()``, validators, constraints); these
forms only choose widgets, carry the version a record was loaded at, and make
sure every model-layer message lands next to the field it concerns.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q

from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)
from registry.selectors import display_value

if TYPE_CHECKING:
    from registry.services import StaleEdit

#: The largest version number a form will accept (the column is a 32-bit int).
MAX_VERSION = 2**31 - 1

#: The one date format of the registry's pages, forms and admin (ISO 8601).
DATE_HINT = "YYYY-MM-DD."


def iso_date_input() -> forms.TextInput:
    """Return a text input for a YYYY-MM-DD date.

    Not ``<input type=date>``: browsers show that in the user's locale
    (01/02/2004 is January in one country and February in the next), and the
    registry shows every date one way.
    """
    return forms.DateInput(
        format="%Y-%m-%d",
        attrs={
            "placeholder": "YYYY-MM-DD",
            "pattern": r"\d{4}-\d{2}-\d{2}",
            "inputmode": "numeric",
            "autocomplete": "off",
            "size": "10",
        },
    )


ECOG_CHOICES = [
    ("", "Not recorded"),
    (0, "0 – fully active"),
    (1, "1 – restricted in strenuous activity"),
    (2, "2 – ambulatory, capable of self-care"),
    (3, "3 – limited self-care, in bed or chair > 50%"),
    (4, "4 – completely disabled"),
]


def _constraint_fields(model: type[models.Model]) -> dict[str, list[str]]:
    """Return, for each constraint message of `model`, the fields it concerns.

    A unique constraint concerns its fields, last first (the MRN rather than the
    site); a check constraint the fields its condition names.
    """
    found: dict[str, list[str]] = {}
    for constraint in model._meta.constraints:
        message = str(constraint.violation_error_message or "")
        if isinstance(constraint, models.UniqueConstraint):
            found[message] = list(reversed(constraint.fields))
        elif isinstance(constraint, models.CheckConstraint):
            found[message] = _condition_fields(constraint.condition)
    return found


def _condition_fields(condition: Q) -> list[str]:
    names: list[str] = []
    for child in condition.children:
        if isinstance(child, Q):
            names.extend(n for n in _condition_fields(child) if n not in names)
        else:
            name = child[0].split("__")[0]
            if name not in names:
                names.append(name)
    return names


class RecordForm(forms.ModelForm):
    """A ModelForm for a clinical record, carrying the version it was loaded at."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
    )

    #: Shown, ticked, to accept the warnings of registry.derive's entry checks.
    confirm_warnings = forms.BooleanField(
        label="I confirm this is correct",
        required=False,
        widget=forms.HiddenInput,
        help_text="The data are as recorded in the notes, despite the warning "
        "above. The confirmation is kept and listed on the data quality page.",
    )
    #: The codes of the warnings the form showed (so a tick confirms only those).
    warnings_seen = forms.CharField(widget=forms.HiddenInput, required=False)

    #: Fields shown one to a row because they hold long text.
    wide_fields: tuple[str, ...] = ()
    required_css_class = "required"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: What the model's entry_warnings() needs beyond the instance (the other
        #: part of the new-patient form).
        self.warning_context: dict = {}
        #: The warnings the user confirmed, stored once the record is saved.
        self.confirmed_findings: list = []
        editing = self.instance.pk is not None
        self.fields["version"].required = editing
        self.fields["version"].error_messages["required"] = (
            "This form lost the version of the record it was opened at: "
            "open the record again."
        )
        if editing:
            self.initial["version"] = self.instance.version
        self.label_suffix = ""
        for field in self.fields.values():
            if isinstance(field, forms.TypedChoiceField):
                first = list(field.choices)[0]
                if first[0] in ("", None) and first[1] == "---------":
                    blank = "Choose…" if field.required else "Not recorded"
                    field.choices = [("", blank), *list(field.choices)[1:]]
            if isinstance(field, forms.DateField):
                field.widget = iso_date_input()
                field.help_text = " ".join(
                    part for part in (DATE_HINT, str(field.help_text or "")) if part
                )

    def _post_clean(self) -> None:
        super()._post_clean()
        if not self.errors:
            self._check_warnings()

    def _check_warnings(self) -> None:
        """Refuse the save until the user confirms registry.derive's warnings.

        A warning already confirmed for this record (stored) or ticked by the
        user after it was shown passes; any other is shown at its field with the
        "I confirm this is correct" box.
        """
        from registry.models import ConfirmedWarning

        entry_warnings = getattr(self.instance, "entry_warnings", None)
        findings = entry_warnings(**self.warning_context) if entry_warnings else []
        if not findings:
            return
        stored = set()
        if self.instance.pk is not None:
            stored = set(
                ConfirmedWarning.objects.filter(
                    record_kind=self.instance._meta.model_name,
                    record_id=self.instance.pk,
                ).values_list("code", flat=True)
            )
        seen = set(self.cleaned_data.get("warnings_seen", "").split(","))
        ticked = self.cleaned_data.get("confirm_warnings")
        unconfirmed = [
            f
            for f in findings
            if f.code not in stored and not (ticked and f.code in seen)
        ]
        if not unconfirmed:
            self.confirmed_findings = findings
            return
        for finding in unconfirmed:
            field = finding.field if finding.field in self.fields else None
            self.add_error(
                field,
                f"Warning: {finding.message} If it is correct, tick "
                "“I confirm this is correct” and save again.",
            )
        self.fields["confirm_warnings"].widget = forms.CheckboxInput()
        self.set_value("confirm_warnings", False)
        self.set_value("warnings_seen", ",".join(f.code for f in findings))

    def _update_errors(self, errors: ValidationError) -> None:
        # The model may name a field this form does not show (an identifier the
        # user may not see, the patient): such a message goes to the top of the
        # form, prefixed with the field's name, instead of crashing add_error().
        # A constraint's message goes to the field the constraint is about.
        # A field whose value could not be read shows only why: the model saw
        # it blank (or as stored), and its messages about it would contradict
        # what was typed ("Give the date of birth" beside "Enter a valid date").
        unread = set(self._errors or ()) - {NON_FIELD_ERRORS}
        placed = self._placed(errors).error_dict
        kept = {name: found for name, found in placed.items() if name not in unread}
        if kept:
            super()._update_errors(ValidationError(kept))

    def add_model_error(self, error: ValidationError) -> None:
        """Add errors raised by the model layer after validation (by a service)."""
        self.add_error(None, self._placed(error))

    def _placed(self, errors: ValidationError) -> ValidationError:
        if not hasattr(errors, "error_dict"):
            errors = ValidationError({NON_FIELD_ERRORS: errors.error_list})
        by_message = _constraint_fields(self._meta.model)
        placed: dict[str, list] = {}
        for field, messages in errors.error_dict.items():
            for error in messages:
                target = field
                if field == NON_FIELD_ERRORS:
                    for text in error.messages:
                        shown = [
                            f for f in by_message.get(text, []) if f in self.fields
                        ]
                        if shown:
                            target = shown[0]
                elif field not in self.fields:
                    label = self._meta.model._meta.get_field(field).verbose_name
                    error = ValidationError(
                        f"{str(label).capitalize()}: {' '.join(error.messages)}"
                    )
                    target = NON_FIELD_ERRORS
                placed.setdefault(target, []).append(error)
        return ValidationError(placed)

    def refuse_stale(self, stale: StaleEdit, *, hidden: frozenset[str]) -> None:
        """Explain that the record changed since it was loaded, and merge.

        Fields only the other person changed now show their value; fields both
        changed keep this user's entry, marked with the other value. The form
        then carries the current version, so saving again is a deliberate
        choice made after seeing what changed. Values of `hidden` fields (the
        identifiers a user may not see) are never shown.
        """
        changes = "; ".join(change.describe(hidden=hidden) for change in stale.changes)
        self.add_error(
            None,
            f"Not saved: this {self._meta.model._meta.verbose_name} was changed "
            f"after you opened it — {changes or 'by someone else'}. Their changes "
            "are filled in below where you had not changed the field; where you "
            "both changed a field your entry is kept and marked. Check, then save "
            "again.",
        )
        who = {
            field.name: change.who
            for change in stale.changes
            for field in change.fields
        }
        loaded, current = stale.loaded_state, stale.current_state or {}
        for name, theirs in current.items():
            if name not in self.fields:
                continue
            if loaded is not None and loaded.get(name) == theirs:
                continue  # the other person did not touch it
            mine = self.cleaned_data.get(name, theirs)
            if isinstance(mine, models.Model):
                mine = mine.pk
            if loaded is not None and mine == loaded.get(name):
                self.set_value(name, theirs)
            elif mine != theirs:
                field = self._meta.model._meta.get_field(name)
                value = (
                    "a new value" if name in hidden else display_value(field, theirs)
                )
                self.add_error(
                    name,
                    f"{who.get(name, 'Someone').capitalize()} changed this to "
                    f"{value}; your entry is kept here.",
                )
        self.set_value("version", stale.current_version)

    def set_value(self, name: str, value) -> None:
        """Show `value` in field `name` when the bound form is displayed again."""
        data = self.data.copy()
        key = self.add_prefix(name)
        if isinstance(value, bool):
            data[key] = "true" if value else "false"
        elif value is None:
            data[key] = ""
        elif isinstance(value, datetime.date):
            data[key] = value.isoformat()
        else:
            data[key] = str(value)
        self.data = data


class PatientForm(RecordForm):
    ecog = forms.TypedChoiceField(
        label="ECOG performance status",
        choices=ECOG_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        help_text="At diagnosis.",
    )

    class Meta:
        model = Patient
        fields = [
            "site",
            "mrn",
            "date_of_birth",
            "age_at_diagnosis",
            "sex",
            "ecog",
            "asa_class",
            "charlson_index",
            "presenting_symptom",
        ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            sites = Site.objects.for_user(user)
            self.fields["site"].queryset = sites
            self.fields["site"].empty_label = None
        else:
            # Moving a patient to another site is a data manager's job (admin).
            del self.fields["site"]
        if not user.has_perm("registry.view_identifiers"):
            for name in Patient.IDENTIFIER_FIELDS:
                del self.fields[name]


class PrimaryTumourForm(RecordForm):
    class Meta:
        model = PrimaryTumour
        fields = [
            "diagnosis_date",
            "primary_site",
            "anal_verge_cm",
            "histology",
            "grade",
            "clinical_t",
            "clinical_n",
            "clinical_m",
            "cea_ng_ml",
            "kras",
            "nras",
            "braf",
            "mmr",
        ]


class LiverMetastasesForm(RecordForm):
    class Meta:
        model = LiverMetastases
        fields = [
            "timing",
            "detected_date",
            "lesion_count",
            "largest_mm",
            "distribution",
            "extent",
            "extrahepatic",
            "initial_resectability",
        ]


class RadiationCourseForm(RecordForm):
    class Meta:
        model = RadiationCourse
        fields = [
            "course_type",
            "start_date",
            "end_date",
            "total_dose_gy",
            "fractions",
            "concurrent_agent",
            "completed",
        ]


class SystemicTherapyLineForm(RecordForm):
    class Meta:
        model = SystemicTherapyLine
        fields = [
            "setting",
            "regimen",
            "regimen_other",
            "biologic",
            "start_date",
            "end_date",
            "cycles",
            "stop_reason",
            "best_response",
        ]


class OperationForm(RecordForm):
    class Meta:
        model = Operation
        fields = [
            "date",
            "primary_procedure",
            "liver_procedure",
            "palliative_procedure",
            "intent",
            "emergency",
            "margin",
            "clavien_dindo",
            "length_of_stay_days",
        ]


class FollowUpForm(RecordForm):
    wide_fields = ("notes",)

    class Meta:
        model = FollowUp
        fields = ["date", "contact_type", "disease_status", "cea_ng_ml", "notes"]


class DeathForm(RecordForm):
    class Meta:
        model = Death
        fields = ["date", "cause"]


class UnsuffixedForm(forms.Form):
    """A form whose labels carry no colon, like the record forms."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class MrnSearchForm(UnsuffixedForm):
    """Find a patient by medical record number (sent by POST, never in a URL)."""

    mrn = forms.CharField(
        label="Medical record number",
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_mrn(self) -> str:
        return self.cleaned_data["mrn"].strip()


class DeleteForm(forms.Form):
    """Confirms a deletion of the version the user saw, and says why."""

    version = forms.IntegerField(
        widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION
    )
    # registry.status: a deletion, like a change of a verified record, gives a
    # reason, kept with it in the change history.
    reason = forms.CharField(
        label="Reason for deleting",
        max_length=100,
        error_messages={"required": "Say why this is deleted: the history keeps it."},
    )


@dataclass(frozen=True)
class RecordKind:
    """One kind of record a patient has, as the data-entry pages handle it."""

    slug: str
    model: type[models.Model]
    form_class: type[RecordForm]
    #: Button text on the patient page, e.g. "Add operation".
    add_label: str
    #: One record per patient (the diagnosis, the liver assessment, the death).
    single: bool = False

    @property
    def name(self) -> str:
        """Return the record's name in words, e.g. "follow-up contact"."""
        return str(self.model._meta.verbose_name)

    def perm(self, action: str) -> str:
        """Return the permission to `action` (add, change, delete) this kind."""
        return f"registry.{action}_{self.model._meta.model_name}"


RECORD_KINDS: dict[str, RecordKind] = {
    kind.slug: kind
    for kind in (
        RecordKind("tumour", PrimaryTumour, PrimaryTumourForm, "Diagnosis", True),
        RecordKind(
            "liver", LiverMetastases, LiverMetastasesForm, "Liver metastases", True
        ),
        RecordKind("radiation", RadiationCourse, RadiationCourseForm, "Radiation"),
        RecordKind(
            "systemic", SystemicTherapyLine, SystemicTherapyLineForm, "Systemic line"
        ),
        RecordKind("operation", Operation, OperationForm, "Operation"),
        RecordKind("followup", FollowUp, FollowUpForm, "Follow-up"),
        RecordKind("death", Death, DeathForm, "Death", True),
    )
}


class LiverLaterForm(UnsuffixedForm):
    later = forms.BooleanField(
        required=False,
        label="Not assessed yet: enter the liver metastases later",
        help_text="The patient appears on the data quality page until they are.",
    )


class NewPatientForm:
    """The patient, the diagnosis and the liver metastases, entered together.

    Each part is a RecordForm with its own prefix; ``is_valid()`` also checks the
    dates that span the parts, which the models can only check once the patient
    exists.
    """

    def __init__(self, data=None, *, user):
        self.patient = PatientForm(data, prefix="patient", user=user)
        self.tumour = PrimaryTumourForm(data, prefix="tumour")
        self.liver = LiverMetastasesForm(data, prefix="liver")
        self.liver_later = LiverLaterForm(data, prefix="liver")
        if data is not None and self.skip_liver:
            # Left for later, so neither checked nor saved: the page shows it
            # again as typed, without the errors a blank part would have.
            liver = self.liver
            typed = {name: data.get(liver.add_prefix(name)) for name in liver.fields}
            self.liver = LiverMetastasesForm(initial=typed, prefix="liver")
        # The diagnosis' warnings read the liver timing entered beside it; the
        # liver part leaves that warning to the diagnosis, so it is shown once.
        if data is not None and not self.skip_liver:
            timing = data.get(self.liver.add_prefix("timing")) or None
            self.tumour.warning_context = {"liver_timing": timing}
        self.liver.warning_context = {"clinical_m": ""}

    @property
    def parts(self) -> list[RecordForm]:
        """Return the forms that will be saved."""
        parts = [self.patient, self.tumour]
        if not self.skip_liver:
            parts.append(self.liver)
        return parts

    @property
    def skip_liver(self) -> bool:
        """Return True if the user chose to enter the liver metastases later."""
        return self.liver_later.is_valid() and self.liver_later.cleaned_data["later"]

    def is_valid(self) -> bool:
        """Return True if every part is valid.

        The dates across parts (diagnosis after birth, detection after diagnosis)
        are the models' rules: services.create_patient checks each part with its
        patient set, and the view shows a refusal at the part's field.
        """
        return all([form.is_valid() for form in self.parts])

    @property
    def errors(self) -> bool:
        """Return True if any part has errors (for the page's error summary)."""
        return any(form.errors for form in self.parts)
