"""The admin's side of form status: locked records refused with a message, not 500.

The model layer refuses every write to a locked record (registry.status); the
admin asks first, so the data manager sees why on the page: the change and
revert forms show the refusal as a form error, a locked record offers no
delete, and the bulk delete action reports the refusal as a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError

from registry import status
from registry.models.status import MODEL_KINDS


def check_form(instance, reason: str) -> None:
    """Raise the form's ValidationError if saving `instance` would be refused."""
    if type(instance)._meta.model_name not in MODEL_KINDS:
        return
    instance._change_reason = reason or ""
    status.check_write(instance)


class LockedRecordsAdmin:
    """Mixin of the clinical model admins: no delete of locked records."""

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if not allowed or obj is None or obj.pk is None:
            return allowed
        if type(obj)._meta.model_name == "patient":
            return not status.has_locks(obj.pk)
        return not status.locked_records(type(obj), [obj.pk])

    def delete_queryset(self, request, queryset):
        try:
            super().delete_queryset(request, queryset)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
