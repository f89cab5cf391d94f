"""Correlation ids on every request, the access log, and JSON logs that carry them."""

from __future__ import annotations

import atexit
import json
import logging
import re
import sys
import threading
import time
from datetime import UTC, datetime
from queue import SimpleQueue
from typing import TextIO
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


#: One line per HTTP request (`AccessLog`), written once the response is sent, in the
#: request's context (so it carries the correlation id).
access_log = logging.getLogger("tasdir.access")


class AccessLog:
    """The access log line of a request: `GET /v1/x?y=1 200`, with `method`, `path`, `status`,
    `duration_ms` and `client` as fields of their own.

    Every request gets one when `every` is 1 (the default). With `every` = N, one successful
    request in N does, while an error (a status of 400 or more) or a request slower than
    `slow_seconds` always does: the lines that matter stay, at a fraction of the cost.
    """

    def __init__(self, *, every: int = 1, slow_seconds: float = 1.0) -> None:
        self.every = every
        self.slow_seconds = slow_seconds
        self._skipped = 0

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        if status < 400 and seconds < self.slow_seconds and self.every > 1:
            self._skipped += 1
            if self._skipped < self.every:
                return
            self._skipped = 0
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


class BackgroundLines(logging.Handler):
    """Formats each record where it is logged (so it carries that context's correlation id) and
    leaves the write to a thread of its own, which writes whatever has queued up in one go.

    A write to a pipe whose reader lags (the supervisor of `tasdir stack`, a container runtime
    under load) blocks; in an API that blocked the event loop, every request included, on each
    access log line. The thread waits `pause` seconds after each write, so that under load it
    wakes (and takes the interpreter lock) a few times a second, not once a line. `flush()`
    returns once every line logged so far is written; `close()` (at exit) writes what is left.
    """

    def __init__(self, stream: TextIO, *, pause: float = 0.05) -> None:
        super().__init__()
        self.stream = stream
        self.pause = pause
        # A line, an event to set once the lines before it are written, or None: stop.
        self.lines: SimpleQueue[str | threading.Event | None] = SimpleQueue()
        self.writer = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self.writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(self.format(record))
        except Exception:
            self.handleError(record)

    def _write(self) -> None:
        stopping = False
        while not stopping:
            batch: list[str] = []
            waiting: list[threading.Event] = []
            item = self.lines.get()
            while True:
                if item is None:
                    stopping = True
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    batch.append(item)
                if stopping or self.lines.empty():
                    break
                item = self.lines.get()
            if batch:
                try:
                    self.stream.write("\n".join(batch) + "\n")
                    self.stream.flush()
                except Exception:  # a closed stream must not kill the writer
                    pass
            for written in waiting:
                written.set()
            if not (stopping or waiting):
                time.sleep(self.pause)

    def flush(self) -> None:
        """Wait (5 s at most) until every line logged so far is written."""
        if self.writer.is_alive() and threading.current_thread() is not self.writer:
            written = threading.Event()
            self.lines.put(written)
            written.wait(timeout=5)

    def close(self) -> None:
        if self.writer.is_alive():
            self.lines.put(None)
            self.writer.join(timeout=5)
        super().close()


def flush_logs() -> None:
    """Write out what the root logger's handlers hold (`BackgroundLines` included)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(service: str, level: str = "INFO", *, background: bool = False) -> None:
    """JSON lines on stderr for the whole process. With `background`, the lines are written
    by a thread (`BackgroundLines`): for servers, whose event loop must never wait on stderr."""
    handler: logging.Handler
    if background:
        handler = BackgroundLines(sys.stderr)
        atexit.register(handler.close)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aio_pika", "aiormq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
