"""The anchor of the HTTP benchmark: a bare Starlette JSON endpoint under uvicorn, returning a
small dict, with no middleware, no access log and no database (`python -m benchmarks.bare
--port P`)."""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PAYLOAD = {"status": "ok", "service": "bare", "items": [1, 2, 3]}


async def bare(request: Request) -> JSONResponse:
    return JSONResponse(PAYLOAD)


app = Starlette(routes=[Route("/bare", bare)])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
