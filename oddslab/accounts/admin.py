from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from oddslab.accounts.models import User

# Who holds which role is the admin role's decision: compliance may edit a player's details, but
# granting a role (or superuser, or single permissions) to anyone, itself included, is not its part.
PRIVILEGE_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Player", {"fields": ("country",)}))
    list_display = ["username", "email", "country", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups", "country"]
    search_fields = ["username", "email"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, *PRIVILEGE_FIELDS]
