from decimal import Decimal

import pytest

from audit.context import Actor
from betting.services import bet_place
from betting.settlement import markets_pending_settlement, markets_settle
from events.services import event_result_set
from tests.conftest import selection
from wallet.services import wallet_deposit, wallet_withdraw


@pytest.fixture
def seeded_day(make_user, make_event):
    """A day of activity through the services: deposits, a withdrawal, singles and a double placed,
    results entered and the bets settled; one bet stays open on an unfinished event.

    Event one ends 2-0 (home wins), event two 1-1 (draw).
      alice: deposits 500, 10 home@2.50 on one (won, pays 25.00), 20 away@2.80 on one (lost)
      bob:   deposits 300, withdraws 50, 15 double home@2.50 x draw@3.20 (won, pays 120.00)
      carol: deposits 200, 30 home@2.00 on two (lost), 40 home@1.50 on three (open)
    Settled: staked 10 + 20 + 15 + 30 = 75.00, paid out 25 + 120 = 145.00, GGR -70.00.
    """
    one = make_event(home="2.50", draw="3.20", away="2.80")
    two = make_event(home="2.00", draw="3.20")
    three = make_event(home="1.50")
    alice, bob, carol = (make_user("player", name) for name in ("alice", "bob", "carol"))
    system = Actor.system("test")
    for user, amount in ((alice, "500.00"), (bob, "300.00"), (carol, "200.00")):
        wallet_deposit(user=user, amount=Decimal(amount), actor=system)
    wallet_withdraw(user=bob, amount=Decimal("50.00"), actor=system)

    def place(player, selections, stake, bet_type="single"):
        return bet_place(player=player, selections=selections, stake=stake, bet_type=bet_type,
                         actor=Actor.of(player))

    bets = [
        place(alice, [selection(one, "home")], "10.00"),
        place(alice, [selection(one, "away")], "20.00"),
        place(bob, [selection(one, "home"), selection(two, "draw")], "15.00", "multiple"),
        place(carol, [selection(two, "home")], "30.00"),
        place(carol, [selection(three, "home")], "40.00"),
    ]
    event_result_set(event_id=one.pk, home_score=2, away_score=0, actor=system)
    event_result_set(event_id=two.pk, home_score=1, away_score=1, actor=system)
    markets_settle(market_ids=markets_pending_settlement())
    return {"events": (one, two, three), "players": (alice, bob, carol), "bets": bets}
