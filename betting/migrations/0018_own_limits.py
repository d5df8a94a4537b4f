"""Placement and challenges check the player's own limits (risk/sql.py's risk_player_limits: losses
per rolling period, the session's time) and take the client's session start; the functions with the
arguments before it are dropped, not left beside the new ones."""

from django.db import migrations

from betting.sql.challenges import (
    CHALLENGE_OFFER,
    CHALLENGE_TAKE,
    OFFER_ARGUMENTS_BEFORE_SESSIONS,
    TAKE_ARGUMENTS_BEFORE_SESSIONS,
    challenge_functions,
)
from betting.sql.placement import SLIP_ARGUMENTS_BEFORE_SESSIONS, SLIP_FUNCTION, slip_function

BEFORE_SESSIONS = f"""
DROP FUNCTION IF EXISTS {SLIP_FUNCTION}({SLIP_ARGUMENTS_BEFORE_SESSIONS});
DROP FUNCTION IF EXISTS {CHALLENGE_OFFER}({OFFER_ARGUMENTS_BEFORE_SESSIONS});
DROP FUNCTION IF EXISTS {CHALLENGE_TAKE}({TAKE_ARGUMENTS_BEFORE_SESSIONS});
"""


class Migration(migrations.Migration):

    dependencies = [
        ('betting', '0017_placement_generic_plans'),
        ('risk', '0006_safer_gambling_kyc_aml'),
    ]

    operations = [
        migrations.RunSQL(BEFORE_SESSIONS + slip_function() + challenge_functions(), migrations.RunSQL.noop),
    ]
