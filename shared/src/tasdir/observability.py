"""Correlation ids on every request, the access log, and JSON logs that carry them."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from uuid import uuid4

from starlette.types import Scope

from tasdir.correlation import _correlation_id

CORRELATION_HEADER = "x-correlation-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def accept_correlation_id(incoming: bytes | None) -> str:
    """The request's correlation id: a well-formed incoming `X-Correlation-ID`, or a new one."""
    if incoming:
        text = incoming.decode("latin-1")
        if _VALID_ID.match(text):
            return text
    return str(uuid4())


#: One line per HTTP request, written by `tasdir.api.EdgeMiddleware` once the response is sent,
#: in the request's context (so it carries the correlation id).
access_log = logging.getLogger("tasdir.access")


def log_access(scope: Scope, status: int, seconds: float) -> None:
    """The access log line of a request: `GET /v1/x?y=1 200`, with `method`, `path`,
    `status`, `duration_ms` and `client` as fields of their own."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    path = scope.get("path", "")
    query = scope.get("query_string")
    if query:
        path = f"{path}?{query.decode('latin-1')}"
    client = scope.get("client")
    access_log.info(
        "%s %s %d",
        scope.get("method"),
        path,
        status,
        extra={
            "method": scope.get("method"),
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": f"{client[0]}:{client[1]}" if client else None,
        },
    )


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = _correlation_id.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aio_pika", "aiormq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
