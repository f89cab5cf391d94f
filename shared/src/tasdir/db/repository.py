"""Repositories: all queries live here, and none of them commits.

- `AggregateRepository` stores a domain aggregate (a plain dataclass in a service's `domain/`)
  as a row of its table, so the domain never imports the ORM.
- `VersionedProjection` keeps the latest snapshot of another service's aggregate, and never
  lets an older event overwrite a newer one, even when two consumers race.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from tasdir.contracts import Envelope, IntegrationEvent, utcnow
from tasdir.pagination import Page, PageParams, paginate

A = TypeVar("A")
R = TypeVar("R", bound=SQLModel)


def _to_column(value: object) -> object:
    # Domain objects hold tuples; JSON columns hold lists.
    return list(value) if isinstance(value, tuple) else value


def _from_column(value: object) -> object:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite gives back naive UTC
    return value


class AggregateRepository(Generic[A, R]):
    """Loads and stores aggregates of type `aggregate` as rows of `row_model`.

    The aggregate's dataclass fields and the row's columns share their names. A loaded row is
    remembered, so `save` updates the row the session already tracks (and has locked, after
    `get_for_update`).
    """

    aggregate: type[A]
    row_model: type[R]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._rows: dict[object, R] = {}

    def to_aggregate(self, row: R) -> A:
        names = [f.name for f in dataclasses.fields(self.aggregate)]  # type: ignore[arg-type]
        values = {name: _from_column(getattr(row, name)) for name in names}
        aggregate = self.aggregate(**self.from_columns(values))
        self._rows[getattr(aggregate, "id", None)] = row
        return aggregate

    def _values(self, aggregate: A) -> dict[str, object]:
        values = {
            f.name: getattr(aggregate, f.name)
            for f in dataclasses.fields(aggregate)  # type: ignore[arg-type]
        }
        return {name: _to_column(value) for name, value in self.to_columns(values).items()}

    def from_columns(self, values: dict[str, object]) -> dict[str, object]:
        """Turn column values into the aggregate's (nested value objects, say); a hook."""
        return values

    def to_columns(self, values: dict[str, object]) -> dict[str, object]:
        """Turn the aggregate's values into column values; a hook, the inverse of the other."""
        return values

    async def get(self, key: object) -> A | None:
        row = await self.session.get(self.row_model, key)
        return None if row is None else self.to_aggregate(row)

    async def get_for_update(self, key: object) -> A | None:
        """The aggregate, its row locked until commit on PostgreSQL, so that two concurrent
        changes never both make version N + 1. SQLite has one writer at a time anyway."""
        row = await self.session.get(
            self.row_model, key, with_for_update=True, populate_existing=True
        )
        return None if row is None else self.to_aggregate(row)

    async def first(self, query: SelectOfScalar[R]) -> A | None:
        row = (await self.session.exec(query)).first()
        return None if row is None else self.to_aggregate(row)

    def add(self, aggregate: A) -> None:
        row = self.row_model(**self._values(aggregate))
        self.session.add(row)
        self._rows[getattr(aggregate, "id", None)] = row

    def save(self, aggregate: A) -> None:
        """Write a loaded aggregate's state back to its row."""
        row = self._rows.get(getattr(aggregate, "id", None))
        if row is None:
            raise LookupError("save() takes an aggregate this repository loaded")
        for name, value in self._values(aggregate).items():
            setattr(row, name, value)
        self.session.add(row)

    async def page(
        self, params: PageParams, *, order_by: Sequence[Any], where: Sequence[Any] = ()
    ) -> Page[A]:
        query = select(self.row_model)
        for condition in where:
            query = query.where(condition)
        rows = await paginate(self.session, query, params, order_by=order_by)
        return Page(
            items=[self.to_aggregate(row) for row in rows.items], next_cursor=rows.next_cursor
        )


class Repository(Generic[R]):
    """Plain rows, for tables that are not aggregates (a service's own read models)."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: object) -> R | None:
        row: R | None = await self.session.get(self.model, key)
        return row

    def add(self, obj: R) -> R:
        self.session.add(obj)
        return obj


@functools.cache
def _guarded_upsert(
    table: Table, version_field: str, dialect: str, names: tuple[str, ...]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT … ON CONFLICT DO UPDATE … WHERE version < excluded.version` of a projection
    row with the columns `names`, built once: building it took more time than running it."""
    (primary,) = table.primary_key.columns
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    newer: ColumnElement[bool] = table.c[version_field] < statement.excluded[version_field]
    return statement.on_conflict_do_update(
        index_elements=[primary],
        set_={name: statement.excluded[name] for name in names if name != primary.name},
        where=newer,
    )


class VersionedProjection(Repository[R]):
    """A projection row per aggregate, with the `aggregate_version` it was built from.

    `apply` is one conditional statement: an insert, or an update only where the stored
    version is older (`INSERT … ON CONFLICT DO UPDATE … WHERE version < excluded.version`). Two
    consumers applying v3 and v2 at once therefore end on v3 whichever commits last; a
    duplicate or a late, older event changes nothing.
    """

    version_field: ClassVar[str] = "aggregate_version"

    async def apply(self, key: object, version: int, values: dict[str, object]) -> bool:
        table: Table = self.model.__table__
        (primary,) = table.primary_key.columns
        row = {**values, primary.name: key, self.version_field: version}
        dialect = self.session.get_bind().dialect.name
        statement = _guarded_upsert(table, self.version_field, dialect, tuple(sorted(row)))
        connection = await self.session.connection()
        result = await connection.execute(statement, row)
        return bool(result.rowcount)

    async def apply_event(
        self, envelope: Envelope, event: IntegrationEvent, *, key: str = "id"
    ) -> bool:
        """Project a full-snapshot event. The projection's own columns say what it keeps: each
        column named like a payload field takes its value, `snapshot` the whole payload and
        `updated_at` the time of applying."""
        return await self.apply(
            getattr(event, key), envelope.aggregate_version, self.snapshot_values(event)
        )

    async def apply_events(
        self, items: Sequence[tuple[Envelope, IntegrationEvent]], *, key: str = "id"
    ) -> set[object]:
        """`apply_event` for several events in one statement; the keys of the rows it changed.
        Of several events of one aggregate, only the newest is written (one statement may not
        touch a row twice); the version guard applies to each row as it does alone."""
        newest: dict[object, tuple[int, dict[str, object]]] = {}
        for envelope, event in items:
            aggregate = getattr(event, key)
            version = envelope.aggregate_version
            if aggregate not in newest or newest[aggregate][0] <= version:
                newest[aggregate] = (version, self.snapshot_values(event))
        if not newest:
            return set()
        table: Table = self.model.__table__
        (primary,) = table.primary_key.columns
        rows = [
            {**values, primary.name: aggregate, self.version_field: version}
            for aggregate, (version, values) in newest.items()
        ]
        dialect = self.session.get_bind().dialect.name
        upsert = _guarded_upsert(table, self.version_field, dialect, tuple(sorted(rows[0])))
        statement = upsert.values(rows).returning(primary)
        connection = await self.session.connection()
        return set((await connection.execute(statement)).scalars())

    def snapshot_values(self, event: IntegrationEvent) -> dict[str, object]:
        """The projection's column values of a full-snapshot event (its version aside)."""
        payload_fields = type(event).model_fields
        values: dict[str, object] = {}
        for name in self.model.model_fields:
            if name == self.version_field:
                continue
            if name == "snapshot":
                values[name] = event.model_dump_json()
            elif name == "updated_at":
                values[name] = utcnow()
            elif name in payload_fields:
                value = getattr(event, name)
                # Tuples of the frozen payload go to JSON columns as plain lists.
                values[name] = to_jsonable_python(value) if isinstance(value, tuple) else value
        return values
