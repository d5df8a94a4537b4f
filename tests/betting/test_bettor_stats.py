"""Bettor stats: settlement keeps them, /me/stats and the leaderboard read them, the migration backfills."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from audit.context import Actor
from betting.models import Bet, BettorStats, Challenge
from betting.selectors import leaderboard, week_of
from betting.services import bet_place
from betting.settlement import markets_pending_settlement, markets_settle
from betting.stats import SettledLine, bettor_stats_record
from events.services import event_result_set, market_cancel
from ledger.models import Transfer
from ledger.services import escrow_vault_balance
from tests.conftest import run_concurrently, selection, wallet_of

SUNDAY_NIGHT = datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)  # the last second of the week of Mon 23 Nov
MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def settle_everything() -> int:
    return markets_settle(market_ids=markets_pending_settlement())


def stats_of(user) -> dict:
    return {row.pop("product"): row for row in BettorStats.objects.filter(user=user).values(
        "product", "week", "bets", "won", "lost", "void", "staked", "returned")}


def place(player, events, stake="10.00", key="home"):
    return bet_place(player=player, selections=[selection(e, key) for e in events], stake=stake,
                     bet_type="single" if len(events) == 1 else "multiple", actor=Actor.of(player))


def line(user, result, staked, returned, at=MONDAY, product="sports"):
    return SettledLine(user_id=user.pk, product=product, result=result, staked=Decimal(staked),
                       returned=Decimal(returned), settled_at=at)


def test_settlement_counts_won_lost_void_and_multiples(player, make_event):
    # given a won single (10 @ 2.50), a lost single (20), a void single (5) and a multiple whose
    # cancelled leg counts 1.00 (10 @ 2.00 × void)
    home_win, away_win, cancelled = make_event(home="2.50"), make_event(), make_event(home="2.00")
    place(player, [home_win])
    place(player, [away_win], stake="20.00")
    place(player, [cancelled], stake="5.00")
    multiple = place(player, [make_event(home="2.00"), cancelled])
    # when the results come in and settlement runs
    system = Actor.system("t")
    event_result_set(event_id=home_win.pk, home_score=1, away_score=0, actor=system)
    event_result_set(event_id=away_win.pk, home_score=0, away_score=1, actor=system)
    market_cancel(market_id=cancelled.markets.get().pk, actor=system, reason="abandoned")
    event_result_set(event_id=multiple.legs.get(position=0).event_id, home_score=2, away_score=0, actor=system)
    assert settle_everything() == 4
    assert settle_everything() == 0
    # then one row for the week of the settlement holds them all
    settled_at = Bet.objects.filter(player=player).values_list("settled_at", flat=True).first()
    assert stats_of(player) == {"sports": {
        "week": week_of(settled_at), "bets": 4, "won": 2, "lost": 1, "void": 1,
        "staked": Decimal("45.00"), "returned": Decimal("25.00") + Decimal("5.00") + Decimal("20.00")}}
    # and they agree with the bets themselves
    bets = Bet.objects.filter(player=player)
    assert sum(b.payout for b in bets) - sum(b.stake for b in bets) == Decimal("5.00")


def test_manual_settlement_counts(api, player, make_event, make_user):
    # given an accepted bet
    bet = place(player, [make_event(home="3.00")])
    # when a trader settles it by hand
    response = api(make_user("trader")).post(f"/api/v1/bets/{bet.pk}/settle",
                                             {"result": "won", "reason": "feed outage"}, format="json")
    assert response.status_code == 200
    # then the player's stats show it
    stats = api(player).get("/api/v1/me/stats").json()
    assert stats["sportsbook"] == {"bets": 1, "won": 1, "lost": 0, "void": 0, "staked": "10.00",
                                   "returned": "30.00", "profit": "20.00"}


def test_a_settlement_batch_writes_the_stats_in_one_statement(player, make_event, make_user):
    # given bets of three players on one event
    event = make_event()
    for user in (player, make_user(balance="100.00"), make_user(balance="100.00")):
        place(user, [event])
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("t"))
    # when one batch settles them
    with CaptureQueriesContext(connection) as queries:
        assert settle_everything() == 3
    # then one statement touched the stats table, and every player has a row
    table = BettorStats._meta.db_table
    assert sum(table in q["sql"] for q in queries.captured_queries) == 1
    assert BettorStats.objects.filter(week=week_of(datetime.now(UTC))).count() == 3


def test_record_adds_to_the_week_of_the_settlement(player, make_user):
    # given lines either side of midnight between Sunday and Monday (UTC), and a p2p line
    other = make_user()
    bettor_stats_record(rows=[line(player, "won", "10.00", "25.00", at=SUNDAY_NIGHT),
                              line(player, "lost", "4.00", "0.00"), line(other, "void", "3.00", "3.00"),
                              line(player, "won", "10.00", "19.00", product="p2p")])
    # when more of the same week come in a later batch
    bettor_stats_record(rows=[line(player, "won", "1.00", "2.00", at=MONDAY + timedelta(days=6, hours=23))])
    # then
    rows = {(r.product, r.week): (r.bets, r.won, r.lost, r.void, r.staked, r.returned)
            for r in BettorStats.objects.filter(user=player)}
    assert rows == {
        ("sports", date(2026, 11, 23)): (1, 1, 0, 0, Decimal("10.00"), Decimal("25.00")),
        ("sports", date(2026, 11, 30)): (2, 1, 1, 0, Decimal("5.00"), Decimal("2.00")),
        ("p2p", date(2026, 11, 30)): (1, 1, 0, 0, Decimal("10.00"), Decimal("19.00")),
    }
    assert week_of(SUNDAY_NIGHT) == date(2026, 11, 23) and week_of(MONDAY) == date(2026, 11, 30)


def test_record_refuses_a_line_that_is_not_a_settlement(player):
    with pytest.raises(ValueError):
        bettor_stats_record(rows=[line(player, "cashed_out", "1.00", "1.00")])
    with pytest.raises(ValueError):
        bettor_stats_record(rows=[line(player, "won", "1.00", "2.00", product="casino")])
    assert not BettorStats.objects.exists()


def test_me_stats_shape_for_a_player_and_for_staff(api, player, make_user):
    # given a player with both products this week and the week before
    bettor_stats_record(rows=[line(player, "won", "10.00", "25.00", at=SUNDAY_NIGHT),
                              line(player, "void", "5.00", "5.00"),
                              line(player, "lost", "7.00", "0.00", product="p2p"),
                              line(player, "won", "10.00", "19.00", product="p2p")])
    # when
    mine = api(player).get("/api/v1/me/stats")
    # then every week counts, money as strings
    assert mine.status_code == 200
    assert mine.json() == {
        "sportsbook": {"bets": 2, "won": 1, "lost": 0, "void": 1, "staked": "15.00", "returned": "30.00",
                       "profit": "15.00"},
        "p2p": {"challenges": 2, "won": 1, "lost": 1, "void": 0, "staked": "17.00", "returned": "19.00",
                "profit": "2.00"}}
    # and staff (who never bet), like a new player, read zeros; anonymous must log in
    zeros = {"won": 0, "lost": 0, "void": 0, "staked": "0.00", "returned": "0.00", "profit": "0.00"}
    empty = {"sportsbook": {"bets": 0, **zeros}, "p2p": {"challenges": 0, **zeros}}
    assert api(make_user("trader")).get("/api/v1/me/stats").json() == empty
    assert api(make_user()).get("/api/v1/me/stats").json() == empty
    assert api().get("/api/v1/me/stats").status_code == 401


def test_leaderboard_orders_by_profit_this_week(make_user):
    # given four players this week (one of them also won big last week) and one p2p winner
    alice, bob, carol, dave = (make_user(username=name) for name in ("alice", "bob", "carol", "dave"))
    now = MONDAY + timedelta(days=2)
    bettor_stats_record(rows=[
        line(alice, "won", "10.00", "30.00", at=now), line(alice, "lost", "5.00", "0.00", at=now),  # +15
        line(bob, "won", "10.00", "25.00", at=now),  # +15, ties with alice
        line(carol, "lost", "50.00", "0.00", at=now),  # -50
        line(dave, "won", "100.00", "1000.00", at=SUNDAY_NIGHT),  # last week
        line(dave, "won", "10.00", "19.00", at=now, product="p2p")])  # +9
    # when / then: this week, both products summed; ties share a rank, by username
    board = leaderboard(period="week", now=now)
    assert board.week == date(2026, 11, 30)
    assert [(p.rank, p.username, p.profit, p.bets) for p in board.players] == [
        (1, "alice", Decimal("15.00"), 2), (1, "bob", Decimal("15.00"), 1), (3, "dave", Decimal("9.00"), 1),
        (4, "carol", Decimal("-50.00"), 1)]
    # one product; all time
    assert [p.username for p in leaderboard(product="p2p", now=now).players] == ["dave"]
    assert [p.username for p in leaderboard(period="all", now=now).players] == ["dave", "alice", "bob", "carol"]
    # the week before shows only last week's settlement; next Monday starts empty
    assert [p.username for p in leaderboard(now=SUNDAY_NIGHT).players] == ["dave"]
    assert leaderboard(now=MONDAY + timedelta(days=7)).players == []
    # bounded
    with override_settings(LEADERBOARD_SIZE=2):
        assert len(leaderboard(now=now).players) == 2


def test_leaderboard_api_shape_and_refusals(api, player, make_user):
    # given a settlement this week
    bettor_stats_record(rows=[line(player, "won", "10.00", "25.00", at=datetime.now(UTC))])
    # when anyone asks, then usernames and figures only
    response = api().get("/api/v1/leaderboard", {"period": "week"})
    assert response.status_code == 200
    assert response.json() == {"period": "week", "product": None, "week": week_of(datetime.now(UTC)).isoformat(),
                               "players": [{"rank": 1, "username": player.username, "profit": "15.00", "bets": 1}]}
    assert api().get("/api/v1/leaderboard").json()["period"] == "week"
    assert api().get("/api/v1/leaderboard", {"period": "all", "product": "sports"}).json()["week"] is None
    # unknown values are a 400 in the error shape
    before = list(BettorStats.objects.values())
    for query, field in (({"period": "month"}, "period"), ({"period": "WEEK"}, "period"),
                         ({"product": "casino"}, "product")):
        refused = api().get("/api/v1/leaderboard", query)
        assert refused.status_code == 400
        assert (refused.json()["error"], refused.json()["details"]) == ("invalid_request", {"field": field})
    assert list(BettorStats.objects.values()) == before


def test_stats_reads_change_nothing(api, player):
    # given
    bettor_stats_record(rows=[line(player, "won", "10.00", "25.00")])
    def state():
        return (wallet_of(player).balance, Transfer.objects.count(), escrow_vault_balance(),
                list(Challenge.objects.values()), list(BettorStats.objects.values()))

    before = state()
    # when
    api(player).get("/api/v1/me/stats"), api().get("/api/v1/leaderboard", {"period": "year"})
    # then
    assert state() == before


def test_the_migration_backfills_bets_settled_before_it(player, make_event, make_user):
    # given settled bets (a won single, a lost one, a void one) of two players, and no stats rows
    # (as before the table existed)
    other = make_user(balance="100.00")
    won_event, void_event = make_event(home="2.50"), make_event()
    place(player, [won_event]), place(other, [won_event], key="away"), place(player, [void_event], stake="4.00")
    place(other, [make_event()])  # still open: not counted
    event_result_set(event_id=won_event.pk, home_score=1, away_score=0, actor=Actor.system("t"))
    market_cancel(market_id=void_event.markets.get().pk, actor=Actor.system("t"), reason="abandoned")
    assert settle_everything() == 3
    kept = {user.pk: stats_of(user) for user in (player, other)}
    BettorStats.objects.all().delete()
    # when the migration's function runs
    import_module("betting.migrations.0007_bettor_stats").backfill(apps, None)
    # then it rebuilds exactly what settlement wrote
    assert {user.pk: stats_of(user) for user in (player, other)} == kept
    assert kept[player.pk]["sports"]["bets"] == 2 and kept[other.pk]["sports"]["lost"] == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_workers_settling_one_players_bets_at_once_count_each_bet_once(make_user, make_event):
    # given 12 players each with a bet on each of 4 events, won and lost mixed (a lost bet locks no
    # wallet, so only the stats statement's own order keeps the batches from deadlocking)
    events = [make_event(home="2.00") for _ in range(4)]
    players = [make_user(balance="100.00") for _ in range(12)]
    for k, event in enumerate(events):
        for p, player in enumerate(players):
            place(player, [event], stake=f"{1 + k}.00", key="home" if (p + k) % 2 else "away")
    for event in events:
        event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("t"))
    # when four threads settle the four events at once, in batches of three bets
    with override_settings(SETTLEMENT_BATCH_SIZE=3):
        results = run_concurrently(4, lambda k: markets_settle(market_ids=[events[k].markets.get().pk]))
    # then every bet is settled and counted exactly once
    assert results == [12, 12, 12, 12]
    for player in players:
        bets = Bet.objects.filter(player=player)
        stats = BettorStats.objects.get(user=player)
        assert (stats.bets, stats.won, stats.lost) == (4, 2, 2)
        assert (stats.staked, stats.returned) == (sum(b.stake for b in bets), sum(b.payout for b in bets))
