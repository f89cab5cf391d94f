"""A form's write through the API, then post/redirect/get; when the API refuses it (409, 422),
the page again at the API's status with what the API said."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import Response

from console.adapters.api import ApiError
from console.entrypoints.context import Context

#: The API's refusals a page shows in place (the other errors are error pages).
REFUSED = (409, 422)
#: Renders the page again, at `status`, with the API's `problem`.
Again = Callable[[int, ApiError], Awaitable[Response]]


async def submit(ctx: Context, write: Awaitable[Any], back: str, again: Again) -> Response:
    try:
        await write
    except ApiError as exc:
        if exc.status in REFUSED:
            return await again(exc.status, exc)
        raise
    return ctx.redirect(back)


def flat(fields: dict[str, list[str]]) -> dict[str, str]:
    """A form's fields, the first value of each."""
    return {name: values[0] for name, values in fields.items() if values}
