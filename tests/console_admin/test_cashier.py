"""The console's cashier: an admin creates a player and credits or debits the wallet with a reason, through
the player's own wallet services (every rule of a deposit or a withdrawal applies), audited with the admin."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditLog
from ledger.models import Account, Transfer
from ledger.services import house_account
from risk.models import PlayerRestriction
from tests.conftest import audit_rows, ledger_snapshot, wallet_of
from tests.console_admin.conftest import messages_of, refused_with

pytestmark = pytest.mark.django_db


def cashier_url(user) -> str:
    return reverse("admin:accounts_user_cashier", args=[user.pk])


def test_an_admin_credits_a_player_with_a_reason_audited_as_the_admin(console, make_user):
    player = make_user("player")
    admin = console("admin")
    page = admin.get(reverse("admin:accounts_user_change", args=[player.pk]))
    assert cashier_url(player).encode() in page.content
    # when
    response = admin.post(cashier_url(player), {"direction": "credit", "amount": "10000.00",
                                                "reason": "Regulator walkthrough top-up"}, follow=True)
    # then
    assert response.redirect_chain[-1][0] == reverse("admin:accounts_user_change", args=[player.pk])
    assert any("balance 10000.00" in m for m in messages_of(response))
    wallet = wallet_of(player)
    assert wallet.balance == Decimal("10000.00")
    transfer = Transfer.objects.get(credit_account=wallet)
    assert (transfer.debit_account_id, transfer.kind, transfer.amount) == (
        house_account(Account.House.CASHIER).pk, Transfer.Kind.DEPOSIT, Decimal("10000.00"))
    assert transfer.metadata == {"reason": "Regulator walkthrough top-up"}
    staff_member = User.objects.get(pk=response.wsgi_request.user.pk)
    assert transfer.created_by_id == staff_member.pk
    row = audit_rows("wallet.deposit", AuditLog.Outcome.SUCCESS).get()
    assert (row.actor_id, row.actor_role, row.resource_id) == (staff_member.pk, "admin", str(player.pk))
    assert row.details["reason"] == "Regulator walkthrough top-up"
    assert row.details["amount"] == "10000.00"


def test_an_admin_debits_a_player(console, make_user):
    player = make_user("player", balance="500.00")
    # when
    response = console("admin").post(cashier_url(player), {"direction": "debit", "amount": "120.50",
                                                            "reason": "Correction of a double top-up"})
    # then
    assert response.status_code == 302
    wallet = wallet_of(player)
    assert wallet.balance == Decimal("379.50")
    transfer = Transfer.objects.get(debit_account=wallet)
    assert (transfer.credit_account_id, transfer.kind, transfer.amount) == (
        house_account(Account.House.CASHIER).pk, Transfer.Kind.WITHDRAWAL, Decimal("120.50"))
    row = audit_rows("wallet.withdrawal", AuditLog.Outcome.SUCCESS).get()
    assert (row.actor_role, row.details["reason"]) == ("admin", "Correction of a double top-up")


def test_a_debit_past_the_balance_is_refused_and_changes_nothing(console, make_user):
    player = make_user("player", balance="100.00")
    before = ledger_snapshot()
    # when
    response = console("admin").post(cashier_url(player), {"direction": "debit", "amount": "100.01",
                                                            "reason": "Too much"})
    # then
    assert response.status_code == 422
    assert refused_with(response, "insufficient_funds")
    assert ledger_snapshot() == before
    assert audit_rows("wallet.withdrawal", AuditLog.Outcome.REFUSED).get().details["reason"] == "Too much"


def test_a_credit_for_a_self_excluded_player_is_refused_and_changes_nothing(console, make_user):
    player = make_user("player", balance="100.00")
    PlayerRestriction.objects.update_or_create(
        player=player, defaults={"self_excluded_until": timezone.now() + timedelta(days=30)})
    before = ledger_snapshot()
    # when
    response = console("admin").post(cashier_url(player), {"direction": "credit", "amount": "50.00",
                                                            "reason": "Goodwill"})
    # then
    assert response.status_code >= 400
    assert any(m.startswith("self_excluded") for m in messages_of(response)), messages_of(response)
    assert ledger_snapshot() == before
    assert not audit_rows("wallet.deposit", AuditLog.Outcome.SUCCESS).exclude(actor_role="system").exists()


def test_no_reason_is_refused(console, make_user):
    player = make_user("player", balance="100.00")
    admin = console("admin")
    before, audited = ledger_snapshot(), AuditLog.objects.count()
    # when
    response = admin.post(cashier_url(player), {"direction": "credit", "amount": "50.00",
                                                            "reason": ""})
    # then
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert ledger_snapshot() == before
    assert AuditLog.objects.count() == audited


@pytest.mark.parametrize("role", ["trader", "compliance", "regulator"])
def test_other_staff_roles_may_not_use_the_cashier(console, make_user, role):
    player = make_user("player", balance="100.00")
    client = console(role)
    before = ledger_snapshot()
    assert client.get(cashier_url(player)).status_code == 403
    assert client.post(cashier_url(player), {"direction": "credit", "amount": "50.00",
                                             "reason": "No"}).status_code == 403
    assert ledger_snapshot() == before
    page = client.get(reverse("admin:accounts_user_change", args=[player.pk]))
    assert cashier_url(player).encode() not in page.content


def test_a_staff_user_has_no_cashier(console, make_user):
    trader = make_user("trader")
    admin = console("admin")
    assert admin.get(cashier_url(trader)).status_code == 404
    assert admin.post(cashier_url(trader), {"direction": "credit", "amount": "50.00",
                                            "reason": "No"}).status_code == 404
    page = admin.get(reverse("admin:accounts_user_change", args=[trader.pk]))
    assert page.status_code == 200 and b"/cashier/" not in page.content


def test_a_player_created_in_the_admin_can_be_credited(console, make_user):
    admin = console("admin")
    # when
    response = admin.post(reverse("admin:accounts_user_add"), {
        "username": "walkthrough", "password1": "another-long-pass-9", "password2": "another-long-pass-9",
        "usable_password": "true", "role": "player", "country": "GB"})
    # then
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    player = User.objects.get(username="walkthrough")
    assert list(player.groups.values_list("name", flat=True)) == ["player"]
    assert not player.is_staff and wallet_of(player).balance == Decimal("0.00")
    added = audit_rows("user.add").get()
    assert added.details["after"]["groups"] == ["player"]
    credited = admin.post(cashier_url(player), {"direction": "credit", "amount": "10000.00", "reason": "Top-up"})
    assert credited.status_code == 302
    assert wallet_of(player).balance == Decimal("10000.00")


def test_a_user_added_without_a_role_has_no_cashier(console):
    admin = console("admin")
    admin.post(reverse("admin:accounts_user_add"), {
        "username": "nobody-yet", "password1": "another-long-pass-9", "password2": "another-long-pass-9",
        "usable_password": "true", "role": ""})
    user = User.objects.get(username="nobody-yet")
    assert not user.groups.exists() and not Group.objects.get(name="player").user_set.filter(pk=user.pk).exists()
    assert admin.get(cashier_url(user)).status_code == 404


def test_the_admin_role_without_superuser_may_use_the_cashier(make_user):
    player = make_user("player")
    staff_admin = make_user("admin")
    User.objects.filter(pk=staff_admin.pk).update(is_superuser=False)
    client = Client()
    client.force_login(User.objects.get(pk=staff_admin.pk))
    # when
    response = client.post(cashier_url(player), {"direction": "credit", "amount": "25.00", "reason": "Top-up"})
    # then
    assert response.status_code == 302
    assert wallet_of(player).balance == Decimal("25.00")
