"""What every benchmark of `make bench` shares: the environment it ran in (machine, versions,
git commit, load average), the table printer, the number formats, the percentiles, and the JSON
file it writes to `benchmarks/results/<name>-<date>[-quick].json`."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def quick_from_env() -> bool:
    """`BENCH_QUICK=1` (anything but empty or 0) asks for the short version."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def environment(extra_packages: Sequence[str] = ()) -> dict[str, Any]:
    """The machine, Python, the main libraries' versions and the git commit (`dirty` when the
    tree has changes), with the load average at start."""
    import sqlite3

    status = git("status", "--porcelain")
    found: dict[str, Any] = {
        "load_average": load_average(),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_bytes": memory_total(),
            "platform": platform.platform(),
        },
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": version_of("sqlalchemy"),
        "pydantic": version_of("pydantic"),
        "git": {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status else False},
    }
    for package in extra_packages:
        found[package] = version_of(package)
    return found


def describe_environment(env: dict[str, Any]) -> str:
    """One line: CPU, cores, Python, commit."""
    commit = (env["git"]["commit"] or "unknown")[:10] + (
        " (uncommitted changes)" if env["git"]["dirty"] else ""
    )
    return (
        f"{env['machine']['cpu']}, {env['machine']['cores']} cores; Python {env['python']}; "
        f"commit {commit}; load average {fmt_load(env.get('load_average'))}"
    )


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def started_at() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def result_path(results: Path, name: str, date: str, quick: bool) -> Path:
    return results / f"{name}-{date}{'-quick' if quick else ''}.json"


def write_result(result: dict[str, Any], name: str, results: Path = RESULTS) -> Path:
    """Write `result` to `<results>/<name>-<date>[-quick].json` (a later run on the same day
    replaces it) and return the path. `result` must hold `date` and `quick`."""
    results.mkdir(parents=True, exist_ok=True)
    path = result_path(results, name, result["date"], bool(result.get("quick")))
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return path


def shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def series(samples_ms: Sequence[float], note: str | None = None) -> dict[str, Any]:
    """The summary of a timed series, in milliseconds, with its raw samples."""
    ordered = sorted(samples_ms)
    found: dict[str, Any] = {
        "n": len(ordered),
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "mean_ms": statistics.fmean(ordered) if ordered else 0.0,
        "min_ms": ordered[0] if ordered else 0.0,
        "max_ms": ordered[-1] if ordered else 0.0,
        "samples_ms": [round(s, 4) for s in samples_ms],
    }
    if note:
        found["note"] = note
    return found


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of an already sorted sequence (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return float(ordered[int(rank) - 1])


# ---- formats and the table ----------------------------------------------------------------------


def fmt_n(value: float) -> str:
    return f"{int(value):,}"


def fmt_t(value: float) -> str:
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def fmt_x(value: float) -> str:
    return f"{value:,.0f}x" if value >= 10 else f"{value:,.1f}x"


def fmt_ratio(value: float | None) -> str:
    """A ratio below 1 (e.g. to a bare anchor): two decimals."""
    return "-" if value is None else f"{value:.2f}x"


def fmt_mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def fmt_load(values: Sequence[float] | None) -> str:
    return "n/a" if not values else " ".join(f"{v:.2f}" for v in values)


def rows(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """A right-aligned text table, two spaces indented, with a rule under the header."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return ["  " + line for line in lines]


def target_lines(targets: Sequence[dict[str, Any]]) -> list[str]:
    """`target  measured  PASS|FAIL` lines, aligned."""
    body = [
        [t["target"], t["measured"], "PASS" if t["passed"] else "FAIL"]
        for t in targets
        if t.get("passed") is not None
    ]
    if not body:
        return []
    widths = [max(len(r[i]) for r in body) for i in range(3)]
    return [f"  {r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2]}" for r in body]
