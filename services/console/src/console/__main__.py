"""`python -m console [--host H] [--port P] [--root-path /console]`: the console on its own
(`make stack`, the compose file), calling the API at `TASDIR_CONSOLE_API_URL`."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from tasdir.settings import SettingsError

from console.bootstrap import create_app
from console.config import check_console_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--root-path", default="", help="the path the console is served under")
    args = parser.parse_args(argv)
    try:
        settings = check_console_settings()
    except SettingsError as exc:
        print(f"console: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, root_path=args.root_path, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
