"""Accessible names for the admin's tabular inline records.

Django's tabular inline labels its columns with table headings only: the inputs
of each row have no label of their own, so a screen reader announces "edit text"
51 times on a patient's page (axe-core: "Form elements must have labels"). Each
widget gets an ``aria-label`` naming the field and the row, e.g. "Resection
margin, operation 2".
"""

from __future__ import annotations

from django.utils.text import capfirst


class LabelledInlineMixin:
    """Give every field of every row of a tabular inline an accessible name."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        name = str(self.model._meta.verbose_name)

        class Labelled(formset):
            def _construct_form(self, i, **form_kwargs):
                form = super()._construct_form(i, **form_kwargs)
                for field_name, field in form.fields.items():
                    label = capfirst(field.label or field_name)
                    field.widget.attrs.setdefault(
                        "aria-label", f"{label}, {name} {i + 1}"
                    )
                return form

            @property
            def empty_form(self):
                form = super().empty_form
                for field_name, field in form.fields.items():
                    label = capfirst(field.label or field_name)
                    field.widget.attrs.setdefault("aria-label", f"{label}, new {name}")
                return form

        return Labelled
