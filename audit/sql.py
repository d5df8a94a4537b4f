"""The audit app's hand-written SQL (DESIGN.md "Layout"): the audit rows and notifications that the
services working inside the database (placement, a challenge's offer and acceptance, challenge
settlement) write there, as ``audit_record``, ``audit_records`` and ``player_notifications_create``
write them in Python. Names from the models' ``_meta``, values from their enums and retention table.
Installed by audit/migrations; tests/test_sql_functions.py checks the installed text against this file."""

from __future__ import annotations

from audit.models import AuditLog, Notification
from core.db import sql_names

AUDIT_WRITE = "audit_write"
AUDIT_WRITE_MANY = "audit_write_many"
NOTIFICATIONS_WRITE = "audit_notifications_write"


def audit_functions() -> str:
    retention = " ".join(f"WHEN '{category}' THEN interval '{kept.days} days'"
                         for category, kept in AuditLog.RETENTION.items())
    return _FUNCTIONS.format_map({
        "fn": AUDIT_WRITE, "many": AUDIT_WRITE_MANY, "notify": NOTIFICATIONS_WRITE, "retention": retention,
        "info": AuditLog.Severity.INFO, "success": AuditLog.Outcome.SUCCESS, "player": Notification.Audience.PLAYER,
        **sql_names(AuditLog, Notification)})


# Doubled braces are PL/pgSQL's; single ones are names filled in by audit_functions().
_FUNCTIONS = """
-- audit.services.audit_records: the rows of changes that succeeded, one per action, resource id, label
-- and details, all by one actor in one category, kept as long as the category says (AuditLog.RETENTION).
-- A refusal's row is written in Python, after its transaction rolled back. PL/pgSQL, as the functions
-- below: its plan is kept for the session (an SQL function's body is planned on every call).
CREATE OR REPLACE FUNCTION {many}(p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text, p_category text, p_resource_type text, p_actions text[], p_resource_ids text[],
    p_resource_labels text[], p_details jsonb[], p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {AuditLog} ({AuditLog.actor}, {AuditLog.actor_label}, {AuditLog.actor_role}, {AuditLog.ip_address},
                            {AuditLog.user_agent}, {AuditLog.action}, {AuditLog.resource_type}, {AuditLog.resource_id},
                            {AuditLog.resource_label}, {AuditLog.details}, {AuditLog.severity}, {AuditLog.category},
                            {AuditLog.outcome}, {AuditLog.created_at}, {AuditLog.expires_at})
    SELECT p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent, r.action, p_resource_type, r.resource_id,
           r.label, r.details, '{info}', p_category, '{success}', p_now, p_now + CASE p_category {retention} END
      FROM unnest(p_actions, p_resource_ids, p_resource_labels, p_details) WITH ORDINALITY
           AS r(action, resource_id, label, details, n)
     ORDER BY r.n;
END
$fn$;

-- audit.services.audit_record: one row ({many} of one).
CREATE OR REPLACE FUNCTION {fn}(p_actor_id bigint, p_actor_label text, p_actor_role text, p_ip inet,
    p_user_agent text, p_action text, p_category text, p_resource_type text, p_resource_id text,
    p_resource_label text, p_details jsonb, p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM {many}(p_actor_id, p_actor_label, p_actor_role, p_ip, p_user_agent, p_category, p_resource_type,
                   ARRAY[p_action], ARRAY[p_resource_id], ARRAY[p_resource_label], ARRAY[p_details], p_now);
END
$fn$;

-- audit.services.player_notifications_create: one notification of one kind per player, message and data.
CREATE OR REPLACE FUNCTION {notify}(p_kind text, p_users bigint[], p_messages text[], p_data jsonb[],
    p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {Notification} ({Notification.user}, {Notification.audience}, {Notification.kind},
                                {Notification.message}, {Notification.data}, {Notification.created_at})
    SELECT n.user_id, '{player}', p_kind, n.message, n.data, p_now
      FROM unnest(p_users, p_messages, p_data) WITH ORDINALITY AS n(user_id, message, data, k)
     ORDER BY n.k;
END
$fn$;
"""

AUDIT_FUNCTIONS_DROP = f"""
DROP FUNCTION IF EXISTS {AUDIT_WRITE}(bigint, text, text, inet, text, text, text, text, text, text, jsonb,
                                      timestamptz);
DROP FUNCTION IF EXISTS {AUDIT_WRITE_MANY}(bigint, text, text, inet, text, text, text, text[], text[], text[],
                                           jsonb[], timestamptz);
DROP FUNCTION IF EXISTS {NOTIFICATIONS_WRITE}(text, bigint[], text[], jsonb[], timestamptz);
"""
