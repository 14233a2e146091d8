"""Multi-row statements for PostgreSQL whose text does not depend on the row count.

SQLAlchemy renders N rows as N ``VALUES`` tuples (or N executions) and an ``IN`` list of N
as N parameters, so a batch of another size is another statement: asyncpg prepares it again
and PostgreSQL plans it again. Here each column travels as one array parameter and the rows
come back out of ``unnest`` (ids as ``= ANY($1)``): one text per statement, prepared once per
connection, one round trip whatever the batch's size. Hot paths run them with
``Connection.exec_driver_sql`` inside ``Database.write_sync``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Table, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def array_type(table: Table, column: str) -> str:
    """The PostgreSQL array type a column's values are bound as. JSON travels as text, and
    strings as ``text``: an explicit cast to ``varchar(n)`` would cut a long value silently,
    where the insert into the column refuses it."""
    impl = table.c[column].type.dialect_impl(_DIALECT)
    if isinstance(impl, JSON | String):
        return "text[]"
    return _pg_type(table, column) + "[]"


@functools.cache
def insert_sql(table: Table, columns: tuple[str, ...], tail: str = "", first: int = 1) -> str:
    """``INSERT`` of rows given as one array per column, inserted in array order (the order
    of row locks and unique-index waits), then ``tail`` (``ON CONFLICT …``, ``RETURNING …``).
    JSON columns take JSON text. Its parameters are numbered from ``first`` (for a statement
    that joins several with ``WITH``)."""
    arrays = ", ".join(f"${i}::{array_type(table, c)}" for i, c in enumerate(columns, first))
    chosen = ", ".join(
        f"u.{c}::{_pg_type(table, c)}" if _is_json(table, c) else f"u.{c}" for c in columns
    )
    names = ", ".join(columns)
    # Table and column names come from the models, never from input; values are bound.
    return (
        _INSERT.replace("<table>", table.name)
        .replace("<columns>", names)
        .replace("<chosen>", chosen)
        .replace("<arrays>", arrays)
        + tail
    )


def with_parts(parts: Sequence[tuple[str, str]], main: str) -> str:
    """One statement of several: ``WITH name AS (sql), … main``. PostgreSQL runs every
    data-changing part whether or not ``main`` reads it, all in one round trip."""
    return (
        "WITH "
        + ", ".join(_PART.replace("<n>", n).replace("<sql>", q) for n, q in parts)
        + (" " + main)
    )


_PART = "<n> AS (<sql>)"


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str
) -> ColumnElement[bool]:
    """``column`` is one of the values bound as the list ``name``: ``= ANY($n)`` with one array
    on PostgreSQL (the same text for any number of values), an expanding ``IN`` elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String())))
    return column.in_(bindparam(name, expanding=True))


def columns_of(rows: Sequence[Mapping[str, Any]], columns: Iterable[str]) -> tuple[list[Any], ...]:
    """The rows' values as one list per column (the parameters of ``insert_sql``)."""
    return tuple([row[c] for row in rows] for c in columns)


_INSERT = (
    "INSERT INTO <table> (<columns>) SELECT <chosen> "
    "FROM unnest(<arrays>) WITH ORDINALITY AS u(<columns>, n) ORDER BY u.n"
)


def _pg_type(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=_DIALECT))


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type.dialect_impl(_DIALECT), JSON)
