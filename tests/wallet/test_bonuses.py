"""POST /api/v1/bonuses: a trader or admin credits a player's wallet from the house bonus pool, with a
reason, in one ledger transfer, audited with the staff member as actor; the GGR report counts it."""

import json
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditLog
from betting.reports import ggr_report
from ledger.models import Account, Transfer
from ledger.selectors import ledger_verify
from ledger.services import house_account
from tests.conftest import audit_rows, ledger_snapshot, wallet_of

D = Decimal
URL = "/api/v1/bonuses"


@pytest.fixture
def trader(make_user):
    return make_user("trader", "tara")


def test_a_trader_credits_a_player_from_the_bonus_pool(api, trader, make_user):
    # given: a fresh database (no bonus ever paid) and a player with no wallet yet
    pool = house_account(Account.House.BONUS)
    assert pool.may_go_negative and not Transfer.objects.filter(kind=Transfer.Kind.BONUS).exists()
    newcomer = make_user("player", "nina")
    # when
    response = api(trader).post(URL, {"user_id": newcomer.pk, "amount": "25.00", "reason": " welcome offer "},
                                format="json")
    # then: one transfer, bonus pool → the player's wallet
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["balance"] == "25.00"
    assert body["transaction"]["kind"] == "bonus" and body["transaction"]["amount"] == "25.00"
    transfer = Transfer.objects.get(kind=Transfer.Kind.BONUS)
    assert transfer.debit_account == pool and transfer.credit_account == wallet_of(newcomer)
    assert transfer.amount == D("25.00") and transfer.created_by == trader
    assert transfer.reference == body["transaction"]["entry_number"]
    assert wallet_of(newcomer).balance == D("25.00")
    # the audit row: the trader as actor, the reason, the transfer
    record = audit_rows("bonus.credit", "success").get()
    assert record.actor == trader and record.actor_role == "trader"
    assert record.category == AuditLog.Category.WALLET
    assert record.resource_id == str(newcomer.pk) and record.resource_label == "nina"
    assert record.details["reason"] == "welcome offer" and record.details["amount"] == "25.00"
    assert record.details["transfer"] == transfer.reference
    # and the books still balance
    assert ledger_verify().problems == []


def test_an_admin_may_credit_a_bonus_too(api, make_user, player):
    admin = make_user("admin", "ada")
    response = api(admin).post(URL, {"user_id": player.pk, "amount": "0.01", "reason": "goodwill"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["balance"] == "1000.01"
    assert audit_rows("bonus.credit", "success").get().actor == admin


def test_the_ggr_report_counts_the_bonuses_of_its_period(api, trader, player, make_user):
    # given: three bonuses today (the ledger's transfers are append-only: none can be back-dated)
    other = make_user("player", "otto")
    for user, amount in ((player, "10.00"), (other, "2.50"), (player, "7.25")):
        assert api(trader).post(URL, {"user_id": user.pk, "amount": amount, "reason": "promo"},
                                format="json").status_code == 201
    today = timezone.now().date()
    # when
    report = ggr_report(start=today.isoformat(), end=today.isoformat(), viewer=None)
    # then: the period's bonuses, computed here from the ledger by hand
    expected = sum((t.amount for t in Transfer.objects.all()
                    if t.kind == "bonus" and t.created_at.astimezone(UTC).date() == today), D("0"))
    assert expected == D("19.75")
    assert report["total"]["bonuses"] == expected
    assert report["total"]["commissions"] == D("0.00")
    assert report["total"]["net_revenue"] == report["total"]["ggr"] - expected
    # and a period that ends yesterday has none, one that starts tomorrow none either
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    earlier = ggr_report(start=(today - timedelta(days=7)).isoformat(), end=yesterday.isoformat(), viewer=None)
    later = ggr_report(start=tomorrow.isoformat(), end=tomorrow.isoformat(), viewer=None)
    assert earlier["total"]["bonuses"] == later["total"]["bonuses"] == D("0.00")
    assert earlier["total"]["net_revenue"] == earlier["total"]["ggr"]
    # and with no bounds, everything
    assert ggr_report(start=None, end=None, viewer=None)["total"]["bonuses"] == D("19.75")


def test_the_ggr_api_answers_bonuses_and_net_revenue(api, trader, player, make_user):
    api(trader).post(URL, {"user_id": player.pk, "amount": "4.00", "reason": "promo"}, format="json")
    today = timezone.now().date().isoformat()
    regulator = make_user("regulator", "rex")
    response = api(regulator).get("/api/v1/reports/ggr", {"start": today, "end": today})
    assert response.status_code == 200, response.json()
    total = response.json()["total"]
    assert D(total["bonuses"]) == D("4.00") and D(total["commissions"]) == 0
    assert D(total["net_revenue"]) == D(total["ggr"]) - D("4.00")


def _refused(response, status: int, code: str, before) -> None:
    assert response.status_code == status, response.json()
    assert response.json()["error"] == code and response.json()["message"]
    assert ledger_snapshot() == before
    assert not audit_rows("bonus.credit", "success").exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_bonus_needs_a_reason(api, trader, player, reason):
    before = ledger_snapshot()
    body = {"user_id": player.pk, "amount": "5.00"} | ({} if reason is None else {"reason": reason})
    response = api(trader).post(URL, body, format="json")
    _refused(response, 400, "reason_required", before)
    assert audit_rows("bonus.credit", "refused").get().details["error"] == "reason_required"


def test_a_reason_over_200_characters_is_refused(api, trader, player):
    before = ledger_snapshot()
    response = api(trader).post(URL, {"user_id": player.pk, "amount": "5.00", "reason": "x" * 201}, format="json")
    _refused(response, 400, "invalid_request", before)
    assert response.json()["details"]["field"] == "reason"
    # 200 is fine
    assert api(trader).post(URL, {"user_id": player.pk, "amount": "5.00", "reason": "x" * 200},
                            format="json").status_code == 201


@pytest.mark.parametrize("amount", ["0", "-5.00", "1.234", "abc", "", 10.5, None, True, "٣", "1e3000"])
def test_bad_amounts_get_invalid_amount_and_change_nothing(api, trader, player, amount):
    before = ledger_snapshot()
    response = api(trader).post(URL, {"user_id": player.pk, "amount": amount, "reason": "promo"}, format="json")
    _refused(response, 400, "invalid_amount", before)
    assert audit_rows("bonus.credit", "refused").count() == 1


def test_a_nul_in_the_body_is_refused_by_the_parser(api, trader, player):
    before = ledger_snapshot()
    response = api(trader).post(URL, json.dumps({"user_id": player.pk, "amount": "5.00", "reason": "pro\u0000mo"}),
                                content_type="application/json")
    _refused(response, 400, "invalid_request", before)
    assert not audit_rows("bonus.credit").exists()


@pytest.mark.parametrize("role", ["trader", "agent", "compliance", "regulator", "admin"])
def test_only_a_player_receives_a_bonus(api, trader, make_user, role):
    staff = make_user(role, f"target-{role}")
    before = ledger_snapshot()
    response = api(trader).post(URL, {"user_id": staff.pk, "amount": "5.00", "reason": "promo"}, format="json")
    _refused(response, 403, "not_a_player", before)
    assert response.json()["details"] == {"role": role}
    assert not Account.objects.filter(owner=staff).exists()
    assert audit_rows("bonus.credit", "refused").get().actor == trader


@pytest.mark.parametrize("user_id", [987654321, "abc", None])
def test_an_unknown_user_is_a_404_and_a_bad_id_a_400(api, trader, user_id):
    before = ledger_snapshot()
    response = api(trader).post(URL, {"user_id": user_id, "amount": "5.00", "reason": "promo"}, format="json")
    if user_id == 987654321:
        _refused(response, 404, "not_found", before)
    else:
        _refused(response, 400, "invalid_request", before)


@pytest.mark.parametrize("role", ["player", "agent", "compliance", "regulator"])
def test_other_roles_are_forbidden_and_anonymous_must_log_in(api, make_user, player, role):
    caller = make_user(role, f"caller-{role}", balance="10.00" if role == "player" else None)
    before = ledger_snapshot()
    body = {"user_id": player.pk, "amount": "5.00", "reason": "promo"}
    _refused(api(caller).post(URL, body, format="json"), 403, "forbidden", before)
    _refused(api().post(URL, body, format="json"), 401, "not_authenticated", before)
    assert not audit_rows("bonus.credit").exists()


def test_same_idempotency_key_and_body_returns_the_first_answer(api, trader, player):
    body = {"user_id": player.pk, "amount": "5.00", "reason": "promo"}
    first = api(trader).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="bonus-1")
    assert first.status_code == 201
    api(trader).post(URL, {**body, "amount": "1.00"}, format="json")  # another bonus in between
    again = api(trader).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="bonus-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert Transfer.objects.filter(kind=Transfer.Kind.BONUS).count() == 2
    assert wallet_of(player).balance == D("1006.00")


@pytest.mark.parametrize("change", [{"amount": "6.00"}, {"reason": "another"}, {"user_id": "other"}])
def test_same_idempotency_key_with_another_body_is_a_409(api, trader, player, make_user, change):
    other = make_user("player", "olga")
    body = {"user_id": player.pk, "amount": "5.00", "reason": "promo"}
    assert api(trader).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="bonus-2").status_code == 201
    before = ledger_snapshot()
    changed = {**body, **change} | ({"user_id": other.pk} if "user_id" in change else {})
    response = api(trader).post(URL, changed, format="json", HTTP_IDEMPOTENCY_KEY="bonus-2")
    assert response.status_code == 409, response.json()
    assert response.json()["error"] == "idempotency_conflict"
    assert ledger_snapshot() == before


def test_idempotency_keys_are_per_staff_member(api, trader, make_user, player):
    admin = make_user("admin", "ada")
    body = {"user_id": player.pk, "amount": "5.00", "reason": "promo"}
    assert api(trader).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert api(admin).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert wallet_of(player).balance == D("1010.00")


def test_an_invalid_idempotency_key_is_refused(api, trader, player):
    before = ledger_snapshot()
    response = api(trader).post(URL, {"user_id": player.pk, "amount": "5.00", "reason": "promo"}, format="json",
                                HTTP_IDEMPOTENCY_KEY="k" * 101)
    _refused(response, 400, "invalid_idempotency_key", before)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_key_sent_at_once_for_two_players_credits_one_and_is_a_conflict_for_the_other(make_user):
    # given a trader's one key, used at the same moment for two players
    from audit.context import Actor
    from core.errors import DomainError
    from tests.conftest import run_concurrently
    from wallet.bonuses import bonus_credit

    trader, players = make_user("trader"), [make_user(), make_user()]
    # when both requests run at once
    results = run_concurrently(2, lambda i: bonus_credit(user_id=players[i].pk, amount="5.00", reason="promo",
                                                         actor=Actor.of(trader), idempotency_key="k-1"))
    # then one is credited and the other is refused as a conflict (not a duplicate-key error)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert [r.code for r in refused] == ["idempotency_conflict"], results
    assert len([r for r in results if type(r).__name__ == "WalletMovement"]) == 1
    assert Transfer.objects.filter(kind=Transfer.Kind.BONUS).count() == 1
    assert ledger_verify().ok
