"""Shared pieces of the clinical models: chronology checks and field helpers."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from registry import derive

#: The reason a patient is deleted for, while their records are deleted with
#: them (ClinicalRecord.delete): each record's deletion keeps it too.
_patient_deletion_reason: contextvars.ContextVar[str] = contextvars.ContextVar(
    "patient_deletion_reason", default=""
)


def give_the_patients_reason(sender, instance, **kwargs) -> None:
    """Give a record deleted with its patient the patient's reason (pre_delete,
    connected to every clinical model in RegistryConfig.ready), for its history
    row: every deletion keeps a reason."""
    if not getattr(instance, "_change_reason", ""):
        reason = _patient_deletion_reason.get()
        if reason:
            instance._change_reason = reason


#: Set while ClinicalQuerySet.bulk_update runs: the updates it makes are its
#: own, whose callers write their history (bulk_update_with_history).
_in_bulk_update: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "in_bulk_update", default=False
)


class ClinicalQuerySet(models.QuerySet):
    """Bulk writes of clinical records that keep the stored derived facts equal.

    ``update()``, ``bulk_create()`` and ``bulk_update()`` bypass save() and its
    signals, so they refresh the patients they touch themselves
    (registry.facts.refresh). An update of bookkeeping fields alone (the version
    counter an edit claims) cannot change a derived fact and refreshes nothing.
    Any other ``update()`` is a change like a save: it counts a new version of
    each record (so an open form is refused, not written over), writes each
    record's history row with the acting user (registry.status), and sends a
    verified kind back to complete.
    """

    BOOKKEEPING = frozenset({"version", "updated_at"})

    def update(self, **kwargs) -> int:
        if set(kwargs) <= self.BOOKKEEPING:
            return super().update(**kwargs)
        if _in_bulk_update.get():
            return self._update_facts(kwargs)
        from registry import facts, status

        changed = list(self.order_by().values_list("pk", flat=True))
        kwargs.setdefault("version", models.F("version") + 1)
        updated = self._update_facts(kwargs)
        records = list(self.model._default_manager.filter(pk__in=changed))
        self.model.history.bulk_history_create(
            records,
            update=True,
            default_user=status.current_user(),
            default_change_reason="a bulk update",
        )
        status.after_verified_bulk_change(
            self.model,
            {facts.patient_id_of(record) for record in records},
            happened="records were changed (a bulk update)",
        )
        return updated

    def _update_facts(self, kwargs) -> int:
        """Update, refreshing the facts of the patients the records are of and
        of the patient they move to."""
        from registry import facts, status

        patients = list(self._patient_ids())
        # records moved to another patient change that patient's facts too
        # (bulk_update's is an expression: it refreshes the new ones itself, and
        # this update the old ones)
        moved_to = kwargs.get("patient_id", kwargs.get("patient"))
        if isinstance(moved_to, models.Model):
            moved_to = moved_to.pk
        if isinstance(moved_to, int):
            patients.append(moved_to)
        status.assert_unlocked_patients(self.model, patients)
        updated = super().update(**kwargs)
        facts.refresh(patients)
        return updated

    def bulk_create(self, objs, *args, **kwargs):
        from registry import facts, status

        objs = list(objs)
        status.assert_unlocked_patients(
            self.model, (facts.patient_id_of(obj) for obj in objs)
        )
        created = super().bulk_create(objs, *args, **kwargs)
        patient_ids = [facts.patient_id_of(obj) for obj in created]
        status.after_verified_bulk_change(
            self.model, patient_ids, happened="records were added (import)"
        )
        facts.refresh(patient_ids)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        from registry import facts, status

        objs = list(objs)
        if not set(fields) <= self.BOOKKEEPING:
            status.assert_unlocked_patients(
                self.model, (facts.patient_id_of(obj) for obj in objs)
            )
        token = _in_bulk_update.set(True)
        try:
            updated = super().bulk_update(objs, fields, *args, **kwargs)
        finally:
            _in_bulk_update.reset(token)
        if not set(fields) <= self.BOOKKEEPING:
            patient_ids = [facts.patient_id_of(obj) for obj in objs]
            status.after_verified_bulk_change(self.model, patient_ids)
            facts.refresh(patient_ids)
        return updated

    def delete(self):
        # A locked record is never deleted, in bulk (the admin's action) or not;
        # deleting patients is refused while any of their records is locked.
        from registry import status

        is_patient = self.model._meta.model_name == "patient"
        patient_ids = list(self._patient_ids())
        status.assert_unlocked_patients(self.model, patient_ids, any_kind=is_patient)
        deleted = super().delete()
        if not is_patient:  # a patient's statuses go with them
            status.after_verified_bulk_change(
                self.model, patient_ids, happened="records were deleted"
            )
        return deleted

    delete.alters_data = True
    delete.queryset_only = True

    def _patient_ids(self):
        field = "pk" if self.model._meta.model_name == "patient" else "patient_id"
        return self.order_by().values_list(field, flat=True).distinct()


class ClinicalRecord(models.Model):
    """Fields every clinical record carries."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)
    version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Counts the saves of this record; a form that loaded an older "
        "version is refused (registry.services), so no edit is silently lost.",
    )

    objects = ClinicalQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        # Every change of a stored record, through any path (forms, admin, shell),
        # makes the versions seen by open forms stale.
        from registry import status

        # A locked kind refuses every save; a verified one wants a reason, and
        # the change sends it back to complete (registry.status).
        found = status.check_write(self)
        if not self._state.adding:
            self.version += 1
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "version"}
        super().save(*args, **kwargs)
        if found == status.FormStatus.VERIFIED:
            status.after_verified_change(self)

    def check_deletable(self) -> None:
        """Refuse (ValidationError) to delete a locked record, or a patient with
        any kind locked (registry.status)."""
        from registry import facts, status

        status.assert_unlocked_patients(
            type(self), [facts.patient_id_of(self)], any_kind=self._is_patient
        )

    @property
    def _is_patient(self) -> bool:
        return type(self)._meta.model_name == "patient"

    def delete(self, *args, **kwargs):
        from registry import status

        is_patient = self._is_patient
        # a record's status read once: its lock, and whether it was verified
        found = None if is_patient else status.status_of(self)
        if is_patient or found == status.FormStatus.LOCKED:
            self.check_deletable()  # refuses, with the lock's message
        token = _patient_deletion_reason.set(
            getattr(self, "_change_reason", "") if is_patient else ""
        )
        try:
            deleted = super().delete(*args, **kwargs)
        finally:
            _patient_deletion_reason.reset(token)
        if found == status.FormStatus.VERIFIED:  # verified again, without it
            status.after_verified_change(self, happened="a record was deleted")
        return deleted


@dataclass(frozen=True)
class KnownDates:
    """The dates of one patient that the chronology checks of clean() read.

    ``dated`` holds (date, what) for every dated record other than the diagnosis
    and the death: operations, follow-up contacts, the start and end of
    radiation courses and systemic therapy lines, and the detection of
    metachronous liver metastases.
    """

    birth: datetime.date | None = None
    diagnosis: datetime.date | None = None
    death: datetime.date | None = None
    dated: tuple[tuple[datetime.date, str], ...] = ()
    follow_ups: tuple[datetime.date, ...] = ()


# While set, the chronology checks read these dates instead of the database.
_known: contextvars.ContextVar[Mapping[int, KnownDates] | None] = (
    contextvars.ContextVar("known_dates", default=None)
)


@contextlib.contextmanager
def known_dates(dates: Mapping[int, KnownDates]) -> Iterator[None]:
    """Let clean() read each patient's dates from `dates`, not the database.

    For an import, which validates thousands of records against the dates the
    registry will hold once the file is in (the stored records as the file
    changes them): the same checks as the forms, without a query per record.
    Patients not in `dates` have no dates.
    """
    token = _known.set(dates)
    try:
        yield
    finally:
        _known.reset(token)


def known(patient_id: int | None) -> KnownDates | None:
    """Return the preloaded dates of the patient, or None outside known_dates()."""
    dates = _known.get()
    if dates is None:
        return None
    return dates.get(patient_id, KnownDates())


#: What a detection of metachronous liver metastases is called among a
#: patient's dated records (KnownDates.dated, the chronology messages).
DETECTION = "detection of liver metastases"


def detection_date(patient_id: int | None) -> datetime.date | None:
    """Return when the patient's liver metastases were detected, if recorded."""
    from registry.models.tumours import LiverMetastases

    if (dates := known(patient_id)) is not None:
        return max((d for d, what in dates.dated if what == DETECTION), default=None)
    return (
        LiverMetastases.objects.filter(patient_id=patient_id)
        .values_list("detected_date", flat=True)
        .first()
    )


def birth_date(patient_id: int | None) -> datetime.date | None:
    """Return the patient's date of birth."""
    from registry.models.patients import Patient

    if (dates := known(patient_id)) is not None:
        return dates.birth
    return (
        Patient.objects.filter(pk=patient_id)
        .values_list("date_of_birth", flat=True)
        .first()
    )


def first_follow_up(patient_id: int | None) -> datetime.date | None:
    """Return the date of the patient's first follow-up contact."""
    from registry.models.followup import FollowUp

    if (dates := known(patient_id)) is not None:
        return min(dates.follow_ups, default=None)
    return (
        FollowUp.objects.filter(patient_id=patient_id)
        .order_by("date")
        .values_list("date", flat=True)
        .first()
    )


def key_dates(
    patient_id: int | None,
) -> tuple[datetime.date | None, datetime.date | None]:
    """Return the patient's diagnosis and death dates (None where not recorded)."""
    from registry.models.followup import Death
    from registry.models.tumours import PrimaryTumour

    if patient_id is None:
        return None, None
    if (dates := known(patient_id)) is not None:
        return dates.diagnosis, dates.death
    diagnosis = (
        PrimaryTumour.objects.filter(patient_id=patient_id)
        .values_list("diagnosis_date", flat=True)
        .first()
    )
    death = (
        Death.objects.filter(patient_id=patient_id)
        .values_list("date", flat=True)
        .first()
    )
    return diagnosis, death


def check_date(
    errors: dict, field: str, value, what: str, *, birth: bool = False
) -> None:
    """Add an error if the date `value` is outside the registry's bounds.

    The bounds are registry.derive's (date_out_of_bounds): not after today, not
    before EARLIEST_BIRTH for a date of birth nor EARLIEST_EVENT for the rest.
    """
    problem = derive.date_out_of_bounds(
        value,
        what=what,
        today=timezone.localdate(),
        earliest=derive.EARLIEST_BIRTH if birth else derive.EARLIEST_EVENT,
    )
    if problem:
        errors.setdefault(field, []).append(problem)


def check_not_before_birth(
    errors: dict, field: str, value, what: str, record: models.Model
) -> None:
    """Add an error if the date `value` of `record` lies before its patient's
    date of birth.

    The date of birth is read through birth_date, so an import (known_dates)
    checks against the file's dates without a query per record. A record
    entered with its new patient (the admin's page of a patient being added)
    reads the date of birth entered beside it.
    """
    if value is None:
        return
    if record.patient_id is not None:
        birth = birth_date(record.patient_id)
    else:  # the unsaved patient the admin's add page gave it, if any
        birth = getattr(getattr(record, "patient", None), "date_of_birth", None)
    problem = derive.before_birth(value, birth, what=what)
    if problem:
        errors.setdefault(field, []).append(problem)


#: Every event date is checked against both bounds, not only the future.
check_not_future = check_date


def check_not_after_death(
    errors: dict, field: str, value, what: str, death: datetime.date | None
) -> None:
    """Add an error if the date `value` lies after the patient's death."""
    if value is not None and death is not None and value > death:
        errors.setdefault(field, []).append(
            f"{what} ({value}) is after the patient's death on {death}."
        )


def check_ends_after_start(errors: dict, start, end, what: str) -> None:
    """Add an error on end_date if it lies before start_date."""
    if start is not None and end is not None and end < start:
        errors.setdefault("end_date", []).append(
            f"The {what} cannot end ({end}) before it starts ({start})."
        )


def raise_if(errors: dict) -> None:
    """Raise the collected field errors, if any."""
    if errors:
        raise ValidationError(errors)


def at_least(limit, what: str) -> MinValueValidator:
    """Return a validator whose message names the quantity, e.g. "CEA cannot be ..."."""
    return MinValueValidator(limit, message=f"{what} must be at least {limit}.")


def at_most(limit, what: str) -> MaxValueValidator:
    """Return a validator refusing values above `limit`, naming the quantity."""
    return MaxValueValidator(limit, message=f"{what} must be at most {limit}.")
