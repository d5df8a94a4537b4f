"""The roles (Django groups) and what each may do, as permission codenames.

A data migration creates the groups from this table; a later migration that adds a model adds its
permissions to the table and re-runs ``roles_sync``.
"""

from audit.context import ROLES

VIEW_LEDGER = ["ledger.view_account", "ledger.view_transfer", "ledger.view_checkpoint"]
VIEW_AUDIT = ["audit.view_auditlog", "audit.export_auditlog", "audit.view_notification"]

PERMISSIONS: dict[str, list[str]] = {
    "player": [],
    "agent": [],
    "trader": [*VIEW_LEDGER],
    "compliance": [*VIEW_LEDGER, *VIEW_AUDIT, "accounts.view_user", "accounts.change_user"],
    "regulator": [*VIEW_LEDGER, *VIEW_AUDIT, "accounts.view_user"],
    "admin": [*VIEW_LEDGER, *VIEW_AUDIT, "accounts.view_user", "accounts.add_user",
              "accounts.change_user", "auth.view_group", "auth.change_group"],
}
STAFF_ROLES = {"trader", "compliance", "regulator", "admin"}
assert set(PERMISSIONS) == set(ROLES)


def roles_sync(apps) -> None:
    """Create the groups and give each exactly its permissions (used by migrations)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(perms)
