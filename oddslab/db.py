"""Database-level rules shared by the apps' models."""

from decimal import Decimal

import pgtrigger
from django.db import models


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


class ExactDecimalField(models.Field):
    """PostgreSQL NUMERIC without precision or scale: holds an exact product of up to 100 prices,
    which DecimalField's fixed scale would have to round."""

    description = "Exact decimal (unconstrained NUMERIC)"

    def db_type(self, connection) -> str:
        return "numeric"

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            raise TypeError("ExactDecimalField takes Decimal, never float")
        return Decimal(str(value))

    def get_prep_value(self, value):
        return self.to_python(value)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)
