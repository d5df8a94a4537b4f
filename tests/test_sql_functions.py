"""The SQL functions the apps ship (each app's sql.py, installed by its migrations): what is installed
is what the code says, so a change to a function's text cannot go out without the migration that
installs it; and the small pure ones agree with the Python they stand for."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from audit.sql import AUDIT_WRITE, audit_functions
from betting.sql.challenges import challenge_functions
from betting.sql.placement import slip_function
from betting.sql.settlement import challenges_function
from ledger.models import Account, format_entry_number
from ledger.sql import ENTRY_REFERENCE, ESCROW_SHARD, ledger_functions
from risk.sql import risk_functions
from wallet.sql import wallet_functions

SHIPPED = [risk_functions(), audit_functions(), ledger_functions(), wallet_functions(), slip_function(),
           challenge_functions(), challenges_function()]
FUNCTION = re.compile(r"CREATE OR REPLACE FUNCTION (\w+)\((.*?)\$fn\$(.*?)\$fn\$", re.S)
SETTING = re.compile(r"^[^-\n]*\bSET (\w+) = (\w+)", re.M)  # a function's own settings, outside comments
FOUND = [found for text in SHIPPED for found in FUNCTION.findall(text)]
BODIES = {name: body for name, _, body in FOUND}
SETTINGS = {name: sorted(f"{key}={value}" for key, value in SETTING.findall(header)) for name, header, _ in FOUND}


def test_every_function_is_found():
    assert len(BODIES) == sum(text.count("CREATE OR REPLACE FUNCTION") for text in SHIPPED)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_installed_function_is_the_one_in_the_code(db, name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc, proconfig FROM pg_proc WHERE proname = %s", [name])
        installed = [(body, sorted(settings or [])) for body, settings in cursor.fetchall()]
    assert installed == [(BODIES[name], SETTINGS[name])], \
        f"{name} changed in an app's sql.py: ship it in a new migration"


def _one(sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.mark.parametrize("challenge_id", [*range(0, 40), 2**31 + 5, 10**15])
def test_the_escrow_shard_is_accounts(db, challenge_id):
    assert _one(f"SELECT {ESCROW_SHARD}(%s)", challenge_id) == Account.escrow_shard(challenge_id)


@pytest.mark.parametrize("entry", [1, 42, 999_999_999, 1_000_000_000, 2**62])
def test_an_entry_reference_is_format_entry_number(db, entry):
    assert _one(f"SELECT {ENTRY_REFERENCE}(%s)", entry) == format_entry_number(entry)


@pytest.mark.parametrize("category", AuditLog.Category.values)
def test_an_audit_row_written_in_the_database_is_kept_as_long_as_its_category_says(db, category):
    # given
    now = timezone.now()
    # when
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {AUDIT_WRITE}(NULL, 'system:test', 'system', NULL, '', 'test.write', %s, 'test', "
                       "'1', 'T-1', '{\"a\": 1}'::jsonb, %s)", [category, now])
    # then
    row = AuditLog.objects.get(action="test.write")
    assert (row.category, row.severity, row.outcome, row.details) == (category, "info", "success", {"a": 1})
    assert row.expires_at - row.created_at == AuditLog.RETENTION[category]
    assert row.created_at == now and isinstance(row.expires_at - now, timedelta)


def test_an_unknown_audit_category_is_refused_not_kept_forever(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {AUDIT_WRITE}(NULL, '', 'system', NULL, '', 'test.write', 'nonsense', '', '', '', "
                       "'{}'::jsonb, now())")
    assert not AuditLog.objects.filter(action="test.write").exists()  # the NOT NULL expiry refused it
