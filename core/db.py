"""Database-level rules shared by the apps' models."""

import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import pgtrigger
from django.db import OperationalError, connection, models
from django.utils import timezone
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from core.errors import Conflict

logger = logging.getLogger(__name__)


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


@functools.cache
def columns(model: type[models.Model], alias: str = "") -> str:
    """The model's columns for a hand-written SELECT, in the order ``loaded`` takes them."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + connection.ops.quote_name(f.column) for f in model._meta.concrete_fields)


@functools.cache
def _loading(model: type[models.Model]) -> tuple[list[str], list[tuple[int, Any]]]:
    fields = model._meta.concrete_fields
    return ([f.attname for f in fields],
            [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")])


def loaded(model: type[models.Model], values: Sequence[Any]) -> Any:
    """A model instance from a row selected with ``columns(model)``, as the ORM would load it."""
    names, converters = _loading(model)
    if converters:
        values = list(values)
        for i, convert in converters:
            values[i] = convert(values[i], None, connection)
    return model.from_db(connection.alias, names, values)


def loaded_chain(models_: Sequence[type[models.Model]], row: Sequence[Any]) -> list[Any]:
    """One instance per model from a row that selected ``columns()`` of each, in that order (a join)."""
    instances, start = [], 0
    for model in models_:
        width = len(model._meta.concrete_fields)
        instances.append(loaded(model, row[start:start + width]))
        start += width
    return instances


def first_row(model: type[models.Model], where: str, params: Sequence[Any] = ()) -> Any:
    """``SELECT <columns> FROM <model's table> WHERE <where>``: the first row as a model instance, or None.

    For reads on every placement, where building the query with the ORM (or ``raw()``) cost more
    than running it.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(model)} FROM {model._meta.db_table} WHERE {where}", params)
        row = cursor.fetchone()
    return None if row is None else loaded(model, row)


def all_rows(model: type[models.Model], where: str, params: Sequence[Any] = ()) -> list[Any]:
    """``first_row``'s every row: ``SELECT <columns> FROM <model's table> WHERE <where>`` as instances."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(model)} FROM {model._meta.db_table} WHERE {where}", params)
        return [loaded(model, row) for row in cursor.fetchall()]


@functools.cache
def _inserting(model: type[models.Model]) -> tuple[list[models.Field], str, str]:
    """The fields an INSERT writes, and its two forms: one row of values, or a column array each."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk or not isinstance(f, models.AutoField)]
    head = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} " \
        f"({', '.join(connection.ops.quote_name(f.column) for f in fields)})"
    returning = f"RETURNING {connection.ops.quote_name(meta.pk.column)}"
    one = f"{head} VALUES ({', '.join(['%s'] * len(fields))}) {returning}"
    # The arrays go in binary (%b): psycopg's text form escapes every string of every row, which cost
    # a settlement batch about a fifth of its Python time.
    many = f"{head} SELECT * FROM unnest({', '.join(f'%b::{f.db_type(connection)}[]' for f in fields)}) {returning}"
    return fields, one, many


def insert_rows(objs: list[models.Model]) -> None:
    """``bulk_create`` for the hot paths: placement writes a bet, its legs, a transfer and an audit
    row per request, settlement thousands of rows a second.

    One ``INSERT ... RETURNING pk`` with fixed text per model: several rows go as one array per
    column (``SELECT FROM unnest``), each column's values passed as they are (psycopg adapts them)
    instead of through Django's per-value preparation, which was most of a settlement batch's
    Python time. Sets the primary keys and ``auto_now_add`` timestamps on the objects, as
    ``bulk_create`` does. No signals, like ``bulk_create``.
    """
    if not objs:
        return
    fields, one, many = _inserting(type(objs[0]))
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
    with connection.cursor() as cursor:
        if len(objs) == 1:
            cursor.execute(one, [values[0] for values in columns])
        else:
            cursor.execute(many, columns)
        pk = objs[0]._meta.pk.attname
        for obj, (value,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, pk, value)
            obj._state.adding, obj._state.db = False, connection.alias


RETRY_ATTEMPTS = 3
_RETRIED = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
Service = TypeVar("Service", bound=Callable[..., Any])


def retried_on_conflict(service: Service) -> Service:
    """Run a money-path service again when PostgreSQL aborted its transaction for a deadlock or a
    serialization failure: nothing of the aborted attempt remains, so another is safe. At most
    RETRY_ATTEMPTS in all, after a short random pause; then 409 ``concurrent_change``, never a 500.

    Only the outermost transaction can be retried: called inside a caller's, the error goes up to
    the caller (whose work is lost too) and its own retrier.
    """

    @functools.wraps(service)
    def run(*args: Any, **kwargs: Any) -> Any:
        attempt = 1
        while True:
            try:
                return service(*args, **kwargs)
            except OperationalError as exc:
                if not isinstance(exc.__cause__, _RETRIED) or connection.in_atomic_block:
                    raise
                logger.warning("%s: %s on attempt %d of %d", service.__qualname__,
                               type(exc.__cause__).__name__, attempt, RETRY_ATTEMPTS)
                if attempt == RETRY_ATTEMPTS:
                    raise Conflict("Too many changes to the same account at once; try again in a moment.",
                                   code="concurrent_change") from exc
                time.sleep(random.uniform(0.005, 0.05) * attempt)
                attempt += 1

    return run  # type: ignore[return-value]
