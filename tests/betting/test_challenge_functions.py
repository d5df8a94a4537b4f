"""A challenge offered and taken in one call each (betting/sql/challenges.py ``betting_challenge_offer`` and
``_take``): the limits of both parties, what the database writes and answers, one statement per
request, and the lock order. Every transition and refusal through the services is in
test_challenges.py; the installed text in tests/test_sql_functions.py."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.context import Actor
from betting.challenges import challenge_accept, challenge_create
from betting.models import Challenge
from betting.sql.challenges import CHALLENGE_OFFER, CHALLENGE_TAKE
from core.errors import DomainError
from ledger.models import Account
from risk.models import LimitProfile, PlayerRestriction
from tests.betting.test_challenges import snapshot
from tests.conftest import audit_rows, locks_held_while_waiting, outcome_of, wallet_of
from wallet.external import external_wallet_open, external_wallet_top_up


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def alice(make_user):
    return make_user(balance="100.00")


@pytest.fixture
def bob(make_user):
    return make_user(balance="100.00")


def offer(user, event, stake="10.00", funding="internal", **more):
    return challenge_create(creator=user, event_id=event.pk, outcome_id=outcome_of(event).pk, stake=stake,
                            funding=funding, actor=Actor.of(user), **more)


def take(challenge, user, funding="internal", **more):
    return challenge_accept(challenge_id=challenge.pk, acceptor=user, funding=funding, actor=Actor.of(user), **more)


def refused(call, code: str) -> None:
    before = snapshot()
    with pytest.raises(DomainError) as refusal:
        call()
    assert refusal.value.code == code, refusal.value.as_dict()
    assert snapshot() == before


def test_the_takers_own_stake_limit_applies_too(event, alice, bob):
    # given bob may stake at most 5.00
    challenge = offer(alice, event)
    PlayerRestriction.objects.create(player=bob, max_stake=Decimal("5.00"))
    # when / then
    refused(lambda: take(challenge, bob), "stake_above_max")
    assert Challenge.objects.get(pk=challenge.pk).status == "open"


def test_the_operators_minimum_stake_applies_to_challenges(event, alice, bob):
    # given a minimum stake of 5.00 for bob's sport, set after alice offered 2.00
    challenge = offer(alice, event, stake="2.00")
    LimitProfile.objects.create(scope="sport", sport_id=event.sport_id, min_stake=Decimal("5.00"))
    # when / then: neither a new offer of 2.00 nor taking the one there passes
    refused(lambda: offer(alice, event, stake="2.00"), "stake_below_min")
    refused(lambda: take(challenge, bob), "stake_below_min")


def test_the_database_answers_the_challenge_it_wrote(event, alice, bob):
    # when
    offered = offer(alice, event)
    taken = take(offered, bob)
    # then: the answers are the rows, as the ORM reads them
    for answered in (offered, taken):
        stored = Challenge.objects.get(pk=answered.pk)
        assert {f.attname: getattr(answered, f.attname) for f in Challenge._meta.concrete_fields} == {
            f.attname: getattr(stored, f.attname) for f in Challenge._meta.concrete_fields} | (
            {} if answered is taken else {"status": "open", "acceptor_id": None, "acceptor_funding": "",
                                          "matched_at": None})
    assert [(t.purpose, t.user_id, t.status) for t in taken.transfer_list] == [
        ("stake", alice.pk, "confirmed"), ("stake", bob.pk, "confirmed")]
    assert taken.outcome.market.name and taken.outcome.price == outcome_of(event).price
    assert (wallet_of(alice).balance, wallet_of(bob).balance) == (Decimal("90.00"), Decimal("90.00"))
    shard = Account.objects.get(code=f"house:{Account.escrow_shard(offered.pk)}")
    assert shard.balance >= Decimal("20.00")


def test_an_internal_stake_is_audited_in_the_database_as_an_external_one_is_in_python(event, alice, make_user):
    # given a player on each gateway
    external = make_user(balance="0.00")
    external_wallet_open(user=external, actor=Actor.of(external))
    external_wallet_top_up(user=external, amount="50.00", actor=Actor.of(external))
    # when
    inside, outside = offer(alice, event), offer(external, event, funding="external")
    # then: the same row, but for what differs
    rows = {row.resource_id: row for row in audit_rows("challenge.create", "success")}
    row_in, row_out = rows[str(inside.pk)], rows[str(outside.pk)]
    assert set(row_in.details) == set(row_out.details) == {"before", "after", "stake", "funding", "tx_id"}
    assert (row_in.details["after"], row_out.details["after"]) == ("open", "escrow_pending")
    assert (row_in.actor_id, row_in.actor_label, row_in.actor_role, row_in.resource_label, row_in.category) == (
        alice.pk, alice.username, "player", f"CH-{inside.pk}", "betting")
    assert row_in.expires_at > row_in.created_at


@pytest.mark.parametrize("funding", ["internal", "external"])
def test_a_create_and_an_accept_send_one_statement_each(event, alice, bob, funding):
    # given players whose requests have loaded them (their role is read with the user)
    for user in (alice, bob):
        external_wallet_open(user=user, actor=Actor.of(user))
        external_wallet_top_up(user=user, amount="50.00", actor=Actor.of(user))
    offer(alice, event)
    outcome_id = outcome_of(event).pk
    # when
    with CaptureQueriesContext(connection) as created:
        challenge = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_id, stake="10.00",
                                     funding="internal", actor=Actor.of(alice))
    with CaptureQueriesContext(connection) as accepted:
        take(challenge, bob, funding=funding)
    # then: one call each; the external gateway's stake is its own business (its tables, its queue)
    def sent(queries):
        return [q["sql"].split("(")[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]

    assert sent(created) == [f"SELECT {CHALLENGE_OFFER}"]
    if funding == "internal":
        assert sent(accepted) == [f"SELECT {CHALLENGE_TAKE}"]
    else:
        assert sent(accepted)[0] == f"SELECT {CHALLENGE_TAKE}"


concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@concurrent
def test_taking_locks_the_challenge_before_the_wallet(make_user, make_event):
    """Waiting on its wallet, an acceptance already holds the challenge's row, so no other taker can
    get past it: the order is the challenge, then the accounts by id (as settlement takes them)."""
    alice, bob = make_user(balance="100.00"), make_user(balance="100.00")
    challenge = offer(alice, make_event())
    taken, status = locks_held_while_waiting(("ledger_account", "owner_id", bob.pk),
                                             lambda: take(challenge, bob).status,
                                             [("betting_challenge", "id", challenge.pk)])
    assert list(taken.values()) == [True]
    assert status == "matched"
