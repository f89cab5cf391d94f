"""Lists, as every list of the API answers them: `{"items": [...], "next_cursor": "…" | null}`.

A route takes `params: PageParamsDep`, builds its query in a repository, and returns
`await paginate(session, query, params, order_by=(Model.created_at, Model.id))`.

Pages are keyset pages: the cursor is the sort key of the last item, base64url-encoded JSON, so
a page never skips or repeats a row when rows are added ahead of it. The last sort column must
be unique (an id), which makes the order total and stable.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import String, and_, or_
from sqlalchemy import column as sql_column
from sqlalchemy.sql import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from tasdir.errors import Invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CURSOR_VERSION = 1

T = TypeVar("T")
# A sort column: a mapped attribute or an SQL expression (SQLAlchemy types these loosely).
Column = Any


class Page(BaseModel, Generic[T]):
    """The response model of a list: `Page[ExporterPublic]`."""

    items: list[T]
    next_cursor: str | None = None


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="The `next_cursor` of the previous page.")
]


class PageParams:
    """`limit` and `cursor` from the query string (`PageParamsDep`).

    A limit over 100 fails validation, so the answer is a 422 naming `limit`.
    """

    def __init__(self, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> None:
        self.limit = limit
        self.cursor = cursor

    def __repr__(self) -> str:
        return f"PageParams(limit={self.limit}, cursor={self.cursor!r})"


async def page_params(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PageParams:
    """The dependency: a coroutine, because FastAPI runs a plain callable (the class itself)
    in its thread pool, a thread hop on every list request."""
    return PageParams(limit, cursor)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


def _invalid_cursor(reason: str) -> Invalid:
    return Invalid(
        f"invalid cursor: {reason}",
        kind="invalid-cursor",
        errors=[{"field": "cursor", "in": "query", "message": reason, "code": "invalid_cursor"}],
    )


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return value


def encode_cursor(values: Sequence[object]) -> str:
    payload = json.dumps({"v": _CURSOR_VERSION, "k": [_plain(v) for v in values]})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[Column]) -> list[object]:
    """The sort key in `cursor`, typed like `columns`; a 422 for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid_cursor("not a cursor of this list") from None
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_VERSION:
        raise _invalid_cursor("not a cursor of this list")
    values = payload.get("k")
    if not isinstance(values, list) or len(values) != len(columns):
        raise _invalid_cursor("not a cursor of this list")
    try:
        return [_typed(value, column) for value, column in zip(values, columns, strict=True)]
    except (TypeError, ValueError):
        raise _invalid_cursor("not a cursor of this list") from None


def _typed(value: object, column: Column) -> object:
    if value is None:
        raise ValueError("a sort key is never null")
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        return value
    if python_type in (datetime, date) and not isinstance(value, str):
        raise TypeError("expected an ISO date or time")
    if python_type is datetime:
        return datetime.fromisoformat(str(value))
    if python_type is date:
        return date.fromisoformat(str(value))
    if python_type in (UUID, Decimal):
        return python_type(value)
    if python_type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError("expected an integer")
    if python_type is str and not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _after(
    columns: Sequence[Column], values: Sequence[object], descending: bool
) -> ColumnElement[bool]:
    """`(c1, c2, …) > (v1, v2, …)`, spelled out so that every database reads it the same."""
    clauses = []
    for index, column in enumerate(columns):
        equal = [columns[i] == values[i] for i in range(index)]
        beyond = column < values[index] if descending else column > values[index]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


async def paginate(
    session: AsyncSession,
    query: SelectOfScalar[T],
    params: PageParams,
    *,
    order_by: Sequence[Column],
    descending: bool = False,
) -> Page[T]:
    """One keyset page of `query` (a `select(Model)`), ordered by `order_by`."""
    if not order_by:
        raise ValueError("a page needs an order; end it with a unique column")
    if params.cursor is not None:
        values = decode_cursor(params.cursor, order_by)
        query = query.where(_after(order_by, values, descending))
    ordering = [column.desc() if descending else column.asc() for column in order_by]
    rows = list((await session.exec(query.order_by(*ordering).limit(params.limit + 1))).all())
    items = rows[: params.limit]
    next_cursor = None
    if len(rows) > params.limit:
        last = items[-1]
        next_cursor = encode_cursor([getattr(last, column.key) for column in order_by])
    return Page(items=items, next_cursor=next_cursor)


def paginate_sequence(
    items: Sequence[T], params: PageParams, *, key: Callable[[T], str]
) -> Page[T]:
    """One page of an in-memory list (reference data), ordered by the unique string `key`."""
    ordered = sorted(items, key=key)
    if params.cursor is not None:
        (after,) = decode_cursor(params.cursor, [_STRING_KEY])
        ordered = [item for item in ordered if key(item) > str(after)]
    page = ordered[: params.limit]
    more = len(ordered) > params.limit
    return Page(items=page, next_cursor=encode_cursor([key(page[-1])]) if more else None)


_STRING_KEY = sql_column("key", String())


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "PageParams",
    "PageParamsDep",
    "decode_cursor",
    "encode_cursor",
    "paginate",
    "paginate_sequence",
]
