"""The casino's hand-written SQL (DESIGN.md "Layout"): ledger_check's invariant for rounds, in one
statement that returns only the rounds (or transfers) that disagree, however many rounds there are."""

from __future__ import annotations

from django.db import connection

from casino.models import Round
from core.db import sql_names
from ledger.models import Transfer

REFERENCE_TYPE = "casino_round"  # the reference_type of a round's transfers (casino/services.py)

_MISMATCHES = """
SELECT coalesce(r.{Round.id}::text, t.ref), r.{Round.stake}, r.{Round.payout}, t.staked, t.paid, t.stakes, t.payouts
  FROM {Round} r
  FULL JOIN (SELECT x.{Transfer.reference_id} AS ref,
                    sum(x.{Transfer.amount}) FILTER (WHERE x.{Transfer.kind} = '{stake}') AS staked,
                    coalesce(sum(x.{Transfer.amount}) FILTER (WHERE x.{Transfer.kind} = '{payout}'), 0) AS paid,
                    count(*) FILTER (WHERE x.{Transfer.kind} = '{stake}') AS stakes,
                    count(*) FILTER (WHERE x.{Transfer.kind} = '{payout}') AS payouts
               FROM {Transfer} x
              WHERE x.{Transfer.kind} IN ('{stake}', '{payout}')
              GROUP BY x.{Transfer.reference_id}) t ON t.ref = r.{Round.id}::text
 WHERE r.{Round.id} IS NULL OR t.ref IS NULL OR t.staked IS DISTINCT FROM r.{Round.stake}
    OR t.paid <> r.{Round.payout} OR t.stakes <> 1 OR t.payouts > 1
 ORDER BY 1
 LIMIT 100
"""


def round_problems() -> list[str]:
    """ledger_check's invariant for the casino: every round has one CASINO_STAKE transfer of its stake and,
    when it paid, one CASINO_PAYOUT of its payout; every casino transfer belongs to a round."""
    statement = _MISMATCHES.format_map({**sql_names(Round, Transfer), "stake": Transfer.Kind.CASINO_STAKE,
                                        "payout": Transfer.Kind.CASINO_PAYOUT})
    with connection.cursor() as cursor:
        cursor.execute(statement)
        rows = cursor.fetchall()
    return [f"casino round {ref}: stake {stake}, payout {payout}, but its transfers stake {staked} "
            f"({stakes} transfer(s)) and pay {paid} ({payouts} transfer(s))"
            for ref, stake, payout, staked, paid, stakes, payouts in rows]
