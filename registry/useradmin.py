"""User management in the admin, held to the registry's roles and sites.

A superuser manages everyone. A data manager manages only the users of their
own sites: users who are members of at least one of the manager's sites and of
no other, who are not superusers and hold no permission of their own. They may
give those users the registry's groups and memberships of the manager's sites,
set their passwords, deactivate them, unlock them after too many failed
logins (django-axes' access attempts) and reset their two-factor login (delete a
lost device); superuser status and raw permissions
are for superusers alone. Staff status (entry to the admin) follows the Data
manager group.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.models import Site
from registry.params import YearLookupsChecked

#: The groups a data manager may give (created by migration 0002_groups).
REGISTRY_GROUPS = ("Data entry", "Data manager", "Analyst")
#: Members of this group are staff: they may open the admin.
STAFF_GROUP = "Data manager"

User = get_user_model()


def manageable_users(manager):
    """Return the users `manager` may manage (everyone, for a superuser): of
    the manager's sites only, with no rights but the registry's groups give (no
    permission of their own, no other group: a group a superuser made for
    auditors or IT may hold rights a data manager has not)."""
    if manager.is_superuser:
        return User.objects.all()
    own = Site.objects.filter(members=manager)
    others = Site.objects.exclude(members=manager)
    return (
        User.objects.filter(is_superuser=False, registry_sites__in=own)
        .exclude(registry_sites__in=others)
        .exclude(user_permissions__isnull=False)
        .exclude(groups__in=Group.objects.exclude(name__in=REGISTRY_GROUPS))
        .distinct()
    )


class SitesFieldMixin(forms.Form):
    """The sites of the managing user that the edited user is a member of."""

    sites = forms.ModelMultipleChoiceField(
        queryset=Site.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The sites whose patients this user may see.",
        error_messages={"required": "Choose at least one of your sites."},
    )


class ManagedUserCreationForm(SitesFieldMixin, AdminUserCreationForm):
    pass


class ManagedUserChangeForm(SitesFieldMixin, UserChangeForm):
    pass


class RegistryUserAdmin(YearLookupsChecked, UserAdmin):
    """Django's user admin, scoped for data managers (see the module docstring)."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=manageable_users(request.user))

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return self._without_staff(super().get_fieldsets(request, obj))
        if obj is None:
            return [
                (
                    None,
                    {
                        "classes": ["wide"],
                        "fields": [
                            "username",
                            "usable_password",
                            "password1",
                            "password2",
                            "groups",
                            "sites",
                        ],
                    },
                )
            ]
        return [
            (None, {"fields": ["username", "password"]}),
            ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
            ("Access", {"fields": ["is_active", "groups", "sites"]}),
            ("Important dates", {"fields": ["last_login", "date_joined"]}),
        ]

    def get_form(self, request, obj=None, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = (
                ManagedUserCreationForm if obj is None else ManagedUserChangeForm
            )
        form = super().get_form(request, obj, **kwargs)
        if request.user.is_superuser:
            return form
        own_sites = Site.objects.for_user(request.user)
        initial = list(obj.registry_sites.all()) if obj is not None else []

        class ScopedForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.fields["sites"].queryset = own_sites
                self.fields["sites"].initial = initial

        return ScopedForm

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return ["last_login", "date_joined"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name__in=REGISTRY_GROUPS)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        if "sites" in form.cleaned_data:
            # Replace the memberships among the manager's own sites only.
            # From the site's side, so that each site's history records it.
            chosen = set(form.cleaned_data["sites"])
            for site in Site.objects.for_user(request.user):
                if site in chosen:
                    site.members.add(user)
                else:
                    site.members.remove(user)
        is_staff = user.is_superuser or user.groups.filter(name=STAFF_GROUP).exists()
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])

    @staticmethod
    def _without_staff(fieldsets):
        """Return Django's fieldsets without is_staff, which the groups decide."""
        return [
            (
                name,
                {
                    **options,
                    "fields": [f for f in options["fields"] if f != "is_staff"],
                },
            )
            for name, options in fieldsets
        ]


class ScopedAccessAttemptAdmin(YearLookupsChecked, AccessAttemptAdmin):
    """django-axes' failed logins; deleting one unlocks that user at that address.

    A data manager sees (and unlocks) only the users they manage.
    """

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        usernames = manageable_users(request.user).values("username")
        return queryset.filter(username__in=usernames)


class ManagedDevicesMixin:
    """Two-factor devices: a data manager sees and deletes (resets) only those
    of the users they manage. Keys and backup codes are never shown
    (OTP_ADMIN_HIDE_SENSITIVE_DATA)."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user__in=manageable_users(request.user))


class ScopedTOTPDeviceAdmin(YearLookupsChecked, ManagedDevicesMixin, TOTPDeviceAdmin):
    pass


class ScopedStaticDeviceAdmin(
    YearLookupsChecked, ManagedDevicesMixin, StaticDeviceAdmin
):
    pass


class CheckedGroupAdmin(YearLookupsChecked, GroupAdmin):
    pass


class CheckedAccessLogAdmin(YearLookupsChecked, AccessLogAdmin):
    pass


class CheckedAccessFailureLogAdmin(YearLookupsChecked, AccessFailureLogAdmin):
    pass


for model, model_admin in (
    (User, RegistryUserAdmin),
    (Group, CheckedGroupAdmin),
    (AccessAttempt, ScopedAccessAttemptAdmin),
    (AccessLog, CheckedAccessLogAdmin),
    (AccessFailureLog, CheckedAccessFailureLogAdmin),
    (TOTPDevice, ScopedTOTPDeviceAdmin),
    (StaticDevice, ScopedStaticDeviceAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
