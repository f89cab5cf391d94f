"""`Idempotency-Key` on POSTs: the stored response in the database, the in-flight lock in Redis.

A route opts in with one dependency, and its use case stays free of HTTP types:

    @router.post("", status_code=201, response_model=ProviderPublic,
                 dependencies=[Depends(idempotency_for("credit_products"))])
    async def register(body: ..., principal: ..., uow: UoW) -> ProviderPublic:
        provider = await services.register_provider(command, uow)   # ends in uow.commit(provider)
        return ProviderPublic.of(provider)

The dependency, for a request that carries a key:
1. takes the Redis lock `<prefix>idempotency:<service>:<sub>:<key>` (SET NX PX); a concurrent
   duplicate finds it taken and gets 409;
2. looks the key up in the service's `idempotency_key` table: a stored response with the same
   request hash is replayed (same status and body, `Idempotent-Replayed: true`) and the use
   case never runs; another hash is a 422;
3. otherwise registers a hook on the request's unit of work: when the use case commits its
   result, the hook renders it with the route's response model and stores it in the same
   transaction. Then it lets the route run, and releases the lock afterwards.

So the write and its stored response commit or vanish together. The row's primary key
`(principal, key)` still refuses a second commit if the lock was lost (Redis down or the lock
expired); that request then gets the stored answer too. Failed requests store nothing: a retry
with the same key runs again.
"""

import hashlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import WatchError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from tasdir.auth import Principal, current_principal
from tasdir.contracts import utcnow
from tasdir.db.tables import IdempotencyFields
from tasdir.db.uow import UnitOfWork
from tasdir.errors import Conflict, Invalid
from tasdir.routing import uow_for

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_PATTERN = "^[!-~]{1,255}$"  # printable ASCII (U+0021 to U+007E), no spaces
_VALID_KEY = re.compile(_KEY_PATTERN)


def _key_schema(schema: dict[str, Any]) -> None:
    """The header's documented schema: a string of that pattern (a header is never null). The
    dependency checks it itself, to answer a problem of its own kind."""
    for key in ("anyOf", "type", "pattern", "minLength", "maxLength"):
        schema.pop(key, None)
    schema.update(type="string", pattern=_KEY_PATTERN, minLength=1, maxLength=255)


def canonical_body(body: bytes) -> bytes:
    """JSON with sorted keys and no spaces, so that formatting never changes the hash."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(method.upper().encode() + b"\n" + path.encode() + b"\n")
    digest.update(canonical_body(body))
    return digest.hexdigest()


@dataclass(frozen=True)
class IdempotentRequest:
    """A request that carries an `Idempotency-Key`."""

    principal: str
    key: str
    request_hash: str
    status: int  # the route's success status, stored with the body
    response_model: Any  # the route's response model, which renders the use case's result

    def render(self, result: object) -> str:
        """The answer the route gives for `result`: the result itself if it is an instance of
        the response model; else by the response model's `of(aggregate)`, the API models' way
        to present an aggregate; else by validating the result's attributes."""
        adapter: TypeAdapter[Any] = TypeAdapter(self.response_model)
        present = getattr(self.response_model, "of", None)
        if isinstance(self.response_model, type) and isinstance(result, self.response_model):
            answer = result  # the route built its answer already
        elif callable(present):
            answer = present(result)
        else:
            answer = adapter.validate_python(result, from_attributes=True)
        return json.dumps(adapter.dump_python(answer, mode="json"), separators=(",", ":"))

    def record(self, uow: UnitOfWork, result: object) -> None:
        """Store the response in the unit of work's transaction (a `before_commit` hook)."""
        uow.session.add(
            uow.tables.idempotency(
                principal=self.principal,
                key=self.key,
                request_hash=self.request_hash,
                status=self.status,
                body=self.render(result),
                created_at=utcnow(),
            )
        )


class IdempotentReplay(Exception):
    """Answers the stored response instead of running the route again."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    return Response(
        exc.body,
        status_code=exc.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, _replay)


def _key_problem(message: str, kind: str, status: int = 422) -> Invalid | Conflict:
    error = {"field": IDEMPOTENCY_HEADER, "in": "header", "message": message, "code": kind}
    if status == 409:
        return Conflict(message, kind=kind, errors=[error])
    return Invalid(message, kind=kind, errors=[error])


class InFlightLock:
    """SET NX PX on `name`, released only by its holder."""

    def __init__(self, redis: Redis, name: str, ttl_ms: int) -> None:
        self.redis = redis
        self.name = name
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)

    async def acquire(self) -> bool:
        return bool(await self.redis.set(self.name, self.token, nx=True, px=self.ttl_ms))

    async def release(self) -> None:
        """Delete the lock only if it is still ours: once expired, it may be another's.

        WATCH/MULTI rather than a Lua script, which fakeredis runs only with an extra package.
        """
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(self.name)
                value = await pipe.get(self.name)
                if value in (self.token, self.token.encode()):
                    pipe.multi()
                    pipe.delete(self.name)
                    await pipe.execute()
                else:
                    await pipe.unwatch()
        except WatchError:
            pass  # it changed hands meanwhile: not ours to delete
        except Exception:
            log.warning("could not release idempotency lock %s", self.name, exc_info=True)


async def _stored(
    request: Request, service: str, principal: str, key: str
) -> IdempotencyFields | None:
    runtime = request.app.state.runtimes[service]
    model = runtime.tables.idempotency
    query = select(model).where(col(model.principal) == principal, col(model.key) == key)
    async with runtime.sessions() as session:
        found: IdempotencyFields | None = (await session.exec(query)).first()
        return found


def _answer_from(stored: IdempotencyFields, request_hash: str) -> Exception:
    if stored.request_hash != request_hash:
        return _key_problem(
            "this Idempotency-Key was used for another request", "idempotency-key-reused"
        )
    return IdempotentReplay(stored.status, stored.body)


@cache
def idempotency_for(service: str) -> Callable[..., AsyncIterator[None]]:
    """The dependency of an idempotent POST of `service`; it does nothing without a key."""

    async def idempotent(
        request: Request,
        principal: Annotated[Principal, Depends(current_principal)],
        uow: Annotated[UnitOfWork, Depends(uow_for(service))],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                description="Retry safely: the same key and body answer the first response. "
                "1 to 255 printable ASCII characters, no spaces.",
                json_schema_extra=_key_schema,
            ),
        ] = None,
    ) -> AsyncIterator[None]:
        if idempotency_key is None:
            yield
            return
        if not _VALID_KEY.match(idempotency_key):
            raise _key_problem(
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
                "invalid-idempotency-key",
            )
        state = request.app.state
        route = request.scope.get("route")
        idempotent = IdempotentRequest(
            principal=principal.sub,
            key=idempotency_key,
            request_hash=request_hash(request.method, request.url.path, await request.body()),
            status=getattr(route, "status_code", None) or 200,
            response_model=getattr(route, "response_model", None) or Any,
        )
        lock: InFlightLock | None = None
        redis = getattr(state, "redis", None)
        if redis is not None:
            name = f"{state.settings.redis_prefix}idempotency:{service}:{principal.sub}:"
            lock = InFlightLock(redis, name + idempotency_key, state.settings.idempotency_lock_ms)
            try:
                acquired = await lock.acquire()
            except Exception:
                # Without Redis the primary key still keeps the write single.
                log.warning("idempotency lock unavailable", exc_info=True)
                acquired, lock = True, None
            if not acquired:
                raise _key_problem(
                    "a request with this Idempotency-Key is in progress; retry later",
                    "idempotency-in-flight",
                    status=409,
                )
        try:
            stored = await _stored(request, service, principal.sub, idempotency_key)
            if stored is not None:
                raise _answer_from(stored, idempotent.request_hash)
            uow.before_commit(idempotent.record)
            try:
                yield
            except IntegrityError:
                # A duplicate that got past the lock committed first: answer as it did.
                stored = await _stored(request, service, principal.sub, idempotency_key)
                if stored is None:
                    raise
                raise _answer_from(stored, idempotent.request_hash) from None
        finally:
            if lock is not None:
                await lock.release()

    return idempotent


__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "IdempotentReplay",
    "IdempotentRequest",
    "InFlightLock",
    "canonical_body",
    "idempotency_for",
    "install_idempotency",
    "request_hash",
]
