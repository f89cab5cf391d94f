"""The pure parts of `make bench`'s harness and of the HTTP and event benches: the table, the
percentiles, the JSON file, the choice of benches, wrk's script and its output. No timing is
asserted; no load generator, broker or database is needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as runner  # noqa: E402
from benchmarks import common, events  # noqa: E402
from benchmarks import http as bench_http  # noqa: E402

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8000/bare
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.01ms    1.20ms  30.00ms   90.00%
  12000 requests in 3.00s, 1.80MB read
Requests/sec:   4000.00
Transfer/sec:    613.28KB
BENCH-WRK {"requests":12000,"duration_us":3000000,"p50_us":7800,"p90_us":9100,"p99_us":12500,\
"mean_us":8010.5,"max_us":30000,"connect":0,"read":0,"write":0,"status":3,"timeout":1}
"""


def test_wrk_output_is_parsed() -> None:
    figures = bench_http.parse_wrk(WRK_OUTPUT)
    assert figures["requests"] == 12000
    assert figures["rps"] == pytest.approx(4000.0)
    assert (figures["p50_ms"], figures["p99_ms"]) == (7.8, 12.5)
    assert figures["error_count"] == 4 and figures["errors"]["status"] == 3


def test_wrk_output_without_our_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="BENCH-WRK"):
        bench_http.parse_wrk("Requests/sec: 10\n")


def test_rounds_combine_into_one_rate() -> None:
    one = bench_http.parse_wrk(WRK_OUTPUT)
    combined = bench_http.combine([one, {**one, "requests": 6000}])
    assert combined["rps"] == pytest.approx(3000.0)
    assert combined["errors"] == 8 and len(combined["rounds"]) == 2


def test_the_wrk_script_carries_method_headers_body_and_the_result_line() -> None:
    script = bench_http.wrk_script(
        "POST", "/v1/providers", {"Authorization": "Bearer t"}, "'{\"n\":' .. counter .. '}'"
    )
    assert 'wrk.headers["Authorization"] = "Bearer t"' in script
    assert 'wrk.format("POST", "/v1/providers", nil,' in script
    assert "counter = counter + 1" in script
    assert "BENCH-WRK" in script and "latency:percentile(99)" in script
    get = bench_http.wrk_script("GET", "/bare", {})
    assert "counter" not in get
    for route in bench_http.routes():
        bench_http.wrk_script(route.method, route.path, {}, route.body)


def test_the_table_aligns_its_columns() -> None:
    lines = common.rows(["route", "req/s"], [["GET /a", "1,234"], ["POST /long/path", "5"]])
    assert len({len(line) for line in lines}) == 1
    assert lines[1].strip().startswith("---")
    assert common.target_lines([{"target": "x", "measured": "1x", "passed": True}]) == [
        "  x  1x  PASS"
    ]


def test_percentiles_and_series() -> None:
    assert common.percentile([], 50) == 0.0
    assert common.percentile(list(range(1, 101)), 99) == 99
    summary = common.series([3.0, 1.0, 2.0])
    assert (summary["n"], summary["p50_ms"], summary["max_ms"]) == (3, 2.0, 3.0)


def test_the_json_lands_in_name_date_quick(tmp_path: Path) -> None:
    env = common.environment()
    assert env["python"] and "commit" in env["git"]
    result = {"date": "2026-01-02", "quick": True, "environment": env, "figure": 1}
    path = common.write_result(result, "http", tmp_path)
    assert path.name == "http-2026-01-02-quick.json"
    assert json.loads(path.read_text())["figure"] == 1
    full = common.write_result({**result, "quick": False}, "http", tmp_path)
    assert full.name == "http-2026-01-02.json"


def test_the_runner_picks_benches_by_name() -> None:
    assert runner.chosen([]) == list(runner.BENCHES)
    assert runner.chosen(["http,events"]) == ["http", "events"]
    with pytest.raises(SystemExit):
        runner.chosen(["nope"])


def test_the_targets_of_a_run_are_read_from_its_figures() -> None:
    http_result = {
        "modes": {"stack": {"GET /v1/exporters/me": {"ratio": 0.3}}, "run": {}},
    }
    checked = bench_http.targets(http_result)
    assert [t["passed"] for t in checked] == [None, True, None]
    event_result = {
        "ratios": {"relay": 0.6, "consumer": 0.1},
        "latency": {"n": 10, "p99_ms": 50.0, "arrived": 10, "sent": 10},
    }
    assert [t["passed"] for t in events.targets(event_result)] == [True, False, True]


def test_wrk_missing_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_http.shutil, "which", lambda _name: None)
    assert bench_http.main(["--quick"]) == 2
    assert "apt-get install -y wrk" in capsys.readouterr().err


def test_a_baseline_is_loaded_in_the_same_rounds_and_shown_beside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rates = {"bare": 4000, "old": 400, "new": 1000}
    loaded: list[str] = []

    def fake_wrk(url: str, _script: str, seconds: int) -> dict[str, object]:
        system = next(name for name in rates if f"//{name}" in url)
        loaded.append(system)
        figures = bench_http.parse_wrk(WRK_OUTPUT)
        return {**figures, "requests": rates[system] * seconds, "seconds": float(seconds)}

    monkeypatch.setattr(bench_http, "run_wrk", fake_wrk)
    systems = {
        "current": {"exporters": "http://new", "credit_products": "http://new"},
        "baseline": {"exporters": "http://old", "credit_products": "http://old"},
    }
    found = bench_http.load(
        systems, "http://bare/bare", {"exporter": "t"}, 2, 2, only=["exporters/me"]
    )
    assert loaded == ["bare", "old", "new"] * 2
    figure = found["GET /v1/exporters/me"]
    assert (figure["ratio"], figure["baseline"]["ratio"]) == (0.25, 0.1)
    result = {
        "date": "2026-11-30",
        "quick": False,
        "environment": common.environment(()),
        "connections": 32,
        "seconds_per_load": 2,
        "rounds": 2,
        "baseline": "abc1234",
        "modes": {"stack": found},
        "targets": bench_http.targets({"modes": {"stack": found}}),
    }
    table = bench_http.table(result)
    assert "abc1234 ratio" in table and "0.10x" in table and "0.25x" in table
