"""The HTTP benchmark (`make bench BENCH=http`, or `python -m benchmarks.http`).

It loads the project's routes and a bare Starlette JSON endpoint (`benchmarks/bare.py`) with
the same native load generator, wrk (`wrk -t1 -c32 -d<N>s`, a Lua script for the method, the
body and the auth header), alternately in one run, and reports for each route its req/s, p50,
p99 and the ratio of its req/s to the bare endpoint's in the rounds around it.

The project runs two ways:

- `make run`: `tasdir run` on a temporary data dir (SQLite, in-process bus, one process);
- `make stack`: `tasdir stack`, nine processes on PostgreSQL, RabbitMQ and Redis, with a vhost,
  a database prefix and a Redis prefix of the run's own, removed afterwards.

It seeds what it needs through the APIs (an exporter for `/v1/exporters/me`, providers for a
page of 20). Rate limiting stays on, with `TASDIR_RATE_LIMIT_PER_MINUTE` above what the load
sends, so its cost is counted. `BENCH_QUICK=1` runs shorter loads, one round.

`--baseline REF` measures a gain: it checks REF (a commit) out in a temporary git worktree and
runs it beside the working tree (its sources first on `PYTHONPATH`), each round loading the
bare endpoint, then REF, then the working tree, so before and after share one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

import httpx

from benchmarks import common, infra

WRK_MISSING = (
    "wrk is not installed: the HTTP benchmark needs it as its load generator.\n"
    "  Debian/Ubuntu: sudo apt-get install -y wrk\n"
    "  macOS: brew install wrk"
)
#: High enough that the load never trips it; the limiter still runs on every call.
RATE_LIMIT = "100000000"
PROVIDERS = 25
CONNECTIONS = 32
RESULT_MARK = "BENCH-WRK "


@dataclass(frozen=True)
class Route:
    """One route the bench loads: `service` picks the port under `make stack`."""

    label: str
    method: str
    path: str
    service: str
    role: str | None = None
    body: str | None = None  # a Lua expression giving the body of each request


def routes() -> list[Route]:
    provider_body = (
        "'{\"name\":\"Bench bank ' .. prefix .. '-' .. counter .. "
        '\'","kind":"bank","country":"MA"}\''
    )
    return [
        Route(
            "GET /v1/reference/regions",
            "GET",
            "/v1/reference/regions",
            "credit_products",
            "exporter",
        ),
        Route("GET /v1/exporters/me", "GET", "/v1/exporters/me", "exporters", "exporter"),
        Route(
            "GET /v1/providers?limit=20",
            "GET",
            "/v1/providers?limit=20",
            "credit_products",
            "admin",
        ),
        Route(
            "POST /v1/providers", "POST", "/v1/providers", "credit_products", "admin", provider_body
        ),
        Route("GET /healthz", "GET", "/healthz", "exporters"),
    ]


# ---- wrk ----------------------------------------------------------------------------------------


def wrk_script(method: str, path: str, headers: dict[str, str], body: str | None = None) -> str:
    """A wrk Lua script: the request (a fresh body per request when `body` is given), and a
    `done` that prints one JSON line, marked, with the figures the bench reads."""
    header_lines = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
    )
    prefix = uuid4().hex[:8]
    if body is None:
        request = f"""
request = function()
  return wrk.format({json.dumps(method)}, {json.dumps(path)})
end"""
    else:
        request = f"""
counter = 0
prefix = {json.dumps(prefix)}
request = function()
  counter = counter + 1
  return wrk.format({json.dumps(method)}, {json.dumps(path)}, nil, {body})
end"""
    return f"""{header_lines}
{request}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{RESULT_MARK}{{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"mean_us":%.1f,"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
    .. '"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures of one wrk run, from the line our `done` prints: requests, req/s, p50/p90/p99
    in ms, and the errors (`status` counts non-2xx/3xx answers)."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line[len(RESULT_MARK) :])
            break
    else:
        raise ValueError(f"no {RESULT_MARK.strip()} line in wrk's output:\n{output}")
    seconds = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "error_count": sum(errors.values()),
    }


def run_wrk(url: str, script: str, seconds: int, connections: int = CONNECTIONS) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                path,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        os.unlink(path)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def combine(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one load: the total rate; the medians of the rounds' percentiles."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)

    def middle(key: str) -> float:
        values = sorted(r[key] for r in runs)
        return values[len(values) // 2]

    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": middle("p50_ms"),
        "p99_ms": middle("p99_ms"),
        "errors": sum(r["error_count"] for r in runs),
        "rounds": list(runs),
    }


# ---- processes ----------------------------------------------------------------------------------


def free_port(span: Sequence[int] = (0,)) -> int:
    """A port P such that P + each of `span` is free."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + max(span) > 65000:
            continue
        if all(not infra.port_open("127.0.0.1", base + d) for d in span):
            return base
    raise RuntimeError("no free port")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes] = field(repr=False)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 20.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self.handle.close()


def start(name: str, argv: Sequence[str], env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        list(argv),
        cwd=common.ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process(name, popen, log, handle)


def wait_ok(url: str, process: Process, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s:\n{process.tail()}")


def base_env(pythonpath: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a process under test; `pythonpath` puts another checkout's sources
    (a baseline's) ahead of the installed ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASDIR_")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update(
        PYTHONUNBUFFERED="1",
        TASDIR_ENVIRONMENT="development",
        TASDIR_RATE_LIMIT_PER_MINUTE=RATE_LIMIT,
        DEMO="0",
    )
    env.update(extra)
    return env


def tasdir() -> str:
    return str(Path(sys.executable).parent / "tasdir")


def tokens() -> dict[str, str]:
    from tasdir.settings import Settings
    from tasdir_cli.devtoken import dev_identity, dev_token

    settings = Settings(environment="development")
    return {
        role: dev_token(settings, dev_identity(role, sub=f"bench-{role}-{uuid4().hex[:8]}"))
        for role in ("exporter", "admin")
    }


def seed(bases: dict[str, str], bearer: dict[str, str]) -> None:
    """An exporter for `/v1/exporters/me`; enough providers for a full page of 20."""
    with httpx.Client(timeout=30) as client:
        created = client.post(
            f"{bases['exporters']}/v1/exporters",
            json={"legal_name": "Bench Dattes", "ice": "002233445566778", "region": "oriental"},
            headers={"Authorization": f"Bearer {bearer['exporter']}"},
        )
        if created.status_code != 201:
            raise RuntimeError(f"seeding the exporter: {created.status_code} {created.text}")
        for number in range(PROVIDERS):
            provider = client.post(
                f"{bases['credit_products']}/v1/providers",
                json={"name": f"Bench seed bank {number}", "kind": "bank", "country": "MA"},
                headers={"Authorization": f"Bearer {bearer['admin']}"},
            )
            if provider.status_code != 201:
                raise RuntimeError(f"seeding a provider: {provider.status_code} {provider.text}")


@contextlib.contextmanager
def embedded(logs: Path, pythonpath: str | None = None) -> Iterator[dict[str, str]]:
    """`tasdir run` (as `make run`) on a temporary data dir: the base URL of each service."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="tasdir-bench-run-"))
    process = start(
        "make-run",
        [tasdir(), "run", "--port", str(port), "--data-dir", str(data)],
        base_env(pythonpath),
        logs,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ok(f"{base}/readyz", process)
        yield {"exporters": base, "credit_products": base, "matching": base}
    finally:
        process.stop()
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def stack(logs: Path, pythonpath: str | None = None) -> Iterator[dict[str, str]]:
    """`tasdir stack` (as `make stack`) on its own vhost, databases and Redis prefix."""
    from tasdir_cli.services import SERVICES

    infra.require_all()
    vhost, amqp_url = infra.create_vhost()
    prefix = f"{infra.unique_name('stack')}_"
    port = free_port((0, 1, 2, 100, 101, 102, 200, 201, 202))
    env = base_env(
        pythonpath,
        TASDIR_AMQP_URL=amqp_url,
        TASDIR_REDIS_URL=infra.REDIS_URL,
        TASDIR_REDIS_PREFIX=f"{prefix}:",
        TASDIR_POSTGRES_URL=infra.PG_URL,
        TASDIR_DATABASE_PREFIX=prefix,
    )
    process = None
    try:
        process = start("make-stack", [tasdir(), "stack", "--base-port", str(port)], env, logs)
        bases = {s: f"http://127.0.0.1:{port + i}" for i, s in enumerate(SERVICES)}
        for base in bases.values():
            wait_ok(f"{base}/readyz", process, timeout=120)
        yield bases
    finally:
        if process is not None:
            process.stop(grace=40)

        async def clean() -> None:
            for service in SERVICES:
                await infra.drop_database(f"{prefix}{service}")
            await infra.delete_redis_prefix(f"{prefix}:")

        asyncio.run(clean())
        infra.delete_vhost(vhost)


# ---- the run ------------------------------------------------------------------------------------


def load(
    systems: dict[str, dict[str, str]],
    bare_url: str,
    bearer: dict[str, str],
    seconds: int,
    rounds: int,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """Each route, alternately with the bare endpoint: bare, route, bare, route...; with
    `only`, the routes whose label holds one of those strings. `systems` maps a name to the
    base URLs of a running system: `current`, and `baseline` with `--baseline` (each round
    loads bare, the baseline, then the current one)."""
    bare_script = wrk_script("GET", "/bare", {})
    found: dict[str, Any] = {}
    for route in routes():
        if only and not any(part in route.label for part in only):
            continue
        headers = {"Authorization": f"Bearer {bearer[route.role]}"} if route.role else {}
        if route.body is not None:
            headers["Content-Type"] = "application/json"
        script = wrk_script(route.method, route.path, headers, route.body)
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], **{name: [] for name in systems}}
        for _ in range(rounds):
            runs["bare"].append(run_wrk(bare_url, bare_script, seconds))
            for name, bases in sorted(systems.items()):  # baseline before current
                runs[name].append(run_wrk(bases[route.service] + route.path, script, seconds))
        bare = combine(runs["bare"])
        figures = {name: combine(runs[name]) for name in systems}
        ratios = {
            name: f["rps"] / bare["rps"] if bare["rps"] else None for name, f in figures.items()
        }
        found[route.label] = {"route": figures["current"], "bare": bare, "ratio": ratios["current"]}
        if "baseline" in figures:
            found[route.label]["baseline"] = {
                "route": figures["baseline"],
                "ratio": ratios["baseline"],
            }
        project = figures["current"]
        print(
            f"  {route.label}: {project['rps']:,.0f} req/s (p50 {project['p50_ms']:.1f} ms, "
            f"p99 {project['p99_ms']:.1f} ms, errors {project['errors']}); bare "
            f"{bare['rps']:,.0f} req/s; ratio {common.fmt_ratio(ratios['current'])}"
            + (
                f"; baseline {figures['baseline']['rps']:,.0f} req/s, ratio "
                f"{common.fmt_ratio(ratios['baseline'])}"
                if "baseline" in figures
                else ""
            ),
            flush=True,
        )
    return found


@contextlib.contextmanager
def baseline_tree(ref: str | None) -> Iterator[str | None]:
    """With a git ref, a temporary worktree of it, removed afterwards: the `PYTHONPATH` that
    runs its sources (the library, the CLI and every service). Without one, None."""
    if not ref:
        yield None
        return
    tree = Path(tempfile.mkdtemp(prefix="tasdir-bench-baseline-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), ref],
        cwd=common.ROOT,
        check=True,
        capture_output=True,
    )
    try:
        sources = [tree / "shared" / "src", tree / "cli" / "src"]
        sources += sorted(tree.glob("services/*/src"))
        yield os.pathsep.join(str(path) for path in sources)
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)],
            cwd=common.ROOT,
            check=False,
            capture_output=True,
        )
        shutil.rmtree(tree, ignore_errors=True)


TARGETS = (
    ("stack", "GET /v1/reference/regions", 0.5, "reference routes, make stack"),
    ("stack", "GET /v1/exporters/me", 0.25, "authenticated single-row read, make stack"),
    ("run", "GET /v1/exporters/me", 0.15, "authenticated single-row read, make run (SQLite)"),
)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for where, label, goal, what in TARGETS:
        figure = result.get("modes", {}).get(where, {}).get(label)
        ratio = figure["ratio"] if figure else None
        out.append(
            {
                "target": f"{what}: >= {goal:g}x bare Starlette",
                "measured": common.fmt_ratio(ratio),
                "passed": None if ratio is None else ratio >= goal,
            }
        )
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Tasdir HTTP benchmark, {result['date']}" + (", QUICK run" if result["quick"] else ""),
        "  " + common.describe_environment(result["environment"]),
        f"  wrk -t1 -c{result['connections']} -d{result['seconds_per_load']}s, "
        f"{result['rounds']} round(s), each route alternating with bare Starlette",
        "",
    ]
    body = []
    baseline = result.get("baseline")
    for mode, figures in result["modes"].items():
        for label, figure in figures.items():
            route, bare = figure["route"], figure["bare"]
            row = [
                label,
                f"make {mode}",
                f"{route['rps']:,.0f}",
                common.fmt_t(route["p50_ms"]),
                common.fmt_t(route["p99_ms"]),
                common.fmt_n(route["errors"]),
                f"{bare['rps']:,.0f}",
                common.fmt_ratio(figure["ratio"]),
            ]
            if baseline:
                before = figure["baseline"]
                row += [
                    f"{before['route']['rps']:,.0f}",
                    common.fmt_t(before["route"]["p99_ms"]),
                    common.fmt_ratio(before["ratio"]),
                ]
            body.append(row)
    header = ["route", "where", "req/s", "p50 ms", "p99 ms", "errors", "bare req/s", "ratio"]
    if baseline:
        header += [f"{baseline} req/s", f"{baseline} p99", f"{baseline} ratio"]
    lines += common.rows(header, body)
    lines += ["", "Targets", *common.target_lines(result["targets"])]
    return "\n".join(lines)


def run_mode(
    mode: str,
    logs: Path,
    baseline_path: str | None,
    bare_url: str,
    seconds: int,
    rounds: int,
    only: Sequence[str],
) -> dict[str, Any]:
    """Start the system of `mode` (and the baseline's beside it), seed each, load them."""
    runner = embedded if mode == "run" else stack
    with contextlib.ExitStack() as running:
        systems = {"current": running.enter_context(runner(logs))}
        if baseline_path is not None:
            before_logs = logs / "baseline"
            before_logs.mkdir(exist_ok=True)
            systems["baseline"] = running.enter_context(runner(before_logs, baseline_path))
        bearer = tokens()
        for bases in systems.values():
            seed(bases, bearer)
        return load(systems, bare_url, bearer, seconds, rounds, only)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", default=common.quick_from_env())
    parser.add_argument("--seconds", type=int, default=None, help="seconds per wrk load")
    parser.add_argument("--rounds", type=int, default=None, help="alternations per route")
    parser.add_argument(
        "--modes", default="run,stack", help="which of run,stack to load (default: both)"
    )
    parser.add_argument(
        "--routes", default="", help="only the routes whose label holds one of these (commas)"
    )
    parser.add_argument(
        "--tag", default="", help="a suffix to the file's name: http-<tag>-<date>.json"
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="a git ref to run beside the working tree, alternately, in the same rounds",
    )
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    only = [r.strip() for r in args.routes.split(",") if r.strip()]
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    seconds = args.seconds or (3 if args.quick else 8)
    rounds = args.rounds or (1 if args.quick else 2)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    started = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "http",
        "date": common.today(),
        "started_at": common.started_at(),
        "quick": args.quick,
        "environment": common.environment(("starlette", "fastapi", "uvicorn")),
        "connections": CONNECTIONS,
        "seconds_per_load": seconds,
        "rounds": rounds,
        "rate_limit_per_minute": int(RATE_LIMIT),
        "routes": only or "all",
        "baseline": args.baseline or None,
        "modes": {},
    }
    logs = Path(tempfile.mkdtemp(prefix="tasdir-bench-http-"))
    bare_port = free_port()
    bare = start(
        "bare",
        [sys.executable, "-m", "benchmarks.bare", "--port", str(bare_port)],
        base_env(),
        logs,
    )
    try:
        bare_url = f"http://127.0.0.1:{bare_port}/bare"
        wait_ok(bare_url, bare)
        with baseline_tree(args.baseline) as baseline_path:
            for mode in modes:
                print(f"make {mode}:", flush=True)
                result["modes"][mode] = run_mode(
                    mode, logs, baseline_path, bare_url, seconds, rounds, only
                )
    except infra.Missing as exc:
        print(f"http bench: {exc}", file=sys.stderr)
        return 2
    finally:
        bare.stop()
    result["targets"] = targets(result)
    result["environment"]["load_average_end"] = common.load_average()
    result["seconds"] = round(time.perf_counter() - started, 1)
    name = f"http-{args.tag}" if args.tag else "http"
    path = common.write_result(result, name, args.results)
    print(table(result))
    print(f"\n{result['seconds']:.0f} s; every figure in {common.shown(path)}; logs in {logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
