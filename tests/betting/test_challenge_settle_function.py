"""Challenge settlement in the database (betting/sql/settlement.py ``betting_challenges_settle``, installed by
betting/migrations/0012; tests/test_sql_functions.py checks the text installed): the grading and the
arithmetic, what one batch writes (exactly what the Python gateway and audit helpers wrote), a rerun,
two workers at once, a refused batch, and a batch mixing internal and external challenges."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.context import Actor
from audit.models import AuditLog, Notification
from betting.challenge_money import challenge_payout, fee_rate
from betting.challenge_settlement import challenge_settlement_batch, challenges_settle
from betting.challenges import challenge_create
from betting.escrow_audit import escrow_figures
from betting.models import BettorStats, Challenge
from betting.selectors import bettor_stats
from betting.sql.settlement import CHALLENGE_GRADE, CHALLENGE_PAYOUT, CHALLENGES_FUNCTION
from core import live
from events.models import Player
from events.services import event_cancel, event_result_set, market_cancel, market_result_set
from ledger.models import Account, Transfer, format_entry_number
from ledger.selectors import account_balance, ledger_verify
from ledger.services import escrow_vault_balance, house_account
from tests.betting.test_challenge_settlement import confirm_pending, matched
from tests.conftest import ledger_snapshot, outcome_of, run_concurrently
from wallet.external import external_wallet_open, external_wallet_top_up
from wallet.models import ExternalAccount, GatewayTransfer

D = Decimal
TRADER = Actor.system("test")
concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def player(make_user, *, external: bool = False):
    user = make_user(balance="1000.00")
    if external:
        external_wallet_open(user=user, actor=Actor.of(user))
        external_wallet_top_up(user=user, amount="1000.00", actor=Actor.of(user))
    return user


def wallet(user) -> Decimal:
    return Account.objects.get(owner=user).balance


def books_balance() -> None:
    figures = escrow_figures()
    assert figures.ok, figures.problems
    settled = sum((c.fee for c in Challenge.objects.filter(status="settled")), D("0.00"))
    assert account_balance(house_account(Account.House.FEES)) == settled
    report = ledger_verify()
    assert report.ok, report.problems


def state() -> dict:
    """Everything a refused batch must leave as it was."""
    return {**ledger_snapshot(), "challenges": list(Challenge.objects.values_list("pk", "status", "settled_at")),
            "gateway_transfers": GatewayTransfer.objects.count(),
            "stats": list(BettorStats.objects.values_list("user_id", "bets", "returned")),
            "notifications": Notification.objects.filter(kind="challenge_settled").count(),
            "settle_audits": AuditLog.objects.filter(action__startswith="challenge.").count()}


# --- grading and arithmetic ------------------------------------------------------------------------

def grade(*, status="matched", outcome=None, line=None, side="", event="finished", outcome_status=None,
          market=None, stat=None) -> tuple[str | None, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {CHALLENGE_GRADE}(%s, %s, %s::numeric, %s, %s, %s, %s, %s)",
                       [status, outcome, line, side, event, outcome_status, market, stat])
        return cursor.fetchone()


@pytest.mark.parametrize(("side", "line", "stat", "result"), [
    ("over", "20.5", 21, "won"), ("over", "20.5", 20, "lost"), ("under", "20.5", 20, "won"),
    ("under", "20.5", 21, "lost"), ("over", "20.0", 20, None), ("under", "20.0", 20, None),
    ("over", "20.0", 21, "won"), ("under", "0.0", 0, None),
])
def test_a_proposition_is_decided_by_the_final_stat_and_a_stat_on_the_line_is_void(db, side, line, stat, result):
    decided, reason = grade(line=line, side=side, stat=stat)
    assert decided == result
    assert reason == (None if result else "the stat landed exactly on the line")


@pytest.mark.parametrize(("event_status", "outcome", "market", "result", "reason"), [
    ("finished", "won", "resulted", "won", None), ("finished", "lost", "resulted", "lost", None),
    ("finished", "void", "resulted", None, "the selection was made void"),
    ("finished", "active", "cancelled", None, "the market was cancelled"),
    ("finished", "won", "settled", "won", None),
    # a market decided before its event was cancelled stands, as for bets
    ("cancelled", "lost", "resulted", "lost", None),
    ("cancelled", "active", "cancelled", None, "the event was cancelled"),
])
def test_an_outcome_challenge_follows_its_outcome(db, event_status, outcome, market, result, reason):
    assert grade(outcome=1, event=event_status, outcome_status=outcome, market=market) == (result, reason)


@pytest.mark.parametrize("status", ["open", "matching", "escrow_pending"])
def test_a_challenge_still_waiting_for_stakes_is_void_only_when_its_event_is_cancelled(db, status):
    assert grade(status=status, outcome=1, event="cancelled", market="open") == (None, "the event was cancelled")
    # not decided yet: neither a result nor a reason (the settlement function refuses to write it)
    assert grade(status=status, outcome=1, event="finished", outcome_status="won", market="resulted") == (None, None)


def test_a_proposition_without_its_final_stat_is_not_decided_yet(db):
    assert grade(line="20.5", side="over", stat=None) == (None, None)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stake=st.decimals(min_value=D("1.00"), max_value=D("9999999999999.99"), places=2),
       rate=st.sampled_from([D("0.05"), D("0.033"), D("0.1"), D("0"), D("0.0725")]))
def test_the_payout_in_the_database_is_challenge_payouts_to_the_cent(db, stake, rate):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {CHALLENGE_PAYOUT}(%s, %s)", [stake, rate])
        (payout,) = cursor.fetchone()
    _, expected, fee = challenge_payout(stake, rate=rate)
    assert (payout, str(payout)) == (expected, str(expected))
    assert payout + fee == 2 * stake


# --- one batch -------------------------------------------------------------------------------------

def test_one_batch_grades_every_kind_of_decided_challenge_like_the_rules(make_user, make_event):
    # given six matched challenges: won, lost, a void selection, a cancelled market, a stat on the line
    # and a cancelled event; and one still open and one still waiting on a cancelled event
    alice, bob = player(make_user), player(make_user)
    won_on, lost_on, void_on, market_gone, cancelled = (make_event() for _ in range(5))
    hoops = make_event(sport="basketball")
    jo = Player.objects.create(event=hoops, name="Jo Hoops", team="home")
    won = matched(alice, bob, won_on, stake="10.00")
    lost = matched(alice, bob, lost_on, stake="20.00")
    void = matched(alice, bob, void_on, outcome_id=outcome_of(void_on, "draw").pk)
    gone = matched(bob, alice, market_gone)
    push = matched(alice, bob, hoops, proposition={"player_id": jo.pk, "stat": "points", "line": "20", "side": "over"})
    on_cancelled = matched(alice, bob, cancelled, stake="7.00")
    still_open = challenge_create(creator=bob, event_id=cancelled.pk, outcome_id=outcome_of(cancelled).pk,
                                  stake="3.00", funding="internal", actor=Actor.of(bob))
    event_result_set(event_id=won_on.pk, home_score=1, away_score=0, actor=TRADER)
    event_result_set(event_id=lost_on.pk, home_score=0, away_score=1, actor=TRADER)
    market_result_set(market_id=outcome_of(void_on).market_id, winners=[], actor=TRADER)
    market_cancel(market_id=outcome_of(market_gone).market_id, reason="wrong prices", actor=TRADER)
    Player.objects.filter(pk=jo.pk).update(points=20)
    event_result_set(event_id=hoops.pk, home_score=90, away_score=80, actor=TRADER)
    event_cancel(event_id=cancelled.pk, reason="storm", actor=TRADER)
    events = [won_on.pk, lost_on.pk, void_on.pk, market_gone.pk, hoops.pk, cancelled.pk]
    # when one batch settles them all
    assert challenge_settlement_batch(event_ids=events) == 7
    # then each is graded as the rules say, and paid or refunded to the cent
    got = {c.pk: (c.status, c.result, c.winner_id, c.payout, c.fee, c.status_reason)
           for c in Challenge.objects.all()}
    assert got == {
        won.pk: ("settled", "won", alice.pk, D("19.00"), D("1.00"), ""),
        lost.pk: ("settled", "lost", bob.pk, D("38.00"), D("2.00"), ""),
        void.pk: ("void", None, None, None, None, "the selection was made void"),
        gone.pk: ("void", None, None, None, None, "the market was cancelled"),
        push.pk: ("void", None, None, None, None, "the stat landed exactly on the line"),
        on_cancelled.pk: ("void", None, None, None, None, "the event was cancelled"),
        still_open.pk: ("void", None, None, None, None, "the event was cancelled"),
    }
    # alice: -10 -20 +19 on the two decided; bob: -10 -20 -3 +38 +3; every void stake back whole
    assert (wallet(alice), wallet(bob)) == (D("989.00"), D("1008.00"))
    assert escrow_vault_balance() == D("0.00")
    books_balance()
    assert challenge_settlement_batch(event_ids=events) == 0


def test_a_batch_writes_what_the_gateway_and_the_audit_helpers_wrote(make_user, make_event, monkeypatch,
                                                                    django_capture_on_commit_callbacks):
    # given two challenges alice wins on one event, of 10.00 and 33.33, and one void for the open one
    alice, bob = player(make_user), player(make_user)
    event = make_event()
    first, second = matched(alice, bob, event), matched(bob, alice, event, stake="33.33",
                                                        outcome_id=outcome_of(event, "away").pk)
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=TRADER)
    published = []
    monkeypatch.setattr(live, "_publish", published.extend)
    # when the batch runs
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        assert challenges_settle(event_ids=[event.pk]) == 2
    # then the write is one call of the database function (the other statements: the claim check,
    # the liquidity audit before the batch, the savepoint pair, and the next batch's check)
    assert sum(CHALLENGES_FUNCTION in q["sql"] for q in queries.captured_queries) == 1
    # the ledger: shard → wallet payouts and shard → fees, balances before and after in order
    shard = {c.pk: house_account(Account.escrow_shard(c.pk)) for c in (first, second)}
    rows = list(Transfer.objects.filter(reference_type="challenge", kind__in=["p2p_payout", "p2p_fee"])
                .order_by("entry_number"))
    assert [(t.idempotency_key, t.debit_account_id, t.credit_account_id, t.amount) for t in rows] == [
        (f"gateway:challenge:{first.pk}:payout", shard[first.pk].pk, Account.objects.get(owner=alice).pk, D("19.00")),
        (f"gateway:challenge:{first.pk}:fee", shard[first.pk].pk, house_account("fees").pk, D("1.00")),
        (f"gateway:challenge:{second.pk}:payout", shard[second.pk].pk, Account.objects.get(owner=alice).pk,
         D("63.32")),
        (f"gateway:challenge:{second.pk}:fee", shard[second.pk].pk, house_account("fees").pk, D("3.34"))]
    payouts = [rows[0], rows[2]]
    assert [(t.credit_balance_before, t.credit_balance_after) for t in payouts] == [
        (D("956.67"), D("975.67")), (D("975.67"), D("1038.99"))]  # alice: 1000 - 10 - 33.33, then +19, +63.32
    assert all(t.debit_balance_after == t.debit_balance_before - t.amount for t in rows)
    assert {t.created_by_id for t in rows} == {None} and {t.reference_id for t in rows} == {
        str(first.pk), str(second.pk)}
    # the gateway rows: confirmed at once, tx_id the ledger entry number, network fee nothing
    moved = {t.idempotency_key: t for t in GatewayTransfer.objects.filter(direction="out")}
    for t in rows:
        g = moved[t.idempotency_key.removeprefix("gateway:")]
        assert (g.gateway, g.status, g.tx_id, g.amount, g.network_fee) == (
            "internal", "confirmed", format_entry_number(t.entry_number), t.amount, D("0.00"))
        assert g.confirmed_at is not None and g.user_id == (alice.pk if g.purpose == "payout" else None)
        assert g.platform_account == ("fees" if g.purpose == "fee" else "")
    # the audit rows, as audit_entry builds them for the settlement's system actor
    record = AuditLog.objects.get(action="challenge.settle", resource_id=str(second.pk))
    assert (record.actor_id, record.actor_label, record.actor_role, record.category, record.severity,
            record.outcome, record.resource_type, record.resource_label) == (
        None, "system:settlement", "system", "betting", "info", "success", "challenge", f"CH-{second.pk}")
    assert record.details == {"before": "matched", "result": "lost", "winner_id": alice.pk, "payout": "63.32",
                              "fee": "3.34"}
    assert record.expires_at - record.created_at == AuditLog.RETENTION["betting"]
    # the notifications and both parties' stats
    texts = dict(Notification.objects.filter(kind="challenge_settled", data__challenge_id=second.pk)
                 .values_list("user_id", "message"))
    assert texts == {alice.pk: f"You won challenge CH-{second.pk}: 63.32 is on its way to your wallet.",
                     bob.pk: f"You lost challenge CH-{second.pk}."}
    stats = {user: bettor_stats(user=user)["p2p"] for user in (alice, bob)}
    assert (stats[alice].bets, stats[alice].won, stats[alice].staked, stats[alice].returned) == (
        2, 2, D("43.33"), D("82.32"))
    assert (stats[bob].bets, stats[bob].lost, stats[bob].returned) == (2, 2, D("0.00"))
    # and after commit each party's sockets hear of it: the wallet once, at its balance after the batch
    to = {}
    for groups, payload in published:
        for group in groups:
            to.setdefault(group, []).append(payload)
    assert [p for p in to[f"user.{alice.pk}"] if p["type"] == "wallet"] == [{"type": "wallet", "balance": "1038.99"}]
    assert {"type": "challenge", "challenge_id": second.pk, "status": "settled", "result": "lost"} in to[
        f"user.{bob.pk}"]
    assert {"type": "notification", "kind": "challenge_settled", "message": f"You lost challenge CH-{second.pk}.",
            "data": {"challenge_id": second.pk, "status": "settled", "result": "lost"}} in to[f"user.{bob.pk}"]
    books_balance()


def test_a_rerun_of_the_function_pays_nobody_twice(make_user, make_event):
    # given a settled batch
    alice, bob = player(make_user), player(make_user)
    event = make_event()
    challenge = matched(alice, bob, event)
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=TRADER)
    assert challenges_settle(event_ids=[event.pk]) == 1
    before = state()
    # when the function is called again for the same event, and for the same challenge as a void
    with connection.cursor() as cursor:
        for events, void in (([event.pk], None), (None, challenge.pk)):
            cursor.execute(f"SELECT {CHALLENGES_FUNCTION}(%s::bigint[], 1000, %s, 'again', 0.05, 0.50, now(), NULL, "
                           "'system:settlement', 'system', NULL, '')", [events, void])
            assert json.loads(cursor.fetchone()[0])["count"] == 0
    # then nothing moved
    assert state() == before


def test_a_batch_refused_on_an_escrow_mismatch_changes_nothing(make_user, make_event):
    # given a decided challenge and its escrow shard short of 1.00 behind the ledger's back
    alice, bob = player(make_user), player(make_user)
    event = make_event()
    challenge = matched(alice, bob, event)
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=TRADER)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = balance - 1 WHERE code = %s",
                       [f"house:{Account.escrow_shard(challenge.pk)}"])
    before = state()
    # when settlement runs
    assert challenges_settle(event_ids=[event.pk]) == 0
    # then nothing changed: balances, ledger, challenges, gateway rows, stats, notifications
    assert state() == before
    assert Challenge.objects.get().status == "matched"
    # but compliance heard of the mismatch
    assert AuditLog.objects.filter(action="escrow.mismatch").count() == 1


def test_a_shard_short_of_what_the_batch_pays_refuses_the_whole_batch(make_user, make_event, monkeypatch):
    # given the liquidity audit blinded, and a shard that holds less than its challenge's pot
    alice, bob = player(make_user), player(make_user)
    event = make_event()
    challenge = matched(alice, bob, event)
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=TRADER)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = balance - 1 WHERE code = %s",
                       [f"house:{Account.escrow_shard(challenge.pk)}"])
    monkeypatch.setattr("betting.challenge_settlement.escrow_balanced", lambda: True)
    before = state()
    # when settlement runs, then the database refuses it (never below zero) and nothing is written
    with pytest.raises(IntegrityError):
        challenges_settle(event_ids=[event.pk])
    assert state() == before


def test_a_batch_mixing_internal_and_external_challenges_hands_only_the_external_legs_to_the_external_gateway(
        make_user, make_event):
    # given, on one event: both internal; both external; an external winner against an internal loser;
    # an internal winner against an external loser; and on a cancelled event, one with an external acceptor
    alice, bob = player(make_user, external=True), player(make_user, external=True)
    event, rained_off = make_event(), make_event()
    both_internal = matched(alice, bob, event, stake="10.00")
    both_external = matched(alice, bob, event, stake="20.00", creator_funding="external",
                            acceptor_funding="external")
    external_wins = matched(alice, bob, event, stake="30.00", creator_funding="external")
    internal_wins = matched(alice, bob, event, stake="40.00", acceptor_funding="external")
    void = matched(alice, bob, rained_off, stake="5.00", acceptor_funding="external")
    external_before, internal_before = ExternalAccount.objects.get(owner=alice).balance, wallet(alice)
    bob_external_before = ExternalAccount.objects.get(owner=bob).balance
    event_result_set(event_id=event.pk, home_score=3, away_score=0, actor=TRADER)
    event_cancel(event_id=rained_off.pk, reason="rain", actor=TRADER)
    # when one batch settles them
    assert challenge_settlement_batch(event_ids=[event.pk, rained_off.pk]) == 5
    # then the internal movements are confirmed ledger transfers already; the external ones are pending
    moved = {t.idempotency_key: (t.gateway, t.status) for t in GatewayTransfer.objects.filter(direction="out")
             .exclude(purpose="stake")}
    moved.update({t.idempotency_key: (t.gateway, t.status) for t in GatewayTransfer.objects.filter(
        purpose="sweep", direction="in")})
    assert moved == {
        f"challenge:{both_internal.pk}:payout": ("internal", "confirmed"),
        f"challenge:{both_internal.pk}:fee": ("internal", "confirmed"),
        f"challenge:{both_external.pk}:payout": ("external", "pending"),
        f"challenge:{both_external.pk}:fee": ("external", "pending"),
        # the loser's stake crosses through the platform's pockets; the external winner waits for it
        f"challenge:{external_wins.pk}:sweep:out": ("internal", "confirmed"),
        f"challenge:{external_wins.pk}:sweep:in": ("external", "pending"),
        f"challenge:{internal_wins.pk}:sweep:out": ("external", "pending"),
        f"challenge:{internal_wins.pk}:sweep:in": ("internal", "confirmed"),
        f"challenge:{internal_wins.pk}:payout": ("internal", "confirmed"),
        f"challenge:{internal_wins.pk}:fee": ("internal", "confirmed"),
        # the void: each party's stake back on its own gateway, the external one less its network fees
        f"challenge:{void.pk}:creator:refund": ("internal", "confirmed"),
        f"challenge:{void.pk}:acceptor:refund": ("external", "pending"),
        f"challenge:{void.pk}:acceptor:sweep": ("external", "pending"),
    }
    # and the fee taken on the external side is booked to the house fees at once
    assert Transfer.objects.filter(idempotency_key=f"challenge:{external_wins.pk}:fee:external").count() == 1
    assert escrow_figures().ok
    # when the external service confirms everything it was asked
    confirm_pending()
    # then alice has each payout on the wallet she staked from (and her void stake back), bob his void
    # stake less 0.50 in and 0.50 out, and the books balance
    assert wallet(alice) - internal_before == D("19.00") + D("76.00") + D("5.00")
    assert ExternalAccount.objects.get(owner=alice).balance - external_before == D("38.00") + D("57.00")
    assert ExternalAccount.objects.get(owner=bob).balance - bob_external_before == D("4.00")
    books_balance()


def test_a_void_refunds_each_held_party_on_its_own_gateway_less_its_network_fees(make_user, make_event):
    # given a matched challenge with an external acceptor, on an event then cancelled
    alice, bob = player(make_user, external=True), player(make_user, external=True)
    event = make_event()
    challenge = matched(alice, bob, event, stake="10.00", acceptor_funding="external")
    event_cancel(event_id=event.pk, reason="flood", actor=TRADER)
    # when it is voided
    assert challenges_settle(event_ids=[event.pk]) == 1
    # then alice's internal stake is back at once, bob's (less 0.50 in and 0.50 out) is on its way,
    # with the network fees' rest swept to the platform
    assert wallet(alice) == D("1000.00")
    moved = {t.idempotency_key: (t.gateway, t.amount, t.status) for t in GatewayTransfer.objects.filter(
        direction="out")}
    assert moved == {f"challenge:{challenge.pk}:creator:refund": ("internal", D("10.00"), "confirmed"),
                     f"challenge:{challenge.pk}:acceptor:refund": ("external", D("9.00"), "pending"),
                     f"challenge:{challenge.pk}:acceptor:sweep": ("external", D("1.00"), "pending")}
    record = AuditLog.objects.get(action="challenge.void")
    assert record.details == {"before": "matched", "result": None, "reason": "the event was cancelled",
                              "refunds": {"creator": "10.00", "acceptor": "9.00"}}
    assert Notification.objects.get(user=bob, kind="challenge_settled").message == (
        f"Your challenge CH-{challenge.pk} is void: the event was cancelled. 9.00 is on its way back to your wallet.")
    confirm_pending()
    assert ExternalAccount.objects.get(owner=bob).balance == D("999.00")
    books_balance()


# --- several workers -------------------------------------------------------------------------------

@concurrent
def test_two_workers_at_once_settle_each_challenge_exactly_once(make_user, make_event, settings):
    # given 60 matched internal challenges on one event among 6 players, in batches of 7
    settings.SETTLEMENT_BATCH_SIZE = 7
    players = [make_user(balance="10000.00") for _ in range(6)]
    event = make_event()
    for i in range(60):
        matched(players[i % 6], players[(i + 1) % 6], event, stake=f"{1 + i}.01")
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=TRADER)
    # when two workers settle the event at the same moment
    results = run_concurrently(2, lambda i: challenges_settle(event_ids=[event.pk]))
    # then they shared the work, and every challenge was paid exactly once
    assert all(isinstance(r, int) for r in results) and sum(results) == 60, results
    assert Challenge.objects.filter(status="settled").count() == 60
    payouts = GatewayTransfer.objects.filter(purpose="payout").values_list("reference_id", flat=True)
    assert len(payouts) == len(set(payouts)) == 60
    assert AuditLog.objects.filter(action="challenge.settle").count() == 60
    assert sum(s.bets for s in BettorStats.objects.filter(product="p2p")) == 120
    assert sum((wallet(p) for p in players), D("0.00")) == D("60000.00") - sum(
        (c.fee for c in Challenge.objects.all()), D("0.00"))
    books_balance()


def test_the_fee_rate_is_the_settings(settings, make_user, make_event):
    # given a fee rate of 10 %
    settings.P2P_FEE_RATE = "0.10"
    alice, bob = player(make_user), player(make_user)
    event = make_event()
    matched(alice, bob, event, stake="5.55")
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=TRADER)
    # when
    challenges_settle(event_ids=[event.pk])
    # then the payout is challenge_payout's at that rate
    c = Challenge.objects.get()
    assert fee_rate() == D("0.10") and (c.payout, c.fee) == challenge_payout(D("5.55"))[1:] == (D("9.99"), D("1.11"))
    assert c.settled_at is not None and c.settled_at > c.matched_at - timedelta(seconds=1)
