"""Placement keeps generic plans for its statements (betting_slip_place and betting_book_lock,
betting/sql/placement.py): with the slip passed as arrays, PostgreSQL chose a custom plan and planned
every statement again on each call."""

from django.db import migrations

from betting.sql.placement import BOOK_LOCK, SLIP_FUNCTION, slip_function

# Back to the planner's choice; the bodies are unchanged.
RESET = f"""
ALTER FUNCTION {BOOK_LOCK}(bigint[]) RESET plan_cache_mode;
ALTER FUNCTION {SLIP_FUNCTION}(boolean, bigint, text, text, bigint[], numeric[], numeric, text, text, text, text,
                               timestamptz, numeric, bigint, text, text, inet, text) RESET plan_cache_mode;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('betting', '0016_lean_placement'),
    ]

    operations = [
        migrations.RunSQL(slip_function(), RESET),
    ]
