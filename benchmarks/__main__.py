"""`make bench` (`python -m benchmarks [NAME ...]`): every benchmark of the project, one after
the other, each in a process of its own; or only those named (`make bench BENCH=http`).

Each prints its table and writes `benchmarks/results/<name>-<date>[-quick].json`.
`BENCH_QUICK=1` asks each for its short version. The exit status is non-zero if any failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks.common import ROOT

#: Name -> module, in the order `make bench` runs them.
BENCHES: dict[str, str] = {
    "engine": "benchmarks.engine",
    "http": "benchmarks.http",
    "events": "benchmarks.events",
}


def chosen(argv: Sequence[str]) -> list[str]:
    """The benches named in `argv` (commas or spaces), all of them when none is."""
    names = [n.strip() for arg in argv for n in arg.split(",") if n.strip()]
    if not names:
        return list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(
            f"unknown bench(es) {', '.join(unknown)}; choose from {', '.join(BENCHES)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    names = chosen(sys.argv[1:] if argv is None else argv)
    failed: list[str] = []
    for name in names:
        print(f"==== bench {name} ====", flush=True)
        began = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", BENCHES[name]], cwd=ROOT, check=False)
        took = time.perf_counter() - began
        print(f"==== bench {name}: exit {code.returncode} after {took:.0f} s ====\n", flush=True)
        if code.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
