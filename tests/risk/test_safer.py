"""Safer gambling (risk.safer, risk/sql.py): the player's own limits with the cooling-off, the rolling
periods at their edges, the time-out and the self-exclusion on every path that moves money."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.context import Actor
from betting.challenges import challenge_create
from ledger.selectors import ledger_verify
from risk.models import LimitChange, PlayerRestriction
from risk.rules import own_limit_violations
from risk.safer import limit_changes_apply, limits_of, limits_set, self_exclude, time_out
from tests.conftest import audit_rows, bets_snapshot, ledger_snapshot, outcome_of, selection, wallet_of
from wallet.external import external_wallet_open


def test_a_tighter_limit_applies_at_once_and_a_looser_one_only_after_the_cooling_off(player):
    # given a deposit limit of 100.00 set at t0
    t0 = timezone.now()
    actor = Actor.of(player)
    limits_set(player=player, changes={"deposit_day": "100.00"}, actor=actor, now=t0)
    # when it is tightened to 50.00, then loosened to 200.00 an hour on
    tightened = limits_set(player=player, changes={"deposit_day": "50.00"}, actor=actor, now=t0)
    loosened = limits_set(player=player, changes={"deposit_day": "200.00"}, actor=actor,
                          now=t0 + timedelta(hours=1))
    # then the tighter one holds at once, the looser one waits 24 h
    assert tightened.values["deposit_day"] == Decimal("50.00") and tightened.pending == []
    assert loosened.values["deposit_day"] == Decimal("50.00")
    [change] = loosened.pending
    assert (change.limit, change.value, change.effective_at) == ("deposit_day", Decimal("200.00"),
                                                                  t0 + timedelta(hours=25))
    # not a second before its time, and at its time
    just_before = limits_of(player=player, now=t0 + timedelta(hours=25) - timedelta(seconds=1))
    assert just_before.values["deposit_day"] == Decimal("50.00") and len(just_before.pending) == 1
    on_time = limits_of(player=player, now=t0 + timedelta(hours=25))
    assert on_time.values["deposit_day"] == Decimal("200.00") and on_time.pending == []
    assert audit_rows("rg.limit_loosened").get().details == {
        "limit": "deposit_day", "value": "200.00", "requested_at": (t0 + timedelta(hours=1)).isoformat()}


def test_a_removal_waits_too_and_setting_the_current_value_withdraws_it(player):
    t0 = timezone.now()
    actor = Actor.of(player)
    limits_set(player=player, changes={"loss_week": "300.00", "session_minutes": 60}, actor=actor, now=t0)
    # when both are removed, then the session limit is set back to its value
    waiting = limits_set(player=player, changes={"loss_week": None, "session_minutes": None}, actor=actor, now=t0)
    kept = limits_set(player=player, changes={"session_minutes": 60}, actor=actor, now=t0)
    # then the removals wait; the second request withdrew the session's
    assert {c.limit for c in waiting.pending} == {"loss_week", "session_minutes"}
    assert [(c.limit, c.value) for c in kept.pending] == [("loss_week", None)]
    assert LimitChange.objects.get(limit="session_minutes").status == LimitChange.Status.WITHDRAWN
    # and the beat applies the removal when it falls due, not before
    assert limit_changes_apply(now=t0 + timedelta(hours=23)) == 0
    assert limit_changes_apply(now=t0 + timedelta(hours=24)) == 1
    restriction = PlayerRestriction.objects.get(player=player)
    assert (restriction.loss_week, restriction.session_minutes) == (None, 60)


@pytest.mark.parametrize(("ago", "counts"), [
    (timedelta(hours=24) - timedelta(seconds=1), True),
    (timedelta(hours=24), False),
    (timedelta(hours=24, seconds=1), False),
])
def test_a_deposit_counts_in_the_rolling_day_until_24_hours_have_passed(make_user, ago, counts):
    # given a player who deposited 100.00 just now, and a 24-hour deposit limit of 150.00
    player = make_user(balance="100.00")
    deposited_at = _last_deposit_time(player)
    PlayerRestriction.objects.create(player=player, deposit_day=Decimal("150.00"))
    at = deposited_at + ago
    # when 60.00 more is asked for at that time
    found = own_limit_violations(player_id=player.pk, wallet_id=wallet_of(player).pk, amount=Decimal("60.00"),
                                 deposit=True, now=at)
    # then it is refused while the first deposit counts, and passes once it no longer does
    used = limits_of(player=player, now=at).used["deposit"]
    assert used["day"] == (Decimal("100.00") if counts else Decimal("0.00"))
    assert used["week"] == used["month"] == Decimal("100.00")
    assert [(v.error, v.details["remaining"]) for v in found] == ([("deposit_limit", "50.00")] if counts else [])


def _last_deposit_time(player):
    from ledger.models import Transfer

    return Transfer.objects.filter(credit_account=wallet_of(player), kind=Transfer.Kind.DEPOSIT).latest(
        "entry_number").created_at


def test_the_period_with_least_room_left_decides_a_deposit(api, make_user):
    # given 100.00 deposited, a weekly limit of 120.00 and a monthly one of 500.00
    player = make_user(balance="100.00")
    limits_set(player=player, changes={"deposit_week": "120.00", "deposit_month": "500.00"}, actor=Actor.of(player))
    before = ledger_snapshot()
    # when 20.01 more is deposited over the API
    response = api(player).post("/api/v1/wallet/deposits", {"amount": "20.01"}, format="json")
    # then the week refuses it, saying how much room is left, and nothing moved
    assert response.status_code == 422
    assert response.json()["error"] == "deposit_limit"
    assert {k: response.json()["details"][k] for k in ("limit", "period", "remaining")} == {
        "limit": "120.00", "period": "week", "remaining": "20.00"}
    assert ledger_snapshot() == before
    assert api(player).post("/api/v1/wallet/deposits", {"amount": "20.00"}, format="json").status_code == 201


def _challenge(player, event):
    return challenge_create(creator=player, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                            funding="internal", actor=Actor.of(player))


def _top_up(player):
    external_wallet_open(user=player, actor=Actor.of(player))
    return lambda client, event: client.post("/api/v1/external-wallet/top-ups", {"amount": "10.00"}, format="json")


MONEY_PATHS = {
    "deposit": lambda client, event: client.post("/api/v1/wallet/deposits", {"amount": "10.00"}, format="json"),
    "bet": lambda client, event: client.post("/api/v1/bets", {"selections": [selection(event)], "stake": "10.00",
                                                               "bet_type": "single"}, format="json"),
    "challenge": lambda client, event: client.post("/api/v1/challenges", {
        "event_id": event.pk, "outcome_id": outcome_of(event).pk, "stake": "10.00", "funding": "internal"},
        format="json"),
}


@pytest.mark.parametrize("path", [*MONEY_PATHS, "accept", "top_up"])
@pytest.mark.parametrize("commitment", ["time_out", "self_exclusion"])
def test_every_money_path_is_refused_during_a_break_and_changes_nothing(api, make_user, make_event, path,
                                                                         commitment):
    # given a funded player who takes a break (and, for an acceptance, another player's open challenge)
    player, other, event = make_user(balance="100.00"), make_user(balance="100.00"), make_event()
    send = MONEY_PATHS.get(path)
    if path == "accept":
        offered = _challenge(other, event)
        send = lambda client, event: client.post(f"/api/v1/challenges/{offered.pk}/accept",  # noqa: E731
                                                 {"funding": "internal"}, format="json")
    elif path == "top_up":
        send = _top_up(player)
    if commitment == "time_out":
        until = time_out(player=player, days=1, actor=Actor.of(player))
    else:
        until = self_exclude(player=player, months=6, actor=Actor.of(player))
    before = (ledger_snapshot(), bets_snapshot())
    # when the player tries to move money
    response = send(api(player), event)
    # then 403 self_excluded until the break's end, and nothing changed
    assert response.status_code == 403, response.json()
    assert response.json()["error"] == "self_excluded"
    assert response.json()["details"]["until"].startswith(until.isoformat()[:19])
    assert (ledger_snapshot(), bets_snapshot()) == before


@pytest.mark.parametrize("commitment", ["time_out", "self_exclusion"])
def test_a_player_on_a_break_still_withdraws_and_their_open_bets_stand(api, make_user, make_event, commitment):
    player = make_user(balance="100.00")
    placed = api(player).post("/api/v1/bets", {"selections": [selection(make_event())], "stake": "10.00",
                                               "bet_type": "single"}, format="json").json()
    if commitment == "time_out":
        time_out(player=player, days=42, actor=Actor.of(player))
    else:
        self_exclude(player=player, months=60, actor=Actor.of(player))
    response = api(player).post("/api/v1/wallet/withdrawals", {"amount": "50.00"}, format="json")
    assert response.status_code == 201, response.json()
    assert wallet_of(player).balance == Decimal("40.00")
    assert api(player).get(f"/api/v1/bets/{placed['id']}").json()["status"] == "accepted"
    assert ledger_verify().ok


def test_a_break_cannot_be_shortened_by_the_player_nor_lifted_by_staff(player):
    # given a 10-day time-out and a 12-month self-exclusion
    actor = Actor.of(player)
    long_break = time_out(player=player, days=10, actor=actor)
    excluded = self_exclude(player=player, months=12, actor=actor)
    # when the player asks for a shorter break, the later end stands
    assert time_out(player=player, days=2, actor=actor) == long_break
    assert self_exclude(player=player, months=6, actor=actor) == excluded
    # and a longer one extends it
    assert time_out(player=player, days=20, actor=actor) > long_break
    # and the database refuses anyone shortening, lifting or deleting them
    table = PlayerRestriction._meta.db_table
    for statement in [f"UPDATE {table} SET self_excluded_until = NULL",
                      f"UPDATE {table} SET timed_out_until = now()",
                      f"DELETE FROM {table}"]:
        with pytest.raises(DatabaseError, match="cannot be shortened"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(statement)
    restriction = PlayerRestriction.objects.get(player=player)
    assert restriction.self_excluded_until == excluded
    assert [row.details["until"] for row in audit_rows("rg.self_exclude").order_by("pk")] == [
        excluded.isoformat(), excluded.isoformat()]


def test_the_limits_api_answers_the_documented_shape(api, make_user):
    player = make_user(balance="100.00")
    client = api(player)
    response = client.put("/api/v1/me/limits", {"deposit_day": "500.00", "loss_month": "50.00",
                                                "reality_check_minutes": 30}, format="json")
    assert response.status_code == 200, response.json()
    client.put("/api/v1/me/limits", {"deposit_day": None}, format="json")
    body = client.get("/api/v1/me/limits").json()
    assert body["deposit"] == {"day": "500.00", "week": None, "month": None}
    assert body["loss"] == {"day": None, "week": None, "month": "50.00"}
    assert (body["max_stake"], body["session_minutes"], body["reality_check_minutes"]) == (None, None, 30)
    assert [(p["limit"], p["value"]) for p in body["pending"]] == [("deposit_day", None)]
    assert body["used"] == {"deposit": {"day": "100.00", "week": "100.00", "month": "100.00"},
                            "loss": {"day": "0.00", "week": "0.00", "month": "0.00"}}


@pytest.mark.parametrize("body", [
    {}, {"deposit_dayz": "5.00"}, {"deposit_day": 5.5}, {"deposit_day": "-1.00"}, {"deposit_day": "0"},
    {"deposit_day": "1e30"}, {"deposit_day": "12.345"}, {"deposit_day": "5\x00"}, {"deposit_day": "٣"},
    {"session_minutes": 0}, {"session_minutes": 1441}, {"session_minutes": 1.5}, {"session_minutes": True},
    {"session_minutes": "٣"}, {"reality_check_minutes": "10" * 40}, ["deposit_day"],
])
def test_bad_limits_are_refused_and_change_nothing(api, player, body):
    response = api(player).put("/api/v1/me/limits", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"] in {"invalid_request", "invalid_amount"}
    assert not PlayerRestriction.objects.filter(player=player).exists()
    assert not LimitChange.objects.exists()


@pytest.mark.parametrize(("url", "body"), [
    ("/api/v1/me/time-out", {"days": 0}), ("/api/v1/me/time-out", {"days": 43}),
    ("/api/v1/me/time-out", {"days": 1.5}), ("/api/v1/me/time-out", {"days": True}),
    ("/api/v1/me/time-out", {"days": "٣"}), ("/api/v1/me/time-out", {}),
    ("/api/v1/me/self-exclusion", {"months": 7}), ("/api/v1/me/self-exclusion", {"months": "6\x00"}),
    ("/api/v1/me/self-exclusion", {"months": 10**40}),
])
def test_bad_breaks_are_refused_and_change_nothing(api, player, url, body):
    response = api(player).post(url, body, format="json")
    assert response.status_code == 400, response.json()
    assert not PlayerRestriction.objects.filter(player=player).exists()


def test_staff_have_no_limits_to_set(api, make_user):
    trader = make_user("trader")
    response = api(trader).put("/api/v1/me/limits", {"deposit_day": "5.00"}, format="json")
    assert (response.status_code, response.json()["error"]) == (403, "not_a_player")
    assert api(trader).post("/api/v1/me/time-out", {"days": 1}, format="json").status_code == 403
