import dataclasses
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts.models import Tenant, User, platform_tenant_id
from accounts.selectors import user_may_manage, user_record, users_manageable
from accounts.services import agent_code_issue, user_change_record, user_password_change_record
from accounts.sessions import token_revoke
from audit.admin_tools import domain_error_text
from audit.context import Actor, role_of
from audit.models import AuditLog
from audit.services import audit_record
from audit.tenancy import sees_every_tenant
from core.errors import DomainError
from wallet.services import wallet_deposit, wallet_open, wallet_withdraw

# Who holds which role is the admin role's decision: compliance may edit a player's details, but
# granting a role (or superuser, or single permissions) to anyone, itself included, is not its part.
PRIVILEGE_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


class UserCreationForm(AdminUserCreationForm):
    # The add page's role: a player is what the console creates (the regulator's walkthrough); staff
    # roles are granted by a superuser on the change page (the groups field).
    role = forms.ChoiceField(choices=[("player", "Player (gets a wallet)"), ("agent", "Agent (gets an agent code)"),
                                      ("", "None (set groups next)")],
                             initial="player", required=False)


class CashierForm(forms.Form):
    direction = forms.ChoiceField(choices=[("credit", "Credit the wallet (cashier → wallet)"),
                                           ("debit", "Debit the wallet (wallet → cashier)")])
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 60}),
                             help_text="Kept in the audit trail and on the ledger transfer.")


def cashier_may_use(user) -> bool:
    """The console's cashier moves players' money: the admin role (or a superuser) only."""
    return role_of(user) == "admin"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Everyone with the view permission sees every user; changing one (details, password, privileges,
    deletion) needs ``user_may_manage``: a page of a user one may not manage is read-only, and a
    POST to it is a 403. Every change is audited with the fields it changed, before and after.

    A player's page has a cashier (``<id>/cashier/``, the admin role only): a credit or debit of the
    wallet with a reason, through the player's own wallet services, so every rule of a deposit or a
    withdrawal still applies, audited with the staff member as actor."""

    fieldsets = (*DjangoUserAdmin.fieldsets, ("Player", {"fields": ("country",)}),
                 ("Tenant", {"fields": ("tenant", "agent", "agent_code")}))
    add_form = UserCreationForm
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Role", {"fields": ("role", "country", "tenant", "agent")}))
    change_form_template = "admin/oddslab/change_form_actions.html"
    list_display = ["username", "email", "country", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups", "country"]
    search_fields = ["username", "email"]

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "agent_code"]  # issued by agent_code_issue
        if obj is not None and not sees_every_tenant(request.user):
            fields.append("tenant")  # a tenant's staff keep their users in their tenant
        return fields if request.user.is_superuser else [*fields, *PRIVILEGE_FIELDS]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None and not sees_every_tenant(request.user):
            # A tenant's admin adds users to their own tenant only (save_model): no tenant to pick.
            fieldsets = [(name, {**opts, "fields": [f for f in opts["fields"] if f != "tenant"]})
                         for name, opts in fieldsets]
        return fieldsets

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "agent":
            # The agents one may see (a tenant's staff: their tenant's); get_form's clean matches tenants.
            kwargs["queryset"] = User.objects.visible_to(request.user).filter(groups__name="agent")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "tenant":
            field.required = False
            field.help_text = "Left empty: the platform's own tenant."
        return field

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        own_tenant = None if sees_every_tenant(request.user) else request.user.tenant_id

        class TenantCheckedForm(form):
            def clean(self):
                data = super().clean()
                tenant = data.get("tenant") if "tenant" in data else getattr(self.instance, "tenant", None)
                tenant_id = own_tenant or getattr(tenant, "pk", None) or (
                    self.instance.tenant_id if self.instance.pk else platform_tenant_id())
                agent = data.get("agent")
                if agent is not None and agent.tenant_id != tenant_id:
                    self.add_error("agent", "This agent works for another tenant.")
                return data

        TenantCheckedForm.__name__ = form.__name__
        return TenantCheckedForm

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or user_may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or user_may_manage(request.user, obj))

    def save_model(self, request, obj, form, change):
        # Read before the form writes; the groups and permissions follow in save_related.
        form.record_before = user_record(User.objects.get(pk=obj.pk)) if change else {}
        if not change and not sees_every_tenant(request.user):
            obj.tenant_id = request.user.tenant_id
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and form.cleaned_data.get("role") == "player":
            form.instance.groups.add(Group.objects.get(name="player"))
            wallet_open(user=form.instance)  # as player_register does
        if not change and form.cleaned_data.get("role") == "agent":
            form.instance.groups.add(Group.objects.get(name="agent"))
        if not form.instance.agent_code and form.instance.groups.filter(name="agent").exists():
            agent_code_issue(user=form.instance)  # the agent role given, here or on the change page
        user_change_record(actor=Actor.from_request(request), user=form.instance,
                           action="user.change" if change else "user.add",
                           before=form.record_before, after=user_record(form.instance))

    def delete_model(self, request, obj):
        self._record_deletion(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            self._record_deletion(request, user)
        super().delete_queryset(request, queryset)

    def _record_deletion(self, request, user):
        user_change_record(actor=Actor.from_request(request), user=user, action="user.delete",
                           before=user_record(user), after={})

    # --- The cashier ---------------------------------------------------------------------------

    def get_urls(self):
        return [path("<path:object_id>/cashier/", self.admin_site.admin_view(self.cashier_view),
                     name="accounts_user_cashier"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        offered = obj is not None and cashier_may_use(request.user) and role_of(obj) == "player"
        extra = {"service_actions": [{"label": "Cashier", "name": "cashier",
                                      "url": reverse("admin:accounts_user_cashier", args=[obj.pk])}]
                 if offered else []}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def cashier_view(self, request, object_id):
        if not cashier_may_use(request.user):
            raise PermissionDenied
        player = self.get_object(request, unquote(object_id))
        if player is None or role_of(player) != "player":
            raise Http404("No player with this id.")
        form = CashierForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            service = wallet_deposit if data["direction"] == "credit" else wallet_withdraw
            # The staff member acts; the geofence reads the player's registered country, not the office's.
            actor = dataclasses.replace(Actor.from_request(request), country="")
            try:
                done = service(user=player, amount=data["amount"], actor=actor, reason=data["reason"])
            except DomainError as exc:
                messages.error(request, domain_error_text(exc))
                status = exc.status
            else:
                messages.success(request, f"{player}: {data['direction']} of {data['amount']} done "
                                          f"({done.transfer.reference}); balance {done.balance}.")
                return redirect(reverse("admin:accounts_user_change", args=[player.pk]))
        elif request.method == "POST":
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "original": player, "title": f"Cashier: {player}",
            "action": {"name": "cashier", "label": "Cashier",
                       "help": "Through the player's own deposit and withdrawal: their limits, self-exclusion, "
                               "identity checks, geofence and funds apply."},
            "form": form, "objects": [player], "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/oddslab/action_confirm.html", context, status=status)

    def user_change_password(self, request, id, form_url=""):
        # Django's view checks has_change_permission for the user (so user_may_manage) and saves;
        # the hash before and after tells whether it did, for the audit trail.
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            response = super().user_change_password(request, id, form_url)
            if user is not None and User.objects.get(pk=user.pk).password != user.password:
                user_password_change_record(actor=Actor.from_request(request), user=user)
        return response


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """The tenants: the platform admin (and regulators, reading) see all, a tenant's admin their own and
    may rebrand it (name, colour). A tenant is created by POST /api/v1/tenants (agents.tenants), which
    writes it with its commission plan and limit profile; none is added or deleted here."""

    list_display = ["slug", "name", "colour", "created_at"]
    fields = ["slug", "name", "colour", "created_at"]
    readonly_fields = ["slug", "created_at"]
    search_fields = ["slug", "name"]

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if sees_every_tenant(request.user) else rows.filter(pk=request.user.tenant_id)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = {name: form.initial.get(name) for name in form.changed_data}
        super().save_model(request, obj, form, change)
        if form.changed_data:
            audit_record(actor=Actor.from_request(request), action="tenant.change", category=AuditLog.Category.ADMIN,
                         resource_type="tenant", resource_id=obj.pk, resource_label=obj.slug,
                         details={"before": before, "after": {name: getattr(obj, name) for name in form.changed_data}})


# The token admin lists whose API tokens exist and revokes them. A token is its user's credential:
# creating one for someone, or reading its key, is impersonating them, so nobody adds or changes a
# token here, no page shows a key, and only the tokens of users one may manage are listed and deleted.
TokenProxy.__str__ = lambda token: f"API token of {token.user}"
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(DrfTokenAdmin):
    list_display = ["user", "created"]
    fields = ["user", "created"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__in=users_manageable(request.user))

    def get_object(self, request, object_id, from_field=None):
        # Whoever's token it is, so that one of a user one may not manage is refused (403), not hidden.
        try:
            return TokenProxy.objects.select_related("user").filter(user_id=object_id).first()
        except (ValidationError, ValueError):
            return None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and (obj is None or user_may_manage(request.user, obj.user))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or user_may_manage(request.user, obj.user))

    def delete_model(self, request, obj):
        token_revoke(token=obj, actor=Actor.from_request(request))
