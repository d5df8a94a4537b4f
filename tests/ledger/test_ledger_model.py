"""A stateful property test: random deposits, withdrawals and transfers against an in-memory model."""

import itertools
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.services import user_with_role
from audit.context import Actor
from core.errors import InsufficientFunds
from ledger.models import Account, Transfer
from ledger.selectors import ledger_verify
from ledger.services import transfer_create
from risk.models import KycStatus, PlayerRestriction
from wallet.services import wallet_deposit, wallet_withdraw

names = itertools.count()
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        run = next(names)
        self.players = [
            user_with_role(username=f"model{run}_{i}", password="a-long-test-password", role="player")[0]
            for i in range(3)
        ]
        # verified, so that only the balance decides a withdrawal (the KYC threshold has tests of its own)
        PlayerRestriction.objects.bulk_create([PlayerRestriction(player=p, kyc_status=KycStatus.VERIFIED)
                                               for p in self.players])
        self.model = {p.pk: Decimal("0.00") for p in self.players}
        self.transfers = Transfer.objects.count()

    def _wallet(self, player) -> Account:
        return Account.objects.get(owner=player)

    @rule(who=st.integers(0, 2), amount=amounts)
    def deposit(self, who, amount):
        player = self.players[who]
        wallet_deposit(user=player, amount=amount, actor=Actor.of(player))
        self.model[player.pk] += amount
        self.transfers += 1

    @rule(who=st.integers(0, 2), amount=amounts)
    def withdraw(self, who, amount):
        player = self.players[who]
        try:
            wallet_withdraw(user=player, amount=amount, actor=Actor.of(player))
        except InsufficientFunds:
            assert self.model[player.pk] < amount
            return
        assert self.model[player.pk] >= amount
        self.model[player.pk] -= amount
        self.transfers += 1

    @precondition(lambda self: any(self.model.values()))
    @rule(payer_index=st.integers(0, 2), payee_index=st.integers(0, 2), amount=amounts)
    def transfer(self, payer_index, payee_index, amount):
        if payer_index == payee_index:
            return
        payer, payee = self.players[payer_index], self.players[payee_index]
        try:
            with transaction.atomic():
                transfer_create(debit=self._wallet(payer), credit=self._wallet(payee),
                                amount=amount, kind=Transfer.Kind.CORRECTION)
        except InsufficientFunds:
            assert self.model[payer.pk] < amount
            return
        self.model[payer.pk] -= amount
        self.model[payee.pk] += amount
        self.transfers += 1

    @invariant()
    def balances_match_the_model(self):
        for player in self.players:
            assert self._wallet(player).balance == self.model[player.pk] >= 0

    @invariant()
    def every_transfer_is_written_once(self):
        assert Transfer.objects.count() == self.transfers

    @invariant()
    def ledger_invariants_hold(self):
        report = ledger_verify()
        assert report.ok, report.problems


@pytest.mark.django_db
def test_ledger_matches_its_model():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
