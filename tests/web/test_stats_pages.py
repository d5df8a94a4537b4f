"""The leaderboard page and the player's own record on the bets page."""

from datetime import UTC, datetime
from decimal import Decimal

from betting.models import BettorStats
from betting.stats import SettledLine, bettor_stats_record
from tests.web.test_pages import HTMX, full, partial


def settled(user, result, staked, returned, product="sports"):
    bettor_stats_record(rows=[SettledLine(user_id=user.pk, product=product, result=result, staked=Decimal(staked),
                                          returned=Decimal(returned), settled_at=datetime.now(UTC))])


def test_leaderboard_page_ranks_players_and_marks_you(client, make_user):
    # given two players with settled bets this week, one of them logged in
    winner, me = make_user(username="winner"), make_user(username="me_myself")
    settled(winner, "won", "10.00", "40.00")
    settled(me, "lost", "5.00", "0.00")
    client.force_login(me)
    # when
    page = full(client.get("/leaderboard"))
    # then both are listed in profit order, the viewer marked, linked from the side navigation
    board = page[page.index('id="board"'):]
    assert board.index("winner") < board.index("30.00") < board.index("me_myself") < board.index("-5.00")
    assert '<tr class="you"><td class="num">2</td><td>me_myself' in board
    assert 'href="/leaderboard"' in page
    # the filters swap the board alone, keeping each other's choice
    fragment = partial(client.get("/leaderboard", {"period": "all", "product": "p2p"}, **HTMX))
    assert 'id="board"' in fragment and "Nothing settled yet" in fragment
    assert "?period=week&amp;product=p2p" in fragment


def test_leaderboard_page_is_empty_in_words_and_refuses_unknown_filters(client, db):
    assert "Nothing settled this week yet" in full(client.get("/leaderboard"))
    refused = client.get("/leaderboard", {"period": "decade"})
    assert refused.status_code == 400 and "period must be one of week, all" in refused.content.decode()
    assert not BettorStats.objects.exists()


def test_bets_page_shows_the_players_record(client, make_user):
    # given a player with a won bet and a lost challenge
    player = make_user(username="recorded")
    settled(player, "won", "10.00", "25.00")
    settled(player, "lost", "7.00", "0.00", product="p2p")
    client.force_login(player)
    # when
    page = full(client.get("/bets"))
    # then both products show, with their profit
    assert "Sportsbook" in page and "Challenges" in page
    assert "15.00" in page and "-7.00" in page
