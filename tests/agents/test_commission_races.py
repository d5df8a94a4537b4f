"""Two workers at once, against real PostgreSQL: one period run twice at the same moment writes one
statement per agent, and one statement approved twice at once is paid once."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from agents.models import CommissionLine, CommissionStatement
from agents.services import commission_approve, commissions_run
from audit.context import Actor
from core.errors import DomainError
from ledger.models import Transfer
from ledger.selectors import ledger_verify
from tests.agents.helpers import players_of, this_period
from tests.conftest import run_concurrently, wallet_of


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_running_one_period_write_one_statement_per_agent(make_user):
    # given three agents with a depositing player each
    agents = [make_user("agent") for _ in range(3)]
    for agent in agents:
        players_of(agent, make_user("player", balance="250.00"))
    start, end = this_period()
    # when two workers run the same period at the same moment
    results = run_concurrently(2, lambda i: commissions_run(start=start, end=end, actor=Actor.system(f"w{i}")))
    # then neither failed, both answer the same statements, and each agent has exactly one
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [s.pk for s in results[0]] == [s.pk for s in results[1]]
    assert sorted(CommissionStatement.objects.values_list("agent_id", flat=True)) == sorted(a.pk for a in agents)
    assert CommissionLine.objects.count() == 9
    assert set(CommissionStatement.objects.values_list("amount", flat=True)) == {Decimal("5.00")}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_statement_approved_twice_at_once_is_paid_once(make_user):
    agent, compliance, admin = make_user("agent"), make_user("compliance"), make_user("admin")
    players_of(agent, make_user("player", balance="1000.00"))
    start, end = this_period()
    [statement] = commissions_run(start=start, end=end, actor=Actor.of(compliance))
    deciders = [compliance, admin]
    results = run_concurrently(2, lambda i: commission_approve(statement_id=statement.pk, reason=f"ok {i}",
                                                               actor=Actor.of(deciders[i])))
    refused = [r for r in results if isinstance(r, DomainError)]
    assert [r.code for r in refused] == ["commission_not_pending"], results
    assert Transfer.objects.filter(kind=Transfer.Kind.COMMISSION).count() == 1
    assert wallet_of(get_user_model().objects.get(pk=agent.pk)).balance == Decimal("20.00")
    assert ledger_verify().ok
