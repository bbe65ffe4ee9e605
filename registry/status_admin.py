"""The admin's side of form status: locked records refused with a message, not 500.

The model layer refuses every write to a locked record (registry.status); the
admin asks first, so the data manager sees why on the page: the change and
revert forms show the refusal as a form error, a locked record offers no
delete, and the bulk delete action reports the refusal as a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect

from registry import facts, status
from registry.models.status import MODEL_KINDS
from registry.services import REASON_REQUIRED
from registry.status import kind_of


def check_form(instance, reason: str) -> None:
    """Raise the form's ValidationError if saving `instance` would be refused."""
    if type(instance)._meta.model_name not in MODEL_KINDS:
        return
    instance._change_reason = reason or ""
    status.check_write(instance)


#: The request attribute holding, while the admin lists what a deletion deletes,
#: the locked kinds of each patient it reaches (LockedRecordsAdmin).
LOCKS_READ = "_registry_locks_read"


def _reason(request) -> str:
    return request.POST.get("change_reason", "").strip()[:100]


class LockedRecordsAdmin:
    """Mixin of the clinical model admins: no delete of locked records, and a
    reason for every deletion (kept in the change history)."""

    delete_confirmation_template = "admin/registry/delete_confirmation.html"
    delete_selected_confirmation_template = (
        "admin/registry/delete_selected_confirmation.html"
    )

    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "POST" and not _reason(request):
            self.message_user(request, REASON_REQUIRED, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            action, name, description = actions["delete_selected"]

            def delete_selected(modeladmin, request, queryset):
                if request.POST.get("post") and not _reason(request):
                    modeladmin.message_user(request, REASON_REQUIRED, messages.ERROR)
                    return None
                return action(modeladmin, request, queryset)

            actions["delete_selected"] = (delete_selected, name, description)
        return actions

    def delete_model(self, request, obj):
        obj._change_reason = _reason(request)
        super().delete_model(request, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if not allowed or obj is None or obj.pk is None:
            return allowed
        is_patient = type(obj)._meta.model_name == "patient"
        locked = getattr(request, LOCKS_READ, {}).get(facts.patient_id_of(obj))
        if locked is not None:  # read for the deletion's list of what it deletes
            return not (locked if is_patient else kind_of(type(obj)) in locked)
        if is_patient:
            return not status.has_locks(obj.pk)
        return not status.locked_records(type(obj), [obj.pk])

    def get_deleted_objects(self, objs, request):
        """List what deleting `objs` deletes, with the locks read in one query.

        Django asks each listed record's admin whether it may be deleted, one
        record at a time; a patient's page lists every record they have. The
        locked kinds of the patients `objs` are or belong to are read first,
        for :meth:`has_delete_permission` to answer from.
        """
        objs = list(objs)
        patients = {facts.patient_id_of(obj) for obj in objs}
        read = {patient: set() for patient in patients}
        for patient, kind in status.locked_kinds(patients):
            read[patient].add(kind)
        setattr(request, LOCKS_READ, read)
        try:
            return super().get_deleted_objects(objs, request)
        finally:
            delattr(request, LOCKS_READ)

    def delete_queryset(self, request, queryset):
        # One by one, so each deletion's history row keeps the reason; the
        # admin's bulk delete is a handful of records, not a cohort.
        reason = _reason(request)
        try:
            with transaction.atomic():
                for obj in queryset:
                    obj._change_reason = reason
                    obj.delete()
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
