from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from oddslab.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Player", {"fields": ("country",)}))
    list_display = ["username", "email", "country", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups", "country"]
    search_fields = ["username", "email"]
