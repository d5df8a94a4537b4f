"""Challenge settlement in the database: the PL/pgSQL function betting_challenges_settle, its helpers,
the composite type of one movement of a batch, and the index its claim walks.

The text comes from betting/sql/settlement.py; a change to the functions ships as a new migration that runs
``challenges_function()`` again (tests/betting/test_challenge_settle_function.py checks the installed
functions against it); a change to the type needs its own ALTER TYPE."""

from django.db import migrations, models

from betting.sql.settlement import CHALLENGE_MOVE, CHALLENGES_FUNCTION_DROP, challenge_move_type, challenges_function


class Migration(migrations.Migration):
    dependencies = [
        ("betting", "0011_slip_place_function"),
        ("wallet", "0003_external_platform_addresses"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="challenge",
            index=models.Index(condition=models.Q(status__in=("escrow_pending", "open", "matching", "matched")),
                               fields=["event", "id"], name="challenge_pending_idx"),
        ),
        migrations.RunSQL(challenge_move_type(), f"DROP TYPE IF EXISTS {CHALLENGE_MOVE}"),
        migrations.RunSQL(challenges_function(), CHALLENGES_FUNCTION_DROP),
    ]
