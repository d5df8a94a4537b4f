from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts.models import User
from accounts.selectors import user_may_manage, user_record, users_manageable
from accounts.services import user_change_record, user_password_change_record
from accounts.sessions import token_revoke
from audit.context import Actor

# Who holds which role is the admin role's decision: compliance may edit a player's details, but
# granting a role (or superuser, or single permissions) to anyone, itself included, is not its part.
PRIVILEGE_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Everyone with the view permission sees every user; changing one (details, password, privileges,
    deletion) needs ``user_may_manage``: a page of a user one may not manage is read-only, and a
    POST to it is a 403. Every change is audited with the fields it changed, before and after."""

    fieldsets = (*DjangoUserAdmin.fieldsets, ("Player", {"fields": ("country",)}))
    list_display = ["username", "email", "country", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups", "country"]
    search_fields = ["username", "email"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, *PRIVILEGE_FIELDS]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or user_may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or user_may_manage(request.user, obj))

    def save_model(self, request, obj, form, change):
        # Read before the form writes; the groups and permissions follow in save_related.
        form.record_before = user_record(User.objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
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

    def user_change_password(self, request, id, form_url=""):
        # Django's view checks has_change_permission for the user (so user_may_manage) and saves;
        # the hash before and after tells whether it did, for the audit trail.
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            response = super().user_change_password(request, id, form_url)
            if user is not None and User.objects.get(pk=user.pk).password != user.password:
                user_password_change_record(actor=Actor.from_request(request), user=user)
        return response


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
