"""Commission statements end to end (agents.services): the seed's agent and players, the run, the
approval paying the agent once through the ledger, the run's idempotency and its refusals."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Tenant
from agents.models import CommissionLine, CommissionPlan, CommissionStatement
from agents.services import commission_approve, commission_reject, commissions_run
from agents.tasks import commissions_run_task
from audit.context import Actor
from betting.reports import ggr_report
from core.errors import DomainError
from ledger.models import Account, Transfer
from ledger.selectors import ledger_verify
from tests.agents.helpers import bet_settled, expected_lines, players_of, this_period
from tests.conftest import audit_rows, ledger_snapshot, wallet_of

D = Decimal
User = get_user_model()


def lines_of(statement):
    return {line.kind: (line.base, line.amount) for line in statement.lines.all()}


@pytest.fixture
def seeded(db, make_event):
    """The demo seed: the agent owns alice, bob and carol, who deposited 10,000, 5,000 and 750; each then
    bets and the bets are settled (alice loses 100, bob wins 15 on 10, carol's 50 is void and her 4.99 lost)."""
    call_command("seed_demo")
    users = {u.username: u for u in User.objects.filter(username__in=["agent", "alice", "bob", "carol",
                                                                       "trader", "compliance"])}
    event = make_event(home="2.50")
    trader = users["trader"]
    bet_settled(users["alice"], event, "100.00", "lost", trader=trader)
    bet_settled(users["bob"], event, "10.00", "won", trader=trader)
    bet_settled(users["carol"], event, "50.00", "void", trader=trader)
    bet_settled(users["carol"], event, "4.99", "lost", trader=trader)
    return users


def test_the_seeds_agent_is_paid_once_for_the_period(seeded):
    agent, compliance = seeded["agent"], seeded["compliance"]
    assert set(agent.agent_players.values_list("username", flat=True)) == {"alice", "bob", "carol"}
    start, end = this_period()
    # when compliance runs the period
    statements = commissions_run(start=start, end=end, actor=Actor.of(compliance))
    # then the agent has one pending statement whose lines are computed here independently
    [statement] = [s for s in statements if s.agent_id == agent.pk]
    expected = expected_lines(agent)
    assert lines_of(statement) == expected
    assert expected == {"deposits": (D("15750.00"), D("315.00")),   # 200 + 100 + 15
                        "turnover": (D("110.00"), D("1.65")),       # 1.50 + 0.15; 4.99 under the floor, void out
                        "ggr": (D("89.99"), D("8.99"))}             # 100 − 15 + 0 + 4.99, 10% rounded down
    assert (statement.deposits, statement.turnover, statement.ggr) == (D("15750.00"), D("114.99"), D("89.99"))
    assert (statement.carried_in, statement.carried_out) == (D("0.00"), D("0.00"))
    assert statement.amount == D("325.64") and statement.status == "pending"
    assert statement.tenant_id == agent.tenant_id
    # when compliance approves it
    pool_before = Transfer.objects.filter(kind=Transfer.Kind.COMMISSION).count()
    paid = commission_approve(statement_id=statement.pk, reason="checked", actor=Actor.of(compliance))
    # then one COMMISSION transfer moved the amount from the commission pool to the agent's wallet
    [transfer] = Transfer.objects.filter(kind=Transfer.Kind.COMMISSION)
    assert pool_before == 0
    assert (transfer.debit_account.code, transfer.credit_account.owner_id, transfer.amount) == (
        "house:commission", agent.pk, D("325.64"))
    assert transfer.idempotency_key == f"commission:{statement.pk}"
    assert wallet_of(agent).balance == D("325.64")
    assert (paid.status, paid.transfer_id, paid.decided_by_id, paid.reason) == (
        "paid", transfer.pk, compliance.pk, "checked")
    assert audit_rows("commission.approve", "success").count() == 1
    # the GGR report counts it among the period's commissions
    regulator = User.objects.get(username="regulator")
    assert ggr_report(start=start.isoformat(), end=end.isoformat(), viewer=regulator)["total"]["commissions"] == D(
        "325.64")
    # and the ledger is clean (its commission invariant included)
    assert ledger_verify().ok, ledger_verify().problems
    call_command("ledger_check")


def test_approving_twice_pays_once_and_changes_nothing(seeded):
    compliance = Actor.of(seeded["compliance"])
    start, end = this_period()
    [statement] = commissions_run(start=start, end=end, actor=compliance)
    commission_approve(statement_id=statement.pk, reason="ok", actor=compliance)
    before = ledger_snapshot()
    for decide in (commission_approve, commission_reject):
        with pytest.raises(DomainError) as refused:
            decide(statement_id=statement.pk, reason="again", actor=compliance)
        assert (refused.value.status, refused.value.code, refused.value.details) == (
            409, "commission_not_pending", {"status": "paid"})
    assert ledger_snapshot() == before
    assert wallet_of(seeded["agent"]).balance == statement.amount
    assert audit_rows("commission.approve", "refused").count() == 1
    assert audit_rows("commission.reject", "refused").count() == 1


def test_a_rejected_statement_pays_nothing_and_stays_rejected(seeded):
    compliance = Actor.of(seeded["compliance"])
    [statement] = commissions_run(start=this_period()[0], end=this_period()[1], actor=compliance)
    before = ledger_snapshot()
    rejected = commission_reject(statement_id=statement.pk, reason="self-referred players", actor=compliance)
    assert (rejected.status, rejected.transfer_id, rejected.reason) == ("rejected", None, "self-referred players")
    assert ledger_snapshot() == before
    with pytest.raises(DomainError) as refused:
        commission_approve(statement_id=statement.pk, reason="changed my mind", actor=compliance)
    assert refused.value.code == "commission_not_pending"
    assert ledger_snapshot() == before


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_a_decision_needs_a_reason(seeded, reason):
    compliance = Actor.of(seeded["compliance"])
    [statement] = commissions_run(start=this_period()[0], end=this_period()[1], actor=compliance)
    before = ledger_snapshot()
    for decide in (commission_approve, commission_reject):
        with pytest.raises(DomainError) as refused:
            decide(statement_id=statement.pk, reason=reason, actor=compliance)
        assert refused.value.status == 400
        assert refused.value.code == ("invalid_request" if reason and reason.strip() else "reason_required")
    statement.refresh_from_db()
    assert statement.status == "pending" and ledger_snapshot() == before


def test_another_tenants_statement_is_not_found_and_unchanged(seeded, make_user):
    # given the platform tenant's statement and a compliance officer of another tenant
    [statement] = commissions_run(start=this_period()[0], end=this_period()[1], actor=Actor.of(seeded["compliance"]))
    acme = Tenant.objects.create(slug="acme", name="Acme")
    outsider = make_user("compliance", "acme-compliance")
    User.objects.filter(pk=outsider.pk).update(tenant=acme)
    outsider.refresh_from_db()
    before = ledger_snapshot()
    # when they try to decide it
    for decide in (commission_approve, commission_reject):
        with pytest.raises(DomainError) as refused:
            decide(statement_id=statement.pk, reason="mine now", actor=Actor.of(outsider))
        # then it is as unknown as an id that does not exist
        assert (refused.value.status, refused.value.code) == (404, "not_found")
    with pytest.raises(DomainError) as missing:
        commission_approve(statement_id=statement.pk + 10_000, reason="x", actor=Actor.of(seeded["compliance"]))
    assert missing.value.code == "not_found"
    statement.refresh_from_db()
    assert statement.status == "pending" and ledger_snapshot() == before


def test_a_zero_statement_is_approved_without_a_transfer(db, make_user):
    agent, player, compliance = make_user("agent"), make_user("player"), make_user("compliance")
    players_of(agent, player)
    [statement] = commissions_run(start=date(2026, 1, 5), end=date(2026, 1, 12), actor=Actor.of(compliance))
    assert statement.amount == D("0.00") and lines_of(statement) == {
        "deposits": (D("0.00"), D("0.00")), "turnover": (D("0.00"), D("0.00")), "ggr": (D("0.00"), D("0.00"))}
    before = ledger_snapshot()
    approved = commission_approve(statement_id=statement.pk, reason="nothing due", actor=Actor.of(compliance))
    assert (approved.status, approved.transfer_id) == ("approved", None)
    assert ledger_snapshot() == before and ledger_verify().ok


def test_running_a_period_twice_changes_nothing(seeded):
    actor = Actor.of(seeded["compliance"])
    start, end = this_period()
    first = commissions_run(start=start, end=end, actor=actor)
    rows = list(CommissionStatement.objects.values_list("pk", "amount", "status"))
    lines = CommissionLine.objects.count()
    second = commissions_run(start=start.isoformat(), end=end.isoformat(), actor=actor)
    assert [s.pk for s in second] == [s.pk for s in first]
    assert list(CommissionStatement.objects.values_list("pk", "amount", "status")) == rows
    assert CommissionLine.objects.count() == lines == 3
    # even once the statement is paid, and with more deposits since: it is the period's, written once
    commission_approve(statement_id=first[0].pk, reason="ok", actor=actor)
    from wallet.services import wallet_deposit
    wallet_deposit(user=seeded["alice"], amount=D("500.00"), actor=actor)
    third = commissions_run(start=start, end=end, actor=actor)
    assert [(s.pk, s.amount, s.status) for s in third] == [(first[0].pk, first[0].amount, "paid")]
    assert audit_rows("commission.run", "success").count() == 3


def test_a_period_overlapping_an_agents_statement_is_refused(seeded):
    actor = Actor.of(seeded["compliance"])
    start, end = this_period()
    commissions_run(start=start, end=end, actor=actor)
    count = CommissionStatement.objects.count()
    with pytest.raises(DomainError) as refused:
        commissions_run(start=start + timedelta(days=1), end=end + timedelta(days=0), actor=actor)
    assert (refused.value.status, refused.value.code) == (409, "commission_period_overlap")
    assert CommissionStatement.objects.count() == count
    assert audit_rows("commission.run", "refused").count() == 1


@pytest.mark.parametrize(("start", "end", "code"), [
    ("2026-11-30", "2026-11-30", "invalid_period"),   # empty
    ("2026-12-01", "2026-11-30", "invalid_period"),   # backwards
    ("2025-01-01", "2026-01-03", "invalid_period"),   # 367 days
    ("1999-12-31", "2000-01-07", "invalid_period"),   # too early
    ("2026-13-01", "2026-12-07", "invalid_date"),
    ("yesterday", "2026-12-07", "invalid_date"),
    ("", "2026-12-07", "invalid_date"),
    (None, "2026-12-07", "invalid_date"),
])
def test_a_period_must_be_readable_forward_and_bounded(db, make_user, start, end, code):
    with pytest.raises(DomainError) as refused:
        commissions_run(start=start, end=end, actor=Actor.system("test"))
    assert (refused.value.status, refused.value.code) == (400, code)
    assert not CommissionStatement.objects.exists()


def test_a_period_may_hold_today_but_not_end_after_tomorrow(db, make_user):
    agent, player = make_user("agent"), make_user("player")
    players_of(agent, player)
    today = date(2026, 12, 9)
    assert commissions_run(start="2026-12-09", end="2026-12-10", actor=Actor.system("test"), today=today)
    with pytest.raises(DomainError) as refused:
        commissions_run(start="2026-12-09", end="2026-12-11", actor=Actor.system("test"), today=today)
    assert (refused.value.code, refused.value.details["latest_end"]) == ("invalid_period", "2026-12-10")
    assert commissions_run(start="2025-01-01", end="2026-01-02", actor=Actor.system("test"), today=today)  # 366 days


def test_negative_ggr_carries_over_to_the_agents_next_statement(db, make_user, make_event):
    # given an agent whose players won more than they lost this week, after a week that left −40.00
    agent, player, trader = make_user("agent"), make_user("player", balance="1000.00"), make_user("trader")
    players_of(agent, player)
    start, end = this_period()
    CommissionStatement.objects.create(agent=agent, tenant_id=agent.tenant_id, period_start=start - timedelta(days=7),
                                       period_end=start, deposits=D("0"), turnover=D("0"), ggr=D("-40.00"),
                                       carried_out=D("-40.00"), amount=D("0"), status="approved")
    event = make_event(home="2.00")
    bet_settled(player, event, "100.00", "lost", trader=trader)   # +100.00
    bet_settled(player, event, "30.00", "won", trader=trader)     # −30.00
    # when the period runs
    [statement] = commissions_run(start=start, end=end, actor=Actor.system("test"))
    # then the GGR share is of 70.00 − 40.00 = 30.00, and nothing carries on
    assert (statement.ggr, statement.carried_in, statement.carried_out) == (D("70.00"), D("-40.00"), D("0.00"))
    assert lines_of(statement)["ggr"] == (D("30.00"), D("3.00")) == expected_lines(agent, carried_in=D("-40.00"))["ggr"]
    # and the deposit line counts the opening deposit
    assert lines_of(statement)["deposits"] == (D("1000.00"), D("20.00"))


def test_a_losing_period_carries_its_ggr_and_pays_no_share(db, make_user, make_event):
    agent, player, trader = make_user("agent"), make_user("player", balance="1000.00"), make_user("trader")
    players_of(agent, player)
    event = make_event(home="3.00")
    bet_settled(player, event, "20.00", "won", trader=trader)  # the house pays 60.00: GGR −40.00
    start, end = this_period()
    [statement] = commissions_run(start=start, end=end, actor=Actor.system("test"))
    assert (statement.ggr, statement.carried_out) == (D("-40.00"), D("-40.00"))
    assert lines_of(statement) == {"deposits": (D("1000.00"), D("20.00")), "turnover": (D("20.00"), D("0.30")),
                                   "ggr": (D("0.00"), D("0.00"))}
    assert statement.amount == D("20.30")
    # the next period starts from −40.00
    [following] = commissions_run(start=end, end=end + timedelta(days=1), actor=Actor.system("test"),
                                  today=end)
    assert (following.carried_in, following.carried_out) == (D("-40.00"), D("-40.00"))


def test_each_agent_gets_their_players_figures_only_and_their_tenants_plan(db, make_user, make_event):
    # given two agents in two tenants, the second tenant with its own plan
    acme = Tenant.objects.create(slug="acme-plan", name="Acme")
    CommissionPlan.objects.filter(tenant=acme).delete()
    CommissionPlan.objects.create(tenant=acme, deposit_rate=D("0.0500"), deposit_floor=D("1.00"),
                                  deposit_cap=D("3.00"))
    home_agent, acme_agent = make_user("agent"), make_user("agent")
    User.objects.filter(pk=acme_agent.pk).update(tenant=acme)
    mine, theirs, nobodys = (make_user("player", balance="100.00"), make_user("player", balance="100.00"),
                             make_user("player", balance="100.00"))
    players_of(home_agent, mine)
    players_of(acme_agent, theirs)
    # when the period runs
    start, end = this_period()
    statements = {s.agent_id: s for s in commissions_run(start=start, end=end, actor=Actor.system("test"))}
    # then one statement per agent, from each one's own players and plan
    assert set(statements) == {home_agent.pk, acme_agent.pk}
    assert lines_of(statements[home_agent.pk])["deposits"] == (D("100.00"), D("2.00"))
    assert lines_of(statements[acme_agent.pk])["deposits"] == (D("100.00"), D("3.00"))  # 5.00 capped at 3.00
    assert statements[acme_agent.pk].tenant_id == acme.pk
    assert nobodys.agent_id is None


def test_the_weekly_task_runs_the_last_complete_week(db, make_user):
    agent, player = make_user("agent"), make_user("player")
    players_of(agent, player)
    ids = commissions_run_task("2026-12-10")
    statement = CommissionStatement.objects.get(pk__in=ids)
    assert (statement.period_start, statement.period_end) == (date(2026, 11, 30), date(2026, 12, 7))
    assert commissions_run_task("2026-12-13") == ids  # the same week again: the same statements
    assert CommissionStatement.objects.count() == 1
    assert audit_rows("commission.run").filter(actor_label="system:commissions").count() == 2


def test_the_beat_schedules_the_weekly_run():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["commissions-run"]
    assert entry["task"] == "agents.tasks.commissions_run_task"
    assert entry["schedule"].day_of_week == {1}  # Mondays


def test_ledger_check_finds_a_commission_transfer_that_pays_no_statement(seeded):
    from django.db import transaction

    from ledger.services import house_account, transfer_create

    with transaction.atomic():
        transfer_create(debit=house_account(Account.House.COMMISSION), credit=wallet_of(seeded["alice"]),
                        amount=D("5.00"), kind=Transfer.Kind.COMMISSION)
    problems = ledger_verify().problems
    assert any("pays no statement" in p for p in problems), problems


def test_a_tenants_staff_run_their_tenants_agents_only(db, make_user):
    # given an agent in the platform tenant and one in another, each with a player
    acme = Tenant.objects.create(slug="acme-run", name="Acme")
    home_agent, acme_agent = make_user("agent"), make_user("agent")
    acme_player, acme_officer = make_user("player"), make_user("compliance")
    User.objects.filter(pk__in=[acme_agent.pk, acme_player.pk, acme_officer.pk]).update(tenant=acme)
    players_of(home_agent, make_user("player"))
    players_of(acme_agent, acme_player)
    period = {"start": date(2026, 1, 5), "end": date(2026, 1, 12)}
    # when the other tenant's compliance officer runs a period
    ran = commissions_run(**period, actor=Actor.of(User.objects.get(pk=acme_officer.pk)))
    # then only that tenant's agent has a statement
    assert [s.agent_id for s in ran] == [acme_agent.pk]
    assert list(CommissionStatement.objects.values_list("agent_id", flat=True)) == [acme_agent.pk]
    # and the platform's compliance officer (their own tenant's agents) then gets the rest
    ran = commissions_run(**period, actor=Actor.of(make_user("compliance")))
    assert [s.agent_id for s in ran] == [home_agent.pk]
    assert CommissionStatement.objects.count() == 2


def test_the_weekly_task_skips_an_agent_whose_statement_overlaps_the_week(db, make_user):
    # given two agents, one with a statement run by hand over part of the week
    early, late = make_user("agent"), make_user("agent")
    players_of(early, make_user("player"))
    players_of(late, make_user("player"))
    [by_hand] = [s for s in commissions_run(start="2026-12-02", end="2026-12-03", actor=Actor.system("test"),
                                            today=date(2026, 12, 3)) if s.agent_id == early.pk]
    CommissionStatement.objects.exclude(pk=by_hand.pk).delete()
    # when the weekly task runs the week holding it
    ids = commissions_run_task("2026-12-08")
    # then the other agent has the week's statement, the first keeps only theirs, and the audit says so
    assert list(CommissionStatement.objects.filter(pk__in=ids).values_list("agent_id", flat=True)) == [late.pk]
    assert list(CommissionStatement.objects.filter(agent=early).values_list("pk", flat=True)) == [by_hand.pk]
    row = audit_rows("commission.run", "success").filter(actor_label="system:commissions").get()
    assert row.details["skipped_overlapping"] == [{"agent_id": early.pk, "start": "2026-12-02", "end": "2026-12-03"}]
