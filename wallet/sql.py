"""The wallet app's hand-written SQL (DESIGN.md "Layout"): a stake into escrow through the internal
gateway, as ``wallet.gateways.InternalGateway.transfer`` writes it, for the one-call services (a
challenge's offer and acceptance) that move money inside the database. Names from the models'
``_meta``, values from their enums. Installed by wallet/migrations; tests/test_sql_functions.py checks the
installed text against this file."""

from __future__ import annotations

from core.db import sql_names
from ledger.models import Transfer
from ledger.sql import ENTRY_REFERENCE, TRANSFER_WRITE
from wallet.models import PURPOSES, Gateway, GatewayTransfer

INTERNAL_HOLD = "wallet_internal_hold"


def wallet_functions() -> str:
    return _FUNCTIONS.format_map({
        "fn": INTERNAL_HOLD, "write": TRANSFER_WRITE, "reference": ENTRY_REFERENCE,
        "escrow_hold": Transfer.Kind.ESCROW_HOLD, "internal": Gateway.INTERNAL, "in": GatewayTransfer.Direction.IN,
        "confirmed": GatewayTransfer.Status.CONFIRMED, "stake": PURPOSES[0], **sql_names(GatewayTransfer)})


# Doubled braces are PL/pgSQL's; single ones are names filled in by wallet_functions().
_FUNCTIONS = """
-- A player's stake into the internal escrow vault, confirmed at once: the ledger transfer from the
-- wallet to the escrow shard (both locked by the caller, ledger_accounts_lock, with their balances
-- passed in and the funds checked) and its gateway transfer under the movement's key. Answers the
-- gateway transfer's row.
CREATE OR REPLACE FUNCTION {fn}(p_user bigint, p_wallet bigint, p_wallet_before numeric, p_shard bigint,
    p_shard_before numeric, p_amount numeric, p_reference_type text, p_reference_id text, p_key text,
    p_created_by bigint, p_now timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    entry bigint;
    moved jsonb;
BEGIN
    entry := {write}(p_wallet, p_wallet_before, p_shard, p_shard_before, p_amount, '{escrow_hold}', p_reference_type,
                     p_reference_id, 'gateway:' || p_key, p_created_by, p_now);
    INSERT INTO {GatewayTransfer} AS t ({GatewayTransfer.gateway}, {GatewayTransfer.direction},
                                        {GatewayTransfer.user}, {GatewayTransfer.platform_account},
                                        {GatewayTransfer.amount}, {GatewayTransfer.network_fee},
                                        {GatewayTransfer.status}, {GatewayTransfer.tx_id},
                                        {GatewayTransfer.reference_type}, {GatewayTransfer.reference_id},
                                        {GatewayTransfer.purpose}, {GatewayTransfer.idempotency_key},
                                        {GatewayTransfer.failure_reason}, {GatewayTransfer.created_at},
                                        {GatewayTransfer.confirmed_at})
    VALUES ('{internal}', '{in}', p_user, '', p_amount, 0.00, '{confirmed}', {reference}(entry), p_reference_type,
            p_reference_id, '{stake}', p_key, '', p_now, p_now)
    RETURNING to_jsonb(t) INTO moved;
    RETURN moved;
END
$fn$;
"""

WALLET_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {INTERNAL_HOLD}(bigint, bigint, numeric, bigint, numeric, numeric, text, text, text, bigint,
                                        timestamptz);
"""
