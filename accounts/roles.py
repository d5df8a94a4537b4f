"""The roles (Django groups) and what each may do, as permission codenames.

A data migration creates the groups from this table. When a new app's permissions join the table,
a new migration that depends on that app re-runs ``roles_sync``; earlier migrations skip the
permissions whose models do not exist yet at their point in history.
"""

from audit.context import ROLES

VIEW_LEDGER = ["ledger.view_account", "ledger.view_transfer", "ledger.view_checkpoint"]
VIEW_EVENTS = ["events.view_sport", "events.view_competition", "events.view_event", "events.view_market",
               "events.view_outcome", "events.view_oddstick"]
TRADE = [*VIEW_EVENTS, "events.add_event", "events.change_event", "events.change_market",
         "events.change_outcome", "events.add_competition", "events.change_sport", "betting.settle_bet"]
VIEW_BETS = ["betting.view_bet", "betting.view_betleg"]
EXPORTS = ["betting.export_reports"]
VIEW_RISK = ["risk.view_limitprofile", "risk.view_exposurecap", "risk.view_outcomeexposure",
             "risk.view_geofence", "risk.view_playerrestriction"]
MANAGE_LIMITS = ["risk.add_limitprofile", "risk.change_limitprofile", "risk.delete_limitprofile",
                 "risk.add_exposurecap", "risk.change_exposurecap", "risk.delete_exposurecap",
                 "risk.change_geofence"]
VIEW_AUDIT = ["audit.view_auditlog", "audit.export_auditlog", "audit.view_notification"]
# Challenges and the money moved for them; the liquidity audit's results are compliance's to read.
VIEW_P2P = ["betting.view_challenge", "wallet.view_gatewaytransfer", "wallet.view_externaltransaction"]
VIEW_ESCROW_AUDIT = ["betting.view_escrowaudit"]
# Transaction-monitoring alerts: regulators read them (and export them), compliance works them.
VIEW_AML = ["risk.view_amlalert"]
WORK_AML = ["risk.change_amlalert"]
# Identity documents (KYC): regulators read the queue, numbers masked; compliance decides, and reads a
# document's number and scan in full.
VIEW_KYC = ["risk.view_kycdocument"]
REVIEW_KYC = ["risk.change_kycdocument"]
# Agents' commission statements: compliance decides them, regulators read them; the admin runs tenants.
VIEW_COMMISSIONS = ["agents.view_commissionplan", "agents.view_commissionstatement", "agents.view_commissionline"]
DECIDE_COMMISSIONS = ["agents.change_commissionstatement"]
# The casino sandbox's rounds and seed pairs (a seed pair's server seed is shown once revealed).
VIEW_CASINO = ["casino.view_round", "casino.view_seedpair"]
MANAGE_TENANTS = ["accounts.view_tenant", "accounts.add_tenant", "accounts.change_tenant",
                  "agents.change_commissionplan"]

PERMISSIONS: dict[str, list[str]] = {
    "player": [],
    "agent": [],
    "trader": [*VIEW_LEDGER, *TRADE, *VIEW_BETS, *VIEW_RISK, *VIEW_P2P, *VIEW_CASINO],
    "compliance": [*VIEW_LEDGER, *VIEW_AUDIT, *VIEW_EVENTS, *VIEW_BETS, *VIEW_RISK, *MANAGE_LIMITS, *EXPORTS,
                   *VIEW_P2P, *VIEW_ESCROW_AUDIT, *VIEW_AML, *WORK_AML, *VIEW_KYC, *REVIEW_KYC, "accounts.view_user",
                   "accounts.change_user", *VIEW_COMMISSIONS, *DECIDE_COMMISSIONS, *VIEW_CASINO],
    "regulator": [*VIEW_LEDGER, *VIEW_AUDIT, *VIEW_EVENTS, *VIEW_BETS, *VIEW_RISK, *EXPORTS, *VIEW_P2P,
                  *VIEW_ESCROW_AUDIT, *VIEW_AML, *VIEW_KYC, "accounts.view_user", *VIEW_COMMISSIONS,
                  "accounts.view_tenant", *VIEW_CASINO],
    "admin": [*VIEW_LEDGER, *VIEW_AUDIT, *TRADE, *VIEW_BETS, *VIEW_RISK, *MANAGE_LIMITS, *EXPORTS, *VIEW_P2P,
              *VIEW_ESCROW_AUDIT, *VIEW_AML, *WORK_AML, *VIEW_KYC, *REVIEW_KYC, "accounts.view_user",
              "accounts.add_user", "accounts.change_user", "auth.view_group", "auth.change_group", *VIEW_COMMISSIONS,
              *DECIDE_COMMISSIONS, *MANAGE_TENANTS, *VIEW_CASINO],
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
            perms += Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        group.permissions.set(perms)
