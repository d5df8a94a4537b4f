"""Placement keeps generic plans for its statements (betting_slip_place and betting_book_lock,
betting/sql/placement.py): with the slip passed as arrays, PostgreSQL chose a custom plan and planned
every statement again on each call."""

from django.db import migrations

from betting.sql.placement import BOOK_LOCK, SLIP_FUNCTION, slip_function

# Back to the planner's choice (whatever the functions' arguments are by then); the bodies are unchanged.
RESET = f"""
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.proname IN ('{BOOK_LOCK}', '{SLIP_FUNCTION}') LOOP
        EXECUTE format('ALTER FUNCTION %s RESET plan_cache_mode', f);
    END LOOP;
END
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('betting', '0016_lean_placement'),
    ]

    operations = [
        migrations.RunSQL(slip_function(), RESET),
    ]
