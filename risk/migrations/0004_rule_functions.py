"""The player gate and the limits as SQL functions (risk/sql.py), so the one-call services run the
same rules inside the database that risk.rules and risk.limits ask. A change to their text ships as
a new migration that runs it again (tests/test_sql_functions.py checks the installed text)."""

from django.db import migrations

from risk.sql import RISK_FUNCTIONS_DROP, risk_functions


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0003_selections_bounded"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunSQL(risk_functions(), RISK_FUNCTIONS_DROP)]
