"""The audit row as a SQL function (audit/sql.py) for the one-call services. A change to its text
ships as a new migration that runs it again (tests/test_sql_functions.py checks the installed text)."""

from django.db import migrations

from audit.sql import AUDIT_FUNCTIONS_DROP, audit_functions


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(audit_functions(), AUDIT_FUNCTIONS_DROP)]
