"""Ten rounds at once on one wallet: it never goes below zero and every nonce is used once."""

from decimal import Decimal

import pytest

from audit.context import Actor
from casino.models import Round
from casino.services import casino_round_play, casino_seed_get
from core.errors import DomainError
from ledger.models import Transfer
from tests.conftest import run_concurrently, wallet_of


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_rounds_at_once_never_overdraw_and_nonces_stay_unique(make_user):
    # given: 20.00 and ten rounds of 5.00 at a 0.01% chance (each almost surely lost)
    player = make_user("player", balance="20.00")
    casino_seed_get(player=player)

    def play(i):
        return casino_round_play(player=player, game="dice", stake="5.00", target="0.01", direction="under",
                                 actor=Actor.of(player))

    # when
    results = run_concurrently(10, play)
    # then: the others were refused for funds, nothing else went wrong
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, DomainError) and r.code == "insufficient_funds" for r in refused), refused
    rounds = list(Round.objects.filter(player=player).order_by("nonce"))
    assert len(rounds) == 10 - len(refused) >= 4
    assert [r.nonce for r in rounds] == list(range(len(rounds)))
    balance = wallet_of(player).balance
    assert balance >= 0
    assert balance == Decimal("20.00") - sum(r.stake for r in rounds) + sum(r.payout for r in rounds)
    assert Transfer.objects.filter(kind="casino_stake").count() == len(rounds)
    assert casino_seed_get(player=player).next_nonce == len(rounds)
