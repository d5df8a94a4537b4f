from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction

from risk.exposure import exposure_caps
from risk.models import DEFAULTS, ExposureCap, LimitProfile, Limits, PlayerRestriction
from risk.sql import LIMITS


def limits_for(*, player, sport_ids=(), competition_ids=()) -> Limits:
    """The limits as the one-call services read them inside their call (risk/sql.py ``risk_limits``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {LIMITS}(%s, %s::bigint[], %s::bigint[])",
                       [player.pk, sorted(sport_ids), sorted(competition_ids)])
        return Limits(*cursor.fetchone())


def test_defaults_apply_when_nothing_is_set(player):
    assert limits_for(player=player) == DEFAULTS
    assert (DEFAULTS.min_stake, DEFAULTS.max_stake, DEFAULTS.max_winning, DEFAULTS.max_selections,
            DEFAULTS.min_price, DEFAULTS.max_price, DEFAULTS.max_combined_odds) == (
        Decimal("1.00"), Decimal("100000.00"), Decimal("500000.00"), 100, Decimal("1.01"),
        Decimal("100"), Decimal("1000"))
    assert (DEFAULTS.velocity_max_bets, DEFAULTS.velocity_max_stake) == (120, Decimal("200000.00"))


def test_the_most_specific_scope_wins_field_by_field(player, make_event):
    # given
    event = make_event()
    vip = Group.objects.create(name="vip")
    player.groups.add(vip)
    LimitProfile.objects.create(scope="global", max_stake=Decimal("1000"), max_winning=Decimal("9000"))
    LimitProfile.objects.create(scope="sport", sport=event.sport, max_stake=Decimal("800"))
    LimitProfile.objects.create(scope="competition", competition=event.competition, max_stake=Decimal("600"),
                                min_stake=Decimal("2"))
    LimitProfile.objects.create(scope="group", group=vip, max_stake=Decimal("5000"))
    # when / then: the group beats the competition, which beats the sport, which beats global
    limits = limits_for(player=player, sport_ids={event.sport_id}, competition_ids={event.competition_id})
    assert (limits.max_stake, limits.min_stake, limits.max_winning) == (
        Decimal("5000"), Decimal("2"), Decimal("9000"))
    LimitProfile.objects.create(scope="player", player=player, max_stake=Decimal("50"))
    assert limits_for(player=player, sport_ids={event.sport_id}).max_stake == Decimal("50")
    assert limits_for(player=player).max_winning == Decimal("9000")


def test_within_one_scope_the_strictest_applies(player, make_event):
    football, tennis = make_event(sport="football"), make_event(sport="tennis")
    LimitProfile.objects.create(scope="sport", sport=football.sport, max_stake=Decimal("800"), min_stake=Decimal("2"))
    LimitProfile.objects.create(scope="sport", sport=tennis.sport, max_stake=Decimal("300"), min_stake=Decimal("5"))
    limits = limits_for(player=player, sport_ids={football.sport_id, tennis.sport_id})
    assert (limits.max_stake, limits.min_stake) == (Decimal("300"), Decimal("5"))


def test_a_players_own_stake_limit_stacks_and_the_stricter_wins(player):
    LimitProfile.objects.create(scope="player", player=player, max_stake=Decimal("500"))
    PlayerRestriction.objects.create(player=player, max_stake=Decimal("20"))
    assert limits_for(player=player).max_stake == Decimal("20")
    PlayerRestriction.objects.filter(player=player).update(max_stake=Decimal("900"))
    assert limits_for(player=player).max_stake == Decimal("500")


def test_a_profile_must_name_exactly_its_scope(player, make_event):
    event = make_event()
    with pytest.raises(IntegrityError), transaction.atomic():
        LimitProfile.objects.create(scope="sport", max_stake=Decimal("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        LimitProfile.objects.create(scope="global", sport=event.sport)
    LimitProfile.objects.create(scope="global")
    with pytest.raises(IntegrityError), transaction.atomic():
        LimitProfile.objects.create(scope="global")


def test_exposure_caps_by_sport_and_market_kind(make_event, settings):
    football, tennis = make_event(sport="football").sport, make_event(sport="tennis").sport
    ExposureCap.objects.create(market_kind="match_result", cap=Decimal("500"))
    ExposureCap.objects.create(sport=football, cap=Decimal("700"))
    ExposureCap.objects.create(sport=football, market_kind="match_result", cap=Decimal("300"))
    caps = exposure_caps(legs=[(1, football.pk, "match_result"), (2, football.pk, "over_under"),
                               (3, tennis.pk, "match_result"), (4, tennis.pk, "over_under")])
    assert caps == {1: Decimal("300"), 2: Decimal("700"), 3: Decimal("500"),
                    4: Decimal(settings.RISK_DEFAULT_EXPOSURE_CAP)}
