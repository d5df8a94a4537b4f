"""Placement as one call (issue 15): the PL/pgSQL function betting_slip_place and its helpers.

The text comes from betting/sql/placement.py; a change to it ships as a new migration that runs it again
(tests/betting/test_slip_function.py checks the installed function against it)."""

from django.db import migrations

from betting.sql.placement import SLIP_FUNCTION_DROP, slip_function


class Migration(migrations.Migration):
    dependencies = [
        ("betting", "0010_challenge_held_idx"),
        ("events", "0006_player"),
        ("risk", "0003_selections_bounded"),
        ("ledger", "0005_escrow_shards"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunSQL(slip_function(), SLIP_FUNCTION_DROP)]
