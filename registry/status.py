"""Form status and locking: who may move a patient's records on, and what a lock stops.

The transitions (REDCap's form status, OpenClinica's source data verification
and locking)::

    incomplete --nurse--> complete --data manager--> verified --data manager--> locked
    complete --nurse--> incomplete            verified --data manager--> complete
    locked --data manager, with a reason--> verified  (unlocking)

The lock is enforced where every write passes, the model layer:
``ClinicalRecord.save()``/``delete()`` and ``ClinicalQuerySet``'s
``update()``, ``bulk_create()``, ``bulk_update()`` and ``delete()`` call
:func:`check_write` / :func:`assert_unlocked_patients`, so the data-entry
forms, the admin (its revert included), the services, an import and the API
are all refused alike. Other code asks first with :func:`locked_records` or
:func:`assert_unlocked`.

A verified record may still be corrected, but only with a reason (kept in the
change history), and the correction sends it back to complete: it has to be
verified again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from registry.models.status import MODEL_KINDS, FormKind, FormStatus, RecordStatus

#: (from, to) -> the permission the move needs ("change" = the kind's own
#: change permission, as a nurse entering the records has).
TRANSITIONS = {
    (FormStatus.INCOMPLETE, FormStatus.COMPLETE): "change",
    (FormStatus.COMPLETE, FormStatus.INCOMPLETE): "change",
    (FormStatus.COMPLETE, FormStatus.VERIFIED): "registry.verify_records",
    (FormStatus.VERIFIED, FormStatus.COMPLETE): "registry.verify_records",
    (FormStatus.VERIFIED, FormStatus.LOCKED): "registry.lock_records",
    (FormStatus.LOCKED, FormStatus.VERIFIED): "registry.lock_records",
}
#: Moves that must give a reason: undoing a verification, and unlocking.
NEEDS_REASON = {
    (FormStatus.VERIFIED, FormStatus.COMPLETE),
    (FormStatus.LOCKED, FormStatus.VERIFIED),
}
#: The verb of each move, as its button says it.
VERBS = {
    FormStatus.COMPLETE: "Mark complete",
    FormStatus.INCOMPLETE: "Reopen",
    FormStatus.VERIFIED: "Verify",
    FormStatus.LOCKED: "Lock",
}
#: The model of each kind, by model name.
KIND_MODELS = {kind: name for name, kind in MODEL_KINDS.items()}


def kind_of(model: type[models.Model]) -> FormKind:
    """Return the form kind a clinical model's records belong to."""
    return MODEL_KINDS[model._meta.model_name]


#: The user a write outside any request is made for (see :func:`acting_as`).
_acting_user: ContextVar = ContextVar("registry_status_acting_user", default=None)


@contextlib.contextmanager
def acting_as(user) -> Iterator[None]:
    """Name `user` as who changes the statuses inside the block.

    For writes that no request carries, such as ``import_records --user``: a
    verified kind those writes send back to complete records that user, as
    their records' history rows do.
    """
    token = _acting_user.set(user)
    try:
        yield
    finally:
        _acting_user.reset(token)


def current_user():
    """Return the user named by :func:`acting_as`, else the user of the request
    being served (simple-history's), or None."""
    if (acting := _acting_user.get()) is not None:
        return acting
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


# --- what a lock stops ----------------------------------------------------------


def locked_records(model: type[models.Model], ids: Iterable[int]) -> set[int]:
    """Return those of the records `ids` of `model` that are locked (one query).

    For the Patient model the ids are patients', and a patient counts as locked
    when their own fields are.
    """
    ids = list(ids)
    if not ids:
        return set()
    kind = kind_of(model)
    prefix = "" if kind == FormKind.PATIENT else "patient__"
    return set(
        model._default_manager.filter(
            pk__in=ids,
            **{
                f"{prefix}form_statuses__kind": kind,
                f"{prefix}form_statuses__status": FormStatus.LOCKED,
            },
        ).values_list("pk", flat=True)
    )


def assert_unlocked(model: type[models.Model], ids: Iterable[int]) -> None:
    """Raise ValidationError naming the locked records among `ids`, if any."""
    locked = locked_records(model, ids)
    if locked:
        _refuse(model, sorted(locked))


def locked_kinds(patient_ids: Iterable[int]) -> set[tuple[int, str]]:
    """Return the (patient, kind) pairs locked among `patient_ids` (one query)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return set()
    return set(
        RecordStatus.objects.filter(
            patient_id__in=ids, status=FormStatus.LOCKED
        ).values_list("patient_id", "kind")
    )


def has_locks(patient_id: int) -> bool:
    """Return whether any kind of record of the patient is locked."""
    return RecordStatus.objects.filter(
        patient_id=patient_id, status=FormStatus.LOCKED
    ).exists()


def assert_unlocked_patients(
    model: type[models.Model], patient_ids: Iterable, *, any_kind: bool = False
) -> None:
    """Raise ValidationError if the patients' records of `model`'s kind are locked.

    With ``any_kind``, a lock on any of their kinds refuses (deleting patients).
    """
    patient_ids = {pk for pk in patient_ids if pk is not None}
    if not patient_ids:
        return
    statuses = RecordStatus.objects.filter(
        patient_id__in=patient_ids, status=FormStatus.LOCKED
    )
    if not any_kind:
        statuses = statuses.filter(kind=kind_of(model))
    locked = list(
        statuses.values_list("patient__registry_number", "kind").order_by(
            "patient__registry_number", "kind"
        )[:5]
    )
    if locked:
        names = ", ".join(
            f"{FormKind(kind).label.lower()} of patient {number}"
            for number, kind in locked
        )
        raise ValidationError(
            f"Locked: the {names} cannot be changed. A data manager must unlock "
            "them, giving a reason, before any change.",
            code="locked",
        )


def _refuse(model, ids) -> None:
    shown = ", ".join(str(pk) for pk in ids[:5])
    raise ValidationError(
        f"Locked: {model._meta.verbose_name} {shown} cannot be changed. A data "
        "manager must unlock the record, giving a reason, before any change.",
        code="locked",
    )


def status_of(record: models.Model) -> FormStatus | None:
    """Return the status of `record`'s kind for its patient (one query; None
    where no status was ever set, INCOMPLETE for a record with no patient yet)."""
    kind = kind_of(type(record))
    patient_id = record.pk if kind == FormKind.PATIENT else record.patient_id
    if patient_id is None:
        return FormStatus.INCOMPLETE
    return (
        RecordStatus.objects.filter(patient_id=patient_id, kind=kind)
        .values_list("status", flat=True)
        .first()
    )


def check_write(record: models.Model) -> FormStatus:
    """Refuse a save of `record` if its kind is locked for the patient.

    A change (not a creation) of a verified record needs a reason, set as
    ``record._change_reason`` (simple-history keeps it with the change).
    Returns the status found, so the caller can demote a verified record.
    """
    kind = kind_of(type(record))
    status = status_of(record)
    if status == FormStatus.LOCKED:
        raise ValidationError(
            f"Locked: the {kind.label.lower()} of this patient cannot be changed. "
            "A data manager must unlock them, giving a reason, before any change.",
            code="locked",
        )
    if (
        status == FormStatus.VERIFIED
        and not record._state.adding
        and not getattr(record, "_change_reason", "")
    ):
        raise ValidationError(
            f"The {kind.label.lower()} of this patient were verified: give a reason "
            "for the change.",
            code="reason_required",
        )
    return FormStatus(status) if status is not None else FormStatus.INCOMPLETE


def after_verified_change(
    record: models.Model, *, happened: str = "a record was added"
) -> None:
    """Send the record's kind back to complete: a verified kind's record was
    changed, added or deleted (what `happened`, when no reason was given)."""
    kind = kind_of(type(record))
    patient_id = record.pk if kind == FormKind.PATIENT else record.patient_id
    row = RecordStatus.objects.get(patient_id=patient_id, kind=kind)
    row.status = FormStatus.COMPLETE
    row.changed_by = current_user()
    row.changed_at = timezone.now()
    reason = getattr(record, "_change_reason", "") or happened
    row.reason = f"Changed after verification: {reason}"[:200]
    row._change_reason = row.reason
    row.save()


def after_verified_bulk_change(
    model: type[models.Model],
    patient_ids: Iterable[int],
    *,
    happened: str = "a bulk change (import)",
) -> None:
    """Send `model`'s kind back to complete for these patients where it was
    verified: a bulk write (an import's updates or new records, a bulk
    deletion) changed what a data manager had verified, which must be verified
    again. One query to find them, one to write them, with their history rows."""
    from simple_history.utils import bulk_update_with_history

    kind = kind_of(model)
    rows = list(
        RecordStatus.objects.filter(
            patient_id__in=set(patient_ids), kind=kind, status=FormStatus.VERIFIED
        )
    )
    if not rows:
        return
    user, now = current_user(), timezone.now()
    reason = f"Changed after verification: {happened}"
    for row in rows:
        row.status, row.changed_by, row.changed_at, row.reason = (
            FormStatus.COMPLETE,
            user,
            now,
            reason,
        )
    bulk_update_with_history(
        rows,
        RecordStatus,
        ["status", "changed_by", "changed_at", "reason"],
        default_user=user,
        default_change_reason=reason,
    )


# --- moving a status on -------------------------------------------------------------


def statuses_of(patient) -> dict[str, RecordStatus]:
    """Return every kind's status row of `patient` (unsaved where none): 1 query."""
    rows = {row.kind: row for row in patient.form_statuses.select_related("changed_by")}
    return {
        kind: rows.get(kind) or RecordStatus(patient=patient, kind=kind)
        for kind in FormKind.values
    }


def allowed_moves(user, row: RecordStatus) -> list[FormStatus]:
    """Return the statuses `user` may move `row` to."""
    return [
        FormStatus(to)
        for (start, to), perm in TRANSITIONS.items()
        if start == row.status and user.has_perm(_perm(perm, row.kind))
    ]


def _perm(perm: str, kind: str) -> str:
    if perm != "change":
        return perm
    return f"registry.change_{KIND_MODELS[kind]}"


def set_status(*, patient, kind: str, to: int, user, reason: str = "") -> RecordStatus:
    """Move the `kind` records of `patient` to status `to`, as `user`.

    Raises PermissionDenied if the user may not make this move, and
    ValidationError (with a message saying why) if the move does not exist from
    the current status or needs a reason that was not given.
    """
    if kind not in FormKind.values:
        raise ValidationError(f"There is no kind of record called {kind!r}.")
    to = FormStatus(int(to))
    reason = (reason or "").strip()
    with transaction.atomic():
        row = RecordStatus.objects.select_for_update().filter(
            patient=patient, kind=kind
        ).first() or RecordStatus(patient=patient, kind=kind)
        start = FormStatus(row.status)
        move = (start, to)
        if move not in TRANSITIONS:
            raise ValidationError(
                f"The {FormKind(kind).label.lower()} are {start.label.lower()}: they "
                f"cannot be marked {to.label.lower()} from there."
            )
        if not user.has_perm(_perm(TRANSITIONS[move], kind)):
            raise PermissionDenied(
                f"You may not mark records {to.label.lower()}: a data manager does."
            )
        if move in NEEDS_REASON and not reason:
            action = (
                "unlock" if start == FormStatus.LOCKED else "undo the verification of"
            )
            raise ValidationError(
                f"Give a reason to {action} the {FormKind(kind).label.lower()}."
            )
        row.status = to
        row.changed_by = user
        row.changed_at = timezone.now()
        row.reason = reason[:200]
        row._change_reason = row.reason or VERBS[to]
        row._history_user = user
        row.save()
    return row


def site_counts(patients) -> dict[int, dict[str, int]]:
    """Return, per site id, the count of forms in each status (one aggregate query).

    Kinds without a row count as incomplete, so a site's four counts add up to
    patients x kinds.
    """
    rows = (
        RecordStatus.objects.filter(patient__in=patients)
        .values("patient__site_id")
        .annotate(
            **{
                FormStatus(code).name.lower(): Count("pk", filter=Q(status=code))
                for code in FormStatus.values
            }
        )
        .order_by()
    )
    return {row.pop("patient__site_id"): row for row in rows}
