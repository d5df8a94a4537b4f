"""Every refusal code: the right status and code, nothing changed, and an audit record."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import Actor
from events.services import market_suspend, outcome_price_set
from risk.models import ExposureCap, Geofence, LimitProfile, PlayerRestriction
from tests.conftest import audit_rows, bets_snapshot, ledger_snapshot, selection


def _global(**limits):
    LimitProfile.objects.create(scope="global", **limits)


def _slip(events, stake="10.00", **overrides):
    return {"selections": [selection(e) for e in events], "stake": stake,
            "bet_type": "single" if len(events) == 1 else "multiple", "odds_change": "none", **overrides}


# Each case: (code, status, setup(player, make_event) -> request body)
def insufficient_funds(player, make_event):
    return _slip([make_event()], stake="1000.01")


def stake_below_min(player, make_event):
    return _slip([make_event()], stake="0.99")


def stake_above_max(player, make_event):
    _global(max_stake=Decimal("50.00"))
    return _slip([make_event()], stake="50.01")


def odds_below_min(player, make_event):
    _global(min_price=Decimal("1.20"))
    return _slip([make_event(home="1.10")])


def odds_above_max(player, make_event):
    return _slip([make_event(home="100.01")])


def combined_odds_above_max(player, make_event):
    return _slip([make_event(home="40.00"), make_event(home="30.00")], stake="1.00")


def related_selections(player, make_event):
    event = make_event()
    return {"selections": [selection(event, "home"), selection(event, "draw")], "stake": "10.00",
            "bet_type": "multiple"}


def odds_changed(player, make_event):
    event = make_event(home="2.50")
    body = _slip([event])
    outcome_price_set(outcome_id=body["selections"][0]["outcome_id"], price="2.40", reason="test",
                      actor=Actor.system("test"))
    return body


def market_unavailable(player, make_event):
    event = make_event()
    market_suspend(market_id=event.markets.get().pk, actor=Actor.system("test"))
    return _slip([event])


def exposure_limit(player, make_event):
    ExposureCap.objects.create(cap=Decimal("100.00"))
    return _slip([make_event(home="2.50")], stake="40.01")


def velocity_limit(player, make_event):
    _global(velocity_max_bets=0)
    return _slip([make_event()])


def self_excluded(player, make_event):
    PlayerRestriction.objects.create(player=player, self_excluded_until=timezone.now() + timedelta(days=30))
    return _slip([make_event()])


def geo_blocked(player, make_event):
    Geofence.objects.filter(pk=1).update(enabled=True, blocked_countries=["GB"])
    return _slip([make_event()])


def loss_limit(player, make_event):
    PlayerRestriction.objects.create(player=player, loss_day=Decimal("5.00"))
    return _slip([make_event()])


def invalid_amount(player, make_event):
    return _slip([make_event()], stake="10.001")


CASES = [
    (insufficient_funds, 422), (stake_below_min, 422), (stake_above_max, 422), (odds_below_min, 422),
    (odds_above_max, 422), (combined_odds_above_max, 422), (related_selections, 422),
    (odds_changed, 409), (market_unavailable, 409), (exposure_limit, 422), (velocity_limit, 429),
    (self_excluded, 403), (geo_blocked, 403), (loss_limit, 422), (invalid_amount, 400),
]


@pytest.mark.parametrize(("setup", "status"), CASES, ids=[case.__name__ for case, _ in CASES])
def test_each_refusal_changes_nothing_and_is_audited(api, player, make_event, setup, status):
    # given
    body = setup(player, make_event)
    before = bets_snapshot()
    # when
    response = api(player).post("/api/v1/bets", body, format="json")
    # then
    assert response.status_code == status, response.json()
    refusal = response.json()
    assert refusal["error"] == setup.__name__
    assert refusal["message"]
    assert bets_snapshot() == before
    record = audit_rows("bet.place", "refused").get()
    assert record.details["error"] == setup.__name__ and record.actor == player


def test_stake_bound_refusals_suggest_a_stake_that_passes(api, player, make_event):
    ExposureCap.objects.create(cap=Decimal("100.00"))
    event = make_event(home="2.50")
    refused = api(player).post("/api/v1/bets", _slip([event], stake="40.01"), format="json").json()
    suggested = refused["details"]["max_allowed_stake"]
    assert suggested == "40.00"
    accepted = api(player).post("/api/v1/bets", _slip([event], stake=suggested), format="json")
    assert accepted.status_code == 201


def test_odds_changed_carries_the_current_prices_and_higher_takes_a_better_price(api, player, make_event):
    event = make_event(home="2.50")
    body = _slip([event])
    outcome_id = body["selections"][0]["outcome_id"]
    outcome_price_set(outcome_id=outcome_id, price="2.60", reason="test", actor=Actor.system("test"))
    refused = api(player).post("/api/v1/bets", body, format="json").json()
    assert refused["details"]["prices"] == [{"outcome_id": outcome_id, "price": "2.600", "seen_price": "2.500"}]
    taken = api(player).post("/api/v1/bets", {**body, "odds_change": "higher"}, format="json")
    assert taken.status_code == 201 and taken.json()["legs"][0]["price"] == "2.600"
    outcome_price_set(outcome_id=outcome_id, price="2.40", reason="test", actor=Actor.system("test"))
    worse = api(player).post("/api/v1/bets", {**body, "odds_change": "higher"}, format="json")
    assert worse.json()["error"] == "odds_changed"
    any_price = api(player).post("/api/v1/bets", {**body, "odds_change": "any"}, format="json")
    assert any_price.status_code == 201 and any_price.json()["legs"][0]["price"] == "2.400"


def test_geofencing_uses_the_trusted_header_when_configured(api, player, make_event, settings):
    Geofence.objects.filter(pk=1).update(enabled=True, blocked_countries=["FR"])
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    body = _slip([make_event()])
    refused = api(player).post("/api/v1/bets", body, format="json", HTTP_CF_IPCOUNTRY="fr")
    assert refused.status_code == 403 and refused.json()["error"] == "geo_blocked"
    allowed = api(player).post("/api/v1/bets", body, format="json", HTTP_CF_IPCOUNTRY="GB")
    assert allowed.status_code == 201


def test_geofencing_is_off_by_default(api, player, make_event):
    Geofence.objects.filter(pk=1).update(blocked_countries=["GB"])
    assert api(player).post("/api/v1/bets", _slip([make_event()]), format="json").status_code == 201


# Deposits meet the player gate and the deposit rules too.
@pytest.mark.parametrize(("code", "status", "restriction"), [
    ("deposit_limit", 422, {"deposit_day": Decimal("1000.00")}),
    ("self_excluded", 403, {"self_excluded_until": timezone.now() + timedelta(days=1)}),
    ("kyc_required", 403, {}),
    ("geo_blocked", 403, None),
])
def test_deposit_refusals_change_nothing_and_are_audited(api, player, settings, code, status, restriction):
    # given (the player has deposited 1,000 today)
    settings.RISK_KYC_DEPOSIT_THRESHOLD = "1000.50"
    if restriction is None:
        Geofence.objects.filter(pk=1).update(enabled=True, blocked_countries=["GB"])
    else:
        PlayerRestriction.objects.create(player=player, **restriction)
    before = ledger_snapshot()
    # when
    response = api(player).post("/api/v1/wallet/deposits", {"amount": "1.00"}, format="json")
    # then
    assert response.status_code == status, response.json()
    assert response.json()["error"] == code
    assert ledger_snapshot() == before
    assert audit_rows("wallet.deposit", "refused").get().details["error"] == code


def test_a_verified_player_deposits_past_the_kyc_threshold(api, player, settings):
    settings.RISK_KYC_DEPOSIT_THRESHOLD = "1000.50"
    PlayerRestriction.objects.create(player=player, kyc_status="verified")
    assert api(player).post("/api/v1/wallet/deposits", {"amount": "1.00"}, format="json").status_code == 201


def test_traders_are_alerted_when_an_outcome_nears_and_reaches_its_cap(api, player, make_event):
    from audit.models import Notification

    ExposureCap.objects.create(cap=Decimal("100.00"))
    event = make_event(home="2.00")
    for stake in ("30.00", "15.00", "5.00"):  # liability 60, 90 (crosses 80%), 100 (crosses 100%)
        assert api(player).post("/api/v1/bets", _slip([event], stake=stake), format="json").status_code == 201
    alerts = Notification.objects.filter(kind="exposure_alert", audience="staff").order_by("id")
    assert [a.data["level"] for a in alerts] == ["0.8", "1"]
    assert "reached 80% of its cap 100.00" in alerts[0].message
