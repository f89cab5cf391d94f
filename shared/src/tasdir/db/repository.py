"""The repository base: all queries live in repositories, none of them commits."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic_core import to_jsonable_python
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from tasdir.contracts import Envelope, IntegrationEvent, utcnow

M = TypeVar("M", bound=SQLModel)


class Repository(Generic[M]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: Any) -> M | None:
        return await self.session.get(self.model, key)

    def add(self, obj: M) -> M:
        self.session.add(obj)
        return obj

    async def flush(self) -> None:
        await self.session.flush()


class VersionedProjection(Repository[M]):
    """A projection row per aggregate, with the `aggregate_version` it was built from.

    `apply` writes an event's snapshot only if its version is newer than the stored one, so a
    duplicate or a late, older event changes nothing.
    """

    version_field: ClassVar[str] = "aggregate_version"

    async def apply(self, key: Any, version: int, values: dict[str, Any]) -> bool:
        row = await self.session.get(self.model, key)
        if row is None:
            self.session.add(self.model(**values, **{self.version_field: version}))
            return True
        if getattr(row, self.version_field) >= version:
            return False
        for name, value in values.items():
            setattr(row, name, value)
        setattr(row, self.version_field, version)
        self.session.add(row)
        return True

    async def apply_event(
        self, envelope: Envelope, event: IntegrationEvent, *, key: str = "id"
    ) -> bool:
        """Project a full-snapshot event. The projection's own columns say what it keeps: each
        column named like a payload field takes its value, `snapshot` the whole payload and
        `updated_at` the time of applying."""
        payload_fields = type(event).model_fields
        values: dict[str, Any] = {}
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
        return await self.apply(getattr(event, key), envelope.aggregate_version, values)
