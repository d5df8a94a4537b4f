from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.forms.models import model_to_dict
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from simple_history.admin import SimpleHistoryAdmin

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from core.errors import DomainError


class TenantScopedSite(admin.AdminSite):
    """The admin site (audit.apps.ScopedAdminConfig): every ModelAdmin of a tenant-scoped model
    (audit.tenancy) reads through ``visible_to(request.user)``, so its changelist, change page, history,
    actions and lookups show a tenant's staff their tenant's rows only; another tenant's id is not found."""

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        for model in [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable:
            if getattr(model, "tenant_paths", None):
                model_admin = self._registry[model]
                every_tenant = model_admin.get_queryset
                model_admin.get_queryset = lambda request, rows=every_tenant: rows(request).visible_to(request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records (transfers, audit rows) and rows only services change."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, changed only by services."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class HistoryAdmin(SimpleHistoryAdmin):
    """History to read, never to revert. django-simple-history's revert view saves the old version
    with the view permission alone, past the change form's permission check, the services, the audit
    trail and the live messages (the authorization matrix found a regulator changing a limit and a
    trader an outcome's price that way)."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class AuditedSettingsAdmin(HistoryAdmin):
    """Rules kept as data (limits, caps, geofence): every edit is audited with before and after,
    in the admin's own transaction, besides the model history."""

    audit_category = AuditLog.Category.COMPLIANCE

    def save_model(self, request, obj, form, change):
        before = model_to_dict(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        self._audit(request, obj, "change" if change else "add",
                    {"before": _plain(before), "after": _plain(model_to_dict(obj))})

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete", {"before": _plain(model_to_dict(obj))})
        super().delete_model(request, obj)

    def _audit(self, request, obj, verb, details):
        audit_record(actor=Actor.from_request(request), action=f"{obj._meta.model_name}.{verb}",
                     category=self.audit_category, resource_type=obj._meta.model_name,
                     resource_id=obj.pk, resource_label=str(obj), details=details)


def _plain(values: dict) -> dict:
    return {key: value if isinstance(value, bool | int | type(None)) else str(value)
            for key, value in values.items()}


# --- Service actions: the console's buttons call the same services as the API -------------------


class ConfirmForm(forms.Form):
    """An action that needs nothing but a confirmation."""


class ReasonForm(forms.Form):
    # Optional here when the service itself decides whether a reason is required (cancel, settle),
    # so the refusal carries the service's code.
    reason = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"size": 60}))


@dataclass(frozen=True)
class ObjectAction:
    """One console action on one object: ``/admin/<app>/<model>/<pk>/<name>/``, named
    ``admin:<app>_<model>_<name>``. ``run(obj, data, actor)`` calls a service and returns a message."""

    name: str
    label: str
    permission: str
    run: Callable[[Any, dict, Actor], str]
    form: type[forms.Form] = ConfirmForm
    # Whether the button is offered for the object's current state (the service still decides).
    offered: Callable[[Any], bool] = field(default=lambda obj: True)
    help: str = ""
    initial: Callable[[Any], dict] = field(default=lambda obj: {})


class ActionLinksInline(ReadOnlyInline):
    """Rows beside their parent with links to their console actions, for those holding the permission."""

    actions_permission = ""
    console_actions: tuple[ObjectAction, ...] = ()

    def get_fields(self, request, obj=None):
        return [*self.fields, "console"] if request.user.has_perm(self.actions_permission) else list(self.fields)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Actions")
    def console(self, row) -> str:
        info = row._meta.app_label, row._meta.model_name
        offered = [(reverse(f"admin:{info[0]}_{info[1]}_{a.name}", args=[row.pk]), a.label)
                   for a in self.console_actions if a.offered(row)]
        return format_html_join(" · ", '<a href="{}">{}</a>', offered) if offered else "—"


def domain_error_text(exc: DomainError) -> str:
    return f"{exc.code}: {exc.message}"


class ServiceActionsAdmin(admin.ModelAdmin):
    """Per-object action pages (a confirmation form, then the service) and buttons for them on the
    change page. Each checks its permission itself: a GET or POST without it is a 403."""

    object_actions: tuple[ObjectAction, ...] = ()
    change_form_template = "admin/oddslab/change_form_actions.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        own = [path(f"<int:object_id>/{action.name}/",
                    self.admin_site.admin_view(self._action_view(action)),
                    name=f"{info[0]}_{info[1]}_{action.name}")
               for action in self.object_actions]
        return own + super().get_urls()

    def get_actions(self, request):
        """Bulk service actions only for those holding their permission (a regulator sees none)."""
        return {name: entry for name, entry in super().get_actions(request).items()
                if request.user.has_perm(getattr(entry[0], "service_permission", None) or "")
                or not hasattr(entry[0], "service_permission")}

    def _action_view(self, action: ObjectAction):
        def view(request, object_id):
            return self.object_action_view(request, object_id, action)

        return view

    def object_actions_offered(self, request, obj) -> list[dict]:
        info = self.model._meta.app_label, self.model._meta.model_name
        return [{"label": action.label, "name": action.name,
                 "url": reverse(f"admin:{info[0]}_{info[1]}_{action.name}", args=[obj.pk])}
                for action in self.object_actions
                if request.user.has_perm(action.permission) and action.offered(obj)]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"service_actions": self.object_actions_offered(request, obj) if obj else []}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def object_action_view(self, request, object_id, action: ObjectAction):
        if not request.user.has_perm(action.permission):
            raise PermissionDenied
        obj = self.get_object(request, str(object_id))
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with id {object_id}.")
        form = action.form(request.POST if request.method == "POST" else None, initial=action.initial(obj))
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                done = action.run(obj, form.cleaned_data, Actor.from_request(request))
            except DomainError as exc:
                messages.error(request, domain_error_text(exc))
                status = exc.status
            else:
                messages.success(request, done)
                return redirect(reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change",
                                        args=[obj.pk]))
        elif request.method == "POST":
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "original": obj, "title": f"{action.label}: {obj}",
            "action": action, "form": form, "objects": [obj], "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/oddslab/action_confirm.html", context, status=status)


def bulk_service_action(*, name: str, label: str, permission: str, run: Callable[[Any, dict, Actor], Any],
                        form: type[forms.Form] = ReasonForm):
    """A changelist action: a confirmation page (with the service's inputs), then the service once per
    selected object; each success and each refusal is reported."""

    def action(modeladmin, request, queryset):
        if not request.user.has_perm(permission):
            raise PermissionDenied
        bound = form(request.POST if request.POST.get("confirm") == "yes" else None)
        if bound.is_bound and bound.is_valid():
            actor, done = Actor.from_request(request), 0
            for obj in queryset.order_by("pk"):
                try:
                    run(obj, bound.cleaned_data, actor)
                    done += 1
                except DomainError as exc:
                    messages.error(request, f"{obj}: {domain_error_text(exc)}")
            if done:
                messages.success(request, f"{label}: {done} of {queryset.count()} done.")
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.model._meta, "title": f"{label} ({queryset.count()} selected)",
            "action": {"name": name, "label": label}, "form": bound if bound.is_bound else form(),
            "objects": list(queryset.order_by("pk")), "bulk": True,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/oddslab/action_confirm.html", context)

    action.__name__ = name
    action.service_permission = permission
    return admin.action(description=f"{label} selected")(action)
