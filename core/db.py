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


class SqlNames:
    """A model's table (``{Bet}``) and columns (``{Bet.player}``) for ``str.format_map`` in an app's
    hand-written SQL (its ``sql.py``): names come from the model's ``_meta``, never typed into strings."""

    def __init__(self, model: type[models.Model]) -> None:
        self._model = model

    def __str__(self) -> str:
        return self._model._meta.db_table

    def __getattr__(self, name: str) -> str:
        return self._model._meta.get_field(name).column


def sql_names(*models_: type[models.Model]) -> dict[str, SqlNames]:
    """``{"Bet": SqlNames(Bet), ...}``: the names a SQL text's ``format_map`` takes."""
    return {model.__name__: SqlNames(model) for model in models_}


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


@functools.cache
def _selecting(model: type[models.Model], keys: tuple[str, ...], lock: bool) -> str:
    """``SELECT <columns> FROM <table> WHERE <field> = %s AND <field> = ANY(%s) ...``: names from ``_meta``
    (``field__in`` compares with a list), for ``first_row`` and ``all_rows``."""
    tests = []
    for key in keys:
        name, _, lookup = key.partition("__")
        if lookup not in ("", "in"):
            raise ValueError(f"only = and __in: {key}")
        column = connection.ops.quote_name(model._meta.get_field(name).column)
        tests.append(f"{column} = ANY(%s)" if lookup else f"{column} = %s")
    return (f"SELECT {columns(model)} FROM {connection.ops.quote_name(model._meta.db_table)} "
            f"WHERE {' AND '.join(tests)}{' FOR UPDATE' if lock else ''}")


def first_row(model: type[models.Model], *, lock: bool = False, **where: Any) -> Any:
    """The first row whose fields equal these values (``field__in``: one of a list), as a model instance,
    or None; ``lock``: FOR UPDATE. For reads on every placement, where building the query with the ORM
    (or ``raw()``) cost more than running it. Callers name fields, never SQL."""
    with connection.cursor() as cursor:
        cursor.execute(_selecting(model, tuple(where), lock), list(where.values()))
        row = cursor.fetchone()
    return None if row is None else loaded(model, row)


def all_rows(model: type[models.Model], **where: Any) -> list[Any]:
    """``first_row``'s every row."""
    with connection.cursor() as cursor:
        cursor.execute(_selecting(model, tuple(where), False), list(where.values()))
        return [loaded(model, row) for row in cursor.fetchall()]


@functools.cache
def _inserting(model: type[models.Model]) -> tuple[list[models.Field], str, str]:
    """The fields an INSERT writes, its head (up to the values) and its form for one row of values."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk or not isinstance(f, models.AutoField)]
    head = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} " \
        f"({', '.join(connection.ops.quote_name(f.column) for f in fields)})"
    one = f"{head} VALUES ({', '.join(['%s'] * len(fields))}) {_returning(model)}"
    return fields, head, one


def _returning(model: type[models.Model]) -> str:
    return f"RETURNING {connection.ops.quote_name(model._meta.pk.column)}"


@functools.cache
def _inserting_many(model: type[models.Model], shared: tuple[bool, ...]) -> str:
    """The INSERT of several rows: a column array each (``SELECT FROM unnest``), except the columns
    ``shared`` marks (one value for every row: a batch's status, kind, actor, timestamp), which go
    once, as a scalar, instead of an array of copies to dump and unnest."""
    fields, head, _ = _inserting(model)
    # Binary (%b): psycopg's text form escapes every string of every row, which cost a settlement
    # batch about a fifth of its Python time.
    typed = list(enumerate(zip(fields, shared, strict=True)))
    select = [f"%b::{f.db_type(connection)}" if same else f"v.c{i}" for i, (f, same) in typed]
    arrays = [(f"%b::{f.db_type(connection)}[]", f"c{i}") for i, (f, same) in typed if not same]
    return f"{head} SELECT {', '.join(select)} FROM unnest({', '.join(a for a, _ in arrays)}) " \
        f"AS v({', '.join(c for _, c in arrays)}) {_returning(model)}"


def insert_values(model: type[models.Model], rows: list[dict[str, Any]]) -> list[Any]:
    """``bulk_create`` for the hot paths, from rows of column values: placement writes a bet, its legs,
    a transfer and an audit row per request, settlement thousands of rows a second.

    Each row maps field attnames (``user_id``, not ``user``) to values; a field a row leaves out takes
    its default, an empty ``auto_now_add`` field the time of the call (written into the row, as
    ``bulk_create`` sets it on the object). A settlement batch builds plain rows, not model instances
    (building ~10,000 instances a batch cost it a fifth of its time). One ``INSERT ... RETURNING pk``
    with fixed text per model and shape: several rows go as one array per column, each column's
    values passed as they are (psycopg adapts them) instead of through Django's per-value
    preparation; a column holding the very same object in every row goes once. Returns the primary
    keys, in the rows' order. No signals, like ``bulk_create``.
    """
    if not rows:
        return []
    fields, _, one = _inserting(model)
    now = timezone.now()
    columns = []
    for field in fields:
        name = field.attname
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            for row in rows:
                if row.get(name) is None:
                    row[name] = now
            values = [row[name] for row in rows]
        else:
            default = field.get_default()
            values = [row.get(name, default) for row in rows]
        columns.append(values)
    # Identity, not equality: 2.5 and 2.50 are equal Decimals but not the same exact number.
    shared = [len(rows) > 1 and all(v is values[0] for v in values) for values in columns]
    shared[0] = shared[0] and not all(shared)  # unnest needs one array at least
    for field, values, same in zip(fields, columns, shared, strict=True):
        if isinstance(field, models.JSONField):
            values[:] = [None if v is None else Jsonb(v) for v in (values[:1] if same else values)]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(one, [values[0] for values in columns])
        else:
            cursor.execute(_inserting_many(model, tuple(shared)),
                           [values[0] for values, same in zip(columns, shared, strict=True) if same]
                           + [values for values, same in zip(columns, shared, strict=True) if not same])
        return [value for (value,) in cursor.fetchall()]


def insert_rows(objs: list[models.Model]) -> None:
    """``insert_values`` for model instances (of one model): sets their primary keys and
    ``auto_now_add`` timestamps, as ``bulk_create`` does."""
    if not objs:
        return
    pk = objs[0]._meta.pk.attname
    for obj, value in zip(objs, insert_values(type(objs[0]), [vars(obj) for obj in objs]), strict=True):
        setattr(obj, pk, value)
        obj._state.adding, obj._state.db = False, connection.alias


def instance(model: type[models.Model], row: dict[str, Any]) -> Any:
    """A saved row of column values (``insert_values``') as a model instance, as the ORM would load it."""
    fields = model._meta.concrete_fields
    return model.from_db(connection.alias, [f.attname for f in fields],
                         [row[f.attname] if f.attname in row else f.get_default() for f in fields])


def from_json(model: type[models.Model], row: dict[str, Any]) -> Any:
    """A row as PostgreSQL's ``to_jsonb`` renders it (columns by name, numbers read as Decimal) as a
    model instance, as the ORM would load it: a one-call service's answer carries the rows it wrote."""
    fields = model._meta.concrete_fields
    return model.from_db(connection.alias, [f.attname for f in fields], [f.to_python(row[f.column]) for f in fields])


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
