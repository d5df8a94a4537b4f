"""The ledger's hand-written SQL (DESIGN.md "Layout"): the lock order of accounts, and one transfer
as ``ledger.services.transfers_create`` writes it, for the one-call services (placement, a
challenge's stake) that move money inside the database. Names from the models' ``_meta``.
Installed by ledger/migrations; tests/test_sql_functions.py checks the installed text against this file."""

from __future__ import annotations

from core.db import sql_names
from ledger.models import Account, Transfer, format_entry_number

ACCOUNTS_LOCK = "ledger_accounts_lock"
TRANSFER_WRITE = "ledger_transfer_write"
ESCROW_SHARD = "ledger_escrow_shard"
ENTRY_REFERENCE = "ledger_entry_reference"


def ledger_functions() -> str:
    return _FUNCTIONS.format_map({
        "lock": ACCOUNTS_LOCK, "write": TRANSFER_WRITE, "shard": ESCROW_SHARD, "reference": ENTRY_REFERENCE,
        "shards": Account.ESCROW_SHARDS, "escrow": Account.House.ESCROW, "first": format_entry_number(0)[:-9],
        **sql_names(Account, Transfer)})


# Doubled braces are PL/pgSQL's; single ones are names filled in by ledger_functions().
_FUNCTIONS = """
-- Account.escrow_shard: the house code of the escrow shard that holds the money of challenge p_reference.
CREATE OR REPLACE FUNCTION {shard}(p_reference bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN p_reference % {shards} = 0 THEN '{escrow}' ELSE '{escrow}.' || p_reference % {shards} END
$fn$;

-- format_entry_number: a transfer's reference, its entry number in at least nine digits.
CREATE OR REPLACE FUNCTION {reference}(p_entry bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT '{first}' || lpad(p_entry::text, greatest(9, length(p_entry::text)), '0')
$fn$;

-- The one lock order of accounts: by id. Locks the balance-storing accounts among these ids and
-- answers their balances (a house account whose balance is derived is not a row every bet locks).
-- (PL/pgSQL, as the functions below: its plan is kept for the session, where an SQL function's body is
-- planned on every call.)
CREATE OR REPLACE FUNCTION {lock}(p_ids bigint[]) RETURNS TABLE(id bigint, balance numeric)
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY SELECT a.{Account.id}, a.{Account.balance} FROM {Account} a
                  WHERE a.{Account.id} = ANY(p_ids) AND a.{Account.balance} IS NOT NULL
                  ORDER BY a.{Account.id} FOR UPDATE;
END
$fn$;

-- One transfer between two accounts the caller has locked ({lock}), given each side's balance
-- before (NULL for an account whose balance is derived) and having checked the debit side's funds:
-- the stored balances move and the transfer records them before and after. Answers its entry number.
CREATE OR REPLACE FUNCTION {write}(p_debit bigint, p_debit_before numeric, p_credit bigint,
    p_credit_before numeric, p_amount numeric, p_kind text, p_reference_type text, p_reference_id text,
    p_idempotency_key text, p_created_by bigint, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    entry bigint;
BEGIN
    UPDATE {Account} a SET {Account.balance} = CASE WHEN a.{Account.id} = p_debit THEN p_debit_before - p_amount
                                                     ELSE p_credit_before + p_amount END
     WHERE a.{Account.id} IN (p_debit, p_credit) AND a.{Account.balance} IS NOT NULL;
    INSERT INTO {Transfer} ({Transfer.debit_account}, {Transfer.credit_account}, {Transfer.amount}, {Transfer.kind},
                            {Transfer.reference_type}, {Transfer.reference_id}, {Transfer.idempotency_key},
                            {Transfer.debit_balance_before}, {Transfer.debit_balance_after},
                            {Transfer.credit_balance_before}, {Transfer.credit_balance_after},
                            {Transfer.created_by}, {Transfer.created_at}, {Transfer.metadata})
    VALUES (p_debit, p_credit, p_amount, p_kind, p_reference_type, p_reference_id, p_idempotency_key,
            p_debit_before, p_debit_before - p_amount, p_credit_before, p_credit_before + p_amount,
            p_created_by, p_now, '{{}}')
    RETURNING {Transfer.entry_number} INTO entry;
    RETURN entry;
END
$fn$;
"""

LEDGER_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {ESCROW_SHARD}(bigint);
DROP FUNCTION IF EXISTS {ENTRY_REFERENCE}(bigint);
DROP FUNCTION IF EXISTS {ACCOUNTS_LOCK}(bigint[]);
DROP FUNCTION IF EXISTS {TRANSFER_WRITE}(bigint, numeric, bigint, numeric, numeric, text, text, text, text, bigint,
                                         timestamptz);
"""
