"""`make bench` in miniature, inside `make test`: the benchmark's own code runs end to end on a
tiny scale (every part, the table, the JSON), so the harness cannot rot between full runs. The
figures of a run this small mean nothing and are not looked at."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from benchmarks import engine as bench  # noqa: E402


def tiny() -> bench.Scale:
    return replace(
        bench.Scale.of(quick=True),
        catalogue_sizes=(200,),
        engine_samples={200: bench.REQUEST_POOL},
        oracle_samples={200: 2},
        request_sizes=(300,),
        change_catalogue=100,
        change_samples={300: 3},
        bundle_samples=2,
        bundle_cap=20,
        change_oracle_samples={300: 1},
        oracle_reevaluation_cap=10,
        memory_size=200,
        refresh_samples=5,
        write_requests=60,
        write_samples=1,
    )


@pytest.mark.timeout(300)
def test_every_part_runs_and_writes_its_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scale = tiny()
    monkeypatch.setattr(bench.Scale, "of", classmethod(lambda cls, quick: scale))
    assert bench.main(["--results", str(tmp_path), "--seed", "7"]) == 0
    (written,) = tmp_path.glob("engine-*-quick.json")
    result = json.loads(written.read_text())
    assert set(bench.PARTS) <= set(result)
    assert result["request"]["200"]["engine"]["n"] == bench.REQUEST_POOL
    assert {t["target"] for t in result["targets"]}  # the targets were checked
    assert result["environment"]["numpy"]
