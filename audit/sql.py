"""The audit app's hand-written SQL (DESIGN.md "Layout"): the audit row that the one-call services
(placement, a challenge's offer and acceptance) write inside the database, as ``audit_record`` writes
it in Python. Names from the model's ``_meta``, values from its enums and retention table.
Installed by audit/migrations; tests/audit/test_sql.py checks the installed text against this file."""

from __future__ import annotations

from audit.models import AuditLog
from core.db import sql_names

AUDIT_WRITE = "audit_write"


def audit_functions() -> str:
    retention = " ".join(f"WHEN '{category}' THEN interval '{kept.days} days'"
                         for category, kept in AuditLog.RETENTION.items())
    return _FUNCTIONS.format_map({"fn": AUDIT_WRITE, "retention": retention, "info": AuditLog.Severity.INFO,
                                  "success": AuditLog.Outcome.SUCCESS, **sql_names(AuditLog)})


# Doubled braces are PL/pgSQL's; single ones are names filled in by audit_functions().
_FUNCTIONS = """
-- audit.services.audit_record: one row of a change that succeeded, kept as long as its category says
-- (AuditLog.RETENTION). A refusal's row is written in Python, after its transaction rolled back.
-- PL/pgSQL, not SQL: its plan is kept for the session (an SQL function's body is planned on every call).
CREATE OR REPLACE FUNCTION {fn}(p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text, p_action text, p_category text, p_resource_type text, p_resource_id text,
    p_resource_label text, p_details jsonb, p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {AuditLog} ({AuditLog.actor}, {AuditLog.actor_label}, {AuditLog.actor_role}, {AuditLog.ip_address},
                            {AuditLog.user_agent}, {AuditLog.action}, {AuditLog.resource_type}, {AuditLog.resource_id},
                            {AuditLog.resource_label}, {AuditLog.details}, {AuditLog.severity}, {AuditLog.category},
                            {AuditLog.outcome}, {AuditLog.created_at}, {AuditLog.expires_at})
    VALUES (p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent, p_action, p_resource_type, p_resource_id,
            p_resource_label, p_details, '{info}', p_category, '{success}', p_now,
            p_now + CASE p_category {retention} END);
END
$fn$;
"""

AUDIT_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {AUDIT_WRITE}(bigint, text, text, inet, text, text, text, text, text, text, jsonb,
                                      timestamptz);
"""
