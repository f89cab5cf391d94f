"""Request limits: a body size limit (413) and per-principal rate limits in Redis (429).

- `BodySizeLimitMiddleware` is pure ASGI. A declared `Content-Length` over the limit is refused
  before the app is called. A streamed body is counted as it is read: once it goes over, the
  read fails (so no handler gets the body) and whatever the app answers is replaced by the 413.
- `RateLimiter` counts requests per principal in a sliding one-minute window in Redis, in one
  round trip and one reply (a Lua script).
  `tasdir.auth.authenticate` calls it, so every authenticated route is limited, once per
  request, keyed by the principal rather than by an address that many users may share.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasdir.errors import Problem, problem_response
from tasdir.text import is_ascii_digits

log = logging.getLogger(__name__)


class _BodyTooLarge(Exception):
    """Raised from `receive` to stop a body that has gone over the limit."""


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self, scope: Scope) -> JSONResponse:
        return problem_response(
            413,
            detail=f"the request body is larger than {self.max_body_bytes} bytes",
            instance=scope.get("path"),
            max_body_bytes=self.max_body_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if (
            declared is not None
            and is_ascii_digits(declared)
            and int(declared) > self.max_body_bytes
        ):
            await self._too_large(scope)(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The app turned the failed read into some error of its own: answer 413 instead.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._too_large(scope)(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._too_large(scope)(scope, receive, send)


# KEYS[1]: the window; ARGV: now, the start of the window, the limit, this request's member,
# the key's time to live. Answers nil when the request is admitted (and counted), else the
# score of the oldest request in the window.
SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return oldest[2] or ARGV[1]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return false
"""


class RateLimited(Problem):
    status = 429
    kind = "rate-limited"


class RateLimiter:
    """A sliding window per principal: at most `limit` requests in any `window_seconds`.

    Each accepted request is a member of a sorted set scored by its time,
    `<prefix>ratelimit:<sub>`. A request drops the members older than the window, is refused
    if the window is full (and then not counted, so a client that keeps knocking is not locked
    out for longer than its `Retry-After`), else is added. Unlike fixed windows, no client gets
    twice its burst across a window boundary.

    That is one Lua script (`SLIDING_WINDOW`, by EVALSHA): one command and one reply per
    request, where a MULTI of five commands cost seven replies to parse, the largest cost of
    an authenticated request after the token. A client that cannot run scripts (the in-process
    stand-in of the embedded mode, fakeredis without Lua) gets the same window as a MULTI.

    The client comes from the caller (`app.state.redis`): a `redis.asyncio.Redis`, or the
    in-process stand-in of the embedded mode. The clock is injected, so tests need no waiting.

    The `limits` library implements the same moving window, but its storages open their own
    connections from a URI (so it could share neither the service's client nor the embedded
    stand-in), and its clock cannot be injected; these few lines do exactly what is needed.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        per_minute: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limit = per_minute
        self.window_seconds = window_seconds
        self.clock = clock
        self._ttl = math.ceil(window_seconds) + 1
        self._script: AsyncScript | None = None
        self._scripting = True

    def key(self, subject: str) -> str:
        return f"{self.prefix}ratelimit:{subject}"

    async def hit(self, subject: str) -> None:
        """Count one request of `subject`; raise `RateLimited` (429) past the limit."""
        if self.limit <= 0:
            return
        now = self.clock()
        try:
            oldest = await self._count(self.key(subject), now)
        except Exception:
            # A Redis outage must not take the API down with it: fail open, loudly.
            log.warning("rate limiter unavailable; letting the request through", exc_info=True)
            return
        if oldest is None:
            return
        retry_after = max(1, math.ceil(oldest + self.window_seconds - now))
        raise RateLimited(
            f"more than {self.limit} requests in {self.window_seconds:g}s; retry in {retry_after}s",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )

    async def _count(self, key: str, now: float) -> float | None:
        """Count a request at `now`: None if the window admits it, else the time of the oldest
        request in the window (it says when there will be room)."""
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        if self._scripting:
            if self._script is None:
                self._script = self.redis.register_script(SLIDING_WINDOW)
            args: list[str | int] = [
                repr(now),
                repr(now - self.window_seconds),
                self.limit,
                member,
                self._ttl,
            ]
            try:
                oldest = await self._script(keys=[key], args=args)
            except ResponseError as exc:
                if "unknown command" not in str(exc).lower():
                    raise
                log.info("this Redis client runs no scripts; the rate limiter uses MULTI")
                self._scripting = False
            else:
                return None if oldest is None else float(oldest)
        return await self._count_in_transaction(key, now, member)

    async def _count_in_transaction(self, key: str, now: float, member: str) -> float | None:
        """`_count` without Lua: add, count, and take the member back out if over."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - self.window_seconds)
            pipe.zadd(key, {member: now})
            pipe.zcard(key)
            pipe.expire(key, self._ttl)
            _, _, count, _ = await pipe.execute()
        if int(count) <= self.limit:
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(key, member)
            pipe.zrange(key, 0, 0, withscores=True)
            _, oldest = await pipe.execute()
        return float(oldest[0][1]) if oldest else now


def rate_limiter(request: Request) -> RateLimiter | None:
    """The app's limiter, built lazily from `app.state.redis` (None: no Redis, no limit)."""
    state = request.app.state
    redis = getattr(state, "redis", None)
    if redis is None:
        return None
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is None or limiter.redis is not redis:
        settings = state.settings
        limiter = RateLimiter(
            redis, prefix=settings.redis_prefix, per_minute=settings.rate_limit_per_minute
        )
        state.rate_limiter = limiter
    return limiter
