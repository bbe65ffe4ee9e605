"""Writes of the data-entry pages: whole or not at all, never over a newer version.

Every write validates with ``full_clean()`` before saving and runs in one
transaction. An update or deletion names the version of the record the user
loaded; the row is claimed with ``UPDATE ... WHERE version = loaded`` before
anything is written, so of two people saving the same version the second is
refused with ``StaleEdit`` on SQLite and PostgreSQL alike. The change history
(django-simple-history) records who made each save: the request's user, set
by ``HistoryRequestMiddleware``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from registry.models import (
    ConfirmedWarning,
    LiverMetastases,
    Patient,
    PrimaryTumour,
)
from registry.selectors import (
    RecordChange,
    changes_since,
    entry_fields,
    version_state,
)

#: What a deletion without a reason is told, on every path.
REASON_REQUIRED = "Say why this is deleted: the audit trail keeps the reason."


class StaleEdit(Exception):
    """The record changed (or was deleted) after the user loaded it."""

    def __init__(
        self,
        record: models.Model,
        *,
        loaded_version: int,
        current_version: int | None,
        loaded_state: dict | None,
        current_state: dict | None,
        changes: list[RecordChange],
    ):
        super().__init__(
            f"{record._meta.verbose_name} {record.pk} changed since version "
            f"{loaded_version}"
        )
        self.record = record
        self.loaded_version = loaded_version
        #: None when the record has been deleted since.
        self.current_version = current_version
        #: The field values at the loaded version (None if history lacks them).
        self.loaded_state = loaded_state
        #: The field values stored now (None if deleted).
        self.current_state = current_state
        self.changes = changes

    @property
    def never_written(self) -> bool:
        """Return True if the version loaded is ahead of the record's: none read it."""
        current = self.current_version
        return current is not None and self.loaded_version > current


def create_patient(
    *,
    patient: Patient,
    tumour: PrimaryTumour,
    liver: LiverMetastases | None = None,
) -> Patient:
    """Save a new patient with the diagnosis and, if given, the liver metastases.

    All are saved or none: a ValidationError from any part rolls back the rest
    and is raised with ``part`` set to "patient", "tumour" or "liver". Two people
    entering the same MRN at one site at the same moment both pass validation;
    the database refuses the second, who gets the form's duplicate message.
    """
    try:
        with transaction.atomic():
            _clean(patient, part="patient")
            patient.save()
            for part, record in (("tumour", tumour), ("liver", liver)):
                if record is not None:
                    record.patient = patient
                    _clean(record, part=part)
                    record.save()
    except IntegrityError:
        patient.pk = None
        patient.registry_number = ""
        patient._state.adding = True
        _raise_if_duplicate_mrn(patient)
        raise
    return patient


def add_record(*, record: models.Model) -> models.Model:
    """Validate and save a new record of a patient."""
    try:
        with transaction.atomic():
            _clean(record)
            record.save()
    except IntegrityError:
        # Two people adding the one-per-patient record (a death) at once: the
        # database's unique constraint refuses the second.
        raise ValidationError(
            f"This patient already has a {record._meta.verbose_name}: someone "
            "saved one while you were entering yours. Open it from the patient page."
        ) from None
    return record


def update_record(
    *, record: models.Model, loaded_version: int, reason: str = ""
) -> models.Model:
    """Validate and save changes to `record`, if nobody saved it since loaded.

    Raises StaleEdit if the stored version is no longer `loaded_version`; the
    model refuses a locked record, and a verified one without a `reason`
    (registry.status). The reason is kept in the change history.
    """
    record._change_reason = reason.strip()
    try:
        with transaction.atomic():
            _claim(record, loaded_version)
            record.version = loaded_version  # save() makes it loaded_version + 1
            _clean(record)
            record.save()
    except IntegrityError:
        if isinstance(record, Patient):
            _raise_if_duplicate_mrn(record)
        raise
    return record


def delete_record(
    *, record: models.Model, loaded_version: int, reason: str = ""
) -> None:
    """Delete `record` (and what depends on it), if nobody saved it since loaded.

    The model refuses a locked record (registry.status); the `reason`, which
    every deletion needs, is kept with the deletion in the change history.
    """
    record._change_reason = reason.strip()
    with transaction.atomic():
        # a stale, deleted or locked record is said first
        _claim(record, loaded_version)
        if not record._change_reason:
            record.check_deletable()
            raise ValidationError({"reason": [REASON_REQUIRED]})
        ConfirmedWarning.objects.filter(
            record_kind=record._meta.model_name, record_id=record.pk
        ).delete()
        record.delete()


def _claim(record: models.Model, loaded_version: int) -> None:
    """Lock the row at `loaded_version`, or raise StaleEdit if it moved on."""
    model = type(record)
    claimed = model._default_manager.filter(
        pk=record.pk, version=loaded_version
    ).update(version=loaded_version + 1)
    if claimed:
        return
    names = [field.name for field in entry_fields(model)]
    current = (
        model._default_manager.filter(pk=record.pk).values("version", *names).first()
    )
    raise StaleEdit(
        record,
        loaded_version=loaded_version,
        current_version=current.pop("version") if current else None,
        loaded_state=version_state(record, loaded_version),
        current_state=current,
        changes=changes_since(record, loaded_version),
    )


def _raise_if_duplicate_mrn(patient: Patient) -> None:
    """Raise the form's duplicate-MRN error if another patient of the site has it.

    Called after the database refused a save: the refusal's own text names the
    MRN, so it is replaced by this message rather than passed on (or logged).
    """
    duplicate = (
        Patient.objects.filter(site_id=patient.site_id, mrn=patient.mrn)
        .exclude(pk=patient.pk)
        .exists()
    )
    if duplicate:
        error = ValidationError(
            {
                "mrn": "A patient with this MRN exists at this site: someone saved "
                "them while you were entering yours. Search for the MRN instead."
            }
        )
        error.part = "patient"
        raise error from None


def _clean(record: models.Model, *, part: str | None = None) -> None:
    try:
        record.full_clean()
    except ValidationError as error:
        error.part = part
        raise
