"""Database-level rules shared by the apps' models."""

import pgtrigger


def append_only(name: str) -> list[pgtrigger.Trigger]:
    """Triggers that make a table append-only: UPDATE, DELETE and TRUNCATE raise in PostgreSQL.

    Corrections are new rows (a reversing transfer, a new audit record), never edits.
    """
    return [
        pgtrigger.Protect(name=f"{name}_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        pgtrigger.Trigger(
            name=f"{name}_no_truncate", when=pgtrigger.Before, operation=pgtrigger.Truncate,
            level=pgtrigger.Statement,
            func="RAISE EXCEPTION 'pgtrigger: Cannot truncate % table', TG_TABLE_NAME;",
        ),
    ]
