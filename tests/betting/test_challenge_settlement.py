"""Challenge settlement: outcomes, propositions, void and cancelled events on both gateways and across
them; the pot paid exactly once, the fees account receiving exactly the fees, every vault left holding
exactly the stakes of the challenges still held, and the ledger verifying afterwards."""

from decimal import Decimal

import pytest
from celery import current_app

from audit.context import Actor
from audit.models import AuditLog, Notification
from betting.challenge_money import challenge_payout, refund_amount
from betting.challenge_settlement import challenge_void, challenges_settle
from betting.challenges import challenge_accept, challenge_create
from betting.escrow_audit import escrow_figures
from betting.models import BettorStats, Challenge
from betting.selectors import bettor_stats
from betting.tasks import settle_markets_task, settlement_sweep_task
from core import live
from core.errors import DomainError
from events.models import Player
from events.services import event_cancel, event_result_set, market_cancel, market_result_set
from ledger.models import Account, Transfer
from ledger.selectors import account_balance, ledger_verify
from ledger.services import escrow_vault_balance, house_account
from tests.conftest import audit_rows, ledger_snapshot, outcome_of
from wallet.external import ESCROW_ADDRESS, external_wallet_open, external_wallet_top_up, platform_address
from wallet.gateways import ExternalGateway, external_transfer_confirm
from wallet.models import ExternalAccount, GatewayTransfer

D = Decimal
SUCCEED, FAIL = (lambda: 0.999), (lambda: 0.0)
TRADER = Actor.system("test")


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def alice(make_user):
    return _player(make_user)


@pytest.fixture
def bob(make_user):
    return _player(make_user)


def _player(make_user):
    """A player with 1,000.00 on each side."""
    user = make_user(balance="1000.00")
    external_wallet_open(user=user, actor=Actor.of(user))
    external_wallet_top_up(user=user, amount="1000.00", actor=Actor.of(user))
    return user


def matched(creator, acceptor, event, *, stake="10.00", creator_funding="internal", acceptor_funding="internal",
            **selection) -> Challenge:
    """A challenge as create and accept leave it, every external stake confirmed: matched."""
    if "proposition" not in selection:
        selection.setdefault("outcome_id", outcome_of(event).pk)
    challenge = challenge_create(creator=creator, event_id=event.pk, stake=stake, funding=creator_funding,
                                 actor=Actor.of(creator), **selection)
    confirm_pending()
    challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding=acceptor_funding, actor=Actor.of(acceptor))
    confirm_pending()
    challenge.refresh_from_db()
    assert challenge.status == "matched"
    return challenge


def confirm_pending(draw=SUCCEED, *, audited: bool = False) -> None:
    """Let the external service decide everything pending, and what those decisions ask for next;
    ``audited``: the liquidity audit must balance after every single confirmation, mid-flight too."""
    for _ in range(10):
        pending = list(GatewayTransfer.objects.filter(status="pending").order_by("id"))
        if not pending:
            return
        for moved in pending:
            external_transfer_confirm(tx_id=moved.tx_id, draw=draw)
            if audited:
                assert escrow_figures().ok, (moved.purpose, moved.direction, escrow_figures().problems)
    raise AssertionError("external transfers still pending after ten rounds")


def wallet(user) -> Decimal:
    return Account.objects.get(owner=user).balance


def external(user) -> Decimal:
    return ExternalAccount.objects.get(owner=user).balance


def fees() -> Decimal:
    return account_balance(house_account(Account.House.FEES))


def vaults() -> tuple[Decimal, Decimal, Decimal]:
    """Internal escrow, the external vault, and the ledger's mirror of it."""
    return (escrow_vault_balance(), platform_address(ESCROW_ADDRESS).balance,
            house_account(Account.House.ESCROW_EXTERNAL).balance)


def settled_fees() -> Decimal:
    return sum((c.fee for c in Challenge.objects.filter(status="settled")), D("0.00"))


def assert_books_balance() -> None:
    """Every vault holds exactly the stakes still held, the fees account exactly the fees, the ledger verifies."""
    figures = escrow_figures()
    assert figures.ok, figures.problems
    assert fees() == settled_fees()
    report = ledger_verify()
    assert report.ok, report.problems


def home_wins(event) -> None:
    event_result_set(event_id=event.pk, home_score=2, away_score=0, actor=TRADER)


# --- the arithmetic ------------------------------------------------------------------------------

@pytest.mark.parametrize(("stake", "pot", "payout", "fee"), [
    ("1.00", "2.00", "1.90", "0.10"),
    ("1.01", "2.02", "1.91", "0.11"),      # 1.919 → 1.91: the fee takes the rounding
    ("33.33", "66.66", "63.32", "3.34"),   # 63.327 → 63.32
    ("99999.99", "199999.98", "189999.98", "10000.00"),  # 189999.981 → 189999.98
])
def test_payout_and_fee_to_the_cent(stake, pot, payout, fee):
    assert challenge_payout(D(stake)) == (D(pot), D(payout), D(fee))
    assert D(payout) + D(fee) == D(pot)


@pytest.mark.parametrize(("stake", "fee_in", "fee_out", "refund"), [
    ("1.00", "0.00", "0.00", "1.00"),         # internal: all of it
    ("33.33", "0.00", "0.00", "33.33"),
    ("1.01", "0.50", "0.50", "0.01"),         # external: less its two network fees
    ("1.00", "0.50", "0.50", "0.00"),         # never below zero
    ("99999.99", "0.50", "0.50", "99998.99"),
])
def test_refund_is_the_stake_less_the_partys_own_network_fees(stake, fee_in, fee_out, refund):
    assert refund_amount(D(stake), fee_in=D(fee_in), fee_out=D(fee_out)) == D(refund)


# --- settlement on the internal wallet -----------------------------------------------------------

def test_the_creator_wins_the_pot_less_the_fee_and_a_rerun_pays_nobody_twice(event, alice, bob, monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    # given a matched challenge of 33.33 each on the home win
    challenge = matched(alice, bob, event, stake="33.33")
    assert (wallet(alice), wallet(bob)) == (D("966.67"), D("966.67"))
    published = []
    monkeypatch.setattr(live, "_publish", published.extend)
    # when the home side wins and settlement runs
    home_wins(event)
    with django_capture_on_commit_callbacks(execute=True):
        assert challenges_settle(event_ids=[event.pk]) == 1
    # then both parties' /ws/v1/me hear of it once it has committed
    news = {"type": "challenge", "challenge_id": challenge.pk, "status": "settled", "result": "won"}
    assert {group for groups, payload in published if payload == news for group in groups} == {
        f"user.{alice.pk}", f"user.{bob.pk}"}
    # and alice gets 63.32 of the 66.66 pot, the house fees 3.34, and escrow is empty
    challenge.refresh_from_db()
    assert (challenge.status, challenge.result, challenge.winner_id) == ("settled", "won", alice.pk)
    assert (challenge.payout, challenge.fee) == (D("63.32"), D("3.34")) and challenge.settled_at
    assert (wallet(alice), wallet(bob)) == (D("1029.99"), D("966.67"))
    assert fees() == D("3.34") and vaults()[0] == D("0.00")
    assert_books_balance()
    record = audit_rows("challenge.settle").get()
    assert (record.resource_id, record.details["result"], record.details["payout"]) == (
        str(challenge.pk), "won", "63.32")
    assert {n.user_id for n in alice.notifications.all() | bob.notifications.all()
            if n.kind == "challenge_settled"} == {alice.pk, bob.pk}
    # when settlement runs again (a second worker, a redelivered task)
    transfers = Transfer.objects.count()
    assert challenges_settle(event_ids=[event.pk]) == 0
    # then nobody is paid twice
    assert Transfer.objects.count() == transfers and wallet(alice) == D("1029.99")


def test_lost_pays_the_acceptor(event, alice, bob):
    matched(alice, bob, event, stake="1.01")
    event_result_set(event_id=event.pk, home_score=0, away_score=1, actor=TRADER)
    assert challenges_settle(event_ids=[event.pk]) == 1
    # bob gets 1.91 of 2.02, the fee 0.11
    assert (wallet(alice), wallet(bob)) == (D("998.99"), D("1000.90"))
    assert Challenge.objects.get().result == "lost" and fees() == D("0.11")
    assert_books_balance()


def test_a_void_outcome_refunds_both_parties(event, alice, bob):
    # given a challenge on a market resulted with no winner (every outcome void)
    challenge = matched(alice, bob, event, stake="25.00")
    market_result_set(market_id=outcome_of(event).market_id, winners=[], actor=TRADER)
    # when it is settled
    assert challenges_settle(event_ids=[event.pk]) == 1
    # then both stakes come back whole, and no fee is taken
    challenge.refresh_from_db()
    assert (challenge.status, challenge.result, challenge.payout, challenge.fee) == ("void", None, None, None)
    assert challenge.status_reason == "the selection was made void"
    assert (wallet(alice), wallet(bob)) == (D("1000.00"), D("1000.00")) and fees() == D("0.00")
    assert audit_rows("challenge.void").get().details["refunds"] == {"creator": "25.00", "acceptor": "25.00"}
    assert_books_balance()


def test_settled_and_void_challenges_count_in_both_parties_p2p_stats(make_event, alice, bob):
    # given one challenge alice wins and one void on a cancelled event, each of 10.00
    won_on, void_on = make_event(), make_event()
    matched(alice, bob, won_on)
    matched(alice, bob, void_on, acceptor_funding="external")
    event_result_set(event_id=won_on.pk, home_score=2, away_score=1, actor=TRADER)
    event_cancel(event_id=void_on.pk, actor=TRADER, reason="abandoned")
    # when both are settled
    assert challenges_settle(event_ids=[won_on.pk, void_on.pk]) == 2
    confirm_pending()
    # then each party's p2p line counts both: bob's void refund is net of his two network fees
    p2p = {user: bettor_stats(user=user)["p2p"] for user in (alice, bob)}
    assert (p2p[alice].bets, p2p[alice].won, p2p[alice].void) == (2, 1, 1)
    assert (p2p[alice].staked, p2p[alice].returned) == (D("20.00"), D("29.00"))
    assert (p2p[bob].bets, p2p[bob].lost, p2p[bob].void) == (2, 1, 1)
    assert (p2p[bob].staked, p2p[bob].returned) == (D("20.00"), D("9.00"))
    assert bettor_stats(user=alice)["sports"].bets == 0


@pytest.mark.parametrize(("points", "creator", "acceptor", "status"), [
    (25, "1009.00", "990.00", "settled"),   # over 20.5 wins: 19.00 of the 20.00 pot
    (20, "990.00", "1009.00", "settled"),   # under wins
])
def test_a_proposition_settles_on_the_players_final_stat(make_event, alice, bob, points, creator, acceptor, status):
    event = make_event(sport="basketball")
    player = Player.objects.create(event=event, name="Jo Hoops", team="home")
    matched(alice, bob, event, proposition={"player_id": player.pk, "stat": "points", "line": "20.5",
                                            "side": "over"})
    # the final stat line is posted with the result
    Player.objects.filter(pk=player.pk).update(points=points)
    home_wins(event)
    assert challenges_settle(event_ids=[event.pk]) == 1
    assert (wallet(alice), wallet(bob)) == (D(creator), D(acceptor))
    assert Challenge.objects.get().status == status
    assert_books_balance()


def test_a_stat_exactly_on_a_whole_line_is_void(make_event, alice, bob):
    event = make_event(sport="basketball")
    player = Player.objects.create(event=event, name="Jo Hoops", team="home", rebounds=0)
    matched(alice, bob, event, proposition={"player_id": player.pk, "stat": "rebounds", "line": "8",
                                            "side": "under"}, creator_funding="external")
    Player.objects.filter(pk=player.pk).update(rebounds=8)
    home_wins(event)
    assert challenges_settle(event_ids=[event.pk]) == 1
    confirm_pending()
    challenge = Challenge.objects.get()
    assert (challenge.status, challenge.status_reason) == ("void", "the stat landed exactly on the line")
    # alice (external) gets 10.00 less 0.50 in and 0.50 out; bob (internal) all of it
    assert (external(alice), wallet(bob)) == (D("999.00"), D("1000.00"))
    assert_books_balance()


# --- across gateways -------------------------------------------------------------------------------

@pytest.mark.parametrize(("creator_funding", "acceptor_funding"), [
    ("internal", "external"), ("external", "internal"), ("external", "external")])
@pytest.mark.parametrize("home_score", [2, 0])
def test_mixed_gateways_pay_the_winner_on_its_own_wallet_and_leave_every_vault_exact(
        event, alice, bob, creator_funding, acceptor_funding, home_score):
    # given a challenge of 40.00 each, and another, still open, whose stake escrow keeps holding
    challenge = matched(alice, bob, event, stake="40.00", creator_funding=creator_funding,
                        acceptor_funding=acceptor_funding)
    challenge_create(creator=bob, event_id=event.pk, outcome_id=outcome_of(event, "draw").pk, stake="7.00",
                     funding="external", actor=Actor.of(bob))
    confirm_pending()
    before = {"alice": (wallet(alice), external(alice)), "bob": (wallet(bob), external(bob))}
    # when the event decides it and settlement runs, then the external service confirms what it was asked
    event_result_set(event_id=event.pk, home_score=home_score, away_score=1, actor=TRADER)
    assert challenges_settle(event_ids=[event.pk]) == 1
    assert escrow_figures().ok
    confirm_pending(audited=True)
    # then the winner has 76.00 of the 80.00 pot on the wallet it staked from; the loser nothing more
    challenge.refresh_from_db()
    winner, funding = (alice, creator_funding) if home_score == 2 else (bob, acceptor_funding)
    assert challenge.winner_id == winner.pk and (challenge.payout, challenge.fee) == (D("76.00"), D("4.00"))
    name = "alice" if winner == alice else "bob"
    internal_before, external_before = before[name]
    gained = (D("76.00"), D("0.00")) if funding == "internal" else (D("0.00"), D("76.00"))
    assert (wallet(winner) - internal_before, external(winner) - external_before) == gained
    loser = bob if winner == alice else alice
    assert (wallet(loser), external(loser)) == before["bob" if loser == bob else "alice"]
    # and the vaults hold exactly bob's open 7.00 (external), the fees account exactly the fee
    assert vaults() == (D("0.00"), D("7.00"), D("7.00"))
    assert fees() == D("4.00")
    assert_books_balance()


def test_a_failed_external_payout_is_asked_again_until_it_lands(event, alice, bob, settings):
    matched(alice, bob, event, creator_funding="external", acceptor_funding="external")
    home_wins(event)
    challenges_settle(event_ids=[event.pk])
    # the network fails the first round of payouts (a draw under the failure rate fails)
    settings.EXTERNAL_WALLET_FAILURE_RATE = "0.3"
    for moved in GatewayTransfer.objects.filter(status="pending"):
        external_transfer_confirm(tx_id=moved.tx_id, draw=FAIL)
    assert set(GatewayTransfer.objects.filter(purpose__in=["payout", "fee"]).values_list("status", flat=True)) \
        == {"failed", "pending"}
    assert escrow_figures().ok  # the money is still in the vault, on its way out again
    confirm_pending(audited=True)
    assert external(alice) == D("1009.00")  # 1000 − 10 + 19
    assert_books_balance()


# --- cancelled events and operator voids -----------------------------------------------------------

def test_a_cancelled_event_voids_every_held_challenge_and_refunds_what_escrow_holds(event, alice, bob, make_user):
    carol = _player(make_user)
    # given: matched (internal), open (internal), matching (external acceptor on its way) and
    # escrow_pending (external creator on its way) challenges on one event
    both = matched(alice, bob, event, stake="10.00")
    open_one = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="5.00",
                                funding="internal", actor=Actor.of(alice))
    matching = challenge_create(creator=bob, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="3.00",
                                funding="internal", actor=Actor.of(bob))
    challenge_accept(challenge_id=matching.pk, acceptor=carol, funding="external", actor=Actor.of(carol))
    pending = challenge_create(creator=carol, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="2.00",
                               funding="external", actor=Actor.of(carol))
    assert {c.pk: c.status for c in Challenge.objects.all()} == {
        both.pk: "matched", open_one.pk: "open", matching.pk: "matching", pending.pk: "escrow_pending"}
    # when the event is cancelled and settlement runs
    event_cancel(event_id=event.pk, reason="floodlights failed", actor=TRADER)
    assert challenges_settle(event_ids=[event.pk]) == 4
    # then all four are void and what escrow held is back; the stakes still on their way are refunded
    # when they land, less their network fees
    assert set(Challenge.objects.values_list("status", "status_reason")) == {("void", "the event was cancelled")}
    assert (wallet(alice), wallet(bob)) == (D("1000.00"), D("1000.00"))
    confirm_pending(audited=True)
    assert external(carol) == D("1000.00") - D("1.00") - D("1.00")  # two stakes in and back, 0.50 each way
    assert vaults() == (D("0.00"), D("0.00"), D("0.00"))
    assert_books_balance()


def test_an_operator_voids_a_matched_challenge_with_a_reason(event, alice, bob, make_user):
    challenge = matched(alice, bob, event, stake="12.00", acceptor_funding="external")
    trader = make_user("trader")
    # a void without a reason is refused and changes nothing
    before = {**ledger_snapshot(), "challenges": list(Challenge.objects.values_list("pk", "status"))}
    with pytest.raises(DomainError) as refused:
        challenge_void(challenge_id=challenge.pk, reason=" ", actor=Actor.of(trader))
    assert refused.value.code == "reason_required"
    assert {**ledger_snapshot(), "challenges": list(Challenge.objects.values_list("pk", "status"))} == before
    assert audit_rows("challenge.void", "refused").count() == 1
    # with one, both are refunded
    challenge_void(challenge_id=challenge.pk, reason="match fixing suspected", actor=Actor.of(trader))
    confirm_pending()
    challenge.refresh_from_db()
    assert (challenge.status, challenge.status_reason) == ("void", "match fixing suspected")
    assert (wallet(alice), external(bob)) == (D("1000.00"), D("999.00"))
    assert audit_rows("challenge.void", "success").get().actor_id == trader.pk
    # a settled or void challenge cannot be voided again
    with pytest.raises(DomainError) as again:
        challenge_void(challenge_id=challenge.pk, reason="twice", actor=Actor.of(trader))
    assert (again.value.code, again.value.status) == ("invalid_challenge_state", 409)
    assert_books_balance()


def test_a_batch_that_dies_half_written_leaves_nothing_and_the_rerun_settles(event, alice, bob, monkeypatch):
    # given two decided challenges, one paid across gateways
    matched(alice, bob, event)
    matched(bob, alice, event, acceptor_funding="external")
    home_wins(event)
    before = {**ledger_snapshot(), "challenges": list(Challenge.objects.values_list("pk", "status")),
              "gateway_transfers": GatewayTransfer.objects.count(), "stats": BettorStats.objects.count(),
              "audit": AuditLog.objects.count(), "notifications": Notification.objects.count()}
    # when the batch dies after the database function has written the challenges, the audit rows,
    # the notifications, the internal payouts and fees and the stats, at its last step (the
    # external gateway's movements)
    def crash(self, movements, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(ExternalGateway, "transfer", crash)
    with pytest.raises(RuntimeError):
        challenges_settle(event_ids=[event.pk])
    # then nothing of it remains
    assert {**ledger_snapshot(), "challenges": list(Challenge.objects.values_list("pk", "status")),
            "gateway_transfers": GatewayTransfer.objects.count(), "stats": BettorStats.objects.count(),
            "audit": AuditLog.objects.count(), "notifications": Notification.objects.count()} == before
    # and the rerun settles both, each once
    monkeypatch.undo()
    assert challenges_settle(event_ids=[event.pk]) == 2
    confirm_pending(audited=True)
    assert GatewayTransfer.objects.filter(purpose="payout").count() == 2
    assert_books_balance()


# --- how settlement is asked for -------------------------------------------------------------------

def test_a_cancelled_event_asks_for_its_challenges_and_the_task_settles_them(event, alice, bob, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    challenge = matched(alice, bob, event)
    sent = []
    monkeypatch.setattr(current_app, "send_task",
                        lambda name, args=(), kwargs=None, **options: sent.append((name, args, kwargs)))
    # when the event is cancelled: one request, after commit, naming its markets and the event itself
    with django_capture_on_commit_callbacks(execute=True):
        event_cancel(event_id=event.pk, reason="rain", actor=TRADER)
    markets = list(event.markets.values_list("pk", flat=True))
    assert sent == [("betting.tasks.settle_markets_task", [markets], {"event_ids": [event.pk]})]
    # then the task it names voids the challenge
    _, args, kwargs = sent[0]
    settle_markets_task(*args, fan_out=False, **kwargs)
    challenge.refresh_from_db()
    assert (challenge.status, challenge.status_reason) == ("void", "the event was cancelled")


def test_the_settlement_sweep_settles_a_challenge_whose_task_was_lost(event, alice, bob):
    # given a challenge on a market cancelled by a trader, its settlement task lost
    challenge = matched(alice, bob, event)
    market_cancel(market_id=outcome_of(event).market_id, reason="wrong prices", actor=TRADER)
    # when the beat's sweep runs
    assert settlement_sweep_task() == 1
    # then it is void and both stakes are back
    challenge.refresh_from_db()
    assert (challenge.status, challenge.status_reason) == ("void", "the market was cancelled")
    assert (wallet(alice), wallet(bob)) == (D("1000.00"), D("1000.00"))
    assert settlement_sweep_task() == 0
