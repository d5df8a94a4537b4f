"""Database-level rules shared by the apps' models."""

from decimal import Decimal
from typing import Any

import pgtrigger
from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb


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


def first_row(model: type[models.Model], where: str, params: list[Any] | tuple = ()) -> Any:
    """``SELECT * FROM <model's table> WHERE <where>``: the first row as a model instance, or None.

    For reads on every placement, where building the query with the ORM cost more than running it.
    """
    for row in model.objects.raw(f"SELECT * FROM {model._meta.db_table} WHERE {where}", params):
        return row
    return None


def insert_rows(objs: list[models.Model]) -> None:
    """``bulk_create`` for the hot batch paths (settlement writes thousands of rows a second).

    One ``INSERT ... SELECT FROM unnest(array per column) RETURNING pk``, with each column's values
    passed as they are (psycopg adapts them) instead of through Django's per-value preparation,
    which was most of a settlement batch's Python time. Sets the primary keys and ``auto_now_add``
    timestamps on the objects, as ``bulk_create`` does. No signals, like ``bulk_create``.
    """
    if not objs:
        return
    meta = objs[0]._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk or not isinstance(f, models.AutoField)]
    now = timezone.now()
    for field in fields:
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            for obj in objs:
                if getattr(obj, field.attname) is None:
                    setattr(obj, field.attname, now)
    columns = []
    for field in fields:
        values = [getattr(obj, field.attname) for obj in objs]
        if isinstance(field, models.JSONField):
            values = [None if v is None else Jsonb(v) for v in values]
        columns.append(values)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({names}) "
                       f"SELECT * FROM unnest({arrays}) RETURNING {connection.ops.quote_name(pk.column)}", columns)
        for obj, (value,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, pk.attname, value)
            obj._state.adding, obj._state.db = False, connection.alias
