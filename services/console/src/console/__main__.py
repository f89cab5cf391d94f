"""`python -m console [api] [--host H] [--port P] [--root-path /console]`: the console on its
own (`make stack`, the compose file's `console-api`), calling the API at
`TASDIR_CONSOLE_API_URL` (and `TASDIR_CONSOLE_API_ROUTES`). `api` is its only process, named
as the services' images name theirs (deploy/docker/entrypoint.sh)."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from tasdir.settings import SettingsError

from console.bootstrap import create_app
from console.config import check_console_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console")
    parser.add_argument("process", nargs="?", default="api", choices=["api"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--root-path",
        default=None,
        help="the path the console is served under (TASDIR_CONSOLE_ROOT_PATH by default)",
    )
    args = parser.parse_args(argv)
    try:
        settings = check_console_settings()
    except SettingsError as exc:
        print(f"console: cannot start: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        root_path=args.root_path if args.root_path is not None else settings.root_path,
        log_level="info",
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
