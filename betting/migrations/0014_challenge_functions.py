"""A challenge offered and taken in one call each (betting_challenge_offer, betting_challenge_take),
and the placement function again, now asking the rules, the audit row and the transfer of the
risk, audit and ledger functions instead of writing them itself (betting/sql/). The placement
function lost its last argument (the audit row's expiry, which audit_write now works out), so its
old signature is dropped first."""

from django.db import migrations

from betting.sql.challenges import CHALLENGE_FUNCTIONS_DROP, challenge_functions
from betting.sql.placement import SLIP_FUNCTION, slip_function

# betting_slip_place as 0011 installed it: the same name with one argument more.
_OLD_SLIP = f"""DROP FUNCTION IF EXISTS {SLIP_FUNCTION}(boolean, bigint, text, text, bigint[], numeric[], numeric, text,
    text, text, text, timestamptz, numeric, bigint, text, text, inet, text, timestamptz);"""


class Migration(migrations.Migration):
    dependencies = [
        ("betting", "0013_challenge_acceptor_key"),
        ("risk", "0004_rule_functions"),
        ("audit", "0002_audit_write_function"),
        ("ledger", "0006_ledger_functions"),
        ("wallet", "0004_internal_hold_function"),
    ]

    operations = [
        migrations.RunSQL(_OLD_SLIP, migrations.RunSQL.noop),
        migrations.RunSQL(slip_function(), migrations.RunSQL.noop),
        migrations.RunSQL(challenge_functions(), CHALLENGE_FUNCTIONS_DROP),
    ]
