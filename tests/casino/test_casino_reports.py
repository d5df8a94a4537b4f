"""The casino in the reports and the agents' commissions (issue 18): the GGR report's casino product
and the console's casino chart are its rounds' stakes and payouts, and a round's stake is turnover in an
agent's commission statement, as a settled bet's is."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from agents.players import agent_players
from agents.services import commissions_run
from audit.context import Actor
from betting.reports import ggr_report
from casino.models import Round
from casino.services import casino_round_play
from tests.agents.helpers import expected_lines, players_of, this_period

ZERO = Decimal("0.00")


def _rounds(player, count: int = 12) -> list[Round]:
    """Dice and roulette rounds of several stakes (some under the turnover floor of 5.00)."""
    played = []
    for i in range(count):
        if i % 3 == 2:
            done = casino_round_play(player=player, game="roulette", actor=Actor.of(player), bets=[
                {"type": "red", "stake": "6.00"}, {"type": "straight", "value": i % 37, "stake": "1.50"}])
        else:
            done = casino_round_play(player=player, game="dice", actor=Actor.of(player), stake=f"{2 + i}.00",
                                     target="49.50", direction="under" if i % 2 else "over")
        played.append(done.round)
    return played


def test_the_ggr_report_splits_out_the_casino(make_user):
    player = make_user("player", balance="1000.00")
    rounds = _rounds(player)
    today = timezone.now().date().isoformat()
    report = ggr_report(start=today, end=today, viewer=None)
    staked, paid = sum((r.stake for r in rounds), ZERO), sum((r.payout for r in rounds), ZERO)
    casino = report["products"]["casino"]
    assert (casino["staked"], casino["paid_out"], casino["ggr"]) == (staked, paid, staked - paid)
    assert report["total"]["ggr"] == report["products"]["sports"]["ggr"] + (staked - paid) + report["products"][
        "p2p"]["ggr"]
    assert report["bets_settled"] == 0 and report["total_staked"] == ZERO  # the top level stays the sportsbook's


def test_the_console_ggr_page_draws_the_casino_per_day(client, make_user):
    player = make_user("player", balance="1000.00")
    rounds = _rounds(player, 6)
    client.force_login(make_user("regulator"))
    page = client.get("/admin/console/reports/ggr/").content.decode()
    net = sum((r.stake - r.payout for r in rounds), ZERO)
    assert 'id="casino-chart"' in page
    assert f"total {net:,.2f}" in page.split('id="casino-chart"')[1]


def test_casino_stakes_are_turnover_and_ggr_in_an_agents_statement(make_user):
    agent = make_user("agent")
    player = make_user("player", balance="1000.00")
    players_of(agent, player)
    rounds = _rounds(player)
    start, end = this_period()
    statement = commissions_run(start=start, end=end, actor=Actor.system("test"))[0]
    lines = {line.kind: (line.base, line.amount) for line in statement.lines.all()}
    assert lines == expected_lines(agent)
    assert statement.turnover == sum((r.stake for r in rounds), ZERO)
    assert statement.ggr == sum((r.stake - r.payout for r in rounds), ZERO)
    [row] = agent_players(agent=agent)
    assert (row.stakes, row.ggr) == (statement.turnover, statement.ggr)
